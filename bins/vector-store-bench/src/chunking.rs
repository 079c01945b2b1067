//! Retrieval quality against cost of chunk sizes and overlaps through the OpenAI file pipeline:
//! WordNet passages joined into documents (of several hundred tokens, and long ones of several
//! thousand), ingested once per chunking strategy (`auto`, `static` sizes the built-in model
//! reads whole with several overlaps, and longer ones, whose chunks are embedded as the mean of
//! model-sized windows), then searched by the WordNet queries. A hit is the document that holds
//! the query's passage; a document is counted once, at its best chunk. The cost is the chunks
//! made (each one embedded) and the seconds the ingestion took.

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::client::Api;
use crate::data::Corpus;
use crate::retrieval::{Set, found_files};
use crate::{ingestion, load, step};

type Strategy = (&'static str, Option<(u32, u32)>, Option<&'static str>);

/// The strategies compared: a name, the `chunking_strategy` sent (`None`: `auto`) and the
/// store's model (`None`: the default, all-MiniLM-L6-v2).
const STRATEGIES: [Strategy; 10] = [
    ("auto", None, None),
    ("static 128/64", Some((128, 64)), None),
    ("static 128/32", Some((128, 32)), None),
    ("static 128/16", Some((128, 16)), None),
    ("static 128/0", Some((128, 0)), None),
    ("static 256/32", Some((256, 32)), None),
    ("static 400/100", Some((400, 100)), None),
    ("static 800/200", Some((800, 200)), None),
    ("potion-base-8m, auto", None, Some("potion-base-8m")),
    (
        "potion-base-8m, static 128/0",
        Some((128, 0)),
        Some("potion-base-8m"),
    ),
];

/// The chunk-size comparison: the short document set, then the long one.
#[derive(Debug, Clone, Serialize)]
pub struct ChunkSizes {
    pub sets: Vec<DocumentSet>,
}

/// One document set, ingested once per strategy.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentSet {
    pub documents: usize,
    pub passages_per_document: usize,
    pub queries: usize,
    pub strategies: Vec<StrategyResult>,
}

/// A `static` chunking strategy's sizes, in tokens, as the service reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaticChunking {
    pub max_chunk_size_tokens: u32,
    pub chunk_overlap_tokens: u32,
}

/// One strategy on one document set: what it cost and how well its chunks were found.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyResult {
    pub strategy: &'static str,
    pub model: &'static str,
    /// The sizes sent; `None` for `auto`.
    pub max_chunk_size_tokens: Option<u32>,
    pub chunk_overlap_tokens: Option<u32>,
    /// The sizes the service used, as it reports them for the first file.
    pub resolved: Option<StaticChunking>,
    pub chunks: u64,
    pub ingest_secs: f64,
    pub mrr_at_10: f64,
    pub recall_at_10: f64,
}

/// Both document sets: `documents` of `per_document` passages, and half as many long documents
/// of four times as many passages.
pub async fn measure(
    api: &Api,
    corpus: &Corpus,
    documents: usize,
    per_document: usize,
    queries: usize,
) -> Result<ChunkSizes> {
    let [short, long] = Set::wordnet_short_and_long(corpus, documents, per_document, queries);
    Ok(ChunkSizes {
        sets: vec![
            measure_set(api, &short, per_document).await?,
            measure_set(api, &long, per_document * 4).await?,
        ],
    })
}

async fn measure_set(api: &Api, set: &Set, per_document: usize) -> Result<DocumentSet> {
    let files = set.upload(api).await?;
    let relevant = set.relevant(&files);
    // Vector search, as the chunk sizes are for the model.
    let bodies = set.search_bodies(Some("vector"));
    let mut results = Vec::new();
    for (name, strategy, model) in STRATEGIES {
        let run =
            ingestion::ingest(api, &format!("chunking {name}"), &files, model, strategy).await?;
        let (store, ingest_secs, chunks) = (run.store, run.secs, run.chunks);
        // What `auto` resolved to (OpenAI reports a file's chunking as `static`).
        let file = api
            .get_json(&format!("/v1/vector_stores/{store}/files/{}", files[0]))
            .await?;
        let resolved: Option<StaticChunking> =
            serde_json::from_value(file["chunking_strategy"]["static"].clone())
                .ok()
                .flatten();
        let found = found_files(api, &store, &bodies, name).await?;
        let (mrr, recall) = load::mrr_recall(&found, &relevant, 10);
        step(&format!(
            "chunking {name}: {chunks} chunks of {} documents in {ingest_secs:.1} s; MRR@10 \
             {mrr:.4}, recall@10 {recall:.4} ({} queries)",
            files.len(),
            found.len()
        ));
        results.push(StrategyResult {
            strategy: name,
            model: model.unwrap_or("all-minilm-l6-v2"),
            max_chunk_size_tokens: strategy.map(|s| s.0),
            chunk_overlap_tokens: strategy.map(|s| s.1),
            resolved,
            chunks,
            ingest_secs,
            mrr_at_10: mrr,
            recall_at_10: recall,
        });
        api.delete(&format!("/v1/vector_stores/{store}")).await?;
    }
    for f in &files {
        api.delete(&format!("/v1/files/{f}")).await?;
    }
    Ok(DocumentSet {
        documents: files.len(),
        passages_per_document: per_document,
        queries: set.queries.len(),
        strategies: results,
    })
}
