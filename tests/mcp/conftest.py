"""Starts the real server binary (keys mode, two tenants, `/metrics` behind a token), loads a
small corpus for each tenant through the HTTP API, and connects the official MCP client to
`/mcp`, at the 2026-07-28 revision or through the initialize handshake of the earlier ones.

`make test` runs the suite once per back-end (VS_STORAGE_BACKEND)."""

import contextlib
import os
import sys
import time
import uuid

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "openai"))
from vsserver import start_server  # noqa: E402, F401  (test_writes starts a second server)

METRICS_TOKEN = "mcp-suite-metrics"
# The revisions the suite speaks: the handshake era (the newest one with `initialize`) and the
# current one (`server/discover`, per-request `_meta`).
MODES = ["legacy", "2026-07-28"]


@pytest.fixture(scope="session")
def server():
    yield from start_server({"VECTOR_STORE__SERVER__METRICS_TOKEN": METRICS_TOKEN})


def http(server, key) -> httpx2.Client:
    return httpx2.Client(base_url=server["base"], headers={"authorization": f"Bearer {key}"}, timeout=60)


def load_store(server, key: str, name: str, files: dict[str, str]) -> dict:
    """A vector store of `files` (name → text), every file ingested."""
    with http(server, key) as c:
        ids = {}
        for filename, text in files.items():
            r = c.post("/v1/files", files={"file": (filename, text.encode(), "text/plain")}, data={"purpose": "assistants"})
            r.raise_for_status()
            ids[filename] = r.json()["id"]
        r = c.post("/v1/vector_stores", json={"name": name, "file_ids": list(ids.values())})
        r.raise_for_status()
        store = r.json()["id"]
        deadline = time.time() + 120
        for file_id in ids.values():
            while True:
                status = c.get(f"/v1/vector_stores/{store}/files/{file_id}").json()["status"]
                if status == "completed":
                    break
                assert status == "in_progress", status
                assert time.time() < deadline, "ingestion took too long"
                time.sleep(0.2)
        return {"id": store, "files": ids}


APOLLO = (
    "Apollo 11 was the spaceflight that first landed humans on the Moon. Commander Neil Armstrong "
    "and lunar module pilot Buzz Aldrin landed the Eagle on July 20, 1969. " * 3
)
VOLCANO = "Mount Etna is an active stratovolcano on the east coast of Sicily, Italy. " * 3
SECRET = "The other tenant's private note about a submarine named Nautilus. " * 3


@pytest.fixture(scope="session")
def corpus(server):
    run = uuid.uuid4().hex[:6]
    a = load_store(server, server["keys"][0], f"mcp a {run}", {"apollo.txt": APOLLO, "etna.txt": VOLCANO})
    a2 = load_store(server, server["keys"][0], f"mcp a2 {run}", {"etna2.txt": VOLCANO})
    b = load_store(server, server["keys"][1], f"mcp b {run}", {"nautilus.txt": SECRET})
    return {"a": a, "a2": a2, "b": b}


@contextlib.asynccontextmanager
async def connect(server, key: str, mode: str, query: str = ""):
    """The official client on `/mcp` as the holder of `key`, at the revision `mode` picks."""
    async with httpx2.AsyncClient(headers={"authorization": f"Bearer {key}"}, timeout=60) as h:
        transport = streamable_http_client(f"{server['base']}/mcp{query}", http_client=h)
        async with Client(transport, mode=mode) as client:
            yield client
