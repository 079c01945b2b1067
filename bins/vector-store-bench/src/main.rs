//! `vector-store-bench`: drives a running vector-store service over HTTP with many concurrent
//! clients and measures each figure beside its baseline in the same run — indexing through `/v2`
//! against binary COPY, `/v2` vector search against the same SQL sent straight to PostgreSQL,
//! HNSW recall against exact neighbours, retrieval quality on WordNet on every back-end, the
//! OpenAI search route with text queries against the model's own throughput and the vector
//! search alone, file ingestion against the model alone and the matrix-multiply rate, memory
//! and disk.
//!
//! Writes `summary.json`, `summary.md` and SVG charts to `--out`; `scripts/bench.sh` starts
//! what it needs and runs it (`make bench`, `make bench-quick`).

mod charts;
mod chunking;
mod client;
mod data;
mod ingestion;
mod instant;
mod load;
mod quality;
mod sql;
mod summary;
mod vectors;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use embeddings::LocalBertEmbedder;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use client::Api;
use load::Latencies;
use summary::{
    Database, EfSearchPoint, EsIndexing, FullSetQuality, Indexing, LevelRatio, Machine, Measured,
    Memory, ModelRates, Quality, Recall, RoundRatios, Rss, SameSetQuality, Search, Summary,
};

#[derive(Debug, Parser)]
#[command(about = "Benchmarks a running vector-store service against raw PostgreSQL")]
struct Args {
    /// Base URL of the running service.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The PostgreSQL the service uses (for the baselines and table sizes).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// Also measure the Elasticsearch back-end (the service must have it configured).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    elastic: bool,
    /// PID of the service process, for its memory (VmRSS / VmHWM).
    #[arg(long)]
    server_pid: Option<u32>,
    /// Chunks in the speed collection: WordNet passages first, then synthetic clustered vectors.
    #[arg(long, default_value_t = 100_000)]
    scale: usize,
    /// WordNet queries (quoted examples) used for recall, quality and search load.
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Seconds each load level is measured (after a warm-up of a fifth of it).
    #[arg(long, default_value_t = 10)]
    duration_secs: u64,
    /// Rounds of each search load level (HTTP then SQL each round); figures are medians.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Concurrency levels of the vector-search load.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    concurrency: Vec<usize>,
    /// Concurrency levels of the end-to-end (text query) load.
    #[arg(long, value_delimiter = ',', default_value = "1,4,16")]
    e2e_concurrency: Vec<usize>,
    /// Concurrent upserts (and COPY connections).
    #[arg(long, default_value_t = 4)]
    index_concurrency: usize,
    /// Passages indexed on Elasticsearch for the retrieval-quality figures (the test server
    /// scans every vector per query); its queries are those about these passages.
    #[arg(long, default_value_t = 10_000)]
    es_scale: usize,
    /// Documents (of `passages_per_document` WordNet passages each) of the chunk-size quality
    /// comparison through the file pipeline.
    #[arg(long, default_value_t = 200)]
    chunking_documents: usize,
    #[arg(long, default_value_t = 25)]
    passages_per_document: usize,
    /// Documents per upsert.
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// Connections of the raw SQL baseline (the service's database.pool_size).
    #[arg(long, default_value_t = 16)]
    pool_size: usize,
    /// The service's storage.pgvector.ef_search.
    #[arg(long, default_value_t = 100)]
    ef_search: usize,
    /// hnsw.ef_search values of the recall sweep.
    #[arg(long, value_delimiter = ',', default_value = "10,20,40,80,100,200,400")]
    ef_sweep: Vec<usize>,
    /// The unpacked wordnet-base package's database directory.
    #[arg(long, default_value = ".local/bench/wordnet/usr/share/wordnet")]
    wordnet_dir: PathBuf,
    /// Where embeddings are cached.
    #[arg(long, default_value = ".local/bench")]
    cache_dir: PathBuf,
    /// Small files (one WordNet passage each) of the ingestion figures.
    #[arg(long, default_value_t = 2000)]
    ingest_small_files: usize,
    /// Large files of the ingestion figures, under `--pydoc-dir`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "whatsnew/3.2.rst.txt,reference/datamodel.rst.txt,library/os.rst.txt,library/stdtypes.rst.txt"
    )]
    ingest_large_files: Vec<String>,
    /// The file uploaded, attached and polled alone (under `--pydoc-dir`).
    #[arg(long, default_value = "library/unittest.rst.txt")]
    ingest_one_file: String,
    /// The reStructuredText sources of Python's documentation (Debian's python3.11-doc).
    #[arg(
        long,
        default_value = ".local/bench/pydoc/usr/share/doc/python3.11/html/_sources"
    )]
    pydoc_dir: PathBuf,
    /// Serve an instant OpenAI-compatible embedder on this port; the service must have a model
    /// `--instant-model` that calls it.
    #[arg(long)]
    instant_port: Option<u16>,
    #[arg(long, default_value = "bench_instant")]
    instant_model: String,
    /// A static model of the service, ingested with too (empty: none).
    #[arg(long, default_value = "potion-base-8m")]
    static_model: Option<String>,
    /// Where the built-in model lives.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
    /// Where the results go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Keep the collections and the COPY table afterwards.
    #[arg(long)]
    keep: bool,
}

