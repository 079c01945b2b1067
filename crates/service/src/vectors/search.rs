//! Searching a vector store by vector, keyword or both, with one query or several, the queries
//! rewritten and the hits reranked by the configured models when asked.

use std::collections::HashMap;
use std::sync::Arc;

use embeddings::{QueryRewriter, Reranker};
use models::SearchMode;
use store_core::{
    CollectionRecord, Field, Hit, HybridOptions, MAX_K, SearchQuery, SearchRequest, StoreError,
};

use super::documents::{is_zero, no_vector};
use super::{SearchInput, VectorService, embed_error};
use crate::error::ServiceError;

/// The vectors of queries already embedded in one call, by model, dimension and query.
pub(super) type QueryVectors = HashMap<(String, usize, String), Vec<f32>>;

/// The texts a search runs, with the vectors already made of them (checking their rewrites
/// made some), so that each is embedded once per model.
#[derive(Debug, Clone, Default)]
pub struct SearchQueries {
    pub(super) texts: Vec<String>,
    pub(super) vectors: QueryVectors,
}

impl SearchQueries {
    pub fn texts(&self) -> &[String] {
        &self.texts
    }
}

impl From<Vec<String>> for SearchQueries {
    fn from(texts: Vec<String>) -> Self {
        Self {
            texts,
            vectors: QueryVectors::default(),
        }
    }
}

/// The models a search may use besides the collection's embedder.
#[derive(Debug, Clone)]
pub struct SearchModels {
    /// What reorders the hits of a search that asks for it; none: no reranking.
    pub reranker: Option<Arc<dyn Reranker>>,
    /// How many of the best hits the reranker sees (at least the hits asked for).
    pub rerank_depth: usize,
    /// What rewrites the queries of a search that asks for it; none: queries are searched as
    /// given.
    pub rewriter: Option<Arc<dyn QueryRewriter>>,
}

impl Default for SearchModels {
    fn default() -> Self {
        Self {
            reranker: None,
            rerank_depth: 50,
            rewriter: None,
        }
    }
}

