//! Files made to hurt the parsers: each fails (or completes) on its own, and the server goes
//! on serving. Third-party parsers run in the extraction sandbox (this package's `e2e-server
//! extract`), so a stack overflow, a hang or an exhausted parser ends that child only.

use e2e_tests::{TestApp, assert_envelope, spawn_app_with, test_settings};
use serde_json::{Value, json};
use service::text::fixtures;

/// A file that parses normally completes after all the hostile ones, on the same server.
async fn still_serving(app: &TestApp, store: &str) {
    assert_eq!(
        app.send(app.client.get(app.url("/health"))).await.status,
        200
    );
    let ok = app
        .upload(
            &app.key_a,
            "fine.pdf",
            fixtures::tiny_pdf("A calm page about lighthouses"),
        )
        .await;
    app.attach(store, json!({"file_id": ok})).await;
    assert_eq!(app.wait_for_file(store, &ok).await["status"], "completed");
}

#[tokio::test]
async fn hostile_files_fail_alone_and_the_server_keeps_serving() {
    let mut settings = test_settings();
    // The deeply nested HTML keeps html2text busy for a minute: cut it off sooner.
    settings.ingest.extract.limits.timeout_secs = 5;
    let app = spawn_app_with(settings).await;
    let store = app.vector_store("hostile").await;
    let mut truncated = fixtures::tiny_pdf("cut off");
    truncated.truncate(truncated.len() / 2);
    let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
    zip.extend_from_slice(&[0u8; 200]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // Recurses through its own Form XObject until the stack overflows.
        ("self.pdf", fixtures::self_drawing_pdf(), "invalid_file"),
        ("deep.html", fixtures::nested_html(200_000), "invalid_file"),
        ("deep.json", fixtures::nested_json(100_000), "invalid_file"),
        ("truncated.pdf", truncated, "invalid_file"),
        ("archive.pdf", zip, "invalid_file"),
        ("empty.txt", Vec::new(), "invalid_file"),
        ("latin1.txt", b"caf\xe9 cr\xe8me".to_vec(), "invalid_file"),
    ];
    let mut ids = Vec::new();
    for (name, data, _) in &cases {
        let id = app.upload(&app.key_a, name, data.clone()).await;
        app.attach(&store, json!({"file_id": id})).await;
        ids.push(id);
    }
    for ((name, _, code), id) in cases.iter().zip(&ids) {
        let f = app.wait_for_file(&store, id).await;
        assert_eq!(f["status"], "failed", "{name}: {f}");
        assert_eq!(f["last_error"]["code"], *code, "{name}: {f}");
        assert!(
            f["last_error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{name}: {f}"
        );
        // Its content is refused, never parsed in the request.
        let r = app
            .call(
                "GET",
                &format!("/v1/vector_stores/{store}/files/{id}/content"),
                None,
            )
            .await;
        assert_envelope(&r, 400);
    }
    let crashed = &app.wait_for_file(&store, &ids[0]).await["last_error"]["message"];
    assert!(
        crashed.as_str().unwrap().contains("crashed"),
        "the stack overflow is named: {crashed}"
    );
    still_serving(&app, &store).await;
    // The failed files keep no chunks.
    let r = app
        .call(
            "GET",
            &format!("/v2/collections/{store}/documents?limit=100"),
            None,
        )
        .await;
    let files: Vec<&Value> = r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["file_id"])
        .collect();
    assert!(
        ids.iter()
            .all(|id| !files.contains(&&Value::from(id.as_str()))),
        "{files:?}"
    );
}

#[tokio::test]
async fn content_is_the_text_kept_at_ingestion_and_never_parsed_again() {
    let settings = test_settings();
    let dir = settings.files.dir.clone();
    let app = spawn_app_with(settings).await;
    let store = app.vector_store("hostile").await;
    let id = app
        .upload(
            &app.key_a,
            "kept.pdf",
            fixtures::tiny_pdf("Text about glaciers"),
        )
        .await;
    app.attach(&store, json!({"file_id": id})).await;
    assert_eq!(app.wait_for_file(&store, &id).await["status"], "completed");
    // The bytes on disk now hold the PDF that crashes its parser: a request that parsed them
    // again would fail (or, in process, take the server down).
    std::fs::write(dir.join(&id), fixtures::self_drawing_pdf()).unwrap();
    let r = app
        .call(
            "GET",
            &format!("/v1/vector_stores/{store}/files/{id}/content"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body["data"][0]["text"]
            .as_str()
            .is_some_and(|t| t.contains("Text about glaciers")),
        "{}",
        r.body
    );
    assert_eq!(
        app.send(app.client.get(app.url("/health"))).await.status,
        200
    );
}

#[tokio::test]
async fn a_long_content_comes_in_pages_within_the_response_limit() {
    let mut settings = test_settings();
    settings.limits.max_response_bytes = 1024;
    let app = spawn_app_with(settings).await;
    let store = app.vector_store("pages").await;
    // Characters of one to four bytes, and ones JSON escapes (a quote, a newline, a control
    // character written as six).
    let text: String = (0..400)
        .map(|i| ["a", "é", "€", "😀", "\"", "\n", "\u{1}"][i % 7])
        .collect::<Vec<_>>()
        .join(" ");
    let id = app
        .upload(&app.key_a, "long.txt", text.clone().into_bytes())
        .await;
    app.attach(&store, json!({"file_id": id})).await;
    assert_eq!(app.wait_for_file(&store, &id).await["status"], "completed");
    let mut got = String::new();
    let mut page: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &page {
            None => format!("/v1/vector_stores/{store}/files/{id}/content"),
            Some(p) => format!("/v1/vector_stores/{store}/files/{id}/content?page={p}"),
        };
        let res = app
            .send(app.client.get(app.url(&path)).bearer_auth(&app.key_a))
            .await;
        assert_eq!(res.status, 200, "{}", res.body);
        let bytes = serde_json::to_vec(&res.body).unwrap().len();
        assert!(bytes <= 1024, "a page of {bytes} bytes");
        got.push_str(res.body["data"][0]["text"].as_str().unwrap());
        pages += 1;
        if res.body["has_more"] == false {
            assert_eq!(res.body["next_page"], Value::Null);
            break;
        }
        page = Some(res.body["next_page"].as_str().unwrap().to_string());
        assert!(pages < 100, "the pages never end");
    }
    assert!(pages > 2, "{pages} pages");
    assert_eq!(got, text);
    // A page that is not one this file's content gave is refused.
    let r = app
        .call(
            "GET",
            &format!("/v1/vector_stores/{store}/files/{id}/content?page=abc"),
            None,
        )
        .await;
    assert_envelope(&r, 400);
}

