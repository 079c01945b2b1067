"""Starts the real server binary (keys mode, port chosen here) against DATABASE_URL, creates one
API key for each of two tenants, and hands out official OpenAI clients pointed at it.

With ELASTICSEARCH_URL set, the Elasticsearch back-end is configured as well, and
VS_STORAGE_BACKEND=elasticsearch makes it the default back-end of new vector stores: `make test`
runs the suite once per back-end."""

import json
import uuid
import urllib.error
import urllib.request

import openai
import pytest

from vsserver import start_server


@pytest.fixture(scope="session")
def server():
    yield from start_server()


def _client(base: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{base}/v1", api_key=key, max_retries=0, _strict_response_validation=True)


@pytest.fixture()
def client(server) -> openai.OpenAI:
    return _client(server["base"], server["keys"][0])


@pytest.fixture()
def other_client(server) -> openai.OpenAI:
    """A client of another tenant."""
    return _client(server["base"], server["keys"][1])


class Raw:
    """Plain JSON calls as the first tenant, for the service's own routes (to load documents)."""

    def __init__(self, base: str, key: str):
        self.base, self.key = base, key

    def call(self, method: str, path: str, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        req.add_header("authorization", f"Bearer {self.key}")
        if data is not None:
            req.add_header("content-type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")


@pytest.fixture()
def raw(server) -> Raw:
    return Raw(server["base"], server["keys"][0])


@pytest.fixture()
def store(client):
    vs = client.vector_stores.create(name=f"test {uuid.uuid4().hex[:6]}", metadata={"suite": "conformance"})
    yield vs
    try:
        client.vector_stores.delete(vs.id)
    except openai.NotFoundError:
        pass
