//! The CPU ops of the forward pass that are not matrix products: each reads or rewrites a
//! packed tensor of one [`Batch`] in place, in parallel over rows or blocks.

use candle_core::{CpuStorage, CustomOp1, InplaceOp1, InplaceOp2, Layout, Shape};
use rayon::prelude::*;

use super::{Batch, Norm};
use crate::kernels;

fn f32_slice<'a>(storage: &'a CpuStorage, layout: &Layout) -> candle_core::Result<&'a [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&v[start..end]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

fn f32_slice_mut<'a>(
    storage: &'a mut CpuStorage,
    layout: &Layout,
) -> candle_core::Result<&'a mut [f32]> {
    match (storage, layout.contiguous_offsets()) {
        (CpuStorage::F32(v), Some((start, end))) => Ok(&mut v[start..end]),
        _ => candle_core::bail!("expected a contiguous f32 tensor"),
    }
}

/// A new layout of one packed f32 tensor: `run` reads the input and returns the output and its
/// shape.
trait Relayout {
    const NAME: &'static str;

    fn run(&self, input: &[f32]) -> (Vec<f32>, Shape);
}

/// Runs a [`Relayout`] as a candle op on the CPU.
pub(super) struct Op<T>(pub(super) T);

impl<T: Relayout> CustomOp1 for Op<T> {
    fn name(&self) -> &'static str {
        T::NAME
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (out, shape) = self.0.run(f32_slice(storage, layout)?);
        Ok((CpuStorage::F32(out), shape))
    }
}

/// Packed (tokens, 3 × hidden) + bias → (3, sequences × heads, longest, head_dim), the query
/// scaled by 1/√head_dim, padding rows zero.
pub(super) struct SplitHeads<'a> {
    pub(super) batch: &'a Batch,
    pub(super) bias: &'a [f32],
}

impl Relayout for SplitHeads<'_> {
    const NAME: &'static str = "split-heads";

    fn run(&self, qkv: &[f32]) -> (Vec<f32>, Shape) {
        let b = self.batch;
        let (h, d, l) = (b.hidden, b.head_dim(), b.longest);
        let per_part = b.spans.len() * b.heads * l * d;
        let mut out = vec![0f32; 3 * per_part];
        let scale = 1.0 / (d as f32).sqrt();
        // One block of `l × d` per (part, sequence, head).
        out.par_chunks_mut(l * d)
            .enumerate()
            .for_each(|(block, dst)| {
                let part = block / (b.spans.len() * b.heads);
                let s = (block / b.heads) % b.spans.len();
                let head = block % b.heads;
                let (first, len) = b.spans[s];
                let column = part * h + head * d;
                let bias = &self.bias[column..][..d];
                let factor = if part == 0 { scale } else { 1.0 };
                for t in 0..len {
                    let src = &qkv[(first + t) * 3 * h + column..][..d];
                    for ((o, x), bias) in dst[t * d..][..d].iter_mut().zip(src).zip(bias) {
                        *o = (x + bias) * factor;
                    }
                }
            });
        (out, Shape::from((3, b.spans.len() * b.heads, l, d)))
    }
}

/// Softmax of each row of (sequences × heads, longest, longest) over the sequence's own keys;
/// padding keys get weight 0.
pub(super) struct MaskedSoftmax<'a> {
    pub(super) batch: &'a Batch,
}

impl InplaceOp1 for MaskedSoftmax<'_> {
    fn name(&self) -> &'static str {
        "masked-softmax"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let b = self.batch;
        let l = b.longest;
        let scores = f32_slice_mut(storage, layout)?;
        scores
            .par_chunks_mut(l * l)
            .enumerate()
            .for_each(|(block, m)| {
                let len = b.spans[block / b.heads].1;
                kernels::dispatch(
                    #[inline(always)]
                    || {
                        for row in m.chunks_exact_mut(l) {
                            let (keys, padding) = row.split_at_mut(len);
                            kernels::softmax(keys);
                            padding.fill(0.0);
                        }
                    },
                );
            });
        Ok(())
    }
}

/// (sequences × heads, longest, head_dim) → packed (tokens, hidden).
pub(super) struct MergeHeads<'a> {
    pub(super) batch: &'a Batch,
}

impl Relayout for MergeHeads<'_> {
    const NAME: &'static str = "merge-heads";

    fn run(&self, context: &[f32]) -> (Vec<f32>, Shape) {
        let b = self.batch;
        let (h, d, l) = (b.hidden, b.head_dim(), b.longest);
        let mut out = vec![0f32; b.tokens * h];
        let rows = b.rows();
        out.par_chunks_mut(h)
            .zip(rows.par_iter())
            .for_each(|(row, &(s, t))| {
                for head in 0..b.heads {
                    let src = &context[((s * b.heads + head) * l + t) * d..][..d];
                    row[head * d..][..d].copy_from_slice(src);
                }
            });
        (out, Shape::from((b.tokens, h)))
    }
}

/// x ← layer_norm(x + bias + residual), row by row.
pub(super) struct AddNorm<'a> {
    pub(super) bias: &'a [f32],
    pub(super) norm: &'a Norm,
}

impl InplaceOp2 for AddNorm<'_> {
    fn name(&self) -> &'static str {
        "add-norm"
    }

    fn cpu_fwd(
        &self,
        s1: &mut CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<()> {
        let x = f32_slice_mut(s1, l1)?;
        let residual = f32_slice(s2, l2)?;
        let h = self.bias.len();
        if x.len() != residual.len() {
            candle_core::bail!("add-norm: shapes differ");
        }
        x.par_chunks_mut(h)
            .zip(residual.par_chunks(h))
            .for_each(|(row, res)| {
                kernels::dispatch(
                    #[inline(always)]
                    || {
                        for ((x, r), b) in row.iter_mut().zip(res).zip(self.bias) {
                            *x += r + b;
                        }
                        kernels::layer_norm(row, &self.norm.gamma, &self.norm.beta, self.norm.eps);
                    },
                );
            });
        Ok(())
    }
}

/// x ← gelu(x + bias), row by row (the exact, erf-based GELU).
pub(super) struct BiasGelu<'a> {
    pub(super) bias: &'a [f32],
}

impl InplaceOp1 for BiasGelu<'_> {
    fn name(&self) -> &'static str {
        "bias-gelu"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> candle_core::Result<()> {
        let x = f32_slice_mut(storage, layout)?;
        let n = self.bias.len();
        // Rows in groups, so each task is large enough to be worth a thread.
        x.par_chunks_mut(n * 16).for_each(|rows| {
            kernels::dispatch(
                #[inline(always)]
                || {
                    for row in rows.chunks_exact_mut(n) {
                        kernels::bias_gelu(row, self.bias);
                    }
                },
            );
        });
        Ok(())
    }
}
