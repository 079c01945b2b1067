//! The models a server reaches over HTTP (rerankers, chat models), and how it reaches them.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

fn remote_timeout_secs() -> f64 {
    5.0
}

/// How a model served over HTTP is reached, whatever it serves: its key and how long a call
/// may take.
#[derive(Debug, Clone, Deserialize)]
pub struct RemoteAccess {
    #[serde(default, deserialize_with = "key_text")]
    pub api_key: Option<SecretString>,
    #[serde(default = "remote_timeout_secs")]
    pub timeout_secs: f64,
}

/// A key as the text it was given: the environment's values are parsed (a key of digits becomes
/// a number), and a flattened field is handed over as that number.
fn key_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Text {
        Str(String),
        Signed(i64),
        Unsigned(u64),
        Float(f64),
        Bool(bool),
    }
    Ok(Option::<Text>::deserialize(d)?.map(|t| {
        SecretString::from(match t {
            Text::Str(s) => s,
            Text::Signed(n) => n.to_string(),
            Text::Unsigned(n) => n.to_string(),
            Text::Float(n) => n.to_string(),
            Text::Bool(b) => b.to_string(),
        })
    }))
}

impl RemoteAccess {
    /// The key, unless it is unset or blank.
    pub fn key(&self) -> Option<SecretString> {
        self.api_key
            .clone()
            .filter(|k| !k.expose_secret().trim().is_empty())
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_secs_f64(self.timeout_secs)
    }
}

/// A reranker served over HTTP.
#[derive(Debug, Clone, Deserialize)]
pub struct RerankerSettings {
    pub protocol: embeddings::RerankProtocol,
    /// The whole endpoint, e.g. `http://host/v1/rerank`.
    pub url: String,
    #[serde(default)]
    pub model: String,
    #[serde(flatten)]
    pub access: RemoteAccess,
}

/// An OpenAI-compatible chat model served over HTTP.
#[derive(Debug, Clone, Deserialize)]
pub struct ChatModelSettings {
    /// E.g. `http://host/v1`.
    pub base_url: String,
    pub model: String,
    #[serde(flatten)]
    pub access: RemoteAccess,
}
