//! Edges every surface and back-end holds alike: NUL characters anywhere, numbers `jsonb`
//! cannot keep, collection metadata that is not a string, and the small body limits of routes
//! that take no documents.

use e2e_tests::{assert_envelope, spawn_app};
use serde_json::{Value, json};

/// A method, a path, a body, the status it gets and the `param` named.
type NulCase = (
    &'static str,
    String,
    Option<Value>,
    u16,
    Option<&'static str>,
);

/// NUL (U+0000), which PostgreSQL cannot store, anywhere in a request: a body's strings and keys
/// and a query string are refused with 400 naming the field, a path is a 404, on every
/// back-end, and nothing is stored.
#[tokio::test]
async fn a_nul_character_is_refused_wherever_it_is_and_stores_nothing() {
    let app = spawn_app().await;
    let store = app.vector_store("nul").await;
    let cases: Vec<NulCase> = vec![
        (
            "POST",
            "/v1/vector_stores".into(),
            Some(json!({"name": "a\u{0}b"})),
            400,
            Some("name"),
        ),
        (
            "POST",
            "/v1/vector_stores".into(),
            Some(json!({"metadata": {"k": "v\u{0}"}})),
            400,
            Some("metadata.k"),
        ),
        (
            "POST",
            "/v1/api/collection".into(),
            Some(json!({
                "collection": "nulcoll",
                "model_name": "all-minilm-l6-v2",
                "metadata": {"k\u{0}": 1}
            })),
            400,
            Some("metadata"),
        ),
        (
            "POST",
            format!("/v1/vector_stores/{store}/files"),
            Some(json!({"file_id": "file-\u{0}"})),
            400,
            Some("file_id"),
        ),
        (
            "POST",
            format!("/v1/vector_stores/{store}/search"),
            Some(json!({
                "query": "q",
                "filters": {"type": "in", "key": "k", "value": ["a", "b\u{0}"]}
            })),
            400,
            Some("filters.value[1]"),
        ),
        (
            "GET",
            format!("/v1/vector_stores/{store}/files?after=u%00"),
            None,
            400,
            Some("after"),
        ),
        (
            "GET",
            "/v1/vector_stores?before=vs%00".into(),
            None,
            400,
            Some("before"),
        ),
        ("GET", "/v1/vector_stores/vs%00x".into(), None, 404, None),
        (
            "GET",
            format!("/v1/vector_stores/{store}/files/file%00"),
            None,
            404,
            None,
        ),
        ("DELETE", "/v1/files/file-%00".into(), None, 404, None),
    ];
    for (method, path, body, status, param) in cases {
        let reply = app.call(method, &path, body).await;
        let error = assert_envelope(&reply, status);
        assert_eq!(
            error["param"].as_str(),
            param,
            "{method} {path}: {}",
            reply.body
        );
        if status == 400 {
            assert!(
                error["message"].as_str().unwrap().contains("NUL"),
                "{method} {path}: {}",
                reply.body
            );
        }
    }
    // Nothing was made: one store (the one above), no collection, no file attached.
    let stores = app.call("GET", "/v1/vector_stores", None).await;
    assert_eq!(
        stores.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        stores.body
    );
    let collections = app.call("GET", "/v1/api/collection", None).await;
    assert!(
        !collections.body.to_string().contains("nulcoll"),
        "{}",
        collections.body
    );
    let files = app
        .call("GET", &format!("/v1/vector_stores/{store}/files"), None)
        .await;
    assert_eq!(files.body["data"], json!([]));
}

