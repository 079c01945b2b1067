//! The blob back-ends' shared behaviour, proven on both: a local temporary directory and a
//! bucket of the S3-API server named by `VECTOR_STORE_TEST_S3_ENDPOINT` (which `make test`
//! starts; without it the S3 tests fail, saying how to start one).

use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;

use super::*;

/// The S3-API server of the tests.
pub(crate) fn s3_endpoint() -> String {
    std::env::var("VECTOR_STORE_TEST_S3_ENDPOINT").expect(
        "VECTOR_STORE_TEST_S3_ENDPOINT is not set: run `make test`, or `scripts/services.sh up s3` \
         and `eval \"$(scripts/services.sh env)\"`",
    )
}

/// A fresh bucket on the tests' S3 server (its name returned), and settings for it.
pub(crate) async fn s3_bucket(prefix: &str) -> S3Settings {
    let endpoint = s3_endpoint();
    let bucket = format!("test-{}", uuid::Uuid::new_v4().simple());
    let created = reqwest::Client::new()
        .put(format!("{endpoint}/{bucket}"))
        .send()
        .await
        .expect("the S3 server answers");
    assert!(created.status().is_success(), "{:?}", created.text().await);
    S3Settings {
        bucket,
        prefix: prefix.into(),
        endpoint,
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        allow_http: true,
        ..S3Settings::default()
    }
}

/// The multipart uploads in progress in the bucket (S3's `ListMultipartUploads`).
async fn uploads_in_progress(settings: &S3Settings) -> usize {
    let url = format!("{}/{}?uploads", settings.endpoint, settings.bucket);
    let body = reqwest::get(url).await.unwrap().text().await.unwrap();
    body.matches("<Upload>").count()
}

fn local() -> (tempfile::TempDir, Arc<dyn BlobBackend>) {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(LocalBackend::new(dir.path()).unwrap());
    (dir, backend)
}

async fn s3(prefix: &str) -> (S3Settings, Arc<dyn BlobBackend>) {
    let settings = s3_bucket(prefix).await;
    let backend = Arc::new(S3Backend::new(&settings).unwrap());
    (settings, backend)
}

async fn put(backend: &dyn BlobBackend, key: &str, bytes: &[u8]) {
    let mut writer = backend.writer(key).await.unwrap();
    for chunk in bytes.chunks(64 << 10) {
        writer.write(chunk).await.unwrap();
    }
    writer.finish().await.unwrap();
}

async fn read(backend: &dyn BlobBackend, key: &str) -> Option<Vec<u8>> {
    let (stream, size) = backend.open_read(key).await.unwrap()?;
    let chunks: Vec<_> = stream.try_collect().await.unwrap();
    let bytes = chunks.concat();
    assert_eq!(bytes.len() as u64, size);
    Some(bytes)
}

/// Puts, reads (whole, streamed and by range), lists and deletes.
async fn round_trip(backend: &dyn BlobBackend) {
    put(backend, "file-1", b"hello world").await;
    put(backend, "file-1.text", b"hello").await;
    put(backend, "uploads/upload_1/part_1", b"abc").await;
    put(backend, "uploads/upload_1/part_2", b"def").await;
    assert_eq!(read(backend, "file-1").await.unwrap(), b"hello world");
    assert_eq!(backend.head("file-1").await.unwrap(), Some(11));
    assert_eq!(backend.head("file-2").await.unwrap(), None);
    assert!(read(backend, "file-2").await.is_none());
    let (range, size) = backend.get_range("file-1", 6..100).await.unwrap().unwrap();
    assert_eq!((&range[..], size), (&b"world"[..], 11));
    let (past, size) = backend.get_range("file-1", 50..100).await.unwrap().unwrap();
    assert!(past.is_empty() && size == 11);
    let (none, size) = backend.get_range("file-1", 3..3).await.unwrap().unwrap();
    assert!(none.is_empty() && size == 11);
    assert!(backend.get_range("file-2", 0..10).await.unwrap().is_none());
    put(backend, "file-empty", b"").await;
    let (empty, size) = backend
        .get_range("file-empty", 0..10)
        .await
        .unwrap()
        .unwrap();
    assert!(empty.is_empty() && size == 0);
    backend.delete("file-empty").await.unwrap();
    let top = backend.list("").await.unwrap();
    let mut names: Vec<_> = top.blobs.iter().map(|b| b.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["file-1", "file-1.text"]);
    assert_eq!(top.dirs, ["uploads"]);
    assert!(top.blobs.iter().all(|b| b.age < Duration::from_secs(600)));
    assert_eq!(backend.list("uploads").await.unwrap().dirs, ["upload_1"]);
    let parts = backend.list("uploads/upload_1").await.unwrap();
    assert_eq!(parts.blobs.len(), 2);
    // Replacing a blob.
    put(backend, "file-1", b"bye").await;
    assert_eq!(read(backend, "file-1").await.unwrap(), b"bye");
    backend.delete("file-1").await.unwrap();
    backend.delete("file-1").await.unwrap();
    assert!(read(backend, "file-1").await.is_none());
    backend.delete_dir("uploads/upload_1").await.unwrap();
    assert!(
        backend
            .list("uploads/upload_1")
            .await
            .unwrap()
            .blobs
            .is_empty()
    );
    backend.delete_dir("uploads/upload_9").await.unwrap();
}

