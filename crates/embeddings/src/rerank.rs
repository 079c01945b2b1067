//! Rerankers served over HTTP, in the two common `/rerank` protocols:
//!
//! - `cohere` (Cohere, Jina, vLLM): `{model, query, documents, top_n}` answered with
//!   `{results: [{index, relevance_score}]}`;
//! - `tei` (Hugging Face Text Embeddings Inference): `{query, texts, truncate}` answered with
//!   `[{index, score}]`.
//!
//! Scores come back in 0..=1: as given when every score of an answer already is, else through
//! the logistic function (raw logits), which keeps their order.

use std::fmt::Debug;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use crate::remote::{RemoteError, client, post_json};

/// The protocol a reranker speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RerankProtocol {
    Cohere,
    Tei,
}

/// Scores documents by their relevance to a query.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Reranker: Send + Sync + Debug + 'static {
    /// The configured name.
    fn name(&self) -> &str;
    /// `(index into documents, relevance in 0..=1)`, most relevant first. A document the
    /// reranker leaves out follows those it scored, in its former order, scored 0.
    async fn rerank(
        &self,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<(usize, f32)>, RemoteError>;
}

#[derive(Debug, Clone)]
pub struct RerankerOptions {
    pub name: String,
    pub protocol: RerankProtocol,
    /// The whole endpoint, e.g. `http://host/v1/rerank`.
    pub url: String,
    /// Sent as `model` (Cohere protocol only).
    pub model: String,
    pub api_key: Option<SecretString>,
    pub timeout: Duration,
}

/// A reranker reached over HTTP.
#[derive(Debug, Clone)]
pub struct HttpReranker {
    options: RerankerOptions,
    client: reqwest::Client,
}

#[derive(Deserialize)]
struct CohereAnswer {
    results: Vec<CohereResult>,
}

#[derive(Deserialize)]
struct CohereResult {
    index: usize,
    relevance_score: f64,
}

/// The most texts one TEI request carries: TEI's default `max_client_batch_size`.
const TEI_BATCH: usize = 32;

#[derive(Deserialize)]
struct TeiResult {
    index: usize,
    score: f64,
}

impl HttpReranker {
    pub fn new(options: RerankerOptions) -> Self {
        Self {
            client: client(options.timeout),
            options,
        }
    }
}

#[async_trait]
impl Reranker for HttpReranker {
    fn name(&self) -> &str {
        &self.options.name
    }

    async fn rerank(
        &self,
        query: &str,
        documents: &[String],
    ) -> Result<Vec<(usize, f32)>, RemoteError> {
        if documents.is_empty() {
            return Ok(Vec::new());
        }
        let o = &self.options;
        let key = o.api_key.as_ref();
        let scored: Vec<(usize, f64)> = match o.protocol {
            RerankProtocol::Cohere => {
                let body = json!({
                    "model": o.model, "query": query, "documents": documents,
                    "top_n": documents.len(),
                });
                let a: CohereAnswer =
                    post_json(&self.client, &o.url, key, &body, o.timeout).await?;
                a.results
                    .into_iter()
                    .map(|r| (r.index, r.relevance_score))
                    .collect()
            }
            RerankProtocol::Tei => {
                // TEI takes at most 32 texts a request by default (`max_client_batch_size`):
                // the documents go in batches of that many, at once.
                let batches = documents.chunks(TEI_BATCH).enumerate().map(|(b, texts)| {
                    let body = json!({"query": query, "texts": texts, "truncate": true});
                    async move {
                        let a: Vec<TeiResult> =
                            post_json(&self.client, &o.url, key, &body, o.timeout).await?;
                        let offset = b * TEI_BATCH;
                        a.into_iter()
                            .map(|r| match r.index < texts.len() {
                                true => Ok((offset + r.index, r.score)),
                                false => Err(RemoteError::unusable(
                                    &o.url,
                                    format!("index {} for {} texts", r.index, texts.len()),
                                )),
                            })
                            .collect::<Result<Vec<_>, _>>()
                    }
                });
                let answers = futures::future::try_join_all(batches).await?;
                answers.into_iter().flatten().collect()
            }
        };
        ranked(scored, documents.len()).map_err(|m| RemoteError::unusable(&o.url, m))
    }
}

/// The answer's scores in 0..=1, best first, every document once: those left out follow,
/// scored 0. An index out of range, given twice, or a score that is not a number is an error,
/// and so is an answer that scores no document at all (it would score every one 0).
pub fn ranked(scored: Vec<(usize, f64)>, documents: usize) -> Result<Vec<(usize, f32)>, String> {
    if scored.is_empty() && documents > 0 {
        return Err(format!(
            "the answer scores none of the {documents} documents"
        ));
    }
    let mut seen = vec![false; documents];
    for &(index, score) in &scored {
        match seen.get_mut(index) {
            None => return Err(format!("index {index} for {documents} documents")),
            Some(true) => return Err(format!("index {index} given twice")),
            Some(slot) => *slot = true,
        }
        if !score.is_finite() {
            return Err(format!(
                "the score of document {index} is not a finite number"
            ));
        }
    }
    let logistic = scored.iter().any(|(_, s)| !(0.0..=1.0).contains(s));
    let mut out: Vec<(usize, f32)> = scored
        .into_iter()
        .map(|(i, s)| {
            let s = if logistic {
                1.0 / (1.0 + (-s).exp())
            } else {
                s
            };
            (i, s as f32)
        })
        .collect();
    // Stable: equal scores keep the reranker's order.
    out.sort_by(|a, b| b.1.total_cmp(&a.1));
    out.extend((0..documents).filter(|i| !seen[*i]).map(|i| (i, 0.0)));
    Ok(out)
}

#[cfg(test)]
mod tests;
