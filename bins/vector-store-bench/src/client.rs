//! The service's HTTP API as the benchmark uses it: `/v2` collections, upserts and searches, and
//! the OpenAI vector-store search. Request bodies are serialised once, before the clock starts.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct Hits {
    data: Vec<Hit>,
}

#[derive(Deserialize)]
struct Hit {
    id: String,
}

#[derive(Deserialize)]
struct OpenAiHits {
    data: Vec<OpenAiHit>,
}

#[derive(Deserialize)]
struct OpenAiHit {
    file_id: String,
}

impl Api {
    pub fn new(base: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(300))
            .pool_max_idle_per_host(256)
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// Waits until `GET /ready` answers 200.
    pub async fn wait_ready(&self, within: Duration) -> Result<()> {
        let until = std::time::Instant::now() + within;
        loop {
            if let Ok(r) = self.http.get(format!("{}/ready", self.base)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if std::time::Instant::now() > until {
                bail!("the service at {} is not ready", self.base);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `GET /health`: the round trip of an endpoint that does no work.
    pub async fn health(&self) -> Result<()> {
        let r = self
            .http
            .get(format!("{}/health", self.base))
            .send()
            .await?;
        r.error_for_status()?.bytes().await?;
        Ok(())
    }

    /// POSTs a JSON body, retrying while the service answers 429; the answer's body on success.
    async fn post(&self, path: &str, body: Bytes) -> Result<Bytes> {
        let url = format!("{}{path}", self.base);
        loop {
            let r = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .with_context(|| format!("POST {path}"))?;
            let status = r.status();
            if status == StatusCode::TOO_MANY_REQUESTS {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let bytes = r.bytes().await?;
            if !status.is_success() {
                bail!(
                    "POST {path}: {status}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(500)])
                );
            }
            return Ok(bytes);
        }
    }

    /// Deletes a `/v2` collection by name; a missing one is fine.
    pub async fn delete_collection(&self, name: &str) -> Result<()> {
        self.delete_as(
            &format!("/v2/collections/{name}"),
            &format!("collection {name}"),
        )
        .await
    }

    /// Creates a `/v2` collection with the built-in model; its id (`vs_…`, the table's name).
    pub async fn create_collection(
        &self,
        name: &str,
        backend: &str,
        dimension: usize,
    ) -> Result<String> {
        let body = json!({
            "collection": name,
            "model": "all-minilm-l6-v2",
            "dimension": dimension,
            "storage_backend": backend,
        });
        let bytes = self
            .post("/v2/collections", serde_json::to_vec(&body)?.into())
            .await?;
        let v: Value = serde_json::from_slice(&bytes)?;
        v["id"]
            .as_str()
            .map(str::to_string)
            .context("no id in the created collection")
    }

    /// One upsert of a pre-serialised `{documents: [...]}` body.
    pub async fn upsert(&self, name: &str, body: Bytes) -> Result<()> {
        self.post(&format!("/v2/collections/{name}/documents"), body)
            .await?;
        Ok(())
    }

    /// One `/v2` search of a pre-serialised body; the ids in rank order.
    pub async fn search(&self, name: &str, body: Bytes) -> Result<Vec<String>> {
        let bytes = self
            .post(&format!("/v2/collections/{name}/search"), body)
            .await?;
        let hits: Hits = serde_json::from_slice(&bytes)?;
        Ok(hits.data.into_iter().map(|h| h.id).collect())
    }

    /// One `POST /v1/vector_stores/{id}/search`; the file ids (= document ids) in rank order.
    pub async fn openai_search(&self, id: &str, body: Bytes) -> Result<Vec<String>> {
        let bytes = self
            .post(&format!("/v1/vector_stores/{id}/search"), body)
            .await?;
        let hits: OpenAiHits = serde_json::from_slice(&bytes)?;
        Ok(hits.data.into_iter().map(|h| h.file_id).collect())
    }
}

impl Api {
    /// A GET whose answer must be 2xx; its JSON.
    pub async fn get_json(&self, path: &str) -> Result<Value> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("GET {path}: {status}: {v}");
        }
        Ok(v)
    }

    /// A JSON POST; its JSON answer.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let bytes = self.post(path, serde_json::to_vec(body)?.into()).await?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Uploads a text file through `POST /v1/files`; its id.
    pub async fn upload(&self, filename: &str, text: &str) -> Result<String> {
        let form = reqwest::multipart::Form::new()
            .text("purpose", "assistants")
            .part(
                "file",
                reqwest::multipart::Part::bytes(text.as_bytes().to_vec())
                    .file_name(filename.to_string()),
            );
        let r = self
            .http
            .post(format!("{}/v1/files", self.base))
            .multipart(form)
            .send()
            .await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("upload {filename}: {status}: {v}");
        }
        v["id"].as_str().map(str::to_string).context("no file id")
    }

    /// `DELETE path`; a missing object is fine.
    pub async fn delete(&self, path: &str) -> Result<()> {
        self.delete_as(path, path).await
    }

    /// `DELETE path`, named `what` in the error; a missing object is fine.
    async fn delete_as(&self, path: &str, what: &str) -> Result<()> {
        let r = self
            .http
            .delete(format!("{}{path}", self.base))
            .send()
            .await?;
        if r.status().is_success() || r.status() == StatusCode::NOT_FOUND {
            Ok(())
        } else {
            bail!("DELETE {what}: {}", r.status())
        }
    }
}

/// `/v2` search body: by vector, text or both.
pub fn search_body(mode: &str, vector: Option<&[f32]>, text: Option<&str>, k: usize) -> Bytes {
    let mut b = json!({"mode": mode, "k": k});
    if let Some(v) = vector {
        b["vector"] = json!(v);
    }
    if let Some(t) = text {
        b["text"] = json!(t);
    }
    serde_json::to_vec(&b).expect("json").into()
}

/// `/v2` upsert body of documents with precomputed vectors.
pub fn upsert_body(docs: &[(&str, &str, &[f32])]) -> Bytes {
    let documents: Vec<Value> = docs
        .iter()
        .map(|(id, text, v)| json!({"id": id, "text": text, "vector": v}))
        .collect();
    serde_json::to_vec(&json!({ "documents": documents }))
        .expect("json")
        .into()
}
