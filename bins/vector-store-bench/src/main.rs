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
mod vectors;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use clap::Parser;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};

use client::Api;
use load::Latencies;

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

/// VmRSS and VmHWM of a process, in MiB.
fn memory(pid: Option<u32>) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    let field = |name: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

fn machine() -> Value {
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
    json!({
        "cpus": std::thread::available_parallelism().map_or(1, |n| n.get()),
        "cpu_model": cpu,
        "memory_gib": (mem_gib * 10.0).round() / 10.0,
    })
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

    // --- data -------------------------------------------------------------------------------
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
    let cache_path = args.cache_dir.join("minilm-vectors.bin");
    let mut cache = vectors::VectorCache::open(&cache_path, DIM)?;
    step(&format!(
        "{} cached vectors in {}",
        cache.len(),
        cache_path.display()
    ));
    let models_dir = args.models_dir.clone();
    let load_model = move || vectors::load_model(&models_dir, 32);
    let passage_texts: Vec<&str> = passages.iter().map(|p| p.text.as_str()).collect();
    let mut vecs = cache.get_or_embed(
        &passage_texts,
        &load_model,
        &bar(0, "embedding passages (cached once)"),
    )?;
    let query_texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let query_vecs = cache.get_or_embed(&query_texts, &load_model, &bar(0, "embedding queries"))?;
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
    let n = ids.len();
    let relevant: Vec<&str> = queries
        .iter()
        .map(|q| passages[q.passage].id.as_str())
        .collect();

    // The model's own throughput, while the service is idle.
    step("measuring the model's throughput");
    let model = load_model()?;
    let sample: Vec<String> = query_texts
        .iter()
        .take(512)
        .map(|s| s.to_string())
        .collect();
    let model_batch32 = vectors::model_throughput(&model, &sample, 32)?;
    let model_batch1 = vectors::model_throughput(&model, &sample[..sample.len().min(64)], 1)?;
    drop(model);

    // --- 1. indexing ------------------------------------------------------------------------
    api.delete_collection(PG_COLLECTION).await?;
    let pg_id = api
        .create_collection(PG_COLLECTION, "pgvector", DIM)
        .await?;
    let pg_table = format!("vectors.\"{pg_id}\"");
    let rows: Vec<(&str, &str, &[f32])> = (0..n)
        .map(|i| (ids[i].as_str(), texts[i].as_str(), vecs[i].as_slice()))
        .collect();
    step(&format!(
        "indexing {n} chunks through /v2 (upserts of {}, {} at a time)",
        args.batch, args.index_concurrency
    ));
    let http_rate = quality::index(
        &api,
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
    let service_bytes = sql::table_bytes(&args.database_url, &pg_table).await?;
    let copy_bytes = sql::table_bytes(&args.database_url, &copy_table).await?;
    if !args.keep {
        sql::drop_copy_table(&args.database_url, &copy_table).await?;
    }
    drop(rows);

    // --- 3. recall against exact neighbours --------------------------------------------------
    step("exact neighbours (brute force)");
    let exact_idx = vectors::exact_neighbours(&vecs, &query_vecs, 50);
    let exact: Vec<Vec<String>> = exact_idx
        .iter()
        .map(|r| r.iter().map(|&i| ids[i].clone()).collect())
        .collect();
    let q = queries.len();
    let vector_bodies: Arc<Vec<Bytes>> = Arc::new(
        query_vecs
            .iter()
            .map(|v| client::search_body("vector", Some(v), None, 10))
            .collect(),
    );
    let vec_k10 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 10"), |i| {
        api.search(PG_COLLECTION, vector_bodies[i].clone())
    })
    .await?;
    let vec_k50 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 50"), |i| {
        api.search(
            PG_COLLECTION,
            client::search_body("vector", Some(&query_vecs[i]), None, 50),
        )
    })
    .await?;
    let recall10 = load::recall_vs_exact(&vec_k10, &exact, 10);
    let recall10_k50 = load::recall_vs_exact(&vec_k50, &exact, 10);
    let recall50_k50 = load::recall_vs_exact(&vec_k50, &exact, 50);
    step(&format!(
        "recall@10 {recall10:.4}; at k 50: recall@10 {recall10_k50:.4}, recall@50 {recall50_k50:.4}"
    ));

    let pg_vectors: Arc<Vec<pgvector::Vector>> = Arc::new(
        query_vecs
            .iter()
            .map(|v| pgvector::Vector::from(v.clone()))
            .collect(),
    );
    let mut sweep = Vec::new();
    for &ef in &args.ef_sweep {
        let s = sql::Searcher::new(&args.database_url, &pg_table, ef).await?;
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
        sweep.push(json!({"ef_search": ef, "recall_at_10": r, "sql_qps_1_client": qps}));
    }

    // --- 2. search load: HTTP against SQL ----------------------------------------------------
    let timing = Timing {
        warmup: Duration::from_secs(args.duration_secs).div_f64(5.0),
        duration: Duration::from_secs(args.duration_secs),
    };
    let mut http_levels: Vec<Latencies> = Vec::new();
    let mut sql_levels: Vec<Latencies> = Vec::new();
    let pool = {
        let mut v = Vec::new();
        for _ in 0..args.pool_size.max(1) {
            v.push(
                sql::Searcher::new(&args.database_url, &pg_table, args.ef_search.max(20)).await?,
            );
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
            let api2 = api.clone();
            let bodies = vector_bodies.clone();
            let label = format!("/v2 search, {c} clients, round {round}");
            let l = timing
                .level(&label, c, q, move |i: usize| {
                    let api = api2.clone();
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
        round_ratios.push(json!({"concurrency": c, "ratios": ratios}));
        http_levels.push(h);
        sql_levels.push(s);
    }
    drop(pool);
    // The floor under every HTTP figure: the round trip of `/health` from the same client.
    let api2 = api.clone();
    let http_floor = timing
        .level("GET /health, 1 client", 1, 1, move |_| {
            let api = api2.clone();
            async move { api.health().await }
        })
        .await;
    step(&format!(
        "GET /health c=1: p50 {:.3} ms, p99 {:.3} ms",
        http_floor.p50_ms, http_floor.p99_ms
    ));

    // --- 4. retrieval quality ----------------------------------------------------------------
    // pgvector on the whole collection; then every back-end on the same smaller set (the
    // Elasticsearch-API server of the tests scans every vector), with the queries about it.
    let mut quality = serde_json::Map::new();
    let full_set = quality::QuerySet {
        texts: query_texts.clone(),
        vectors: query_vecs.clone(),
        relevant: relevant.clone(),
    };
    quality.insert(
        "pgvector".into(),
        quality::measure(&api, "pgvector", PG_COLLECTION, &full_set).await?,
    );
    let np = passages.len().min(args.es_scale);
    let (_, small_queries) = corpus.subset(np, args.queries);
    let small_texts: Vec<&str> = small_queries.iter().map(|q| q.text.as_str()).collect();
    let small_set = quality::QuerySet {
        vectors: cache.get_or_embed(&small_texts, &load_model, &bar(0, "embedding queries"))?,
        relevant: small_queries
            .iter()
            .map(|q| passages[q.passage].id.as_str())
            .collect(),
        texts: small_texts,
    };
    let small_rows: Vec<quality::Row> = (0..np)
        .map(|i| (ids[i].as_str(), texts[i].as_str(), vecs[i].as_slice()))
        .collect();
    let mut same_set = serde_json::Map::new();
    let mut es_index = Value::Null;
    let backends: &[&str] = if args.elastic {
        &["pgvector", "elasticsearch"]
    } else {
        &["pgvector"]
    };
    for &backend in backends {
        let collection = format!("bench_quality_{backend}");
        api.delete_collection(&collection).await?;
        if let Err(e) = api.create_collection(&collection, backend, DIM).await {
            step(&format!("{backend} skipped: {e:#}"));
            continue;
        }
        let rate = quality::index(
            &api,
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
            es_index = json!({"chunks": np, "chunks_per_s": rate});
        }
        same_set.insert(
            backend.into(),
            quality::measure(&api, &format!("{backend}, {np}"), &collection, &small_set).await?,
        );
        if !args.keep {
            api.delete_collection(&collection).await?;
        }
    }

    // Chunk sizes through the file pipeline: the model's own, and longer ones embedded in
    // windows.
    let chunk_sizes = chunking::measure(
        &api,
        &corpus,
        args.chunking_documents,
        args.passages_per_document,
        args.queries,
    )
    .await?;

    // Files through the OpenAI surface, against the model alone and the matrix multiply.
    let sets = [
        ingestion::small_files(&corpus, args.ingest_small_files),
        ingestion::large_files(&args.pydoc_dir, &args.ingest_large_files)?,
    ];
    let one_file =
        ingestion::large_files(&args.pydoc_dir, std::slice::from_ref(&args.ingest_one_file))?
            .files
            .remove(0);
    let ingest = {
        let model = load_model()?;
        let static_model = match &args.static_model {
            Some(name) => Some(
                embeddings::StaticEmbedder::load(name, &args.models_dir.join(name), 512)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            None => None,
        };
        ingestion::measure(
            &api,
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
        .await?
    };

    // --- 5. end to end with text queries -----------------------------------------------------
    let text_bodies: Arc<Vec<Bytes>> = Arc::new(
        queries
            .iter()
            .map(|x| {
                serde_json::to_vec(&json!({"query": x.text, "max_num_results": 10}))
                    .expect("json")
                    .into()
            })
            .collect(),
    );
    let mut e2e_levels = Vec::new();
    for &c in &args.e2e_concurrency {
        let api2 = api.clone();
        let bodies = text_bodies.clone();
        let id = pg_id.clone();
        let label = format!("/v1/vector_stores search, {c} clients");
        let l = timing
            .level(&label, c, q, move |i: usize| {
                let api = api2.clone();
                let body = bodies[i].clone();
                let id = id.clone();
                async move { api.openai_search(&id, body).await.map(|_| ()) }
            })
            .await;
        step(&format!(
            "end to end c={c}: {:.1} q/s, p50 {:.1} ms, p99 {:.1} ms",
            l.qps, l.p50_ms, l.p99_ms
        ));
        e2e_levels.push(l);
    }

    // --- 6. memory, charts, summary ----------------------------------------------------------
    let end_mem = memory(args.server_pid);
    charts::latency_vs_concurrency(
        &args.out.join("latency_vs_concurrency.svg"),
        &http_levels,
        &sql_levels,
    )?;
    charts::qps_vs_concurrency(
        &args.out.join("qps_vs_concurrency.svg"),
        &http_levels,
        &sql_levels,
    )?;
    let sweep_points: Vec<(usize, f64)> = sweep
        .iter()
        .map(|s| {
            (
                s["ef_search"].as_u64().unwrap_or(0) as usize,
                s["recall_at_10"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    charts::recall_vs_ef(&args.out.join("recall_vs_ef_search.svg"), &sweep_points)?;

    let top = http_levels.len().saturating_sub(1);
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { f64::NAN };
    let per_million = |bytes: i64| bytes as f64 / n as f64 * 1e6 / (1024.0 * 1024.0);
    let mrr = |m: &str| {
        quality["pgvector"][m]["mrr_at_10"]
            .as_f64()
            .unwrap_or(f64::NAN)
    };
    let summary = json!({
        "scale": n,
        "passages": passages.len(),
        "queries": q,
        "machine": machine(),
        "index_rate_ratio_vs_sql": ratio(http_rate, copy_rate),
        "search_qps_ratio_vs_sql": ratio(http_levels[top].qps, sql_levels[top].qps),
        "search_concurrency_of_ratio": http_levels[top].concurrency,
        "search_qps_ratio_vs_sql_by_concurrency": http_levels.iter().zip(&sql_levels)
            .map(|(h, s)| (h.concurrency.to_string(), json!(ratio(h.qps, s.qps))))
            .collect::<serde_json::Map<_, _>>(),
        "search_p50_ms": http_levels[top].p50_ms,
        "search_p99_ms": http_levels[top].p99_ms,
        "recall_at_10": recall10,
        "mrr_at_10": {"vector": mrr("vector"), "keyword": mrr("keyword"), "hybrid": mrr("hybrid")},
        "idle_rss_mb": idle.map(|m| m.0),
        "peak_rss_mb": end_mem.map(|m| m.1),
        "final_rss_mb": end_mem.map(|m| m.0),
        "indexing": {
            "http_chunks_per_s": http_rate,
            "copy_chunks_per_s": copy_rate,
            "concurrency": args.index_concurrency,
            "batch": args.batch,
            "elasticsearch": es_index,
        },
        "search": {
            "http": http_levels,
            "sql": sql_levels,
            "qps_ratio_by_concurrency": http_levels.iter().zip(&sql_levels)
                .map(|(h, s)| json!({"concurrency": h.concurrency, "ratio": ratio(h.qps, s.qps)}))
                .collect::<Vec<_>>(),
            "rounds": args.rounds.max(1),
            "http_health_round_trip": http_floor,
            "qps_ratio_by_round": round_ratios,
            "pool_size": args.pool_size,
        },
        "recall": {
            "k10_recall_at_10": recall10,
            "k50_recall_at_10": recall10_k50,
            "k50_recall_at_50": recall50_k50,
            "ef_search_sweep": sweep,
        },
        "quality": quality,
        "quality_chunk_sizes": chunk_sizes,
        "quality_same_set": {
            "passages": np,
            "queries": small_set.texts.len(),
            "backends": same_set,
        },
        "ingestion": ingest,
        "end_to_end": {
            "openai_search": e2e_levels,
            "vector_search_http": http_levels,
            "model_sentences_per_s_batch_32": model_batch32,
            "model_sentences_per_s_batch_1": model_batch1,
        },
        "database": {
            "service_table_bytes": service_bytes,
            "copy_table_bytes": copy_bytes,
            "service_mib_per_million_chunks": per_million(service_bytes),
            "copy_mib_per_million_chunks": per_million(copy_bytes),
        },
        "elapsed_s": started.elapsed().as_secs_f64(),
    });
    std::fs::write(
        args.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    let md = markdown(&summary);
    std::fs::write(args.out.join("summary.md"), &md)?;
    println!("{md}");

    if !args.keep {
        api.delete_collection(PG_COLLECTION).await?;
    }
    Ok(())
}

fn f(v: &Value, digits: usize) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

/// The summary as markdown tables.
fn markdown(s: &Value) -> String {
    let mut o = String::new();
    let m = &s["machine"];
    o.push_str(&format!(
        "Scale {} chunks ({} WordNet passages), {} queries; {} CPUs ({}), {} GiB.\n\n",
        s["scale"],
        s["passages"],
        s["queries"],
        m["cpus"],
        m["cpu_model"].as_str().unwrap_or(""),
        m["memory_gib"]
    ));
    let ix = &s["indexing"];
    o.push_str("| indexing | chunks/s |\n|---|---:|\n");
    o.push_str(&format!(
        "| /v2 upsert, precomputed vectors | {} |\n",
        f(&ix["http_chunks_per_s"], 0)
    ));
    o.push_str(&format!(
        "| binary COPY, same table and indexes | {} |\n",
        f(&ix["copy_chunks_per_s"], 0)
    ));
    o.push_str(&format!(
        "| **ratio** | **{}** |\n",
        f(&s["index_rate_ratio_vs_sql"], 2)
    ));
    if !ix["elasticsearch"].is_null() {
        o.push_str(&format!(
            "| /v2 upsert on elasticsearch ({} passages) | {} |\n",
            ix["elasticsearch"]["chunks"],
            f(&ix["elasticsearch"]["chunks_per_s"], 0)
        ));
    }
    o.push_str(&format!(
        "\n| vector search, k 10 (medians of {} rounds) | clients | QPS | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n",
        s["search"]["rounds"]
    ));
    for (name, key) in [("/v2 HTTP", "http"), ("raw SQL", "sql")] {
        for l in s["search"][key].as_array().into_iter().flatten() {
            o.push_str(&format!(
                "| {name} | {} | {} | {} | {} | {} |\n",
                l["concurrency"],
                f(&l["qps"], 0),
                f(&l["p50_ms"], 2),
                f(&l["p95_ms"], 2),
                f(&l["p99_ms"], 2)
            ));
        }
    }
    for r in s["search"]["qps_ratio_by_concurrency"]
        .as_array()
        .into_iter()
        .flatten()
    {
        o.push_str(&format!(
            "| **QPS ratio HTTP / SQL** | {} | **{}** | | | |\n",
            r["concurrency"],
            f(&r["ratio"], 2)
        ));
    }
    let floor = &s["search"]["http_health_round_trip"];
    o.push_str(&format!(
        "| `GET /health` (the HTTP round trip alone) | 1 | {} | {} | {} | {} |\n",
        f(&floor["qps"], 0),
        f(&floor["p50_ms"], 2),
        f(&floor["p95_ms"], 2),
        f(&floor["p99_ms"], 2)
    ));
    let rc = &s["recall"];
    o.push_str("\n| ANN quality (vs exact neighbours) | value |\n|---|---:|\n");
    o.push_str(&format!(
        "| recall@10, k 10 (defaults) | {} |\n",
        f(&rc["k10_recall_at_10"], 4)
    ));
    o.push_str(&format!(
        "| recall@10, k 50 | {} |\n",
        f(&rc["k50_recall_at_10"], 4)
    ));
    o.push_str(&format!(
        "| recall@50, k 50 | {} |\n",
        f(&rc["k50_recall_at_50"], 4)
    ));
    for p in rc["ef_search_sweep"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "| recall@10 at hnsw.ef_search {} (SQL; {} q/s, 1 client) | {} |\n",
            p["ef_search"],
            f(&p["sql_qps_1_client"], 0),
            f(&p["recall_at_10"], 4)
        ));
    }
    o.push_str("\n| WordNet retrieval | passages | queries | mode | MRR@10 | recall@10 |\n|---|---:|---:|---|---:|---:|\n");
    let same = &s["quality_same_set"];
    let sets = [
        (&s["quality"], &s["passages"]),
        (&same["backends"], &same["passages"]),
    ];
    for (set, passages) in sets {
        for (backend, modes) in set.as_object().into_iter().flatten() {
            for mode in ["vector", "keyword", "hybrid"] {
                o.push_str(&format!(
                    "| {backend} | {passages} | {} | {mode} | {} | {} |\n",
                    modes[mode]["queries"],
                    f(&modes[mode]["mrr_at_10"], 4),
                    f(&modes[mode]["recall_at_10"], 4)
                ));
            }
        }
    }
    for c in s["quality_chunk_sizes"]["sets"]
        .as_array()
        .into_iter()
        .flatten()
    {
        o.push_str(&format!(
            "\n| chunking, {} documents of {} passages, {} queries (vector search, by document) | chunks | ingest s | MRR@10 | recall@10 |\n|---|---:|---:|---:|---:|\n",
            c["documents"], c["passages_per_document"], c["queries"]
        ));
        for r in c["strategies"].as_array().into_iter().flatten() {
            let strategy = match r["strategy"].as_str().unwrap_or_default() {
                "auto" => format!(
                    "auto ({}/{})",
                    r["resolved"]["max_chunk_size_tokens"], r["resolved"]["chunk_overlap_tokens"]
                ),
                other => other.to_string(),
            };
            o.push_str(&format!(
                "| {strategy} | {} | {} | {} | {} |\n",
                r["chunks"],
                f(&r["ingest_secs"], 1),
                f(&r["mrr_at_10"], 4),
                f(&r["recall_at_10"], 4)
            ));
        }
    }
    let g = &s["ingestion"];
    o.push_str(&format!(
        "\n| ingestion through /v1 (one file batch) | files/s | chunks/s | KB/s | s |\n|---|---:|---:|---:|---:|\n| candle matmul at the model's shapes: {} GFLOPS | | | | |\n",
        f(&g["matmul_gflops"], 1)
    ));
    for set in g["sets"].as_array().into_iter().flatten() {
        let mut runs = vec![("built-in model".to_string(), &set["built_in"])];
        for (label, r) in set["others"].as_object().into_iter().flatten() {
            runs.push((label.clone(), r));
        }
        for (label, r) in runs {
            o.push_str(&format!(
                "| {}, {label} | {} | {} | {} | {} |\n",
                set["set"].as_str().unwrap_or_default(),
                f(&r["files_per_s"], 1),
                f(&r["chunks_per_s"], 1),
                f(&r["kb_per_s"], 1),
                f(&r["secs"], 1)
            ));
        }
        let m = &set["model_alone"];
        if let Some(rate) = set["static_model_alone_chunks_per_s"].as_f64() {
            o.push_str(&format!(
                "| {}, the static model alone on the same chunks | | {rate:.0} | | |\n",
                set["set"].as_str().unwrap_or_default()
            ));
        }
        o.push_str(&format!(
            "| {}, model alone on the same {} chunks ({} GFLOPS, {} of matmul, {} word pieces a chunk) | | {} | | |\n| **ratio built-in / model alone** | | **{}** | | |\n",
            set["set"].as_str().unwrap_or_default(),
            m["chunks"],
            f(&m["gflops"], 1),
            f(&m["share_of_matmul"], 2),
            f(&m["mean_word_pieces"], 0),
            f(&m["chunks_per_s"], 1),
            f(&set["ratio_to_model_alone"], 2)
        ));
    }
    let one = &g["one_file"];
    o.push_str(&format!(
        "| upload, attach, poll one {} byte file (`{}`), built-in model | | | | {} |\n| the same, instant embedder | | | | {} |\n",
        one["bytes"],
        one["name"].as_str().unwrap_or_default(),
        f(&one["built_in_secs"], 1),
        f(&one["instant_secs"], 2)
    ));
    let e = &s["end_to_end"];
    o.push_str("\n| end to end, text queries | clients | QPS | p50 ms | p95 ms | p99 ms |\n|---|---:|---:|---:|---:|---:|\n");
    for l in e["vector_search_http"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "| vector search alone (/v2, query vectors given) | {} | {} | {} | {} | {} |\n",
            l["concurrency"],
            f(&l["qps"], 1),
            f(&l["p50_ms"], 1),
            f(&l["p95_ms"], 1),
            f(&l["p99_ms"], 1)
        ));
    }
    for l in e["openai_search"].as_array().into_iter().flatten() {
        o.push_str(&format!(
            "| POST /v1/vector_stores/{{id}}/search | {} | {} | {} | {} | {} |\n",
            l["concurrency"],
            f(&l["qps"], 1),
            f(&l["p50_ms"], 1),
            f(&l["p95_ms"], 1),
            f(&l["p99_ms"], 1)
        ));
    }
    o.push_str(&format!(
        "| model alone, batches of 32 (sentences/s) | 1 | {} | | | |\n| model alone, one sentence at a time | 1 | {} | | | |\n",
        f(&e["model_sentences_per_s_batch_32"], 1), f(&e["model_sentences_per_s_batch_1"], 1)
    ));
    let d = &s["database"];
    o.push_str("\n| memory and disk | value |\n|---|---:|\n");
    o.push_str(&format!(
        "| service RSS idle (MiB) | {} |\n",
        f(&s["idle_rss_mb"], 0)
    ));
    o.push_str(&format!(
        "| service RSS peak, VmHWM (MiB) | {} |\n",
        f(&s["peak_rss_mb"], 0)
    ));
    o.push_str(&format!(
        "| service RSS at the end (MiB) | {} |\n",
        f(&s["final_rss_mb"], 0)
    ));
    o.push_str(&format!(
        "| service table, MiB per million chunks | {} |\n",
        f(&d["service_mib_per_million_chunks"], 0)
    ));
    o.push_str(&format!(
        "| COPY table, MiB per million chunks | {} |\n",
        f(&d["copy_mib_per_million_chunks"], 0)
    ));
    o.push_str(&format!("\nElapsed: {} s.\n", f(&s["elapsed_s"], 0)));
    o
}
