//! A client of any OpenAI-compatible `POST {base_url}/embeddings` endpoint (OpenAI, vLLM, TEI,
//! Ollama): batches (four at once), a timeout per request, retries with exponential backoff on
//! 429, 5xx and connection failures (honouring `Retry-After`), a deadline for a whole call,
//! token limits checked with `cl100k_base` before anything is sent. The API key is sent as a
//! bearer token and never logged.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use reqwest::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::Embedder;
use crate::error::EmbedError;
use crate::remote::{Capped, error_message, read_capped};

/// Batches of one call sent at once (in order, each with its own retries): a large call takes
/// a quarter of the time, and a provider's rate limit sees a bounded burst.
const CONCURRENT_BATCHES: usize = 4;

#[derive(Debug, Clone)]
pub struct OpenAiOptions {
    /// The registered name.
    pub name: String,
    /// The model name sent to the API.
    pub remote_model: String,
    pub base_url: String,
    pub api_key: Option<SecretString>,
    pub dimension: usize,
    pub max_input_tokens: usize,
    pub batch_size: usize,
    pub timeout: Duration,
    pub max_retries: u32,
    /// The longest wait between two tries.
    pub max_backoff: Duration,
}

#[derive(Debug, Clone)]
pub struct OpenAiEmbedder {
    options: Arc<OpenAiOptions>,
    client: reqwest::Client,
    url: String,
}

#[derive(Deserialize)]
struct EmbeddingResponse {
    data: Vec<EmbeddingItem>,
}

#[derive(Deserialize)]
struct EmbeddingItem {
    index: usize,
    embedding: Vec<f32>,
}

enum Attempt {
    Done(EmbeddingResponse),
    Retry(Failure),
    Fatal(EmbedError),
}

struct Failure {
    message: String,
    retry_after: Option<Duration>,
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Failure {
    fn from_error(what: &str, e: reqwest::Error) -> Self {
        Self {
            message: format!("{what}: {e}"),
            retry_after: None,
            source: Some(Box::new(e)),
        }
    }
}

fn cl100k() -> Option<&'static tiktoken_rs::CoreBPE> {
    static BPE: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::cl100k_base().ok()).as_ref()
}

