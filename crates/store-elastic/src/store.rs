//! [`ElasticStore`]: the [`VectorStore`] contract over the Elasticsearch REST API.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::{JsonBody, NdBody};
use serde_json::{Map, Value, json};
use store_core::{
    Chunk, CollectionSpec, DocumentPart, Field, Hit, HitSource, SearchRequest, StoreError,
    StoreResult, StoredChunk, VectorStore, last_of_each_id, run_search,
};

use crate::error::ElasticError;
use crate::mapping::{self, MAX_DIMENSION};
use crate::options::ElasticOptions;
use crate::query;

/// Elasticsearch's default `index.max_result_window`: `from + size` beyond it needs
/// `search_after`.
const MAX_WINDOW: usize = 10_000;

/// Page size when walking an index with `search_after`.
const SCAN_PAGE: usize = 1_000;

/// Elasticsearch's limit on a document id, in bytes.
const MAX_ID_BYTES: usize = 512;

/// The Elasticsearch back-end.
#[derive(Clone)]
pub struct ElasticStore {
    client: Elasticsearch,
    options: ElasticOptions,
}

impl fmt::Debug for ElasticStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElasticStore")
            .field("url", &self.options.url)
            .field("index_prefix", &self.options.index_prefix)
            .finish()
    }
}

/// What a request carries.
#[derive(Clone, Copy)]
enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Lines(&'a [Value]),
}

/// A 2xx answer's body (`Null` when it had none).
type Reply = Value;

impl ElasticStore {
    pub const NAME: &'static str = "elasticsearch";

    /// The back-end for `options`. Nothing is sent yet.
    pub fn new(options: ElasticOptions) -> StoreResult<Self> {
        let client = options.client()?;
        Ok(Self { client, options })
    }

    pub fn options(&self) -> &ElasticOptions {
        &self.options
    }

    fn index(&self, spec: &CollectionSpec) -> StoreResult<String> {
        Ok(mapping::index_name(&self.options, &spec.physical_name()?))
    }

    /// Sends one request, retrying passing failures with back-off; an error status is an error.
    async fn send(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Reply, ElasticError> {
        let mut attempt = 0u32;
        loop {
            match self.send_once(method, path, params, payload).await {
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    tracing::debug!(error = %e, attempt, path, "retrying an Elasticsearch request");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Reply, ElasticError> {
        let headers = HeaderMap::new();
        let query = Some(params);
        let response = match payload {
            Payload::Empty => {
                self.client
                    .send::<&[u8], _>(method, path, headers, query, None, None)
                    .await?
            }
            Payload::Json(body) => {
                self.client
                    .send(
                        method,
                        path,
                        headers,
                        query,
                        Some(JsonBody::new(body)),
                        None,
                    )
                    .await?
            }
            Payload::Lines(lines) => {
                let body = NdBody::new(lines.iter().map(JsonBody::new).collect());
                self.client
                    .send(method, path, headers, query, Some(body), None)
                    .await?
            }
        };
        let status = response.status_code().as_u16();
        let bytes = response.bytes().await?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ElasticError::Decode(e.to_string()))?
        };
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ElasticError::response(status, &body))
        }
    }

