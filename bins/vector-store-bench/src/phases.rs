//! Retrieval quality on every back-end, file ingestion through the OpenAI surface, and the
//! OpenAI search route with text queries.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Result;
use bytes::Bytes;

use crate::load::Latencies;
use crate::summary::{EsIndexing, FullSetQuality, Quality, SameSetQuality};
use crate::{Bench, DIM, Data, PG_COLLECTION, bar, step};
use crate::{ingestion, quality, vectors};

/// Retrieval quality: pgvector on the whole speed collection; then every back-end on the same
/// smaller set of `--es-scale` passages (the Elasticsearch-API server of the tests scans every
/// vector), with the queries about it.
pub(crate) async fn retrieval_quality(
    b: &Bench,
    d: &Data,
    cache: &mut vectors::VectorCache,
) -> Result<Quality> {
    let (args, api) = (&b.args, &b.api);
    let full_set = quality::QuerySet {
        texts: d.query_texts(),
        vectors: d.query_vectors.clone(),
        relevant: d.relevant(),
    };
    let full = FullSetQuality {
        pgvector: quality::measure(api, "pgvector", PG_COLLECTION, &full_set).await?,
    };
    let np = d.passage_count.min(args.es_scale);
    let (_, small_queries) = d.corpus.subset(np, args.queries);
    let small_texts: Vec<&str> = small_queries.iter().map(|q| q.text.as_str()).collect();
    let small_set = quality::QuerySet {
        vectors: cache.get_or_embed(
            &small_texts,
            &|| b.load_model(),
            &bar(0, "embedding queries"),
        )?,
        relevant: small_queries
            .iter()
            .map(|q| d.passages()[q.passage].id.as_str())
            .collect(),
        texts: small_texts,
    };
    let small_rows = d.rows(np);
    let mut backends = BTreeMap::new();
    let mut elasticsearch = None;
    let names: &[&str] = if args.elastic {
        &["pgvector", "elasticsearch"]
    } else {
        &["pgvector"]
    };
    for &backend in names {
        let collection = format!("bench_quality_{backend}");
        api.delete_collection(&collection).await?;
        if let Err(e) = api.create_collection(&collection, backend, DIM).await {
            step(&format!("{backend} skipped: {e:#}"));
            continue;
        }
        let rate = quality::index(
            api,
            &collection,
            &small_rows,
            args.batch,
            args.index_concurrency,
            &format!("upsert /v2 ({backend}, {np} passages)"),
        )
        .await?;
        step(&format!(
            "/v2 upsert on {backend}: {rate:.0} chunks/s ({np} passages)"
        ));
        if backend == "elasticsearch" {
            elasticsearch = Some(EsIndexing {
                chunks: np,
                chunks_per_s: rate,
            });
        }
        backends.insert(
            backend.to_string(),
            quality::measure(api, &format!("{backend}, {np}"), &collection, &small_set).await?,
        );
        if !args.keep {
            api.delete_collection(&collection).await?;
        }
    }
    Ok(Quality {
        full,
        same_set: SameSetQuality {
            passages: np,
            queries: small_set.texts.len(),
            backends,
        },
        elasticsearch,
    })
}

/// Files through the OpenAI surface, against the model alone and the matrix multiply.
pub(crate) async fn file_ingestion(
    b: &Bench,
    corpus: &crate::data::Corpus,
) -> Result<ingestion::Ingestion> {
    let args = &b.args;
    let sets = [
        ingestion::small_files(corpus, args.ingest_small_files),
        ingestion::large_files(&args.pydoc_dir, &args.ingest_large_files)?,
    ];
    let one_file =
        ingestion::large_files(&args.pydoc_dir, std::slice::from_ref(&args.ingest_one_file))?
            .files
            .remove(0);
    let model = b.load_model()?;
    let static_model = match &args.static_model {
        Some(name) => Some(
            embeddings::StaticEmbedder::load(name, &args.models_dir.join(name), 512)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        ),
        None => None,
    };
    ingestion::measure(
        &b.api,
        &sets,
        &one_file,
        ingestion::Options {
            model: &model,
            batch: 32,
            others: args
                .instant_port
                .map(|_| {
                    (
                        "instant embedder (the pipeline alone)",
                        args.instant_model.as_str(),
                    )
                })
                .into_iter()
                .chain(
                    args.chunks_alone_model
                        .as_deref()
                        .map(|m| ("built-in model, each chunk alone", m)),
                )
                .chain(args.static_model.as_deref().map(|m| (m, m)))
                .collect(),
            instant_model: args.instant_port.map(|_| args.instant_model.as_str()),
            chunks_alone_model: args.chunks_alone_model.as_deref(),
            static_model: static_model.as_ref(),
        },
    )
    .await
}

/// The OpenAI search route with the queries' texts on the speed collection `id`, at each
/// `--e2e-concurrency`.
pub(crate) async fn end_to_end(b: &Bench, d: &Data, id: &str) -> Vec<Latencies> {
    let text_bodies: Arc<Vec<Bytes>> = Arc::new(
        d.queries
            .iter()
            .map(|x| {
                serde_json::to_vec(&serde_json::json!({"query": x.text, "max_num_results": 10}))
                    .expect("json")
                    .into()
            })
            .collect(),
    );
    let mut levels = Vec::new();
    for &c in &b.args.e2e_concurrency {
        let api = b.api.clone();
        let bodies = text_bodies.clone();
        let id = id.to_string();
        let label = format!("/v1/vector_stores search, {c} clients");
        let l = b
            .timing
            .level(&label, c, d.queries.len(), move |i: usize| {
                let api = api.clone();
                let body = bodies[i].clone();
                let id = id.clone();
                async move { api.openai_search(&id, body).await.map(|_| ()) }
            })
            .await;
        step(&format!(
            "end to end c={c}: {:.1} q/s, p50 {:.1} ms, p99 {:.1} ms",
            l.qps, l.p50_ms, l.p99_ms
        ));
        levels.push(l);
    }
    levels
}
