//! The catalog of uploaded files. The bytes live in a blob store of the service's; the catalog
//! keeps what the Files API reports, scoped by tenant.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::PageOrder;
use crate::error::StoreResult;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// `file-…`, time-ordered.
    pub id: String,
    pub tenant_id: String,
    pub filename: String,
    pub bytes: u64,
    pub purpose: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePage {
    pub purpose: Option<String>,
    pub limit: usize,
    pub order: PageOrder,
    pub after: Option<String>,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait FileCatalog: Send + Sync + std::fmt::Debug + 'static {
    async fn insert_file(&self, file: FileRecord) -> StoreResult<FileRecord>;

    /// NotFound for another tenant's file, exactly as for a missing one.
    async fn get_file(&self, tenant_id: &str, id: &str) -> StoreResult<FileRecord>;

    /// A page of the tenant's files, and whether more follow.
    async fn page_files(
        &self,
        tenant_id: &str,
        page: FilePage,
    ) -> StoreResult<(Vec<FileRecord>, bool)>;

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<()>;

    /// Files whose `expires_at` has passed, across tenants, at most `limit`.
    async fn expired_files(&self, now: i64, limit: usize) -> StoreResult<Vec<FileRecord>>;

    /// Whether a file with this id is recorded, for any tenant.
    async fn file_exists(&self, id: &str) -> StoreResult<bool>;
}
