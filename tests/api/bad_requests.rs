//! A table of bad requests: each gets the error envelope and the right status, and the data
//! already stored is intact afterwards.

use e2e_tests::{TestApp, assert_envelope, spawn_app};
use serde_json::{Value, json};

use crate::platform::seed;

enum Body {
    None,
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

struct Case {
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Body,
    status: u16,
    param: Option<&'static str>,
}

fn case(
    name: &'static str,
    method: &'static str,
    path: &'static str,
    body: Value,
    status: u16,
    param: Option<&'static str>,
) -> Case {
    Case {
        name,
        method,
        path,
        body: Body::Json(body),
        status,
        param,
    }
}

fn cases() -> Vec<Case> {
    let search = "/v1/api/search";
    let index = "/v1/api/index";
    let long_text = "word ".repeat(400);
    vec![
        Case {
            name: "malformed JSON",
            method: "POST",
            path: search,
            body: Body::Raw("application/json", b"{\"collection\": \"docs\",".to_vec()),
            status: 400,
            param: None,
        },
        Case {
            name: "wrong content type",
            method: "POST",
            path: search,
            body: Body::Raw(
                "text/plain",
                b"{\"collection\":\"docs\",\"query\":\"x\"}".to_vec(),
            ),
            status: 400,
            param: None,
        },
        Case {
            name: "empty body",
            method: "POST",
            path: search,
            body: Body::Raw("application/json", Vec::new()),
            status: 400,
            param: None,
        },
        Case {
            name: "JSON array instead of object",
            method: "POST",
            path: search,
            body: Body::Raw("application/json", b"[1,2]".to_vec()),
            status: 400,
            param: None,
        },
        Case {
            name: "body over the limit",
            method: "POST",
            path: index,
            body: Body::Raw("application/json", vec![b' '; 2 * 1024 * 1024]),
            status: 413,
            param: None,
        },
        Case {
            name: "unknown route",
            method: "GET",
            path: "/v1/api/nope",
            body: Body::None,
            status: 404,
            param: None,
        },
        Case {
            name: "wrong method",
            method: "PUT",
            path: search,
            body: Body::None,
            status: 405,
            param: None,
        },
        case(
            "missing query",
            "POST",
            search,
            json!({"collection": "docs"}),
            400,
            None,
        ),
        case(
            "blank query",
            "POST",
            search,
            json!({"collection": "docs", "query": "   "}),
            400,
            Some("query"),
        ),
        case(
            "query of the wrong type",
            "POST",
            search,
            json!({"collection": "docs", "query": 42}),
            400,
            Some("query"),
        ),
        case(
            "max_num_results 0",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "max_num_results": 0}),
            400,
            Some("max_num_results"),
        ),
        case(
            "max_num_results 51",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "max_num_results": 51}),
            400,
            Some("max_num_results"),
        ),
        case(
            "max_num_results a string",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "max_num_results": "5"}),
            400,
            Some("max_num_results"),
        ),
        case(
            "score_threshold above 1",
            "POST",
            search,
            json!({
                "collection": "docs",
                "query": "x",
                "ranking_options": {"score_threshold": 1.5}
            }),
            400,
            Some("ranking_options.score_threshold"),
        ),
        case(
            "unknown ranker",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "ranking_options": {"ranker": "magic"}}),
            400,
            Some("ranking_options.ranker"),
        ),
        case(
            "unknown search_type",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "search_type": "fuzzy"}),
            400,
            Some("search_type"),
        ),
        case(
            "unknown filter operator",
            "POST",
            search,
            json!({
                "collection": "docs",
                "query": "x",
                "filters": {"type": "like", "key": "a", "value": "b"}
            }),
            400,
            Some("filters"),
        ),
        case(
            "filter value of the wrong type",
            "POST",
            search,
            json!({
                "collection": "docs",
                "query": "x",
                "filters": {"type": "in", "key": "a", "value": "b"}
            }),
            400,
            Some("filters"),
        ),
        case(
            "unknown field",
            "POST",
            search,
            json!({"collection": "docs", "query": "x", "top_k": 3}),
            400,
            None,
        ),
        case(
            "unknown collection",
            "POST",
            search,
            json!({"collection": "nosuch", "query": "x"}),
            404,
            None,
        ),
        case(
            "bad collection name",
            "POST",
            search,
            json!({"collection": "Bad-Name", "query": "x"}),
            400,
            Some("collection"),
        ),
        case(
            "other back-end named",
            "POST",
            search,
            json!({
                "collection": "docs",
                "query": "x",
                "storage_backend": e2e_tests::other_backend()
            }),
            400,
            Some("storage_backend"),
        ),
        case(
            "unknown model",
            "POST",
            "/v1/api/collection",
            json!({"collection": "other", "model_name": "no-such-model"}),
            400,
            Some("model_name"),
        ),
        case(
            "duplicate collection",
            "POST",
            "/v1/api/collection",
            json!({"collection": "docs", "model_name": "all-minilm-l6-v2"}),
            409,
            None,
        ),
        case(
            "expires_after of 0 days",
            "POST",
            "/v1/api/collection",
            json!({
                "collection": "exp",
                "model_name": "all-minilm-l6-v2",
                "expires_after": {"anchor": "last_active_at", "days": 0}
            }),
            400,
            Some("expires_after.days"),
        ),
        case(
            "seventeen metadata keys",
            "POST",
            "/v1/api/collection",
            json!({
                "collection": "meta",
                "model_name": "all-minilm-l6-v2",
                "metadata": (0..17).map(|i| (
                    format!("k{i}"),
                    json!("v")
                )).collect::<serde_json::Map<_,
                _>>()
            }),
            400,
            Some("metadata"),
        ),
        case(
            "no documents",
            "POST",
            index,
            json!({"collection": "docs", "documents": []}),
            400,
            Some("documents"),
        ),
        case(
            "blank document",
            "POST",
            index,
            json!({"collection": "docs", "documents": [{"content": "ok"}, {"content": ""}]}),
            400,
            Some("documents[1].content"),
        ),
        case(
            "document over the token limit",
            "POST",
            index,
            json!({"collection": "docs", "documents": [{"id": "long", "content": long_text}]}),
            400,
            Some("documents[0].content"),
        ),
        case(
            "metadata value too long",
            "POST",
            index,
            json!({
                "collection": "docs",
                "documents": [{"content": "x", "metadata": {"k": "v".repeat(513)}}]
            }),
            400,
            Some("documents[0].metadata"),
        ),
        case(
            "metadata value an object",
            "POST",
            index,
            json!({
                "collection": "docs",
                "documents": [{"content": "x", "metadata": {"k": {"nested": 1}}}]
            }),
            400,
            Some("documents[0].metadata"),
        ),
        case(
            "duplicate ids in one request",
            "POST",
            index,
            json!({
                "collection": "docs",
                "documents": [{"id": "same", "content": "a"}, {"id": "same", "content": "b"}]
            }),
            400,
            Some("documents"),
        ),
        case(
            "delete_by_ids without ids",
            "DELETE",
            "/v1/api/collection/delete_by_ids",
            json!({"collection": "docs", "index_ids": []}),
            400,
            Some("index_ids"),
        ),
        Case {
            name: "data without collection",
            method: "GET",
            path: "/v1/api/collection/data",
            body: Body::None,
            status: 400,
            param: None,
        },
        Case {
            name: "data with a bad limit",
            method: "GET",
            path: "/v1/api/collection/data?collection=docs&limit=abc",
            body: Body::None,
            status: 400,
            param: Some("limit"),
        },
        Case {
            name: "data with limit 0",
            method: "GET",
            path: "/v1/api/collection/data?collection=docs&limit=0",
            body: Body::None,
            status: 400,
            param: Some("limit"),
        },
        case(
            "raw search with a wrong dimension",
            "POST",
            "/v2/collections/docs/search",
            json!({"vector": [0.1, 0.2, 0.3]}),
            400,
            Some("vector"),
        ),
        case(
            "raw upsert with a wrong dimension",
            "POST",
            "/v2/collections/docs/documents",
            json!({"documents": [{"id": "v", "text": "t", "vector": [1.0]}]}),
            400,
            Some("documents[0].vector"),
        ),
        case(
            "raw keyword search without text",
            "POST",
            "/v2/collections/docs/search",
            json!({"mode": "keyword", "vector": vec![0.1; 384]}),
            400,
            Some("text"),
        ),
        case(
            "raw collection with neither model nor dimension",
            "POST",
            "/v2/collections",
            json!({"collection": "raw"}),
            400,
            Some("dimension"),
        ),
    ]
}

