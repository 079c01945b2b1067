"""The Vector Stores API through the official OpenAI client, in strict response validation."""

import os
import uuid

import openai
import pytest

DOCS = [
    {"id": "whale", "text": "The blue whale is the largest animal known to have ever lived.", "attributes": {"topic": "science", "year": 2015, "featured": True}},
    {"id": "coffee", "text": "Espresso is brewed by forcing hot water through finely ground coffee.", "attributes": {"topic": "food", "year": 2023, "featured": False}},
    {"id": "chess", "text": "In chess, castling moves the king two squares toward a rook.", "attributes": {"topic": "games", "year": 2016}},
    {"id": "volcano", "text": "Volcanic eruptions eject lava and ash when magma rises.", "attributes": {"topic": "science", "year": 2018, "featured": False}},
    {"id": "tax", "text": "Income tax returns must be filed before the deadline.", "attributes": {"topic": "finance", "year": 2022}},
]


def load(raw, store_id: str) -> None:
    status, body = raw.call("POST", f"/v2/collections/{store_id}/documents", {"documents": DOCS})
    assert status == 200, body


def test_new_stores_go_to_the_back_end_under_test_and_the_extension_picks_another(client, raw):
    expected = os.environ.get("VS_STORAGE_BACKEND", "pgvector")
    default = client.vector_stores.create(name="placement")
    status, body = raw.call("GET", "/v1/api/collection")
    assert status == 200, body
    placed = {c["id"]: c["storage_backend"] for c in body["data"]}
    assert placed[default.id] == expected
    if os.environ.get("ELASTICSEARCH_URL"):
        other = "pgvector" if expected == "elasticsearch" else "elasticsearch"
        chosen = client.vector_stores.create(name="placed", extra_body={"storage_backend": other})
        status, body = raw.call("GET", "/v1/api/collection")
        assert {c["id"]: c["storage_backend"] for c in body["data"]}[chosen.id] == other
        client.vector_stores.delete(chosen.id)
    client.vector_stores.delete(default.id)


def test_create_retrieve_update_delete(client):
    vs = client.vector_stores.create(name="lifecycle", metadata={"owner": "me"}, expires_after={"anchor": "last_active_at", "days": 7})
    assert vs.object == "vector_store"
    assert vs.id.startswith("vs_")
    assert vs.name == "lifecycle"
    assert vs.status == "completed"
    assert vs.metadata == {"owner": "me"}
    assert vs.file_counts.total == 0 and vs.usage_bytes == 0
    assert vs.expires_after.days == 7 and vs.expires_after.anchor == "last_active_at"
    assert vs.expires_at == vs.last_active_at + 7 * 86400

    got = client.vector_stores.retrieve(vs.id)
    assert got.id == vs.id and got.name == "lifecycle"

    upd = client.vector_stores.update(vs.id, name="renamed", metadata={"owner": "you"}, expires_after=None)
    assert upd.name == "renamed" and upd.metadata == {"owner": "you"}
    assert upd.expires_after is None and upd.expires_at is None

    deleted = client.vector_stores.delete(vs.id)
    assert deleted.id == vs.id and deleted.deleted is True and deleted.object == "vector_store.deleted"
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.retrieve(vs.id)
    with pytest.raises(openai.NotFoundError):
        client.vector_stores.delete(vs.id)


def test_list_pages_both_ways(client):
    created = [client.vector_stores.create(name=f"page {i}") for i in range(5)]
    ids = [v.id for v in created]
    try:
        page = client.vector_stores.list(limit=2, order="asc")
        assert len(page.data) == 2 and page.has_more is True
        seen = [v.id for v in client.vector_stores.list(limit=2, order="asc")]  # auto-paginates with `after`
        assert [i for i in seen if i in ids] == ids
        desc = [v.id for v in client.vector_stores.list(limit=3, order="desc")]
        assert [i for i in desc if i in ids] == list(reversed(ids))
        before = client.vector_stores.list(order="asc", before=ids[3], after=ids[0])
        assert [v.id for v in before.data] == ids[1:3]
        first = client.vector_stores.list(limit=1)
        assert first.first_id == first.last_id == first.data[0].id
    finally:
        for v in created:
            client.vector_stores.delete(v.id)