const DIM: usize = 384;
const PG_COLLECTION: &str = "bench_pgvector";

fn bar(len: u64, msg: &str) -> ProgressBar {
    let b = ProgressBar::new(len);
    b.set_style(
        ProgressStyle::with_template("{msg:<38} [{bar:30}] {pos}/{len} ({per_sec}, eta {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    b.set_message(msg.to_string());
    b
}

fn step(msg: &str) {
    eprintln!("bench: {msg}");
}

/// VmRSS and VmHWM of a process.
fn memory(pid: Option<u32>) -> Option<Rss> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some(Rss {
        rss_mb: field("VmRSS:")?,
        hwm_mb: field("VmHWM:")?,
    })
}

fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default();
    let mem_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    Machine {
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model: cpu,
        memory_gib: (mem_gib * 10.0).round() / 10.0,
    }
}

/// Runs `f` over `0..n` with `concurrency` in flight, results in order.
async fn ordered<F, Fut, T>(n: usize, concurrency: usize, pb: &ProgressBar, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let out: Vec<Result<T>> = futures::stream::iter(0..n)
        .map(|i| {
            let fut = f(i);
            async move {
                let r = fut.await;
                pb.inc(1);
                r
            }
        })
        .buffered(concurrency.max(1))
        .collect()
        .await;
    pb.finish_and_clear();
    out.into_iter().collect()
}

/// The timing of every load level: a warm-up that is not counted, then the measured time.
#[derive(Debug, Clone, Copy)]
struct Timing {
    warmup: Duration,
    duration: Duration,
}

impl Timing {
    /// One closed-loop level: `f` over `0..items` from `clients` clients, under a progress bar
    /// named `label` that is cleared afterwards.
    async fn level<F, Fut>(self, label: &str, clients: usize, items: usize, f: F) -> Latencies
    where
        F: Fn(usize) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let pb = bar(0, label);
        let l =
            load::closed_loop(clients, items, self.warmup, self.duration, &pb, Arc::new(f)).await;
        pb.finish_and_clear();
        l
    }
}

/// What every phase works with: the arguments, the service and the timing of load levels.
struct Bench {
    args: Args,
    api: Api,
    timing: Timing,
}

impl Bench {
    /// The built-in model, loaded anew (batches of 32, as the service's).
    fn load_model(&self) -> Result<LocalBertEmbedder> {
        vectors::load_model(&self.args.models_dir, 32)
    }
}

/// The corpus and what the run takes of it: the speed collection's chunks (WordNet passages,
/// then synthetic clustered vectors up to `--scale`) and the WordNet queries about them.
struct Data {
    corpus: data::Corpus,
    /// WordNet passages among the chunks: the first ones of `corpus.passages`.
    passage_count: usize,
    queries: Vec<data::Query>,
    query_vectors: Vec<Vec<f32>>,
    ids: Vec<String>,
    texts: Vec<String>,
    vectors: Vec<Vec<f32>>,
}

impl Data {
    fn passages(&self) -> &[data::Passage] {
        &self.corpus.passages[..self.passage_count]
    }

