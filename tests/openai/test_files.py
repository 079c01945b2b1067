"""The Files API through the official OpenAI client."""

import openai
import pytest


def test_upload_retrieve_content_and_delete(client):
    data = "naïve café ☕ — line one\nline two\n".encode()
    f = client.files.create(file=("notes.txt", data, "text/plain"), purpose="assistants")
    assert f.object == "file" and f.id.startswith("file-")
    assert f.bytes == len(data) and f.filename == "notes.txt" and f.purpose == "assistants"
    assert f.status == "processed" and f.expires_at is None
    assert client.files.retrieve(f.id).bytes == len(data)
    assert client.files.content(f.id).read() == data
    deleted = client.files.delete(f.id)
    assert deleted.id == f.id and deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
    with pytest.raises(openai.NotFoundError):
        client.files.content(f.id)


def test_binary_bytes_come_back_exactly(client):
    data = bytes(range(256)) * 1000
    f = client.files.create(file=("blob.bin", data), purpose="user_data")
    try:
        assert client.files.content(f.id).read() == data
    finally:
        client.files.delete(f.id)


def test_list_filters_by_purpose_and_pages(client):
    made = [client.files.create(file=(f"p{i}.txt", b"x"), purpose="batch" if i % 2 else "vision") for i in range(4)]
    try:
        batch = [f.id for f in client.files.list(purpose="batch").data]
        assert set(batch) >= {made[1].id, made[3].id} and made[0].id not in batch
        asc = [f.id for f in client.files.list(limit=1, order="asc")]  # auto-paginates with `after`
        ours = [i for i in asc if i in {m.id for m in made}]
        assert ours == [m.id for m in made]
        page = client.files.list(limit=1)
        assert page.has_more is True
    finally:
        for f in made:
            client.files.delete(f.id)


def test_expiry_sets_expires_at(client):
    f = client.files.create(file=("e.txt", b"x"), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 3600})
    try:
        assert f.expires_at == f.created_at + 3600
    finally:
        client.files.delete(f.id)


def test_bad_uploads_are_400s_and_foreign_files_404s(client, other_client):
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.txt", b"x"), purpose="nonsense")
    assert e.value.body["param"] == "purpose"
    with pytest.raises(openai.BadRequestError) as e:
        client.files.create(file=("a.txt", b"x"), purpose="assistants", expires_after={"anchor": "created_at", "seconds": 5})
    assert e.value.body["param"] == "expires_after[seconds]"
    f = client.files.create(file=("mine.txt", b"secret"), purpose="assistants")
    try:
        with pytest.raises(openai.NotFoundError):
            other_client.files.retrieve(f.id)
        with pytest.raises(openai.NotFoundError):
            other_client.files.content(f.id)
        with pytest.raises(openai.NotFoundError):
            other_client.files.delete(f.id)
        assert f.id not in [x.id for x in other_client.files.list().data]
    finally:
        client.files.delete(f.id)
