//! Filling a collection through `/v2`, and the retrieval quality of each search mode on it.

use std::time::Instant;

use anyhow::Result;
use bytes::Bytes;
use indicatif::ProgressBar;
use serde::Serialize;

use crate::client::{self, Api};
use crate::{bar, load, ordered, step};

/// One document: id, text, vector.
pub type Row<'a> = (&'a str, &'a str, &'a [f32]);

/// Upserts `rows` in batches of `batch`, `concurrency` upserts at a time; chunks per second.
pub async fn index(
    api: &Api,
    collection: &str,
    rows: &[Row<'_>],
    batch: usize,
    concurrency: usize,
    label: &str,
) -> Result<f64> {
    let bodies: Vec<Bytes> = rows.chunks(batch).map(client::upsert_body).collect();
    let sizes: Vec<usize> = rows.chunks(batch).map(<[_]>::len).collect();
    let pb = bar(rows.len() as u64, label);
    let t0 = Instant::now();
    ordered(bodies.len(), concurrency, &ProgressBar::hidden(), |i| {
        let body = bodies[i].clone();
        let (pb, size) = (&pb, sizes[i]);
        async move {
            api.upsert(collection, body).await?;
            pb.inc(size as u64);
            Ok(())
        }
    })
    .await?;
    pb.finish_and_clear();
    Ok(rows.len() as f64 / t0.elapsed().as_secs_f64())
}

/// WordNet queries with their vectors and the id of the one relevant passage of each.
pub struct QuerySet<'a> {
    pub texts: Vec<&'a str>,
    pub vectors: Vec<Vec<f32>>,
    pub relevant: Vec<&'a str>,
}

/// The three `/v2` search modes, each with a figure of type `T`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ByMode<T> {
    pub vector: T,
    pub keyword: T,
    pub hybrid: T,
}

impl<T> ByMode<T> {
    /// (mode name, figure), in the order vector, keyword, hybrid.
    pub fn iter(&self) -> [(&'static str, &T); 3] {
        [
            ("vector", &self.vector),
            ("keyword", &self.keyword),
            ("hybrid", &self.hybrid),
        ]
    }

    pub fn map<U>(&self, f: impl Fn(&T) -> U) -> ByMode<U> {
        ByMode {
            vector: f(&self.vector),
            keyword: f(&self.keyword),
            hybrid: f(&self.hybrid),
        }
    }
}

/// The retrieval quality of one search mode on one collection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModeQuality {
    pub mrr_at_10: f64,
    pub recall_at_10: f64,
    pub queries: usize,
}

/// MRR@10 and recall@10 of vector, keyword and hybrid `/v2` search on `collection`.
pub async fn measure(
    api: &Api,
    label: &str,
    collection: &str,
    qs: &QuerySet<'_>,
) -> Result<ByMode<ModeQuality>> {
    Ok(ByMode {
        vector: measure_mode(api, label, collection, qs, "vector").await?,
        keyword: measure_mode(api, label, collection, qs, "keyword").await?,
        hybrid: measure_mode(api, label, collection, qs, "hybrid").await?,
    })
}

async fn measure_mode(
    api: &Api,
    label: &str,
    collection: &str,
    qs: &QuerySet<'_>,
    mode: &str,
) -> Result<ModeQuality> {
    let n = qs.texts.len();
    let pb = bar(n as u64, &format!("{label}: {mode}"));
    let res = ordered(n, 4, &pb, |i| {
        let vector = (mode != "keyword").then_some(qs.vectors[i].as_slice());
        let text = (mode != "vector").then_some(qs.texts[i]);
        api.search(collection, client::search_body(mode, vector, text, 10))
    })
    .await?;
    let (mrr, recall) = load::mrr_recall(&res, &qs.relevant, 10);
    step(&format!(
        "{label} {mode}: MRR@10 {mrr:.4}, recall@10 {recall:.4} ({n} queries)"
    ));
    Ok(ModeQuality {
        mrr_at_10: mrr,
        recall_at_10: recall,
        queries: n,
    })
}