#[tokio::test]
async fn crafted_chunking_strategies_and_batch_forms_are_refused_and_attach_nothing() {
    let app = e2e_tests::spawn_app().await;
    let store = app.vector_store("crafted").await;
    let file = app
        .upload(&app.key_a, "a.txt", b"some words".to_vec())
        .await;
    let deep = (0..200).fold(json!(1), |inner, _| json!({ "static": inner }));
    let strategies = [
        json!("static"),
        json!({"type": "static"}),
        json!({"type": "magic"}),
        json!({"type": "auto", "extra": 1}),
        json!({
            "type": "static",
            "static": {"max_chunk_size_tokens": "800", "chunk_overlap_tokens": 0}
        }),
        json!({
            "type": "static",
            "static": {"max_chunk_size_tokens": -1, "chunk_overlap_tokens": 0}
        }),
        json!({
            "type": "static",
            "static": {"max_chunk_size_tokens": 1e300, "chunk_overlap_tokens": 0}
        }),
        json!({
            "type": "static",
            "static": {"max_chunk_size_tokens": 99, "chunk_overlap_tokens": 0}
        }),
        json!({
            "type": "static",
            "static": {"max_chunk_size_tokens": 200, "chunk_overlap_tokens": 101}
        }),
    ];
    let files = format!("/v1/vector_stores/{store}/files");
    let batches = format!("/v1/vector_stores/{store}/file_batches");
    for strategy in strategies {
        let r = app
            .call(
                "POST",
                &files,
                Some(json!({"file_id": file, "chunking_strategy": strategy})),
            )
            .await;
        let e = assert_envelope(&r, 400);
        assert!(
            e["param"]
                .as_str()
                .is_some_and(|p| p.starts_with("chunking_strategy")),
            "{strategy}: {e:?}"
        );
        let body = json!({"files": [{"file_id": file, "chunking_strategy": strategy}]});
        let r = app.call("POST", &batches, Some(body)).await;
        let e = assert_envelope(&r, 400);
        assert!(
            e["param"]
                .as_str()
                .is_some_and(|p| p.starts_with("files[0]")),
            "{strategy}: {e:?}"
        );
    }
    // Nested past the parser's depth: the body as a whole is refused.
    for (path, body) in [
        (
            &files,
            json!({"file_id": file, "chunking_strategy": {"type": "static", "static": deep}}),
        ),
        (
            &batches,
            json!({"files": [{"file_id": file, "chunking_strategy": deep}]}),
        ),
    ] {
        let r = app.call("POST", path, Some(body)).await;
        assert_eq!(assert_envelope(&r, 400)["param"], Value::Null, "{}", r.body);
    }
    // The two forms of a batch at once, neither, another tenant's file, a file twice.
    let theirs = app.upload(&app.key_b, "b.txt", b"theirs".to_vec()).await;
    for (body, param) in [
        (
            json!({"file_ids": [file], "files": [{"file_id": file}]}),
            "file_ids",
        ),
        (json!({}), "file_ids"),
        (json!({"file_ids": [file, theirs]}), "file_ids[1]"),
        (
            json!({"files": [{"file_id": file}, {"file_id": file}]}),
            "files[1].file_id",
        ),
    ] {
        let r = app.call("POST", &batches, Some(body)).await;
        assert_eq!(assert_envelope(&r, 400)["param"], param);
    }
    let listed = app.call("GET", &files, None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["data"], json!([]), "nothing was attached");
    assert_eq!(
        app.send(app.client.get(app.url("/health"))).await.status,
        200
    );
}

#[tokio::test]
async fn a_parsed_file_whose_name_starts_with_a_dash_is_read() {
    let app = e2e_tests::spawn_app().await;
    let store = app.vector_store("dashes").await;
    for name in ["-dash.pdf", "--help.html"] {
        let data = if name.ends_with(".pdf") {
            fixtures::tiny_pdf("A page about harbours")
        } else {
            b"<html><body><p>A page about harbours</p></body></html>".to_vec()
        };
        let id = app.upload(&app.key_a, name, data).await;
        app.attach(&store, json!({"file_id": id})).await;
        let file = app.wait_for_file(&store, &id).await;
        assert_eq!(file["status"], "completed", "{name}: {file}");
    }
}
