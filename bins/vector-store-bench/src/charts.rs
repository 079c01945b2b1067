//! SVG charts (plotters): latency and throughput against concurrency, recall against ef_search.

use std::path::Path;

use anyhow::{Result, anyhow};
use plotters::prelude::*;

use crate::load::Latencies;

type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

fn line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series<'_>],
) -> Result<()> {
    let e = |e: &dyn std::fmt::Display| anyhow!("drawing {}: {e}", path.display());
    let points = series.iter().flat_map(|s| s.2.iter());
    let (mut x_max, mut y_max) = (1.0f64, 0.0f64);
    for &(x, y) in points {
        if y.is_finite() {
            y_max = y_max.max(y);
        }
        x_max = x_max.max(x);
    }
    let root = SVGBackend::new(path, (800, 480)).into_drawing_area();
    root.fill(&WHITE).map_err(|x| e(&x))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(45)
        .y_label_area_size(65)
        .build_cartesian_2d(0f64..x_max * 1.05, 0f64..(y_max * 1.15).max(1e-9))
        .map_err(|x| e(&x))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()
        .map_err(|x| e(&x))?;
    for (label, colour, pts) in series {
        let colour = *colour;
        let pts: Vec<(f64, f64)> = pts.iter().copied().filter(|p| p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(pts.clone(), colour.stroke_width(2)))
            .map_err(|x| e(&x))?
            .label(*label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
            });
        chart
            .draw_series(pts.into_iter().map(|p| Circle::new(p, 4, colour.filled())))
            .map_err(|x| e(&x))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|x| e(&x))?;
    root.present().map_err(|x| e(&x))?;
    Ok(())
}

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const ORANGE: RGBColor = RGBColor(255, 127, 14);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const RED_: RGBColor = RGBColor(214, 39, 40);

pub fn latency_vs_concurrency(path: &Path, http: &[Latencies], sql: &[Latencies]) -> Result<()> {
    let pts = |l: &[Latencies], f: fn(&Latencies) -> f64| -> Vec<(f64, f64)> {
        l.iter().map(|x| (x.concurrency as f64, f(x))).collect()
    };
    line_chart(
        path,
        "Vector search latency vs concurrency (k = 10)",
        "concurrent clients",
        "latency (ms)",
        &[
            ("HTTP /v2 p50", BLUE_, pts(http, |x| x.p50_ms)),
            ("HTTP /v2 p99", ORANGE, pts(http, |x| x.p99_ms)),
            ("raw SQL p50", GREEN_, pts(sql, |x| x.p50_ms)),
            ("raw SQL p99", RED_, pts(sql, |x| x.p99_ms)),
        ],
    )
}

pub fn qps_vs_concurrency(path: &Path, http: &[Latencies], sql: &[Latencies]) -> Result<()> {
    let pts = |l: &[Latencies]| -> Vec<(f64, f64)> {
        l.iter().map(|x| (x.concurrency as f64, x.qps)).collect()
    };
    line_chart(
        path,
        "Vector search throughput vs concurrency (k = 10)",
        "concurrent clients",
        "queries per second",
        &[
            ("HTTP /v2", BLUE_, pts(http)),
            ("raw SQL", GREEN_, pts(sql)),
        ],
    )
}

pub fn recall_vs_ef(path: &Path, points: &[(usize, f64)]) -> Result<()> {
    line_chart(
        path,
        "HNSW recall@10 vs hnsw.ef_search (pgvector)",
        "hnsw.ef_search",
        "recall@10 vs exact neighbours",
        &[(
            "recall@10",
            BLUE_,
            points.iter().map(|&(ef, r)| (ef as f64, r)).collect(),
        )],
    )
}
