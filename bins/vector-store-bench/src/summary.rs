//! The results of every phase, and the [`Summary`] that `summary.json` (its serialisation) and
//! `summary.md` ([`markdown`]) are both written from.
//!
//! A figure that could not be measured is NaN, written as `null` in JSON and `–` in markdown.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chunking::ChunkSizes;
use crate::ingestion::Ingestion;
use crate::load::Latencies;
use crate::quality::{ByMode, ModeQuality};
use crate::retrieval::Retrieval;

/// `a / b`, NaN unless `b` is positive.
pub fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

/// The machine the benchmark ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    /// Rounded to a tenth.
    pub memory_gib: f64,
}

/// VmRSS and VmHWM of a process, in MiB.
#[derive(Debug, Clone, Copy)]
pub struct Rss {
    pub rss_mb: f64,
    pub hwm_mb: f64,
}

/// The service's memory, when its PID was given: idle before the first phase, and at the end.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    pub idle: Option<Rss>,
    pub end: Option<Rss>,
}

/// Sentences per second of the built-in model alone in this process, measured while the
/// service is idle.
#[derive(Debug, Clone, Copy)]
pub struct ModelRates {
    pub batch_32: f64,
    pub batch_1: f64,
}

/// Indexing precomputed vectors through `/v2` against binary COPY into a table of the same shape.
#[derive(Debug, Clone, Serialize)]
pub struct Indexing {
    pub http_chunks_per_s: f64,
    pub copy_chunks_per_s: f64,
    /// Upserts (and COPY connections) at a time.
    pub concurrency: usize,
    /// Documents per upsert.
    pub batch: usize,
    /// `null` when Elasticsearch was not measured.
    pub elasticsearch: Option<EsIndexing>,
}

/// Indexing through `/v2` on Elasticsearch, of the retrieval-quality set.
#[derive(Debug, Clone, Serialize)]
pub struct EsIndexing {
    pub chunks: usize,
    pub chunks_per_s: f64,
}

/// The sizes of the service's table and of the COPY table, with their indexes.
#[derive(Debug, Clone, Serialize)]
pub struct Database {
    pub service_table_bytes: i64,
    pub copy_table_bytes: i64,
    pub service_mib_per_million_chunks: f64,
    pub copy_mib_per_million_chunks: f64,
}

impl Database {
    /// The sizes of tables of `chunks` chunks each.
    pub fn of(service_table_bytes: i64, copy_table_bytes: i64, chunks: usize) -> Self {
        let per_million = |bytes: i64| bytes as f64 / chunks as f64 * 1e6 / (1024.0 * 1024.0);
        Self {
            service_table_bytes,
            copy_table_bytes,
            service_mib_per_million_chunks: per_million(service_table_bytes),
            copy_mib_per_million_chunks: per_million(copy_table_bytes),
        }
    }
}

/// The search load: `/v2` vector search against the same SQL sent straight to PostgreSQL.
#[derive(Debug, Clone, Serialize)]
pub struct Search {
    /// One level per concurrency, each figure the median over the rounds.
    pub http: Vec<Latencies>,
    pub sql: Vec<Latencies>,
    pub qps_ratio_by_concurrency: Vec<LevelRatio>,
    pub rounds: usize,
    /// `GET /health` from one client: the floor under every HTTP figure.
    pub http_health_round_trip: Latencies,
    pub qps_ratio_by_round: Vec<RoundRatios>,
    /// Connections of the SQL side.
    pub pool_size: usize,
}

/// HTTP QPS over SQL QPS at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct LevelRatio {
    pub concurrency: usize,
    pub ratio: f64,
}

/// HTTP QPS over SQL QPS at one concurrency, one ratio per round.
#[derive(Debug, Clone, Serialize)]
pub struct RoundRatios {
    pub concurrency: usize,
    pub ratios: Vec<f64>,
}

/// HNSW recall against exact neighbours.
#[derive(Debug, Clone, Serialize)]
pub struct Recall {
    /// `/v2` search at k 10.
    pub k10_recall_at_10: f64,
    /// `/v2` search at k 50.
    pub k50_recall_at_10: f64,
    pub k50_recall_at_50: f64,
    pub ef_search_sweep: Vec<EfSearchPoint>,
}

