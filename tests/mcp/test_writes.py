"""The tools that write: absent by default, listed and working with `mcp.allow_writes = true`
(a second server), each within the caller's tenant."""

import asyncio
import time

import pytest
from conftest import MODES, connect, http, start_server
from mcp.shared.exceptions import MCPError

WRITES = {"create_vector_store", "upload_text"}


@pytest.fixture(scope="module")
def writer():
    yield from start_server({"VECTOR_STORE__MCP__ALLOW_WRITES": "true"})


def ok(result) -> dict:
    assert not result.is_error, result.content
    return result.structured_content


@pytest.mark.parametrize("mode", MODES)
def test_writes_are_off_by_default(server, mode):
    async def go():
        async with connect(server, server["keys"][0], mode) as c:
            assert not WRITES & {t.name for t in (await c.list_tools()).tools}
            with pytest.raises(MCPError):
                await c.call_tool("create_vector_store", {"name": "nope"})

    asyncio.run(go())


@pytest.mark.parametrize("mode", MODES)
def test_a_store_is_created_and_a_text_uploaded_then_found(writer, mode):
    key, other = writer["keys"]

    async def go():
        async with connect(writer, key, mode) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert WRITES <= set(tools)
            assert all(tools[t].annotations.read_only_hint is False for t in WRITES)
            store = ok(await c.call_tool("create_vector_store", {"name": f"notes {mode}", "metadata": {"by": "mcp"}}))
            assert store["id"].startswith("vs_") and store["name"] == f"notes {mode}"
            up = ok(await c.call_tool("upload_text", {
                "vector_store_id": store["id"], "filename": "kiwi.md",
                "text": "The kiwi is a flightless bird endemic to New Zealand.",
                "attributes": {"topic": "birds"},
            }))
            assert up["vector_store_id"] == store["id"] and up["status"] == "in_progress"
            return store["id"], up["file_id"]

    store, file_id = asyncio.run(go())
    with http(writer, key) as h:
        deadline = time.time() + 120
        while h.get(f"/v1/vector_stores/{store}/files/{file_id}").json()["status"] != "completed":
            assert time.time() < deadline
            time.sleep(0.2)

    async def read():
        async with connect(writer, key, mode) as c:
            hits = ok(await c.call_tool("search_vector_store", {
                "vector_store_ids": [store], "query": "flightless bird",
                "filters": {"type": "eq", "key": "topic", "value": "birds"},
            }))
            assert hits["data"][0]["file_id"] == file_id
        async with connect(writer, other, mode) as c:
            result = await c.call_tool("upload_text", {"vector_store_id": store, "filename": "x.txt", "text": "x"})
            assert result.is_error and "no collection" in result.content[0].text
            result = await c.call_tool("create_vector_store", {"name": "x", "metadata": {"k": 1}})
            assert result.is_error

    asyncio.run(read())
    with http(writer, other) as h:
        assert h.get("/v1/files").json()["data"] == [], "a refused upload leaves no file"
