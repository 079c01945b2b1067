//! `client.vector_stores.file_batches`: many files attached to one vector store at once, and the
//! helpers that upload them and wait for the batch.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use models::openai::{
    AttachedListQuery, ChunkingStrategy, CreateBatch, FileBatch, VectorStoreFile,
};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::files::FileInput;
use crate::pagination::CursorPage;
use crate::store_items::StoreItems;

/// How [`FileBatches::upload_and_poll`] uploads and attaches.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchUploadOptions {
    /// Files already uploaded, attached along with the new ones.
    pub file_ids: Vec<String>,
    pub attributes: Option<Map<String, Value>>,
    pub chunking_strategy: Option<ChunkingStrategy>,
    /// How many uploads run at once (5).
    pub max_concurrency: usize,
}

impl Default for BatchUploadOptions {
    fn default() -> Self {
        Self {
            file_ids: Vec::new(),
            attributes: None,
            chunking_strategy: None,
            max_concurrency: 5,
        }
    }
}

/// The file batches of one vector store.
#[derive(Debug, Clone)]
pub struct FileBatches<'c> {
    items: StoreItems<'c>,
}

impl<'c> FileBatches<'c> {
    pub(crate) fn new(client: &'c Client, vector_store_id: String) -> Self {
        Self {
            items: StoreItems::new(client, vector_store_id, "file_batches", "batch_id"),
        }
    }

    pub fn vector_store_id(&self) -> &str {
        self.items.vector_store_id()
    }

    /// `POST /vector_stores/{id}/file_batches`: `file_ids` or `files`, 1 to 2000.
    pub async fn create(&self, params: CreateBatch) -> Result<FileBatch> {
        self.items.create(&params).await
    }

    /// `GET /vector_stores/{id}/file_batches/{batch_id}`.
    pub async fn retrieve(&self, batch_id: &str) -> Result<FileBatch> {
        self.items.retrieve(batch_id).await
    }

    /// `POST /vector_stores/{id}/file_batches/{batch_id}/cancel`: the batch's files not yet
    /// finished become `cancelled`.
    pub async fn cancel(&self, batch_id: &str) -> Result<FileBatch> {
        let req = self
            .items
            .request(Method::POST, Some(batch_id), &["cancel"])?;
        self.items.send(req).await
    }

    /// `GET /vector_stores/{id}/file_batches/{batch_id}/files`: one page of the batch's files.
    pub async fn list_files(
        &self,
        batch_id: &str,
        params: AttachedListQuery,
    ) -> Result<CursorPage<VectorStoreFile>> {
        self.items.list(Some(batch_id), &["files"], &params).await
    }

    /// Retrieves the batch until it is no longer `in_progress`, waiting `poll_interval` between
    /// polls, or else what `openai-poll-after-ms` says.
    pub async fn poll(&self, batch_id: &str, poll_interval: Option<Duration>) -> Result<FileBatch> {
        self.items.poll(batch_id, poll_interval).await
    }

    /// Creates a batch and waits until all its files are done.
    pub async fn create_and_poll(
        &self,
        params: CreateBatch,
        poll_interval: Option<Duration>,
    ) -> Result<FileBatch> {
        self.items.create_and_poll(&params, poll_interval).await
    }

    /// Uploads `files` (purpose `assistants`, `max_concurrency` at a time), creates a batch of
    /// them and of `options.file_ids`, and waits until it is done. The first failed upload
    /// stops it before any batch is created.
    pub async fn upload_and_poll(
        &self,
        files: Vec<FileInput>,
        options: BatchUploadOptions,
        poll_interval: Option<Duration>,
    ) -> Result<FileBatch> {
        self.items.store()?;
        if files.is_empty() && options.file_ids.is_empty() {
            return Err(Error::InvalidArgument(
                "no files to upload and no file_ids given".into(),
            ));
        }
        let uploaded: Vec<String> = futures::stream::iter(files)
            .map(|file| self.items.upload(file))
            .buffered(options.max_concurrency.max(1))
            .try_collect()
            .await?;
        let mut file_ids = options.file_ids;
        file_ids.extend(uploaded);
        let params = CreateBatch {
            file_ids: Some(file_ids),
            files: None,
            attributes: options.attributes,
            chunking_strategy: options.chunking_strategy,
        };
        self.create_and_poll(params, poll_interval).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        attached, batch, file_object, in_progress, mount_polls, ok, on, once, server,
    };
    use models::openai::{AttachFile, BatchStatus};
    use serde_json::json;
    use std::time::Instant;
    use wiremock::ResponseTemplate;
    use wiremock::matchers::{body_json, query_param};

