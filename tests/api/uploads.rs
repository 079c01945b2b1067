//! Uploads in parts (`/v1/uploads`): files larger than `files.max_upload_bytes` sent in parts,
//! completed into ordinary files; their limits, their tenancy, their quota, and what they leave
//! on disk when they end.

use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e_tests::{
    Reply, ServerProcess, TestApp, assert_envelope, free_port, own_database, spawn_app_with,
    test_settings,
};
use serde_json::{Value, json};
use vector_store_server::settings::Settings;

/// Settings with a files directory of the test's own and uploads larger than one file may be.
fn settings(name: &str) -> Settings {
    let mut s = test_settings();
    s.files.dir = std::env::temp_dir().join(format!("vs-uploads-{name}-{}", uuid::Uuid::new_v4()));
    s.files.max_upload_bytes = 1000;
    s.uploads.max_bytes = 10_000;
    s.uploads.max_part_bytes = 1200;
    s.uploads.max_parts = 4;
    s
}

/// Every file under `dir`, recursively, relative to it.
fn on_disk(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn parts_dir(files: &Path, upload: &str) -> PathBuf {
    files.join("uploads").join(upload)
}

pub(crate) fn text(n: usize) -> Vec<u8> {
    (0..n).map(|i| b'a' + (i % 26) as u8).collect()
}

/// `POST /v1/uploads` as `key`; the reply.
pub(crate) async fn create(app: &TestApp, key: &str, bytes: usize, extra: Value) -> Reply {
    let mut body = json!({
        "bytes": bytes, "filename": "big.txt", "mime_type": "text/plain", "purpose": "assistants"
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    app.call_as(key, "POST", "/v1/uploads", Some(body)).await
}

/// A pending upload of tenant A declaring `bytes`; its id.
pub(crate) async fn pending(app: &TestApp, bytes: usize) -> String {
    let r = create(app, &app.key_a, bytes, json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["status"], &r.body["object"]),
        (&json!("pending"), &json!("upload"))
    );
    r.body["id"].as_str().unwrap().to_string()
}

/// `POST /v1/uploads/{id}/parts` with `data` as `key`.
async fn send_part(base: &str, key: &str, upload: &str, data: Vec<u8>) -> Reply {
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::bytes(data).file_name("blob"),
    );
    let res = reqwest::Client::new()
        .post(format!("{base}/v1/uploads/{upload}/parts"))
        .bearer_auth(key)
        .multipart(form)
        .send()
        .await
        .expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

/// A part of tenant A's upload, which must be stored; its id.
pub(crate) async fn part(app: &TestApp, upload: &str, data: Vec<u8>) -> String {
    let r = send_part(&app.address, &app.key_a, upload, data).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["object"], "upload.part");
    assert_eq!(r.body["upload_id"], upload);
    r.body["id"].as_str().unwrap().to_string()
}

pub(crate) async fn complete(app: &TestApp, upload: &str, body: Value) -> Reply {
    app.call(
        "POST",
        &format!("/v1/uploads/{upload}/complete"),
        Some(body),
    )
    .await
}

fn md5_of(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex_of(&Md5::digest(data))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn parts_complete_into_a_file_larger_than_an_upload_may_be() {
    let s = settings("complete");
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let data = text(2500);
    let upload = pending(&app, data.len()).await;
    let mut ids = Vec::new();
    for chunk in data.chunks(1000) {
        ids.push(part(&app, &upload, chunk.to_vec()).await);
    }
    assert_eq!(on_disk(&parts_dir(&files, &upload)).len(), 3);
    let r = complete(
        &app,
        &upload,
        json!({"part_ids": ids, "md5": md5_of(&data)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "completed");
    let file = r.body["file"].clone();
    let id = file["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("file-"), "{file}");
    assert_eq!(
        (&file["bytes"], &file["filename"]),
        (&json!(2500), &json!("big.txt"))
    );
    // An ordinary file: listed, its content the parts in order, deleted like any other.
    let r = app.call("GET", &format!("/v1/files/{id}"), None).await;
    assert_eq!(
        (r.status, &r.body["bytes"]),
        (200, &json!(2500)),
        "{}",
        r.body
    );
    let content = app.file_content(&app.key_a, &id).await.bytes().await;
    let content = content.unwrap();
    assert_eq!(content.as_ref(), data.as_slice());
    // The parts are gone; the file's bytes are all that is left.
    assert_eq!(on_disk(&files), std::slice::from_ref(&id));
    // An upload completes once and then takes nothing more.
    let again = complete(&app, &upload, json!({"part_ids": ids})).await;
    assert_eq!(
        assert_envelope(&again, 400)["type"],
        "invalid_request_error"
    );
    assert_envelope(
        &send_part(&app.address, &app.key_a, &upload, text(10)).await,
        400,
    );
    let cancel = app
        .call("POST", &format!("/v1/uploads/{upload}/cancel"), None)
        .await;
    assert_envelope(&cancel, 400);
    let r = app.call("DELETE", &format!("/v1/files/{id}"), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn a_wrong_md5_or_total_leaves_the_upload_pending() {
    let s = settings("mismatch");
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let data = text(1500);
    let upload = pending(&app, data.len()).await;
    let a = part(&app, &upload, data[..1000].to_vec()).await;
    let r = complete(&app, &upload, json!({"part_ids": [a]})).await;
    assert_eq!(assert_envelope(&r, 400)["param"], "part_ids", "{}", r.body);
    let b = part(&app, &upload, data[1000..].to_vec()).await;
    let wrong = md5_of(b"something else");
    let r = complete(&app, &upload, json!({"part_ids": [a, b], "md5": wrong})).await;
    assert_eq!(assert_envelope(&r, 400)["param"], "md5", "{}", r.body);
    // Listed the other way round the bytes are another file, with another MD5.
    let r = complete(
        &app,
        &upload,
        json!({"part_ids": [b, a], "md5": md5_of(&data)}),
    )
    .await;
    assert_eq!(assert_envelope(&r, 400)["param"], "md5", "{}", r.body);
    // Nothing was made; the parts wait for a right completion.
    assert_eq!(on_disk(&files).len(), 2, "{:?}", on_disk(&files));
    let r = complete(
        &app,
        &upload,
        json!({"part_ids": [a, b], "md5": md5_of(&data)}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn limits_and_foreign_parts_are_refused_with_the_envelope() {
    let s = settings("limits");
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let key = app.key_a.clone();
    let cases = [
        (json!({"bytes": 10_001}), "bytes"),
        (json!({"purpose": "nope"}), "purpose"),
        (json!({"mime_type": "plain"}), "mime_type"),
        (
            json!({"expires_after": {"anchor": "created_at", "seconds": 60}}),
            "expires_after.seconds",
        ),
        (
            json!({"expires_after": {"anchor": "now", "seconds": 3600}}),
            "expires_after.anchor",
        ),
    ];
    for (extra, param) in cases {
        let r = create(&app, &key, 10, extra.clone()).await;
        assert_eq!(
            assert_envelope(&r, 400)["param"],
            param,
            "{extra}: {}",
            r.body
        );
    }
    let r = create(
        &app,
        &key,
        10,
        json!({"expires_after": {"anchor": "created_at", "seconds": 7200}}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (created, expires) = (r.body["created_at"].as_i64(), r.body["expires_at"].as_i64());
    assert_eq!(expires.unwrap() - created.unwrap(), 7200);

    let upload = pending(&app, 3000).await;
    // Over `uploads.max_part_bytes`.
    assert_envelope(
        &send_part(&app.address, &key, &upload, text(1201)).await,
        413,
    );
    let a = part(&app, &upload, text(1200)).await;
    let _b = part(&app, &upload, text(1200)).await;
    // Over what the upload declared.
    let r = send_part(&app.address, &key, &upload, text(601)).await;
    assert_eq!(assert_envelope(&r, 400)["param"], "data", "{}", r.body);
    // An empty part, stored nowhere.
    let before = on_disk(&parts_dir(&files, &upload));
    let r = send_part(&app.address, &key, &upload, Vec::new()).await;
    let refused = assert_envelope(&r, 400);
    assert_eq!(refused["param"], "data", "{}", r.body);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("at least one byte")
    );
    assert_eq!(on_disk(&parts_dir(&files, &upload)), before);
    // A part of another upload, and one that does not exist.
    let other = pending(&app, 10).await;
    let foreign = part(&app, &other, text(10)).await;
    for (ids, param) in [
        (json!([a, foreign]), "part_ids[1]"),
        (json!(["part_nope"]), "part_ids[0]"),
        (json!([a, a]), "part_ids[1]"),
    ] {
        let r = complete(&app, &upload, json!({"part_ids": ids})).await;
        assert_eq!(assert_envelope(&r, 400)["param"], param, "{}", r.body);
    }
    // At most `uploads.max_parts` parts.
    let small = pending(&app, 100).await;
    for _ in 0..4 {
        part(&app, &small, text(1)).await;
    }
    let r = send_part(&app.address, &key, &small, text(1)).await;
    assert_eq!(assert_envelope(&r, 400)["param"], "data", "{}", r.body);
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn another_tenant_s_upload_is_not_found() {
    let s = settings("tenancy");
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let upload = pending(&app, 10).await;
    let a = part(&app, &upload, text(10)).await;
    let b = app.key_b.clone();
    let r = send_part(&app.address, &b, &upload, text(1)).await;
    assert_eq!(assert_envelope(&r, 404)["code"], "not_found");
    let path = format!("/v1/uploads/{upload}/complete");
    let r = app
        .call_as(&b, "POST", &path, Some(json!({"part_ids": [a]})))
        .await;
    assert_envelope(&r, 404);
    let r = app
        .call_as(&b, "POST", &format!("/v1/uploads/{upload}/cancel"), None)
        .await;
    assert_envelope(&r, 404);
    let r = app
        .call("POST", "/v1/uploads/upload_nope/cancel", None)
        .await;
    assert_envelope(&r, 404);
    // Its owner still completes it.
    assert_eq!(
        complete(&app, &upload, json!({"part_ids": [a]}))
            .await
            .status,
        200
    );
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn cancelled_and_expired_uploads_leave_nothing_on_disk() {
    let mut s = settings("ends");
    s.uploads.expiry_secs = 2;
    s.ingest.expiry_sweep_secs = 1;
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let cancelled = pending(&app, 100).await;
    part(&app, &cancelled, text(60)).await;
    let expiring = pending(&app, 100).await;
    let p = part(&app, &expiring, text(60)).await;
    assert_eq!(on_disk(&files).len(), 2);
    let r = app
        .call("POST", &format!("/v1/uploads/{cancelled}/cancel"), None)
        .await;
    assert_eq!(
        (r.status, &r.body["status"]),
        (200, &json!("cancelled")),
        "{}",
        r.body
    );
    assert!(r.body["file"].is_null());
    assert!(!parts_dir(&files, &cancelled).exists());
    // The sweep expires the other and removes its part.
    let mut gone = false;
    for _ in 0..100 {
        if !parts_dir(&files, &expiring).exists() {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the expired upload's parts stayed: {:?}",
        on_disk(&files)
    );
    assert_eq!(on_disk(&files), Vec::<String>::new());
    let r = complete(&app, &expiring, json!({"part_ids": [p]})).await;
    let e = assert_envelope(&r, 400);
    assert!(
        e["message"].as_str().unwrap().contains("expired"),
        "{}",
        r.body
    );
    assert_envelope(
        &send_part(&app.address, &app.key_a, &expiring, text(1)).await,
        400,
    );
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn parts_count_against_the_file_bytes_quota() {
    let mut s = settings("quota");
    s.quotas.max_file_bytes = 1500;
    let files = s.files.dir.clone();
    let app = spawn_app_with(s).await;
    let upload = pending(&app, 2000).await;
    part(&app, &upload, text(1000)).await;
    let r = send_part(&app.address, &app.key_a, &upload, text(1000)).await;
    assert_eq!(
        assert_envelope(&r, 403)["code"],
        "quota_exceeded",
        "{}",
        r.body
    );
    // The refused part is not on disk.
    assert_eq!(on_disk(&parts_dir(&files, &upload)).len(), 1);
    // A file the parts leave no room for is refused too, until the upload is cancelled.
    let form = e2e_tests::upload_form("small.txt", text(600));
    let post = app
        .client
        .post(app.url("/v1/files"))
        .bearer_auth(&app.key_a);
    assert_envelope(&app.send(post.multipart(form)).await, 403);
    let r = app
        .call("POST", &format!("/v1/uploads/{upload}/cancel"), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    app.upload(&app.key_a, "small.txt", text(600)).await;
    std::fs::remove_dir_all(files).ok();
}

#[tokio::test]
async fn parts_survive_a_restart_of_the_server() {
    let db = own_database("uploads_restart").await;
    let files = std::env::temp_dir().join(format!("vs-uploads-restart-{}", uuid::Uuid::new_v4()));
    let env = [("VECTOR_STORE__FILES__MAX_UPLOAD_BYTES", "1000")];
    let port = free_port();
    let mut server = ServerProcess::start(&db, &files, port, &env).await;
    let http = reqwest::Client::new();
    let r: Value = http
        .post(format!("{}/v1/uploads", server.base))
        .json(&json!({
            "bytes": 1800, "filename": "notes.txt", "mime_type": "text/plain",
            "purpose": "assistants"
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let upload = r["id"].as_str().expect("an upload id").to_string();
    let data = text(1800);
    let first = send_part(&server.base, "any", &upload, data[..900].to_vec()).await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Killed: no shutdown, no cleanup; the part was on disk and recorded before its 200.
    server.child.kill().await.expect("the server is killed");
    let server = ServerProcess::start(&db, &files, port, &env).await;
    let second = send_part(&server.base, "any", &upload, data[900..].to_vec()).await;
    assert_eq!(second.status, 200, "{}", second.body);
    let r: Value = http
        .post(format!("{}/v1/uploads/{upload}/complete", server.base))
        .json(&json!({"part_ids": [first.body["id"], second.body["id"]], "md5": md5_of(&data)}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(r["status"], "completed", "{r}");
    let id = r["file"]["id"].as_str().unwrap();
    assert_eq!(std::fs::read(files.join(id)).unwrap(), data);
    assert_eq!(on_disk(&files), [id.to_string()]);
    drop(server);
    std::fs::remove_dir_all(files).ok();
}