impl VectorService {
    /// Each query rewritten by the configured rewriter, for a search of `records`; as given
    /// without one. A query over the limits is refused before any is sent; a rewrite that
    /// fails, or that is no valid query (for each store's model too: not too long to embed,
    /// not empty of words it knows), leaves its query as given (logged and counted). The
    /// vectors made checking the rewrites go with them, for the search.
    pub async fn rewrite_queries(
        &self,
        queries: Vec<String>,
        records: &[CollectionRecord],
    ) -> Result<SearchQueries, ServiceError> {
        for query in &queries {
            self.check_query(query)?;
        }
        let Some(rewriter) = &self.search_models.rewriter else {
            return Ok(queries.into());
        };
        let rewrites = futures::future::join_all(queries.iter().map(|q| rewriter.rewrite(q))).await;
        let mut vectors = QueryVectors::default();
        let mut out = Vec::with_capacity(queries.len());
        for (query, rewrite) in queries.into_iter().zip(rewrites) {
            let outcome = match rewrite {
                Ok(new) => match self.check_rewrite(&new, records, &mut vectors).await {
                    Ok(()) => Ok(new),
                    Err(e) => Err(("invalid", e.to_string())),
                },
                Err(e) => Err((e.reason(), e.to_string())),
            };
            let label: &'static str = match &outcome {
                Ok(_) => "rewritten",
                Err((reason, error)) => {
                    tracing::warn!(
                        rewriter = rewriter.name(),
                        %error,
                        "the query rewrite failed; searching the query as given"
                    );
                    reason
                }
            };
            metrics::counter!(crate::metrics::QUERY_REWRITES,
                "rewriter" => rewriter.name().to_string(), "outcome" => label)
            .increment(1);
            out.push(outcome.unwrap_or(query));
        }
        Ok(SearchQueries {
            texts: out,
            vectors,
        })
    }

    /// Whether `rewrite` is a query each of `records` can be searched with: within the
    /// limits, and embedded by each one's model (once per model). A fault of a model is left
    /// for the search to meet.
    async fn check_rewrite(
        &self,
        rewrite: &str,
        records: &[CollectionRecord],
        vectors: &mut QueryVectors,
    ) -> Result<(), ServiceError> {
        self.check_query(rewrite)?;
        for record in records.iter().filter(|r| r.model.is_some()) {
            if let Err(e) = self.cached_vector(record, rewrite, vectors).await
                && e.is_caller_fault()
            {
                return Err(e);
            }
        }
        Ok(())
    }

    pub async fn search(
        &self,
        record: &CollectionRecord,
        input: SearchInput,
    ) -> Result<Vec<Hit>, ServiceError> {
        self.check_expiry(record)?;
        let store = self.store(record)?;
        if let Some(v) = &input.vector {
            store_core::check_vector(v, record.dimension, Field::QueryVector)?;
        }
        let text = input.text.filter(|t| !t.trim().is_empty());
        if let Some(t) = &text {
            self.check_query(t)?;
        }
        let reranker = match (&self.search_models.reranker, &text) {
            (Some(r), Some(t)) if input.rerank && input.k > 0 => Some((r, t.clone())),
            _ => None,
        };
        let mode = match input.mode {
            SearchMode::Vector => SearchQuery::Vector(
                self.query_vector(record, input.vector, text.as_deref())
                    .await?,
            ),
            SearchMode::Keyword => SearchQuery::Keyword(text.ok_or_else(|| {
                ServiceError::invalid(Field::Query, "keyword search needs a text query")
            })?),
            SearchMode::Hybrid => {
                let text = text.ok_or_else(|| {
                    ServiceError::invalid(Field::Query, "hybrid search needs a text query")
                })?;
                let vector = self.query_vector(record, input.vector, Some(&text)).await?;
                SearchQuery::Hybrid { vector, text }
            }
        };
        let hybrid = self.hybrid_options(input.weights);
        let request = SearchRequest {
            mode,
            filter: input.filter,
            // The reranker sees more candidates than are kept, and sets the scores the
            // threshold is held against.
            k: match reranker {
                Some(_) => input.k.max(self.search_models.rerank_depth).min(MAX_K),
                None => input.k,
            },
            score_threshold: match reranker {
                Some(_) => None,
                None => input.score_threshold,
            },
            hybrid,
        };
        let mut hits = store.search(&record.spec()?, &request).await?;
        if let Some((reranker, query)) = reranker {
            hits = rerank(reranker.as_ref(), &query, hits).await;
            hits.retain(|h| input.score_threshold.is_none_or(|t| h.score >= t));
            hits.truncate(input.k);
        }
        Ok(fit_hits(hits, self.limits.max_response_bytes))
    }

    /// Runs one search per query and merges the hits by chunk, keeping each chunk's best score.
    pub async fn search_many(
        &self,
        record: &CollectionRecord,
        queries: impl Into<SearchQueries>,
        template: SearchInput,
    ) -> Result<Vec<Hit>, ServiceError> {
        let SearchQueries { texts, mut vectors } = queries.into();
        for text in &texts {
            self.check_query(text)?;
        }
        let k = template.k;
        let mut merged = self
            .search_queries(record, &texts, &template, &mut vectors)
            .await?;
        merged.sort_by(|a, b| b.score.total_cmp(&a.score));
        merged.truncate(k);
        // Each query's hits fit the response; together they must too.
        Ok(fit_hits(merged, self.limits.max_response_bytes))
    }

    /// Whether a text search of `record` can run here: it has not expired, and lives on a
    /// back-end and has a model this server has.
    pub fn text_searchable(&self, record: &CollectionRecord) -> bool {
        !Self::is_expired(record)
            && self.store(record).is_ok()
            && self.collection_embedder(record, Field::Query).is_ok()
    }

    /// The hits of `record` for each query, merged by chunk (each chunk's best score), unsorted.
    pub(super) async fn search_queries(
        &self,
        record: &CollectionRecord,
        queries: &[String],
        template: &SearchInput,
        vectors: &mut QueryVectors,
    ) -> Result<Vec<Hit>, ServiceError> {
        let mut merged: Vec<Hit> = Vec::new();
        for text in queries {
            let vector = match (&template.vector, template.mode) {
                (None, SearchMode::Vector | SearchMode::Hybrid)
                    if record.model.is_some() && !text.trim().is_empty() =>
                {
                    Some(self.cached_vector(record, text, vectors).await?)
                }
                (given, _) => given.clone(),
            };
            let input = SearchInput {
                text: Some(text.clone()),
                vector,
                ..template.clone()
            };
            merge_best(&mut merged, self.search(record, input).await?);
        }
        Ok(merged)
    }

    /// The vector of `text` by `record`'s model, embedded once per model in a call.
    pub(super) async fn cached_vector(
        &self,
        record: &CollectionRecord,
        text: &str,
        vectors: &mut QueryVectors,
    ) -> Result<Vec<f32>, ServiceError> {
        let key = (
            record.model.clone().unwrap_or_default(),
            record.dimension,
            text.to_string(),
        );
        if let Some(v) = vectors.get(&key) {
            return Ok(v.clone());
        }
        let v = self.query_vector(record, None, Some(text)).await?;
        vectors.insert(key, v.clone());
        Ok(v)
    }

    /// The configured fusion, with `weights` (vector, keyword) in place of its own when given.
    pub(super) fn hybrid_options(&self, weights: Option<(f32, f32)>) -> HybridOptions {
        match weights {
            Some((vector_weight, keyword_weight)) => HybridOptions {
                vector_weight,
                keyword_weight,
                ..self.hybrid
            },
            None => self.hybrid,
        }
    }

    pub(super) async fn query_vector(
        &self,
        record: &CollectionRecord,
        vector: Option<Vec<f32>>,
        text: Option<&str>,
    ) -> Result<Vec<f32>, ServiceError> {
        if let Some(v) = vector {
            return Ok(v);
        }
        let text = text.ok_or_else(|| {
            ServiceError::invalid(
                Field::QueryVector,
                "vector search needs a vector or a text query",
            )
        })?;
        let embedder = self.collection_embedder(record, Field::QueryVector)?;
        let mut vectors = embedder.embed(&[text.to_string()]).await.map_err(|e| {
            embed_error(e, |_, tokens, max| {
                ServiceError::invalid(
                    Field::Query,
                    format!(
                        "the query is {tokens} tokens long, over the limit of {max} tokens \
                             of model '{}'",
                        embedder.model()
                    ),
                )
            })
        })?;
        let vector = vectors
            .pop()
            .ok_or_else(|| StoreError::internal_msg("the embedder returned no vector"))?;
        if is_zero(&vector) {
            return Err(ServiceError::invalid(
                Field::Query,
                no_vector("the query", embedder.model()),
            ));
        }
        Ok(vector)
    }

    /// A search query within the limits.
    pub(super) fn check_query(&self, text: &str) -> Result<(), ServiceError> {
        if text.len() > self.limits.max_query_bytes {
            return Err(ServiceError::invalid(
                Field::Query,
                format!(
                    "the query is {} bytes long; queries are at most {} bytes",
                    text.len(),
                    self.limits.max_query_bytes
                ),
            ));
        }
        if text.contains('\0') {
            return Err(ServiceError::invalid(
                Field::Query,
                "the query contains a NUL character (U+0000)",
            ));
        }
        Ok(())
    }
}

