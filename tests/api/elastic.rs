//! The Elasticsearch back-end through the service: collections placed on it by name, side by side
//! with pgvector ones, and an unreachable cluster. Needs `ELASTICSEARCH_URL` (`make test` sets it).

use e2e_tests::{
    Proxy, assert_envelope, elasticsearch_url, spawn_app, spawn_app_with, test_settings,
};
use serde_json::json;

fn es_url() -> String {
    elasticsearch_url().expect(
        "ELASTICSEARCH_URL is not set: run `make test`, or `scripts/services.sh up es` and `eval \
         \"$(scripts/services.sh env)\"`",
    )
}

#[tokio::test]
async fn collections_on_both_back_ends_live_side_by_side() {
    es_url();
    let app = spawn_app().await;
    for (name, backend) in [("on_pg", "pgvector"), ("on_es", "elasticsearch")] {
        let r = app
            .call(
                "POST",
                "/v1/api/collection",
                Some(json!({
                    "collection": name,
                    "model_name": "all-minilm-l6-v2",
                    "storage_backend": backend
                })),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["storage_backend"], backend);
        let r = app
            .call(
                "POST",
                "/v1/api/index",
                Some(json!({"collection": name, "documents": [
                    {
                        "id": "cake",
                        "content": "A recipe for chocolate cake with butter and sugar",
                        "metadata": {"kind": "food"}
                    },
                    {
                        "id": "rust",
                        "content": "The Rust compiler checks ownership and borrowing",
                        "metadata": {"kind": "code"}
                    }
                ]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let list = app.call("GET", "/v1/api/collection", None).await;
    let placed: Vec<(String, String)> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["collection"].as_str().unwrap().to_string(),
                c["storage_backend"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        placed.contains(&("on_es".into(), "elasticsearch".into())),
        "{placed:?}"
    );
    assert!(
        placed.contains(&("on_pg".into(), "pgvector".into())),
        "{placed:?}"
    );

    // The same question gets the same answer, with the same kind of score, on both.
    let mut firsts = Vec::new();
    for name in ["on_pg", "on_es"] {
        for search_type in ["semantic", "full_text", "hybrid"] {
            let r = app
                .call(
                    "POST",
                    "/v1/api/search",
                    Some(
                        json!({"collection": name, "query": "how do I bake a chocolate cake",
                                "search_type": search_type,
                                "filters": {"type": "ne", "key": "kind", "value": "code"}}),
                    ),
                )
                .await;
            assert_eq!(r.status, 200, "{name} {search_type}: {}", r.body);
            let hits = r.body["data"].as_array().unwrap();
            assert_eq!(hits.len(), 1, "{name} {search_type}: {}", r.body);
            let score = hits[0]["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score), "{score}");
            firsts.push(hits[0]["file_id"].as_str().unwrap().to_string());
        }
    }
    assert!(firsts.iter().all(|id| id == "cake"), "{firsts:?}");

    // An OpenAI vector store placed on Elasticsearch through the extension field.
    let r = app
        .call(
            "POST",
            "/v1/vector_stores",
            Some(json!({"name": "es store", "storage_backend": "elasticsearch"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    let list = app.call("GET", "/v1/api/collection", None).await;
    let on_es = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id.as_str())
        .expect("the vector store is a collection")["storage_backend"]
        .clone();
    assert_eq!(on_es, "elasticsearch");
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{id}/search"),
            Some(json!({"query": "cake"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"], json!([]));
    let r = app
        .call("DELETE", &format!("/v1/vector_stores/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn while_the_cluster_is_unreachable_ready_and_its_collections_are_503_and_then_recover() {
    let (proxy, via_proxy) = Proxy::in_front_of(&es_url(), 9200).await;
    let mut settings = test_settings();
    settings.storage.elasticsearch["url"] = json!(via_proxy);
    settings.storage.elasticsearch["retries"] = json!(1);
    settings.storage.elasticsearch["timeout_secs"] = json!(5);
    // Workers share one queue across the test apps: this app's, with its cluster cut off, would
    // fail other tests' jobs for passing reasons.
    settings.ingest.workers = 0;
    let app = spawn_app_with(settings).await;
    let index = |content: &str| {
        json!({"collection": "es_c", "storage_backend": "elasticsearch",
               "documents": [{"id": "d", "content": content}]})
    };
    let r = app
        .call("POST", "/v1/api/index", Some(index("kept safe")))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    proxy.cut();
    let r = app.send(app.client.get(app.url("/ready"))).await;
    assert_envelope(&r, 503);
    let r = app.send(app.client.get(app.url("/health"))).await;
    assert_eq!(r.status, 200, "liveness does not depend on the cluster");
    let r = app
        .call(
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "es_c", "query": "safe"})),
        )
        .await;
    let e = assert_envelope(&r, 503);
    assert_eq!(e["type"], "server_error");
    assert!(r.headers.get("retry-after").is_some());
    let r = app
        .call("POST", "/v1/api/index", Some(index("lost?")))
        .await;
    assert_envelope(&r, 503);

    proxy.restore();
    assert_eq!(
        app.wait_until_ready().await,
        200,
        "the service recovers by itself"
    );
    let r = app
        .call("GET", "/v1/api/collection/data?collection=es_c", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["data"][0]["content"], "kept safe",
        "the refused write changed nothing"
    );
}

/// A server that answers every request with `root` (200, as an Elasticsearch node would).
async fn canned_cluster(root: serde_json::Value) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = root.to_string();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: \
                 Elasticsearch\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
                body.len()
            );
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_cluster_the_back_end_cannot_use_stops_the_start_in_one_line() {
    let elasticsearch = |number: &str| {
        json!({"version": {"number": number, "build_flavor": "default"},
               "tagline": "You Know, for Search"})
    };
    let opensearch = json!({"version": {"distribution": "opensearch", "number": "2.17.0"},
                            "tagline": "The OpenSearch Project: https://opensearch.org/"});
    let cases = [
        (elasticsearch("7.17.24"), "Elasticsearch 7.17.24"),
        (elasticsearch("8.3.3"), "Elasticsearch 8.3.3"),
        (opensearch, "opensearch 2.17.0, not Elasticsearch"),
    ];
    for (root, expected) in cases {
        let mut settings = test_settings();
        settings.storage.elasticsearch = json!({"url": canned_cluster(root).await});
        settings.storage.default_backend = "pgvector".into();
        let embedders = vector_store_server::embedders(&settings)
            .await
            .expect("the built-in model loads");
        let Err(e) = vector_store_server::state(&settings, embedders).await else {
            panic!("a service started on an unusable cluster ({expected})");
        };
        let line = format!("{e:#}");
        assert!(
            line.contains(expected) && line.contains("needs Elasticsearch 8.4 or later"),
            "{line}"
        );
        assert!(!line.contains('\n'), "{line}");
    }
}
