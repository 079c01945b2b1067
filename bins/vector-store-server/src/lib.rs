//! The vector-store server: reads [`settings::Settings`], sets up telemetry, connects the
//! catalog, registers the storage back-ends compiled in and the embedding models, and runs the
//! HTTP application.
//!
//! Features: `pgvector` (default) registers the PostgreSQL + pgvector back-end; `elastic`
//! (default) registers the Elasticsearch back-end when `storage.elasticsearch.url` is set. The
//! catalog always lives in PostgreSQL.

pub mod cli;
pub mod settings;
pub mod telemetry;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api_http::{AppState, Application};
use embeddings::{
    ChatOptions, ChatRewriter, EmbedderRegistry, HttpReranker, QueryRewriter, Reranker,
    RerankerOptions,
};
use secrecy::ExposeSecret;
use service::sandbox::Sandbox;
use service::{
    AuthService, BlobStore, FileService, IngestService, Ingestor, SearchModels, UploadService,
    VectorService,
};
use store_core::{Catalog, HybridOptions, StoreRegistry, VectorStore};
use store_pgvector::PgCatalog;
use tokio_util::sync::CancellationToken;

use crate::settings::Settings;

/// The back-ends this binary was built with.
pub fn compiled_backends() -> Vec<&'static str> {
    [
        #[cfg(feature = "pgvector")]
        store_pgvector::PgVectorStore::NAME,
        #[cfg(feature = "elastic")]
        store_elastic::ElasticStore::NAME,
    ]
    .to_vec()
}

/// The catalog's connection pool, with migrations run when configured.
pub async fn connect_database(settings: &Settings) -> anyhow::Result<store_pgvector::Pool> {
    let url = settings.database.url()?;
    let (in_flight, pool) = (settings.server.max_in_flight, settings.database.pool_size);
    if in_flight == 0 || in_flight >= pool {
        tracing::warn!(
            server.max_in_flight = in_flight,
            database.pool_size = pool,
            "requests in progress are not bounded below the connection pool: busy tenants can \
             leave authentication and ingestion without a connection"
        );
    }
    if settings.database.run_migrations {
        store_pgvector::migrate(url.expose_secret())
            .await
            .context("could not migrate the database")?;
    }
    store_pgvector::connect(
        url.expose_secret(),
        settings.database.pool_size,
        &pgvector_options(settings)?,
    )
    .await
    .context("could not connect to the database")
}

fn pgvector_options(settings: &Settings) -> anyhow::Result<store_pgvector::PgVectorOptions> {
    if settings.storage.pgvector.is_null() {
        return Ok(Default::default());
    }
    serde_json::from_value(settings.storage.pgvector.clone())
        .context("invalid storage.pgvector options")
}

pub async fn catalog(
    settings: &Settings,
) -> anyhow::Result<(Arc<PgCatalog>, store_pgvector::Pool)> {
    let pool = connect_database(settings).await?;
    Ok((
        Arc::new(PgCatalog::new(pool.clone()).with_quotas(settings.quotas)),
        pool,
    ))
}

/// Every back-end compiled in, built from its own options.
#[cfg_attr(
    not(feature = "elastic"),
    allow(
        clippy::unused_async,
        reason = "only the Elasticsearch back-end is made asynchronously"
    )
)]
pub async fn stores(
    settings: &Settings,
    #[allow(unused_variables, reason = "only the pgvector back-end uses the pool")]
    pool: &store_pgvector::Pool,
) -> anyhow::Result<StoreRegistry> {
    #[allow(unused_mut, reason = "without a back-end feature nothing is pushed")]
    let mut stores: Vec<Arc<dyn VectorStore>> = Vec::new();
    #[cfg(feature = "pgvector")]
    {
        stores.push(Arc::new(store_pgvector::PgVectorStore::new(pool.clone())));
    }
    #[cfg(feature = "elastic")]
    if let Some(store) = elastic_store(settings).await? {
        stores.push(Arc::new(store));
    }
    StoreRegistry::new(stores, &settings.storage.default_backend).with_context(|| {
        format!(
            "storage.default_backend '{}' is not available; this binary has: {}",
            settings.storage.default_backend,
            compiled_backends().join(", ")
        )
    })
}

/// The Elasticsearch back-end when a cluster is configured. A cluster that does not answer yet
/// is not fatal (`/ready` reports it and requests recover when it answers); one that answers and
/// cannot be used (not Elasticsearch, or a version outside 8.4–9.x) stops the start.
#[cfg(feature = "elastic")]
async fn elastic_store(settings: &Settings) -> anyhow::Result<Option<store_elastic::ElasticStore>> {
    let options: store_elastic::ElasticOptions = if settings.storage.elasticsearch.is_null() {
        Default::default()
    } else {
        serde_json::from_value(settings.storage.elasticsearch.clone())
            .context("invalid storage.elasticsearch options")?
    };
    if !options.is_configured() {
        return Ok(None);
    }
    let store = store_elastic::ElasticStore::new(options)
        .map_err(|e| anyhow::anyhow!("invalid storage.elasticsearch options: {e}"))?;
    match store.probe().await {
        Ok(_) => {}
        Err(e @ store_elastic::ProbeError::Unsupported(_)) => return Err(e.into()),
        Err(e) => tracing::warn!(error = %e, "the Elasticsearch cluster does not answer yet"),
    }
    Ok(Some(store))
}

