//! Configuration: embedded defaults → optional file → environment (`VECTOR_STORE__…`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use api_http::HttpSettings;
use config::{Config, Environment, File, FileFormat};
use embeddings::{ModelConfig, ProviderConfig};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use service::AuthMode;

mod remote;
pub use remote::{ChatModelSettings, RemoteAccess, RerankerSettings};

pub const DEFAULTS: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: HttpSettings,
    pub auth: AuthSettings,
    pub database: DatabaseSettings,
    pub storage: StorageSettings,
    /// The Elasticsearch options' place before they moved under `storage`: refused when set,
    /// so that a back-end configured there is not silently off.
    #[serde(default, rename = "elasticsearch")]
    pub moved_elasticsearch: Option<serde_json::Value>,
    pub search: SearchSettings,
    /// Rerankers by name; `search.reranker` picks the one searches use.
    #[serde(default)]
    pub rerankers: BTreeMap<String, RerankerSettings>,
    /// Chat models by name; `search.query_rewriter` picks the one that rewrites queries.
    #[serde(default)]
    pub chat_models: BTreeMap<String, ChatModelSettings>,
    pub files: FileSettings,
    /// The bounds of uploads in parts (`/v1/uploads`).
    pub uploads: service::UploadLimits,
    pub ingest: IngestSettings,
    pub embeddings: EmbeddingSettings,
    pub limits: service::Limits,
    /// What each tenant may keep.
    #[serde(default)]
    pub quotas: store_core::Quotas,
    /// `/mcp`, the MCP server.
    pub mcp: api_mcp::McpSettings,
    pub log: LogSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AuthSettings {
    pub mode: AuthMode,
    pub default_tenant: String,
    pub key_cache_ttl_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    #[serde(default)]
    pub url: Option<SecretString>,
    pub pool_size: usize,
    pub run_migrations: bool,
}