    fn query_texts(&self) -> Vec<&str> {
        self.queries.iter().map(|q| q.text.as_str()).collect()
    }

    /// The id of each query's one relevant passage.
    fn relevant(&self) -> Vec<&str> {
        self.queries
            .iter()
            .map(|q| self.corpus.passages[q.passage].id.as_str())
            .collect()
    }

    /// The first `n` chunks.
    fn rows(&self, n: usize) -> Vec<quality::Row<'_>> {
        (0..n.min(self.ids.len()))
            .map(|i| {
                (
                    self.ids[i].as_str(),
                    self.texts[i].as_str(),
                    self.vectors[i].as_slice(),
                )
            })
            .collect()
    }

    /// `/v2` vector-search bodies of the queries at k 10, serialised once.
    fn vector_bodies(&self) -> Arc<Vec<Bytes>> {
        Arc::new(
            self.query_vectors
                .iter()
                .map(|v| client::search_body("vector", Some(v), None, 10))
                .collect(),
        )
    }

    /// The query vectors as the raw SQL binds them.
    fn pg_vectors(&self) -> Arc<Vec<pgvector::Vector>> {
        Arc::new(
            self.query_vectors
                .iter()
                .map(|v| pgvector::Vector::from(v.clone()))
                .collect(),
        )
    }
}

/// Reads WordNet and takes `--scale` chunks and `--queries` queries of it, with their vectors
/// from `cache` (embedding the ones it lacks).
fn load_data(b: &Bench, cache: &mut vectors::VectorCache) -> Result<Data> {
    let args = &b.args;
    step("reading WordNet");
    let corpus = data::load(&args.wordnet_dir, args.seed)?;
    let (passages, queries) = corpus.subset(args.scale, args.queries);
    step(&format!(
        "{} synsets, {} examples, {} queries usable; using {} passages, {} queries, scale {}",
        corpus.passages.len(),
        corpus.examples,
        corpus.queries.len(),
        passages.len(),
        queries.len(),
        args.scale
    ));
    let load_model = || b.load_model();
    let passage_texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let mut vecs = cache.get_or_embed(
        &passage_texts,
        &load_model,
        &bar(0, "embedding passages (cached once)"),
    )?;
    let query_texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let query_vectors =
        cache.get_or_embed(&query_texts, &load_model, &bar(0, "embedding queries"))?;
    let mut ids: Vec<String> = passages.iter().map(|p| p.id.clone()).collect();
    let mut texts: Vec<String> = passages.iter().map(|p| p.text.clone()).collect();
    if args.scale > passages.len() {
        let extra = args.scale - passages.len();
        step(&format!("{extra} synthetic clustered vectors"));
        vecs.extend(vectors::synthetic(extra, DIM, 1000, 0.6, args.seed));
        for i in 0..extra {
            ids.push(format!("s{i}"));
            texts.push(format!("synthetic chunk {i}"));
        }
    }
    let passage_count = passages.len();
    Ok(Data {
        corpus,
        passage_count,
        queries,
        query_vectors,
        ids,
        texts,
        vectors: vecs,
    })
}

/// The model's own throughput on up to 512 queries, while the service is idle.
fn model_rates(b: &Bench, d: &Data) -> Result<ModelRates> {
    step("measuring the model's throughput");
    let model = b.load_model()?;
    let sample: Vec<String> = d
        .query_texts()
        .iter()
        .take(512)
        .map(|s| s.to_string())
        .collect();
    Ok(ModelRates {
        batch_32: vectors::model_throughput(&model, &sample, 32)?,
        batch_1: vectors::model_throughput(&model, &sample[..sample.len().min(64)], 1)?,
    })
}

/// The speed collection, filled through `/v2`, and the COPY baseline beside it.
struct Indexed {
    /// The collection's id (`vs_…`), which is its physical name.
    id: String,
    /// Its table.
    table: String,
    indexing: Indexing,
    database: Database,
}