    /// `send` for a request about one collection, with its errors as store errors.
    async fn call(
        &self,
        spec: &CollectionSpec,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> StoreResult<Reply> {
        self.send(method, path, params, payload)
            .await
            .map_err(|e| e.into_store(&spec.name))
    }

    /// The dimension the collection's index has, or `None` when there is no such index.
    async fn existing_dimension(&self, spec: &CollectionSpec) -> StoreResult<Option<usize>> {
        let index = self.index(spec)?;
        match self
            .send(
                Method::Get,
                &format!("/{index}/_mapping"),
                &[],
                Payload::Empty,
            )
            .await
        {
            Ok(reply) => mapping::mapped_dimension(&reply).map(Some).ok_or_else(|| {
                StoreError::conflict(format!(
                    "index {index} exists but was not made by this service (it has no vector field)"
                ))
            }),
            Err(ElasticError::Response { status: 404, .. }) => Ok(None),
            Err(e) => Err(e.into_store(&spec.name)),
        }
    }

    async fn require(&self, spec: &CollectionSpec) -> StoreResult<()> {
        match self.existing_dimension(spec).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("collection", spec.name.clone())),
        }
    }

    async fn search_raw(&self, spec: &CollectionSpec, body: &Value) -> StoreResult<Reply> {
        let index = self.index(spec)?;
        self.call(
            spec,
            Method::Post,
            &format!("/{index}/_search"),
            &[],
            Payload::Json(body),
        )
        .await
    }

    /// Scored chunks of one search, best first.
    async fn scored(
        &self,
        spec: &CollectionSpec,
        body: &Value,
        to_score: fn(f64) -> f32,
    ) -> StoreResult<Vec<Hit>> {
        let reply = self.search_raw(spec, body).await?;
        hits(&reply)?
            .iter()
            .map(|h| {
                let score = h.get("_score").and_then(Value::as_f64).unwrap_or(0.0);
                Ok(Hit {
                    chunk: chunk_of(h)?,
                    score: to_score(score),
                })
            })
            .collect()
    }

    /// Chunks matching `query` in list order: `skip` of them passed over, at most `take` kept.
    /// Within Elasticsearch's result window this is one `from`/`size` request; beyond it the
    /// index is walked with `search_after`.
    async fn scan(
        &self,
        spec: &CollectionSpec,
        query: Value,
        skip: usize,
        take: usize,
    ) -> StoreResult<Vec<StoredChunk>> {
        if take == 0 {
            self.require(spec).await?;
            return Ok(Vec::new());
        }
        if skip.saturating_add(take) <= MAX_WINDOW {
            let body = json!({
                "query": query, "from": skip, "size": take,
                "sort": query::list_sort(), "_source": mapping::SOURCE_FIELDS,
            });
            let reply = self.search_raw(spec, &body).await?;
            return hits(&reply)?.iter().map(chunk_of).collect();
        }
        let mut out = Vec::new();
        let mut skipped = 0usize;
        let mut after: Option<Value> = None;
        loop {
            let skipping = skipped < skip;
            let size = if skipping {
                (skip - skipped).min(MAX_WINDOW)
            } else {
                (take - out.len()).min(SCAN_PAGE)
            };
            let mut body = json!({
                "query": query, "size": size, "sort": query::list_sort(),
                "_source": if skipping { json!(false) } else { json!(mapping::SOURCE_FIELDS) },
            });
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let reply = self.search_raw(spec, &body).await?;
            let page = hits(&reply)?;
            let Some(last) = page.last() else {
                return Ok(out);
            };
            after = last.get("sort").cloned();
            if skipping {
                skipped += page.len();
            } else {
                for h in page {
                    out.push(chunk_of(h)?);
                }
                if out.len() >= take {
                    return Ok(out);
                }
            }
            if page.len() < size {
                return Ok(out);
            }
        }
    }

    /// Writes one batch; items refused for passing reasons are sent again, the others fail the
    /// call with the first refusal.
    async fn bulk(&self, spec: &CollectionSpec, index: &str, batch: &[Chunk]) -> StoreResult<()> {
        let mut pending: Vec<&Chunk> = batch.iter().collect();
        let mut attempt = 0u32;
        loop {
            let owned: Vec<Chunk> = pending.iter().map(|c| (*c).clone()).collect();
            let lines = query::bulk_lines(&owned);
            let reply = self
                .call(
                    spec,
                    Method::Post,
                    &format!("/{index}/_bulk"),
                    &[("refresh", "wait_for")],
                    Payload::Lines(&lines),
                )
                .await?;
            let retry: Vec<&Chunk> =
                match bulk_outcome(&reply, pending.len(), attempt < self.options.retries)? {
                    BulkOutcome::Written => return Ok(()),
                    BulkOutcome::Retry(positions) => {
                        positions.into_iter().map(|i| pending[i]).collect()
                    }
                    BulkOutcome::Refused { position, error } => {
                        let chunk = pending[position];
                        tracing::warn!(collection = %spec.name, chunk = %chunk.id, error = %error,
                        "Elasticsearch refused a chunk");
                        return Err(match error.into_store(&spec.name) {
                            StoreError::InvalidInput { message, .. } => StoreError::invalid_field(
                                Field::Chunks,
                                format!("chunk '{}' was refused: {message}", chunk.id),
                            ),
                            other => other,
                        });
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

    /// `_delete_by_query`, repeated while documents changed under it; returns how many went.
    async fn delete_where(&self, spec: &CollectionSpec, query: Value) -> StoreResult<u64> {
        let body = json!({ "query": query });
        self.by_query(
            spec,
            "_delete_by_query",
            &body,
            "deleted",
            "they were being deleted",
        )
        .await
    }

    /// Runs a `_delete_by_query` / `_update_by_query` again while it meets version conflicts;
    /// the sum of its `counted` field.
    async fn by_query(
        &self,
        spec: &CollectionSpec,
        endpoint: &str,
        body: &Value,
        counted: &str,
        doing: &str,
    ) -> StoreResult<u64> {
        let index = self.index(spec)?;
        let mut total = 0;
        for attempt in 0..=self.options.retries {
            let reply = self
                .call(
                    spec,
                    Method::Post,
                    &format!("/{index}/{endpoint}"),
                    &[("refresh", "true"), ("conflicts", "proceed")],
                    Payload::Json(body),
                )
                .await?;
            total += reply.get(counted).and_then(Value::as_u64).unwrap_or(0);
            let conflicts = reply
                .get("version_conflicts")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if conflicts == 0 {
                return Ok(total);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StoreError::conflict(format!(
            "chunks of collection {} kept changing while {doing}; try again",
            spec.name
        )))
    }
}

/// What a `_bulk` answer says of a batch.
#[derive(Debug)]
enum BulkOutcome {
    /// Every item was written.
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
fn bulk_outcome(reply: &Value, sent: usize, can_retry: bool) -> StoreResult<BulkOutcome> {
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

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6))
}

fn decode(what: &str) -> StoreError {
    StoreError::internal(
        "an Elasticsearch answer could not be read",
        ElasticError::Decode(what.into()),
    )
}

fn hits(reply: &Value) -> StoreResult<&Vec<Value>> {
    reply
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .ok_or_else(|| decode("a search answer without hits"))
}

fn chunk_of(hit: &Value) -> StoreResult<StoredChunk> {
    hit.get("_source")
        .and_then(mapping::stored_chunk)
        .ok_or_else(|| decode("a hit that is not a chunk written by this service"))
}

#[async_trait]
impl VectorStore for ElasticStore {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        self.send(Method::Get, "/", &[], Payload::Empty)
            .await
            .map(|_| ())
            .map_err(|e| match e.into_store("") {
                StoreError::NotFound { .. } => StoreError::unavailable(
                    "the Elasticsearch cluster is unavailable",
                    ElasticError::Decode("GET / answered 404".into()),
                ),
                other => other,
            })
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let index = self.index(spec)?;
        spec.check_dimension(MAX_DIMENSION)?;
        if let Some(existing) = self.existing_dimension(spec).await? {
            return spec.same_dimension_as(existing);
        }
        let body = mapping::index_body(&self.options, spec);
        match self
            .send(Method::Put, &format!("/{index}"), &[], Payload::Json(&body))
            .await
        {
            Ok(_) => Ok(()),
            // Made meanwhile by another caller (or by a retried request): fine when it agrees.
            Err(ElasticError::Response {
                status: 400, kind, ..
            }) if kind == "resource_already_exists_exception" => {
                match self.existing_dimension(spec).await? {
                    Some(existing) => spec.same_dimension_as(existing),
                    None => Err(StoreError::conflict(format!(
                        "collection {} was dropped while it was being created",
                        spec.name
                    ))),
                }
            }
            Err(e) => Err(e.into_store(&spec.name)),
        }
    }

    async fn drop_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let index = self.index(spec)?;
        match self
            .send(Method::Delete, &format!("/{index}"), &[], Payload::Empty)
            .await
        {
            Ok(_) | Err(ElasticError::Response { status: 404, .. }) => Ok(()),
            Err(e) => Err(e.into_store(&spec.name)),
        }
    }

    async fn upsert(&self, spec: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64> {
        let index = self.index(spec)?;
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
            self.bulk(spec, &index, batch).await?;
        }
        Ok(total)
    }

    async fn delete_files(&self, spec: &CollectionSpec, file_ids: &[String]) -> StoreResult<u64> {
        if file_ids.is_empty() {
            self.require(spec).await?;
            return Ok(0);
        }
        let mut deleted = 0;
        // `terms` takes at most 65 536 values by default.
        for ids in file_ids.chunks(10_000) {
            deleted += self
                .delete_where(spec, json!({ "terms": { "file_id": ids } }))
                .await?;
        }
        Ok(deleted)
    }

    async fn set_file_attributes(
        &self,
        spec: &CollectionSpec,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<u64> {
        store_core::limits::attributes(&attributes)?;
        let body = json!({
            "query": { "term": { "file_id": file_id } },
            "script": {
                "lang": "painless",
                "source": "ctx._source.attributes = params.attributes; ctx._source.attr = params.attr",
                "params": { "attr": mapping::typed_attributes(&attributes), "attributes": attributes },
            }
        });
        self.by_query(
            spec,
            "_update_by_query",
            &body,
            "updated",
            "their attributes were being set",
        )
        .await
    }

    async fn delete_all(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        self.delete_where(spec, json!({ "match_all": {} })).await
    }

    async fn count(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let index = self.index(spec)?;
        let reply = self
            .call(
                spec,
                Method::Get,
                &format!("/{index}/_count"),
                &[],
                Payload::Empty,
            )
            .await?;
        reply
            .get("count")
            .and_then(Value::as_u64)
            .ok_or_else(|| decode("a _count answer without a count"))
    }

    async fn usage_bytes(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let body = json!({
            "size": 0,
            "track_total_hits": false,
            "aggs": { "bytes": { "sum": { "field": "text_bytes" } } }
        });
        let reply = self.search_raw(spec, &body).await?;
        let bytes = reply
            .pointer("/aggregations/bytes/value")
            .and_then(Value::as_f64)
            .ok_or_else(|| decode("a sum aggregation without a value"))?;
        Ok(bytes.max(0.0).round() as u64)
    }

    async fn list(
        &self,
        spec: &CollectionSpec,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<StoredChunk>> {
        self.scan(spec, json!({ "match_all": {} }), offset, limit)
            .await
    }

    async fn file_chunks(
        &self,
        spec: &CollectionSpec,
        file_id: &str,
    ) -> StoreResult<Vec<StoredChunk>> {
        self.scan(
            spec,
            json!({ "term": { "file_id": file_id } }),
            0,
            usize::MAX,
        )
        .await
    }

    async fn search(&self, spec: &CollectionSpec, req: &SearchRequest) -> StoreResult<Vec<Hit>> {
        run_search(self, spec, req).await
    }
}

#[async_trait]
impl HitSource for ElasticStore {
    fn check(&self, spec: &CollectionSpec, _req: &SearchRequest) -> StoreResult<()> {
        self.index(spec).map(drop)
    }

    async fn vector_hits(
        &self,
        spec: &CollectionSpec,
        vector: &[f32],
        filter: Option<&store_core::Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>> {
        let candidates = query::num_candidates(n, self.options.num_candidates);
        let body = query::knn_body(vector, n, candidates, filter);
        self.scored(spec, &body, query::vector_score).await
    }

    async fn keyword_hits(
        &self,
        spec: &CollectionSpec,
        text: &str,
        filter: Option<&store_core::Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>> {
        let body = query::match_body(text, n, filter);
        self.scored(spec, &body, query::keyword_score).await
    }

    async fn require_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        self.require(spec).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_must_have_the_dimension_finite_components_and_a_direction() {
        let spec = CollectionSpec {
            name: "c".into(),
            dimension: 2,
        };
        assert!(spec.check_vector(&[1.0, 0.0]).is_ok());
        for bad in [vec![1.0], vec![f32::NAN, 1.0], vec![0.0, 0.0]] {
            assert!(spec.check_vector(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_plain_lowercase_names_become_indices() {
        let store = ElasticStore::new(ElasticOptions {
            url: "http://127.0.0.1:1".into(),
            ..Default::default()
        })
        .unwrap();
        let spec = |name: &str| CollectionSpec {
            name: name.into(),
            dimension: 3,
        };
        assert_eq!(store.index(&spec("vs_a1")).unwrap(), "vectorstore_vs_a1");
        for bad in ["", "Abc", "a-b", "a/b", "..", "a b", "ü"] {
            assert!(store.index(&spec(bad)).is_err(), "{bad:?}");
        }
    }

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
        match bulk_outcome(&reply, 4, true).unwrap() {
            BulkOutcome::Retry(positions) => assert_eq!(positions, [1, 3]),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            bulk_outcome(&bulk_reply(&[(201, ""), (200, "")]), 2, true).unwrap(),
            BulkOutcome::Written
        ));
    }

    #[test]
    fn a_bulk_item_refused_for_good_or_out_of_tries_is_reported_with_its_position() {
        let refused = |reply: &Value, tries_left: bool| match bulk_outcome(reply, 2, tries_left) {
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
        assert!(bulk_outcome(&bulk_reply(&[(201, "")]), 2, true).is_err());
        assert!(bulk_outcome(&json!({"errors": false}), 1, true).is_err());
    }

    #[test]
    fn back_off_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(400));
        assert_eq!(backoff(40), backoff(6));
    }
}