/// `hits` merged into `merged` by chunk id, each chunk keeping its best score.
pub(super) fn merge_best(merged: &mut Vec<Hit>, hits: Vec<Hit>) {
    for hit in hits {
        match merged.iter_mut().find(|h| h.chunk.id == hit.chunk.id) {
            Some(existing) if existing.score < hit.score => *existing = hit,
            Some(_) => {}
            None => merged.push(hit),
        }
    }
}

/// `hits` in the reranker's order with its scores; as they were when it fails (logged and
/// counted, never an error of the search).
pub(super) async fn rerank(reranker: &dyn Reranker, query: &str, hits: Vec<Hit>) -> Vec<Hit> {
    let texts: Vec<String> = hits.iter().map(|h| h.chunk.text.clone()).collect();
    let name = reranker.name().to_string();
    match reranker.rerank(query, &texts).await {
        Ok(order) => {
            metrics::counter!(crate::metrics::RERANKS, "reranker" => name, "outcome" => "reranked")
                .increment(1);
            let mut slots: Vec<Option<Hit>> = hits.into_iter().map(Some).collect();
            order
                .into_iter()
                .filter_map(|(i, score)| {
                    let mut hit = slots.get_mut(i)?.take()?;
                    hit.score = score;
                    Some(hit)
                })
                .collect()
        }
        Err(e) => {
            tracing::warn!(
                reranker = %name,
                error = %e,
                "reranking failed; the hits keep their order"
            );
            metrics::counter!(crate::metrics::RERANKS, "reranker" => name, "outcome" => e.reason())
                .increment(1);
            hits
        }
    }
}

/// The bytes `text` takes as a JSON string's content: a quote or a backslash is escaped in 2,
/// a control character in up to 6.
pub(super) fn json_len(text: &str) -> usize {
    text.chars()
        .map(|c| match c {
            '"' | '\\' => 2,
            c if c < ' ' => 6,
            c => c.len_utf8(),
        })
        .sum()
}

/// The longest prefix of `hits` whose texts, as JSON, fit in `budget` bytes (at least one).
pub(super) fn fit_hits(hits: Vec<Hit>, budget: usize) -> Vec<Hit> {
    fit(hits, budget, |h| json_len(&h.chunk.text))
}

/// The longest prefix of `items` whose texts fit in `budget` bytes (at least one item).
pub(super) fn fit<T>(mut items: Vec<T>, budget: usize, text: impl Fn(&T) -> usize) -> Vec<T> {
    let mut used = 0;
    let keep = items
        .iter()
        .position(|item| {
            used += text(item);
            used > budget
        })
        .map_or(items.len(), |over| over.max(1));
    items.truncate(keep);
    items
}
