//! How the store talks to the cluster: one request, its retries with back-off, and its answer.

use std::time::Duration;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::{JsonBody, NdBody};
use serde_json::Value;

use super::ElasticStore;
use crate::error::ElasticError;

/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// The first wait after an overload answer (429, a full queue): it doubles on each try.
const OVERLOAD_BACKOFF: Duration = Duration::from_secs(1);

/// How much of a body that is not JSON an error keeps.
const EXCERPT_CHARS: usize = 200;

/// What a request carries.
#[derive(Clone, Copy)]
pub(super) enum Payload<'a> {
    Empty,
    Json(&'a Value),
    Lines(&'a [Value]),
}

/// One request to the cluster.
#[derive(Clone, Copy)]
pub(super) struct Request<'a> {
    pub(super) method: Method,
    pub(super) path: &'a str,
    pub(super) params: &'a [(&'a str, &'a str)],
    pub(super) payload: Payload<'a>,
    pub(super) headers: &'a HeaderMap,
}

/// A 2xx answer's body (`Null` when it had none).
pub(super) type Reply = Value;

/// An answer of any status, its body read.
#[derive(Debug)]
pub(super) struct Answer {
    pub(super) status: u16,
    /// The body when it is JSON (`Null` when empty).
    pub(super) body: Option<Value>,
    /// The start of a body that is not JSON.
    pub(super) excerpt: String,
    pub(super) retry_after: Option<Duration>,
}

impl Answer {
    pub(super) fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body of a 2xx answer, or the error an other status is.
    pub(super) fn into_result(self) -> Result<Reply, ElasticError> {
        match self.body {
            Some(body) if self.is_success() => Ok(body),
            None if self.is_success() => Err(ElasticError::Decode(format!(
                "a {} answer that is not JSON: {:?}",
                self.status, self.excerpt
            ))),
            Some(body) if body.is_object() => {
                Err(ElasticError::response(self.status, &body).with_retry_after(self.retry_after))
            }
            Some(_) | None => Err(ElasticError::Status {
                status: self.status,
                excerpt: self.excerpt,
                retry_after: self.retry_after,
            }),
        }
    }
}

impl ElasticStore {
    /// Sends one request, retrying passing failures with back-off; an error status is an error.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
        payload: Payload<'_>,
    ) -> Result<Reply, ElasticError> {
        self.send_with(Request {
            method,
            path,
            params,
            payload,
            headers: &HeaderMap::new(),
        })
        .await
    }

    /// Sends `req`, retrying passing failures with back-off; an error status is an error.
    pub(super) async fn send_with(&self, req: Request<'_>) -> Result<Reply, ElasticError> {
        let mut attempt = 0u32;
        loop {
            match self.exchange(req).await.and_then(Answer::into_result) {
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    let path = req.path;
                    tracing::debug!(error = %e, attempt, path, "retrying an Elasticsearch request");
                    tokio::time::sleep(retry_delay(&e, attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Sends `req` once; any answer is `Ok`, only a request without one is an error.
    pub(super) async fn exchange(&self, req: Request<'_>) -> Result<Answer, ElasticError> {
        let Request {
            method,
            path,
            params,
            payload,
            headers,
        } = req;
        let query = Some(params);
        let response = match payload {
            Payload::Empty => {
                self.client
                    .send::<&[u8], _>(method, path, headers.clone(), query, None, None)
                    .await?
            }
            Payload::Json(body) => {
                self.client
                    .send(
                        method,
                        path,
                        headers.clone(),
                        query,
                        Some(JsonBody::new(body)),
                        None,
                    )
                    .await?
            }
            Payload::Lines(lines) => {
                let body = NdBody::new(lines.iter().map(JsonBody::new).collect());
                self.client
                    .send(method, path, headers.clone(), query, Some(body), None)
                    .await?
            }
        };
        let status = response.status_code().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await?;
        let (body, excerpt) = if bytes.is_empty() {
            (Some(Value::Null), String::new())
        } else {
            match serde_json::from_slice::<Value>(&bytes) {
                Ok(v) => (Some(v), String::new()),
                Err(_) => (None, excerpt(&bytes)),
            }
        };
        // An empty error answer (Elasticsearch's own 413) is not JSON either.
        let body = body.filter(|b| !b.is_null() || (200..300).contains(&status));
        Ok(Answer {
            status,
            body,
            excerpt,
            retry_after,
        })
    }
}

/// The start of a body that is not JSON, its white space squeezed, for an error message.
fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4 * EXCERPT_CHARS)]);
    let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    squeezed.chars().take(EXCERPT_CHARS).collect()
}