async fn send(app: &TestApp, c: &Case) -> e2e_tests::Reply {
    let method = reqwest::Method::from_bytes(c.method.as_bytes()).unwrap();
    let req = app
        .client
        .request(method, app.url(c.path))
        .bearer_auth(&app.key_a);
    let req = match &c.body {
        Body::None => req,
        Body::Json(v) => req.json(v),
        Body::Raw(ct, bytes) => req.header("content-type", *ct).body(bytes.clone()),
    };
    app.send(req).await
}

#[tokio::test]
async fn every_bad_request_gets_the_envelope_and_leaves_the_data_intact() {
    let app = spawn_app().await;
    seed(&app, "docs").await;
    let before = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=docs&limit=100",
            None,
        )
        .await;
    let cases = cases();
    assert!(cases.len() >= 25);
    for c in &cases {
        let reply = send(&app, c).await;
        assert_eq!(reply.status, c.status, "{}: {}", c.name, reply.body);
        let error = assert_envelope(&reply, c.status);
        if let Some(p) = c.param {
            assert_eq!(error["param"].as_str(), Some(p), "{}: {:?}", c.name, error);
        }
    }
    let after = app
        .call(
            "GET",
            "/v1/api/collection/data?collection=docs&limit=100",
            None,
        )
        .await;
    assert_eq!(before.body, after.body, "stored data unchanged");
    let list = app.call("GET", "/v1/api/collection", None).await;
    assert_eq!(
        list.body["data"].as_array().unwrap().len(),
        1,
        "no collection was created by a failed request"
    );
    let page = app
        .call(
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "docs", "query": "blue whale"})),
        )
        .await;
    assert_eq!(page.body["data"][0]["file_id"], "whale");
}
