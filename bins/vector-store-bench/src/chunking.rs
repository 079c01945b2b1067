//! Retrieval quality against cost of chunk sizes and overlaps through the OpenAI file pipeline:
//! WordNet passages joined into documents (of several hundred tokens, and long ones of several
//! thousand), ingested once per chunking strategy (`auto`, `static` sizes the built-in model
//! reads whole with several overlaps, and longer ones, whose chunks are embedded as the mean of
//! model-sized windows), then searched by the WordNet queries. A hit is the document that holds
//! the query's passage; a document is counted once, at its best chunk. The cost is the chunks
//! made (each one embedded) and the seconds the ingestion took.

use anyhow::Result;
use serde_json::{Value, json};

use crate::client::Api;
use crate::data::Corpus;
use crate::{bar, ingestion, load, ordered, step};

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

/// Both document sets: `documents` of `per_document` passages, and half as many long documents
/// of four times as many passages.
pub async fn measure(
    api: &Api,
    corpus: &Corpus,
    documents: usize,
    per_document: usize,
    queries: usize,
) -> Result<Value> {
    let short = measure_set(api, corpus, documents, per_document, queries).await?;
    let long = measure_set(
        api,
        corpus,
        (documents / 2).max(2),
        per_document * 4,
        queries,
    )
    .await?;
    Ok(json!({"sets": [short, long]}))
}

async fn measure_set(
    api: &Api,
    corpus: &Corpus,
    documents: usize,
    per_document: usize,
    queries: usize,
) -> Result<Value> {
    let (passages, qs) = corpus.subset(documents * per_document, queries);
    let texts: Vec<String> = passages
        .chunks(per_document)
        .map(|group| {
            group
                .iter()
                .map(|p| p.text.as_str())
                .collect::<Vec<_>>()
                .join("\n\n")
        })
        .collect();
    let pb = bar(texts.len() as u64, "uploading documents");
    let files = ordered(texts.len(), 4, &pb, |i| {
        let text = &texts[i];
        async move { api.upload(&format!("doc{i}.txt"), text).await }
    })
    .await?;
    let relevant: Vec<&str> = qs
        .iter()
        .map(|q| files[q.passage / per_document].as_str())
        .collect();
    let bodies: Vec<bytes::Bytes> = qs
        .iter()
        .map(|q| {
            serde_json::to_vec(&json!({"query": q.text, "max_num_results": 10}))
                .expect("json")
                .into()
        })
        .collect();
    let mut results = Vec::new();
    for (name, strategy, model) in STRATEGIES {
        let run =
            ingestion::ingest(api, &format!("chunking {name}"), &files, model, strategy).await?;
        let (store, ingest_secs, chunks) = (run.store, run.secs, run.chunks);
        // What `auto` resolved to (OpenAI reports a file's chunking as `static`).
        let resolved = api
            .get_json(&format!("/v1/vector_stores/{store}/files/{}", files[0]))
            .await?["chunking_strategy"]["static"]
            .clone();
        let pb = bar(bodies.len() as u64, &format!("searching, {name}"));
        let found = ordered(bodies.len(), 4, &pb, |i| {
            let (body, store) = (bodies[i].clone(), &store);
            async move {
                let mut files = api.openai_search(store, body).await?;
                // A document counts once, at its best chunk.
                let mut seen = std::collections::HashSet::new();
                files.retain(|f| seen.insert(f.clone()));
                Ok(files)
            }
        })
        .await?;
        let (mrr, recall) = load::mrr_recall(&found, &relevant, 10);
        step(&format!(
            "chunking {name}: {chunks} chunks of {} documents in {ingest_secs:.1} s; MRR@10 {mrr:.4}, recall@10 {recall:.4} ({} queries)",
            files.len(),
            found.len()
        ));
        results.push(json!({
            "strategy": name,
            "model": model.unwrap_or("all-minilm-l6-v2"),
            "max_chunk_size_tokens": strategy.map(|s| s.0),
            "chunk_overlap_tokens": strategy.map(|s| s.1),
            "resolved": resolved,
            "chunks": chunks,
            "ingest_secs": ingest_secs,
            "mrr_at_10": mrr,
            "recall_at_10": recall,
        }));
        api.delete(&format!("/v1/vector_stores/{store}")).await?;
    }
    for f in &files {
        api.delete(&format!("/v1/files/{f}")).await?;
    }
    Ok(json!({
        "documents": files.len(),
        "passages_per_document": per_document,
        "queries": qs.len(),
        "strategies": results,
    }))
}
