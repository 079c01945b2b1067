"""What `search`, `fetch` and `get_file_content` reach: every one of the caller's vector
stores (not only the newest), and documents indexed through `/v2` without a file."""

import subprocess
import uuid

import httpx2
from conftest import connect, http
from test_mcp import error, ok, run
from vsserver import _server_bin

KRAKEN = "The kraken is a legendary sea monster said to dwell off the coasts of Norway."
# A document id may hold the `~` that joins a store's id to a document's in a handle.
DOC = "kraken~1"


def new_tenant_key(server) -> str:
    tenant = f"py_reach_{uuid.uuid4().hex[:8]}"
    out = subprocess.run([_server_bin(), "keys", "create", "--tenant", tenant], env=server["env"],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_search_reaches_every_store_and_fetches_documents_without_a_file(server):
    key = new_tenant_key(server)
    with http(server, key) as c:
        r = c.post("/v1/vector_stores", json={"name": "oldest"})
        assert r.status_code == 200, r.text
        oldest = r.json()["id"]
        doc = {"id": DOC, "text": KRAKEN, "attributes": {"sea": "north"}}
        r = c.post(f"/v2/collections/{oldest}/documents", json={"documents": [doc]})
        assert r.status_code == 200, r.text
        # More stores than a page of them, each newer than the one that holds the document.
        for i in range(21):
            assert c.post("/v1/vector_stores", json={"name": f"newer {i}"}).status_code == 200

    async def go():
        async with connect(server, key, "2026-07-28") as c:
            found = ok(await c.call_tool("search", {"query": "kraken sea monster Norway"}))
            hit = next(r for r in found["results"] if r["title"] == DOC)
            assert hit["url"] == f"{server['base']}/v1/vector_stores/{oldest}"
            doc = ok(await c.call_tool("fetch", {"id": hit["id"]}))
            assert doc["text"] == KRAKEN and doc["url"] == hit["url"]
            assert doc["metadata"] == {
                "vector_store_id": oldest,
                "document_id": DOC,
                "attributes": {"sea": "north"},
                "truncated": False,
            }
            content = ok(await c.call_tool("get_file_content", {
                "vector_store_id": oldest, "file_id": DOC, "max_chars": 10}))
            assert content == {"vector_store_id": oldest, "file_id": DOC,
                               "text": KRAKEN[:10], "truncated": True}
            # A document id the store does not hold is not found.
            missing = hit["id"].replace(DOC, "nothing")
            assert "no document" in error(await c.call_tool("fetch", {"id": missing}))
            assert "nothing" in error(await c.call_tool("get_file_content", {
                "vector_store_id": oldest, "file_id": "nothing"}))
            # One search reaches at most 50 stores, refused before any is looked up.
            many = [f"vs_{i}" for i in range(51)]
            assert "at most 50 vector stores" in error(await c.call_tool(
                "search_vector_store", {"vector_store_ids": many, "query": "kraken"}))

    run(go())
    # The url answers the caller.
    r = httpx2.get(f"{server['base']}/v1/vector_stores/{oldest}", headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200 and r.json()["id"] == oldest, r.text
