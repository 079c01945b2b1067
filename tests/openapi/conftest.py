"""The real server binary for the self-description suite: keys mode, a metrics token, and no
rate limit (the schema fuzzer sends many requests a second)."""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "openai"))
from vsserver import ROOT, start_server  # noqa: E402

METRICS_TOKEN = "metrics-token-for-tests"


@pytest.fixture(scope="session")
def server():
    yield from start_server({
        "VECTOR_STORE__SERVER__METRICS_TOKEN": METRICS_TOKEN,
        "VECTOR_STORE__SERVER__RATE_LIMIT_PER_SECOND": "0",
        "VECTOR_STORE__SERVER__MAX_IN_FLIGHT_PER_TENANT": "0",
    })


class Http:
    """Plain HTTP calls; `key` is sent as a bearer token when given."""

    def __init__(self, base: str):
        self.base = base

    def call(self, method: str, path: str, body=None, key=None, headers=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.base}{path}", data=data, method=method)
        if key:
            req.add_header("authorization", f"Bearer {key}")
        if data is not None:
            req.add_header("content-type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def json(self, method: str, path: str, body=None, key=None):
        status, _, raw = self.call(method, path, body, key)
        return status, json.loads(raw or b"null")


@pytest.fixture(scope="session")
def http(server) -> Http:
    return Http(server["base"])


@pytest.fixture(scope="session")
def document(http):
    status, doc = http.json("GET", "/openapi.json")
    assert status == 200
    return doc


@pytest.fixture(scope="session")
def root() -> str:
    return ROOT
