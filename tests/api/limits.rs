//! One set of limits on every surface and back-end (this suite runs once per back-end): each
//! refusal is a 400 envelope naming the field, and nothing of a refused request is stored.

use e2e_tests::{TestApp, assert_envelope, spawn_app, spawn_app_with, test_settings};
use serde_json::{Value, json};

async fn raw_collection(app: &TestApp, name: &str) {
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": name, "dimension": 3})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
}

async fn count(app: &TestApp, name: &str) -> u64 {
    let r = app
        .call(
            "GET",
            &format!("/v2/collections/{name}/documents?limit=1"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["total"].as_u64().unwrap()
}

fn doc(id: &str, text: &str, attributes: Value) -> Value {
    json!({"id": id, "text": text, "vector": [1.0, 0.5, 0.25], "attributes": attributes})
}

#[tokio::test]
async fn documents_over_a_limit_are_refused_alike_and_nothing_is_stored() {
    let app = spawn_app().await;
    raw_collection(&app, "lim").await;
    let path = "/v2/collections/lim/documents";
    let cases = [
        (
            doc("ok", &"x".repeat(262_145), json!({})),
            "documents[1].text",
        ),
        (doc("ok", "a\u{0}b", json!({})), "documents[1].text"),
        (
            doc(&"😀".repeat(200), "emoji id", json!({})),
            "documents[1].id",
        ),
        (
            doc("ok", "t", json!({"k": "v".repeat(8192)})),
            "documents[1].attributes",
        ),
        (
            doc("ok", "t", json!({"k": "a\u{0}"})),
            "documents[1].attributes.k",
        ),
    ];
    for (bad, param) in cases {
        // A valid document first: the whole request is refused, and it is not stored either.
        let body = json!({"documents": [doc("first", "fine", json!({})), bad]});
        let r = app.call("POST", path, Some(body)).await;
        let e = assert_envelope(&r, 400);
        assert_eq!(e["param"], param, "{e:?}");
        assert_eq!(count(&app, "lim").await, 0, "{param}");
    }
    // At the limit is fine, on every back-end (PostgreSQL indexes it for keyword search).
    let text = "word ".repeat(262_144 / 5);
    let r = app
        .call(
            "POST",
            path,
            Some(json!({"documents": [doc("big", &text, json!({}))]})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(count(&app, "lim").await, 1);
}

#[tokio::test]
async fn platform_documents_and_queries_are_held_to_the_same_limits() {
    let app = spawn_app().await;
    let index = |docs: Value| json!({"collection": "plim", "documents": docs});
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(index(json!([{"content": "x".repeat(262_145)}]))),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "documents[0].content");
    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(index(
                json!([{"content": "ok", "topics": ["t".repeat(513)]}]),
            )),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "documents[0].topics");

    let r = app
        .call(
            "POST",
            "/v1/api/index",
            Some(index(
                json!([{"content": "Tides rise and fall twice a day."}]),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let long = "tide ".repeat(1000);
    let r = app
        .call(
            "POST",
            "/v1/api/search",
            Some(json!({"collection": "plim", "query": long})),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "query");

    // The OpenAI surface: the same bound on each query.
    let r = app
        .call("POST", "/v1/vector_stores", Some(json!({"name": "olim"})))
        .await;
    let vs = r.body["id"].as_str().unwrap().to_string();
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{vs}/search"),
            Some(json!({"query": ["short", long]})),
        )
        .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "query");
    // A filter that would bind more values than any back-end takes.
    let filters = json!({"type": "or", "filters": (0..128)
        .map(
            |i| json!({
                "type": "in",
                "key": format!("k{i}"),
                "value": (0..256).map(|v| v.to_string()).collect::<Vec<_>>()
            })
        )
        .collect::<Vec<_>>()});
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{vs}/search"),
            Some(json!({"query": "tides", "filters": filters})),
        )
        .await;
    let e = assert_envelope(&r, 400);
    assert!(e["param"].as_str().unwrap().starts_with("filters"), "{e:?}");
}

#[tokio::test]
async fn an_answer_carries_at_most_max_response_bytes_of_text() {
    let mut settings = test_settings();
    settings.limits.max_response_bytes = 10_000;
    let app = spawn_app_with(settings).await;
    raw_collection(&app, "resp").await;
    let docs: Vec<Value> = (0..5)
        .map(|i| {
            doc(
                &format!("d{i}"),
                &format!("{i} {}", "y".repeat(4000)),
                json!({}),
            )
        })
        .collect();
    let r = app
        .call(
            "POST",
            "/v2/collections/resp/documents",
            Some(json!({"documents": docs})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app
        .call("GET", "/v2/collections/resp/documents?limit=100", None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["total"], 5);
    assert_eq!(
        r.body["data"].as_array().unwrap().len(),
        2,
        "{}",
        r.body["data"]
    );
    let r = app
        .call(
            "POST",
            "/v2/collections/resp/search",
            Some(json!({"vector": [1.0, 0.5, 0.25], "k": 5})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_collection_uses_at_most_a_thousand_attribute_keys_on_every_back_end() {
    let app = spawn_app().await;
    raw_collection(&app, "keys").await;
    let path = "/v2/collections/keys/documents";
    let docs = |from: usize, n: usize| -> Vec<Value> {
        (from..from + n)
            .map(|d| {
                let attrs: serde_json::Map<String, Value> =
                    (0..16).map(|k| (format!("k{d}_{k}"), json!(k))).collect();
                doc(&format!("d{d}"), "t", Value::Object(attrs))
            })
            .collect()
    };
    // 62 documents of 16 keys of their own: 992 keys.
    let r = app
        .call("POST", path, Some(json!({"documents": docs(0, 62)})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // One more document of 16 new keys would make 1,008.
    let r = app
        .call("POST", path, Some(json!({"documents": docs(62, 1)})))
        .await;
    let e = assert_envelope(&r, 400);
    assert!(
        e["message"].as_str().unwrap().contains("at most 1000"),
        "{e:?}"
    );
    assert_eq!(
        count(&app, "keys").await,
        62,
        "nothing of the refused write is stored"
    );
    // Keys the collection already uses are always fine.
    let again = docs(0, 1);
    let r = app
        .call("POST", path, Some(json!({"documents": again})))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// A refusal by a quota: 403 `quota_exceeded`, naming the quota's setting.
fn assert_quota(r: &e2e_tests::Reply, setting: &str) {
    let e = assert_envelope(r, 403);
    assert_eq!(e["code"], "quota_exceeded", "{e:?}");
    assert!(e["message"].as_str().unwrap().contains(setting), "{e:?}");
}

#[tokio::test]
async fn each_tenant_is_held_to_its_quotas_even_by_requests_made_at_once() {
    let mut settings = test_settings();
    settings.quotas = store_core::Quotas {
        max_vector_stores: 3,
        max_files: 2,
        max_file_bytes: 100,
        max_api_keys: 2,
        max_pending_uploads: 0,
    };
    let app = spawn_app_with(settings).await;
    let upload = |key: String, name: &'static str, data: Vec<u8>| {
        let app = &app;
        async move {
            app.send(
                app.client
                    .post(app.url("/v1/files"))
                    .bearer_auth(key)
                    .multipart(e2e_tests::upload_form(name, data)),
            )
            .await
        }
    };

    // Six vector stores asked for at once: three are made.
    let creates = futures::future::join_all((0..6).map(|i| {
        app.call(
            "POST",
            "/v1/vector_stores",
            Some(json!({"name": format!("q{i}")})),
        )
    }))
    .await;
    let made = creates.iter().filter(|r| r.status == 200).count();
    assert_eq!(
        made,
        3,
        "{:?}",
        creates.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in creates.iter().filter(|r| r.status != 200) {
        assert_quota(r, "quotas.max_vector_stores");
    }
    // The platform API's collections count too; another tenant is not held back.
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": "more", "dimension": 3})),
        )
        .await;
    assert_quota(&r, "quotas.max_vector_stores");
    let r = app
        .call_as(
            &app.key_b,
            "POST",
            "/v1/vector_stores",
            Some(json!({"name": "b"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // Files: two of them, and 100 bytes in all.
    let first = upload(app.key_a.clone(), "a.txt", vec![b'a'; 60]).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let r = upload(app.key_a.clone(), "b.txt", vec![b'b'; 60]).await;
    assert_quota(&r, "quotas.max_file_bytes");
    let r = upload(app.key_a.clone(), "c.txt", vec![b'c'; 30]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = upload(app.key_a.clone(), "d.txt", vec![b'd'; 1]).await;
    assert_quota(&r, "quotas.max_files");
    // A file deleted makes room again.
    let id = first.body["id"].as_str().unwrap();
    let r = app.call("DELETE", &format!("/v1/files/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = upload(app.key_a.clone(), "e.txt", vec![b'e'; 60]).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("GET", "/v1/files", None).await;
    assert_eq!(r.body["data"].as_array().unwrap().len(), 2, "{}", r.body);

    // Keys: the tenant has one; a second is made, a third is refused until one is revoked.
    let second = app.call("POST", "/v1/api/keys", None).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let r = app.call("POST", "/v1/api/keys", None).await;
    assert_quota(&r, "quotas.max_api_keys");
    let id = second.body["id"].as_str().unwrap();
    let r = app
        .call("DELETE", &format!("/v1/api/keys/{id}"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.call("POST", "/v1/api/keys", None).await;
    assert_eq!(r.status, 200, "{}", r.body);
}