/// Fills the speed collection through `/v2`, then a table of the same shape by binary COPY;
/// the rates and both tables' sizes.
async fn index(b: &Bench, d: &Data) -> Result<Indexed> {
    let (args, api) = (&b.args, &b.api);
    api.delete_collection(PG_COLLECTION).await?;
    let id = api
        .create_collection(PG_COLLECTION, "pgvector", DIM)
        .await?;
    let table = store_pgvector::table_name(&id)
        .with_context(|| format!("the collection id '{id}' is not a table name"))?;
    let n = d.ids.len();
    let rows = d.rows(n);
    step(&format!(
        "indexing {n} chunks through /v2 (upserts of {}, {} at a time)",
        args.batch, args.index_concurrency
    ));
    let http_rate = quality::index(
        api,
        PG_COLLECTION,
        &rows,
        args.batch,
        args.index_concurrency,
        "upsert /v2 (pgvector)",
    )
    .await?;
    step(&format!("/v2 upsert: {http_rate:.0} chunks/s"));

    step("COPY baseline");
    let copy_table = sql::create_copy_table(&args.database_url, DIM).await?;
    let copy_time = sql::copy_rows(
        &args.database_url,
        &copy_table,
        &rows,
        args.index_concurrency,
        &bar(n as u64, "binary COPY"),
    )
    .await?;
    let copy_rate = n as f64 / copy_time.as_secs_f64();
    step(&format!("COPY: {copy_rate:.0} chunks/s"));
    let service_bytes = sql::table_bytes(&args.database_url, &table).await?;
    let copy_bytes = sql::table_bytes(&args.database_url, &copy_table).await?;
    if !args.keep {
        sql::drop_copy_table(&args.database_url, &copy_table).await?;
    }
    Ok(Indexed {
        id,
        table,
        indexing: Indexing {
            http_chunks_per_s: http_rate,
            copy_chunks_per_s: copy_rate,
            concurrency: args.index_concurrency,
            batch: args.batch,
            elasticsearch: None,
        },
        database: Database::of(service_bytes, copy_bytes, n),
    })
}

/// Recall of `/v2` vector search against exact neighbours (brute force) at k 10 and 50, and of
/// the raw SQL on `table` at each `--ef-sweep` value.
async fn recall(b: &Bench, d: &Data, table: &str) -> Result<Recall> {
    let api = &b.api;
    step("exact neighbours (brute force)");
    let exact: Vec<Vec<String>> = vectors::exact_neighbours(&d.vectors, &d.query_vectors, 50)
        .iter()
        .map(|r| r.iter().map(|&i| d.ids[i].clone()).collect())
        .collect();
    let q = d.queries.len();
    let vector_bodies = d.vector_bodies();
    let vec_k10 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 10"), |i| {
        api.search(PG_COLLECTION, vector_bodies[i].clone())
    })
    .await?;
    let vec_k50 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 50"), |i| {
        api.search(
            PG_COLLECTION,
            client::search_body("vector", Some(&d.query_vectors[i]), None, 50),
        )
    })
    .await?;
    let recall10 = load::recall_vs_exact(&vec_k10, &exact, 10);
    let recall10_k50 = load::recall_vs_exact(&vec_k50, &exact, 10);
    let recall50_k50 = load::recall_vs_exact(&vec_k50, &exact, 50);
    step(&format!(
        "recall@10 {recall10:.4}; at k 50: recall@10 {recall10_k50:.4}, recall@50 {recall50_k50:.4}"
    ));

    let pg_vectors = d.pg_vectors();
    let mut sweep = Vec::new();
    for &ef in &b.args.ef_sweep {
        let s = sql::Searcher::new(&b.args.database_url, table, ef).await?;
        let t = Instant::now();
        let mut res = Vec::with_capacity(q);
        for v in pg_vectors.iter() {
            res.push(s.search(v, 10).await?);
        }
        let qps = q as f64 / t.elapsed().as_secs_f64();
        let r = load::recall_vs_exact(&res, &exact, 10);
        step(&format!(
            "ef_search {ef}: recall@10 {r:.4}, {qps:.0} q/s (SQL, 1 client)"
        ));
        sweep.push(EfSearchPoint {
            ef_search: ef,
            recall_at_10: r,
            sql_qps_1_client: qps,
        });
    }
    Ok(Recall {
        k10_recall_at_10: recall10,
        k50_recall_at_10: recall10_k50,
        k50_recall_at_50: recall50_k50,
        ef_search_sweep: sweep,
    })
}

