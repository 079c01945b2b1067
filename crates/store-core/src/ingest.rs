//! Files attached to vector stores, and the durable ingestion queue behind them.
//!
//! An attached file is a job until it ends `completed`, `failed` or `cancelled`. Workers claim
//! jobs with a lease (`FOR UPDATE SKIP LOCKED` or equivalent); a worker that dies leaves its
//! lease to run out, and the job is claimed again, at most `max_attempts` times in all (a job
//! released because of a passing fault, or handed back at shutdown, does not spend an attempt;
//! passing faults back off exponentially and end the job after `max_retries`). Every
//! claim has a token of its own: renewing, finishing and writing chunks ([`IngestCatalog::fenced`])
//! are accepted only from the current one, so a worker whose claim was taken over (the file was
//! re-attached, or its lease ran out) can no longer change the file's chunks or status. Chunk
//! ids are deterministic, so a retried job overwrites what an earlier try wrote.

use std::future::Future;
use std::pin::Pin;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::PageOrder;
use crate::error::StoreResult;

pub use models::openai::FileStatus;

/// Why a file failed: `server_error`, `unsupported_file` or `invalid_file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastError {
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttachedFile {
    pub vector_store_id: String,
    pub file_id: String,
    pub tenant_id: String,
    pub batch_id: Option<String>,
    pub status: FileStatus,
    pub last_error: Option<LastError>,
    pub attributes: Map<String, Value>,
    pub max_chunk_tokens: u32,
    pub overlap_tokens: u32,
    pub usage_bytes: u64,
    pub created_at: i64,
    /// How many of its claims ended without an answer (its worker crashed or stalled past the
    /// lease), counting the one held now.
    pub attempts: u32,
    /// How many times it was released because of a passing fault.
    pub retries: u32,
}

/// Counts of a vector store's (or a batch's) files by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub in_progress: u64,
    pub completed: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub usage_bytes: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.in_progress + self.completed + self.failed + self.cancelled
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedPage {
    pub status: Option<FileStatus>,
    pub batch_id: Option<String>,
    pub limit: usize,
    pub order: PageOrder,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// How a claimed job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    Completed {
        usage_bytes: u64,
    },
    Failed(LastError),
    /// A passing fault (a back-end or the embedding provider unavailable): release the claim
    /// so the job is tried again after a back-off that doubles with each retry. It does not
    /// spend an attempt; it adds a retry.
    Retry,
    /// The worker is stopping: release the claim at once, spending neither an attempt nor a
    /// retry.
    HandBack,
}

/// The longest a retried job waits before it is claimed again, in seconds.
pub const MAX_RETRY_DELAY_SECS: i64 = 300;

/// How long a job released for its `retries`-th time (1 for the first) waits before it is
/// claimed again: 2 s, doubling with each retry, at most [`MAX_RETRY_DELAY_SECS`].
pub fn retry_delay_secs(retries: u32) -> i64 {
    let doublings = retries.saturating_sub(1).min(30);
    (2i64 << doublings).min(MAX_RETRY_DELAY_SECS)
}

/// What a claim asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRequest {
    pub lease_secs: i64,
    pub max_attempts: u32,
    /// Jobs claimed at once, at most.
    pub limit: usize,
    /// Only jobs of vector stores on these back-ends and with these embedding models (or
    /// none), the ones the claiming server has; `None`, any.
    pub runnable: Option<Runnable>,
}

impl ClaimRequest {
    /// Up to `limit` jobs of any vector store.
    pub fn new(lease_secs: i64, max_attempts: u32, limit: usize) -> Self {
        Self {
            lease_secs,
            max_attempts,
            limit,
            runnable: None,
        }
    }

    /// Only jobs that `runnable` says this server can run.
    pub fn runnable(mut self, runnable: Runnable) -> Self {
        self.runnable = Some(runnable);
        self
    }
}

/// The back-ends and embedding models a server has: it claims only jobs it can run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Runnable {
    pub backends: Vec<String>,
    pub models: Vec<String>,
}

/// A job as one worker holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    pub job: AttachedFile,
    /// This claim's own token.
    pub token: String,
    /// Larger than every earlier claim's, of any job: orders writes that may land late
    /// ([`crate::VectorStore::upsert_claimed`]).
    pub generation: u64,
    /// The job is not to run: its tries are used up ([`attempts_used_up`]) or its file
    /// stopped servers too often ([`crashed_too_often`]). The claim's holder removes the
    /// chunks earlier tries wrote, then ends it `failed` with this error.
    pub doomed: Option<LastError>,
}

/// Writes of a job's chunks, run by [`IngestCatalog::fenced`] while the claim is held; the
/// number it yields is passed back.
pub type FencedWork = Pin<Box<dyn Future<Output = StoreResult<u64>> + Send + 'static>>;

/// Writes of several jobs' chunks, made for the jobs whose claims
/// [`IngestCatalog::fenced_group`] found held (their file ids).
pub type GroupWork = Box<dyn FnOnce(Vec<String>) -> FencedWork + Send + 'static>;

/// What [`IngestCatalog::claim`] says of a job whose tries are used up.
pub fn attempts_used_up(max_attempts: u32) -> LastError {
    LastError {
        code: "server_error".into(),
        message: format!("the file could not be processed after {max_attempts} tries"),
    }
}

