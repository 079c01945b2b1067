//! Chunk writes through `_bulk`: batches bounded in chunks and in bytes, each item's outcome,
//! versions for ingestion claims, and the wait after a write that timed out on this side.

use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use store_core::{
    Chunk, CollectionSpec, DocumentPart, Field, StoreError, StoreResult, last_of_each_id,
};

use super::by_query::task_of;
use super::transport::{Payload, Request, overload_backoff};
use super::{ElasticStore, MAX_ID_BYTES, decode};
use crate::error::ElasticError;
use crate::query;

/// How often the tasks of a timed-out write are looked at.
const SETTLE_POLL: Duration = Duration::from_millis(250);

/// Elasticsearch's refusal of a versioned write older than the stored document.
const VERSION_CONFLICT: &str = "version_conflict_engine_exception";

impl ElasticStore {
    /// Writes chunks, each batch in one `_bulk`; with a `generation`, as versioned writes a
    /// later generation's chunk is never replaced by.
    pub(super) async fn write(
        &self,
        spec: &CollectionSpec,
        chunks: Vec<Chunk>,
        generation: Option<u64>,
    ) -> StoreResult<u64> {
        let index = self.index(spec);
        for c in &chunks {
            spec.check_vector(&c.vector)?;
            c.check_limits()?;
            if c.id.is_empty() || c.id.len() > MAX_ID_BYTES {
                return Err(StoreError::invalid_field(
                    Field::Chunk(DocumentPart::Id),
                    format!("a chunk id is 1 to {MAX_ID_BYTES} bytes"),
                ));
            }
        }
        let chunks = last_of_each_id(chunks);
        let sizes = chunks
            .iter()
            .map(|c| {
                let size = bulk_bytes(c, generation);
                if size > self.options.bulk_max_bytes {
                    return Err(StoreError::invalid_field(
                        Field::Chunks,
                        format!(
                            "chunk '{}' takes {size} bytes in a write, more than the {} bytes \
                             one request to Elasticsearch may carry",
                            c.id, self.options.bulk_max_bytes
                        ),
                    ));
                }
                Ok(size)
            })
            .collect::<StoreResult<Vec<usize>>>()?;
        // `_bulk` would create a missing index on the fly, with a mapping of its own guessing.
        self.require(spec).await?;
        let total = chunks.len() as u64;
        let mut rest = &chunks[..];
        for n in batch_lengths(
            &sizes,
            self.options.bulk_batch_size,
            self.options.bulk_max_bytes,
        ) {
            let (batch, after) = rest.split_at(n);
            self.bulk(spec, &index, batch, generation).await?;
            rest = after;
        }
        Ok(total)
    }

    /// Writes one batch; one the cluster finds too large (413) is written in halves. A request
    /// that timed out here may still be running there: the call returns only once
    /// Elasticsearch no longer lists its task (or the wait runs out), so a fence the caller
    /// holds is not released while the write can still land.
    async fn bulk(
        &self,
        spec: &CollectionSpec,
        index: &str,
        batch: &[Chunk],
        generation: Option<u64>,
    ) -> StoreResult<()> {
        let mut parts = vec![batch];
        while let Some(part) = parts.pop() {
            let id = format!("vector-store-bulk-{}", uuid::Uuid::new_v4());
            match self.bulk_tries(index, part, generation, &id).await {
                Ok(()) => {}
                Err(BulkError::Store(e)) => return Err(e),
                Err(BulkError::Elastic(e)) if e.status() == Some(413) && part.len() > 1 => {
                    tracing::info!(
                        index,
                        chunks = part.len(),
                        "Elasticsearch found a write too large; writing it in halves"
                    );
                    let (first, second) = part.split_at(part.len() / 2);
                    parts.push(second);
                    parts.push(first);
                }
                Err(BulkError::Elastic(e)) if e.status() == Some(413) => {
                    return Err(StoreError::invalid_field(
                        Field::Chunks,
                        format!(
                            "chunk '{}' is larger than the Elasticsearch cluster accepts in one \
                             request (its http.max_content_length)",
                            part[0].id
                        ),
                    ));
                }
                Err(BulkError::Elastic(e)) => {
                    // No answer in time (here or at a proxy): the write may still run.
                    if e.is_timeout() {
                        self.settle(&id).await;
                    }
                    return Err(e.into_store(&spec.name));
                }
            }
        }
        Ok(())
    }