/// The search load: at each `--concurrency`, `/v2` vector search against the same SQL on
/// `table` from a pool of `--pool-size` connections, in `--rounds` rounds; then the round trip
/// of `GET /health`.
async fn search_load(b: &Bench, d: &Data, table: &str) -> Result<Search> {
    let (args, timing) = (&b.args, b.timing);
    let q = d.queries.len();
    let vector_bodies = d.vector_bodies();
    let pg_vectors = d.pg_vectors();
    let mut http_levels: Vec<Latencies> = Vec::new();
    let mut sql_levels: Vec<Latencies> = Vec::new();
    let pool = {
        let mut v = Vec::new();
        for _ in 0..args.pool_size.max(1) {
            v.push(sql::Searcher::new(&args.database_url, table, args.ef_search.max(20)).await?);
        }
        Arc::new(tokio::sync::Mutex::new(v))
    };
    let permits = Arc::new(tokio::sync::Semaphore::new(args.pool_size.max(1)));
    // Each level is measured in `rounds` rounds, HTTP then SQL, so that both see the same
    // drifts of a shared machine; the figures are the medians over the rounds.
    let mut round_ratios = Vec::new();
    for &c in &args.concurrency {
        let mut http_rounds = Vec::new();
        let mut sql_rounds = Vec::new();
        for round in 1..=args.rounds.max(1) {
            let api = b.api.clone();
            let bodies = vector_bodies.clone();
            let label = format!("/v2 search, {c} clients, round {round}");
            let l = timing
                .level(&label, c, q, move |i: usize| {
                    let api = api.clone();
                    let body = bodies[i].clone();
                    async move { api.search(PG_COLLECTION, body).await.map(|_| ()) }
                })
                .await;
            http_rounds.push(l);

            let pool = pool.clone();
            let permits = permits.clone();
            let vs = pg_vectors.clone();
            let label = format!("raw SQL search, {c} clients, round {round}");
            let l = timing
                .level(&label, c, q, move |i: usize| {
                    let pool = pool.clone();
                    let permits = permits.clone();
                    let vs = vs.clone();
                    async move {
                        let _permit = permits.acquire().await?;
                        let s = pool.lock().await.pop().context("pool empty")?;
                        let r = s.search(&vs[i], 10).await;
                        pool.lock().await.push(s);
                        r.map(|_| ())
                    }
                })
                .await;
            sql_rounds.push(l);
        }
        let ratios: Vec<f64> = http_rounds
            .iter()
            .zip(&sql_rounds)
            .map(|(h, s)| h.qps / s.qps)
            .collect();
        let (h, s) = (load::median_of(&http_rounds), load::median_of(&sql_rounds));
        for (name, l) in [("HTTP", &h), ("SQL ", &s)] {
            step(&format!(
                "{name} c={c}: {:.0} q/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms (medians of {} rounds)",
                l.qps,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                ratios.len()
            ));
        }
        step(&format!("ratio by round: {ratios:.2?}"));
        round_ratios.push(RoundRatios {
            concurrency: c,
            ratios,
        });
        http_levels.push(h);
        sql_levels.push(s);
    }
    drop(pool);
    // The floor under every HTTP figure: the round trip of `/health` from the same client.
    let api = b.api.clone();
    let http_floor = timing
        .level("GET /health, 1 client", 1, 1, move |_| {
            let api = api.clone();
            async move { api.health().await }
        })
        .await;
    step(&format!(
        "GET /health c=1: p50 {:.3} ms, p99 {:.3} ms",
        http_floor.p50_ms, http_floor.p99_ms
    ));
    let qps_ratio_by_concurrency = http_levels
        .iter()
        .zip(&sql_levels)
        .map(|(h, s)| LevelRatio {
            concurrency: h.concurrency,
            ratio: summary::ratio(h.qps, s.qps),
        })
        .collect();
    Ok(Search {
        http: http_levels,
        sql: sql_levels,
        qps_ratio_by_concurrency,
        rounds: args.rounds.max(1),
        http_health_round_trip: http_floor,
        qps_ratio_by_round: round_ratios,
        pool_size: args.pool_size,
    })
}