pub async fn embedders(settings: &Settings) -> anyhow::Result<EmbedderRegistry> {
    EmbedderRegistry::from_config(
        &settings.embeddings.resolved_models(),
        &settings.embeddings.default_model,
    )
    .await
    .context("could not load the embedding models")
}

/// An upload's temporary not written for this long, and not recorded, is removed (at start-up
/// and by the periodic sweep, which also removes bytes and texts no record owns).
const TEMPORARY_IDLE_SECS: u64 = 15 * 60;

/// The blob store `files.backend` names, once it answers.
pub async fn blob_store(files: &settings::FileSettings) -> anyhow::Result<BlobStore> {
    match files.backend {
        settings::FilesBackend::Local => BlobStore::new(&files.dir).with_context(|| {
            format!(
                "could not create the files directory {}",
                files.dir.display()
            )
        }),
        settings::FilesBackend::S3 => {
            let blobs = BlobStore::s3(&files.s3)?;
            blobs.check().await.map_err(|e| {
                let cause = e.one_line();
                let bucket = &files.s3.bucket;
                anyhow::anyhow!("files.s3: the bucket {bucket} could not be listed: {cause}")
            })?;
            Ok(blobs)
        }
    }
}

/// The application state; `embedders` may be shared (tests load the model once).
pub async fn state(settings: &Settings, embedders: EmbedderRegistry) -> anyhow::Result<AppState> {
    let (pg_catalog, pool) = catalog(settings).await?;
    let catalog: Arc<dyn Catalog> = pg_catalog.clone();
    let blobs = blob_store(&settings.files).await?;
    let files = FileService::new(pg_catalog.clone(), blobs, settings.files.max_upload_bytes)
        .with_min_free_bytes(settings.files.min_free_bytes);
    // What a crash left of writes in progress.
    match files
        .sweep_temporaries(Duration::from_secs(TEMPORARY_IDLE_SECS))
        .await
    {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "removed the temporaries of interrupted uploads"),
        Err(e) => {
            tracing::warn!(error = %e, "could not sweep the temporaries of interrupted uploads");
        }
    }
    let extract = &settings.ingest.extract;
    let sandbox = match &extract.program {
        Some(program) if !program.as_os_str().is_empty() => {
            Sandbox::with_program(program.clone(), extract.limits)
        }
        _ => Sandbox::this_binary(extract.limits)
            .context("could not find this executable for the text-extraction sandbox")?,
    };
    let stores = stores(settings, &pool).await?;
    let auth = AuthService::new(
        catalog.clone(),
        settings.auth.mode,
        &settings.auth.default_tenant,
        Duration::from_secs(settings.auth.key_cache_ttl_secs),
    )
    .await
    .context("could not prepare authentication")?;
    let hybrid = HybridOptions {
        fusion: settings.search.fusion,
        vector_weight: settings.search.hybrid_vector_weight,
        keyword_weight: settings.search.hybrid_keyword_weight,
        rrf_k: settings.search.rrf_k,
    };
    let service = VectorService::new(catalog, stores, embedders, hybrid)
        .with_search_models(search_models(settings))
        .with_limits(settings.limits);
    let uploads = UploadService::new(pg_catalog.clone(), files.clone(), settings.uploads);
    let ingest = IngestService::new(service, files, pg_catalog, sandbox);
    Ok(AppState::new(ingest, uploads, Arc::new(auth)).with_mcp(settings.mcp.clone()))
}

/// The reranker and query rewriter `search` names, reached over HTTP.
pub fn search_models(settings: &Settings) -> SearchModels {
    let search = &settings.search;
    let reranker = settings.rerankers.get(&search.reranker).map(|r| {
        Arc::new(HttpReranker::new(RerankerOptions {
            name: search.reranker.clone(),
            protocol: r.protocol,
            url: r.url.clone(),
            model: r.model.clone(),
            api_key: r.access.key(),
            timeout: r.access.timeout(),
        })) as Arc<dyn Reranker>
    });
    let rewriter = settings.chat_models.get(&search.query_rewriter).map(|c| {
        Arc::new(ChatRewriter::new(ChatOptions {
            name: search.query_rewriter.clone(),
            base_url: c.base_url.clone(),
            model: c.model.clone(),
            api_key: c.access.key(),
            timeout: c.access.timeout(),
        })) as Arc<dyn QueryRewriter>
    });
    SearchModels {
        reranker,
        rerank_depth: search.rerank_depth,
        rewriter,
    }
}

