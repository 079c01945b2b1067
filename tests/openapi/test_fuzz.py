"""Schema fuzzing with schemathesis against the running server's own document: a fixed seed and
a bounded number of examples per operation; no 5xx, and every response matches the document."""

import os
import subprocess
import sys


def test_schemathesis_finds_no_server_error_and_no_response_off_the_document(server):
    key = server["keys"][0]
    examples = os.environ.get("VS_FUZZ_EXAMPLES", "25")
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server['base']}/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--seed", "1",
        "--max-examples", examples,
        "--workers", "1",
        "--header", f"Authorization: Bearer {key}",
        # The platform header too: the fuzzer may send it, and it takes precedence.
        "--header", f"x-base-api-key: {key}",
        "--exclude-path", "/metrics",
        "--request-timeout", "30",
        "--no-color",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    report = out.stdout[-20000:] + out.stderr[-5000:]
    assert out.returncode == 0, report
