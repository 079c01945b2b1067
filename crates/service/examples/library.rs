//! The service as a library, without HTTP: connects to `DATABASE_URL` (PostgreSQL with
//! pgvector), builds the service with the built-in model, creates a vector store, ingests every
//! file under DIR through the same ingestion path the API uses, waits for it, searches QUERY
//! and prints one line per hit.
//!
//! ```text
//! cargo run -p service --example library -- DIR "QUERY"
//! ```
//!
//! Environment: `DATABASE_URL` (required), `MODELS_DIR` (default `models`, where
//! `scripts/fetch-model.sh` puts the built-in model), `FILES_DIR` (default: a directory under
//! the system's temporary one).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use embeddings::{EmbedderRegistry, ModelConfig, ProviderConfig};
use models::SearchMode;
use models::openai::AttachFile;
use service::sandbox::{Sandbox, SandboxLimits};
use service::{
    BlobStore, CreateCollectionInput, FileService, IngestService, Ingestor, SearchInput,
    ServiceError, UploadMeta, VectorService,
};
use store_core::{Catalog, FileStatus, Hit, HybridOptions, StoreRegistry, Tenant};
use store_pgvector::{PgCatalog, PgVectorOptions, PgVectorStore};

/// The built-in model, as the server's default configuration names it.
const MODEL: &str = "all-minilm-l6-v2";

/// The pieces of a running service, as a library user holds them.
pub struct Library {
    pub tenant: Tenant,
    pub ingest: IngestService,
}

impl Library {
    /// Connects, migrates and loads the built-in model from `models_dir`.
    pub async fn open(
        database_url: &str,
        models_dir: &Path,
        files_dir: &Path,
    ) -> anyhow::Result<Self> {
        store_pgvector::migrate(database_url).await?;
        let options = PgVectorOptions::default();
        let pool = store_pgvector::connect(database_url, 8, &options).await?;
        let catalog = Arc::new(PgCatalog::new(pool.clone()));
        let stores = StoreRegistry::new(
            vec![Arc::new(PgVectorStore::new(pool))],
            PgVectorStore::NAME,
        )?;
        let models = BTreeMap::from([(
            MODEL.to_string(),
            ModelConfig {
                dimension: 384,
                max_input_tokens: 256,
                provider: ProviderConfig::Local {
                    path: models_dir.join(MODEL),
                    batch_size: 32,
                    late_chunking: true,
                },
            },
        )]);
        let embedders = EmbedderRegistry::from_config(&models, MODEL).await?;
        let tenant = catalog.ensure_tenant("library-example").await?;
        let vectors =
            VectorService::new(catalog.clone(), stores, embedders, HybridOptions::default());
        let files = FileService::new(catalog.clone(), BlobStore::new(files_dir)?, 512 << 20);
        // PDF and HTML are parsed in a child process: this program, run as `library extract`.
        let sandbox = Sandbox::this_binary(SandboxLimits {
            timeout_secs: 60,
            memory_limit_mib: 2048,
            max_text_bytes: 64 << 20,
        })?;
        let ingest = IngestService::new(vectors, files, catalog, sandbox);
        Ok(Self { tenant, ingest })
    }

    /// A new vector store holding every file under `dir`, ingested and waited for. Returns the
    /// store's id and the files that could not be ingested, each with why.
    pub async fn index(&self, name: &str, dir: &Path) -> anyhow::Result<(String, Vec<String>)> {
        let vectors = self.ingest.vectors();
        let store = vectors
            .create_collection(
                &self.tenant,
                CreateCollectionInput {
                    name: Some(name.to_string()),
                    model: Some(MODEL.to_string()),
                    ..Default::default()
                },
            )
            .await?;
        let mut names: Vec<(String, String)> = Vec::new();
        for path in files_under(dir)? {
            let filename = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let bytes = tokio::fs::read(&path).await?;
            let id = FileService::new_id();
            let files = self.ingest.files();
            let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes)]);
            let received = files.receive(&id, body).await?;
            let meta = UploadMeta {
                filename: Some(filename),
                purpose: Some("assistants".into()),
                ..Default::default()
            };
            let file = files
                .register(&self.tenant, id, Some(received), meta)
                .await?;
            names.push((file.id.clone(), file.filename));
            let request = AttachFile::new(file.id);
            self.ingest
                .attach_file(&self.tenant, &store, request)
                .await?;
        }
        // One worker, as the server runs them, until no job of this store is left.
        let worker = Ingestor::new(self.ingest.clone(), 60, 3);
        loop {
            if self.ingest.counts(&store, None).await?.in_progress == 0 {
                break;
            }
            if !worker.run_once().await? {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let mut failed = Vec::new();
        for (id, filename) in names {
            let file = self.ingest.attached(&self.tenant, &store, &id).await?;
            if let Some(error) = file
                .last_error
                .filter(|_| file.status != FileStatus::Completed)
            {
                failed.push(format!("{filename}: {}", error.message));
            }
        }
        Ok((store.id, failed))
    }

    pub async fn search(
        &self,
        store_id: &str,
        query: &str,
        k: usize,
    ) -> Result<Vec<Hit>, ServiceError> {
        let vectors = self.ingest.vectors();
        let store = vectors.collection_by_id(&self.tenant, store_id).await?;
        vectors
            .search(
                &store,
                SearchInput {
                    mode: SearchMode::Vector,
                    text: Some(query.to_string()),
                    vector: None,
                    filter: None,
                    k,
                    score_threshold: None,
                    weights: None,
                    rerank: false,
                },
            )
            .await
    }
}

/// Every regular file under `dir`, in name order.
fn files_under(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                out.push(entry.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

/// One line of a hit: score, filename and the chunk's first words.
pub fn hit_line(hit: &Hit) -> String {
    let words: Vec<&str> = hit.chunk.text.split_whitespace().take(12).collect();
    format!(
        "{:.3}  {}  {}",
        hit.score,
        hit.chunk.filename.as_deref().unwrap_or("-"),
        words.join(" ")
    )
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The text-extraction sandbox runs this program as `library extract --filename F
    // --memory-bytes M --cpu-secs S`.
    if args.get(1).map(String::as_str) == Some("extract") {
        let arg = |name: &str| {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .unwrap_or_default()
        };
        return service::sandbox::child_main(
            &arg("--filename"),
            arg("--memory-bytes").parse().unwrap_or(0),
            arg("--cpu-secs").parse().unwrap_or(1),
        );
    }
    let (Some(dir), Some(query)) = (args.get(1), args.get(2)) else {
        eprintln!("usage: library DIR \"QUERY\"");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("library: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(Path::new(dir), query)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("library: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(dir: &Path, query: &str) -> anyhow::Result<()> {
    let url =
        std::env::var("DATABASE_URL").map_err(|_| anyhow::anyhow!("DATABASE_URL is not set"))?;
    let models =
        std::env::var_os("MODELS_DIR").map_or_else(|| PathBuf::from("models"), PathBuf::from);
    let files = std::env::var_os("FILES_DIR").map_or_else(
        || std::env::temp_dir().join("vector-store-library"),
        PathBuf::from,
    );
    let library = Library::open(&url, &models, &files).await?;
    let name = format!("library {}", dir.display());
    let (store, failed) = library.index(&name, dir).await?;
    for why in failed {
        eprintln!("not ingested: {why}");
    }
    for hit in library.search(&store, query, 5).await? {
        println!("{}", hit_line(&hit));
    }
    Ok(())
}
