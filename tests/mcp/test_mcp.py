"""`/mcp` through the official MCP client, at the 2026-07-28 revision and through the
initialize handshake: every tool, tenancy, the doors (key, Origin), tool errors, metrics."""

import asyncio
import json

import httpx2
import pytest
from conftest import METRICS_TOKEN, MODES, connect

TOOLS = {"search", "fetch", "list_vector_stores", "search_vector_store", "get_file_content"}
NEGOTIATED = {"legacy": "2025-11-25", "auto": "2026-07-28", "2026-07-28": "2026-07-28"}


def run(coro):
    return asyncio.run(coro)


def ok(result) -> dict:
    """A successful tool result's structured content, which its text block repeats."""
    assert not result.is_error, result.content
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error(result) -> str:
    assert result.is_error, result
    return result.content[0].text


# "auto" probes `server/discover` (2026-07-28) before it would fall back to `initialize`; a
# pinned version skips the probe.
@pytest.mark.parametrize("mode", ["auto", *MODES])
def test_each_revision_negotiates_and_lists_read_only_tools(server, mode):
    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            assert c.protocol_version == NEGOTIATED[mode]
            if mode != "2026-07-28":
                # Learnt from `server/discover` or from `initialize`.
                assert c.server_info.name == "vector-store-server"
                assert c.server_capabilities.tools is not None
            tools = (await c.list_tools()).tools
            assert {t.name for t in tools} == TOOLS
            for t in tools:
                assert t.annotations.read_only_hint is True, t.name
                assert t.input_schema["type"] == "object"
                assert t.output_schema is not None, t.name

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_search_then_fetch_follows_the_deep_research_contract(server, corpus, mode):
    a = corpus["a"]

    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            found = ok(await c.call_tool("search", {"query": "Apollo 11 Moon landing Armstrong"}))
            assert set(found) == {"results"}
            first = found["results"][0]
            assert set(first) == {"id", "title", "url"}
            assert first["title"] == "apollo.txt"
            file_id = a["files"]["apollo.txt"]
            url = f"{server['base']}/v1/vector_stores/{a['id']}/files/{file_id}/content"
            assert first["url"] == url
            doc = ok(await c.call_tool("fetch", {"id": first["id"]}))
            assert set(doc) == {"id", "title", "text", "url", "metadata"}
            assert doc["id"] == first["id"] and doc["title"] == "apollo.txt" and doc["url"] == url
            assert "Neil Armstrong" in doc["text"]
            assert doc["metadata"]["vector_store_id"] == a["id"]
            assert doc["metadata"]["file_id"] == file_id
            assert doc["metadata"]["truncated"] is False
            # The content route the url names serves the same text.
            r = httpx2.get(url, headers={"authorization": f"Bearer {server['keys'][0]}"})
            assert r.status_code == 200
            assert r.json()["data"][0]["text"] == doc["text"]

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_vector_store_ids_on_the_url_narrow_search_and_fetch(server, corpus, mode):
    a, a2 = corpus["a"], corpus["a2"]

    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            everywhere = ok(await c.call_tool("search", {"query": "Apollo Moon Armstrong"}))
            apollo = next(r["id"] for r in everywhere["results"] if r["title"] == "apollo.txt")
        async with connect(server, server["keys"][0], mode, f"?vector_store_ids={a2['id']}") as c:
            found = ok(await c.call_tool("search", {"query": "Apollo Moon Armstrong"}))
            assert found["results"], found
            assert all(f"/vector_stores/{a2['id']}/" in r["url"] for r in found["results"])
            assert "no document" in error(await c.call_tool("fetch", {"id": apollo}))
        assert a["id"] != a2["id"]

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_list_vector_stores_pages_through_the_callers_stores(server, corpus, mode):
    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            page = ok(await c.call_tool("list_vector_stores", {"limit": 1}))
            assert len(page["data"]) == 1 and page["has_more"] is True
            rest = ok(await c.call_tool("list_vector_stores", {"after": page["last_id"]}))
            ids = {s["id"] for s in page["data"] + rest["data"]}
            assert {corpus["a"]["id"], corpus["a2"]["id"]} <= ids
            assert corpus["b"]["id"] not in ids

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_search_vector_store_takes_the_search_routes_arguments(server, corpus, mode):
    a, a2 = corpus["a"], corpus["a2"]

    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            hits = ok(await c.call_tool("search_vector_store", {
                "vector_store_ids": [a["id"], a2["id"]],
                "query": ["volcano in Sicily", "Etna"],
                "max_num_results": 2,
                "ranking_options": {"score_threshold": 0.0},
                "rewrite_query": False,
            }))
            assert hits["search_query"] == ["volcano in Sicily", "Etna"]
            assert 1 <= len(hits["data"]) <= 2
            assert hits["data"][0]["filename"] in {"etna.txt", "etna2.txt"}
            assert "Etna" in hits["data"][0]["text"]
            scores = [h["score"] for h in hits["data"]]
            assert scores == sorted(scores, reverse=True)
            none = ok(await c.call_tool("search_vector_store", {
                "vector_store_ids": [a["id"]],
                "query": "Etna",
                "filters": {"type": "eq", "key": "lang", "value": "xx"},
            }))
            assert none["data"] == []
            # The search route's search_mode: keywords alone find the word, and not a paraphrase.
            found = ok(await c.call_tool("search_vector_store", {
                "vector_store_ids": [a["id"]], "query": "Etna", "search_mode": "keyword"}))
            assert found["data"][0]["filename"] == "etna.txt"
            unmatched = ok(await c.call_tool("search_vector_store", {
                "vector_store_ids": [a["id"]], "query": "zyxwvut", "search_mode": "keyword"}))
            assert unmatched["data"] == []

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_get_file_content_cuts_at_max_chars(server, corpus, mode):
    a = corpus["a"]
    file_id = a["files"]["apollo.txt"]

    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            whole = ok(await c.call_tool("get_file_content", {"vector_store_id": a["id"], "file_id": file_id}))
            assert whole["truncated"] is False and "Buzz Aldrin" in whole["text"]
            cut = ok(await c.call_tool("get_file_content", {
                "vector_store_id": a["id"], "file_id": file_id, "max_chars": 10,
            }))
            assert cut == {"vector_store_id": a["id"], "file_id": file_id, "text": whole["text"][:10], "truncated": True}

    run(go())


