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
        "\n| vector search, k 10 (medians of {} rounds) | clients | QPS | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n",
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
    o.push_str("\n| WordNet retrieval | passages | queries | mode | MRR@10 | recall@10 |\n|---|---:|---:|---|---:|---:|\n");
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
            "\n| chunking, {} documents of {} passages, {} queries (vector search, by document) | chunks | ingest s | MRR@10 | recall@10 |\n|---|---:|---:|---:|---:|\n",
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
    let g = &s.ingestion;
    o.push_str(&format!(
        "\n| ingestion through /v1 (one file batch) | files/s | chunks/s | KB/s | s |\n|---|---:|---:|---:|---:|\n| candle matmul at the model's shapes: {} GFLOPS | | | | |\n",
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
            "| {}, model alone on the same {} chunks ({} GFLOPS, {} of matmul, {} word pieces a chunk) | | {} | | |\n| **ratio built-in / model alone** | | **{}** | | |\n",
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
        "| upload, attach, poll one {} byte file (`{}`), built-in model | | | | {} |\n| the same, instant embedder | | | | {} |\n",
        one.bytes,
        one.name,
        f(one.built_in_secs, 1),
        fo(one.instant_secs, 2)
    ));
    let e = &s.end_to_end;
    o.push_str("\n| end to end, text queries | clients | QPS | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n");
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
        "| model alone, batches of 32 (sentences/s) | 1 | {} | | | |\n| model alone, one sentence at a time | 1 | {} | | | |\n",
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
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;
    use crate::chunking::{DocumentSet, StaticChunking, StrategyResult};
    use crate::ingestion::{ModelAlone, OneFile, Rates, SetResult};

    fn level(concurrency: usize, qps: f64) -> Latencies {
        Latencies {
            concurrency,
            requests: 100,
            errors: 0,
            qps,
            p50_ms: 1.5,
            p95_ms: 2.25,
            p99_ms: 3.0,
            mean_ms: 1.75,
        }
    }

    fn modes(mrr: f64) -> ByMode<ModeQuality> {
        let q = |mrr_at_10| ModeQuality {
            mrr_at_10,
            recall_at_10: 0.5,
            queries: 300,
        };
        ByMode {
            vector: q(mrr),
            keyword: q(mrr / 2.0),
            hybrid: q(mrr / 4.0),
        }
    }

    fn rates(chunks_per_s: f64) -> Rates {
        Rates {
            secs: 2.0,
            chunks: 40,
            files_per_s: 10.0,
            chunks_per_s,
            kb_per_s: 5.0,
        }
    }

    fn strategy(name: &'static str, sent: Option<(u32, u32)>) -> StrategyResult {
        StrategyResult {
            strategy: name,
            model: "all-minilm-l6-v2",
            max_chunk_size_tokens: sent.map(|s| s.0),
            chunk_overlap_tokens: sent.map(|s| s.1),
            resolved: Some(StaticChunking {
                max_chunk_size_tokens: sent.map_or(800, |s| s.0),
                chunk_overlap_tokens: sent.map_or(400, |s| s.1),
            }),
            chunks: 123,
            ingest_secs: 4.5,
            mrr_at_10: 0.25,
            recall_at_10: 0.5,
        }
    }

    /// A run with every part present, as with Elasticsearch, the instant embedder and a
    /// static model.
    fn measured() -> Measured {
        let http = vec![level(1, 800.0), level(4, 2000.0), level(16, 3400.0)];
        let sql = vec![level(1, 1000.0), level(4, 2500.0), level(16, 4000.0)];
        let set = |name: &str, static_rate: Option<f64>| SetResult {
            set: name.to_string(),
            files: 20,
            bytes: 10_000,
            upload_secs: 0.5,
            built_in: rates(20.0),
            model_alone: ModelAlone {
                chunks: 40,
                chunks_per_s: 25.0,
                gflops: 30.0,
                share_of_matmul: 0.4,
                mean_word_pieces: 120.0,
            },
            ratio_to_model_alone: 0.8,
            static_model_alone_chunks_per_s: static_rate,
            others: BTreeMap::from([
                (
                    "instant embedder (the pipeline alone)".to_string(),
                    rates(400.0),
                ),
                ("potion-base-8m".to_string(), rates(300.0)),
            ]),
        };
        Measured {
            scale: 5000,
            passages: 5000,
            queries: 300,
            machine: Machine {
                cpus: 2,
                cpu_model: "AMD EPYC".to_string(),
                memory_gib: 23.5,
            },
            model: ModelRates {
                batch_32: 440.0,
                batch_1: 74.0,
            },
            indexing: Indexing {
                http_chunks_per_s: 1500.0,
                copy_chunks_per_s: 3000.0,
                concurrency: 4,
                batch: 500,
                elasticsearch: None,
            },
            database: Database::of(2 * 1024 * 1024, 1024 * 1024, 500_000),
            recall: Recall {
                k10_recall_at_10: 0.979,
                k50_recall_at_10: 0.99,
                k50_recall_at_50: 0.95,
                ef_search_sweep: vec![
                    EfSearchPoint {
                        ef_search: 10,
                        recall_at_10: 0.8,
                        sql_qps_1_client: 1078.0,
                    },
                    EfSearchPoint {
                        ef_search: 100,
                        recall_at_10: 0.98,
                        sql_qps_1_client: 567.0,
                    },
                ],
            },
            search: Search {
                qps_ratio_by_concurrency: http
                    .iter()
                    .zip(&sql)
                    .map(|(h, s)| LevelRatio {
                        concurrency: h.concurrency,
                        ratio: ratio(h.qps, s.qps),
                    })
                    .collect(),
                http,
                sql,
                rounds: 3,
                http_health_round_trip: level(1, 5000.0),
                qps_ratio_by_round: vec![RoundRatios {
                    concurrency: 1,
                    ratios: vec![0.8, 0.81, 0.79],
                }],
                pool_size: 16,
            },
            quality: Quality {
                full: FullSetQuality {
                    pgvector: modes(0.6),
                },
                same_set: SameSetQuality {
                    passages: 2000,
                    queries: 120,
                    backends: BTreeMap::from([
                        ("elasticsearch".to_string(), modes(0.5)),
                        ("pgvector".to_string(), modes(0.4)),
                    ]),
                },
                elasticsearch: Some(EsIndexing {
                    chunks: 2000,
                    chunks_per_s: 700.0,
                }),
            },
            chunk_sizes: ChunkSizes {
                sets: vec![DocumentSet {
                    documents: 40,
                    passages_per_document: 25,
                    queries: 300,
                    strategies: vec![
                        strategy("auto", None),
                        strategy("static 128/64", Some((128, 64))),
                    ],
                }],
            },
            ingestion: Ingestion {
                matmul_gflops: 75.0,
                model_batch: 32,
                sets: vec![
                    set("300 small files", Some(9000.0)),
                    set("2 large files", None),
                ],
                one_file: OneFile {
                    name: "library-unittest.txt".to_string(),
                    bytes: 104_806,
                    built_in_secs: 15.0,
                    instant_secs: Some(0.53),
                },
            },
            openai_search: vec![level(1, 56.2), level(4, 90.0)],
            memory: Memory {
                idle: Some(Rss {
                    rss_mb: 100.0,
                    hwm_mb: 120.0,
                }),
                end: Some(Rss {
                    rss_mb: 300.0,
                    hwm_mb: 900.0,
                }),
            },
            elapsed_s: 321.0,
        }
    }

    /// Every key path of `v` (`.a.b`, `.list[].c`), array elements merged.
    fn key_paths(v: &Value, path: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{path}.{k}");
                    key_paths(x, &p, out);
                    out.insert(p);
                }
            }
            Value::Array(items) => {
                for x in items {
                    key_paths(x, &format!("{path}[]"), out);
                }
            }
            _ => {}
        }
    }

    fn paths(v: &Value) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        key_paths(v, "", &mut out);
        out
    }

    #[test]
    fn summary_json_has_the_keys_of_the_published_summary() {
        let published: Value = serde_json::from_str(include_str!(
            "../../../docs/benchmarks/summary-ingestion.json"
        ))
        .expect("docs/benchmarks/summary-ingestion.json");
        let ours = serde_json::to_value(Summary::new(measured())).expect("serialises");
        let (want, got) = (paths(&published), paths(&ours));
        let missing: Vec<_> = want.difference(&got).collect();
        let extra: Vec<_> = got.difference(&want).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:#?}, extra {extra:#?}"
        );
    }

    #[test]
    fn headline_figures_are_derived_from_the_phases() {
        let s = serde_json::to_value(Summary::new(measured())).expect("serialises");
        assert_eq!(s["search_concurrency_of_ratio"], 16);
        assert_eq!(s["search_qps_ratio_vs_sql"], 0.85);
        assert_eq!(
            s["search_qps_ratio_vs_sql_by_concurrency"],
            serde_json::json!({"1": 0.8, "4": 0.8, "16": 0.85})
        );
        assert_eq!(s["index_rate_ratio_vs_sql"], 0.5);
        assert_eq!(s["search_p99_ms"], 3.0);
        assert_eq!(s["recall_at_10"], 0.979);
        assert_eq!(
            s["mrr_at_10"],
            serde_json::json!({"vector": 0.6, "keyword": 0.3, "hybrid": 0.15})
        );
        assert_eq!(
            (&s["idle_rss_mb"], &s["peak_rss_mb"], &s["final_rss_mb"]),
            (&100.0.into(), &900.0.into(), &300.0.into())
        );
        assert_eq!(s["indexing"]["elasticsearch"]["chunks"], 2000);
        assert_eq!(s["end_to_end"]["vector_search_http"], s["search"]["http"]);
        assert_eq!(s["end_to_end"]["model_sentences_per_s_batch_1"], 74.0);
        assert_eq!(s["database"]["service_mib_per_million_chunks"], 4.0);
        assert_eq!(
            s["quality_chunk_sizes"]["sets"][0]["strategies"][0]["max_chunk_size_tokens"],
            Value::Null
        );
    }

    #[test]
    fn absent_parts_are_null_or_left_out_as_before() {
        let mut m = measured();
        m.quality.elasticsearch = None;
        m.ingestion.one_file.instant_secs = None;
        m.memory = Memory {
            idle: None,
            end: None,
        };
        m.search.http[2].p99_ms = f64::NAN;
        m.search.sql.clear();
        let summary = Summary::new(m);
        let s = serde_json::to_value(&summary).expect("serialises");
        assert_eq!(s["indexing"]["elasticsearch"], Value::Null);
        assert!(
            s["indexing"]
                .as_object()
                .unwrap()
                .contains_key("elasticsearch")
        );
        assert_eq!(s["ingestion"]["one_file"]["instant_secs"], Value::Null);
        assert_eq!(s["idle_rss_mb"], Value::Null);
        assert_eq!(s["search"]["http"][2]["p99_ms"], Value::Null);
        assert_eq!(s["search_qps_ratio_vs_sql"], Value::Null);
        let sets = s["ingestion"]["sets"].as_array().unwrap();
        assert_eq!(sets[0]["static_model_alone_chunks_per_s"], 9000.0);
        assert!(
            !sets[1]
                .as_object()
                .unwrap()
                .contains_key("static_model_alone_chunks_per_s")
        );

        let md = markdown(&summary);
        assert!(md.contains("| service RSS idle (MiB) | – |\n"), "{md}");
        assert!(
            md.contains("| the same, instant embedder | | | | – |\n"),
            "{md}"
        );
        assert!(
            md.contains("| /v2 HTTP | 16 | 3400 | 1.50 | 2.25 | – |\n"),
            "{md}"
        );
        assert!(!md.contains("upsert on elasticsearch"), "{md}");
        assert!(!md.contains("NaN"), "{md}");
    }

    #[test]
    fn markdown_has_a_row_for_every_figure() {
        let md = markdown(&Summary::new(measured()));
        for row in [
            "Scale 5000 chunks (5000 WordNet passages), 300 queries; 2 CPUs (AMD EPYC), 23.5 GiB.\n",
            "| /v2 upsert, precomputed vectors | 1500 |\n",
            "| **ratio** | **0.50** |\n",
            "| /v2 upsert on elasticsearch (2000 passages) | 700 |\n",
            "| vector search, k 10 (medians of 3 rounds) |",
            "| /v2 HTTP | 4 | 2000 | 1.50 | 2.25 | 3.00 |\n",
            "| raw SQL | 16 | 4000 | 1.50 | 2.25 | 3.00 |\n",
            "| **QPS ratio HTTP / SQL** | 16 | **0.85** | | | |\n",
            "| `GET /health` (the HTTP round trip alone) | 1 | 5000 | 1.50 | 2.25 | 3.00 |\n",
            "| recall@10, k 10 (defaults) | 0.9790 |\n",
            "| recall@10 at hnsw.ef_search 100 (SQL; 567 q/s, 1 client) | 0.9800 |\n",
            "| pgvector | 5000 | 300 | vector | 0.6000 | 0.5000 |\n",
            "| elasticsearch | 2000 | 300 | keyword | 0.2500 | 0.5000 |\n",
            "| pgvector | 2000 | 300 | hybrid | 0.1000 | 0.5000 |\n",
            "| chunking, 40 documents of 25 passages, 300 queries (vector search, by document) |",
            "| auto (800/400) | 123 | 4.5 | 0.2500 | 0.5000 |\n",
            "| static 128/64 | 123 | 4.5 | 0.2500 | 0.5000 |\n",
            "| candle matmul at the model's shapes: 75.0 GFLOPS | | | | |\n",
            "| 300 small files, built-in model | 10.0 | 20.0 | 5.0 | 2.0 |\n",
            "| 300 small files, instant embedder (the pipeline alone) | 10.0 | 400.0 | 5.0 | 2.0 |\n",
            "| 2 large files, potion-base-8m | 10.0 | 300.0 | 5.0 | 2.0 |\n",
            "| 300 small files, the static model alone on the same chunks | | 9000 | | |\n",
            "| 2 large files, model alone on the same 40 chunks (30.0 GFLOPS, 0.40 of matmul, 120 word pieces a chunk) | | 25.0 | | |\n",
            "| **ratio built-in / model alone** | | **0.80** | | |\n",
            "| upload, attach, poll one 104806 byte file (`library-unittest.txt`), built-in model | | | | 15.0 |\n",
            "| the same, instant embedder | | | | 0.53 |\n",
            "| vector search alone (/v2, query vectors given) | 16 | 3400.0 | 1.5 | 2.2 | 3.0 |\n",
            "| POST /v1/vector_stores/{id}/search | 4 | 90.0 | 1.5 | 2.2 | 3.0 |\n",
            "| model alone, batches of 32 (sentences/s) | 1 | 440.0 | | | |\n",
            "| service RSS peak, VmHWM (MiB) | 900 |\n",
            "| service table, MiB per million chunks | 4 |\n",
            "| COPY table, MiB per million chunks | 2 |\n",
            "\nElapsed: 321 s.\n",
        ] {
            assert!(md.contains(row), "no {row:?} in\n{md}");
        }
        assert!(
            !md.contains("2 large files, the static model alone"),
            "{md}"
        );
        let order = |a: &str, b: &str| md.find(a).unwrap() < md.find(b).unwrap();
        assert!(order(
            "| 300 small files, built-in model",
            "| 300 small files, instant"
        ));
        assert!(order(
            "| 300 small files, instant",
            "| 300 small files, potion"
        ));
        assert!(order("| pgvector | 5000 |", "| elasticsearch | 2000 |"));
    }
}
