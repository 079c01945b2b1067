//! Closed-loop load: `concurrency` clients, each sending its next request as soon as the last
//! one is answered, for a fixed time; latencies and throughput.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Latencies {
    pub concurrency: usize,
    pub requests: usize,
    pub errors: usize,
    pub qps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub mean_ms: f64,
}

/// Runs `f(i)` with `i` cycling over `0..items`, from `concurrency` tasks, for `duration` after
/// a warm-up of `warmup` that is not counted.
pub async fn closed_loop<F, Fut>(
    concurrency: usize,
    items: usize,
    warmup: Duration,
    duration: Duration,
    bar: &ProgressBar,
    f: Arc<F>,
) -> Latencies
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let tasks: Vec<_> = (0..concurrency.max(1))
        .map(|_| {
            let f = f.clone();
            let next = next.clone();
            let bar = bar.clone();
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut errors = 0usize;
                let mut first_error = None;
                loop {
                    let t0 = Instant::now();
                    if t0 >= end {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed) % items.max(1);
                    let r = f(i).await;
                    if t0 >= measure_from {
                        match r {
                            Ok(()) => lat.push(t0.elapsed()),
                            Err(e) => {
                                errors += 1;
                                first_error.get_or_insert(e);
                            }
                        }
                        bar.inc(1);
                    }
                }
                (lat, errors, first_error)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (lat, e, first) = t.await.expect("load task");
        all.extend(lat);
        errors += e;
        if let Some(first) = first {
            bar.println(format!("request failed: {first:#}"));
        }
    }
    summarize(concurrency, all, errors, duration)
}

pub fn summarize(
    concurrency: usize,
    mut lat: Vec<Duration>,
    errors: usize,
    over: Duration,
) -> Latencies {
    lat.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let i = ((p / 100.0) * (lat.len() - 1) as f64).round() as usize;
        ms(lat[i.min(lat.len() - 1)])
    };
    let mean = if lat.is_empty() {
        f64::NAN
    } else {
        lat.iter().map(|d| ms(*d)).sum::<f64>() / lat.len() as f64
    };
    Latencies {
        concurrency,
        requests: lat.len(),
        errors,
        qps: lat.len() as f64 / over.as_secs_f64(),
        p50_ms: pct(50.0),
        p95_ms: pct(95.0),
        p99_ms: pct(99.0),
        mean_ms: mean,
    }
}

/// The median of `xs` (the mean of the middle two when even); NaN when empty.
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    match xs.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => xs[n / 2],
        n => (xs[n / 2 - 1] + xs[n / 2]) / 2.0,
    }
}

/// One level measured in several rounds: each figure is its median over the rounds; requests
/// and errors are summed.
pub fn median_of(rounds: &[Latencies]) -> Latencies {
    let m = |f: fn(&Latencies) -> f64| median(rounds.iter().map(f).collect());
    Latencies {
        concurrency: rounds.first().map_or(0, |l| l.concurrency),
        requests: rounds.iter().map(|l| l.requests).sum(),
        errors: rounds.iter().map(|l| l.errors).sum(),
        qps: m(|l| l.qps),
        p50_ms: m(|l| l.p50_ms),
        p95_ms: m(|l| l.p95_ms),
        p99_ms: m(|l| l.p99_ms),
        mean_ms: m(|l| l.mean_ms),
    }
}

/// MRR@k and recall@k of ranked id lists, each against one relevant id.
pub fn mrr_recall(results: &[Vec<String>], relevant: &[&str], k: usize) -> (f64, f64) {
    let mut mrr = 0.0;
    let mut hits = 0.0;
    for (r, want) in results.iter().zip(relevant) {
        if let Some(pos) = r.iter().take(k).position(|id| id == want) {
            mrr += 1.0 / (pos + 1) as f64;
            hits += 1.0;
        }
    }
    let n = results.len().max(1) as f64;
    (mrr / n, hits / n)
}

/// Mean overlap of the first `k` of each result with the first `k` of the exact neighbours.
pub fn recall_vs_exact(results: &[Vec<String>], exact: &[Vec<String>], k: usize) -> f64 {
    let mut total = 0.0;
    for (r, e) in results.iter().zip(exact) {
        let want: Vec<&String> = e.iter().take(k).collect();
        let found = r.iter().take(k).filter(|id| want.contains(id)).count();
        total += found as f64 / want.len().max(1) as f64;
    }
    total / results.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_sorted_latencies() {
        let lat = (1..=100).map(Duration::from_millis).collect();
        let l = summarize(1, lat, 0, Duration::from_secs(10));
        assert_eq!(l.requests, 100);
        assert!((l.qps - 10.0).abs() < 1e-9);
        assert!((l.p50_ms - 51.0).abs() < 1e-6, "{}", l.p50_ms);
        assert!((l.p99_ms - 99.0).abs() < 1e-6, "{}", l.p99_ms);
    }

    #[test]
    fn rounds_reduce_to_their_medians() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(Vec::new()).is_nan());
        let round = |qps: f64, p99: f64| Latencies {
            concurrency: 4,
            requests: 10,
            errors: 1,
            qps,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: p99,
            mean_ms: 1.0,
        };
        let m = median_of(&[round(100.0, 9.0), round(300.0, 3.0), round(200.0, 5.0)]);
        assert_eq!((m.concurrency, m.requests, m.errors), (4, 30, 3));
        assert_eq!((m.qps, m.p99_ms), (200.0, 5.0));
    }

    #[test]
    fn mrr_counts_the_rank_of_the_relevant_passage() {
        let results = vec![
            vec!["a".to_string(), "b".to_string()],
            vec!["c".to_string(), "d".to_string()],
        ];
        let (mrr, recall) = mrr_recall(&results, &["b", "x"], 10);
        assert!((mrr - 0.25).abs() < 1e-9);
        assert!((recall - 0.5).abs() < 1e-9);
    }
}
