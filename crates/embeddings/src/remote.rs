//! What every client of a model served over HTTP shares: answers read up to a cap, the
//! provider's error message, and [`post_json`], one JSON request with a bearer key and a
//! timeout whose failure is a [`RemoteError`].

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;

/// The most bytes of a provider's error answer that are read.
const MAX_ERROR_BYTES: usize = 64 * 1024;

pub(crate) enum Capped {
    TooLarge(usize),
    Read(reqwest::Error),
}

/// The body of `res`, refused once it passes `cap` bytes (an error body is cut there instead).
pub(crate) async fn read_capped(mut res: reqwest::Response, cap: usize) -> Result<Vec<u8>, Capped> {
    if res.content_length().is_some_and(|n| n > cap as u64) && res.status().is_success() {
        return Err(Capped::TooLarge(cap));
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(Capped::Read)? {
        if body.len() + chunk.len() > cap {
            if !res.status().is_success() {
                body.extend_from_slice(&chunk[..cap - body.len()]);
                return Ok(body);
            }
            return Err(Capped::TooLarge(cap));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn provider_message(body: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(body).ok()?;
    v.pointer("/error/message")
        .or_else(|| v.get("error"))
        .and_then(|m| m.as_str())
        .map(str::to_string)
}

/// What an error answer says: the provider's message when it gives one (read up to
/// [`MAX_ERROR_BYTES`]), else the status.
pub(crate) async fn error_message(res: reqwest::Response) -> String {
    let status = res.status();
    let text = read_capped(res, MAX_ERROR_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    provider_message(&text).unwrap_or_else(|| status.to_string())
}

/// Why a model served over HTTP gave no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{url} did not answer within {secs} s")]
    Timeout { url: String, secs: f64 },
    #[error("{url} could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url} answered {status}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url} sent an answer this server cannot use: {message}")]
    Unusable { url: String, message: String },
}

impl RemoteError {
    /// A metric label: `timeout`, `unreachable`, `status` or `answer`.
    pub fn reason(&self) -> &'static str {
        match self {
            RemoteError::Timeout { .. } => "timeout",
            RemoteError::Unreachable { .. } => "unreachable",
            RemoteError::Refused { .. } => "status",
            RemoteError::Unusable { .. } => "answer",
        }
    }

    pub(crate) fn unusable(url: &str, message: impl Into<String>) -> Self {
        RemoteError::Unusable {
            url: url.to_string(),
            message: message.into(),
        }
    }
}

/// The most bytes of an answer a reranker or chat model may send.
pub(crate) const MAX_ANSWER_BYTES: usize = 16 << 20;

/// A client that gives up on a request after `timeout`.
pub(crate) fn client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .unwrap_or_default()
}

/// POSTs `body` to `url` (with `key` as a bearer token) and reads the answer as `T`; once, no
/// retries: what waits on it is a search.
pub(crate) async fn post_json<T: DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
    key: Option<&SecretString>,
    body: &serde_json::Value,
    timeout: Duration,
) -> Result<T, RemoteError> {
    // The request carries its own timeout (to the end of the answer's body), whatever the
    // client was built with.
    let mut req = client.post(url).timeout(timeout).json(body);
    if let Some(key) = key {
        req = req.bearer_auth(key.expose_secret());
    }
    let failed = |e: reqwest::Error| {
        if e.is_timeout() {
            RemoteError::Timeout {
                url: url.to_string(),
                secs: timeout.as_secs_f64(),
            }
        } else {
            RemoteError::Unreachable {
                url: url.to_string(),
                message: e.to_string(),
            }
        }
    };
    let res = req.send().await.map_err(failed)?;
    let status = res.status();
    if !status.is_success() {
        return Err(RemoteError::Refused {
            url: url.to_string(),
            status: status.as_u16(),
            message: error_message(res).await,
        });
    }
    let bytes = read_capped(res, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| match e {
            Capped::TooLarge(cap) => {
                RemoteError::unusable(url, format!("the answer is larger than {cap} bytes"))
            }
            Capped::Read(e) => failed(e),
        })?;
    serde_json::from_slice(&bytes).map_err(|e| RemoteError::unusable(url, e.to_string()))
}