@pytest.mark.parametrize("mode", MODES)
def test_another_tenants_store_and_handle_are_not_found(server, corpus, mode):
    a = corpus["a"]
    file_id = a["files"]["apollo.txt"]
    # The message the HTTP API gives the other tenant for that store, which the tools repeat.
    r = httpx2.get(f"{server['base']}/v1/vector_stores/{a['id']}", headers={"authorization": f"Bearer {server['keys'][1]}"})
    assert r.status_code == 404
    api_message = r.json()["error"]["message"]

    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            found = ok(await c.call_tool("search", {"query": "Apollo Moon Armstrong"}))
            handle = next(r["id"] for r in found["results"] if r["title"] == "apollo.txt")
        async with connect(server, server["keys"][1], mode) as c:
            theirs = ok(await c.call_tool("search", {"query": "Apollo Moon Armstrong"}))
            assert all(r["title"] == "nautilus.txt" for r in theirs["results"]), theirs
            assert "no " in error(await c.call_tool("fetch", {"id": handle}))
            msg = error(await c.call_tool("get_file_content", {"vector_store_id": a["id"], "file_id": file_id}))
            assert msg == api_message
            msg = error(await c.call_tool("search_vector_store", {"vector_store_ids": [a["id"]], "query": "Apollo"}))
            assert msg == api_message
            stores = ok(await c.call_tool("list_vector_stores", {}))
            assert a["id"] not in {s["id"] for s in stores["data"]}
        async with connect(server, server["keys"][1], mode, f"?vector_store_ids={a['id']}") as c:
            assert error(await c.call_tool("search", {"query": "Apollo"})) == api_message

    run(go())


BAD_ARGUMENTS = [
    ("search", {"query": 3}),
    ("search", {}),
    ("search", {"query": "x", "extra": 1}),
    ("fetch", {"id": "not a handle"}),
    ("list_vector_stores", {"limit": 0}),
    ("list_vector_stores", {"limit": "ten"}),
    ("search_vector_store", {"vector_store_ids": [], "query": "x"}),
    ("search_vector_store", {"vector_store_ids": ["vs_x"], "query": "x", "max_num_results": 51}),
    ("search_vector_store", {"vector_store_ids": ["vs_x"], "query": "x", "filters": {"type": "nope"}}),
    ("search_vector_store", {"vector_store_ids": ["vs_x"], "query": "x", "search_mode": "nope"}),
    ("get_file_content", {"vector_store_id": "vs_x"}),
    ("get_file_content", {"vector_store_id": "vs_x", "file_id": "file-x", "max_chars": -1}),
]