/// The background work of a running server: ingestion workers and the expiry sweeper.
#[derive(Debug)]
pub struct Background {
    shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// A token that stops the work when cancelled (dropping the `Background` does too).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Stops the work: workers claim nothing more and hand back the jobs they hold. Waits for
    /// them at most `grace`; what is still running then is dropped, and its job taken again
    /// after its lease.
    pub async fn stop(mut self, grace: Duration) {
        self.shutdown.cancel();
        let tasks = std::mem::take(&mut self.tasks);
        if tokio::time::timeout(grace, futures::future::join_all(tasks))
            .await
            .is_err()
        {
            tracing::warn!("background work did not stop within the grace period");
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// How often collections whose usage writes changed are looked for, to count it again.
const USAGE_RECOUNT_EVERY: Duration = Duration::from_secs(2);

/// Starts the background work: ingestion workers and the expiry sweeper (expired files are
/// deleted, expired uploads' parts removed, expired collections' chunks freed, every
/// `ingest.expiry_sweep_secs`), and the count
/// of usage that writes changed (every 2 s). It runs until
/// the returned [`Background`] is stopped or dropped.
pub fn spawn_background(settings: &Settings, state: &AppState) -> Background {
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    for _ in 0..settings.ingest.workers {
        let worker = Ingestor::new(
            state.ingest().clone(),
            settings.ingest.lease_secs,
            settings.ingest.max_attempts,
        )
        .with_max_retries(settings.ingest.max_retries)
        .with_jobs_per_claim(settings.ingest.jobs_per_claim)
        .claiming_only_runnable();
        tasks.push(tokio::spawn(
            worker.run(Duration::from_millis(200), shutdown.clone()),
        ));
    }
    let files = state.files().clone();
    let uploads = state.uploads().clone();
    let service = state.vectors().clone();
    let every = Duration::from_secs(settings.ingest.expiry_sweep_secs.max(1));
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        let mut orphans_swept = None;
        while !stop.is_cancelled() {
            if let Err(e) = files.sweep_expired().await {
                tracing::warn!(error = %e, "the file expiry sweep failed");
            }
            // Uploads in parts past their expiry, and the parts no pending upload owns.
            match uploads.sweep().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(uploads = n, "expired uploads and removed their parts"),
                Err(e) => tracing::warn!(error = %e, "the upload expiry sweep failed"),
            }
            // Texts of files deleted during their extraction, and temporaries of work that
            // stopped, once nothing has written them for a while. It lists every blob (in a
            // bucket, a request per thousand): a few times per idle period is enough.
            let orphans_due = orphans_swept.is_none_or(|t: std::time::Instant| {
                t.elapsed() >= Duration::from_secs(TEMPORARY_IDLE_SECS / 3)
            });
            if orphans_due {
                orphans_swept = Some(std::time::Instant::now());
                match files
                    .sweep_orphans(Duration::from_secs(TEMPORARY_IDLE_SECS))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "removed files no record owns"),
                    Err(e) => tracing::warn!(error = %e, "the sweep of orphaned files failed"),
                }
            }
            match service.sweep_expired(100).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(collections = n, "freed the chunks of expired collections"),
                Err(e) => tracing::warn!(error = %e, "the collection expiry sweep failed"),
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => {}
            }
        }
    }));
    // Usage that writes changed is counted again within seconds, one collection at a time.
    let service = state.vectors().clone();
    let stop = shutdown.clone();
    tasks.push(tokio::spawn(async move {
        while !stop.is_cancelled() {
            // A few at a time, then a pause: the background count stays a small share of the
            // database's work, however many stores writes changed.
            let pause = match service.recount_stale_usage(5).await {
                Ok(_) => USAGE_RECOUNT_EVERY,
                Err(e) => {
                    tracing::warn!(error = %e, "counting vector stores' usage failed");
                    USAGE_RECOUNT_EVERY * 5
                }
            };
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                () = stop.cancelled() => {}
            }
        }
    }));
    Background { shutdown, tasks }
}

/// Builds the application from settings: database, back-ends, models, listener.
pub async fn build(
    settings: &Settings,
    embedders: Option<EmbedderRegistry>,
) -> anyhow::Result<(Application, Background)> {
    settings.database.url()?;
    let embedders = match embedders {
        Some(e) => e,
        None => self::embedders(settings).await?,
    };
    let state = state(settings, embedders).await?;
    let background = spawn_background(settings, &state);
    let app = Application::build(&settings.server, state).with_context(|| {
        format!(
            "could not listen on {}:{}",
            settings.server.host, settings.server.port
        )
    })?;
    Ok((app, background))
}
