//! Ingestion through the OpenAI surface, each figure beside its baselines in the same run:
//!
//! - the machine's matrix-multiply rate at the model's shapes, through the library the model
//!   uses (candle), and the built-in model alone in this process on the very chunks the service
//!   made (batched, as the service batches), in chunks/s and effective GFLOPS;
//! - files uploaded with `POST /v1/files`, attached as one file batch, and waited for: many
//!   small files (one WordNet passage each) and a few large ones (English prose, Python's
//!   documentation sources), with the built-in model and with an embedding server that answers
//!   at once ([`crate::instant`]), which leaves the pipeline's own cost;
//! - one ~100 KB file uploaded, attached and polled until completed, as a client would.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use candle_core::{Device, Tensor};
use embeddings::{Embedder, LocalBertEmbedder, StaticEmbedder};
use serde::Serialize;
use serde_json::json;

use crate::client::Api;
use crate::data::Corpus;
use crate::{bar, ordered, step};

/// A set of files to ingest: (file name, text).
pub struct FileSet {
    pub name: String,
    pub files: Vec<(String, String)>,
}

impl FileSet {
    fn bytes(&self) -> usize {
        self.files.iter().map(|(_, t)| t.len()).sum()
    }
}

/// `n` WordNet passages, one `.txt` file each.
pub fn small_files(corpus: &Corpus, n: usize) -> FileSet {
    FileSet {
        name: format!("{n} small files (one WordNet passage each)"),
        files: corpus
            .passages
            .iter()
            .take(n)
            .map(|p| (format!("{}.txt", p.id), p.text.clone()))
            .collect(),
    }
}

/// The named files (paths under `dir`), each as one `.txt` file.
pub fn large_files(dir: &Path, names: &[String]) -> Result<FileSet> {
    let mut files = Vec::new();
    for name in names {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let base = name.replace('/', "-");
        files.push((base.trim_end_matches(".rst.txt").to_string() + ".txt", text));
    }
    let sizes: Vec<String> = files
        .iter()
        .map(|(_, t)| format!("{} KB", t.len() / 1000))
        .collect();
    Ok(FileSet {
        name: format!("{} large files ({})", files.len(), sizes.join(", ")),
        files,
    })
}

/// FLOPs of one all-MiniLM-L6-v2 pass over `n` tokens: six layers of the four attention
/// projections, the two feed-forward products and the two attention products.
pub fn flops(n: usize) -> f64 {
    let (n, h, i) = (n as f64, 384.0, 1536.0);
    6.0 * (2.0 * n * (4.0 * h * h + 2.0 * h * i) + 4.0 * n * n * h)
}

