//! A BERT encoder's forward pass for sentence embeddings on the CPU.
//!
//! The sequences of a batch are packed one after another, with no padding, for every dense
//! layer: a batch of mixed lengths costs what its tokens cost, and each dense layer is one
//! matrix product of all the batch's tokens. Only attention pads, to the longest sequence of the
//! batch. Query, key and value are one product; bias, activation, residual and layer norm are
//! fused into one pass over each product's output, in place, with the SIMD level chosen at run
//! time. Matrix products are candle's; everything else is here.
//!
//! The output is the mean of each sequence's last hidden states, L2-normalised, as
//! sentence-transformers computes it, or for late chunking the hidden states themselves.

use candle_core::{DType, Device, Tensor};
use rayon::prelude::*;
use serde::Deserialize;

use crate::kernels::{self, mean_pool};

mod ops;

use ops::{AddNorm, BiasGelu, MaskedSoftmax, MergeHeads, Op, SplitHeads};

/// The fields of a BERT `config.json` the encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
}

fn default_eps() -> f64 {
    1e-12
}

fn default_act() -> String {
    "gelu".to_string()
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

struct Layer {
    /// (hidden, 3 × hidden): query, key and value side by side.
    qkv: Tensor,
    qkv_bias: Vec<f32>,
    attention_out: Tensor,
    attention_out_bias: Vec<f32>,
    attention_norm: Norm,
    up: Tensor,
    up_bias: Vec<f32>,
    down: Tensor,
    down_bias: Vec<f32>,
    output_norm: Norm,
}

pub struct Encoder {
    word: Vec<f32>,
    /// Position embeddings with the type-0 token embedding added (every token is type 0).
    position: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    vocab: usize,
    max_positions: usize,
    device: Device,
}

fn vector(t: &Tensor) -> candle_core::Result<Vec<f32>> {
    t.to_dtype(DType::F32)?.flatten_all()?.to_vec1()
}

impl Encoder {
    /// Builds the encoder from the bytes of a `model.safetensors` (names as Hugging Face's
    /// `BertModel` writes them, with or without a `bert.` prefix).
    pub fn load(config: &BertConfig, safetensors: &[u8]) -> Result<Self, String> {
        if !matches!(
            config.hidden_act.as_str(),
            "gelu" | "gelu_new" | "gelu_python"
        ) {
            return Err(format!(
                "hidden_act '{}' is not supported (only gelu)",
                config.hidden_act
            ));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err("hidden_size is not a multiple of num_attention_heads".into());
        }
        let device = Device::Cpu;
        let tensors = candle_core::safetensors::load_buffer(safetensors, &device)
            .map_err(|e| e.to_string())?;
        let get = |name: &str| -> Result<&Tensor, String> {
            tensors
                .get(name)
                .or_else(|| tensors.get(&format!("bert.{name}")))
                .ok_or_else(|| format!("the weights have no tensor '{name}'"))
        };
        let norm = |prefix: &str| -> Result<Norm, String> {
            let pick = |a: &str, b: &str| {
                get(&format!("{prefix}.{a}")).or_else(|_| get(&format!("{prefix}.{b}")))
            };
            Ok(Norm {
                gamma: vector(pick("weight", "gamma")?).map_err(|e| e.to_string())?,
                beta: vector(pick("bias", "beta")?).map_err(|e| e.to_string())?,
                eps: config.layer_norm_eps as f32,
            })
        };
        let build = || -> Result<Self, String> {
            let h = config.hidden_size;
            let word =
                vector(get("embeddings.word_embeddings.weight")?).map_err(|e| e.to_string())?;
            let mut position =
                vector(get("embeddings.position_embeddings.weight")?).map_err(|e| e.to_string())?;
            let types = vector(get("embeddings.token_type_embeddings.weight")?)
                .map_err(|e| e.to_string())?;
            if word.len() != config.vocab_size * h
                || position.len() != config.max_position_embeddings * h
                || types.len() < h
            {
                return Err("the embedding tables do not match config.json".into());
            }
            for row in position.chunks_exact_mut(h) {
                for (p, t) in row.iter_mut().zip(&types[..h]) {
                    *p += t;
                }
            }
            // (out, in) as stored → (in, out), contiguous, for `x · W`.
            let dense = |names: &[&str],
                         rows: usize,
                         cols: usize|
             -> Result<(Tensor, Vec<f32>), String> {
                let mut weights = Vec::new();
                let mut bias = Vec::new();
                for name in names {
                    let w = get(&format!("{name}.weight"))?;
                    if w.dims() != [cols / names.len(), rows] {
                        return Err(format!("'{name}.weight' has shape {:?}", w.dims()));
                    }
                    weights.push(w.to_dtype(DType::F32).map_err(|e| e.to_string())?);
                    bias.extend(vector(get(&format!("{name}.bias"))?).map_err(|e| e.to_string())?);
                }
                let w = Tensor::cat(&weights, 0)
                    .and_then(|w| w.t()?.contiguous())
                    .map_err(|e| e.to_string())?;
                Ok((w, bias))
            };
            let mut layers = Vec::with_capacity(config.num_hidden_layers);
            for i in 0..config.num_hidden_layers {
                let p = format!("encoder.layer.{i}");
                let a = format!("{p}.attention.self");
                let (qkv, qkv_bias) = dense(
                    &[
                        &format!("{a}.query"),
                        &format!("{a}.key"),
                        &format!("{a}.value"),
                    ],
                    h,
                    3 * h,
                )?;
                let (attention_out, attention_out_bias) =
                    dense(&[&format!("{p}.attention.output.dense")], h, h)?;
                let (up, up_bias) = dense(
                    &[&format!("{p}.intermediate.dense")],
                    h,
                    config.intermediate_size,
                )?;
                let (down, down_bias) =
                    dense(&[&format!("{p}.output.dense")], config.intermediate_size, h)?;
                layers.push(Layer {
                    qkv,
                    qkv_bias,
                    attention_out,
                    attention_out_bias,
                    attention_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                    up,
                    up_bias,
                    down,
                    down_bias,
                    output_norm: norm(&format!("{p}.output.LayerNorm"))?,
                });
            }
            Ok(Self {
                word,
                position,
                embedding_norm: norm("embeddings.LayerNorm")?,
                layers,
                hidden: h,
                heads: config.num_attention_heads,
                vocab: config.vocab_size,
                max_positions: config.max_position_embeddings,
                device: device.clone(),
            })
        };
        build()
    }

    pub fn hidden_size(&self) -> usize {
        self.hidden
    }

    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// The sentence vector of each sequence of token ids (`[CLS]` … `[SEP]`, no padding).
    pub fn embed(&self, sequences: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        self.run(sequences, &vec![false; sequences.len()])
    }

    /// For each sequence of token ids, its sentence vector, or where `states[s]` holds, the
    /// last hidden state of each of its tokens, one row after another (tokens × hidden).
    pub fn run(&self, sequences: &[&[u32]], states: &[bool]) -> candle_core::Result<Vec<Vec<f32>>> {
        if sequences.is_empty() {
            return Ok(Vec::new());
        }
        if states.len() != sequences.len() {
            candle_core::bail!(
                "{} outputs asked for {} sequences",
                states.len(),
                sequences.len()
            );
        }
        let batch = Batch::new(sequences, self.heads, self.hidden)?;
        for (s, ids) in sequences.iter().enumerate() {
            if ids.len() > self.max_positions {
                candle_core::bail!(
                    "sequence {s} has {} tokens, over {}",
                    ids.len(),
                    self.max_positions
                );
            }
            if let Some(id) = ids.iter().find(|&&id| id as usize >= self.vocab) {
                candle_core::bail!("token id {id} is outside the vocabulary");
            }
        }
        let mut x = self.embeddings(sequences, &batch);
        for layer in &self.layers {
            x = self.layer(layer, &x, &batch)?;
        }
        let rows = x.flatten_all()?.to_vec1::<f32>()?;
        let h = self.hidden;
        Ok(batch
            .spans
            .iter()
            .zip(states)
            .map(|(&(first, len), &states)| {
                let rows = &rows[first * h..(first + len) * h];
                if states {
                    rows.to_vec()
                } else {
                    mean_pool(rows, h)
                }
            })
            .collect())
    }

    fn embeddings(&self, sequences: &[&[u32]], batch: &Batch) -> Tensor {
        let h = self.hidden;
        let mut x = vec![0f32; batch.tokens * h];
        let rows = batch.rows();
        x.par_chunks_mut(h)
            .zip(rows.par_iter())
            .for_each(|(row, &(s, p))| {
                let word = &self.word[sequences[s][p] as usize * h..][..h];
                let position = &self.position[p * h..][..h];
                kernels::dispatch(
                    #[inline(always)]
                    || {
                        for ((x, w), p) in row.iter_mut().zip(word).zip(position) {
                            *x = w + p;
                        }
                        kernels::layer_norm(
                            row,
                            &self.embedding_norm.gamma,
                            &self.embedding_norm.beta,
                            self.embedding_norm.eps,
                        );
                    },
                );
            });
        Tensor::from_vec(x, (batch.tokens, h), &self.device).expect("the shape matches the data")
    }

    fn layer(&self, layer: &Layer, x: &Tensor, batch: &Batch) -> candle_core::Result<Tensor> {
        let qkv = dense(x, &layer.qkv)?;
        let split = SplitHeads {
            batch,
            bias: &layer.qkv_bias,
        };
        let heads = qkv.apply_op1_no_bwd(&Op(split))?;
        let (q, k, v) = (heads.get(0)?, heads.get(1)?, heads.get(2)?);
        let scores = q.matmul(&k.t()?)?;
        scores.inplace_op1(&MaskedSoftmax { batch })?;
        let context = scores
            .matmul(&v)?
            .apply_op1_no_bwd(&Op(MergeHeads { batch }))?;
        let attended = dense(&context, &layer.attention_out)?;
        attended.inplace_op2(
            x,
            &AddNorm {
                bias: &layer.attention_out_bias,
                norm: &layer.attention_norm,
            },
        )?;
        let up = dense(&attended, &layer.up)?;
        up.inplace_op1(&BiasGelu {
            bias: &layer.up_bias,
        })?;
        let out = dense(&up, &layer.down)?;
        out.inplace_op2(
            &attended,
            &AddNorm {
                bias: &layer.down_bias,
                norm: &layer.output_norm,
            },
        )?;
        Ok(out)
    }
}

/// Batches of fewer tokens than this are multiplied the other way round.
const FEW_TOKENS: usize = 48;

/// `x · w` for packed tokens `x` (tokens × in) and weights `w` (in × out). The matrix multiply's
/// kernels are tall (up to 64 rows on AVX-512), so a batch of a few tokens, such as one search
/// query, would waste most of each: it is computed as `(wᵀ · xᵀ)ᵀ`, where the tokens are the
/// short side.
fn dense(x: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    if x.dim(0)? < FEW_TOKENS {
        w.t()?.matmul(&x.t()?)?.t()?.contiguous()
    } else {
        x.matmul(w)
    }
}

/// Where each sequence of a packed batch lives.
struct Batch {
    /// (first row, length) of each sequence.
    spans: Vec<(usize, usize)>,
    tokens: usize,
    /// The longest sequence: attention's padded length.
    longest: usize,
    heads: usize,
    hidden: usize,
}

impl Batch {
    fn new(sequences: &[&[u32]], heads: usize, hidden: usize) -> candle_core::Result<Self> {
        let mut spans = Vec::with_capacity(sequences.len());
        let mut tokens = 0;
        for ids in sequences {
            if ids.is_empty() {
                candle_core::bail!("an empty token sequence (it needs at least [CLS] and [SEP])");
            }
            spans.push((tokens, ids.len()));
            tokens += ids.len();
        }
        let longest = spans.iter().map(|s| s.1).max().unwrap_or(0);
        Ok(Self {
            spans,
            tokens,
            longest,
            heads,
            hidden,
        })
    }

    /// (sequence, position) of every packed row, in order.
    fn rows(&self) -> Vec<(usize, usize)> {
        self.spans
            .iter()
            .enumerate()
            .flat_map(|(s, &(_, len))| (0..len).map(move |t| (s, t)))
            .collect()
    }

    fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }
}