def test_search_on_an_empty_store(client, store):
    page = client.vector_stores.search(store.id, query="anything")
    assert page.data == []
    assert page.search_query == ["anything"]
    assert page.has_more is False


def test_search_ranks_filters_and_limits(client, store, raw):
    load(raw, store.id)
    page = client.vector_stores.search(store.id, query="the biggest creature on earth")
    assert page.data[0].file_id == "whale"
    assert page.data[0].content[0].type == "text"
    assert page.data[0].content[0].text == DOCS[0]["text"]
    assert page.data[0].attributes == {"topic": "science", "year": 2015, "featured": True}
    assert all(0 <= h.score <= 1 for h in page.data)
    assert [h.score for h in page.data] == sorted((h.score for h in page.data), reverse=True)

    assert len(client.vector_stores.search(store.id, query="anything", max_num_results=2).data) == 2

    def ids(**filters):
        return sorted(h.file_id for h in client.vector_stores.search(store.id, query="things", max_num_results=50, **filters).data)

    assert ids(filters={"type": "eq", "key": "topic", "value": "science"}) == ["volcano", "whale"]
    assert ids(filters={"type": "ne", "key": "topic", "value": "science"}) == ["chess", "coffee", "tax"]
    assert ids(filters={"type": "gt", "key": "year", "value": 2018}) == ["coffee", "tax"]
    assert ids(filters={"type": "gte", "key": "year", "value": 2018}) == ["coffee", "tax", "volcano"]
    assert ids(filters={"type": "lt", "key": "year", "value": 2016}) == ["whale"]
    assert ids(filters={"type": "lte", "key": "year", "value": 2016}) == ["chess", "whale"]
    assert ids(filters={"type": "in", "key": "topic", "value": ["games", "finance"]}) == ["chess", "tax"]
    assert ids(filters={"type": "nin", "key": "topic", "value": ["games", "finance"]}) == ["coffee", "volcano", "whale"]
    assert ids(filters={"type": "and", "filters": [
        {"type": "eq", "key": "topic", "value": "science"},
        {"type": "eq", "key": "featured", "value": True},
    ]}) == ["whale"]
    assert ids(filters={"type": "or", "filters": [
        {"type": "eq", "key": "topic", "value": "games"},
        {"type": "and", "filters": [
            {"type": "eq", "key": "featured", "value": False},
            {"type": "gte", "key": "year", "value": 2020},
        ]},
    ]}) == ["chess", "coffee"]


def test_score_threshold_and_query_lists(client, store, raw):
    load(raw, store.id)
    everything = client.vector_stores.search(store.id, query="blue whale", max_num_results=50)
    cut = everything.data[1].score
    kept = client.vector_stores.search(store.id, query="blue whale", max_num_results=50, ranking_options={"ranker": "auto", "score_threshold": cut})
    assert 0 < len(kept.data) < len(everything.data)
    assert all(h.score >= cut for h in kept.data)
    both = client.vector_stores.search(store.id, query=["blue whale", "castling in chess"], max_num_results=2)
    assert sorted(h.file_id for h in both.data) == ["chess", "whale"]
    assert both.search_query == ["blue whale", "castling in chess"]


def test_search_modes_extension(client, store, raw):
    load(raw, store.id)
    kw = client.vector_stores.search(store.id, query="espresso", extra_body={"search_mode": "keyword"})
    assert [h.file_id for h in kw.data] == ["coffee"]
    hy = client.vector_stores.search(store.id, query="castling rook", extra_body={"search_mode": "hybrid"})
    assert hy.data[0].file_id == "chess"


