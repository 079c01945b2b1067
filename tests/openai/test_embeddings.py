"""`POST /v1/embeddings` through the official OpenAI client, in strict response validation: every
input shape, both encodings, the store's own models (a query embedded here finds what the
store finds), and the refusals."""

import base64
import struct

import openai
import pytest

from test_vector_stores import load

MODEL = "all-minilm-l6-v2"


def norm(v):
    return sum(x * x for x in v) ** 0.5


def test_one_text_in_the_clients_default_encoding(server):
    # The client asks for base64 unless told otherwise and decodes it to floats after its
    # validation, so a client with strict response validation refuses OpenAI's own answers
    # here: this one is as users make it.
    client = openai.OpenAI(base_url=f"{server['base']}/v1", api_key=server["keys"][0], max_retries=0)
    r = client.embeddings.create(model=MODEL, input="The blue whale is the largest animal.")
    assert r.object == "list" and r.model == MODEL
    assert len(r.data) == 1 and r.data[0].index == 0 and r.data[0].object == "embedding"
    v = r.data[0].embedding
    assert len(v) == 384 and abs(norm(v) - 1.0) < 1e-3
    assert r.usage.prompt_tokens == r.usage.total_tokens > 0


def test_texts_and_token_arrays_in_order_and_both_encodings(client):
    texts = ["Hello world", "Espresso is brewed from coffee.", "castling in chess"]
    floats = client.embeddings.create(model=MODEL, input=texts, encoding_format="float")
    assert [d.index for d in floats.data] == [0, 1, 2]
    assert len({tuple(d.embedding) for d in floats.data}) == 3

    raw = client.embeddings.with_raw_response.create(model=MODEL, input=texts, encoding_format="base64")
    body = raw.http_response.json()
    for d, f in zip(body["data"], floats.data):
        packed = base64.b64decode(d["embedding"])
        assert list(struct.unpack(f"<{len(packed) // 4}f", packed)) == pytest.approx(f.embedding, abs=1e-6)

    # "Hello world" in cl100k_base is [9906, 1917]: the same vector as the text.
    tokens = client.embeddings.create(model=MODEL, input=[[9906, 1917]], encoding_format="float")
    assert tokens.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-5)
    assert tokens.usage.prompt_tokens == 2
    one = client.embeddings.create(model=MODEL, input=[9906, 1917], encoding_format="float")
    assert one.data[0].embedding == pytest.approx(floats.data[0].embedding, abs=1e-5)


def test_every_configured_model_and_its_own_dimension(client):
    r = client.embeddings.create(model="potion-base-8m", input=["a", "b"], dimensions=256, encoding_format="float")
    assert [len(d.embedding) for d in r.data] == [256, 256]
    r = client.embeddings.create(model=MODEL, input="a", dimensions=384, encoding_format="float")
    assert len(r.data[0].embedding) == 384


def test_a_query_embedded_here_finds_what_the_store_finds(client, raw, store):
    load(raw, store.id)
    query = "how big are whales"
    status, by_text = raw.call("POST", f"/v2/collections/{store.id}/search", {"text": query, "k": 5})
    assert status == 200, by_text
    vector = client.embeddings.create(model=MODEL, input=query, encoding_format="float").data[0].embedding
    status, by_vector = raw.call("POST", f"/v2/collections/{store.id}/search", {"vector": vector, "k": 5})
    assert status == 200, by_vector
    assert [h["id"] for h in by_vector["data"]] == [h["id"] for h in by_text["data"]]
    assert [h["score"] for h in by_vector["data"]] == pytest.approx([h["score"] for h in by_text["data"]], abs=1e-4)


@pytest.mark.parametrize(
    "kwargs, param",
    [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["fine", ""]}, "input"),
        ({"input": "x", "dimensions": 128}, "dimensions"),
        ({"input": "x", "dimensions": 0}, "dimensions"),
        ({"input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"input": [[4294967295]]}, "input[0]"),
        ({"input": [4294967295]}, "input"),
        ({"input": ["x"] * 2049}, "input"),
        ({"input": ["word " * 2000] * 5}, "input"),
    ],
)
def test_bad_requests_are_400_with_the_field(client, kwargs, param):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL, **kwargs)
    assert e.value.body["param"] == param, e.value.body


def test_an_input_over_the_models_limit_is_refused_by_its_place(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL, input=["short", "word " * 2000])
    assert e.value.body["param"] == "input[1]", e.value.body
    assert "tokens" in e.value.body["message"]
    # One input alone is named as the whole input.
    with pytest.raises(openai.BadRequestError) as e:
        client.embeddings.create(model=MODEL, input="word " * 2000)
    assert e.value.body["param"] == "input", e.value.body
    assert e.value.body["message"].startswith("the input is"), e.value.body


def test_a_token_array_cut_inside_a_character_is_embedded(client):
    # "ok 𓀀" without the last of the hieroglyph's four byte tokens, as a client cutting short.
    r = client.embeddings.create(model=MODEL, input=[[564, 220, 172, 241, 222]], encoding_format="float")
    assert len(r.data[0].embedding) == 384 and r.usage.prompt_tokens == 5


def test_an_unknown_model_is_not_found_and_a_missing_key_unauthorised(client, server):
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="text-embedding-3-small", input="x")
    anonymous = openai.OpenAI(base_url=f"{server['base']}/v1", api_key="not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        anonymous.embeddings.create(model=MODEL, input="x")
