//! Tests of uploads in parts over a mocked catalog and a real files directory.

use super::*;
use store_core::{MockFileCatalog, MockUploadCatalog, Quota, StoreError};

fn tenant() -> Tenant {
    Tenant {
        id: "t1".into(),
        name: "t1".into(),
    }
}

fn limits() -> UploadLimits {
    UploadLimits {
        max_bytes: 100,
        max_part_bytes: 10,
        max_parts: 5,
        expiry_secs: 3600,
    }
}

fn service(dir: &std::path::Path, catalog: MockUploadCatalog) -> UploadService {
    let blobs = crate::BlobStore::new(dir).unwrap();
    let files = FileService::new(Arc::new(MockFileCatalog::new()), blobs, 1 << 20);
    UploadService::new(Arc::new(catalog), files, limits())
}

fn upload(bytes: u64, status: UploadStatus) -> UploadRecord {
    UploadRecord {
        id: "upload_1".into(),
        tenant_id: "t1".into(),
        filename: "big.txt".into(),
        bytes,
        mime_type: "text/plain".into(),
        purpose: "assistants".into(),
        status,
        created_at: now_unix(),
        expires_at: now_unix() + 3600,
        file_expires_after: None,
        file_id: None,
    }
}

/// A catalog holding the pending upload `upload_1` of `bytes`, and its `parts`.
fn pending(bytes: u64, parts: Vec<PartRecord>) -> MockUploadCatalog {
    let mut catalog = MockUploadCatalog::new();
    catalog
        .expect_get_upload()
        .returning(move |_, _| Ok(upload(bytes, UploadStatus::Pending)));
    catalog.expect_parts().returning(move |_| Ok(parts.clone()));
    catalog
}

fn part(id: &str, bytes: u64) -> PartRecord {
    PartRecord {
        id: id.into(),
        upload_id: "upload_1".into(),
        bytes,
        created_at: now_unix(),
    }
}

fn body(data: &'static [u8]) -> impl Stream<Item = Result<&'static [u8], String>> + Unpin {
    futures::stream::iter([Ok(data)])
}

/// The names under `dir`, recursively, relative to it.
fn on_disk(dir: &std::path::Path) -> Vec<String> {
    fn walk(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<String>) {
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

fn new_upload(bytes: u64) -> NewUpload {
    NewUpload {
        bytes,
        filename: "dir/big.txt".into(),
        mime_type: "text/plain".into(),
        purpose: "assistants".into(),
        expires_after: None,
    }
}

fn field_of(e: &ServiceError) -> Option<String> {
    e.field().map(Field::common_name)
}

#[tokio::test]
async fn a_new_upload_is_pending_for_an_hour_with_a_clean_filename() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = MockUploadCatalog::new();
    catalog.expect_insert_upload().times(1).returning(Ok);
    let uploads = service(dir.path(), catalog);
    let u = uploads.create(&tenant(), new_upload(100)).await.unwrap();
    assert!(u.id.starts_with("upload_"), "{}", u.id);
    assert_eq!(
        (u.status, u.filename.as_str()),
        (UploadStatus::Pending, "big.txt")
    );
    assert_eq!(u.expires_at - u.created_at, 3600);
    assert_eq!(u.file_expires_after, None);
}

#[tokio::test]
async fn bad_declarations_are_refused_naming_their_field() {
    let dir = tempfile::tempdir().unwrap();
    let uploads = service(dir.path(), MockUploadCatalog::new());
    let cases = [
        (
            NewUpload {
                bytes: 101,
                ..new_upload(0)
            },
            "bytes",
        ),
        (
            NewUpload {
                purpose: "nope".into(),
                ..new_upload(1)
            },
            "purpose",
        ),
        (
            NewUpload {
                mime_type: "text".into(),
                ..new_upload(1)
            },
            "mime_type",
        ),
        (
            NewUpload {
                mime_type: "a b/c".into(),
                ..new_upload(1)
            },
            "mime_type",
        ),
        (
            NewUpload {
                filename: " ".into(),
                ..new_upload(1)
            },
            "filename",
        ),
        (
            NewUpload {
                expires_after: Some(("created_at".into(), 3599)),
                ..new_upload(1)
            },
            "expires_after.seconds",
        ),
        (
            NewUpload {
                expires_after: Some(("created_at".into(), 2_592_001)),
                ..new_upload(1)
            },
            "expires_after.seconds",
        ),
        (
            NewUpload {
                expires_after: Some(("last_active_at".into(), 3600)),
                ..new_upload(1)
            },
            "expires_after.anchor",
        ),
    ];
    for (new, param) in cases {
        let e = uploads.create(&tenant(), new.clone()).await.unwrap_err();
        assert_eq!(field_of(&e).as_deref(), Some(param), "{new:?}: {e}");
    }
}

#[tokio::test]
async fn expires_after_sets_the_upload_s_expiry_and_the_file_s() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = MockUploadCatalog::new();
    catalog.expect_insert_upload().returning(Ok);
    let uploads = service(dir.path(), catalog);
    let new = NewUpload {
        expires_after: Some(("created_at".into(), 7200)),
        mime_type: "text/plain; charset=utf-8".into(),
        ..new_upload(5)
    };
    let u = uploads.create(&tenant(), new).await.unwrap();
    assert_eq!(u.expires_at - u.created_at, 7200);
    assert_eq!(u.file_expires_after, Some(7200));
}

#[tokio::test]
async fn a_part_is_on_disk_when_it_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = pending(20, vec![part("part_0", 4)]);
    let root = dir.path().join("uploads").join("upload_1");
    let seen = root.clone();
    catalog
        .expect_insert_part()
        .times(1)
        .returning(move |tenant, p, bounds| {
            assert_eq!((tenant, bounds.max_parts, p.bytes), ("t1", 5, 5));
            assert_eq!(std::fs::read(seen.join(&p.id)).unwrap(), b"hello");
            Ok(p)
        });
    let uploads = service(dir.path(), catalog);
    let p = uploads
        .add_part(&tenant(), "upload_1", body(b"hello"))
        .await
        .unwrap();
    assert!(p.id.starts_with("part_"), "{}", p.id);
    assert_eq!(on_disk(dir.path()), [format!("uploads/upload_1/{}", p.id)]);
}