    /// Items refused for passing reasons are sent again; the others fail the call with the
    /// first refusal.
    async fn bulk_tries(
        &self,
        index: &str,
        batch: &[Chunk],
        generation: Option<u64>,
        id: &str,
    ) -> Result<(), BulkError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-opaque-id"),
            HeaderValue::from_str(id).map_err(|e| BulkError::Elastic(decode_err(e)))?,
        );
        let mut pending: Vec<&Chunk> = batch.iter().collect();
        let mut attempt = 0u32;
        loop {
            let owned: Vec<Chunk> = pending.iter().map(|c| (*c).clone()).collect();
            let lines = query::bulk_lines(&owned, generation);
            let reply = self
                .send_with(Request {
                    method: Method::Post,
                    path: &format!("/{index}/_bulk"),
                    params: &[("refresh", "wait_for")],
                    payload: Payload::Lines(&lines),
                    headers: &headers,
                })
                .await
                .map_err(BulkError::Elastic)?;
            let can_retry = attempt < self.options.retries;
            let retry: Vec<&Chunk> =
                match bulk_outcome(&reply, pending.len(), can_retry, generation.is_some())
                    .map_err(BulkError::Store)?
                {
                    BulkOutcome::Written => return Ok(()),
                    BulkOutcome::Retry(positions) => {
                        positions.into_iter().map(|i| pending[i]).collect()
                    }
                    BulkOutcome::Refused { position, error } => {
                        let chunk = pending[position];
                        tracing::warn!(index, chunk = %chunk.id, error = %error,
                        "Elasticsearch refused a chunk");
                        return Err(BulkError::Store(match error.into_store(index) {
                            StoreError::InvalidInput { message, .. } => StoreError::invalid_field(
                                Field::Chunks,
                                format!("chunk '{}' was refused: {message}", chunk.id),
                            ),
                            other @ (StoreError::NotFound { .. }
                            | StoreError::Conflict(_)
                            | StoreError::QuotaExceeded { .. }
                            | StoreError::Unavailable { .. }
                            | StoreError::Internal { .. }) => other,
                        }));
                    }
                };
            if retry.is_empty() {
                return Ok(());
            }
            // Items are sent back for a full queue or a moving shard: give the cluster time.
            tokio::time::sleep(overload_backoff(attempt)).await;
            attempt += 1;
            pending = retry;
        }
    }

    /// Waits while Elasticsearch lists a task of the `_bulk` call `id`, for at most twice the
    /// request timeout.
    async fn settle(&self, id: &str) {
        let deadline = Instant::now() + 2 * Duration::from_secs(self.options.timeout_secs.max(1));
        loop {
            let params = [
                ("actions", "indices:data/write/bulk*"),
                ("detailed", "true"),
            ];
            match self
                .send(Method::Get, "/_tasks", &params, Payload::Empty)
                .await
            {
                Ok(reply) if !runs_task_of(&reply, id) => return,
                Ok(_) if Instant::now() < deadline => tokio::time::sleep(SETTLE_POLL).await,
                Ok(_) => {
                    tracing::warn!(
                        request = id,
                        "a chunk write that timed out still runs in Elasticsearch"
                    );
                    return;
                }
                Err(e) => {
                    tracing::warn!(request = id, error = %e,
                        "could not learn whether a chunk write that timed out still runs");
                    return;
                }
            }
        }
    }
}