/// The raw SQL at one `hnsw.ef_search`, from one client.
#[derive(Debug, Clone, Serialize)]
pub struct EfSearchPoint {
    pub ef_search: usize,
    pub recall_at_10: f64,
    pub sql_qps_1_client: f64,
}

/// Retrieval quality on the whole speed collection.
#[derive(Debug, Clone, Serialize)]
pub struct FullSetQuality {
    pub pgvector: ByMode<ModeQuality>,
}

/// Retrieval quality of every back-end on the same smaller set of passages.
#[derive(Debug, Clone, Serialize)]
pub struct SameSetQuality {
    pub passages: usize,
    pub queries: usize,
    /// By back-end; one that could not be created is absent.
    pub backends: BTreeMap<String, ByMode<ModeQuality>>,
}

/// The retrieval-quality phase.
#[derive(Debug, Clone)]
pub struct Quality {
    pub full: FullSetQuality,
    pub same_set: SameSetQuality,
    /// Indexing the same set on Elasticsearch, when it was measured.
    pub elasticsearch: Option<EsIndexing>,
}

/// The OpenAI search route with text queries, beside the vector search alone and the model.
#[derive(Debug, Clone, Serialize)]
pub struct EndToEnd {
    pub openai_search: Vec<Latencies>,
    pub vector_search_http: Vec<Latencies>,
    pub model_sentences_per_s_batch_32: f64,
    pub model_sentences_per_s_batch_1: f64,
}

/// What the phases measured, from which [`Summary::new`] derives the headline figures.
#[derive(Debug, Clone)]
pub struct Measured {
    pub scale: usize,
    pub passages: usize,
    pub queries: usize,
    pub machine: Machine,
    pub model: ModelRates,
    pub indexing: Indexing,
    pub database: Database,
    pub recall: Recall,
    pub search: Search,
    pub quality: Quality,
    pub chunk_sizes: ChunkSizes,
    pub retrieval: Retrieval,
    pub ingestion: Ingestion,
    pub openai_search: Vec<Latencies>,
    pub memory: Memory,
    pub elapsed_s: f64,
}

/// Every figure of a run: `summary.json` is its serialisation.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Chunks in the speed collection.
    pub scale: usize,
    /// WordNet passages among them.
    pub passages: usize,
    pub queries: usize,
    pub machine: Machine,
    pub index_rate_ratio_vs_sql: f64,
    /// At the highest concurrency, [`Summary::search_concurrency_of_ratio`].
    pub search_qps_ratio_vs_sql: f64,
    pub search_concurrency_of_ratio: usize,
    /// Keyed by the concurrency, as a string.
    pub search_qps_ratio_vs_sql_by_concurrency: BTreeMap<String, f64>,
    pub search_p50_ms: f64,
    pub search_p99_ms: f64,
    pub recall_at_10: f64,
    /// pgvector on the whole collection.
    pub mrr_at_10: ByMode<f64>,
    pub idle_rss_mb: Option<f64>,
    /// VmHWM at the end.
    pub peak_rss_mb: Option<f64>,
    pub final_rss_mb: Option<f64>,
    pub indexing: Indexing,
    pub search: Search,
    pub recall: Recall,
    pub quality: FullSetQuality,
    pub quality_chunk_sizes: ChunkSizes,
    pub quality_same_set: SameSetQuality,
    /// What the OpenAI search finds, per corpus, model and mode.
    pub quality_openai: Retrieval,
    pub ingestion: Ingestion,
    pub end_to_end: EndToEnd,
    pub database: Database,
    pub elapsed_s: f64,
}