#[tokio::test]
async fn a_part_the_catalog_refuses_leaves_nothing_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = pending(20, vec![]);
    catalog.expect_insert_part().returning(|_, _, _| {
        Err(StoreError::QuotaExceeded {
            quota: Quota::FileBytes,
            limit: 3,
        })
    });
    let uploads = service(dir.path(), catalog);
    let e = uploads
        .add_part(&tenant(), "upload_1", body(b"hello"))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::QuotaExceeded { .. }), "{e:?}");
    assert!(on_disk(dir.path()).is_empty(), "{:?}", on_disk(dir.path()));
}

#[tokio::test]
async fn parts_over_their_bound_or_the_declared_size_are_refused_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = pending(30, vec![part("part_0", 25)]);
    catalog.expect_insert_part().never();
    let uploads = service(dir.path(), catalog);
    // 11 bytes: over the part bound of 10 and over the 5 left of the 30 declared.
    let e = uploads
        .add_part(&tenant(), "upload_1", body(b"hello world"))
        .await
        .unwrap_err();
    assert_eq!(field_of(&e).as_deref(), Some("data"), "{e:?}");
    assert!(e.to_string().contains("yet to receive"), "{e}");
    assert!(on_disk(dir.path()).is_empty(), "{:?}", on_disk(dir.path()));

    let mut catalog = pending(30, vec![]);
    catalog.expect_insert_part().never();
    let uploads = service(dir.path(), catalog);
    let e = uploads
        .add_part(&tenant(), "upload_1", body(b"hello world"))
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::TooLarge(_)), "{e:?}");
    assert!(on_disk(dir.path()).is_empty(), "{:?}", on_disk(dir.path()));
}

#[tokio::test]
async fn an_upload_that_ended_takes_nothing_more() {
    for status in [
        UploadStatus::Completed,
        UploadStatus::Cancelled,
        UploadStatus::Expired,
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut catalog = MockUploadCatalog::new();
        catalog
            .expect_get_upload()
            .returning(move |_, _| Ok(upload(5, status)));
        catalog.expect_insert_part().never();
        catalog.expect_complete_upload().never();
        catalog.expect_cancel_upload().never();
        let uploads = service(dir.path(), catalog);
        let t = tenant();
        let e = uploads
            .add_part(&t, "upload_1", body(b"hello"))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ServiceError::Invalid { field: None, .. }),
            "{e:?}"
        );
        let ids = ["part_0".to_string()];
        assert!(uploads.complete(&t, "upload_1", &ids, None).await.is_err());
        assert!(uploads.cancel(&t, "upload_1").await.is_err());
        assert!(on_disk(dir.path()).is_empty());
    }
}

