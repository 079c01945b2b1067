"""Schema fuzzing with schemathesis against the running server's own document: a fixed seed and
a bounded number of examples per operation; no 5xx, and every response matches the document.

Two passes: one with what the document alone lets schemathesis make up (random ids, names and
values, on every parameter), and one where path parameters, ids, models and back-ends are most
often drawn from objects made beforehand, so that generated bodies reach stored data instead of
stopping at a 404."""

import json
import os
import subprocess
import sys
import uuid

import requests

EXAMPLES = os.environ.get("VS_FUZZ_EXAMPLES", "25")


def schemathesis(server, key, config=None, extra=()):
    cmd = [sys.executable, "-m", "schemathesis.cli"]
    if config:
        cmd += ["--config-file", config]
    cmd += [
        "run", f"{server['base']}/openapi.json",
        "--checks", "not_a_server_error,response_schema_conformance",
        "--seed", "1",
        "--max-examples", EXAMPLES,
        # One worker: hypothesis's strategy descriptions are not thread-safe.
        "--workers", "1",
        "--header", f"Authorization: Bearer {key}",
        # The platform header too: the fuzzer may send it, and it takes precedence.
        "--header", f"x-base-api-key: {key}",
        "--exclude-path", "/metrics",
        "--request-timeout", "30",
        "--no-color",
        *extra,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    return out.returncode, out.stdout[-30000:] + out.stderr[-5000:]


def test_schemathesis_from_the_document_alone(server):
    # Revoking is left to the second pass, which gives it a spare key: here the links it infers
    # from the list of keys would revoke the key the run itself uses.
    code, report = schemathesis(server, server["keys"][0], extra=["--exclude-operation-id", "revokeApiKey"])
    assert code == 0, report


def seed(base, key):
    """A file, a vector store holding it, a batch, a platform collection and a raw collection."""
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {key}"

    def ok(r):
        assert r.status_code in (200, 201), r.text
        return r.json()

    file_id = ok(s.post(f"{base}/v1/files", data={"purpose": "assistants"}, files={"file": ("fuzz.txt", b"Lighthouses guide ships along rocky coasts at night.")}))["id"]
    store = ok(s.post(f"{base}/v1/vector_stores", json={"name": "fuzz", "file_ids": [file_id]}))["id"]
    batch = ok(s.post(f"{base}/v1/vector_stores/{store}/file_batches", json={"file_ids": [file_id]}))["id"]
    collection = f"fuzz_{uuid.uuid4().hex[:8]}"
    ok(s.post(f"{base}/v1/api/index", json={"collection": collection, "documents": [{"id": "d1", "content": "A keeper tends the lamp.", "metadata": {"lang": "en"}}]}))
    spare = ok(s.post(f"{base}/v1/api/keys"))["id"]
    raw = f"raw_{uuid.uuid4().hex[:8]}"
    ok(s.post(f"{base}/v2/collections", json={"collection": raw, "model": "all-minilm-l6-v2"}))
    ok(s.post(f"{base}/v2/collections/{raw}/documents", json={"documents": [{"id": "r1", "text": "Fog horns sound in the harbour."}]}))
    return {"file": file_id, "store": store, "batch": batch, "collection": collection, "raw": raw, "spare_key": spare}


def test_schemathesis_on_stored_objects(server, tmp_path):
    key = server["keys"][1]
    made = seed(server["base"], key)

    def pick(name, p=0.8):
        return {"dictionary": name, "probability": p}

    config = {
        "dictionaries": {
            "stores": [made["store"]],
            "files": [made["file"]],
            "batches": [made["batch"]],
            "spare_keys": [made["spare_key"]],
            "collections": [made["collection"], made["raw"]],
            "models": ["all-minilm-l6-v2", "potion-base-8m"],
            "backends": ["pgvector", "elasticsearch"] if server["env"].get("VECTOR_STORE__STORAGE__ELASTICSEARCH__URL") else ["pgvector"],
        },
        "parameters": {
            "path.id": pick("stores"),
            "path.file_id": pick("files"),
            "path.batch_id": pick("batches"),
            "path.collection": pick("collections"),
            "query.collection": pick("collections"),
            "body.collection": pick("collections", 0.5),
            "body.file_id": pick("files"),
            "body.model_name": pick("models"),
            "body.model": pick("models"),
            "body.embedding_model": pick("models"),
            "body.storage_backend": pick("backends"),
        },
    }
    toml = ["[dictionaries]"]
    for name, values in config["dictionaries"].items():
        toml.append(f"{name} = {{ values = {json.dumps(values)} }}")
    toml.append("")
    toml.append("[parameters]")
    for name, binding in config["parameters"].items():
        toml.append(f'"{name}" = {{ dictionary = "{binding["dictionary"]}", probability = {binding["probability"]} }}')
    # In /v1/files/{id} the id is a file's.
    toml += ["", "[[operations]]", 'include-path-regex = "^/v1/files/"', "[operations.parameters]", f'"path.id" = {{ dictionary = "files", probability = 0.8 }}']
    # Only the spare key is revoked, never the one the run uses.
    toml += ["", "[[operations]]", 'include-path-regex = "^/v1/api/keys/"', "[operations.parameters]", '"path.id" = { dictionary = "spare_keys", probability = 1.0 }']
    path = tmp_path / "schemathesis.toml"
    path.write_text("\n".join(toml) + "\n")
    code, report = schemathesis(server, key, str(path))
    assert code == 0, path.read_text() + "\n" + report
