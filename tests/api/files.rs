//! Upload edge cases of `/v1/files` that the official client cannot produce.

use e2e_tests::{assert_envelope, spawn_app_with, test_settings};

fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes()),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn uploads_over_the_limit_missing_parts_and_wrong_types_are_refused() {
    let mut settings = test_settings();
    settings.files.max_upload_bytes = 1000;
    settings.files.dir = std::env::temp_dir().join(format!("vs-files-{}", std::process::id()));
    let dir = settings.files.dir.clone();
    let app = spawn_app_with(settings).await;
    let post = |ct: String, body: Vec<u8>| {
        app.client
            .post(app.url("/v1/files"))
            .bearer_auth(&app.key_a)
            .header("content-type", ct)
            .body(body)
    };

    let big = vec![b'a'; 1001];
    let (ct, body) = multipart(&[
        ("purpose", None, b"assistants"),
        ("file", Some("big.txt"), &big),
    ]);
    let r = app.send(post(ct, body)).await;
    assert_envelope(&r, 413);

    let (ct, body) = multipart(&[("purpose", None, b"assistants")]);
    let e = assert_envelope(&app.send(post(ct, body)).await, 400).clone();
    assert_eq!(e["param"], "file");

    let (ct, body) = multipart(&[("file", Some("a.txt"), b"hello")]);
    let e = assert_envelope(&app.send(post(ct, body)).await, 400).clone();
    assert_eq!(e["param"], "purpose");

    let (ct, body) = multipart(&[
        ("purpose", None, b"assistants"),
        ("file", Some("../../etc/passwd"), b"hello"),
    ]);
    let r = app.send(post(ct, body)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["filename"], "passwd",
        "paths are stripped from filenames"
    );

    let r = app
        .send(post("application/json".into(), b"{}".to_vec()))
        .await;
    assert_envelope(&r, 400);

    // Nothing of the refused uploads stays on disk: only the one accepted file.
    let kept: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    std::fs::remove_dir_all(dir).ok();
}
