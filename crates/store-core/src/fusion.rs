//! How a hybrid search fuses its vector and keyword rankings, the same on every back-end.

use std::collections::HashMap;

use crate::store::{Hit, StoredChunk, threshold_and_k};

/// How a hybrid search combines its vector and keyword rankings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// Each list's scores min-max normalised to 0..=1 over the list (a chunk absent from a
    /// list counts 0 there), then averaged with the weights: Σ wᵢ·sᵢ / Σ wᵢ.
    #[default]
    RelativeScore,
    /// Reciprocal rank fusion: Σ wᵢ / (rrf_k + rankᵢ), divided by its maximum.
    Rrf,
}

/// How a hybrid search fuses its two rankings, the same on every back-end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HybridOptions {
    pub fusion: Fusion,
    pub vector_weight: f32,
    pub keyword_weight: f32,
    /// The constant of [`Fusion::Rrf`].
    pub rrf_k: u32,
}

impl Default for HybridOptions {
    /// Relative-score fusion weighing keywords three times as much as vectors: of the fusions
    /// measured on the benchmark's three corpora with both built-in models, the one whose
    /// worst MRR@10 against the better single mode is highest (see `docs/benchmarks.md`).
    fn default() -> Self {
        Self {
            fusion: Fusion::RelativeScore,
            vector_weight: 1.0,
            keyword_weight: 3.0,
            rrf_k: 60,
        }
    }
}

impl HybridOptions {
    /// Fuses two lists of `(id, score)` (best first) into `(id, score)` pairs, best first, with
    /// scores in 0..=1 and 1 for a chunk first in both lists. Equal scores keep the order of
    /// first appearance, vector list first.
    pub fn fuse(
        &self,
        by_vector: &[(String, f32)],
        by_keyword: &[(String, f32)],
    ) -> Vec<(String, f32)> {
        let total = self.vector_weight + self.keyword_weight;
        let mut scores: Vec<(String, f32)> = Vec::new();
        let mut place: HashMap<String, usize> = HashMap::new();
        for (list, weight) in [
            (by_vector, self.vector_weight),
            (by_keyword, self.keyword_weight),
        ] {
            let contributions = match self.fusion {
                Fusion::RelativeScore => relative_scores(list),
                Fusion::Rrf => {
                    let k = self.rrf_k as f32;
                    (0..list.len())
                        .map(|rank| (k + 1.0) / (k + rank as f32 + 1.0))
                        .collect()
                }
            };
            for ((id, _), c) in list.iter().zip(contributions) {
                let add = if total > 0.0 { weight * c / total } else { 0.0 };
                match place.get(id) {
                    Some(&i) => scores[i].1 += add,
                    None => {
                        place.insert(id.clone(), scores.len());
                        scores.push((id.clone(), add));
                    }
                }
            }
        }
        for (_, s) in &mut scores {
            *s = s.clamp(0.0, 1.0);
        }
        scores.sort_by(|a, b| b.1.total_cmp(&a.1));
        scores
    }

    /// How many hits of each list are fused for `k` hybrid hits: twice `k`, and at least 20.
    /// (Deeper lists fuse worse on the WordNet benchmark: at 100k passages, 50 gave MRR@10
    /// 0.199 against 0.204.)
    pub fn depth(k: usize) -> usize {
        (2 * k).max(20)
    }

    /// Fuses the hits of a vector and a keyword search (each best first) into hybrid hits: fused
    /// scores, none below `threshold`, at most `k`.
    pub fn fuse_hits(
        &self,
        by_vector: Vec<Hit>,
        by_keyword: Vec<Hit>,
        threshold: Option<f32>,
        k: usize,
    ) -> Vec<Hit> {
        let scored = |hits: &[Hit]| -> Vec<(String, f32)> {
            hits.iter().map(|h| (h.chunk.id.clone(), h.score)).collect()
        };
        let (v_ids, k_ids) = (scored(&by_vector), scored(&by_keyword));
        let mut chunks: HashMap<String, StoredChunk> = HashMap::new();
        for h in by_vector.into_iter().chain(by_keyword) {
            chunks.entry(h.chunk.id.clone()).or_insert(h.chunk);
        }
        let fused = self
            .fuse(&v_ids, &k_ids)
            .into_iter()
            .filter_map(|(id, score)| chunks.remove(&id).map(|chunk| Hit { chunk, score }));
        threshold_and_k(fused, threshold, k)
    }
}

/// Each score of `list` min-max normalised over the list: its best 1, its worst 0 (all 1 when
/// they are equal).
fn relative_scores(list: &[(String, f32)]) -> Vec<f32> {
    let (lo, hi) = list
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), (_, s)| {
            (lo.min(*s), hi.max(*s))
        });
    list.iter()
        .map(|(_, s)| if hi > lo { (s - lo) / (hi - lo) } else { 1.0 })
        .collect()
}

#[cfg(test)]
mod tests;
