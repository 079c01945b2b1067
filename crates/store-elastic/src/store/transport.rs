//! How the store talks to the cluster: one request, its retries with back-off, and its answer.

use std::time::Duration;

use elasticsearch::http::Method;
use elasticsearch::http::headers::HeaderMap;
use elasticsearch::http::request::{JsonBody, NdBody};
use serde_json::Value;

use super::ElasticStore;
use crate::error::ElasticError;

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
            match self.send_once(req).await {
                Err(e) if e.is_transient() && attempt < self.options.retries => {
                    let path = req.path;
                    tracing::debug!(error = %e, attempt, path, "retrying an Elasticsearch request");
                    tokio::time::sleep(backoff(attempt)).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(&self, req: Request<'_>) -> Result<Reply, ElasticError> {
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
        let bytes = response.bytes().await?;
        let body: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| ElasticError::Decode(e.to_string()))?
        };
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            Err(ElasticError::response(status, &body))
        }
    }
}

/// How long to wait before retry `attempt` (from 0): 100 ms, doubling, at most 6.4 s.
pub(super) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(100u64 << attempt.min(6))
}