@pytest.mark.parametrize("mode", MODES)
def test_bad_arguments_are_tool_errors(server, corpus, mode):
    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            for tool, args in BAD_ARGUMENTS:
                assert error(await c.call_tool(tool, args)), (tool, args)
            # The limits of the API hold: max_num_results is at most 50.
            msg = error(await c.call_tool("search_vector_store", {
                "vector_store_ids": [corpus["a"]["id"]], "query": "x", "max_num_results": 51,
            }))
            assert "max_num_results" in msg
            # A NUL, which no store keeps, is refused with the API's message wherever it is.
            for tool, args, where in [
                ("get_file_content", {"vector_store_id": "vs_\x00", "file_id": "f"}, "vector_store_id"),
                ("search_vector_store", {"vector_store_ids": [corpus["a"]["id"]], "query": "x",
                                         "filters": {"type": "eq", "key": "k", "value": "a\x00"}},
                 "filters.value"),
            ]:
                msg = error(await c.call_tool(tool, args))
                assert msg == f"{where}: must not contain the NUL character (U+0000)", (tool, msg)

    run(go())


INITIALIZE = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}
ACCEPT = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def test_a_missing_or_wrong_key_is_401_with_a_bearer_challenge(server):
    for headers in ({}, {"authorization": "Bearer vsk_wrong"}):
        r = httpx2.post(f"{server['base']}/mcp", json=INITIALIZE, headers={**ACCEPT, **headers})
        assert r.status_code == 401, r.text
        assert r.headers["www-authenticate"] == "Bearer"
        assert r.json()["error"]["code"] == "invalid_api_key"


def test_a_foreign_origin_is_403(server):
    auth = {"authorization": f"Bearer {server['keys'][0]}"}
    r = httpx2.post(f"{server['base']}/mcp", json=INITIALIZE, headers={**ACCEPT, **auth, "origin": "https://evil.example"})
    assert r.status_code == 403, r.text
    assert "Origin" in r.json()["error"]["message"]
    r = httpx2.post(f"{server['base']}/mcp", json=INITIALIZE, headers={**ACCEPT, **auth})
    assert r.status_code == 200, r.text


def test_tool_calls_are_counted_by_tool(server, corpus):
    async def go():
        async with connect(server, server["keys"][0], "2026-07-28") as c:
            ok(await c.call_tool("list_vector_stores", {}))
            error(await c.call_tool("fetch", {"id": "nope"}))

    run(go())
    r = httpx2.get(f"{server['base']}/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert r.status_code == 200
    assert "# HELP vector_store_mcp_tool_calls_total" in r.text
    lines = [line for line in r.text.splitlines() if line.startswith("vector_store_mcp_tool_calls_total{")]
    assert any('tool="list_vector_stores"' in line and 'outcome="ok"' in line for line in lines), lines
    assert any('tool="fetch"' in line and 'outcome="error"' in line for line in lines), lines


def test_the_transports_refusals_keep_their_status_in_the_envelope(server):
    auth = {"authorization": f"Bearer {server['keys'][0]}"}
    r = httpx2.get(f"{server['base']}/mcp", headers=auth)
    assert r.status_code == 405 and r.headers["allow"] == "POST"
    assert r.json()["error"]["code"] == "method_not_allowed"
    r = httpx2.post(f"{server['base']}/mcp", json=INITIALIZE, headers={**auth, "accept": "text/html"})
    assert r.status_code == 406, r.text
    assert "Accept" in r.json()["error"]["message"] or "accept" in r.json()["error"]["message"]
    # A body sent as anything but JSON.
    text = {**ACCEPT, **auth, "content-type": "text/plain"}
    r = httpx2.post(f"{server['base']}/mcp", content=b"not json", headers=text)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["type"] == "invalid_request_error"
    # A JSON body that is no JSON (invalid UTF-8, nested past any parser's depth), or no
    # JSON-RPC message, is a bad request.
    nested = b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    bodies = (b"not json", b'{"jsonrpc": "2.0", "nothing": 1}', b"[]", b"", b'{"a": "\xff\xfe"}', nested)
    for body in bodies:
        r = httpx2.post(f"{server['base']}/mcp", content=body, headers={**ACCEPT, **auth})
        assert r.status_code == 400, (body, r.text)
        err = r.json()["error"]
        assert err["type"] == "invalid_request_error" and "JSON-RPC" in err["message"], err
    # The server answers on.
    r = httpx2.post(f"{server['base']}/mcp", json=INITIALIZE, headers={**ACCEPT, **auth})
    assert r.status_code == 200, r.text
