//! Searching several vector stores at once (the MCP server's `search` and
//! `search_vector_store`): one list of hits, best first, each with its store's id.
//!
//! A hybrid search of one store normalises its scores within that store, so every store's best
//! hit would score alike, however poor. Across stores, the vector hits of all the stores and
//! their keyword hits are fused together instead, as one hybrid search over all of them would,
//! and reranked together when a reranker is asked for.

use models::SearchMode;
use store_core::{CollectionRecord, Hit, HybridOptions, MAX_K};

use super::search::{QueryVectors, SearchQueries, fit_hits, merge_best, rerank};
use super::{SearchInput, VectorService};
use crate::error::ServiceError;

/// What joins a store's id to a chunk's while hits of several stores are fused: ids never hold
/// a NUL.
const JOIN: char = '\0';

fn tagged(store: &str, mut hit: Hit) -> Hit {
    hit.chunk.id = format!("{store}{JOIN}{}", hit.chunk.id);
    hit
}

fn untagged(mut hit: Hit) -> (String, Hit) {
    let (store, id) = hit.chunk.id.split_once(JOIN).unwrap_or_default();
    let (store, id) = (store.to_string(), id.to_string());
    hit.chunk.id = id;
    (store, hit)
}

fn best_first(hits: &mut [Hit]) {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score));
}

/// `hits` with `more` added, cut to the best `n` once it holds twice that: what a search of
/// many stores keeps stays bounded by `n`, not by the number of stores.
fn keep_best(hits: &mut Vec<Hit>, more: impl IntoIterator<Item = Hit>, n: usize) {
    hits.extend(more);
    if hits.len() > n.saturating_mul(2) {
        best_first(hits);
        hits.truncate(n);
    }
}

/// The most vector stores one search reaches: each costs a vector and a keyword query per
/// query text, all within one request.
pub const MAX_SEARCHED_STORES: usize = 50;

impl VectorService {
    /// Searches each of `records` with each of `queries` and merges the hits, best first, at
    /// most `template.k`, each with its store's id. A query is embedded once per model, however
    /// many stores share it; the stores are searched one after another, so a call holds one
    /// connection at a time. More than [`MAX_SEARCHED_STORES`] stores are refused.
    pub async fn search_stores(
        &self,
        records: &[CollectionRecord],
        queries: impl Into<SearchQueries>,
        template: SearchInput,
    ) -> Result<Vec<(String, Hit)>, ServiceError> {
        Self::check_searched_stores(records.len())?;
        let SearchQueries {
            texts: queries,
            mut vectors,
        } = queries.into();
        for text in &queries {
            self.check_query(text)?;
        }
        let mut merged: Vec<Hit> = Vec::new();
        // A blank query is refused as a search of one store refuses it.
        let blank = queries.iter().any(|q| q.trim().is_empty());
        if template.mode == SearchMode::Hybrid && records.len() > 1 && !blank {
            for text in &queries {
                let hits = self
                    .hybrid_across(records, text, &template, &mut vectors)
                    .await?;
                merge_best(&mut merged, hits);
            }
        } else {
            for record in records {
                let hits = self
                    .search_queries(record, &queries, &template, &mut vectors)
                    .await?;
                let hits = hits.into_iter().map(|h| tagged(&record.id, h));
                keep_best(&mut merged, hits, template.k);
            }
        }
        best_first(&mut merged);
        merged.truncate(template.k);
        // Each store's hits fit the response; together they must too.
        let merged = fit_hits(merged, self.limits.max_response_bytes);
        Ok(merged.into_iter().map(untagged).collect())
    }

    /// Refuses a search of `n` stores, more than [`MAX_SEARCHED_STORES`], before any is looked
    /// up.
    pub fn check_searched_stores(n: usize) -> Result<(), ServiceError> {
        if n > MAX_SEARCHED_STORES {
            return Err(ServiceError::invalid_body(format!(
                "at most {MAX_SEARCHED_STORES} vector stores are searched at once, not {n}"
            )));
        }
        Ok(())
    }

    /// One hybrid search of `text` over all of `records`: their vector hits and their keyword
    /// hits, each list over every store, fused; reranked when asked. Chunk ids are tagged with
    /// their store's.
    async fn hybrid_across(
        &self,
        records: &[CollectionRecord],
        text: &str,
        template: &SearchInput,
        vectors: &mut QueryVectors,
    ) -> Result<Vec<Hit>, ServiceError> {
        let reranker =
            (self.search_models.reranker.as_ref()).filter(|_| template.rerank && template.k > 0);
        let k = match reranker {
            Some(_) => template.k.max(self.search_models.rerank_depth).min(MAX_K),
            None => template.k,
        };
        let depth = HybridOptions::depth(k);
        let one = |mode, vector| SearchInput {
            mode,
            text: Some(text.to_string()),
            vector,
            k: depth,
            score_threshold: None,
            rerank: false,
            ..template.clone()
        };
        let (mut by_vector, mut by_keyword) = (Vec::new(), Vec::new());
        for record in records {
            let vector = self.cached_vector(record, text, vectors).await?;
            let found = self
                .search(record, one(SearchMode::Vector, Some(vector)))
                .await?;
            keep_best(
                &mut by_vector,
                found.into_iter().map(|h| tagged(&record.id, h)),
                depth,
            );
            let found = self.search(record, one(SearchMode::Keyword, None)).await?;
            let found = found.into_iter().map(|h| tagged(&record.id, h));
            keep_best(&mut by_keyword, found, depth);
        }
        for list in [&mut by_vector, &mut by_keyword] {
            best_first(list);
            list.truncate(depth);
        }
        let threshold = template.score_threshold;
        let fusion = self.hybrid_options(template.weights);
        let Some(reranker) = reranker else {
            return Ok(fusion.fuse_hits(by_vector, by_keyword, threshold, k));
        };
        let fused = fusion.fuse_hits(by_vector, by_keyword, None, k);
        let mut hits = rerank(reranker.as_ref(), text, fused).await;
        hits.retain(|h| threshold.is_none_or(|t| h.score >= t));
        hits.truncate(template.k);
        Ok(hits)
    }
}
