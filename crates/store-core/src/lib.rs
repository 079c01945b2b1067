//! The storage back-end contract.
//!
//! This crate owns what every storage back-end implements and what the service layer relies on:
//! - [`VectorStore`]: collections of chunks (text, vector, attributes) searched by vector, by
//!   keyword or by both (hybrid), with the [`Filter`] model and a score threshold;
//! - [`Catalog`]: tenants, hashed API keys and the collection records that say which back-end a
//!   collection lives on;
//! - [`StoreRegistry`]: the back-ends compiled into a binary, keyed by name, built once, each
//!   counted and timed ([`metrics`]);
//! - [`UploadCatalog`]: uploads in parts and their parts' records;
//! - [`StoreError`] with its transport-free [`ErrorKind`].
//!
//! Features: `testkit` (the conformance suite every back-end runs against its real server),
//! `mocks` (mockall mocks of the traits).
//!
//! Scores handed back by a back-end are always in `0..=1`, higher is better, in every mode.

pub mod catalog;
pub mod error;
pub mod field;
pub mod files;
pub mod filter;
pub mod fusion;
pub mod ingest;
pub mod limits;
pub mod metrics;
pub mod quota;
pub mod registry;
pub mod store;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod uploads;

pub use catalog::{
    ApiKeyRecord, Catalog, CollectionRecord, CollectionStats, CollectionUpdate, PageOrder,
    PageRequest, PoolStatus, StaleUsage, Tenant,
};
pub use error::{ErrorKind, StoreError, StoreResult};
pub use field::{DocumentPart, Field, FileExpiryPart};
pub use files::{FileCatalog, FilePage, FileRecord};
pub use filter::{Comparison, Filter, FilterValue, Op, Scalar};
pub use ingest::{
    AttachedFile, AttachedPage, Batch, Claim, ClaimRequest, FencedWork, FileStatus, GroupWork,
    IngestCatalog, JobOutcome, LastError, MAX_RETRY_DELAY_SECS, Runnable, StatusCounts,
    attempts_used_up, crashed_too_often, retries_used_up, retry_delay_secs,
};
pub use quota::{Quota, Quotas};
pub use registry::StoreRegistry;
pub use store::{
    Chunk, CollectionSpec, Fusion, Hit, HitSource, HybridOptions, MAX_K, PhysicalName, SearchQuery,
    SearchRequest, StoredChunk, VectorStore, check_vector, last_of_each_id, run_search,
};
pub use uploads::{PartBounds, PartRecord, UploadCatalog, UploadRecord, UploadStatus};

#[cfg(any(test, feature = "mocks"))]
pub use catalog::MockCatalog;
#[cfg(any(test, feature = "mocks"))]
pub use files::MockFileCatalog;
#[cfg(any(test, feature = "mocks"))]
pub use ingest::MockIngestCatalog;
#[cfg(any(test, feature = "mocks"))]
pub use store::MockVectorStore;
#[cfg(any(test, feature = "mocks"))]
pub use uploads::MockUploadCatalog;

/// Seconds since the Unix epoch, as every stored timestamp is kept.
pub fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
