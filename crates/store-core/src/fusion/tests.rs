//! Both fusions: scores in 0..=1, weights, thresholds and `k`.

use super::*;

fn scored(list: &[(&str, f32)]) -> Vec<(String, f32)> {
    list.iter().map(|(id, s)| (id.to_string(), *s)).collect()
}

#[test]
fn fusion_gives_one_to_a_chunk_ranked_first_by_both() {
    for fusion in [Fusion::RelativeScore, Fusion::Rrf] {
        let opts = HybridOptions {
            fusion,
            ..HybridOptions::default()
        };
        let fused = opts.fuse(
            &scored(&[("a", 0.9), ("b", 0.7)]),
            &scored(&[("a", 0.6), ("c", 0.2)]),
        );
        assert_eq!(fused[0].0, "a", "{fusion:?}");
        assert!((fused[0].1 - 1.0).abs() < 1e-6, "{fusion:?}");
        assert!(fused.iter().all(|(_, s)| (0.0..=1.0).contains(s)));
        assert_eq!(fused.len(), 3);
    }
}

#[test]
fn relative_scores_follow_the_score_gaps_not_only_the_ranks() {
    let opts = HybridOptions {
        fusion: Fusion::RelativeScore,
        vector_weight: 1.0,
        keyword_weight: 1.0,
        rrf_k: 60,
    };
    // "b" is far behind "a" by vector and barely behind "c" by keyword.
    let fused = opts.fuse(
        &scored(&[("a", 0.9), ("b", 0.5), ("x", 0.1)]),
        &scored(&[("c", 0.8), ("b", 0.79), ("y", 0.0)]),
    );
    let get = |id: &str| fused.iter().find(|(i, _)| i == id).unwrap().1;
    assert!((get("a") - 0.5).abs() < 1e-6);
    assert!((get("b") - (0.5 + 0.79 / 0.8) / 2.0).abs() < 1e-5);
    assert_eq!(fused[0].0, "b");
    assert_eq!(get("x"), 0.0);
    // One hit, or equal scores, count as the best.
    let one = opts.fuse(&scored(&[("a", 0.3)]), &[]);
    assert!((one[0].1 - 0.5).abs() < 1e-6);
}

#[test]
fn fused_hits_keep_each_chunk_once_above_the_threshold_and_at_most_k() {
    let opts = HybridOptions::default();
    let v = vec![Hit::sample("a", 0.9), Hit::sample("b", 0.8)];
    let kw = vec![Hit::sample("a", 0.5), Hit::sample("c", 0.4)];
    let all = opts.fuse_hits(v.clone(), kw.clone(), None, 10);
    let ids: Vec<&str> = all.iter().map(|h| h.chunk.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    assert!((all[0].score - 1.0).abs() < 1e-6);
    assert_eq!(opts.fuse_hits(v.clone(), kw.clone(), None, 1).len(), 1);
    let kept = opts.fuse_hits(v, kw, Some(0.9), 10);
    assert_eq!(kept.len(), 1, "only the chunk first in both lists scores 1");
}

#[test]
fn fusion_weights_favour_the_heavier_list() {
    for fusion in [Fusion::RelativeScore, Fusion::Rrf] {
        let opts = HybridOptions {
            fusion,
            vector_weight: 1.0,
            keyword_weight: 3.0,
            rrf_k: 60,
        };
        let fused = opts.fuse(&scored(&[("v", 0.9)]), &scored(&[("k", 0.9)]));
        assert_eq!(fused[0].0, "k", "{fusion:?}");
        assert!((fused[0].1 - 0.75).abs() < 1e-6, "{fusion:?}");
    }
}