impl DatabaseSettings {
    /// The configured URL, or `DATABASE_URL`.
    pub fn url(&self) -> anyhow::Result<SecretString> {
        if let Some(url) = &self.url
            && !url.expose_secret().trim().is_empty()
        {
            return Ok(url.clone());
        }
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.trim().is_empty() => Ok(SecretString::from(url)),
            _ => bail!(
                "no database configured: set VECTOR_STORE__DATABASE__URL or DATABASE_URL (`make \
                 run` starts a local PostgreSQL with pgvector)"
            ),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct StorageSettings {
    pub default_backend: String,
    /// Options of the pgvector back-end, read by that back-end.
    #[serde(default)]
    pub pgvector: serde_json::Value,
    /// Options of the Elasticsearch back-end, read by that back-end.
    #[serde(default)]
    pub elasticsearch: serde_json::Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct IngestSettings {
    pub workers: usize,
    /// Jobs each worker claims and runs at once.
    pub jobs_per_claim: usize,
    pub lease_secs: i64,
    /// Claims of one job that may end without an answer (a crash or a stall) before it fails.
    pub max_attempts: u32,
    /// Passing faults a job is retried after (each waits twice as long, up to 5 minutes).
    pub max_retries: u32,
    /// Seconds between sweeps for expired files and vector stores.
    pub expiry_sweep_secs: u64,
    pub extract: ExtractSettings,
}

/// The text-extraction sandbox: the child process that runs third-party parsers.
#[derive(Debug, Clone, Deserialize)]
pub struct ExtractSettings {
    /// The program started as `PROGRAM extract …`; empty means this binary.
    #[serde(default)]
    pub program: Option<PathBuf>,
    #[serde(flatten)]
    pub limits: service::sandbox::SandboxLimits,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileSettings {
    /// Where file bytes, texts and upload parts are kept.
    #[serde(default)]
    pub backend: FilesBackend,
    /// The bucket of `backend = "s3"`.
    #[serde(default)]
    pub s3: service::blob::S3Settings,
    /// The directory of `backend = "local"`.
    pub dir: PathBuf,
    pub max_upload_bytes: u64,
    /// Uploads are refused (507) while the files disk has less free; 0 turns the check off.
    #[serde(default)]
    pub min_free_bytes: u64,
}

/// The `files.backend` names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FilesBackend {
    /// A directory on local disk (`files.dir`).
    #[default]
    Local,
    /// A bucket of an S3-speaking object store (`[files.s3]`).
    S3,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SearchSettings {
    /// How hybrid search fuses its two rankings.
    #[serde(default)]
    pub fusion: store_core::Fusion,
    pub hybrid_vector_weight: f32,
    pub hybrid_keyword_weight: f32,
    pub rrf_k: u32,
    /// The reranker of `ranker: "auto"`, a name under `rerankers`; empty: no reranking.
    #[serde(default)]
    pub reranker: String,
    /// How many of the best hits the reranker sees.
    #[serde(default = "rerank_depth")]
    pub rerank_depth: usize,
    /// The chat model of `rewrite_query: true`, a name under `chat_models`; empty: queries
    /// are searched as given.
    #[serde(default)]
    pub query_rewriter: String,
}

fn rerank_depth() -> usize {
    50
}

#[derive(Debug, Clone, Deserialize)]
pub struct EmbeddingSettings {
    pub default_model: String,
    pub models_dir: PathBuf,
    pub models: BTreeMap<String, ModelConfig>,
}

impl EmbeddingSettings {
    /// The model table with relative local paths resolved against `models_dir`.
    pub fn resolved_models(&self) -> BTreeMap<String, ModelConfig> {
        let mut models = self.models.clone();
        for model in models.values_mut() {
            if let ProviderConfig::Local { path, .. } | ProviderConfig::Static { path } =
                &mut model.provider
                && path.is_relative()
            {
                *path = self.models_dir.join(&*path);
            }
        }
        models
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    pub level: String,
}

impl Settings {
    /// Defaults, then `file` (or `VECTOR_STORE_CONFIG`) if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Settings> {
        let env_file = std::env::var_os("VECTOR_STORE_CONFIG").map(PathBuf::from);
        let file = file.map(Path::to_path_buf).or(env_file);
        Self::load_from(file.as_deref(), Environment::with_prefix("VECTOR_STORE"))
    }

    fn load_from(file: Option<&Path>, env: Environment) -> anyhow::Result<Settings> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = file {
            if !path.exists() {
                bail!("configuration file {} does not exist", path.display());
            }
            builder = builder.add_source(File::from(path).required(true));
        }
        let env = env.prefix_separator("__").separator("__").try_parsing(true);
        let settings: Settings = builder
            .add_source(env)
            .build()
            .context("could not read the configuration")?
            .try_deserialize()
            .context("invalid configuration")?;
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.files.backend == FilesBackend::S3 && self.files.s3.bucket.trim().is_empty() {
            bail!(
                "files.backend is \"s3\" but files.s3.bucket is empty \
                 (set it, e.g. VECTOR_STORE__FILES__S3__BUCKET)"
            );
        }
        if self.moved_elasticsearch.is_some() {
            bail!(
                "the Elasticsearch options moved from `elasticsearch.*` to \
                 `storage.elasticsearch.*` (environment: VECTOR_STORE__STORAGE__ELASTICSEARCH__…)"
            );
        }
        if self.server.body_limit_bytes == 0 {
            bail!("server.body_limit_bytes must be positive");
        }
        if self.database.pool_size == 0 {
            bail!("database.pool_size must be positive");
        }
        if !self
            .embeddings
            .models
            .contains_key(&self.embeddings.default_model)
        {
            bail!(
                "embeddings.default_model '{}' is not among the configured models ({})",
                self.embeddings.default_model,
                self.embeddings
                    .models
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        if self.search.rrf_k == 0
            || self.search.hybrid_vector_weight < 0.0
            || self.search.hybrid_keyword_weight < 0.0
            || self.search.hybrid_vector_weight + self.search.hybrid_keyword_weight <= 0.0
        {
            bail!("search: rrf_k must be positive and the hybrid weights non-negative, not both 0");
        }
        self.check_search_models()?;
        let max_text = store_core::limits::MAX_TEXT_BYTES;
        if self.limits.max_text_bytes == 0 || self.limits.max_text_bytes > max_text {
            bail!("limits.max_text_bytes must be between 1 and {max_text}");
        }
        let uploads = &self.uploads;
        if uploads.max_bytes == 0
            || uploads.max_part_bytes == 0
            || uploads.max_parts == 0
            || uploads.expiry_secs == 0
        {
            bail!("uploads: max_bytes, max_part_bytes, max_parts and expiry_secs must be positive");
        }
        if self.limits.max_query_bytes == 0 || self.limits.max_response_bytes == 0 {
            bail!("limits.max_query_bytes and limits.max_response_bytes must be positive");
        }
        api_http::check_auth_mode(self.auth.mode, &self.server.host).map_err(anyhow::Error::msg)
    }
}

impl Settings {
    /// The models `search` names exist, and every remote model has a URL and a timeout.
    fn check_search_models(&self) -> anyhow::Result<()> {
        let search = &self.search;
        if !search.reranker.is_empty() && !self.rerankers.contains_key(&search.reranker) {
            bail!(
                "search.reranker '{}' is not among the configured rerankers",
                search.reranker
            );
        }
        if !search.query_rewriter.is_empty()
            && !self.chat_models.contains_key(&search.query_rewriter)
        {
            bail!(
                "search.query_rewriter '{}' is not among the configured chat_models",
                search.query_rewriter
            );
        }
        let max_k = store_core::MAX_K;
        if !(1..=max_k).contains(&search.rerank_depth) {
            bail!("search.rerank_depth must be between 1 and {max_k}");
        }
        let remote = self
            .rerankers
            .iter()
            .map(|(n, r)| (format!("rerankers.{n}"), &r.url, r.access.timeout_secs))
            .chain(self.chat_models.iter().map(|(n, c)| {
                (
                    format!("chat_models.{n}"),
                    &c.base_url,
                    c.access.timeout_secs,
                )
            }));
        for (name, url, timeout) in remote {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                bail!("{name}: the URL must start with http:// or https://");
            }
            if !(timeout.is_finite() && timeout > 0.0 && timeout <= 600.0) {
                bail!("{name}.timeout_secs must be above 0 and at most 600");
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(vars: &[(&str, &str)]) -> Environment {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Environment::with_prefix("VECTOR_STORE").source(Some(map))
    }

    #[test]
    fn the_embedded_defaults_deserialize_and_validate() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.server.port, 8080);
        assert_eq!(s.server.host, "127.0.0.1");
        assert_eq!(s.auth.mode, AuthMode::Open);
        assert_eq!(s.storage.default_backend, "pgvector");
        assert_eq!(s.embeddings.models["all-minilm-l6-v2"].dimension, 384);
        let resolved = s.embeddings.resolved_models();
        match &resolved["all-minilm-l6-v2"].provider {
            ProviderConfig::Local { path, .. } => {
                assert_eq!(path, &PathBuf::from("models/all-minilm-l6-v2"));
            }
            other @ (ProviderConfig::Static { .. } | ProviderConfig::Openai { .. }) => {
                panic!("unexpected provider {other:?}")
            }
        }
    }

    /// A remote model's key and timeout read from the environment: a key of digits stays text,
    /// a number of whole seconds is a timeout, and the timeout has its default where none is
    /// given.
    #[test]
    fn remote_models_take_their_key_and_timeout_from_the_environment() {
        let s = Settings::load_from(
            None,
            env(&[
                ("VECTOR_STORE__RERANKERS__R__PROTOCOL", "tei"),
                (
                    "VECTOR_STORE__RERANKERS__R__URL",
                    "http://127.0.0.1:1/rerank",
                ),
                ("VECTOR_STORE__RERANKERS__R__API_KEY", "12345"),
                ("VECTOR_STORE__RERANKERS__R__TIMEOUT_SECS", "7"),
                (
                    "VECTOR_STORE__CHAT_MODELS__C__BASE_URL",
                    "http://127.0.0.1:1/v1",
                ),
                ("VECTOR_STORE__CHAT_MODELS__C__MODEL", "small"),
            ]),
        )
        .unwrap();
        let r = &s.rerankers["r"];
        assert_eq!(r.access.key().unwrap().expose_secret(), "12345");
        assert_eq!(r.access.timeout_secs, 7.0);
        let c = &s.chat_models["c"];
        assert!(c.access.key().is_none());
        assert_eq!(c.access.timeout_secs, 5.0);
    }

    /// What the crates used as libraries take by `Default` is what the embedded defaults say,
    /// so the server and a library user agree.
    #[test]
    fn the_library_defaults_are_the_embedded_defaults() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.limits, service::Limits::default());
        assert_eq!(s.quotas, store_core::Quotas::default());
        assert_eq!(s.uploads, service::UploadLimits::default());
        let pgvector: store_pgvector::PgVectorOptions =
            serde_json::from_value(s.storage.pgvector.clone()).unwrap();
        let pgvector_default = store_pgvector::PgVectorOptions::default();
        assert_eq!(format!("{pgvector:?}"), format!("{pgvector_default:?}"));
        #[cfg(feature = "elastic")]
        {
            let elastic: store_elastic::ElasticOptions =
                serde_json::from_value(s.storage.elasticsearch.clone()).unwrap();
            let elastic_default = store_elastic::ElasticOptions::default();
            assert_eq!(format!("{elastic:?}"), format!("{elastic_default:?}"));
        }
    }

    #[test]
    fn the_embedded_defaults_rate_limit_fifty_a_second_in_bursts_of_a_hundred() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        let server = &s.server;
        assert_eq!(
            (server.rate_limit_per_second, server.rate_limit_burst),
            (50, 100)
        );
    }

    #[test]
    fn the_environment_overrides_the_defaults() {
        let s = Settings::load_from(
            None,
            env(&[
                ("VECTOR_STORE__SERVER__PORT", "9001"),
                ("VECTOR_STORE__AUTH__MODE", "keys"),
                ("VECTOR_STORE__DATABASE__URL", "postgres://x@localhost/db"),
            ]),
        )
        .unwrap();
        assert_eq!(s.server.port, 9001);
        assert_eq!(s.auth.mode, AuthMode::Keys);
        assert_eq!(
            s.database.url().unwrap().expose_secret(),
            "postgres://x@localhost/db"
        );
    }

    #[test]
    fn each_back_end_s_options_sit_under_storage() {
        let s = Settings::load_from(
            None,
            env(&[
                (
                    "VECTOR_STORE__STORAGE__ELASTICSEARCH__URL",
                    "http://es:9200",
                ),
                ("VECTOR_STORE__STORAGE__PGVECTOR__EF_SEARCH", "40"),
            ]),
        )
        .unwrap();
        assert_eq!(s.storage.elasticsearch["url"], "http://es:9200");
        assert_eq!(s.storage.elasticsearch["index_prefix"], "vectorstore_");
        assert_eq!(s.storage.pgvector["ef_search"], 40);
        let e = Settings::load_from(
            None,
            env(&[("VECTOR_STORE__ELASTICSEARCH__URL", "http://es:9200")]),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("storage.elasticsearch"), "{e:#}");
    }

    #[test]
    fn a_file_sits_between_defaults_and_environment() {
        let dir = std::env::temp_dir().join(format!("vs-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[server]\nport = 7000\nworkers = 3\n").unwrap();
        let s = Settings::load_from(Some(&file), env(&[("VECTOR_STORE__SERVER__WORKERS", "5")]))
            .unwrap();
        assert_eq!((s.server.port, s.server.workers), (7000, 5));
        std::fs::remove_dir_all(dir).ok();
    }

    #[test]
    fn open_auth_on_a_public_address_is_a_configuration_error() {
        let e = Settings::load_from(None, env(&[("VECTOR_STORE__SERVER__HOST", "0.0.0.0")]))
            .unwrap_err();
        assert!(format!("{e:#}").contains("loopback"), "{e:#}");
    }

    #[test]
    fn bad_values_give_one_clear_error() {
        let e = Settings::load_from(None, env(&[("VECTOR_STORE__SERVER__PORT", "eighty")]))
            .unwrap_err();
        assert!(format!("{e:#}").contains("port"), "{e:#}");
        let e =
            Settings::load_from(None, env(&[("VECTOR_STORE__AUTH__MODE", "maybe")])).unwrap_err();
        assert!(format!("{e:#}").contains("maybe"), "{e:#}");
        let e = Settings::load_from(
            None,
            env(&[("VECTOR_STORE__EMBEDDINGS__DEFAULT_MODEL", "nope")]),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("nope"), "{e:#}");
        assert!(Settings::load_from(Some(Path::new("/no/such/file.toml")), env(&[])).is_err());
    }

    #[test]
    fn files_in_s3_are_configured_from_the_environment_and_need_a_bucket() {
        let s = Settings::load_from(None, env(&[])).unwrap();
        assert_eq!(s.files.backend, FilesBackend::Local);
        let s = Settings::load_from(
            None,
            env(&[
                ("VECTOR_STORE__FILES__BACKEND", "s3"),
                ("VECTOR_STORE__FILES__S3__BUCKET", "docs"),
                ("VECTOR_STORE__FILES__S3__ENDPOINT", "http://127.0.0.1:9000"),
                ("VECTOR_STORE__FILES__S3__SECRET_ACCESS_KEY", "hunter2"),
                ("VECTOR_STORE__FILES__S3__ALLOW_HTTP", "true"),
            ]),
        )
        .unwrap();
        assert_eq!(s.files.backend, FilesBackend::S3);
        assert_eq!(s.files.s3.bucket, "docs");
        assert_eq!(s.files.s3.region, "us-east-1");
        assert!(s.files.s3.allow_http);
        assert_eq!(s.files.s3.secret_access_key.expose_secret(), "hunter2");
        assert!(!format!("{s:?}").contains("hunter2"));
        let e =
            Settings::load_from(None, env(&[("VECTOR_STORE__FILES__BACKEND", "s3")])).unwrap_err();
        assert!(
            format!("{e:#}").contains("files.s3.bucket is empty"),
            "{e:#}"
        );
    }
}
