//! The service's metrics, recorded through the `metrics` facade (the binary installs the
//! exporter): ingestion jobs as they end, the ingestion queue and the catalog's connection
//! pool (gauges sampled on demand, [`crate::IngestService::sample_gauges`]), and the requests
//! the per-tenant limits refuse. Labels are outcomes and reasons, never a tenant or an id.
//! [`describe`] describes these and the metrics of the crates below (`store_core`'s back-end
//! calls, `embeddings`' model calls).

use store_core::{FileStatus, PoolStatus};

/// Ingestion jobs that ended, by `outcome`: `completed`, `failed` or `cancelled`.
pub const INGESTION_JOBS: &str = "vector_store_ingestion_jobs_total";
/// Chunks stored by the ingestion jobs that completed.
pub const INGESTION_CHUNKS: &str = "vector_store_ingestion_chunks_total";
/// Bytes of the files whose ingestion completed.
pub const INGESTION_BYTES: &str = "vector_store_ingestion_bytes_total";
/// Files waiting for ingestion or being ingested, of every tenant.
pub const INGESTION_QUEUE_DEPTH: &str = "vector_store_ingestion_queue_depth";
/// Connections the catalog's pool holds.
pub const DB_POOL_CONNECTIONS: &str = "vector_store_db_pool_connections";
/// Connections of the catalog's pool lent out.
pub const DB_POOL_IN_USE: &str = "vector_store_db_pool_in_use";
/// Callers waiting for a connection of the catalog's pool.
pub const DB_POOL_WAITING: &str = "vector_store_db_pool_waiting";
/// Requests refused by a per-tenant limit, by `reason`: `rate` or `in_flight`.
pub const RATE_LIMIT_REFUSALS: &str = "vector_store_rate_limit_refusals_total";
/// Searches whose hits a reranker was asked to reorder, by `reranker` and `outcome`:
/// `reranked`, or why the hits kept their order (`timeout`, `unreachable`, `status`, `answer`).
pub const RERANKS: &str = "vector_store_reranks_total";
/// Queries a chat model was asked to rewrite, by `rewriter` and `outcome`: `rewritten`, or why
/// the query was searched as given (`timeout`, `unreachable`, `status`, `answer`, `invalid`).
pub const QUERY_REWRITES: &str = "vector_store_query_rewrites_total";

/// Describes the metrics of the service and of the crates below it to the installed recorder
/// (their HELP lines); once, after the recorder is installed.
pub fn describe() {
    store_core::metrics::describe();
    embeddings::metrics::describe();
    metrics::describe_counter!(
        INGESTION_JOBS,
        "Ingestion jobs that ended, by outcome (completed, failed, cancelled)."
    );
    metrics::describe_counter!(
        INGESTION_CHUNKS,
        "Chunks stored by the ingestion jobs that completed."
    );
    metrics::describe_counter!(
        INGESTION_BYTES,
        metrics::Unit::Bytes,
        "Bytes of the files whose ingestion completed."
    );
    metrics::describe_gauge!(
        INGESTION_QUEUE_DEPTH,
        "Files waiting for ingestion or being ingested, of every tenant."
    );
    metrics::describe_gauge!(DB_POOL_CONNECTIONS, "Connections the database pool holds.");
    metrics::describe_gauge!(DB_POOL_IN_USE, "Connections of the database pool lent out.");
    metrics::describe_gauge!(
        DB_POOL_WAITING,
        "Callers waiting for a connection of the database pool."
    );
    metrics::describe_counter!(
        RERANKS,
        "Searches whose hits a reranker was asked to reorder, by reranker and outcome (reranked; \
         or, the hits keeping their order: timeout, unreachable, status, answer)."
    );
    metrics::describe_counter!(
        QUERY_REWRITES,
        "Queries a chat model was asked to rewrite, by rewriter and outcome (rewritten; or, the \
         query searched as given: timeout, unreachable, status, answer, invalid)."
    );
    metrics::describe_counter!(
        RATE_LIMIT_REFUSALS,
        "Requests refused by a per-tenant limit, by reason (rate: the request rate; in_flight: no \
         turn among the requests in flight in time)."
    );
}