/// Why a batch was not written.
enum BulkError {
    /// The request failed as a whole.
    Elastic(ElasticError),
    /// Elasticsearch refused an item, or answered something unreadable.
    Store(StoreError),
}

fn decode_err(e: impl std::fmt::Display) -> ElasticError {
    ElasticError::Decode(e.to_string())
}

/// Whether a `_tasks` answer lists a task sent with `X-Opaque-Id: id`.
fn runs_task_of(reply: &Value, id: &str) -> bool {
    task_of(reply, id).is_some()
}

/// The bytes `chunk` takes in a `_bulk` body: its two lines and their line ends.
fn bulk_bytes(chunk: &Chunk, generation: Option<u64>) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    for line in query::bulk_lines(std::slice::from_ref(chunk), generation) {
        // Writing a `Value` to a counter cannot fail.
        let _ = serde_json::to_writer(&mut count, &line);
        count.0 += 1;
    }
    count.0
}

/// Lengths of consecutive batches of chunks of `sizes` bytes: each at most `max_chunks` long
/// and at most `max_bytes` big (a chunk alone is never over it: that is checked before).
fn batch_lengths(sizes: &[usize], max_chunks: usize, max_bytes: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let (mut n, mut bytes) = (0usize, 0usize);
    for &size in sizes {
        if n > 0 && (n == max_chunks || bytes + size > max_bytes) {
            out.push(n);
            (n, bytes) = (0, 0);
        }
        n += 1;
        bytes += size;
    }
    if n > 0 {
        out.push(n);
    }
    out
}

/// What a `_bulk` answer says of a batch.
#[derive(Debug)]
enum BulkOutcome {
    /// Every item was written (or, for a versioned write, is held by its own or a later
    /// generation).
    Written,
    /// These items (positions in the batch) were refused for passing reasons: send them again.
    Retry(Vec<usize>),
    /// The item at `position` was refused for good (or no tries are left).
    Refused {
        position: usize,
        error: ElasticError,
    },
}