impl Summary {
    pub fn new(m: Measured) -> Self {
        let top = m.search.http.last().zip(m.search.sql.last());
        let by_concurrency = m
            .search
            .http
            .iter()
            .zip(&m.search.sql)
            .map(|(h, s)| (h.concurrency.to_string(), ratio(h.qps, s.qps)))
            .collect();
        Self {
            scale: m.scale,
            passages: m.passages,
            queries: m.queries,
            machine: m.machine,
            index_rate_ratio_vs_sql: ratio(
                m.indexing.http_chunks_per_s,
                m.indexing.copy_chunks_per_s,
            ),
            search_qps_ratio_vs_sql: top.map_or(f64::NAN, |(h, s)| ratio(h.qps, s.qps)),
            search_concurrency_of_ratio: top.map_or(0, |(h, _)| h.concurrency),
            search_qps_ratio_vs_sql_by_concurrency: by_concurrency,
            search_p50_ms: top.map_or(f64::NAN, |(h, _)| h.p50_ms),
            search_p99_ms: top.map_or(f64::NAN, |(h, _)| h.p99_ms),
            recall_at_10: m.recall.k10_recall_at_10,
            mrr_at_10: m.quality.full.pgvector.map(|q| q.mrr_at_10),
            idle_rss_mb: m.memory.idle.map(|r| r.rss_mb),
            peak_rss_mb: m.memory.end.map(|r| r.hwm_mb),
            final_rss_mb: m.memory.end.map(|r| r.rss_mb),
            indexing: Indexing {
                elasticsearch: m.quality.elasticsearch,
                ..m.indexing
            },
            end_to_end: EndToEnd {
                openai_search: m.openai_search,
                vector_search_http: m.search.http.clone(),
                model_sentences_per_s_batch_32: m.model.batch_32,
                model_sentences_per_s_batch_1: m.model.batch_1,
            },
            search: m.search,
            recall: m.recall,
            quality: m.quality.full,
            quality_chunk_sizes: m.chunk_sizes,
            quality_same_set: m.quality.same_set,
            quality_openai: m.retrieval,
            ingestion: m.ingestion,
            database: m.database,
            elapsed_s: m.elapsed_s,
        }
    }
}

/// `x` with `digits` decimals; `–` when it is not finite.
fn f(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "–".to_string()
    }
}

/// [`f`] of a figure that may be absent.
fn fo(x: Option<f64>, digits: usize) -> String {
    f(x.unwrap_or(f64::NAN), digits)
}

/// Writes a table row: `label`, then `cells`.
fn row(o: &mut String, label: &str, cells: &[String]) {
    o.push_str("| ");
    o.push_str(label);
    for cell in cells {
        o.push_str(" | ");
        o.push_str(cell);
    }
    o.push_str(" |\n");
}

/// The OpenAI search table: a row per corpus, model and mode (the default first).
pub fn retrieval_markdown(r: &Retrieval) -> String {
    let mut o = String::from(
        "| OpenAI search, auto chunking (a hit is the file) | model | mode | chunks | MRR@10 | \
         recall@10 |\n|---|---|---|---:|---:|---:|\n",
    );
    for c in &r.corpora {
        let corpus = format!("{}: {} files, {} queries", c.corpus, c.files, c.queries);
        for m in &c.models {
            for (mode, q) in std::iter::once(("default", &m.default_mode)).chain(m.modes.iter()) {
                let cells = [
                    m.model.clone(),
                    mode.to_string(),
                    m.chunks.to_string(),
                    f(q.mrr_at_10, 4),
                    f(q.recall_at_10, 4),
                ];
                row(&mut o, &corpus, &cells);
            }
        }
    }
    o
}

/// Writes the rows of a table of two columns: each label with its value.
fn value_rows<'a>(o: &mut String, rows: impl IntoIterator<Item = (&'a str, String)>) {
    for (label, value) in rows {
        row(o, label, &[value]);
    }
}

/// Writes the row of `l` as `name` with `clients`: the QPS with `qps_digits` decimals, then
/// p50, p95 and p99 in milliseconds with `ms_digits`.
fn latency_row(
    o: &mut String,
    name: &str,
    clients: usize,
    l: &Latencies,
    qps_digits: usize,
    ms_digits: usize,
) {
    let [p50, p95, p99] = [l.p50_ms, l.p95_ms, l.p99_ms].map(|x| f(x, ms_digits));
    let qps = f(l.qps, qps_digits);
    row(o, name, &[clients.to_string(), qps, p50, p95, p99]);
}