    #[tokio::test]
    async fn create_and_poll_waits_for_the_batch_as_the_header_says() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/file_batches").and(body_json(json!({
                "files": [{"file_id": "f1", "attributes": {"k": "v"}}, {"file_id": "f2"}]
            }))),
            in_progress(batch("vsfb_1", "in_progress"), 100),
        )
        .await;
        mount_polls(
            &mock,
            "/v1/vector_stores/vs_1/file_batches/vsfb_1",
            batch("vsfb_1", "in_progress"),
            100,
            1,
            batch("vsfb_1", "completed"),
        )
        .await;
        let started = Instant::now();
        let params = CreateBatch {
            files: Some(vec![
                AttachFile {
                    attributes: Some(Map::from_iter([("k".into(), json!("v"))])),
                    ..AttachFile::new("f1")
                },
                AttachFile::new("f2"),
            ]),
            ..CreateBatch::default()
        };
        let b = client
            .vector_stores()
            .file_batches("vs_1")
            .create_and_poll(params, None)
            .await
            .unwrap();
        assert_eq!(b.status, BatchStatus::Completed);
        let waited = started.elapsed();
        assert!(
            // Two waits of 100 ms, not the default second each.
            waited >= Duration::from_millis(200) && waited < Duration::from_millis(1900),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn upload_and_poll_uploads_every_file_then_batches_them_with_the_given_ids() {
        let (mock, client) = server().await;
        for (i, name) in ["a.txt", "b.txt", "c.txt"].iter().enumerate() {
            once(
                &mock,
                on("POST", "/v1/files").and(wiremock::matchers::body_string_contains(format!(
                    "filename=\"{name}\""
                ))),
                ok(file_object(&format!("file-{i}"))),
            )
            .await;
        }
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/file_batches").and(body_json(json!({
                "file_ids": ["file-old", "file-0", "file-1", "file-2"],
                "attributes": {"source": "upload"}
            }))),
            ok(batch("vsfb_1", "completed")),
        )
        .await;
        let files = ["a.txt", "b.txt", "c.txt"]
            .map(|n| FileInput::bytes(n, format!("text of {n}")))
            .to_vec();
        let b = client
            .vector_stores()
            .file_batches("vs_1")
            .upload_and_poll(
                files,
                BatchUploadOptions {
                    file_ids: vec!["file-old".into()],
                    attributes: Some(Map::from_iter([("source".into(), json!("upload"))])),
                    max_concurrency: 2,
                    ..BatchUploadOptions::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(b.id, "vsfb_1");
    }

    #[tokio::test]
    async fn a_failed_upload_creates_no_batch() {
        let (mock, client) = server().await;
        let too_large = json!({
            "error": {
                "message": "too large",
                "type": "invalid_request_error",
                "param": "file",
                "code": null
            }
        });
        on("POST", "/v1/files")
            .respond_with(ResponseTemplate::new(413).set_body_json(too_large))
            .mount(&mock)
            .await;
        on("POST", "/v1/vector_stores/vs_1/file_batches")
            .respond_with(ok(batch("vsfb_1", "completed")))
            .expect(0)
            .mount(&mock)
            .await;
        let e = client
            .vector_stores()
            .file_batches("vs_1")
            .upload_and_poll(
                vec![FileInput::bytes("big.txt", "x")],
                BatchUploadOptions::default(),
                None,
            )
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(413));
        let e = client
            .vector_stores()
            .file_batches("vs_1")
            .upload_and_poll(vec![], BatchUploadOptions::default(), None)
            .await
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }

    #[tokio::test]
    async fn cancel_and_list_files_use_their_routes() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/file_batches/vsfb_1/cancel"),
            ok(batch("vsfb_1", "cancelled")),
        )
        .await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1/file_batches/vsfb_1/files")
                .and(query_param("filter", "cancelled"))
                .and(query_param("order", "asc")),
            ok(json!({
                "object": "list", "data": [attached("f1", "cancelled")],
                "first_id": "f1", "last_id": "f1", "has_more": false
            })),
        )
        .await;
        let batches = client.vector_stores().file_batches("vs_1");
        assert_eq!(
            batches.cancel("vsfb_1").await.unwrap().status,
            BatchStatus::Cancelled
        );
        let page = batches
            .list_files(
                "vsfb_1",
                AttachedListQuery {
                    order: Some(models::openai::Order::Asc),
                    filter: Some(models::openai::FileStatus::Cancelled),
                    ..AttachedListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.data[0].id, "f1");
    }
}