/// A number PostgreSQL's `jsonb` would hand back as a decimal that no longer reads as a 64-bit
/// float is refused in metadata and attributes on every surface, so the tenant's lists stay
/// readable.
#[tokio::test]
async fn numbers_past_1e308_are_refused_and_the_lists_stay_readable() {
    let app = spawn_app().await;
    let store = app.vector_store("numbers").await;
    let huge = json!(1.797_693_134_862_315_7e308);
    let cases: Vec<(&str, String, Value, &str)> = vec![
        (
            "/v1/api/collection",
            "POST".into(),
            json!({
                "collection": "huge",
                "model_name": "all-minilm-l6-v2",
                "metadata": {"k": huge}
            }),
            "metadata",
        ),
        (
            "/v1/api/index",
            "POST".into(),
            json!({"collection": "huge", "documents": [{"content": "x", "metadata": {"k": huge}}]}),
            "documents[0].metadata",
        ),
        (
            "/v2/collections",
            "POST".into(),
            json!({"collection": "huge", "dimension": 3, "metadata": {"k": -1.5e308}}),
            "metadata",
        ),
        (
            "/v1/vector_stores/{store}/files",
            "POST".into(),
            json!({"file_id": "file-x", "attributes": {"k": huge}}),
            "attributes",
        ),
    ];
    for (path, method, body, param) in cases {
        let path = path.replace("{store}", &store);
        let reply = app.call(&method, &path, Some(body)).await;
        let error = assert_envelope(&reply, 400);
        assert_eq!(error["param"], param, "{path}: {}", reply.body);
        assert!(
            error["message"].as_str().unwrap().contains("1e308"),
            "{}",
            reply.body
        );
    }
    let ok = app
        .call(
            "POST",
            "/v1/api/index",
            Some(json!({
                "collection": "edge",
                "documents": [{"content": "x", "metadata": {"k": 1e308, "l": -1e308}}]
            })),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let list = app.call("GET", "/v1/api/collection", None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    let names: Vec<&str> = list.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["collection"].as_str())
        .collect();
    assert!(
        names.contains(&"edge") && !names.contains(&"huge"),
        "{names:?}"
    );
    assert_eq!(app.call("GET", "/v2/collections", None).await.status, 200);
}

/// Collection metadata is string to string on every surface that takes it, so whatever one
/// surface stores, every surface that shows it (and the official OpenAI client, strict about
/// OpenAI's schema) can read.
#[tokio::test]
async fn collection_metadata_takes_strings_on_every_surface() {
    let app = spawn_app().await;
    let cases = [
        (
            "/v1/api/collection",
            json!({
                "collection": "typed",
                "model_name": "all-minilm-l6-v2",
                "metadata": {"n": 1, "b": true}
            }),
        ),
        (
            "/v1/api/index",
            json!({"collection": "typed", "documents": [{"content": "x"}], "metadata": {"n": 1}}),
        ),
        (
            "/v2/collections",
            json!({"collection": "typed", "dimension": 3, "metadata": {"b": false}}),
        ),
        ("/v1/vector_stores", json!({"metadata": {"n": 1.5}})),
    ];
    for (path, body) in cases {
        let reply = app.call("POST", path, Some(body)).await;
        let error = assert_envelope(&reply, 400);
        assert_eq!(error["param"], "metadata", "{path}: {}", reply.body);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("must be a string"),
            "{path}: {}",
            reply.body
        );
    }
    let made = app
        .call(
            "POST",
            "/v1/api/collection",
            Some(json!({
                "collection": "typed",
                "model_name": "all-minilm-l6-v2",
                "metadata": {"n": "1"}
            })),
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let list = app.call("GET", "/v1/vector_stores", None).await;
    assert_eq!(list.status, 200, "{}", list.body);
    for store in list.body["data"].as_array().unwrap() {
        for (k, v) in store["metadata"].as_object().unwrap() {
            assert!(v.is_string(), "{k}: {v}");
        }
    }
}

/// Routes that take documents in bulk read bodies up to `server.body_limit_bytes`; every other
/// JSON route (a search, a create) is held to a small limit, refused by its declared length.
#[tokio::test]
async fn small_routes_have_small_body_limits() {
    let mut settings = e2e_tests::test_settings();
    settings.server.body_limit_bytes = 8 * 1024 * 1024;
    let app = e2e_tests::spawn_app_with(settings).await;
    let body = |n: usize| {
        let mut b = br#"{"collection": "c", "query": ""#.to_vec();
        b.extend(std::iter::repeat_n(b'a', n));
        b.extend(br#""}"#);
        b
    };
    let send = |path: &'static str, bytes: Vec<u8>| {
        app.send(
            app.client
                .post(app.url(path))
                .bearer_auth(&app.key_a)
                .header("content-type", "application/json")
                .body(bytes),
        )
    };
    let search = send("/v1/api/search", body(2 * 1024 * 1024)).await;
    assert!(
        assert_envelope(&search, 413)["message"]
            .as_str()
            .unwrap()
            .contains("1048576"),
        "{}",
        search.body
    );
    let create = send("/v1/vector_stores", body(2 * 1024 * 1024)).await;
    assert_envelope(&create, 413);
    // The same size is read (and judged on its content) where documents come in bulk.
    let index = send("/v1/api/index", body(2 * 1024 * 1024)).await;
    assert_envelope(&index, 400);
    let upsert = send("/v2/collections/c/documents", body(9 * 1024 * 1024)).await;
    assert_envelope(&upsert, 413);
}