/// What a job says once it was retried `max_retries` times because of passing faults.
pub fn retries_used_up(max_retries: u32) -> LastError {
    LastError {
        code: "server_error".into(),
        message: format!(
            "the file could not be processed: the server was unable to, {max_retries} times over \
             a while; attach it again to retry"
        ),
    }
}

/// What [`IngestCatalog::claim`] says of a job whose file's claims ended without an answer
/// `max_attempts` times (re-attaching does not reset that count).
pub fn crashed_too_often(max_attempts: u32) -> LastError {
    LastError {
        code: "server_error".into(),
        message: format!(
            "processing this file stopped a server {max_attempts} times (a crash or a stall); it \
             is not tried again"
        ),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub vector_store_id: String,
    pub tenant_id: String,
    pub created_at: i64,
    pub cancelled: bool,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait IngestCatalog: Send + Sync + std::fmt::Debug + 'static {
    /// Attaches (or re-attaches, restarting ingestion) a file; the job is queued.
    async fn attach(&self, file: AttachedFile) -> StoreResult<AttachedFile>;

    async fn attached(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
    ) -> StoreResult<AttachedFile>;

    async fn page_attached(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        page: AttachedPage,
    ) -> StoreResult<(Vec<AttachedFile>, bool)>;

    async fn set_attributes(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<AttachedFile>;

    async fn detach(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
    ) -> StoreResult<()>;

    /// Counts by status for a vector store, or for one batch of it.
    async fn counts(
        &self,
        vector_store_id: &str,
        batch_id: Option<String>,
    ) -> StoreResult<StatusCounts>;

    /// Claims queued jobs whose lease is free, for `lease_secs`, with a new token. A free job
    /// whose claims ended without an answer `max_attempts` times already is not run again: it
    /// is claimed [`Claim::doomed`] with [`attempts_used_up`], for its holder to remove what
    /// earlier tries wrote and end it `failed` (a job that crashes its worker cannot crash
    /// every server that takes it). A claim whose lease ran out while held (its server crashed
    /// or stalled) also counts against the file itself, in every vector store and across
    /// re-attachments: a file whose claims ended so `max_attempts` times is not run again
    /// anywhere (doomed with [`crashed_too_often`]).
    /// Up to `limit` jobs are claimed at once, by turns across tenants, each one's oldest
    /// first; a job released by a retry waits out its back-off ([`retry_delay_secs`]).
    async fn claim(&self, request: ClaimRequest) -> StoreResult<Vec<Claim>>;

    /// Extends the claim `token` to `lease_secs` from now, so that a job that runs longer than
    /// one lease is not claimed twice; false when the claim is no longer held (cancelled,
    /// detached, finished, re-attached or claimed again).
    async fn renew(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        lease_secs: i64,
    ) -> StoreResult<bool>;

    /// Ends or releases the claim `token`; false when the job was cancelled, detached,
    /// re-attached or claimed again meanwhile (nothing is changed then).
    async fn finish(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        outcome: JobOutcome,
    ) -> StoreResult<bool>;

    /// Runs `work` (writes of the job's chunks) only while the claim `token` is current, and
    /// keeps it current until `work` is done: a re-attach, detach or cancel waits for it. `None`,
    /// without running `work`, when the claim is no longer held.
    async fn fenced(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        work: FencedWork,
    ) -> StoreResult<Option<u64>>;

    /// [`IngestCatalog::fenced`] for several jobs of one vector store at once: `jobs` are
    /// (file id, claim token); `work` is given the file ids whose claims are held, and runs
    /// (while they stay held) only when there is at least one. Returns those file ids. A job
    /// whose row another transaction holds at that moment is left out, not waited for: the
    /// caller goes on with it alone ([`IngestCatalog::fenced`] waits).
    async fn fenced_group(
        &self,
        vector_store_id: &str,
        jobs: Vec<(String, String)>,
        work: GroupWork,
    ) -> StoreResult<Vec<String>>;

    /// Ends several claims of one vector store `completed` at once: `jobs` are (file id, claim
    /// token, usage bytes). Returns the file ids ended; a claim no longer held is left as it is
    /// (as [`IngestCatalog::finish`] does).
    async fn finish_completed(
        &self,
        vector_store_id: &str,
        jobs: Vec<(String, String, u64)>,
    ) -> StoreResult<Vec<String>>;

    /// The job's status now, or `None` when the file is no longer attached.
    async fn status(&self, vector_store_id: &str, file_id: &str)
    -> StoreResult<Option<FileStatus>>;

    async fn create_batch(&self, batch: Batch, files: Vec<AttachedFile>) -> StoreResult<Batch>;

    async fn batch(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        batch_id: &str,
    ) -> StoreResult<Batch>;

    /// Marks the batch cancelled and its queued files `cancelled`; the batch, and how many of
    /// its files this cancelled.
    async fn cancel_batch(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        batch_id: &str,
    ) -> StoreResult<(Batch, u64)>;

    /// How many files wait for ingestion or are being ingested (`in_progress`), in every
    /// vector store of every tenant.
    async fn queue_depth(&self) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_delay_doubles_up_to_its_cap() {
        let delays: Vec<i64> = (1..=10).map(retry_delay_secs).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_delay_secs(0), 2);
        assert_eq!(retry_delay_secs(63), MAX_RETRY_DELAY_SECS);
        assert_eq!(retry_delay_secs(u32::MAX), MAX_RETRY_DELAY_SECS);
    }
}
