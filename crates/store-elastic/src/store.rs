//! [`ElasticStore`]: the [`VectorStore`] contract over the Elasticsearch REST API.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use serde_json::{Map, Value, json};
use store_core::{
    Chunk, CollectionSpec, ErrorKind, Hit, HitSource, SearchRequest, StoreError, StoreResult,
    StoredChunk, VectorStore, run_search,
};

use crate::cluster::MAX_DIMENSION;
use crate::error::ElasticError;
use crate::mapping;
use crate::options::ElasticOptions;
use crate::query;

mod bulk;
mod by_query;
#[cfg(test)]
mod fake;
mod probe;
mod transport;

use by_query::{ByQuery, TaskApi};
pub use probe::ProbeError;
use probe::ProbeState;
use transport::{Payload, Reply};

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
    probe_state: ProbeState,
    tasks: Arc<TaskApi>,
}

impl fmt::Debug for ElasticStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ElasticStore")
            .field("url", &self.options.url)
            .field("index_prefix", &self.options.index_prefix)
            .finish()
    }
}

impl ElasticStore {
    pub const NAME: &'static str = "elasticsearch";

    /// The back-end for `options`. Nothing is sent yet.
    pub fn new(options: ElasticOptions) -> StoreResult<Self> {
        let client = options.client()?;
        Ok(Self {
            client,
            options,
            probe_state: ProbeState::default(),
            tasks: Arc::default(),
        })
    }

    pub fn options(&self) -> &ElasticOptions {
        &self.options
    }

    fn index(&self, spec: &CollectionSpec) -> String {
        mapping::index_name(&self.options, &spec.name)
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
        self.send(method, path, params, payload).await.map_err(|e| {
            if matches!(e, ElasticError::Transport(_)) {
                self.forget_cluster();
            }
            e.into_store(&spec.name)
        })
    }

    /// The dimension the collection's index has, or `None` when there is no such index.
    async fn existing_dimension(&self, spec: &CollectionSpec) -> StoreResult<Option<usize>> {
        let index = self.index(spec);
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
                    "index {index} exists but was not made by this service (it has no vector \
                     field)"
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

    /// A search over every shard: an answer from only some of them is an error.
    async fn search_raw(&self, spec: &CollectionSpec, body: &Value) -> StoreResult<Reply> {
        let index = self.index(spec);
        let reply = self
            .call(
                spec,
                Method::Post,
                &format!("/{index}/_search"),
                &[("allow_partial_search_results", "false")],
                Payload::Json(body),
            )
            .await?;
        whole(reply, spec)
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

    /// `_delete_by_query`, repeated while documents changed under it; returns how many went.
    async fn delete_where(&self, spec: &CollectionSpec, query: Value) -> StoreResult<u64> {
        let body = json!({ "query": query });
        self.by_query(spec, ByQuery::Delete, &body).await
    }
}

/// `reply`, unless only some shards answered (or some timed out).
fn whole(reply: Reply, spec: &CollectionSpec) -> StoreResult<Reply> {
    match ElasticError::of_partial(&reply) {
        Some(e) => Err(e.into_store(&spec.name)),
        None => Ok(reply),
    }
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

    /// The capability probe: reachable, and a cluster this back-end can use.
    async fn ping(&self) -> StoreResult<()> {
        match self.probe().await.map_err(ProbeError::into_store) {
            Ok(_) => Ok(()),
            // A node that answers 404 to `/` is not a cluster this back-end can use.
            Err(e) if e.kind() == ErrorKind::NotFound => Err(StoreError::unavailable(
                "the Elasticsearch cluster is unavailable",
                ElasticError::Decode("GET / answered 404".into()),
            )),
            Err(e) => Err(e),
        }
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let index = self.index(spec);
        spec.check_dimension(MAX_DIMENSION)?;
        let cluster = self.cluster().await?;
        if let Some(info) = &cluster {
            let max = info.max_dimension();
            if spec.dimension > max {
                let (major, minor, patch) = info.version;
                return Err(StoreError::invalid_field(
                    store_core::Field::Dimension,
                    format!(
                        "dimension must be at most {max} on this Elasticsearch cluster \
                         ({major}.{minor}.{patch})"
                    ),
                ));
            }
        }
        if let Some(existing) = self.existing_dimension(spec).await? {
            return spec.same_dimension_as(existing);
        }
        let shard_settings = cluster.is_none_or(|info| info.takes_shard_settings());
        let body = mapping::index_body(&self.options, spec, shard_settings);
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
            // The caller's part was checked above: a refusal is of this back-end's settings.
            Err(e @ ElasticError::Response { status: 400, .. }) => Err(StoreError::internal(
                "the Elasticsearch cluster refused to create the collection's index",
                e,
            )),
            Err(e) => Err(e.into_store(&spec.name)),
        }
    }

    async fn drop_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let index = self.index(spec);
        match self
            .send(Method::Delete, &format!("/{index}"), &[], Payload::Empty)
            .await
        {
            Ok(_) | Err(ElasticError::Response { status: 404, .. }) => Ok(()),
            Err(e) => Err(e.into_store(&spec.name)),
        }
    }

    async fn upsert(&self, spec: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64> {
        self.write(spec, chunks, None).await
    }

    async fn upsert_claimed(
        &self,
        spec: &CollectionSpec,
        chunks: Vec<Chunk>,
        generation: u64,
    ) -> StoreResult<u64> {
        self.write(spec, chunks, Some(generation)).await
    }

    async fn trim_files(&self, spec: &CollectionSpec, files: &[(String, u32)]) -> StoreResult<u64> {
        if files.is_empty() {
            self.require(spec).await?;
            return Ok(0);
        }
        let mut deleted = 0;
        // Two clauses a file, under the cluster's limit of 1,024.
        for part in files.chunks(256) {
            deleted += self.delete_where(spec, query::trim_query(part)).await?;
        }
        Ok(deleted)
    }

    async fn delete_files(&self, spec: &CollectionSpec, file_ids: &[String]) -> StoreResult<u64> {
        if file_ids.is_empty() {
            self.require(spec).await?;
            return Ok(0);
        }
        let mut deleted = 0;
        // `terms` takes at most 65,536 values by default, and 1,024 on Serverless.
        for ids in file_ids.chunks(1_024) {
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
                "source": "ctx._source.attributes = params.attributes; ctx._source.attr = \
                           params.attr",
                "params": {
                    "attr": mapping::typed_attributes(&attributes),
                    "attributes": attributes
                },
            }
        });
        self.by_query(spec, ByQuery::SetAttributes, &body).await
    }

    async fn delete_all(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        self.delete_where(spec, json!({ "match_all": {} })).await
    }

    async fn count(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let index = self.index(spec);
        let reply = self
            .call(
                spec,
                Method::Get,
                &format!("/{index}/_count"),
                &[],
                Payload::Empty,
            )
            .await?;
        // `_count` takes no `allow_partial_search_results`: its shards are looked at here.
        whole(reply, spec)?
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
mod tests;
