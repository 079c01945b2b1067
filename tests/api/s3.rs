//! `files.backend = "s3"`: files, their texts and upload parts in a bucket of the tests' S3-API
//! server (a bucket per test), through the whole flow: upload, ingestion, content, search,
//! deletion, refusals that leave nothing, and uploads in parts completed, cancelled and expired.

use std::time::Duration;

use e2e_tests::s3::Bucket;
use e2e_tests::{TestApp, own_database, spawn_app_with, test_settings};
use secrecy::SecretString;
use serde_json::json;

const TEXT: &str = "The lighthouse keeper logged every passing tanker in a green ledger. \
                    Storms in October closed the harbour for nine days.";

/// An app with its files in `bucket`, on a database of its own (`db`): the workers of the
/// other tests' apps, on other file stores, must not take its jobs, nor its workers theirs, and
/// no other app's expiry sweep may end its uploads.
async fn app_on(
    db: &str,
    bucket: &Bucket,
    tune: impl FnOnce(&mut vector_store_server::settings::Settings),
) -> TestApp {
    let mut s = test_settings();
    s.database.url = Some(SecretString::from(own_database(db).await));
    bucket.apply(&mut s);
    tune(&mut s);
    let dir = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    assert!(!dir.exists(), "no local files directory is made");
    app
}