/// Why a per-tenant limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The tenant's token bucket was empty.
    Rate,
    /// No turn among the tenant's requests in flight came in time.
    InFlight,
}

/// Counts a refused request.
pub(crate) fn refused(reason: Refusal) {
    let reason = match reason {
        Refusal::Rate => "rate",
        Refusal::InFlight => "in_flight",
    };
    metrics::counter!(RATE_LIMIT_REFUSALS, "reason" => reason).increment(1);
}

/// Counts `n` jobs that ended `status` (a job still `in_progress` has not ended).
pub(crate) fn jobs_ended(status: FileStatus, n: u64) {
    match status {
        FileStatus::Completed | FileStatus::Failed | FileStatus::Cancelled => {
            metrics::counter!(INGESTION_JOBS, "outcome" => status.as_str()).increment(n);
        }
        FileStatus::InProgress => {}
    }
}

/// Counts a job that completed, with the chunks it stored and the bytes of its file.
pub(crate) fn job_completed(chunks: u64, file_bytes: u64) {
    jobs_ended(FileStatus::Completed, 1);
    metrics::counter!(INGESTION_CHUNKS).increment(chunks);
    metrics::counter!(INGESTION_BYTES).increment(file_bytes);
}

/// Sets the queue-depth gauge.
pub(crate) fn queue_depth(files: u64) {
    metrics::gauge!(INGESTION_QUEUE_DEPTH).set(files as f64);
}

/// Sets the connection-pool gauges.
pub(crate) fn pool(status: PoolStatus) {
    metrics::gauge!(DB_POOL_CONNECTIONS).set(status.size as f64);
    metrics::gauge!(DB_POOL_IN_USE).set(status.in_use as f64);
    metrics::gauge!(DB_POOL_WAITING).set(status.waiting as f64);
}

/// What the tests of this crate recorded.
#[cfg(test)]
pub(crate) mod testing {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    pub(crate) type Recorded = Vec<(
        metrics_util::CompositeKey,
        Option<metrics::Unit>,
        Option<metrics::SharedString>,
        DebugValue,
    )>;

    /// Runs `f` to its end on a runtime of its own (one thread, with timers) with a recorder
    /// of its own; what it recorded.
    pub(crate) fn recorded<T>(f: impl Future<Output = T>) -> (T, Recorded) {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a runtime");
        let out = metrics::with_local_recorder(&recorder, || runtime.block_on(f));
        (out, snapshotter.snapshot().into_vec())
    }

    /// The value of metric `name` with exactly the labels `labels`, if it was recorded.
    pub(crate) fn value<'a>(
        recorded: &'a Recorded,
        name: &str,
        labels: &[(&str, &str)],
    ) -> Option<&'a DebugValue> {
        let mut want = labels.to_vec();
        want.sort();
        recorded.iter().find_map(|(key, _, _, value)| {
            let mut got: Vec<(&str, &str)> =
                key.key().labels().map(|l| (l.key(), l.value())).collect();
            got.sort();
            (key.key().name() == name && got == want).then_some(value)
        })
    }

    /// The counter `name` with exactly `labels`; 0 when it was never incremented.
    pub(crate) fn counter(recorded: &Recorded, name: &str, labels: &[(&str, &str)]) -> u64 {
        match value(recorded, name, labels) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    /// The gauge `name`, if it was set.
    pub(crate) fn gauge(recorded: &Recorded, name: &str) -> Option<f64> {
        match value(recorded, name, &[]) {
            Some(DebugValue::Gauge(v)) => Some(v.into_inner()),
            None => None,
            Some(other) => panic!("{name} is not a gauge: {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests;