/// Reads a `_bulk` answer for a batch of `sent` items; every item must be accounted for.
fn bulk_outcome(
    reply: &Value,
    sent: usize,
    can_retry: bool,
    versioned: bool,
) -> StoreResult<BulkOutcome> {
    let items = reply
        .get("items")
        .and_then(Value::as_array)
        .ok_or_else(|| decode("a _bulk answer without items"))?;
    if items.len() != sent {
        return Err(decode(
            "a _bulk answer with another number of items than were sent",
        ));
    }
    let mut retry = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let result = item
            .as_object()
            .and_then(|o| o.values().next())
            .ok_or_else(|| decode("a _bulk item without a result"))?;
        let status = result.get("status").and_then(Value::as_u64).unwrap_or(500) as u16;
        if (200..300).contains(&status) {
            continue;
        }
        let error = ElasticError::response(status, result);
        if versioned
            && matches!(
                &error,
                ElasticError::Response { status: 409, kind, .. } if kind == VERSION_CONFLICT
            )
        {
            continue;
        }
        if error.is_transient() && can_retry {
            retry.push(position);
        } else {
            return Ok(BulkOutcome::Refused { position, error });
        }
    }
    Ok(if retry.is_empty() {
        BulkOutcome::Written
    } else {
        BulkOutcome::Retry(retry)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bulk_reply(statuses: &[(u16, &str)]) -> Value {
        let items: Vec<Value> = statuses
            .iter()
            .map(|(status, kind)| {
                let mut result = json!({"_id": "x", "status": status});
                if *status >= 300 {
                    result["error"] = json!({"type": kind, "reason": "because"});
                }
                json!({"index": result})
            })
            .collect();
        json!({"errors": statuses.iter().any(|(s, _)| *s >= 300), "items": items})
    }

    #[test]
    fn a_bulk_answer_sends_back_only_the_items_refused_for_passing_reasons() {
        let reply = bulk_reply(&[
            (201, ""),
            (429, "es_rejected_execution_exception"),
            (200, ""),
            (503, "unavailable_shards_exception"),
        ]);
        match bulk_outcome(&reply, 4, true, false).unwrap() {
            BulkOutcome::Retry(positions) => assert_eq!(positions, [1, 3]),
            other @ (BulkOutcome::Written | BulkOutcome::Refused { .. }) => {
                panic!("{other:?}")
            }
        }
        assert!(matches!(
            bulk_outcome(&bulk_reply(&[(201, ""), (200, "")]), 2, true, false).unwrap(),
            BulkOutcome::Written
        ));
    }

    #[test]
    fn a_bulk_item_refused_for_good_or_out_of_tries_is_reported_with_its_position() {
        let refused =
            |reply: &Value, tries_left: bool| match bulk_outcome(reply, 2, tries_left, false) {
                Ok(BulkOutcome::Refused { position, error }) => {
                    (position, error.into_store("c").kind())
                }
                other => panic!("{other:?}"),
            };
        let reply = bulk_reply(&[
            (429, "es_rejected_execution_exception"),
            (400, "document_parsing_exception"),
        ]);
        assert_eq!(
            refused(&reply, true),
            (1, store_core::ErrorKind::InvalidInput)
        );
        assert_eq!(
            refused(&bulk_reply(&[(201, ""), (429, "x")]), false),
            (1, store_core::ErrorKind::Unavailable)
        );
    }

    #[test]
    fn a_bulk_answer_that_does_not_account_for_every_item_is_an_error() {
        assert!(bulk_outcome(&bulk_reply(&[(201, "")]), 2, true, false).is_err());
        assert!(bulk_outcome(&json!({"errors": false}), 1, true, false).is_err());
    }

    #[test]
    fn a_versioned_write_older_than_the_stored_chunk_counts_as_written() {
        let reply = bulk_reply(&[(201, ""), (409, VERSION_CONFLICT)]);
        assert!(matches!(
            bulk_outcome(&reply, 2, true, true).unwrap(),
            BulkOutcome::Written
        ));
        assert!(matches!(
            bulk_outcome(&reply, 2, true, false).unwrap(),
            BulkOutcome::Refused { position: 1, .. }
        ));
    }

    #[test]
    fn a_task_is_found_by_the_opaque_id_it_was_sent_with() {
        let reply = json!({"nodes": {"n1": {"tasks": {
            "n1:7": {"action": "indices:data/write/bulk", "headers": {"X-Opaque-Id": "a"}},
            "n1:8": {"action": "indices:data/write/bulk", "headers": {}}
        }}}});
        assert!(runs_task_of(&reply, "a"));
        assert!(!runs_task_of(&reply, "b"));
        assert!(!runs_task_of(&json!({"nodes": {}}), "a"));
        assert!(!runs_task_of(&json!({}), "a"));
    }

    #[test]
    fn batches_are_cut_by_count_and_by_bytes() {
        assert_eq!(batch_lengths(&[10; 5], 2, 1_000), [2, 2, 1]);
        assert_eq!(batch_lengths(&[40, 40, 40, 90, 10], 10, 100), [2, 1, 2]);
        assert_eq!(batch_lengths(&[100, 100], 10, 100), [1, 1]);
        assert!(batch_lengths(&[], 10, 100).is_empty());
    }

    #[test]
    fn the_bytes_of_a_chunk_are_those_its_bulk_lines_take() {
        let chunk = store_core::testkit::chunk("a:0", "text", vec![1.0, 0.0], json!({}));
        let lines = query::bulk_lines(std::slice::from_ref(&chunk), Some(7));
        let expected: usize = lines.iter().map(|l| l.to_string().len() + 1).sum();
        assert_eq!(bulk_bytes(&chunk, Some(7)), expected);
    }
}

#[cfg(test)]
#[path = "bulk_tests.rs"]
mod cluster_tests;