/// Retrieval quality: pgvector on the whole speed collection; then every back-end on the same
/// smaller set of `--es-scale` passages (the Elasticsearch-API server of the tests scans every
/// vector), with the queries about it.
async fn retrieval_quality(
    b: &Bench,
    d: &Data,
    cache: &mut vectors::VectorCache,
) -> Result<Quality> {
    let (args, api) = (&b.args, &b.api);
    let full_set = quality::QuerySet {
        texts: d.query_texts(),
        vectors: d.query_vectors.clone(),
        relevant: d.relevant(),
    };
    let full = FullSetQuality {
        pgvector: quality::measure(api, "pgvector", PG_COLLECTION, &full_set).await?,
    };
    let np = d.passage_count.min(args.es_scale);
    let (_, small_queries) = d.corpus.subset(np, args.queries);
    let small_texts: Vec<&str> = small_queries.iter().map(|q| q.text.as_str()).collect();
    let small_set = quality::QuerySet {
        vectors: cache.get_or_embed(
            &small_texts,
            &|| b.load_model(),
            &bar(0, "embedding queries"),
        )?,
        relevant: small_queries
            .iter()
            .map(|q| d.passages()[q.passage].id.as_str())
            .collect(),
        texts: small_texts,
    };
    let small_rows = d.rows(np);
    let mut backends = BTreeMap::new();
    let mut elasticsearch = None;
    let names: &[&str] = if args.elastic {
        &["pgvector", "elasticsearch"]
    } else {
        &["pgvector"]
    };
    for &backend in names {
        let collection = format!("bench_quality_{backend}");
        api.delete_collection(&collection).await?;
        if let Err(e) = api.create_collection(&collection, backend, DIM).await {
            step(&format!("{backend} skipped: {e:#}"));
            continue;
        }
        let rate = quality::index(
            api,
            &collection,
            &small_rows,
            args.batch,
            args.index_concurrency,
            &format!("upsert /v2 ({backend}, {np} passages)"),
        )
        .await?;
        step(&format!(
            "/v2 upsert on {backend}: {rate:.0} chunks/s ({np} passages)"
        ));
        if backend == "elasticsearch" {
            elasticsearch = Some(EsIndexing {
                chunks: np,
                chunks_per_s: rate,
            });
        }
        backends.insert(
            backend.to_string(),
            quality::measure(api, &format!("{backend}, {np}"), &collection, &small_set).await?,
        );
        if !args.keep {
            api.delete_collection(&collection).await?;
        }
    }
    Ok(Quality {
        full,
        same_set: SameSetQuality {
            passages: np,
            queries: small_set.texts.len(),
            backends,
        },
        elasticsearch,
    })
}

