//! The catalog of uploads in parts (OpenAI's Uploads API): an upload's record and the record of
//! each part received. The parts' bytes live in the service's files directory; the catalog keeps
//! what the API reports and what quotas count, scoped by tenant. Part bytes count against the
//! tenant's file-bytes quota from the moment a part is recorded until its upload ends.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::StoreResult;
use crate::files::FileRecord;

pub use models::openai::UploadStatus;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadRecord {
    /// `upload_…`, time-ordered.
    pub id: String,
    pub tenant_id: String,
    pub filename: String,
    /// The size the file will have, as declared when the upload was made.
    pub bytes: u64,
    pub mime_type: String,
    pub purpose: String,
    pub status: UploadStatus,
    pub created_at: i64,
    pub expires_at: i64,
    /// The expiry the completed file gets, seconds after its creation (`expires_after`).
    pub file_expires_after: Option<i64>,
    /// The file the upload became, once completed.
    pub file_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// `part_…`, time-ordered.
    pub id: String,
    pub upload_id: String,
    pub bytes: u64,
    pub created_at: i64,
}

/// How a part may be added: the bounds checked when it is recorded, together with the quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartBounds {
    /// The most parts an upload has.
    pub max_parts: usize,
    /// Now, to refuse an upload past its expiry.
    pub now: i64,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UploadCatalog: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_upload(&self, upload: UploadRecord) -> StoreResult<UploadRecord>;

    /// NotFound for another tenant's upload, exactly as for a missing one.
    async fn get_upload(&self, tenant_id: &str, id: &str) -> StoreResult<UploadRecord>;

    /// Records a part of the tenant's upload, in one transaction under a lock of the upload:
    /// refused (InvalidInput) unless the upload is pending and not past its expiry, has fewer
    /// than `max_parts` parts and its parts stay within its declared bytes; refused
    /// (QuotaExceeded) when the tenant's file bytes, parts included, would pass its quota.
    async fn insert_part(
        &self,
        tenant_id: &str,
        part: PartRecord,
        bounds: PartBounds,
    ) -> StoreResult<PartRecord>;

    /// The upload's parts, oldest first.
    async fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartRecord>>;

    /// Claims the tenant's pending upload for one completion, for `lease_secs` by the
    /// catalog's clock (one clock for every server), so that a completion at the same time is
    /// refused (Conflict) rather than joining the parts again; a claim whose time has passed
    /// (its holder died) is taken over. The claim's token, to release it. InvalidInput when the
    /// upload is no longer pending.
    async fn claim_completion(
        &self,
        tenant_id: &str,
        id: &str,
        lease_secs: i64,
    ) -> StoreResult<i64>;

    /// Gives up the claim `token` of a completion that did not complete (a wrong MD5, a join
    /// that failed); nothing when the claim was taken over meanwhile.
    async fn release_completion(&self, id: &str, token: i64) -> StoreResult<()>;

    /// Ends the tenant's pending upload as completed, in one transaction: `file` is recorded
    /// (the file-count quota checked; its bytes are the parts', counted already), the upload
    /// names it, and the parts' records go. InvalidInput when the upload is no longer pending.
    async fn complete_upload(
        &self,
        tenant_id: &str,
        id: &str,
        file: FileRecord,
    ) -> StoreResult<UploadRecord>;

    /// Ends the tenant's pending upload as cancelled and removes its parts' records.
    /// InvalidInput when the upload is no longer pending.
    async fn cancel_upload(&self, tenant_id: &str, id: &str) -> StoreResult<UploadRecord>;

    /// Marks pending uploads whose `expires_at` has passed as expired, across tenants, at most
    /// `limit`, and removes their parts' records; returns them.
    async fn expire_uploads(&self, now: i64, limit: usize) -> StoreResult<Vec<UploadRecord>>;

    /// Whether the upload with this id (of any tenant) is pending, i.e. its parts are wanted.
    async fn upload_pending(&self, id: &str) -> StoreResult<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_they_are_written() {
        for status in [
            UploadStatus::Pending,
            UploadStatus::Completed,
            UploadStatus::Cancelled,
            UploadStatus::Expired,
        ] {
            assert_eq!(status.as_str().parse::<UploadStatus>(), Ok(status));
        }
        assert!("done".parse::<UploadStatus>().is_err());
    }
}
