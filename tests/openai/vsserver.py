"""Starts the real server binary for the Python suites: keys mode, a port chosen here, against
DATABASE_URL (and ELASTICSEARCH_URL when set), with one API key for each of two tenants."""

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid

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


def own_database(name: str) -> str:
    """The URL of a database `name` of its own in the local cluster `scripts/services.sh` runs
    (made if missing): for a server whose ingestion jobs no other server may take, such as one
    whose files directory the others do not see."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "services.sh"), "database", name],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip()


def start_server(extra_env=None):
    """Yields {"base", "keys", "env"} while the server runs; `extra_env` overrides settings."""
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
        # A client that keeps a connection open (a browser) does not hold the suite's teardown
        # for the whole default drain.
        "VECTOR_STORE__SERVER__SHUTDOWN_TIMEOUT_SECS": "5",
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
    env.update(extra_env or {})
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
    yield {"base": base, "keys": keys, "env": env}
    proc.terminate()
    proc.wait(timeout=60)
