//! Chunk writes through `_bulk`: each item's outcome, versions for ingestion claims, and the
//! wait after a write that timed out on this side.

use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use store_core::{
    Chunk, CollectionSpec, DocumentPart, Field, StoreError, StoreResult, last_of_each_id,
};

use super::transport::{Payload, Request, backoff};
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
        // `_bulk` would create a missing index on the fly, with a mapping of its own guessing.
        self.require(spec).await?;
        let chunks = last_of_each_id(chunks);
        let total = chunks.len() as u64;
        for batch in chunks.chunks(self.options.bulk_batch_size) {
            self.bulk(spec, &index, batch, generation).await?;
        }
        Ok(total)
    }

    /// Writes one batch. A request that timed out here may still be running there: the call
    /// returns only once Elasticsearch no longer lists its task (or the wait runs out), so a
    /// fence the caller holds is not released while the write can still land.
    async fn bulk(
        &self,
        spec: &CollectionSpec,
        index: &str,
        batch: &[Chunk],
        generation: Option<u64>,
    ) -> StoreResult<()> {
        let id = format!("vector-store-bulk-{}", uuid::Uuid::new_v4());
        match self.bulk_tries(index, batch, generation, &id).await {
            Ok(()) => Ok(()),
            Err(BulkError::Store(e)) => Err(e),
            Err(BulkError::Elastic(e)) => {
                if matches!(&e, ElasticError::Transport(t) if t.is_timeout()) {
                    self.settle(&id).await;
                }
                Err(e.into_store(&spec.name))
            }
        }
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
            tokio::time::sleep(backoff(attempt)).await;
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
    let Some(nodes) = reply.get("nodes").and_then(Value::as_object) else {
        return false;
    };
    nodes
        .values()
        .filter_map(|n| n.get("tasks").and_then(Value::as_object))
        .flat_map(|tasks| tasks.values())
        .any(|t| {
            t.pointer("/headers/X-Opaque-Id")
                .and_then(Value::as_str)
                .is_some_and(|v| v == id)
        })
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

    mod timed_out {
        use std::sync::{Arc, Mutex};

        use store_core::ErrorKind;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use tokio::net::{TcpListener, TcpStream};

        use super::*;
        use crate::ElasticOptions;

        /// What the fake cluster saw and answered, in order.
        type Events = Arc<Mutex<Vec<String>>>;

        /// A cluster that never answers a `_bulk` in time and lists its task for the first
        /// `running` looks at `_tasks`.
        async fn slow_cluster(running: usize) -> (String, Events) {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let events: Events = Arc::default();
            let seen = events.clone();
            tokio::spawn(async move {
                let opaque: Arc<Mutex<String>> = Arc::default();
                loop {
                    let (socket, _) = listener.accept().await.unwrap();
                    tokio::spawn(serve(socket, seen.clone(), opaque.clone(), running));
                }
            });
            (url, events)
        }

        async fn serve(
            mut socket: TcpStream,
            events: Events,
            opaque: Arc<Mutex<String>>,
            running: usize,
        ) {
            let mut buf = Vec::new();
            loop {
                let mut part = [0u8; 4096];
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match socket.read(&mut part).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&part[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).to_lowercase();
                let header = |name: &str| {
                    head.lines()
                        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
                        .map(str::to_string)
                };
                let length: usize = header("content-length").map_or(0, |v| v.parse().unwrap());
                while buf.len() < head_end + length {
                    match socket.read(&mut part).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&part[..n]),
                    }
                }
                buf.drain(..head_end + length);
                let path = head
                    .split_whitespace()
                    .nth(1)
                    .unwrap_or_default()
                    .to_string();
                if path.contains("/_bulk") {
                    *opaque.lock().unwrap() = header("x-opaque-id").unwrap_or_default();
                    events.lock().unwrap().push("bulk".into());
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    return;
                }
                let id = opaque.lock().unwrap().clone();
                let body = {
                    let mut events = events.lock().unwrap();
                    let polls = events.iter().filter(|e| e.starts_with("tasks")).count();
                    if polls < running {
                        events.push("tasks: running".into());
                        json!({
                            "nodes": {"n": {"tasks": {"n:1": {"headers": {"X-Opaque-Id": id}}}}}
                        })
                    } else {
                        events.push("tasks: none".into());
                        json!({"nodes": {}})
                    }
                }
                .to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-elastic-product: \
                     Elasticsearch\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                if socket.write_all(reply.as_bytes()).await.is_err() {
                    return;
                }
            }
        }

        #[tokio::test]
        async fn a_write_that_timed_out_returns_once_its_task_is_gone() {
            let (url, events) = slow_cluster(3).await;
            let store = ElasticStore::new(ElasticOptions {
                url,
                timeout_secs: 1,
                retries: 0,
                ..ElasticOptions::default()
            })
            .unwrap();
            let spec = CollectionSpec::new("c", 2).unwrap();
            let chunk = store_core::testkit::chunk("a:0", "text", vec![1.0, 0.0], json!({}));
            let e = store
                .bulk(&spec, "idx", &[chunk], Some(7))
                .await
                .unwrap_err();
            events.lock().unwrap().push("returned".into());
            assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
            assert_eq!(
                *events.lock().unwrap(),
                [
                    "bulk",
                    "tasks: running",
                    "tasks: running",
                    "tasks: running",
                    "tasks: none",
                    "returned"
                ]
            );
        }
    }
}
