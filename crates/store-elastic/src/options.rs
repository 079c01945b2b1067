//! Connection and index settings, read from the `elasticsearch` section of the configuration.

use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::auth::Credentials;
use elasticsearch::cert::CertificateValidation;
use elasticsearch::http::transport::{
    MultiNodeConnectionPool, SingleNodeConnectionPool, TransportBuilder,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
use store_core::{Field, StoreError, StoreResult};

/// Where these options sit in the server's configuration.
const SETTINGS: &str = "storage.elasticsearch";

fn url_setting() -> Field {
    Field::Setting(format!("{SETTINGS}.url"))
}
use url::Url;

/// Everything about the cluster and the indices this back-end makes. Every field has a default;
/// the back-end is available when `url` is not empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticOptions {
    /// One node's URL, or several separated by commas (requests go round robin).
    #[serde(deserialize_with = "string_like")]
    pub url: String,
    #[serde(deserialize_with = "optional_string_like")]
    pub username: Option<String>,
    #[serde(deserialize_with = "optional_secret")]
    pub password: Option<SecretString>,
    /// An API key as Elasticsearch hands it out (base64 of `id:key`).
    #[serde(deserialize_with = "optional_secret")]
    pub api_key: Option<SecretString>,
    /// Skip TLS certificate verification (self-signed development clusters only).
    pub insecure: bool,
    /// Per-request timeout.
    pub timeout_secs: u64,
    /// Tries after the first for requests that failed for passing reasons (a node down, 429,
    /// 502/503/504), with exponential back-off from 100 ms.
    pub retries: u32,
    /// Prepended to the collection name to name its index.
    pub index_prefix: String,
    pub shards: u32,
    pub replicas: u32,
    /// Candidates each shard considers in a `knn` search (at least 1.5 × k are always asked).
    pub num_candidates: usize,
    pub hnsw_m: u32,
    pub hnsw_ef_construction: u32,
    /// The analyzer of the `text` field (`english` stems like pgvector's default).
    pub analyzer: String,
    /// Chunks per `_bulk` request.
    pub bulk_batch_size: usize,
    /// Bytes per `_bulk` request at most (a batch is cut short before it would pass them);
    /// keep it well under the cluster's `http.max_content_length` (100 MB by default).
    pub bulk_max_bytes: usize,
    /// How long a delete or attribute update (a `_delete_by_query` / `_update_by_query` task)
    /// is waited for before the call gives up on it (it is left running).
    pub task_timeout_secs: u64,
    /// The index's `index.mapping.total_fields.limit`: each distinct attribute key and type
    /// takes one field.
    pub total_fields_limit: u32,
}

impl Default for ElasticOptions {
    fn default() -> Self {
        Self {
            url: String::new(),
            username: None,
            password: None,
            api_key: None,
            insecure: false,
            timeout_secs: 30,
            retries: 3,
            index_prefix: "vectorstore_".into(),
            shards: 1,
            replicas: 1,
            num_candidates: 100,
            hnsw_m: 16,
            hnsw_ef_construction: 100,
            analyzer: "english".into(),
            bulk_batch_size: 500,
            bulk_max_bytes: 10 * 1024 * 1024,
            task_timeout_secs: 600,
            total_fields_limit: 10_000,
        }
    }
}

impl ElasticOptions {
    /// True when a cluster is configured.
    pub fn is_configured(&self) -> bool {
        !self.url.trim().is_empty()
    }

