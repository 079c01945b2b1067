//! Upload edge cases of `/v1/files` that the official client cannot produce.

use e2e_tests::{assert_envelope, spawn_app_with, test_settings};

/// A form part: its name, its filename (a file part) and its bytes.
type Part<'a> = (&'a str, Option<&'a str>, &'a [u8]);

fn multipart(parts: &[Part]) -> (String, Vec<u8>) {
    let boundary = "XyZboundary42";
    let mut body = Vec::new();
    for (name, filename, data) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; \
                     filename=\"{f}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
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

/// The names in `dir`, temporaries included.
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_form_refused_after_its_file_part_leaves_nothing_on_disk() {
    let mut settings = test_settings();
    settings.files.dir =
        std::env::temp_dir().join(format!("vs-files-refused-{}", uuid::Uuid::new_v4()));
    let dir = settings.files.dir.clone();
    let app = spawn_app_with(settings).await;
    let post = |ct: String, body: Vec<u8>| {
        app.client
            .post(app.url("/v1/files"))
            .bearer_auth(&app.key_a)
            .header("content-type", ct)
            .body(body)
    };
    let long = vec![b'x'; 5000];
    let cases: Vec<(&str, Vec<Part>)> = vec![
        (
            "a second file part",
            vec![
                ("purpose", None, b"assistants"),
                ("file", Some("a.txt"), b"one"),
                ("file", Some("b.txt"), b"two"),
            ],
        ),
        (
            "an oversized field after the file",
            vec![("file", Some("a.txt"), b"one"), ("purpose", None, &long)],
        ),
        (
            "a field that is not UTF-8",
            vec![
                ("file", Some("a.txt"), b"one"),
                ("purpose", None, b"\xff\xfe"),
            ],
        ),
        (
            "an unknown purpose",
            vec![("file", Some("a.txt"), b"one"), ("purpose", None, b"nope")],
        ),
    ];
    for (what, parts) in cases {
        let (ct, body) = multipart(&parts);
        let r = app.send(post(ct, body)).await;
        assert_envelope(&r, 400);
        assert!(entries(&dir).is_empty(), "{what}: {:?}", entries(&dir));
    }
    // A body that breaks off after the file part.
    let (ct, mut body) = multipart(&[
        ("file", Some("a.txt"), b"one"),
        ("purpose", None, b"assistants"),
    ]);
    body.truncate(body.len() - 30);
    assert_envelope(&app.send(post(ct, body)).await, 400);
    assert!(entries(&dir).is_empty(), "{:?}", entries(&dir));

    // A client that goes away in the middle of the file.
    use tokio::io::AsyncWriteExt;
    let (ct, body) = multipart(&[
        ("purpose", None, b"assistants"),
        ("file", Some("big.txt"), &vec![b'a'; 200_000]),
    ]);
    let mut tcp = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    let head = format!(
        "POST /v1/files HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: \
         {ct}\r\nContent-Length: {}\r\n\r\n",
        app.key_a,
        body.len()
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    tcp.write_all(&body[..100_000]).await.unwrap();
    tcp.flush().await.unwrap();
    // Wait until the temporary exists, then hang up.
    for _ in 0..100 {
        if !entries(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(!entries(&dir).is_empty(), "the upload had begun");
    drop(tcp);
    let mut left = entries(&dir);
    for _ in 0..100 {
        left = entries(&dir);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        left.is_empty(),
        "the abandoned upload's temporary is gone: {left:?}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn start_up_mends_the_temporaries_a_crash_left() {
    let mut settings = test_settings();
    settings.files.dir =
        std::env::temp_dir().join(format!("vs-files-crash-{}", uuid::Uuid::new_v4()));
    let dir = settings.files.dir.clone();
    let app = spawn_app_with(settings.clone()).await;
    let id = app
        .upload(&app.key_a, "kept.txt", b"kept bytes".to_vec())
        .await;
    // As if the server died between committing the record and the rename: the bytes are still
    // the temporary.
    std::fs::rename(dir.join(&id), dir.join(format!(".{id}.part"))).unwrap();
    // And an upload that never got its record, long abandoned.
    let orphan = dir.join(".file-orphan.part");
    std::fs::write(&orphan, b"orphan").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&orphan)
        .unwrap()
        .set_modified(old)
        .unwrap();
    // And one of another instance, still being written.
    std::fs::write(dir.join(".file-fresh.part"), b"fresh").unwrap();
    let key = app.key_a.clone();
    drop(app);

    let app = spawn_app_with(settings).await;
    let mut names = entries(&dir);
    names.sort();
    assert_eq!(names, vec![".file-fresh.part".to_string(), id.clone()]);
    assert_eq!(app.file_content(&key, &id).await.status(), 200);
    std::fs::remove_dir_all(dir).ok();
}
