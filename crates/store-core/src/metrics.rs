//! The storage layer's metrics, recorded through the `metrics` facade (the binary installs the
//! exporter): every call of a back-end, counted and timed by [`Instrumented`], which the
//! [`crate::StoreRegistry`] puts around each back-end it is given. Labels are the back-end's
//! registry name (`backend`) and the [`VectorStore`] method called (`operation`), never a
//! collection or an id.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, StoreError, StoreResult};
use crate::store::{Chunk, CollectionSpec, Hit, SearchRequest, StoredChunk, VectorStore};

/// Calls of a back-end, by `backend` and `operation`.
pub const BACKEND_REQUESTS: &str = "vector_store_backend_requests_total";
/// Calls of a back-end that failed on its side, by `backend` and `operation`.
pub const BACKEND_ERRORS: &str = "vector_store_backend_errors_total";
/// How long calls of a back-end took, in seconds, by `backend` and `operation`.
pub const BACKEND_DURATION: &str = "vector_store_backend_request_duration_seconds";

/// Describes this crate's metrics to the installed recorder (their HELP lines); once, after the
/// recorder is installed.
pub fn describe() {
    metrics::describe_counter!(
        BACKEND_REQUESTS,
        "Calls of a storage back-end, by back-end and operation."
    );
    metrics::describe_counter!(
        BACKEND_ERRORS,
        "Calls of a storage back-end that failed on its side (unavailable or internal), by \
         back-end and operation."
    );
    metrics::describe_histogram!(
        BACKEND_DURATION,
        metrics::Unit::Seconds,
        "Time a call of a storage back-end took, by back-end and operation."
    );
}

/// A back-end whose every call (but [`VectorStore::name`]) is counted in [`BACKEND_REQUESTS`]
/// and timed in [`BACKEND_DURATION`], labelled by the back-end's name and the method's.
///
/// [`BACKEND_ERRORS`] counts the failures of the back-end itself, [`ErrorKind::Unavailable`]
/// and [`ErrorKind::Internal`]. The answers a back-end gives to a request at fault
/// ([`ErrorKind::NotFound`], [`ErrorKind::InvalidInput`], [`ErrorKind::Conflict`]) are
/// counted as calls only: a client asking for a missing collection says nothing of the
/// back-end's health.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn VectorStore>,
    backend: &'static str,
}

impl Instrumented {
    /// `inner`, counted under its own [`VectorStore::name`].
    pub fn new(inner: Arc<dyn VectorStore>) -> Self {
        let backend = inner.name();
        Self { inner, backend }
    }

    /// Runs one call of `operation`, counting and timing it.
    async fn observe<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = StoreResult<T>>,
    ) -> StoreResult<T> {
        let labels = [("backend", self.backend), ("operation", operation)];
        let started = Instant::now();
        let result = call.await;
        metrics::histogram!(BACKEND_DURATION, &labels).record(started.elapsed().as_secs_f64());
        metrics::counter!(BACKEND_REQUESTS, &labels).increment(1);
        if result.as_ref().is_err_and(is_failure) {
            metrics::counter!(BACKEND_ERRORS, &labels).increment(1);
        }
        result
    }
}

/// Whether `e` is the back-end's own failure rather than its answer to a request at fault.
fn is_failure(e: &StoreError) -> bool {
    match e.kind() {
        ErrorKind::Unavailable | ErrorKind::Internal => true,
        ErrorKind::NotFound
        | ErrorKind::InvalidInput
        | ErrorKind::Conflict
        | ErrorKind::QuotaExceeded => false,
    }
}

#[async_trait]
impl VectorStore for Instrumented {
    fn name(&self) -> &'static str {
        self.backend
    }

    async fn ping(&self) -> StoreResult<()> {
        self.observe("ping", self.inner.ping()).await
    }

    async fn create_collection(&self, collection: &CollectionSpec) -> StoreResult<()> {
        self.observe(
            "create_collection",
            self.inner.create_collection(collection),
        )
        .await
    }

    async fn drop_collection(&self, collection: &CollectionSpec) -> StoreResult<()> {
        self.observe("drop_collection", self.inner.drop_collection(collection))
            .await
    }

    async fn upsert(&self, collection: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64> {
        self.observe("upsert", self.inner.upsert(collection, chunks))
            .await
    }

    async fn upsert_claimed(
        &self,
        collection: &CollectionSpec,
        chunks: Vec<Chunk>,
        generation: u64,
    ) -> StoreResult<u64> {
        self.observe(
            "upsert",
            self.inner.upsert_claimed(collection, chunks, generation),
        )
        .await
    }

    async fn trim_files(
        &self,
        collection: &CollectionSpec,
        files: &[(String, u32)],
    ) -> StoreResult<u64> {
        self.observe("trim_files", self.inner.trim_files(collection, files))
            .await
    }

    async fn delete_files(
        &self,
        collection: &CollectionSpec,
        file_ids: &[String],
    ) -> StoreResult<u64> {
        self.observe(
            "delete_files",
            self.inner.delete_files(collection, file_ids),
        )
        .await
    }

    async fn set_file_attributes(
        &self,
        collection: &CollectionSpec,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<u64> {
        self.observe(
            "set_file_attributes",
            self.inner
                .set_file_attributes(collection, file_id, attributes),
        )
        .await
    }

    async fn delete_all(&self, collection: &CollectionSpec) -> StoreResult<u64> {
        self.observe("delete_all", self.inner.delete_all(collection))
            .await
    }

    async fn count(&self, collection: &CollectionSpec) -> StoreResult<u64> {
        self.observe("count", self.inner.count(collection)).await
    }

    async fn usage_bytes(&self, collection: &CollectionSpec) -> StoreResult<u64> {
        self.observe("usage_bytes", self.inner.usage_bytes(collection))
            .await
    }

    async fn list(
        &self,
        collection: &CollectionSpec,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<StoredChunk>> {
        self.observe("list", self.inner.list(collection, limit, offset))
            .await
    }

    async fn file_chunks(
        &self,
        collection: &CollectionSpec,
        file_id: &str,
    ) -> StoreResult<Vec<StoredChunk>> {
        self.observe("file_chunks", self.inner.file_chunks(collection, file_id))
            .await
    }

    async fn search(
        &self,
        collection: &CollectionSpec,
        request: &SearchRequest,
    ) -> StoreResult<Vec<Hit>> {
        self.observe("search", self.inner.search(collection, request))
            .await
    }
}

#[cfg(test)]
mod tests;
