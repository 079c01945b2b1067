//! Uploads in parts: one completion at a time holds an upload.

use store_core::{Catalog, ErrorKind, UploadCatalog, UploadRecord, UploadStatus, now_unix};
use store_pgvector::PgCatalog;

use crate::catalog::unique;
use crate::pool;

async fn pending_upload(catalog: &PgCatalog) -> UploadRecord {
    let tenant = catalog.ensure_tenant(&unique("uploads")).await.unwrap();
    let now = now_unix();
    let upload = UploadRecord {
        id: unique("upload"),
        tenant_id: tenant.id,
        filename: "big.bin".into(),
        bytes: 10,
        mime_type: "application/octet-stream".into(),
        purpose: "assistants".into(),
        status: UploadStatus::Pending,
        created_at: now,
        expires_at: now + 3600,
        file_expires_after: None,
        file_id: None,
    };
    catalog.insert_upload(upload).await.unwrap()
}

#[tokio::test]
async fn a_completion_claims_its_upload_until_it_releases_it_or_its_time_passes() {
    let catalog = PgCatalog::new(pool().await);
    let u = pending_upload(&catalog).await;
    let (t, id) = (u.tenant_id.as_str(), u.id.as_str());
    let claim = catalog.claim_completion(t, id, 600).await.unwrap();
    assert!(
        (claim - now_unix() - 600).abs() <= 5,
        "{claim}: ten minutes from now"
    );
    let again = catalog.claim_completion(t, id, 600).await;
    assert_eq!(again.unwrap_err().kind(), ErrorKind::Conflict);

    // Only the claim's holder releases it.
    catalog.release_completion(id, claim + 1).await.unwrap();
    let still = catalog.claim_completion(t, id, 600).await;
    assert_eq!(still.unwrap_err().kind(), ErrorKind::Conflict);
    catalog.release_completion(id, claim).await.unwrap();

    // A claim whose time has passed (its holder died) is taken over.
    catalog.claim_completion(t, id, -10).await.unwrap();
    catalog.claim_completion(t, id, 600).await.unwrap();
    let other = catalog.claim_completion("another-tenant", id, 600).await;
    assert_eq!(other.unwrap_err().kind(), ErrorKind::NotFound);
}

#[tokio::test]
async fn an_upload_no_longer_pending_cannot_be_claimed() {
    let catalog = PgCatalog::new(pool().await);
    let u = pending_upload(&catalog).await;
    catalog.cancel_upload(&u.tenant_id, &u.id).await.unwrap();
    let claim = catalog.claim_completion(&u.tenant_id, &u.id, 600).await;
    assert_eq!(claim.unwrap_err().kind(), ErrorKind::InvalidInput);
}