/// An upload of 10 bytes whose two parts are on disk.
fn with_two_parts(dir: &std::path::Path) -> MockUploadCatalog {
    let parts = dir.join("uploads").join("upload_1");
    std::fs::create_dir_all(&parts).unwrap();
    std::fs::write(parts.join("part_a"), b"hello").unwrap();
    std::fs::write(parts.join("part_b"), b"world").unwrap();
    let mut catalog = pending(10, vec![part("part_a", 5), part("part_b", 5)]);
    catalog.expect_claim_completion().returning(|_, _, lease| {
        assert_eq!(lease, COMPLETION_LEASE_SECS);
        Ok(CLAIM)
    });
    catalog
}

/// The token of the claims the mocked catalog hands out.
const CLAIM: i64 = 1_700_000_600;

/// Expects the claim of a completion that failed to be released, once.
fn released_once(catalog: &mut MockUploadCatalog) {
    catalog
        .expect_release_completion()
        .times(1)
        .returning(|id, token| {
            assert_eq!((id, token), ("upload_1", CLAIM), "its own claim");
            Ok(())
        });
}

fn ids(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_string()).collect()
}

#[tokio::test]
async fn completing_joins_the_parts_in_the_order_given_and_removes_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = with_two_parts(dir.path());
    catalog
        .expect_complete_upload()
        .times(1)
        .returning(|_, _, file| {
            let mut u = upload(10, UploadStatus::Completed);
            u.file_id = Some(file.id);
            Ok(u)
        });
    let uploads = service(dir.path(), catalog);
    // The MD5 of "worldhello".
    let md5 = hex::encode(Md5::digest(b"worldhello"));
    let (u, file) = uploads
        .complete(
            &tenant(),
            "upload_1",
            &ids(&["part_b", "part_a"]),
            Some(&md5),
        )
        .await
        .unwrap();
    assert_eq!(u.file_id.as_deref(), Some(file.id.as_str()));
    assert_eq!((file.bytes, file.filename.as_str()), (10, "big.txt"));
    assert_eq!(
        std::fs::read(dir.path().join(&file.id)).unwrap(),
        b"worldhello"
    );
    assert_eq!(on_disk(dir.path()), [file.id]);
}

#[tokio::test]
async fn a_wrong_md5_a_wrong_total_or_unknown_parts_leave_the_upload_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = with_two_parts(dir.path());
    catalog.expect_complete_upload().never();
    // Only the wrong MD5 is found after the parts are joined, under the claim.
    released_once(&mut catalog);
    let uploads = service(dir.path(), catalog);
    let t = tenant();
    let before = on_disk(dir.path());
    let wrong = hex::encode(Md5::digest(b"helloworld!"));
    let cases = [
        (ids(&["part_a", "part_b"]), Some(wrong.as_str()), "md5"),
        (ids(&["part_a", "part_b"]), Some("xyz"), "md5"),
        (ids(&["part_a"]), None, "part_ids"),
        (ids(&["part_a", "part_zz"]), None, "part_ids[1]"),
        (ids(&["part_a", "part_a"]), None, "part_ids[1]"),
    ];
    for (parts, md5, param) in cases {
        let e = uploads
            .complete(&t, "upload_1", &parts, md5)
            .await
            .unwrap_err();
        assert_eq!(
            field_of(&e).as_deref(),
            Some(param),
            "{parts:?} {md5:?}: {e}"
        );
        assert_eq!(on_disk(dir.path()), before);
    }
}

#[tokio::test]
async fn a_completion_the_catalog_refuses_leaves_no_file_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = with_two_parts(dir.path());
    catalog
        .expect_complete_upload()
        .returning(|_, _, _| Err(StoreError::invalid("upload upload_1 is completed")));
    released_once(&mut catalog);
    let uploads = service(dir.path(), catalog);
    let before = on_disk(dir.path());
    let parts = ids(&["part_a", "part_b"]);
    assert!(
        uploads
            .complete(&tenant(), "upload_1", &parts, None)
            .await
            .is_err()
    );
    assert_eq!(on_disk(dir.path()), before);
}