/// GFLOPS of candle's matrix multiply at the model's shapes ((5,120 × 384) · (384 × 1,536):
/// a batch of 32 sequences of 160 tokens through the feed-forward layer), the median of 15.
pub fn matmul_gflops() -> Result<f64> {
    let device = Device::Cpu;
    let a = Tensor::randn(0f32, 1.0, (5120, 384), &device)?;
    let b = Tensor::randn(0f32, 1.0, (384, 1536), &device)?;
    for _ in 0..3 {
        a.matmul(&b)?;
    }
    let mut rates = Vec::new();
    for _ in 0..15 {
        let t = Instant::now();
        a.matmul(&b)?;
        rates.push(2.0 * 5120.0 * 384.0 * 1536.0 / t.elapsed().as_secs_f64() / 1e9);
    }
    Ok(median(&mut rates))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// What the model reads of `text`: the text, or, past the model's limit (the service embeds such
/// a chunk in windows), its halves on a character boundary until each fits. (piece, tokens).
fn model_pieces(
    model: &LocalBertEmbedder,
    text: &str,
    out: &mut Vec<(String, usize)>,
) -> Result<()> {
    let tokens = model
        .count_tokens(text)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let chars = text.chars().count();
    if tokens <= model.max_input_tokens() || chars < 2 {
        out.push((text.to_string(), tokens));
        return Ok(());
    }
    let (cut, _) = text
        .char_indices()
        .nth(chars / 2)
        .unwrap_or((text.len(), ' '));
    model_pieces(model, &text[..cut], out)?;
    model_pieces(model, &text[cut..], out)
}

/// The model alone on `texts` (batches of `batch`, this process, nothing else running):
/// (chunks/s, effective GFLOPS, mean word pieces).
pub fn model_alone(
    model: &LocalBertEmbedder,
    texts: &[String],
    batch: usize,
) -> Result<(f64, f64, f64)> {
    let chunks = texts.len();
    let mut pieces = Vec::with_capacity(texts.len());
    for t in texts {
        model_pieces(model, t, &mut pieces)?;
    }
    let (texts, tokens): (Vec<String>, Vec<usize>) = pieces.into_iter().unzip();
    let total_flops: f64 = tokens.iter().map(|&n| flops(n)).sum();
    let t = Instant::now();
    for part in texts.chunks(batch.max(1)) {
        model
            .embed_blocking(part)
            .map_err(|e| anyhow::anyhow!("embedding: {e}"))?;
    }
    let secs = t.elapsed().as_secs_f64();
    let mean_tokens = tokens.iter().sum::<usize>() as f64 / tokens.len().max(1) as f64;
    Ok((chunks as f64 / secs, total_flops / secs / 1e9, mean_tokens))
}

async fn new_store(api: &Api, name: &str, model: Option<&str>) -> Result<String> {
    let mut body = json!({"name": name});
    if let Some(m) = model {
        body["embedding_model"] = json!(m);
    }
    let store = api.post_json("/v1/vector_stores", &body).await?;
    store["id"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("creating a store: {store}"))
}

/// Chunks of a store, their texts (paged through `/v2`).
async fn chunk_texts(api: &Api, store: &str) -> Result<Vec<String>> {
    let mut out = Vec::new();
    loop {
        let page = api
            .get_json(&format!(
                "/v2/collections/{store}/documents?limit=1000&offset={}",
                out.len()
            ))
            .await?;
        let data = page["data"].as_array().cloned().unwrap_or_default();
        if data.is_empty() {
            return Ok(out);
        }
        out.extend(
            data.iter()
                .map(|d| d["text"].as_str().unwrap_or_default().to_string()),
        );
    }
}

/// The most files one file batch takes.
const MAX_BATCH: usize = 2000;

/// One ingestion of already uploaded files: file batches to a new store, waited for.
pub struct Run {
    pub store: String,
    pub secs: f64,
    pub chunks: u64,
}

/// Attaches `file_ids` as file batches of at most [`MAX_BATCH`] to a new store named after
/// `label` (with `model`, and `chunking` as `static` (max, overlap) tokens when given) and waits
/// until every file completed.
pub async fn ingest(
    api: &Api,
    label: &str,
    file_ids: &[String],
    model: Option<&str>,
    chunking: Option<(u32, u32)>,
) -> Result<Run> {
    let store = new_store(api, &format!("bench {label}"), model).await?;
    let t0 = Instant::now();
    // A batch takes at most MAX_BATCH files: more are attached as several, all at once.
    let mut batches = Vec::new();
    for part in file_ids.chunks(MAX_BATCH) {
        let mut body = json!({"file_ids": part});
        if let Some((max, overlap)) = chunking {
            body["chunking_strategy"] = json!({"type": "static", "static": {
                "max_chunk_size_tokens": max, "chunk_overlap_tokens": overlap}});
        }
        let batch = api
            .post_json(&format!("/v1/vector_stores/{store}/file_batches"), &body)
            .await?;
        let id = batch["id"].as_str().unwrap_or_default().to_string();
        batches.push((id, part.len()));
    }
    let pb = bar(file_ids.len() as u64, &format!("ingesting, {label}"));
    loop {
        let (mut completed, mut running) = (0, false);
        for (batch, files) in &batches {
            let b = api
                .get_json(&format!("/v1/vector_stores/{store}/file_batches/{batch}"))
                .await?;
            let done = b["file_counts"]["completed"].as_u64().unwrap_or(0);
            completed += done;
            if b["status"] == "in_progress" {
                running = true;
            } else if done != *files as u64 {
                bail!("{label}: the batch ended {b}");
            }
        }
        pb.set_position(completed);
        if !running {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    pb.finish_and_clear();
    let chunks = api
        .get_json(&format!("/v2/collections/{store}/documents?limit=1"))
        .await?["total"]
        .as_u64()
        .unwrap_or(0);
    Ok(Run {
        store,
        secs,
        chunks,
    })
}

/// The rates of one ingestion of a file set.
#[derive(Debug, Clone, Serialize)]
pub struct Rates {
    pub secs: f64,
    pub chunks: u64,
    pub files_per_s: f64,
    pub chunks_per_s: f64,
    pub kb_per_s: f64,
}

impl Rates {
    /// The rates of `run`, an ingestion of `files` files of `bytes` bytes in all.
    fn of(run: &Run, files: usize, bytes: usize) -> Self {
        Self {
            secs: run.secs,
            chunks: run.chunks,
            files_per_s: files as f64 / run.secs,
            chunks_per_s: run.chunks as f64 / run.secs,
            kb_per_s: bytes as f64 / 1000.0 / run.secs,
        }
    }

    /// "F files/s, C chunks/s, K KB/s".
    fn describe(&self) -> String {
        format!(
            "{:.1} files/s, {:.1} chunks/s, {:.1} KB/s",
            self.files_per_s, self.chunks_per_s, self.kb_per_s
        )
    }
}

/// The built-in model alone on the chunks the service made of a file set.
#[derive(Debug, Clone, Serialize)]
pub struct ModelAlone {
    pub chunks: usize,
    pub chunks_per_s: f64,
    pub gflops: f64,
    /// `gflops` over the matrix-multiply rate.
    pub share_of_matmul: f64,
    pub mean_word_pieces: f64,
}

/// One file set: ingested with the built-in model and the other models, beside the model alone.
#[derive(Debug, Clone, Serialize)]
pub struct SetResult {
    pub set: String,
    pub files: usize,
    pub bytes: usize,
    pub upload_secs: f64,
    pub built_in: Rates,
    pub model_alone: ModelAlone,
    /// The built-in model's chunks/s through the service over the model alone's.
    pub ratio_to_model_alone: f64,
    /// Present when a static model was measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_model_alone_chunks_per_s: Option<f64>,
    /// By label of [`Options::others`].
    pub others: BTreeMap<String, Rates>,
}

/// One file uploaded, attached and polled until completed.
#[derive(Debug, Clone, Serialize)]
pub struct OneFile {
    pub name: String,
    pub bytes: usize,
    /// The median of the runs, as are the other figures.
    pub built_in_secs: f64,
    /// With the built-in model embedding each chunk alone, not in context (the service's
    /// path before late chunking), when the service has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chunks_alone_secs: Option<f64>,
    /// With the instant embedder, when the service has it.
    pub instant_secs: Option<f64>,
}

/// Every ingestion figure.
#[derive(Debug, Clone, Serialize)]
pub struct Ingestion {
    pub matmul_gflops: f64,
    pub model_batch: usize,
    pub sets: Vec<SetResult>,
    pub one_file: OneFile,
}

/// How many times the one file is sent with each model (the medians are reported).
const ONE_FILE_RUNS: usize = 3;

/// One file as a client sends it: upload, attach, poll until completed. Seconds.
async fn upload_and_poll(api: &Api, name: &str, text: &str, model: Option<&str>) -> Result<f64> {
    let store = new_store(api, "bench one file", model).await?;
    let t0 = Instant::now();
    let file = api.upload(name, text).await?;
    api.post_json(
        &format!("/v1/vector_stores/{store}/files"),
        &json!({"file_id": file}),
    )
    .await?;
    loop {
        let f = api
            .get_json(&format!("/v1/vector_stores/{store}/files/{file}"))
            .await?;
        match f["status"].as_str() {
            Some("completed") => break,
            Some("in_progress") => tokio::time::sleep(Duration::from_millis(100)).await,
            _ => bail!("{name}: {f}"),
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    api.delete(&format!("/v1/vector_stores/{store}")).await?;
    api.delete(&format!("/v1/files/{file}")).await?;
    Ok(secs)
}

pub struct Options<'a> {
    pub model: &'a LocalBertEmbedder,
    /// The service's model batch size (the baseline batches alike).
    pub batch: usize,
    /// Other models of the service the sets are also ingested with: (label, model name),
    /// e.g. an embedder that answers at once.
    pub others: Vec<(&'a str, &'a str)>,
    /// The model the one file is also sent with (the instant one: the pipeline alone).
    pub instant_model: Option<&'a str>,
    /// The built-in model without late chunking, the one file also sent with it.
    pub chunks_alone_model: Option<&'a str>,
    /// The static model, measured alone on the same chunks too.
    pub static_model: Option<&'a StaticEmbedder>,
}

/// Chunks per second of the static model alone on `texts` (one call, this process).
fn static_alone(model: &StaticEmbedder, texts: &[String]) -> Result<f64> {
    let t = Instant::now();
    model
        .embed_blocking(texts)
        .map_err(|e| anyhow::anyhow!("embedding: {e}"))?;
    Ok(texts.len() as f64 / t.elapsed().as_secs_f64())
}

pub async fn measure(
    api: &Api,
    sets: &[FileSet],
    one_file: &(String, String),
    o: Options<'_>,
) -> Result<Ingestion> {
    step("matrix multiply at the model's shapes");
    let matmul = matmul_gflops()?;
    step(&format!(
        "candle matmul (5120×384 · 384×1536): {matmul:.1} GFLOPS"
    ));
    let mut results = Vec::new();
    for set in sets {
        let bytes = set.bytes();
        let pb = bar(set.files.len() as u64, &format!("uploading {}", set.name));
        let t = Instant::now();
        let ids = ordered(set.files.len(), 4, &pb, |i| {
            let (name, text) = &set.files[i];
            async move { api.upload(name, text).await }
        })
        .await?;
        let upload_secs = t.elapsed().as_secs_f64();
        let built_in = ingest(
            api,
            &format!("ingestion {}, built-in model", set.name),
            &ids,
            None,
            None,
        )
        .await?;
        let built_in_rates = Rates::of(&built_in, set.files.len(), bytes);
        let texts = chunk_texts(api, &built_in.store).await?;
        let (alone, gflops, tokens) = model_alone(o.model, &texts, o.batch)?;
        let static_model_alone_chunks_per_s = match o.static_model {
            Some(m) => {
                let rate = static_alone(m, &texts)?;
                step(&format!(
                    "{}: static model alone {rate:.0} chunks/s",
                    set.name
                ));
                Some(rate)
            }
            None => None,
        };
        let ratio_to_model_alone = built_in.chunks as f64 / built_in.secs / alone;
        step(&format!(
            "{}: built-in {}; model alone {alone:.1} chunks/s ({gflops:.1} GFLOPS, {:.0}% of \
             matmul, {tokens:.0} word pieces a chunk); ratio {ratio_to_model_alone:.2}",
            set.name,
            built_in_rates.describe(),
            100.0 * gflops / matmul,
        ));
        api.delete(&format!("/v1/vector_stores/{}", built_in.store))
            .await?;
        let mut others = BTreeMap::new();
        for &(label, model) in &o.others {
            let run = ingest(
                api,
                &format!("ingestion {}, {label}", set.name),
                &ids,
                Some(model),
                None,
            )
            .await?;
            let run_rates = Rates::of(&run, set.files.len(), bytes);
            step(&format!("{}: {label} {}", set.name, run_rates.describe()));
            others.insert(label.to_string(), run_rates);
            api.delete(&format!("/v1/vector_stores/{}", run.store))
                .await?;
        }
        for id in &ids {
            api.delete(&format!("/v1/files/{id}")).await?;
        }
        results.push(SetResult {
            set: set.name.clone(),
            files: set.files.len(),
            bytes,
            upload_secs,
            built_in: built_in_rates,
            model_alone: ModelAlone {
                chunks: texts.len(),
                chunks_per_s: alone,
                gflops,
                share_of_matmul: gflops / matmul,
                mean_word_pieces: tokens,
            },
            ratio_to_model_alone,
            static_model_alone_chunks_per_s,
            others,
        });
    }
    let (name, text) = one_file;
    // Each model in turn, `ONE_FILE_RUNS` times, so that the machine's drift falls on all.
    let mut runs: [Vec<f64>; 3] = Default::default();
    for _ in 0..ONE_FILE_RUNS {
        runs[0].push(upload_and_poll(api, name, text, None).await?);
        if let Some(m) = o.chunks_alone_model {
            runs[1].push(upload_and_poll(api, name, text, Some(m)).await?);
        }
        if let Some(m) = o.instant_model {
            runs[2].push(upload_and_poll(api, name, text, Some(m)).await?);
        }
    }
    let [built_in, chunks_alone, instant] = runs.map(|mut r| {
        let all = r.clone();
        (!r.is_empty()).then(|| (median(&mut r), all))
    });
    let (one_built_in, built_in_runs) = built_in.unwrap_or_default();
    let one_chunks_alone = chunks_alone.as_ref().map(|(m, _)| *m);
    let one_instant = instant.as_ref().map(|(m, _)| *m);
    let secs = |s: Option<f64>| s.map_or("–".to_string(), |s| format!("{s:.2} s"));
    step(&format!(
        "upload, attach and poll one {} KB file, median of {ONE_FILE_RUNS}: {one_built_in:.1} s \
         (runs {built_in_runs:.1?}; each chunk alone: {}, runs {:.1?}; instant model: {})",
        text.len() / 1000,
        secs(one_chunks_alone),
        chunks_alone.map(|(_, r)| r).unwrap_or_default(),
        secs(one_instant)
    ));
    Ok(Ingestion {
        matmul_gflops: matmul,
        model_batch: o.batch,
        sets: results,
        one_file: OneFile {
            name: name.clone(),
            bytes: text.len(),
            built_in_secs: one_built_in,
            chunks_alone_secs: one_chunks_alone,
            instant_secs: one_instant,
        },
    })
}
