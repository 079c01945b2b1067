"""GET /metrics: Prometheus's text format, parsed by the reference parser; it moves as requests
are made, labels routes by template, and never shows an id or a key."""

import io
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from conftest import METRICS_TOKEN


def scrape(http):
    status, headers, body = http.call("GET", "/metrics", key=METRICS_TOKEN)
    assert status == 200, body[:300]
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    return text, families


def value(families, family, **labels):
    f = families.get(family)
    if f is None:
        return 0.0
    return sum(s.value for s in f.samples if s.name.endswith(("_total", "")) and all(s.labels.get(k) == v for k, v in labels.items()) and not s.name.endswith(("_bucket", "_count", "_sum", "_created")))


def test_metrics_need_the_token(http):
    for key in (None, "wrong", http and "vs-not-a-key"):
        status, _, _ = http.call("GET", "/metrics", key=key)
        assert status == 401


def test_metrics_parse_and_move_with_requests(http, server):
    key = server["keys"][0]
    _, before = scrape(http)
    missing = f"vs_{uuid.uuid4().hex}"
    for _ in range(3):
        status, _ = http.json("GET", f"/v1/vector_stores/{missing}", key=key)
        assert status == 404
    status, store = http.json("POST", "/v1/vector_stores", {"name": "metrics"}, key=key)
    assert status == 200
    status, _ = http.json("POST", "/v1/api/index", {"collection": f"m_{uuid.uuid4().hex[:8]}", "documents": [{"id": "d1", "content": "counted once"}]}, key=key)
    assert status == 200
    text, after = scrape(http)

    route = "/v1/vector_stores/{id}"
    delta = value(after, "vector_store_http_requests", route=route, method="GET", status="404") - value(before, "vector_store_http_requests", route=route, method="GET", status="404")
    assert delta == 3
    hist = after["vector_store_http_request_duration_seconds"]
    count = [s for s in hist.samples if s.name.endswith("_count") and s.labels.get("route") == route and s.labels.get("method") == "GET"]
    assert count and count[0].value >= 3
    assert "vector_store_http_requests_in_flight" in after
    # Indexing embedded a text and wrote to a back-end.
    assert value(after, "vector_store_embedding_texts") > value(before, "vector_store_embedding_texts")
    assert value(after, "vector_store_backend_requests") > value(before, "vector_store_backend_requests")
    for gauge in ("vector_store_ingestion_queue_depth", "vector_store_db_pool_connections", "vector_store_db_pool_in_use", "vector_store_db_pool_waiting"):
        assert gauge in after, gauge
    # No id, name or key in any label.
    for secret in (missing, store["id"], key, METRICS_TOKEN):
        assert secret not in text