/// The text of `tokens` of OpenAI's `cl100k_base` encoding; `None` when one is not a token of
/// it. Tokens that end inside a character (an array cut short, as clients do) give the
/// replacement character there, as OpenAI takes them.
pub fn decode_tokens(tokens: &[u32]) -> Option<String> {
    let bytes = cl100k()?.decode_bytes(tokens).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// Tokens of `text` in OpenAI's `cl100k_base` encoding.
pub fn count_tokens(text: &str) -> usize {
    match cl100k() {
        Some(bpe) => bpe.encode_with_special_tokens(text).len(),
        // Never undercount: a byte is at most one token.
        None => text.len(),
    }
}

impl OpenAiEmbedder {
    pub fn new(options: OpenAiOptions) -> Result<Self, EmbedError> {
        let client = reqwest::Client::builder()
            .timeout(options.timeout)
            .build()
            .map_err(|e| EmbedError::internal("could not build the HTTP client", e))?;
        let url = format!("{}/embeddings", options.base_url.trim_end_matches('/'));
        Ok(Self {
            options: Arc::new(OpenAiOptions {
                batch_size: options.batch_size.max(1),
                ..options
            }),
            client,
            url,
        })
    }

    async fn embed_batch(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::json!({
            "model": self.options.remote_model,
            "input": texts,
            "encoding_format": "float",
        });
        let mut attempt = 0u32;
        loop {
            let failure = match self.try_once(&body).await {
                Attempt::Done(parsed) => return self.order(parsed, texts.len()),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry(failure) => failure,
            };
            if attempt >= self.options.max_retries {
                return Err(EmbedError::Unavailable {
                    message: format!(
                        "{} after {} tries: {}",
                        self.url,
                        attempt + 1,
                        failure.message
                    ),
                    source: failure.source,
                });
            }
            let backoff = Duration::from_millis(200u64.saturating_mul(1 << attempt.min(10)));
            let wait = failure
                .retry_after
                .unwrap_or(backoff)
                .min(self.options.max_backoff);
            tracing::warn!(
                url = %self.url,
                attempt = attempt + 1,
                wait_ms = wait.as_millis() as u64,
                failure = %failure.message,
                "retrying the embedding request"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    /// One request: the answer's body on success, or whether the failure is worth another try.
    async fn try_once(&self, body: &serde_json::Value) -> Attempt {
        let mut req = self.client.post(&self.url).json(body);
        if let Some(key) = &self.options.api_key {
            req = req.bearer_auth(key.expose_secret());
        }
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) if e.is_connect() || e.is_timeout() || e.is_request() => {
                return Attempt::Retry(Failure::from_error("request failed", e));
            }
            Err(e) => {
                return Attempt::Fatal(EmbedError::internal(
                    "could not send the embedding request",
                    e,
                ));
            }
        };
        let status = res.status();
        if status.is_success() {
            return match read_capped(res, self.max_answer_bytes(body)).await {
                Err(Capped::TooLarge(cap)) => Attempt::Fatal(EmbedError::Unavailable {
                    message: format!("the embedding provider's answer is larger than {cap} bytes"),
                    source: None,
                }),
                Err(Capped::Read(e)) => {
                    Attempt::Retry(Failure::from_error("reading the answer failed", e))
                }
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(parsed) => Attempt::Done(parsed),
                    Err(e) => Attempt::Fatal(EmbedError::Unavailable {
                        message: "the embedding provider sent an unreadable answer".into(),
                        source: Some(Box::new(e)),
                    }),
                },
            };
        }
        let retry_after = res
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(|s| Duration::from_secs_f64(s.min(86_400.0)));
        let message = error_message(res).await;
        if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
            Attempt::Retry(Failure {
                message: format!("{status}: {message}"),
                retry_after,
                source: None,
            })
        } else if matches!(
            status,
            StatusCode::BAD_REQUEST
                | StatusCode::PAYLOAD_TOO_LARGE
                | StatusCode::UNPROCESSABLE_ENTITY
        ) {
            // The texts themselves: the caller's to change.
            Attempt::Fatal(EmbedError::InvalidInput(format!(
                "the embedding provider refused the request ({status}): {message}"
            )))
        } else {
            // A key refused, a model or URL unknown: the server's configuration, not the
            // caller's input. Unavailable until it is mended (files are tried again).
            Attempt::Fatal(EmbedError::Unavailable {
                message: format!(
                    "the embedding provider refused this server's request ({status}): {message}"
                ),
                source: None,
            })
        }
    }

    /// The longest one call may take: each try of a request its timeout, and the longest wait
    /// between tries.
    fn deadline(&self) -> Duration {
        let o = &self.options;
        (o.timeout.saturating_mul(o.max_retries.saturating_add(1)))
            .saturating_add(o.max_backoff.saturating_mul(o.max_retries))
    }

    /// The most bytes an answer to `body` may take: its vectors written out at length, and
    /// room for the rest.
    fn max_answer_bytes(&self, body: &serde_json::Value) -> usize {
        let texts = body["input"].as_array().map_or(1, Vec::len);
        texts
            .saturating_mul(self.options.dimension.saturating_add(8))
            .saturating_mul(32)
            .saturating_add(1 << 20)
    }

    fn order(
        &self,
        parsed: EmbeddingResponse,
        expected: usize,
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; expected];
        for item in parsed.data {
            if item.embedding.len() != self.options.dimension {
                return Err(EmbedError::internal_msg(format!(
                    "model '{}' returned a {}-dimensional vector, but is configured with \
                     dimension {}",
                    self.options.name,
                    item.embedding.len(),
                    self.options.dimension
                )));
            }
            if item.embedding.iter().any(|x| !x.is_finite()) {
                // A number past f32's range (1e39) reads as infinite: no vector to store.
                return Err(EmbedError::Unavailable {
                    message: format!(
                        "model '{}' returned a vector with a number that is not finite",
                        self.options.name
                    ),
                    source: None,
                });
            }
            match slots.get_mut(item.index) {
                Some(slot) => *slot = Some(item.embedding),
                None => {
                    return Err(EmbedError::Unavailable {
                        message: format!(
                            "the embedding provider answered with index {} for {expected} inputs",
                            item.index
                        ),
                        source: None,
                    });
                }
            }
        }
        slots
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| EmbedError::Unavailable {
                message: "the embedding provider left inputs out".into(),
                source: None,
            })
    }
}

#[async_trait]
impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.options.name
    }

    fn dimension(&self) -> usize {
        self.options.dimension
    }

    fn max_input_tokens(&self) -> usize {
        self.options.max_input_tokens
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        // Counting tokens takes time in proportion to the text: off the request threads.
        let (owned, max) = (texts.to_vec(), self.options.max_input_tokens);
        crate::blocking("tokenizer", move || {
            for (index, text) in owned.iter().enumerate() {
                let tokens = count_tokens(text);
                if tokens > max {
                    return Err(EmbedError::InputTooLong { index, tokens, max });
                }
            }
            Ok(())
        })
        .await?;
        // However many batches, a call takes no longer than one batch may at worst: what
        // waits on it holds a request's turn, or an ingestion job's.
        let deadline = self.deadline();
        let calls: Vec<_> = (texts.chunks(self.options.batch_size))
            .map(|batch| self.embed_batch(batch))
            .collect();
        let batches = futures::stream::iter(calls)
            .buffered(CONCURRENT_BATCHES)
            .try_concat();
        tokio::time::timeout(deadline, batches)
            .await
            .map_err(|_| EmbedError::Unavailable {
                message: format!(
                    "the embedding provider did not embed the {} texts within {:.1} s (one \
                     request's timeout and retries)",
                    texts.len(),
                    deadline.as_secs_f64()
                ),
                source: None,
            })?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_cut_inside_a_character_decode_with_a_replacement() {
        let bpe = cl100k().unwrap();
        let whole = bpe.encode_ordinary("ok 𓀀");
        assert_eq!(decode_tokens(&whole).as_deref(), Some("ok 𓀀"));
        // The hieroglyph's last byte left out, as a client cutting an array short does.
        let cut = &whole[..whole.len() - 1];
        let text = decode_tokens(cut).unwrap();
        assert!(
            text.starts_with("ok ") && text.ends_with('\u{FFFD}'),
            "{text:?}"
        );
        // A number that is no token of the encoding is refused.
        assert_eq!(decode_tokens(&[u32::MAX]), None);
    }
}