/// Files through the OpenAI surface, against the model alone and the matrix multiply.
async fn file_ingestion(b: &Bench, d: &Data) -> Result<ingestion::Ingestion> {
    let args = &b.args;
    let sets = [
        ingestion::small_files(&d.corpus, args.ingest_small_files),
        ingestion::large_files(&args.pydoc_dir, &args.ingest_large_files)?,
    ];
    let one_file =
        ingestion::large_files(&args.pydoc_dir, std::slice::from_ref(&args.ingest_one_file))?
            .files
            .remove(0);
    let model = b.load_model()?;
    let static_model = match &args.static_model {
        Some(name) => Some(
            embeddings::StaticEmbedder::load(name, &args.models_dir.join(name), 512)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    ingestion::measure(
        &b.api,
        &sets,
        &one_file,
        ingestion::Options {
            model: &model,
            batch: 32,
            others: args
                .instant_port
                .map(|_| {
                    (
                        "instant embedder (the pipeline alone)",
                        args.instant_model.as_str(),
                    )
                })
                .into_iter()
                .chain(args.static_model.as_deref().map(|m| (m, m)))
                .collect(),
            instant_model: args.instant_port.map(|_| args.instant_model.as_str()),
            static_model: static_model.as_ref(),
        },
    )
    .await
}

/// The OpenAI search route with the queries' texts on the speed collection `id`, at each
/// `--e2e-concurrency`.
async fn end_to_end(b: &Bench, d: &Data, id: &str) -> Vec<Latencies> {
    let text_bodies: Arc<Vec<Bytes>> = Arc::new(
        d.queries
            .iter()
            .map(|x| {
                serde_json::to_vec(&serde_json::json!({"query": x.text, "max_num_results": 10}))
                    .expect("json")
                    .into()
            })
            .collect(),
    );
    let mut levels = Vec::new();
    for &c in &b.args.e2e_concurrency {
        let api = b.api.clone();
        let bodies = text_bodies.clone();
        let id = id.to_string();
        let label = format!("/v1/vector_stores search, {c} clients");
        let l = b
            .timing
            .level(&label, c, d.queries.len(), move |i: usize| {
                let api = api.clone();
                let body = bodies[i].clone();
                let id = id.clone();
                async move { api.openai_search(&id, body).await.map(|_| ()) }
            })
            .await;
        step(&format!(
            "end to end c={c}: {:.1} q/s, p50 {:.1} ms, p99 {:.1} ms",
            l.qps, l.p50_ms, l.p99_ms
        ));
        levels.push(l);
    }
    levels
}

/// The SVG charts: latency and QPS against concurrency, recall against `hnsw.ef_search`.
fn write_charts(out: &Path, search: &Search, recall: &Recall) -> Result<()> {
    charts::latency_vs_concurrency(
        &out.join("latency_vs_concurrency.svg"),
        &search.http,
        &search.sql,
    )?;
    charts::qps_vs_concurrency(
        &out.join("qps_vs_concurrency.svg"),
        &search.http,
        &search.sql,
    )?;
    let points: Vec<(usize, f64)> = recall
        .ef_search_sweep
        .iter()
        .map(|p| (p.ef_search, p.recall_at_10))
        .collect();
    charts::recall_vs_ef(&out.join("recall_vs_ef_search.svg"), &points)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    std::fs::create_dir_all(&args.out)?;
    let api = Api::new(&args.url)?;
    if let Some(port) = args.instant_port {
        instant::start(port).await?;
    }
    api.wait_ready(Duration::from_secs(60)).await?;
    let idle = memory(args.server_pid);
    let timing = Timing {
        warmup: Duration::from_secs(args.duration_secs).div_f64(5.0),
        duration: Duration::from_secs(args.duration_secs),
    };
    let b = Bench { args, api, timing };

    let cache_path = b.args.cache_dir.join("minilm-vectors.bin");
    let mut cache = vectors::VectorCache::open(&cache_path, DIM)?;
    step(&format!(
        "{} cached vectors in {}",
        cache.len(),
        cache_path.display()
    ));
    let data = load_data(&b, &mut cache)?;
    let model = model_rates(&b, &data)?;
    let indexed = index(&b, &data).await?;
    let recall = recall(&b, &data, &indexed.table).await?;
    let search = search_load(&b, &data, &indexed.table).await?;
    let quality = retrieval_quality(&b, &data, &mut cache).await?;
    // Chunk sizes through the file pipeline: the model's own, and longer ones embedded in
    // windows.
    let chunk_sizes = chunking::measure(
        &b.api,
        &data.corpus,
        b.args.chunking_documents,
        b.args.passages_per_document,
        b.args.queries,
    )
    .await?;
    let ingestion = file_ingestion(&b, &data).await?;
    let openai_search = end_to_end(&b, &data, &indexed.id).await;
    let end = memory(b.args.server_pid);
    write_charts(&b.args.out, &search, &recall)?;

    let summary = Summary::new(Measured {
        scale: data.ids.len(),
        passages: data.passage_count,
        queries: data.queries.len(),
        machine: machine(),
        model,
        indexing: indexed.indexing,
        database: indexed.database,
        recall,
        search,
        quality,
        chunk_sizes,
        ingestion,
        openai_search,
        memory: Memory { idle, end },
        elapsed_s: started.elapsed().as_secs_f64(),
    });
    std::fs::write(
        b.args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let md = summary::markdown(&summary);
    std::fs::write(b.args.out.join("summary.md"), &md)?;
    println!("{md}");

    if !b.args.keep {
        b.api.delete_collection(PG_COLLECTION).await?;
    }
    Ok(())
}