/// The summary as markdown tables.
pub fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let m = &s.machine;
    o.push_str(&format!(
        "Scale {} chunks ({} WordNet passages), {} queries; {} CPUs ({}), {} GiB.\n\n",
        s.scale,
        s.passages,
        s.queries,
        m.cpus,
        m.cpu_model,
        f(m.memory_gib, 1)
    ));
    let ix = &s.indexing;
    o.push_str("| indexing | chunks/s |\n|---|---:|\n");
    value_rows(
        &mut o,
        [
            (
                "/v2 upsert, precomputed vectors",
                f(ix.http_chunks_per_s, 0),
            ),
            (
                "binary COPY, same table and indexes",
                f(ix.copy_chunks_per_s, 0),
            ),
            (
                "**ratio**",
                format!("**{}**", f(s.index_rate_ratio_vs_sql, 2)),
            ),
        ],
    );
    if let Some(es) = &ix.elasticsearch {
        let label = format!("/v2 upsert on elasticsearch ({} passages)", es.chunks);
        value_rows(&mut o, [(label.as_str(), f(es.chunks_per_s, 0))]);
    }
    o.push_str(&format!(
        "\n| vector search, k 10 (medians of {} rounds) | clients | QPS | p50 ms | p95 ms | p99 \
         ms |\n|---|---:|---:|---:|---:|---:|\n",
        s.search.rounds
    ));
    for (name, levels) in [("/v2 HTTP", &s.search.http), ("raw SQL", &s.search.sql)] {
        for l in levels {
            latency_row(&mut o, name, l.concurrency, l, 0, 2);
        }
    }
    for r in &s.search.qps_ratio_by_concurrency {
        o.push_str(&format!(
            "| **QPS ratio HTTP / SQL** | {} | **{}** | | | |\n",
            r.concurrency,
            f(r.ratio, 2)
        ));
    }
    let floor = &s.search.http_health_round_trip;
    latency_row(
        &mut o,
        "`GET /health` (the HTTP round trip alone)",
        1,
        floor,
        0,
        2,
    );
    let rc = &s.recall;
    o.push_str("\n| ANN quality (vs exact neighbours) | value |\n|---|---:|\n");
    value_rows(
        &mut o,
        [
            ("recall@10, k 10 (defaults)", f(rc.k10_recall_at_10, 4)),
            ("recall@10, k 50", f(rc.k50_recall_at_10, 4)),
            ("recall@50, k 50", f(rc.k50_recall_at_50, 4)),
        ],
    );
    for p in &rc.ef_search_sweep {
        let label = format!(
            "recall@10 at hnsw.ef_search {} (SQL; {} q/s, 1 client)",
            p.ef_search,
            f(p.sql_qps_1_client, 0)
        );
        value_rows(&mut o, [(label.as_str(), f(p.recall_at_10, 4))]);
    }
    o.push_str(
        "\n| WordNet retrieval | passages | queries | mode | MRR@10 | recall@10 \
         |\n|---|---:|---:|---|---:|---:|\n",
    );
    let same = &s.quality_same_set;
    let sets = std::iter::once(("pgvector", s.passages, &s.quality.pgvector)).chain(
        same.backends
            .iter()
            .map(|(backend, modes)| (backend.as_str(), same.passages, modes)),
    );
    for (backend, passages, modes) in sets {
        for (mode, q) in modes.iter() {
            row(
                &mut o,
                backend,
                &[
                    passages.to_string(),
                    q.queries.to_string(),
                    mode.to_string(),
                    f(q.mrr_at_10, 4),
                    f(q.recall_at_10, 4),
                ],
            );
        }
    }
    for c in &s.quality_chunk_sizes.sets {
        o.push_str(&format!(
            "\n| chunking, {} documents of {} passages, {} queries (vector search, by document) | \
             chunks | ingest s | MRR@10 | recall@10 |\n|---|---:|---:|---:|---:|\n",
            c.documents, c.passages_per_document, c.queries
        ));
        for r in &c.strategies {
            let strategy = match (r.strategy, r.resolved) {
                ("auto", Some(resolved)) => format!(
                    "auto ({}/{})",
                    resolved.max_chunk_size_tokens, resolved.chunk_overlap_tokens
                ),
                ("auto", None) => "auto (–/–)".to_string(),
                (other, _) => other.to_string(),
            };
            let figures = [
                r.chunks.to_string(),
                f(r.ingest_secs, 1),
                f(r.mrr_at_10, 4),
                f(r.recall_at_10, 4),
            ];
            row(&mut o, &strategy, &figures);
        }
    }
    o.push('\n');
    o.push_str(&retrieval_markdown(&s.quality_openai));
    let g = &s.ingestion;
    o.push_str(&format!(
        "\n| ingestion through /v1 (one file batch) | files/s | chunks/s | KB/s | s \
         |\n|---|---:|---:|---:|---:|\n| candle matmul at the model's shapes: {} GFLOPS | | | | \
         |\n",
        f(g.matmul_gflops, 1)
    ));
    for set in &g.sets {
        let runs = std::iter::once(("built-in model", &set.built_in))
            .chain(set.others.iter().map(|(label, r)| (label.as_str(), r)));
        for (label, r) in runs {
            let figures = [r.files_per_s, r.chunks_per_s, r.kb_per_s, r.secs].map(|x| f(x, 1));
            row(&mut o, &format!("{}, {label}", set.set), &figures);
        }
        if let Some(rate) = set.static_model_alone_chunks_per_s {
            o.push_str(&format!(
                "| {}, the static model alone on the same chunks | | {} | | |\n",
                set.set,
                f(rate, 0)
            ));
        }
        let m = &set.model_alone;
        o.push_str(&format!(
            "| {}, model alone on the same {} chunks ({} GFLOPS, {} of matmul, {} word pieces a \
             chunk) | | {} | | |\n| **ratio built-in / model alone** | | **{}** | | |\n",
            set.set,
            m.chunks,
            f(m.gflops, 1),
            f(m.share_of_matmul, 2),
            f(m.mean_word_pieces, 0),
            f(m.chunks_per_s, 1),
            f(set.ratio_to_model_alone, 2)
        ));
    }
    let one = &g.one_file;
    o.push_str(&format!(
        "| upload, attach, poll one {} byte file (`{}`), built-in model | | | | {} |\n| the same, \
         built-in model, each chunk alone | | | | {} |\n| the same, instant embedder | | | | {} \
         |\n",
        one.bytes,
        one.name,
        f(one.built_in_secs, 1),
        fo(one.chunks_alone_secs, 1),
        fo(one.instant_secs, 2)
    ));
    let e = &s.end_to_end;
    o.push_str(
        "\n| end to end, text queries | clients | QPS | p50 ms | p95 ms | p99 ms \
         |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let e2e_rows = [
        (
            "vector search alone (/v2, query vectors given)",
            &e.vector_search_http,
        ),
        ("POST /v1/vector_stores/{id}/search", &e.openai_search),
    ];
    for (name, levels) in e2e_rows {
        for l in levels {
            latency_row(&mut o, name, l.concurrency, l, 1, 1);
        }
    }
    o.push_str(&format!(
        "| model alone, batches of 32 (sentences/s) | 1 | {} | | | |\n| model alone, one sentence \
         at a time | 1 | {} | | | |\n",
        f(e.model_sentences_per_s_batch_32, 1),
        f(e.model_sentences_per_s_batch_1, 1)
    ));
    let d = &s.database;
    o.push_str("\n| memory and disk | value |\n|---|---:|\n");
    value_rows(
        &mut o,
        [
            ("service RSS idle (MiB)", fo(s.idle_rss_mb, 0)),
            ("service RSS peak, VmHWM (MiB)", fo(s.peak_rss_mb, 0)),
            ("service RSS at the end (MiB)", fo(s.final_rss_mb, 0)),
            (
                "service table, MiB per million chunks",
                f(d.service_mib_per_million_chunks, 0),
            ),
            (
                "COPY table, MiB per million chunks",
                f(d.copy_mib_per_million_chunks, 0),
            ),
        ],
    );
    o.push_str(&format!("\nElapsed: {} s.\n", f(s.elapsed_s, 0)));
    o
}

#[cfg(test)]
mod tests;
