//! Vectors: a cache of the built-in model's embeddings on disk (so that speed runs do not
//! re-embed), seeded synthetic clustered vectors for scales beyond the corpus, and exact
//! (brute-force) nearest neighbours.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use embeddings::LocalBertEmbedder;
use indicatif::ProgressBar;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MAGIC: &[u8; 8] = b"VSBENCH1";

/// Vectors keyed by a 64-bit FNV-1a hash of the text, appended to one file as they are made.
pub struct VectorCache {
    path: PathBuf,
    dimension: usize,
    map: HashMap<u64, Vec<f32>>,
}

pub fn text_key(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

impl VectorCache {
    /// Opens (or starts) the cache of one model; a file of another dimension is an error.
    pub fn open(path: &Path, dimension: usize) -> Result<Self> {
        let mut map = HashMap::new();
        if path.exists() {
            let mut r = BufReader::new(File::open(path)?);
            let mut magic = [0u8; 8];
            r.read_exact(&mut magic)?;
            let mut dim = [0u8; 4];
            r.read_exact(&mut dim)?;
            if &magic != MAGIC || u32::from_le_bytes(dim) as usize != dimension {
                bail!(
                    "{} is not a vector cache of dimension {dimension}: delete it",
                    path.display()
                );
            }
            let mut record = vec![0u8; 8 + 4 * dimension];
            // A record cut short by an interrupted run is ignored.
            while r.read_exact(&mut record).is_ok() {
                let key = u64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
                let v = record[8..]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect();
                map.insert(key, v);
            }
        } else {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let mut f = File::create(path)?;
            f.write_all(MAGIC)?;
            f.write_all(&(dimension as u32).to_le_bytes())?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            dimension,
            map,
        })
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The vectors of `texts`, embedding (and caching) the ones not cached yet.
    pub fn get_or_embed(
        &mut self,
        texts: &[&str],
        model: &dyn Fn() -> Result<LocalBertEmbedder>,
        bar: &ProgressBar,
    ) -> Result<Vec<Vec<f32>>> {
        let mut missing: Vec<&str> = texts
            .iter()
            .copied()
            .filter(|t| !self.map.contains_key(&text_key(t)))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        if !missing.is_empty() {
            let embedder = model()?;
            bar.set_length(missing.len() as u64);
            bar.set_position(0);
            let mut out = BufWriter::new(OpenOptions::new().append(true).open(&self.path)?);
            for part in missing.chunks(256) {
                let owned: Vec<String> = part.iter().map(ToString::to_string).collect();
                let vectors = embedder
                    .embed_blocking(&owned)
                    .map_err(|e| anyhow::anyhow!("embedding: {e}"))?;
                for (t, v) in part.iter().zip(vectors) {
                    if v.len() != self.dimension {
                        bail!("the model gave {} dimensions", v.len());
                    }
                    out.write_all(&text_key(t).to_le_bytes())?;
                    for x in &v {
                        out.write_all(&x.to_le_bytes())?;
                    }
                    self.map.insert(text_key(t), v);
                }
                out.flush()?;
                bar.inc(part.len() as u64);
            }
        }
        bar.finish_and_clear();
        Ok(texts
            .iter()
            .map(|t| self.map[&text_key(t)].clone())
            .collect())
    }
}

/// Loads the built-in model from `models_dir/all-minilm-l6-v2`.
pub fn load_model(models_dir: &Path, batch_size: usize) -> Result<LocalBertEmbedder> {
    let dir = models_dir.join("all-minilm-l6-v2");
    LocalBertEmbedder::load("all-minilm-l6-v2", &dir, 256, batch_size)
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("loading the model from {}", dir.display()))
}

/// Sentences per second of the model on `texts`, in batches of `batch`.
pub fn model_throughput(model: &LocalBertEmbedder, texts: &[String], batch: usize) -> Result<f64> {
    let start = Instant::now();
    for part in texts.chunks(batch.max(1)) {
        model
            .embed_blocking(part)
            .map_err(|e| anyhow::anyhow!("embedding: {e}"))?;
    }
    Ok(texts.len() as f64 / start.elapsed().as_secs_f64())
}

/// `n` unit vectors around `clusters` seeded random centres (Gaussian spread `spread`).
pub fn synthetic(
    n: usize,
    dimension: usize,
    clusters: usize,
    spread: f32,
    seed: u64,
) -> Vec<Vec<f32>> {
    let mut rng = StdRng::seed_from_u64(seed);
    let gauss = move |rng: &mut StdRng| -> f32 {
        // Box-Muller.
        let u1: f32 = rng.random::<f32>().max(f32::MIN_POSITIVE);
        let u2: f32 = rng.random();
        (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
    };
    let centres: Vec<Vec<f32>> = (0..clusters.max(1))
        .map(|_| normalized((0..dimension).map(|_| gauss(&mut rng)).collect()))
        .collect();
    let scale = spread / (dimension as f32).sqrt();
    (0..n)
        .map(|i| {
            let c = &centres[i % centres.len()];
            normalized(c.iter().map(|x| x + scale * gauss(&mut rng)).collect())
        })
        .collect()
}

pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

/// The indexes of the `k` nearest `data` vectors to each query by cosine distance (the data and
/// queries normalised first), nearest first; computed on every core.
pub fn exact_neighbours(data: &[Vec<f32>], queries: &[Vec<f32>], k: usize) -> Vec<Vec<usize>> {
    let data: Vec<Vec<f32>> = data.iter().cloned().map(normalized).collect();
    let queries: Vec<Vec<f32>> = queries.iter().cloned().map(normalized).collect();
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let per = queries.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = queries
            .chunks(per)
            .map(|part| {
                let data = &data;
                s.spawn(move || {
                    part.iter()
                        .map(|q| {
                            let mut scored: Vec<(f32, usize)> = data
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (dot(q, v), i))
                                .collect();
                            let k = k.min(scored.len());
                            if k == 0 {
                                return Vec::new();
                            }
                            scored.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
                            scored.truncate(k);
                            scored.sort_by(|a, b| b.0.total_cmp(&a.0));
                            scored.into_iter().map(|(_, i)| i).collect()
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("brute-force thread"))
            .collect()
    })
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_neighbours_put_the_vector_itself_first() {
        let data = synthetic(200, 16, 5, 0.5, 7);
        let n = exact_neighbours(&data, &data[..10], 3);
        for (i, row) in n.iter().enumerate() {
            assert_eq!(row[0], i);
            assert_eq!(row.len(), 3);
        }
    }

    #[test]
    fn the_cache_returns_what_it_stored_after_reopening() {
        let dir = std::env::temp_dir().join(format!("vsbench-{}", std::process::id()));
        let path = dir.join("v.bin");
        let _ = std::fs::remove_file(&path);
        {
            let mut c = VectorCache::open(&path, 2).unwrap();
            c.map.insert(text_key("a"), vec![1.0, 2.0]);
            let mut f = OpenOptions::new().append(true).open(&path).unwrap();
            f.write_all(&text_key("a").to_le_bytes()).unwrap();
            f.write_all(&1f32.to_le_bytes()).unwrap();
            f.write_all(&2f32.to_le_bytes()).unwrap();
        }
        let c = VectorCache::open(&path, 2).unwrap();
        assert_eq!(c.map[&text_key("a")], vec![1.0, 2.0]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