def test_hybrid_weights_in_ranking_options(client, store, raw):
    load(raw, store.id)

    def order(mode, **ranking):
        hits = client.vector_stores.search(store.id, query="espresso beans", max_num_results=50, ranking_options=ranking or openai.NOT_GIVEN, extra_body={"search_mode": mode})
        return [h.file_id for h in hits.data]

    # One ranking alone gives that ranking's order; the keyword hits come first when it is theirs.
    assert order("hybrid", hybrid_search={"embedding_weight": 1, "text_weight": 0}) == order("vector")
    keyword = order("keyword")
    assert order("hybrid", hybrid_search={"embedding_weight": 0, "text_weight": 1})[: len(keyword)] == keyword
    with pytest.raises(openai.BadRequestError) as e:
        order("hybrid", hybrid_search={"embedding_weight": 0, "text_weight": 0})
    assert e.value.body["param"] == "ranking_options.hybrid_search"


def test_other_tenants_see_nothing(client, other_client, store):
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.retrieve(store.id)
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.search(store.id, query="x")
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.update(store.id, name="mine now")
    with pytest.raises(openai.NotFoundError):
        other_client.vector_stores.delete(store.id)
    assert store.id not in [v.id for v in other_client.vector_stores.list()]
    assert client.vector_stores.retrieve(store.id).name == store.name


def test_errors_use_the_sdk_exception_classes(client, server, store):
    bad = openai.OpenAI(base_url=f"{server['base']}/v1", api_key="vsk_wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.vector_stores.list()
    with pytest.raises(openai.NotFoundError) as e:
        client.vector_stores.retrieve("vs_does_not_exist")
    assert e.value.body["code"] == "not_found"
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.search(store.id, query="x", max_num_results=51)
    assert e.value.body["param"] == "max_num_results"
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.search(store.id, query="x", filters={"type": "like", "key": "a", "value": "b"})
    assert e.value.body["param"] == "filters"
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.search(store.id, query="x", ranking_options={"score_threshold": 2})
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.create(metadata={"k": "v" * 513})
    assert e.value.body["param"] == "metadata"
    with pytest.raises(openai.BadRequestError):
        client.vector_stores.create(expires_after={"anchor": "last_active_at", "days": 0})
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.create(extra_body={"storage_backend": "nowhere"})
    assert e.value.body["param"] == "storage_backend"
    with pytest.raises(openai.BadRequestError) as e:
        client.vector_stores.list(limit=101)
    assert e.value.body["param"] == "limit"


def test_a_vector_store_is_a_platform_collection(client, raw, store):
    status, body = raw.call("GET", "/v1/api/collection")
    assert status == 200
    assert store.id in [c["collection"] for c in body["data"]]
    load(raw, store.id)
    assert client.vector_stores.retrieve(store.id).usage_bytes == sum(len(d["text"].encode()) for d in DOCS)


def test_every_response_has_a_request_id(client, store):
    raw = client.vector_stores.with_raw_response.retrieve(store.id)
    assert raw.headers.get("x-request-id", "").startswith("req_")


def test_what_other_surfaces_create_validates_in_the_strict_client(client, raw):
    """Collections made through the platform and the raw API are listed and read by the official
    client in strict mode; metadata of other types than strings is refused on those surfaces."""
    name = f"c{uuid.uuid4().hex[:10]}"
    status, body = raw.call("POST", "/v1/api/collection", {"collection": name, "model_name": "all-minilm-l6-v2", "metadata": {"n": 1, "b": True}})
    assert status == 400 and body["error"]["param"] == "metadata", body
    status, body = raw.call("POST", "/v1/api/collection", {"collection": name, "model_name": "all-minilm-l6-v2", "metadata": {"n": "1"}})
    assert status == 200, body
    status, body = raw.call("POST", "/v2/collections", {"collection": name + "r", "dimension": 3, "metadata": {"b": False}})
    assert status == 400, body
    status, body = raw.call("POST", "/v2/collections", {"collection": name + "r", "dimension": 3, "metadata": {"team": "x"}})
    assert status in (200, 201), body
    ids = [vs.id for vs in client.vector_stores.list(limit=100)]
    assert len(ids) >= 2
    for vs_id in ids:
        client.vector_stores.retrieve(vs_id)
