//! Tests of uploads, the blob store and file expiry.

use super::*;
use store_core::MockFileCatalog;

fn body(data: &'static [u8]) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin {
    futures::stream::iter([Ok(data)])
}

#[tokio::test]
async fn uploads_are_refused_while_the_disk_is_below_its_free_space_mark() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::new(dir.path()).unwrap();
    let full = FileService::new(Arc::new(MockFileCatalog::new()), blobs.clone(), 1 << 20)
        .with_min_free_bytes(u64::MAX);
    let e = full.receive("file-1", body(b"hello")).await.unwrap_err();
    assert!(matches!(e, ServiceError::InsufficientStorage(_)), "{e:?}");
    // Nothing was written.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let roomy =
        FileService::new(Arc::new(MockFileCatalog::new()), blobs, 1 << 20).with_min_free_bytes(1);
    let (_temp, n) = roomy.receive("file-2", body(b"hello")).await.unwrap();
    assert_eq!(n, 5);
}

#[tokio::test]
async fn what_no_file_record_owns_is_swept_once_idle_and_found_so_twice() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::new(dir.path()).unwrap();
    for name in [
        "file-a.text",
        "file-b",
        "file-b.text",
        "file-c",
        ".file-d.part",
        ".file-b.text.x1.part",
    ] {
        std::fs::write(dir.path().join(name), b"x").unwrap();
    }
    let mut catalog = MockFileCatalog::new();
    catalog
        .expect_file_exists()
        .returning(|id| Ok(id == "file-b"));
    let files = FileService::new(Arc::new(catalog), blobs, 1 << 20);
    // Nothing is old enough yet.
    assert_eq!(
        files
            .sweep_orphans(std::time::Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    // The temporaries go at once; the orphans are suspected, and go when the next sweep finds
    // them orphaned again.
    let sweep = || files.sweep_orphans(std::time::Duration::ZERO);
    assert_eq!(sweep().await.unwrap(), 2);
    assert!(dir.path().join("file-c").exists());
    assert_eq!(sweep().await.unwrap(), 2);
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(left, ["file-b", "file-b.text"]);
}

#[tokio::test]
async fn on_s3_what_no_file_record_owns_is_swept_once_idle() {
    let settings = crate::blob::tests::s3_bucket("orphans").await;
    let blobs = BlobStore::s3(&settings).unwrap();
    for key in [
        "file-a.text",
        "file-b",
        "file-b.text",
        "file-c",
        "uploads/upload_1/p1",
    ] {
        let mut temp = blobs.temp(key).await.unwrap();
        temp.write(body(b"x"), 10).await.unwrap();
        temp.commit().await.unwrap();
    }
    let mut catalog = MockFileCatalog::new();
    catalog
        .expect_file_exists()
        .returning(|id| Ok(id == "file-b"));
    let files = FileService::new(Arc::new(catalog), blobs.clone(), 1 << 20);
    let idle = std::time::Duration::from_secs(3600);
    assert_eq!(files.sweep_orphans(idle).await.unwrap(), 0);
    // Found orphaned by one sweep, removed by the next that finds them so again.
    let sweep = || files.sweep_orphans(std::time::Duration::ZERO);
    assert_eq!(sweep().await.unwrap(), 0);
    assert_eq!(sweep().await.unwrap(), 2);
    let listing = blobs.list("").await.unwrap();
    let mut left: Vec<_> = listing.blobs.into_iter().map(|b| b.name).collect();
    left.sort();
    assert_eq!(left, ["file-b", "file-b.text"]);
    // Parts are the uploads' sweep's.
    assert_eq!(listing.dirs, ["uploads"]);
}

#[tokio::test]
async fn bytes_whose_record_came_after_one_sweep_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let blobs = BlobStore::new(dir.path()).unwrap();
    std::fs::write(dir.path().join("file-new"), b"x").unwrap();
    // No record at the first sweep (the bytes were just stored), one at the second.
    let recorded = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut catalog = MockFileCatalog::new();
    let seen = recorded.clone();
    catalog
        .expect_file_exists()
        .returning(move |_| Ok(seen.load(std::sync::atomic::Ordering::SeqCst)));
    let files = FileService::new(Arc::new(catalog), blobs, 1 << 20);
    let sweep = || files.sweep_orphans(std::time::Duration::ZERO);
    assert_eq!(sweep().await.unwrap(), 0);
    recorded.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(sweep().await.unwrap(), 0);
    assert!(dir.path().join("file-new").exists());
}
