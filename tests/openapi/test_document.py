"""The OpenAPI document: valid 3.1, every operation described with its errors, and the OpenAI
objects in it what the official client parses."""

import re
import typing

import openai.types as ot
import openai.types.uploads  # noqa: F401 (ot.uploads)
import openai.types.vector_stores as ovs
import pydantic
import pytest
from openapi_spec_validator import validate

METHODS = ("get", "post", "put", "patch", "delete")


def operations(doc):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        parts = node["$ref"].removeprefix("#/").split("/")
        node = doc
        for p in parts:
            node = node[p]
    return node


def test_the_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_every_ref_resolves(document):
    def walk(node):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "$ref":
                    resolve(document, node)
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(document)


def test_every_operation_has_a_summary_a_tag_an_id_a_success_and_its_errors(document):
    ids = set()
    for path, method, op in operations(document):
        where = f"{method.upper()} {path}"
        assert op.get("summary"), where
        assert op.get("tags"), where
        assert op["operationId"] not in ids, where
        ids.add(op["operationId"])
        codes = set(op["responses"])
        assert any(c.startswith("2") for c in codes), where
        public = op.get("security") == [{}]
        if not public and not path.startswith("/metrics"):
            assert {"401", "429", "500", "503"} <= codes, where
        if "requestBody" in op or any(p["in"] == "query" for p in op.get("parameters", [])):
            assert "400" in codes, where
        if "{" in path:
            assert "404" in codes, where
        for code, response in op["responses"].items():
            if not code.startswith("2"):
                schema = resolve(document, resolve(document, response)["content"]["application/json"]["schema"])
                assert set(schema["required"]) == {"error"}, where
    assert len(ids) >= 40


def test_the_surfaces_have_their_tags_and_the_keys_their_schemes(document):
    tags = {op["tags"][0] for _, _, op in operations(document)}
    assert "VECTOR_STORE" in tags
    platform = {p for p, _, op in operations(document) if op["tags"] == ["VECTOR_STORE"]}
    assert platform and all(p.startswith("/v1/api/") for p in platform)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": schemes["bearer"]["description"]}
    assert schemes["x-base-api-key"]["in"] == "header" and schemes["x-base-api-key"]["name"] == "x-base-api-key"
    assert {"bearer": []} in document["security"] and {"x-base-api-key": []} in document["security"]


def test_the_error_envelope_is_one_named_schema(document):
    refs = set()
    for _, _, op in operations(document):
        for code, response in op["responses"].items():
            if not code.startswith("2"):
                refs.add(resolve(document, response)["content"]["application/json"]["schema"]["$ref"])
    assert len(refs) == 1, refs
    envelope = resolve(document, {"$ref": refs.pop()})
    body = resolve(document, envelope["properties"]["error"])
    assert set(body["properties"]) == {"message", "type", "param", "code"}


def success_schema(doc, operation_id):
    for _, _, op in operations(doc):
        if op["operationId"] == operation_id:
            ok = next(v for k, v in op["responses"].items() if k.startswith("2"))
            return resolve(doc, resolve(doc, ok)["content"]["application/json"]["schema"])
    raise KeyError(operation_id)


def list_item_schema(doc, operation_id):
    page = success_schema(doc, operation_id)
    return resolve(doc, page["properties"]["data"]["items"])


def json_types(schema, doc):
    """The JSON types a schema allows (through oneOf/anyOf and refs)."""
    schema = resolve(doc, schema)
    found = set()
    for key in ("oneOf", "anyOf"):
        for s in schema.get(key, []):
            found |= json_types(s, doc)
    t = schema.get("type")
    if isinstance(t, list):
        found |= set(t)
    elif t:
        found.add(t)
    if "const" in schema or "enum" in schema:
        found.add("string" if all(isinstance(v, str) for v in schema.get("enum", [schema.get("const")])) else "any")
    if not found:
        found.add("any")
    return found


def python_types(annotation):
    """The JSON types a pydantic field annotation accepts."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", typing.Union)):
        out = set()
        for a in typing.get_args(annotation):
            out |= python_types(a)
        return out
    if origin is typing.Literal:
        return {"string"} if all(isinstance(a, str) for a in typing.get_args(annotation)) else {"any"}
    if origin in (list, typing.List):
        return {"array"}
    if origin in (dict, typing.Dict):
        return {"object"}
    if annotation is type(None):
        return {"null"}
    if annotation is str:
        return {"string"}
    if annotation is bool:
        return {"boolean"}
    if annotation is int:
        return {"integer"}
    if annotation is float:
        return {"number", "integer"}
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        return {"object"}
    return {"any"}


OPENAI_OBJECTS = [
    ("getVectorStore", None, ot.VectorStore),
    ("deleteVectorStore", None, ot.VectorStoreDeleted),
    ("getVectorStoreFile", None, ovs.VectorStoreFile),
    ("deleteVectorStoreFile", None, ovs.VectorStoreFileDeleted),
    ("getVectorStoreFileBatch", None, ovs.VectorStoreFileBatch),
    ("retrieveFile", None, ot.FileObject),
    ("deleteFile", None, ot.FileDeleted),
    ("listVectorStores", "item", ot.VectorStore),
    ("searchVectorStore", "item", ot.VectorStoreSearchResponse),
    ("retrieveVectorStoreFileContent", "item", ovs.FileContentResponse),
    ("createEmbedding", None, ot.CreateEmbeddingResponse),
    ("createUpload", None, ot.Upload),
    ("addUploadPart", None, ot.uploads.UploadPart),
    ("completeUpload", None, ot.Upload),
    ("cancelUpload", None, ot.Upload),
]


@pytest.mark.parametrize("operation_id,part,model", OPENAI_OBJECTS, ids=[o[0] + (f"[{o[1]}]" if o[1] else "") for o in OPENAI_OBJECTS])
def test_openai_objects_have_the_official_clients_fields(document, operation_id, part, model):
    schema = list_item_schema(document, operation_id) if part else success_schema(document, operation_id)
    props = schema.get("properties", {})
    required = set(schema.get("required", []))
    for name, field in model.model_fields.items():
        key = field.alias or name
        if field.is_required():
            assert key in required, f"{operation_id}: the client needs '{key}'"
        if key not in props:
            continue
        ours = json_types(props[key], document)
        theirs = python_types(field.annotation)
        if "any" in ours or "any" in theirs:
            continue
        allowed = theirs | ({"integer"} if "number" in theirs else set())
        assert ours - {"null"} <= allowed, f"{operation_id}.{key}: the document allows {ours}, the client parses {theirs}"
        if "null" in ours:
            assert "null" in theirs or not field.is_required(), f"{operation_id}.{key} may be null"


def test_every_documented_path_is_routed(http, document):
    """The other direction of the route check in api-http: each documented operation reaches a
    handler (any answer but an unknown URL), and a method not documented on a path is 405."""
    for path, item in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method in METHODS:
            status, _, body = http.call(method.upper(), concrete, key="not-a-key")
            if method in item:
                assert status != 405 and b"Unknown request URL" not in body, f"{method} {path}: {status} {body[:200]}"
            else:
                assert status == 405, f"{method} {path} is not documented but answers {status}"
