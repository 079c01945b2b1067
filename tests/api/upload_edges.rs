//! Uploads at their edges: names with any characters, a part arriving while its upload is
//! cancelled, the quota of pending uploads, and the bounds of a form.

use std::time::Duration;

use e2e_tests::{assert_envelope, spawn_app_with, test_settings};
use serde_json::{Value, json};

use crate::uploads::{complete, create, part, pending, text};

#[tokio::test]
async fn a_file_named_with_any_characters_is_downloaded_under_its_name() {
    let app = spawn_app_with(test_settings()).await;
    let name = "a\u{1}\"b é.txt";
    let r = create(&app, &app.key_a, 3, json!({"filename": name})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let upload = r.body["id"].as_str().unwrap().to_string();
    let part_id = part(&app, &upload, b"abc".to_vec()).await;
    let done = complete(&app, &upload, json!({"part_ids": [part_id]})).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["file"]["filename"], name);
    let file = done.body["file"]["id"].as_str().unwrap();
    let res = app.file_content(&app.key_a, file).await;
    assert_eq!(res.status(), 200);
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(
        disposition,
        "attachment; filename=\"a__b _.txt\"; filename*=UTF-8''a%01%22b%20%C3%A9.txt"
    );
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"abc");
}

#[tokio::test]
async fn a_part_still_arriving_when_its_upload_is_cancelled_is_refused_as_cancelled() {
    use futures::StreamExt;

    let app = spawn_app_with(test_settings()).await;
    let upload = pending(&app, 4 << 20).await;
    // The part's first MiB, then the rest once the upload is cancelled.
    let (go, gate) = tokio::sync::oneshot::channel::<()>();
    let first = futures::stream::once(async { Ok::<_, std::io::Error>(vec![b'a'; 1 << 20]) });
    let rest = futures::stream::once(async move {
        gate.await.ok();
        Ok(vec![b'b'; 1 << 20])
    });
    let body = reqwest::Body::wrap_stream(first.chain(rest));
    let form = reqwest::multipart::Form::new().part(
        "data",
        reqwest::multipart::Part::stream(body).file_name("blob"),
    );
    let sent = app
        .client
        .post(app.url(&format!("/v1/uploads/{upload}/parts")))
        .bearer_auth(&app.key_a)
        .multipart(form)
        .send();
    let sent = tokio::spawn(sent);
    // The part is being written.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancel = app
        .call("POST", &format!("/v1/uploads/{upload}/cancel"), None)
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    go.send(()).unwrap();
    let res = sent.await.unwrap().unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("was cancelled"), "{body}");
}

#[tokio::test]
async fn pending_uploads_count_against_their_quota_until_they_end() {
    let mut s = test_settings();
    s.quotas.max_pending_uploads = 2;
    let app = spawn_app_with(s).await;
    let first = pending(&app, 10).await;
    pending(&app, 10).await;
    let r = create(&app, &app.key_a, 10, json!({})).await;
    let e = assert_envelope(&r, 403);
    assert_eq!(e["code"], "quota_exceeded", "{e:?}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("quotas.max_pending_uploads")
    );
    // Another tenant has its own.
    let other = create(&app, &app.key_b, 10, json!({})).await;
    assert_eq!(other.status, 200, "{}", other.body);
    // An upload that ended no longer counts.
    let cancel = app
        .call("POST", &format!("/v1/uploads/{first}/cancel"), None)
        .await;
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    pending(&app, 10).await;
}

#[tokio::test]
async fn forms_are_bounded_in_parts_and_field_sizes() {
    let app = spawn_app_with(test_settings()).await;
    // A file and 16 more fields: 17 parts.
    let mut form = e2e_tests::upload_form("a.txt", b"hello".to_vec());
    for i in 0..15 {
        form = form.text(format!("x{i}"), "v");
    }
    let post = app
        .client
        .post(app.url("/v1/files"))
        .bearer_auth(&app.key_a)
        .multipart(form);
    let r = app.send(post).await;
    let e = assert_envelope(&r, 400);
    assert!(
        e["message"].as_str().unwrap().contains("at most 16 parts"),
        "{e:?}"
    );
    // A part's form with a long field before its data.
    let upload = pending(&app, 10).await;
    let form = reqwest::multipart::Form::new()
        .text("junk", "j".repeat(5000))
        .part(
            "data",
            reqwest::multipart::Part::bytes(text(10)).file_name("blob"),
        );
    let post = app
        .client
        .post(app.url(&format!("/v1/uploads/{upload}/parts")))
        .bearer_auth(&app.key_a)
        .multipart(form);
    let r = app.send(post).await;
    assert_eq!(assert_envelope(&r, 400)["param"], "junk", "{}", r.body);
}
