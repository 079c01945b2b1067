//! The speed collection: the model's own rate, filling the collection through `/v2` against
//! binary COPY, recall against exact neighbours, and `/v2` search against the same SQL.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};

use crate::load::Latencies;
use crate::summary::{
    Database, EfSearchPoint, Indexing, LevelRatio, ModelRates, Recall, RoundRatios, Search,
};
use crate::{Bench, DIM, Data, PG_COLLECTION, bar, ordered, step};
use crate::{load, quality, sql, vectors};

/// The model's own throughput on up to 512 queries, while the service is idle.
pub(crate) fn model_rates(b: &Bench, d: &Data) -> Result<ModelRates> {
    step("measuring the model's throughput");
    let model = b.load_model()?;
    let sample: Vec<String> = d
        .query_texts()
        .iter()
        .take(512)
        .map(ToString::to_string)
        .collect();
    Ok(ModelRates {
        batch_32: vectors::model_throughput(&model, &sample, 32)?,
        batch_1: vectors::model_throughput(&model, &sample[..sample.len().min(64)], 1)?,
    })
}

/// The speed collection, filled through `/v2`, and the COPY baseline beside it.
pub(crate) struct Indexed {
    /// The collection's id (`vs_…`), which is its physical name.
    pub(crate) id: String,
    /// Its table.
    pub(crate) table: String,
    pub(crate) indexing: Indexing,
    pub(crate) database: Database,
}

/// Fills the speed collection through `/v2`, then a table of the same shape by binary COPY;
/// the rates and both tables' sizes.
pub(crate) async fn index(b: &Bench, d: &Data) -> Result<Indexed> {
    let (args, api) = (&b.args, &b.api);
    api.delete_collection(PG_COLLECTION).await?;
    let id = api
        .create_collection(PG_COLLECTION, "pgvector", DIM)
        .await?;
    let table = store_pgvector::table_name(&id)
        .with_context(|| format!("the collection id '{id}' is not a table name"))?;
    let n = d.ids.len();
    let rows = d.rows(n);
    step(&format!(
        "indexing {n} chunks through /v2 (upserts of {}, {} at a time)",
        args.batch, args.index_concurrency
    ));
    let http_rate = quality::index(
        api,
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
    let service_bytes = sql::table_bytes(&args.database_url, &table).await?;
    let copy_bytes = sql::table_bytes(&args.database_url, &copy_table).await?;
    if !args.keep {
        sql::drop_copy_table(&args.database_url, &copy_table).await?;
    }
    Ok(Indexed {
        id,
        table,
        indexing: Indexing {
            http_chunks_per_s: http_rate,
            copy_chunks_per_s: copy_rate,
            concurrency: args.index_concurrency,
            batch: args.batch,
            elasticsearch: None,
        },
        database: Database::of(service_bytes, copy_bytes, n),
    })
}

/// Recall of `/v2` vector search against exact neighbours (brute force) at k 10 and 50, and of
/// the raw SQL on `table` at each `--ef-sweep` value.
pub(crate) async fn recall(b: &Bench, d: &Data, table: &str) -> Result<Recall> {
    let api = &b.api;
    step("exact neighbours (brute force)");
    let exact: Vec<Vec<String>> = vectors::exact_neighbours(&d.vectors, &d.query_vectors, 50)
        .iter()
        .map(|r| r.iter().map(|&i| d.ids[i].clone()).collect())
        .collect();
    let q = d.queries.len();
    let vector_bodies = d.vector_bodies();
    let vec_k10 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 10"), |i| {
        api.search(PG_COLLECTION, vector_bodies[i].clone())
    })
    .await?;
    let vec_k50 = ordered(q, 4, &bar(q as u64, "/v2 vector search, k 50"), |i| {
        api.search(
            PG_COLLECTION,
            crate::client::search_body("vector", Some(&d.query_vectors[i]), None, 50),
        )
    })
    .await?;
    let recall10 = load::recall_vs_exact(&vec_k10, &exact, 10);
    let recall10_k50 = load::recall_vs_exact(&vec_k50, &exact, 10);
    let recall50_k50 = load::recall_vs_exact(&vec_k50, &exact, 50);
    step(&format!(
        "recall@10 {recall10:.4}; at k 50: recall@10 {recall10_k50:.4}, recall@50 \
         {recall50_k50:.4}"
    ));

    let pg_vectors = d.pg_vectors();
    let mut sweep = Vec::new();
    for &ef in &b.args.ef_sweep {
        let s = sql::Searcher::new(&b.args.database_url, table, ef).await?;
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
        sweep.push(EfSearchPoint {
            ef_search: ef,
            recall_at_10: r,
            sql_qps_1_client: qps,
        });
    }
    Ok(Recall {
        k10_recall_at_10: recall10,
        k50_recall_at_10: recall10_k50,
        k50_recall_at_50: recall50_k50,
        ef_search_sweep: sweep,
    })
}

/// The search load: at each `--concurrency`, `/v2` vector search against the same SQL on
/// `table` from a pool of `--pool-size` connections, in `--rounds` rounds; then the round trip
/// of `GET /health`.
pub(crate) async fn search_load(b: &Bench, d: &Data, table: &str) -> Result<Search> {
    let (args, timing) = (&b.args, b.timing);
    let q = d.queries.len();
    let vector_bodies = d.vector_bodies();
    let pg_vectors = d.pg_vectors();
    let mut http_levels: Vec<Latencies> = Vec::new();
    let mut sql_levels: Vec<Latencies> = Vec::new();
    let pool = {
        let mut v = Vec::new();
        for _ in 0..args.pool_size.max(1) {
            v.push(sql::Searcher::new(&args.database_url, table, args.ef_search.max(20)).await?);
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
            let api = b.api.clone();
            let bodies = vector_bodies.clone();
            let label = format!("/v2 search, {c} clients, round {round}");
            let l = timing
                .level(&label, c, q, move |i: usize| {
                    let api = api.clone();
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
                "{name} c={c}: {:.0} q/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms (medians of {} \
                 rounds)",
                l.qps,
                l.p50_ms,
                l.p95_ms,
                l.p99_ms,
                ratios.len()
            ));
        }
        step(&format!("ratio by round: {ratios:.2?}"));
        round_ratios.push(RoundRatios {
            concurrency: c,
            ratios,
        });
        http_levels.push(h);
        sql_levels.push(s);
    }
    drop(pool);
    // The floor under every HTTP figure: the round trip of `/health` from the same client.
    let api = b.api.clone();
    let http_floor = timing
        .level("GET /health, 1 client", 1, 1, move |_| {
            let api = api.clone();
            async move { api.health().await }
        })
        .await;
    step(&format!(
        "GET /health c=1: p50 {:.3} ms, p99 {:.3} ms",
        http_floor.p50_ms, http_floor.p99_ms
    ));
    let qps_ratio_by_concurrency = http_levels
        .iter()
        .zip(&sql_levels)
        .map(|(h, s)| LevelRatio {
            concurrency: h.concurrency,
            ratio: crate::summary::ratio(h.qps, s.qps),
        })
        .collect();
    Ok(Search {
        http: http_levels,
        sql: sql_levels,
        qps_ratio_by_concurrency,
        rounds: args.rounds.max(1),
        http_health_round_trip: http_floor,
        qps_ratio_by_round: round_ratios,
        pool_size: args.pool_size,
    })
}
