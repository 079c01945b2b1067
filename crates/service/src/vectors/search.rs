//! Searching a vector store by vector, keyword or both, with one query or several.

use models::SearchMode;
use store_core::{
    CollectionRecord, Field, Hit, HybridOptions, SearchQuery, SearchRequest, StoreError,
};

use super::documents::{is_zero, no_vector};
use super::{SearchInput, VectorService, embed_error};
use crate::error::ServiceError;

impl VectorService {
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
        let hybrid = match input.weights {
            Some((vector_weight, keyword_weight)) => HybridOptions {
                vector_weight,
                keyword_weight,
                ..self.hybrid
            },
            None => self.hybrid,
        };
        let request = SearchRequest {
            mode,
            filter: input.filter,
            k: input.k,
            score_threshold: input.score_threshold,
            hybrid,
        };
        let hits = store.search(&record.spec()?, &request).await?;
        Ok(fit(hits, self.limits.max_response_bytes, |h| {
            h.chunk.text.len()
        }))
    }

    /// Runs one search per query and merges the hits by chunk, keeping each chunk's best score.
    pub async fn search_many(
        &self,
        record: &CollectionRecord,
        queries: Vec<String>,
        template: SearchInput,
    ) -> Result<Vec<Hit>, ServiceError> {
        let k = template.k;
        for text in &queries {
            self.check_query(text)?;
        }
        let mut merged: Vec<Hit> = Vec::new();
        for text in queries {
            let input = SearchInput {
                text: Some(text),
                ..template.clone()
            };
            for hit in self.search(record, input).await? {
                match merged.iter_mut().find(|h| h.chunk.id == hit.chunk.id) {
                    Some(existing) if existing.score < hit.score => *existing = hit,
                    Some(_) => {}
                    None => merged.push(hit),
                }
            }
        }
        merged.sort_by(|a, b| b.score.total_cmp(&a.score));
        merged.truncate(k);
        Ok(merged)
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