/// How long to wait before retry `attempt` (from 0): 100 ms, doubling, at most 6.4 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6))
}

/// How long to wait before retry `attempt` after `e`: what its `Retry-After` asks (at most
/// 30 s); after an overload 1 s doubling (a few seconds over the default three retries), else
/// [`backoff`]; both jittered down by up to half, so that callers refused together do not
/// come back together.
pub(super) fn retry_delay(e: &ElasticError, attempt: u32) -> Duration {
    if let Some(after) = e.retry_after() {
        return after.min(MAX_RETRY_AFTER);
    }
    if e.is_overload() {
        overload_backoff(attempt)
    } else {
        jittered(backoff(attempt))
    }
}

/// The wait before retry `attempt` after an overload: 1 s doubling up to 16 s, jittered.
pub(super) fn overload_backoff(attempt: u32) -> Duration {
    jittered(OVERLOAD_BACKOFF * (1u32 << attempt.min(4)))
}

/// Between half of `full` and `full`.
fn jittered(full: Duration) -> Duration {
    let half = full / 2;
    let spread = u64::try_from(half.as_millis()).unwrap_or(u64::MAX).max(1);
    let random = (uuid::Uuid::new_v4().as_u128() as u64) % spread;
    half + Duration::from_millis(random)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: Option<Value>, excerpt: &str) -> Answer {
        Answer {
            status,
            body,
            excerpt: excerpt.into(),
            retry_after: None,
        }
    }

    #[test]
    fn an_overload_waits_seconds_and_a_retry_after_is_honoured() {
        let busy = ElasticError::response(
            429,
            &serde_json::json!({"error": {"type": "es_rejected_execution_exception",
                "reason": "rejected execution of coordinating operation"}, "status": 429}),
        );
        let total: Duration = (0..3).map(|a| retry_delay(&busy, a)).sum();
        assert!(total >= Duration::from_millis(3_500), "{total:?}");
        for a in 0..6 {
            let d = retry_delay(&busy, a);
            let full = OVERLOAD_BACKOFF * (1 << a.min(4));
            assert!(d >= full / 2 && d <= full, "{a}: {d:?}");
        }
        let asked = busy.with_retry_after(Some(Duration::from_secs(7)));
        assert_eq!(retry_delay(&asked, 0), Duration::from_secs(7));
        let greedy = ElasticError::Status {
            status: 503,
            excerpt: String::new(),
            retry_after: Some(Duration::from_secs(3_600)),
        };
        assert_eq!(retry_delay(&greedy, 0), MAX_RETRY_AFTER);
    }

    #[test]
    fn an_answer_that_is_not_json_keeps_its_status_and_a_short_excerpt() {
        let page = format!(
            "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>{}</body></html>",
            "x".repeat(5_000)
        );
        let e = answer(502, None, &excerpt(page.as_bytes()))
            .into_result()
            .unwrap_err();
        assert!(e.is_transient(), "{e}");
        assert!(e.to_string().contains("502 Bad Gateway"), "{e}");
        assert!(e.to_string().len() < 400, "{e}");
        let e = answer(413, None, "").into_result().unwrap_err();
        assert!(matches!(e, ElasticError::Status { status: 413, .. }), "{e}");
        let e = answer(200, None, "<html>").into_result().unwrap_err();
        assert!(matches!(e, ElasticError::Decode(_)), "{e}");
        assert_eq!(
            answer(200, Some(Value::Null), "").into_result().unwrap(),
            Value::Null
        );
    }
}
