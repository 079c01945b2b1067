"""Uploads in parts with the official client: a file larger than `files.max_upload_bytes`, sent
with `client.uploads.upload_file_chunked`, becomes an ordinary file that a vector store ingests
and finds; cancelled and expired uploads leave nothing on disk."""

import hashlib
import os
import shutil
import tempfile
import time
import uuid

import openai
import pytest

from vsserver import own_database, start_server

# Small enough that the file below cannot be sent in one `POST /v1/files`.
MAX_UPLOAD = 4096


def _files_server(database, extra=None):
    """A server of this module's own, on a files directory whose contents the tests read, and
    on a database of its own: no other server's workers take its files' jobs, whose bytes they
    could not read."""
    files = tempfile.mkdtemp(prefix="vs-py-uploads-")
    env = {
        "VECTOR_STORE__DATABASE__URL": own_database(database),
        "VECTOR_STORE__FILES__DIR": files,
        "VECTOR_STORE__FILES__MAX_UPLOAD_BYTES": str(MAX_UPLOAD),
        **(extra or {}),
    }
    for server in start_server(env):
        yield {**server, "files": files}
    shutil.rmtree(files, ignore_errors=True)


@pytest.fixture(scope="module")
def uploads_server():
    yield from _files_server("py_uploads")


@pytest.fixture(scope="module")
def expiring_server():
    """Uploads expire two seconds after they are made; the sweep runs every second."""
    yield from _files_server("py_uploads_expiring", {
        "VECTOR_STORE__UPLOADS__EXPIRY_SECS": "2",
        "VECTOR_STORE__INGEST__EXPIRY_SWEEP_SECS": "1",
    })


def _client(server, key=0) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server['base']}/v1", api_key=server["keys"][key], max_retries=0,
                         _strict_response_validation=True)


def _on_disk(root: str) -> list:
    """Every file under `root`, relative to it."""
    found = []
    for dirpath, _, names in os.walk(root):
        found += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(found)


def _parts(server, upload_id: str) -> list:
    return _on_disk(os.path.join(server["files"], "uploads", upload_id))


FILLER = [
    "Sourdough starters need regular feeding with flour and water to stay active and sour.",
    "A chess opening such as the Sicilian Defence shapes the middle game that follows.",
    "Kayakers read the river's eddies and standing waves before they run a rapid.",
    "Compost heaps turn kitchen scraps into soil when they are kept moist and turned.",
    "Violin strings are tuned in fifths, and their pegs slip in dry winter air.",
]
NEEDLE = ("The keeper of the Skerryvore lighthouse logged two hundred and twelve storms in the "
          "winter of 1844, and the tower's lamp never once went dark.")


def _document() -> bytes:
    paragraphs = [f"{FILLER[i % len(FILLER)]} (note {i})" for i in range(120)]
    paragraphs.insert(77, NEEDLE)
    return "\n\n".join(paragraphs).encode()


def test_a_file_over_the_upload_limit_arrives_in_parts_and_is_found(uploads_server, tmp_path):
    client = _client(uploads_server)
    data = _document()
    assert len(data) > 2 * MAX_UPLOAD
    path = tmp_path / "lighthouses.txt"
    path.write_bytes(data)
    with pytest.raises(openai.APIStatusError) as refused:
        client.files.create(file=path.open("rb"), purpose="assistants")
    assert refused.value.status_code == 413

    upload = client.uploads.upload_file_chunked(file=path, mime_type="text/plain", purpose="assistants",
                                                bytes=len(data), part_size=MAX_UPLOAD,
                                                md5=hashlib.md5(data).hexdigest())
    assert upload.status == "completed"
    assert upload.file is not None and upload.file.bytes == len(data)
    assert upload.file.filename == "lighthouses.txt"
    assert _parts(uploads_server, upload.id) == []
    assert client.files.retrieve(upload.file.id).bytes == len(data)
    assert client.files.content(upload.file.id).content == data

    store = client.vector_stores.create(name=f"uploads {uuid.uuid4().hex[:6]}")
    try:
        attached = client.vector_stores.files.create_and_poll(
            vector_store_id=store.id, file_id=upload.file.id,
            chunking_strategy={"type": "static",
                               "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}})
        assert attached.status == "completed", attached.last_error
        hits = client.vector_stores.search(store.id, query="How many storms did the Skerryvore "
                                                           "lighthouse keeper log?")
        assert "Skerryvore" in hits.data[0].content[0].text, hits.data[0]
    finally:
        client.vector_stores.delete(store.id)
        client.files.delete(upload.file.id)


def test_another_tenant_cannot_see_an_upload(uploads_server):
    client, other = _client(uploads_server), _client(uploads_server, key=1)
    upload = client.uploads.create(bytes=10, filename="a.txt", mime_type="text/plain", purpose="assistants")
    with pytest.raises(openai.NotFoundError):
        other.uploads.parts.create(upload_id=upload.id, data=b"0123456789")
    with pytest.raises(openai.NotFoundError):
        other.uploads.cancel(upload.id)
    assert client.uploads.cancel(upload.id).status == "cancelled"


def test_a_cancelled_upload_leaves_nothing_on_disk(uploads_server):
    client = _client(uploads_server)
    upload = client.uploads.create(bytes=100, filename="a.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload_id=upload.id, data=b"x" * 60)
    assert part.upload_id == upload.id
    assert _parts(uploads_server, upload.id) == [part.id]
    cancelled = client.uploads.cancel(upload.id)
    assert cancelled.status == "cancelled" and cancelled.file is None
    assert not os.path.exists(os.path.join(uploads_server["files"], "uploads", upload.id))
    with pytest.raises(openai.BadRequestError):
        client.uploads.parts.create(upload_id=upload.id, data=b"x")
    with pytest.raises(openai.BadRequestError):
        client.uploads.complete(upload.id, part_ids=[part.id])


def test_an_expired_upload_leaves_nothing_on_disk(expiring_server):
    client = _client(expiring_server)
    upload = client.uploads.create(bytes=100, filename="a.txt", mime_type="text/plain", purpose="assistants")
    part = client.uploads.parts.create(upload_id=upload.id, data=b"x" * 100)
    assert upload.expires_at - upload.created_at == 2
    deadline = time.time() + 60
    while os.path.exists(os.path.join(expiring_server["files"], "uploads", upload.id)):
        assert time.time() < deadline, _on_disk(expiring_server["files"])
        time.sleep(0.2)
    assert _on_disk(expiring_server["files"]) == []
    with pytest.raises(openai.BadRequestError) as refused:
        client.uploads.complete(upload.id, part_ids=[part.id])
    assert "expired" in str(refused.value)
