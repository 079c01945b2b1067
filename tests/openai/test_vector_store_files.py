"""Files attached to vector stores, ingestion, batches: through the official client, including
its polling helpers."""

import io

import openai
import pytest

WHALE = "The blue whale is the largest animal known to have ever lived. It eats krill.\n"
CHESS = "In chess, castling moves the king two squares toward a rook.\n"


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF in the standard Helvetica font, with correct xref offsets."""
    content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        f"<< /Length {len(content)} >>\nstream\n{content}\nendstream",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf = b"%PDF-1.4\n"
    offsets = []
    for i, body in enumerate(objects):
        offsets.append(len(pdf))
        pdf += f"{i + 1} 0 obj\n{body}\nendobj\n".encode()
    xref = len(pdf)
    pdf += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for o in offsets:
        pdf += f"{o:010} 00000 n \n".encode()
    pdf += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return pdf


def upload(client, name: str, data: bytes):
    return client.files.create(file=(name, data), purpose="assistants")


def test_upload_and_poll_ingests_and_searches(client, store):
    vsf = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("whale.md", io.BytesIO(("# Whales\n\n" + WHALE).encode())))
    assert vsf.object == "vector_store.file"
    assert vsf.status == "completed", vsf.last_error
    assert vsf.vector_store_id == store.id and vsf.usage_bytes > 0
    assert vsf.chunking_strategy.type == "static"
    page = client.vector_stores.search(store.id, query="what do whales eat")
    assert page.data[0].file_id == vsf.id and page.data[0].filename == "whale.md"
    vs = client.vector_stores.retrieve(store.id)
    assert vs.file_counts.completed == 1 and vs.file_counts.total == 1 and vs.status == "completed"
    content = client.vector_stores.files.content(file_id=vsf.id, vector_store_id=store.id)
    assert "".join(part.text for part in content) == "# Whales\n\n" + WHALE


def test_attributes_filter_search_and_can_be_updated(client, store):
    a = upload(client, "whale.txt", WHALE.encode())
    b = upload(client, "chess.txt", CHESS.encode())
    client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=a.id, attributes={"kind": "animal", "rank": 1})
    client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=b.id, attributes={"kind": "game", "rank": 2})
    hits = client.vector_stores.search(store.id, query="anything", filters={"type": "eq", "key": "kind", "value": "game"})
    assert [h.file_id for h in hits.data] == [b.id]
    assert hits.data[0].attributes == {"kind": "game", "rank": 2}
    # Updated in place, as OpenAI does: the file stays completed and its chunks match at once.
    updated = client.vector_stores.files.update(vector_store_id=store.id, file_id=b.id, attributes={"kind": "animal"})
    assert updated.status == "completed"
    assert updated.attributes == {"kind": "animal"}
    hits = client.vector_stores.search(store.id, query="anything", filters={"type": "eq", "key": "kind", "value": "animal"})
    assert sorted(h.file_id for h in hits.data) == sorted([a.id, b.id])
    listed = client.vector_stores.files.list(vector_store_id=store.id, filter="completed")
    assert sorted(f.id for f in listed.data) == sorted([a.id, b.id])


def test_unsupported_and_invalid_files_fail_without_blocking_others(client, store):
    good = upload(client, "ok.txt", CHESS.encode())
    bad = upload(client, "image.png", b"\x89PNG\r\n\x1a\nxxxx")
    broken = upload(client, "broken.pdf", b"%PDF-1.4 this is not a pdf")
    batch = client.vector_stores.file_batches.create_and_poll(vector_store_id=store.id, file_ids=[bad.id, good.id, broken.id])
    assert batch.object == "vector_store.files_batch"
    assert batch.file_counts.completed == 1 and batch.file_counts.failed == 2 and batch.file_counts.total == 3
    assert batch.status == "completed"
    f = client.vector_stores.files.retrieve(vector_store_id=store.id, file_id=bad.id)
    assert f.status == "failed" and f.last_error.code == "unsupported_file"
    f = client.vector_stores.files.retrieve(vector_store_id=store.id, file_id=broken.id)
    assert f.status == "failed" and f.last_error.code == "invalid_file"
    failed = client.vector_stores.file_batches.list_files(vector_store_id=store.id, batch_id=batch.id, filter="failed")
    assert sorted(x.id for x in failed.data) == sorted([bad.id, broken.id])
    assert client.vector_stores.search(store.id, query="castling").data[0].file_id == good.id


def test_batches_upload_and_poll_many_formats(client, store):
    files = [
        ("a.html", b"<html><body><h1>Volcanoes</h1><p>Magma rises and erupts as lava.</p></body></html>"),
        ("b.json", b'{"topic": "tax", "text": "Income tax returns are due in April."}'),
        ("c.csv", b"city,landmark\nParis,Eiffel Tower\n"),
        ("d.py", b"def castle(king, rook):\n    return 'castling'\n"),
        ("e.pdf", tiny_pdf("Photosynthesis turns sunlight into sugar in plant leaves")),
    ]
    batch = client.vector_stores.file_batches.upload_and_poll(vector_store_id=store.id, files=[(n, io.BytesIO(d)) for n, d in files])
    assert batch.file_counts.completed == 5, batch
    page = client.vector_stores.search(store.id, query="lava eruption")
    assert page.data[0].filename == "a.html"
    assert "<h1>" not in page.data[0].content[0].text
    assert client.vector_stores.search(store.id, query="Eiffel Tower").data[0].filename == "c.csv"
    assert client.vector_stores.search(store.id, query="how do plants use light").data[0].filename == "e.pdf"


def test_detaching_removes_chunks_but_keeps_the_file(client, store):
    f = upload(client, "w.txt", WHALE.encode())
    client.vector_stores.files.create_and_poll(vector_store_id=store.id, file_id=f.id)
    deleted = client.vector_stores.files.delete(vector_store_id=store.id, file_id=f.id)
    assert deleted.deleted is True and deleted.object == "vector_store.file.deleted"
    assert client.vector_stores.search(store.id, query="whale").data == []
    assert client.files.retrieve(f.id).id == f.id
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(vector_store_id=store.id, file_id=f.id)


def test_cancel_stops_pending_files(client, store):
    ids = [upload(client, f"f{i}.txt", (CHESS * 20).encode()).id for i in range(30)]
    batch = client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=ids)
    cancelled = client.vector_stores.file_batches.cancel(vector_store_id=store.id, batch_id=batch.id)
    assert cancelled.status == "cancelled"
    final = client.vector_stores.file_batches.poll(vector_store_id=store.id, batch_id=batch.id)
    assert final.status == "cancelled"
    c = final.file_counts
    assert c.cancelled >= 1 and c.in_progress == 0 and c.cancelled + c.completed == 30


def test_attach_errors(client, other_client, store):
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.files.create(vector_store_id=store.id, file_id="file-nope")
    assert e.value.body["param"] == "file_id"
    f = upload(client, "x.txt", b"hello there")
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.files.create(vector_store_id=store.id, file_id=f.id, chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 50, "chunk_overlap_tokens": 0}})
    assert e.value.body["param"] == "chunking_strategy"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.files.create(vector_store_id=store.id, file_id=f.id, chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 150, "chunk_overlap_tokens": 100}})
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.files.create(vector_store_id=store.id, file_id=f.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.files.retrieve(vector_store_id=store.id, file_id=f.id)
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.file_batches.create(vector_store_id=store.id, file_ids=[f.id, f.id])
    assert e.value.body["param"] == "file_ids[1]"


def test_text_that_splits_into_many_word_pieces_still_ingests(client, store):
    # Shell commands, JSON and URLs make far more word pieces per cl100k token than prose.
    line = "curl -s localhost:8080/v1/api/search -H 'content-type: application/json' -d '{\"collection\": \"recipes\", \"query\": \"tomato\"}' https://example.org/a/b?c=d&e=f\n"
    vsf = client.vector_stores.files.upload_and_poll(vector_store_id=store.id, file=("commands.sh", io.BytesIO((line * 40).encode())))
    assert vsf.status == "completed", vsf.last_error
    assert client.vector_stores.search(store.id, query="curl search request").data
