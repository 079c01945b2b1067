"""`/mcp` through a second client, the MCP Inspector's CLI (TypeScript SDK), installed in
`tests/mcp/inspector` (`npm ci --prefix tests/mcp/inspector`; make test does, and the suite fails
without it). It asks for Node >= 22.19 and runs on the Node 20 we have."""

import json
import os
import subprocess

CLI = os.path.join(os.path.dirname(__file__), "inspector", "node_modules", ".bin", "mcp-inspector")


def inspector(server, key, *args) -> subprocess.CompletedProcess:
    assert os.path.exists(CLI), "the MCP Inspector is not installed: npm ci --prefix tests/mcp/inspector"
    cmd = [CLI, "--cli", f"{server['base']}/mcp", "--transport", "http", "--header", f"Authorization: Bearer {key}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_the_inspector_lists_the_tools(server):
    out = inspector(server, server["keys"][0], "--method", "tools/list")
    assert out.returncode == 0, out.stderr
    names = {t["name"] for t in json.loads(out.stdout)["tools"]}
    assert names == {"search", "fetch", "list_vector_stores", "search_vector_store", "get_file_content"}


def test_the_inspector_calls_search_and_fetch(server, corpus):
    key = server["keys"][0]
    out = inspector(server, key, "--method", "tools/call", "--tool-name", "search", "--tool-arg", "query=Apollo Moon Armstrong")
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout)["structuredContent"]["results"]
    first = next(r for r in results if r["title"] == "apollo.txt")
    out = inspector(server, key, "--method", "tools/call", "--tool-name", "fetch", "--tool-arg", f"id={first['id']}")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)["structuredContent"]
    assert "Neil Armstrong" in doc["text"]


def test_the_inspector_sees_a_bad_argument_as_a_tool_error(server):
    # The CLI sends `query=1` as the number 1, which the tool's schema refuses.
    out = inspector(server, server["keys"][0], "--method", "tools/call", "--tool-name", "search", "--tool-arg", "query=1")
    # The result, then the CLI's own line about it.
    result, _ = json.JSONDecoder().raw_decode(out.stdout)
    assert result["isError"] is True, out.stdout + out.stderr
    assert "expected a string" in result["content"][0]["text"]