/// Writers dropped before they finish, small and past a part's size, leave nothing.
async fn abandoned_writes_leave_nothing(backend: &dyn BlobBackend) {
    let mut small = backend.writer("file-small").await.unwrap();
    small.write(b"partial").await.unwrap();
    drop(small);
    let mut large = backend.writer("file-large").await.unwrap();
    let chunk = vec![7u8; 1 << 20];
    for _ in 0..(PART_BYTES / chunk.len() + 2) {
        large.write(&chunk).await.unwrap();
    }
    drop(large);
    let listing = backend.list("").await.unwrap();
    assert!(listing.blobs.is_empty(), "{listing:?}");
    assert!(backend.head("file-large").await.unwrap().is_none());
}

/// An object of several parts comes back whole.
async fn multipart_objects_round_trip(backend: &dyn BlobBackend) {
    let bytes: Vec<u8> = (0..(2 * PART_BYTES + 12_345))
        .map(|i| (i % 251) as u8)
        .collect();
    put(backend, "file-big", &bytes).await;
    assert_eq!(
        backend.head("file-big").await.unwrap(),
        Some(bytes.len() as u64)
    );
    assert!(read(backend, "file-big").await.unwrap() == bytes);
    let tail = backend
        .get_range("file-big", PART_BYTES as u64..u64::MAX)
        .await;
    assert!(tail.unwrap().unwrap().0[..] == bytes[PART_BYTES..]);
}

#[tokio::test]
async fn the_local_backend_stores_reads_lists_and_deletes() {
    let (_dir, backend) = local();
    round_trip(&*backend).await;
}

#[tokio::test]
async fn the_s3_backend_stores_reads_lists_and_deletes() {
    let (_, backend) = s3("").await;
    round_trip(&*backend).await;
    // Under a prefix, only the prefix's keys are seen.
    let (settings, backend) = s3("tenant-a/files").await;
    round_trip(&*backend).await;
    let mut other = settings.clone();
    other.prefix = "tenant-b".into();
    let other = S3Backend::new(&other).unwrap();
    put(&other, "file-9", b"x").await;
    assert!(backend.head("file-9").await.unwrap().is_none());
}

#[tokio::test]
async fn an_abandoned_local_write_leaves_nothing() {
    let (dir, backend) = local();
    abandoned_writes_leave_nothing(&*backend).await;
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[tokio::test]
async fn an_abandoned_s3_write_leaves_nothing_and_its_multipart_upload_is_aborted() {
    let (settings, backend) = s3("p").await;
    let mut writer = backend.writer("file-begun").await.unwrap();
    writer.write(&vec![1u8; PART_BYTES + 1]).await.unwrap();
    assert_eq!(
        uploads_in_progress(&settings).await,
        1,
        "a multipart upload was begun"
    );
    drop(writer);
    abandoned_writes_leave_nothing(&*backend).await;
    // The abort runs in the background.
    for _ in 0..100 {
        if uploads_in_progress(&settings).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the abandoned multipart upload was not aborted");
}

#[tokio::test]
async fn large_local_blobs_round_trip() {
    let (_dir, backend) = local();
    multipart_objects_round_trip(&*backend).await;
}

#[tokio::test]
async fn large_s3_objects_are_sent_in_parts_and_round_trip() {
    let (settings, backend) = s3("").await;
    multipart_objects_round_trip(&*backend).await;
    assert_eq!(uploads_in_progress(&settings).await, 0);
}

#[tokio::test]
async fn stale_local_temporaries_are_swept_and_s3_has_none() {
    let (dir, backend) = local();
    std::fs::write(dir.path().join(".file-1.x.part"), b"x").unwrap();
    assert_eq!(
        backend
            .sweep_temporaries(Duration::from_secs(60))
            .await
            .unwrap(),
        0
    );
    assert_eq!(backend.sweep_temporaries(Duration::ZERO).await.unwrap(), 1);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let (_, backend) = s3("").await;
    assert_eq!(backend.sweep_temporaries(Duration::ZERO).await.unwrap(), 0);
}

#[test]
fn an_s3_backend_needs_a_bucket() {
    let e = S3Backend::new(&S3Settings::default()).unwrap_err();
    assert!(e.to_string().contains("files.s3.bucket"), "{e}");
}

#[test]
fn s3_secrets_are_not_shown() {
    let settings = S3Settings {
        bucket: "b".into(),
        secret_access_key: "hunter2".into(),
        ..S3Settings::default()
    };
    assert!(!format!("{settings:?}").contains("hunter2"));
    let backend = S3Backend::new(&S3Settings {
        access_key_id: "id".into(),
        ..settings
    })
    .unwrap();
    assert!(!format!("{backend:?}").contains("hunter2"));
}

#[tokio::test]
async fn a_checked_write_checks_as_it_goes_and_stops_at_the_first_refusal() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::new(dir.path()).unwrap();
    let mib = vec![7u8; 1 << 20];
    let body = || futures::stream::iter((0..20).map(|_| Ok::<_, std::io::Error>(mib.clone())));
    // 20 MiB: checked after 8 and 16.
    let checks = std::sync::atomic::AtomicU32::new(0);
    let mut temp = store.temp("file-ok").await.unwrap();
    let n = temp
        .write_checked(body(), u64::MAX, || {
            checks.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(Ok(()))
        })
        .await
        .unwrap();
    assert_eq!((n, checks.into_inner()), (20 << 20, 2));
    drop(temp);
    // A check that refuses stops the write there, and the temporary goes.
    let mut temp = store.temp("file-full").await.unwrap();
    let refused = temp
        .write_checked(body(), u64::MAX, || {
            std::future::ready(Err(ServiceError::InsufficientStorage("full".into())))
        })
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ServiceError::InsufficientStorage(_)),
        "{refused:?}"
    );
    drop(temp);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "{left:?}");
}