/// Polls until the bucket's keys are `want`; its last keys.
async fn keys_become(bucket: &Bucket, want: &[String]) -> Vec<String> {
    let mut keys = Vec::new();
    for _ in 0..100 {
        keys = bucket.keys().await;
        if keys == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    keys
}

#[tokio::test]
async fn a_file_on_s3_is_ingested_read_searched_and_deleted() {
    let bucket = Bucket::new("vs/files").await;
    let app = app_on("s3_flow", &bucket, |_| {}).await;
    let id = app.upload(&app.key_a, "ledger.txt", TEXT.into()).await;
    assert_eq!(bucket.keys().await, [format!("vs/files/{id}")]);
    // The bytes as uploaded.
    let r = app.file_content(&app.key_a, &id).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap(), TEXT.as_bytes());
    // Ingested from the bucket; the text kept beside the bytes.
    let store = app.vector_store("s3").await;
    app.attach(&store, json!({"file_id": id})).await;
    let file = app.wait_for_file(&store, &id).await;
    assert_eq!(file["status"], "completed", "{file}");
    assert_eq!(
        bucket.keys().await,
        [format!("vs/files/{id}"), format!("vs/files/{id}.text")]
    );
    let r = app
        .call(
            "GET",
            &format!("/v1/vector_stores/{store}/files/{id}/content"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["text"], TEXT, "{}", r.body);
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(json!({"query": "when was the harbour closed by storms"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["file_id"], id.as_str(), "{}", r.body);
    // Deleting the file removes its objects.
    let r = app.call("DELETE", &format!("/v1/files/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(bucket.keys().await, Vec::<String>::new());
}

#[tokio::test]
async fn uploads_refused_on_s3_leave_no_object() {
    let bucket = Bucket::new("refused").await;
    let app = app_on("s3_refusals", &bucket, |s| {
        s.files.max_upload_bytes = 12 << 20;
        s.quotas.max_file_bytes = 7 << 20;
    })
    .await;
    let send = |data: Vec<u8>| {
        let form = e2e_tests::upload_form("big.txt", data);
        app.send(
            app.client
                .post(app.url("/v1/files"))
                .bearer_auth(&app.key_a)
                .multipart(form),
        )
    };
    // Past the upload limit, after more than a part was sent: its multipart upload is aborted.
    let r = send(vec![b'a'; 13 << 20]).await;
    assert_eq!(r.status, 413, "{}", r.body);
    // Within the limit, over the tenant's quota: stored, refused by the catalog, removed.
    let r = send(vec![b'b'; 8 << 20]).await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "quota_exceeded", "{}", r.body);
    // A form without a purpose, refused once its file was read.
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![b'c'; 100]).file_name("c.txt"),
    );
    let r = app
        .send(
            app.client
                .post(app.url("/v1/files"))
                .bearer_auth(&app.key_a)
                .multipart(form),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(keys_become(&bucket, &[]).await, Vec::<String>::new());
    for _ in 0..100 {
        if bucket.uploads_in_progress().await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        bucket.uploads_in_progress().await,
        0,
        "no multipart upload is left"
    );
}

/// A part of tenant A's upload, which must be stored; its id.
async fn part(app: &TestApp, upload: &str, data: Vec<u8>) -> String {
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::bytes(data).file_name("blob"),
    );
    let url = app.url(&format!("/v1/uploads/{upload}/parts"));
    let r = app
        .send(app.client.post(url).bearer_auth(&app.key_a).multipart(form))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn uploads_in_parts_on_s3_complete_cancel_and_expire() {
    let bucket = Bucket::new("parts").await;
    let app = app_on("s3_parts", &bucket, |s| {
        s.files.max_upload_bytes = 1000;
        s.uploads.max_part_bytes = 1200;
        s.uploads.expiry_secs = 2;
        s.ingest.expiry_sweep_secs = 1;
    })
    .await;
    let data: Vec<u8> = (0..2500).map(|i| b'a' + (i % 26) as u8).collect();
    let create = |bytes: usize| {
        let body = json!({
            "bytes": bytes, "filename": "big.txt", "mime_type": "text/plain",
            "purpose": "assistants", "expires_after": {"anchor": "created_at", "seconds": 3600}
        });
        app.call("POST", "/v1/uploads", Some(body))
    };
    let upload = create(data.len()).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ids = Vec::new();
    for chunk in data.chunks(1000) {
        ids.push(part(&app, &upload, chunk.to_vec()).await);
    }
    let mut want: Vec<String> = ids
        .iter()
        .map(|p| format!("parts/uploads/{upload}/{p}"))
        .collect();
    want.sort();
    assert_eq!(bucket.keys().await, want);
    let r = app
        .call(
            "POST",
            &format!("/v1/uploads/{upload}/complete"),
            Some(json!({"part_ids": ids})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let file = r.body["file"]["id"].as_str().unwrap().to_string();
    assert_eq!(bucket.keys().await, [format!("parts/{file}")]);
    let r = app.file_content(&app.key_a, &file).await;
    assert_eq!(r.bytes().await.unwrap(), data);
    // Cancelled: its parts go at once.
    let cancelled = create(100).await.body["id"].as_str().unwrap().to_string();
    part(&app, &cancelled, vec![b'x'; 60]).await;
    let r = app
        .call("POST", &format!("/v1/uploads/{cancelled}/cancel"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(bucket.keys().await, [format!("parts/{file}")]);
    // Expired (the default expiry of 2 s): the sweep removes its parts.
    let r = app
        .call(
            "POST",
            "/v1/uploads",
            Some(
                json!({"bytes": 100, "filename": "e.txt", "mime_type": "text/plain",
                        "purpose": "assistants"}),
            ),
        )
        .await;
    let expiring = r.body["id"].as_str().unwrap().to_string();
    part(&app, &expiring, vec![b'y'; 60]).await;
    assert_eq!(bucket.keys().await.len(), 2);
    let left = keys_become(&bucket, &[format!("parts/{file}")]).await;
    assert_eq!(
        left,
        [format!("parts/{file}")],
        "the expired upload's part is removed"
    );
}

#[tokio::test]
async fn a_bucket_that_cannot_be_listed_stops_start_up_with_one_line() {
    let bucket = Bucket::new("x").await;
    let mut s = test_settings();
    bucket.apply(&mut s);
    s.files.s3.bucket = format!("missing-{}", uuid::Uuid::new_v4().simple());
    let e = vector_store_server::blob_store(&s.files).await.unwrap_err();
    let line = format!("{e:#}");
    assert!(line.contains("files.s3: the bucket missing-"), "{line}");
    assert!(!line.contains('\n'), "{line}");
    bucket.apply(&mut s);
    vector_store_server::blob_store(&s.files).await.unwrap();
}