    /// The node URLs, parsed.
    pub fn urls(&self) -> StoreResult<Vec<Url>> {
        let urls: Vec<Url> = self
            .url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                Url::parse(u).map_err(|e| {
                    StoreError::invalid_field(url_setting(), format!("bad URL '{u}': {e}"))
                })
            })
            .collect::<Result<_, _>>()?;
        if urls.is_empty() {
            return Err(StoreError::invalid_field(
                url_setting(),
                "no Elasticsearch URL is configured",
            ));
        }
        Ok(urls)
    }

    fn check(&self) -> StoreResult<()> {
        let bad = |param: &str, message: &str| {
            Err(StoreError::invalid_field(
                Field::Setting(format!("{SETTINGS}.{param}")),
                message.to_string(),
            ))
        };
        if self.index_prefix.is_empty()
            || !self
                .index_prefix
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c))
            || self.index_prefix.starts_with(['_', '-'])
        {
            return bad(
                "index_prefix",
                "must be lowercase ASCII letters, digits, '_' or '-', not starting with '_' or '-'",
            );
        }
        if self.bulk_max_bytes == 0 {
            return bad("bulk_max_bytes", "must be positive");
        }
        if self.bulk_batch_size == 0 || self.num_candidates == 0 || self.shards == 0 {
            return bad(
                "bulk_batch_size",
                "bulk_batch_size, num_candidates and shards must be positive",
            );
        }
        if self.password.is_some() && self.username.is_none() {
            return bad("password", "a password needs a username");
        }
        if self.api_key.is_some() && self.username.is_some() {
            return bad(
                "api_key",
                "give either username/password or api_key, not both",
            );
        }
        Ok(())
    }

    /// The client for these options. Nothing is sent: an unreachable cluster is found by the
    /// first request (and by `ping`).
    pub fn client(&self) -> StoreResult<Elasticsearch> {
        self.check()?;
        let mut urls = self.urls()?;
        let builder = if urls.len() == 1 {
            TransportBuilder::new(SingleNodeConnectionPool::new(urls.remove(0)))
        } else {
            TransportBuilder::new(MultiNodeConnectionPool::round_robin(urls, None))
        };
        let mut builder = builder
            .timeout(Duration::from_secs(self.timeout_secs.max(1)))
            .disable_proxy();
        if let Some(user) = &self.username {
            let password = self
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_string())
                .unwrap_or_default();
            builder = builder.auth(Credentials::Basic(user.clone(), password));
        }
        if let Some(key) = &self.api_key {
            builder = builder.auth(Credentials::EncodedApiKey(key.expose_secret().to_string()));
        }
        if self.insecure {
            builder = builder.cert_validation(CertificateValidation::None);
        }
        let transport = builder.build().map_err(|e| {
            StoreError::invalid_field(url_setting(), format!("bad client settings: {e}"))
        })?;
        Ok(Elasticsearch::new(transport))
    }
}

/// Environment values arrive parsed (`try_parsing`): a password of digits is a number by then.
#[derive(Deserialize)]
#[serde(untagged)]
enum StringLike {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
}

impl From<StringLike> for String {
    fn from(v: StringLike) -> Self {
        match v {
            StringLike::String(s) => s,
            StringLike::Integer(n) => n.to_string(),
            StringLike::Float(n) => n.to_string(),
            StringLike::Bool(b) => b.to_string(),
        }
    }
}

fn string_like<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    StringLike::deserialize(d).map(String::from)
}

/// Empty means unset, so `VAR=` in an environment file clears a credential.
fn optional_string_like<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Option::<StringLike>::deserialize(d)?
        .map(String::from)
        .filter(|s| !s.is_empty()))
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    Ok(optional_string_like(d)?.map(SecretString::from))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_defaults_deserialize_from_nothing_and_leave_the_back_end_unconfigured() {
        let o: ElasticOptions = serde_json::from_value(json!({})).unwrap();
        assert!(!o.is_configured());
        assert_eq!(o.index_prefix, "vectorstore_");
        assert_eq!((o.num_candidates, o.bulk_batch_size), (100, 500));
        assert!(serde_json::from_value::<ElasticOptions>(json!({"urls": "x"})).is_err());
    }

    #[test]
    fn several_comma_separated_urls_are_several_nodes() {
        let o: ElasticOptions =
            serde_json::from_value(json!({"url": "http://a:9200, https://b:9201,"})).unwrap();
        let urls = o.urls().unwrap();
        assert_eq!(urls.len(), 2);
        assert_eq!(urls[1].as_str(), "https://b:9201/");
        assert!(o.client().is_ok());
        let bad: ElasticOptions = serde_json::from_value(json!({"url": "not a url"})).unwrap();
        assert!(bad.client().is_err());
    }

    #[test]
    fn numeric_looking_secrets_and_empty_credentials_are_read_as_strings_and_unset() {
        let o: ElasticOptions = serde_json::from_value(json!({
            "url": "http://a:9200",
            "username": "elastic",
            "password": 123456,
            "api_key": ""
        }))
        .unwrap();
        assert_eq!(o.password.as_ref().unwrap().expose_secret(), "123456");
        assert!(o.api_key.is_none());
        assert!(
            !format!("{o:?}").contains("123456"),
            "secrets are not printed"
        );
    }

    #[test]
    fn conflicting_or_malformed_settings_are_refused() {
        let parse = |v| serde_json::from_value::<ElasticOptions>(v).unwrap();
        for o in [
            parse(json!({"url": "http://a", "password": "p"})),
            parse(json!({"url": "http://a", "username": "u", "api_key": "k"})),
            parse(json!({"url": "http://a", "index_prefix": "Upper"})),
            parse(json!({"url": "http://a", "index_prefix": "_x"})),
            parse(json!({"url": "http://a", "bulk_batch_size": 0})),
        ] {
            assert!(o.client().is_err(), "{o:?}");
        }
    }
}
