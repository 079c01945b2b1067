"""Starts the real server binary (keys mode, port chosen here) against DATABASE_URL, creates one
API key for each of two tenants, and hands out official OpenAI clients pointed at it.

With ELASTICSEARCH_URL set, the Elasticsearch back-end is configured as well, and
VS_STORAGE_BACKEND=elasticsearch makes it the default back-end of new vector stores: `make test`
runs the suite once per back-end."""

import os
import socket
import subprocess
import time
import uuid

import json
import urllib.error
import urllib.request

import openai
import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _server_bin() -> str:
    path = os.environ.get("VS_SERVER_BIN", os.path.join(ROOT, "target", "debug", "vector-store-server"))
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is missing: build it with `cargo build -p vector-store-server` (make test does)")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server():
    if not os.environ.get("DATABASE_URL"):
        raise RuntimeError("DATABASE_URL is not set: run the suite through `make test`")
    port = _free_port()
    env = dict(os.environ)
    env.update({
        "VECTOR_STORE__SERVER__PORT": str(port),
        "VECTOR_STORE__AUTH__MODE": "keys",
        "VECTOR_STORE__AUTH__KEY_CACHE_TTL_SECS": "0",
        "VECTOR_STORE__EMBEDDINGS__MODELS_DIR": os.environ.get("VECTOR_STORE_MODELS_DIR", os.path.join(ROOT, "models")),
        "VECTOR_STORE__LOG__LEVEL": "warn",
    })
    if os.environ.get("ELASTICSEARCH_URL"):
        env.update({
            "VECTOR_STORE__STORAGE__ELASTICSEARCH__URL": os.environ["ELASTICSEARCH_URL"],
            "VECTOR_STORE__STORAGE__ELASTICSEARCH__INDEX_PREFIX": "vspy_",
            "VECTOR_STORE__STORAGE__ELASTICSEARCH__REPLICAS": "0",
        })
        for name in ("USERNAME", "PASSWORD", "API_KEY", "INSECURE"):
            if os.environ.get(f"ELASTICSEARCH_{name}"):
                env[f"VECTOR_STORE__STORAGE__ELASTICSEARCH__{name}"] = os.environ[f"ELASTICSEARCH_{name}"]
    env["VECTOR_STORE__STORAGE__DEFAULT_BACKEND"] = os.environ.get("VS_STORAGE_BACKEND", "pgvector")
    run = uuid.uuid4().hex[:8]
    keys = []
    for tenant in (f"py_a_{run}", f"py_b_{run}"):
        out = subprocess.run([_server_bin(), "keys", "create", "--tenant", tenant], env=env, capture_output=True, text=True, check=True)
        keys.append(out.stdout.strip())
    proc = subprocess.Popen([_server_bin(), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while True:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=1) as r:
                if r.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            raise RuntimeError(f"the server did not start: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.2)
    yield {"base": base, "keys": keys}
    proc.terminate()
    proc.wait(timeout=30)


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