#[tokio::test]
async fn a_completion_under_way_refuses_another_before_any_join() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = pending(10, vec![part("part_a", 5), part("part_b", 5)]);
    catalog
        .expect_claim_completion()
        .times(1)
        .returning(|_, _, _| Err(StoreError::conflict("upload_1 is being completed")));
    catalog.expect_release_completion().never();
    catalog.expect_complete_upload().never();
    let uploads = service(dir.path(), catalog);
    let parts = ids(&["part_a", "part_b"]);
    let e = uploads
        .complete(&tenant(), "upload_1", &parts, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ServiceError::Conflict(_)), "{e:?}");
    // No parts on disk were read, and no file was written.
    assert!(on_disk(dir.path()).is_empty());
}

#[tokio::test]
async fn cancelling_removes_the_parts() {
    let dir = tempfile::tempdir().unwrap();
    let mut catalog = with_two_parts(dir.path());
    catalog
        .expect_cancel_upload()
        .times(1)
        .returning(|_, _| Ok(upload(10, UploadStatus::Cancelled)));
    let uploads = service(dir.path(), catalog);
    let u = uploads.cancel(&tenant(), "upload_1").await.unwrap();
    assert_eq!(u.status, UploadStatus::Cancelled);
    assert!(on_disk(dir.path()).is_empty());
    assert!(!dir.path().join("uploads").join("upload_1").exists());
}

#[tokio::test]
async fn the_sweep_removes_expired_uploads_parts_and_any_no_pending_upload_owns() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("uploads");
    for (upload, part) in [
        ("upload_old", "p1"),
        ("upload_left", "p2"),
        ("upload_live", "p3"),
    ] {
        std::fs::create_dir_all(root.join(upload)).unwrap();
        std::fs::write(root.join(upload).join(part), b"x").unwrap();
    }
    let mut catalog = MockUploadCatalog::new();
    catalog.expect_expire_uploads().times(1).returning(|_, _| {
        let mut u = upload(1, UploadStatus::Expired);
        u.id = "upload_old".into();
        Ok(vec![u])
    });
    catalog
        .expect_upload_pending()
        .returning(|id| Ok(id == "upload_live"));
    let uploads = service(dir.path(), catalog);
    assert_eq!(uploads.sweep().await.unwrap(), 1);
    assert_eq!(on_disk(dir.path()), ["uploads/upload_live/p3"]);
}

#[test]
fn md5s_and_mime_types_are_checked_for_form() {
    assert!(check_md5("d41d8cd98f00b204e9800998ecf8427e").is_ok());
    assert!(check_md5("d41d8cd98f00b204e9800998ecf8427").is_err());
    for good in [
        "text/plain",
        "application/vnd.openxmlformats+xml",
        "text/csv; charset=utf-8",
    ] {
        assert!(check_mime_type(good).is_ok(), "{good}");
    }
    for bad in ["", "text", "/plain", "text/", "te xt/plain", "text/plain/x"] {
        assert!(check_mime_type(bad).is_err(), "{bad}");
    }
}

#[tokio::test]
async fn on_s3_the_sweep_removes_the_parts_no_pending_upload_owns() {
    let settings = crate::blob::tests::s3_bucket("sweep").await;
    let blobs = crate::BlobStore::s3(&settings).unwrap();
    for key in [
        "uploads/upload_old/p1",
        "uploads/upload_left/p2",
        "uploads/upload_live/p3",
    ] {
        let mut temp = blobs.temp(key).await.unwrap();
        temp.write(body(b"x"), 10).await.unwrap();
        temp.commit().await.unwrap();
    }
    let mut catalog = MockUploadCatalog::new();
    catalog.expect_expire_uploads().times(1).returning(|_, _| {
        let mut u = upload(1, UploadStatus::Expired);
        u.id = "upload_old".into();
        Ok(vec![u])
    });
    catalog
        .expect_upload_pending()
        .returning(|id| Ok(id == "upload_live"));
    let files = FileService::new(Arc::new(MockFileCatalog::new()), blobs.clone(), 1 << 20);
    let uploads = UploadService::new(Arc::new(catalog), files, limits());
    assert_eq!(uploads.sweep().await.unwrap(), 1);
    assert_eq!(blobs.list("uploads").await.unwrap().dirs, ["upload_live"]);
}
