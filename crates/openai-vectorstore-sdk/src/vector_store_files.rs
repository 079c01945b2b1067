//! `client.vector_stores.files`: files attached to one vector store, their parsed content, and
//! the helpers that upload, attach and wait for ingestion.

use std::time::Duration;

use models::openai::{
    AttachFile, AttachedListQuery, ChunkingStrategy, Deleted, FileContentPage, UpdateAttachedFile,
    VectorStoreFile,
};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Result;
use crate::files::FileInput;
use crate::pagination::CursorPage;
use crate::store_items::StoreItems;

/// How a file uploaded by [`VectorStoreFiles::upload`] is attached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadOptions {
    pub attributes: Option<Map<String, Value>>,
    pub chunking_strategy: Option<ChunkingStrategy>,
}

/// The files of one vector store.
#[derive(Debug, Clone)]
pub struct VectorStoreFiles<'c> {
    items: StoreItems<'c>,
}

impl<'c> VectorStoreFiles<'c> {
    pub(crate) fn new(client: &'c Client, vector_store_id: String) -> Self {
        Self {
            items: StoreItems::new(client, vector_store_id, "files", "file_id"),
        }
    }

    pub fn vector_store_id(&self) -> &str {
        self.items.vector_store_id()
    }

    /// `POST /vector_stores/{id}/files`: attaches an uploaded file; ingestion starts in the
    /// background.
    pub async fn create(&self, params: AttachFile) -> Result<VectorStoreFile> {
        self.items.create(&params).await
    }

    /// `GET /vector_stores/{id}/files/{file_id}`.
    pub async fn retrieve(&self, file_id: &str) -> Result<VectorStoreFile> {
        self.items.retrieve(file_id).await
    }

    /// `POST /vector_stores/{id}/files/{file_id}`: replaces the file's attributes.
    pub async fn update(
        &self,
        file_id: &str,
        params: UpdateAttachedFile,
    ) -> Result<VectorStoreFile> {
        let req = self.items.request(Method::POST, Some(file_id), &[])?;
        self.items.send(req.json(&params)).await
    }

    /// `GET /vector_stores/{id}/files`: one page, optionally of one status (`filter`).
    pub async fn list(&self, params: AttachedListQuery) -> Result<CursorPage<VectorStoreFile>> {
        self.items.list(None, &[], &params).await
    }

    /// `DELETE /vector_stores/{id}/files/{file_id}`: removes the file's chunks, not the file.
    pub async fn delete(&self, file_id: &str) -> Result<Deleted> {
        let req = self.items.request(Method::DELETE, Some(file_id), &[])?;
        self.items.send(req).await
    }

    /// `GET /vector_stores/{id}/files/{file_id}/content`: the text as parsed for ingestion.
    pub async fn content(&self, file_id: &str) -> Result<FileContentPage> {
        let req = self
            .items
            .request(Method::GET, Some(file_id), &["content"])?;
        self.items.send(req).await
    }

    /// Retrieves the file until it is no longer `in_progress`, waiting `poll_interval` between
    /// polls, or else what `openai-poll-after-ms` says.
    pub async fn poll(
        &self,
        file_id: &str,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        self.items.poll(file_id, poll_interval).await
    }

    /// Attaches a file and waits until it is ingested (or failed).
    pub async fn create_and_poll(
        &self,
        params: AttachFile,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        self.items.create_and_poll(&params, poll_interval).await
    }

    /// Uploads `file` with purpose `assistants` and attaches it, without waiting.
    pub async fn upload(&self, file: FileInput, options: UploadOptions) -> Result<VectorStoreFile> {
        let file_id = self.items.upload(file).await?;
        self.create(attach(file_id, options)).await
    }

    /// Uploads `file` with purpose `assistants`, attaches it and waits until it is ingested.
    pub async fn upload_and_poll(
        &self,
        file: FileInput,
        options: UploadOptions,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        let file_id = self.items.upload(file).await?;
        self.create_and_poll(attach(file_id, options), poll_interval)
            .await
    }
}

fn attach(file_id: String, options: UploadOptions) -> AttachFile {
    AttachFile {
        file_id,
        attributes: options.attributes,
        chunking_strategy: options.chunking_strategy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{
        attached, client_of, file_object, in_progress, mount_polls, ok, on, once, server,
    };
    use models::openai::FileStatus;
    use serde_json::json;
    use std::time::Instant;
    use wiremock::MockServer;
    use wiremock::matchers::{body_json, query_param};

    async fn retrieves(mock: &MockServer) -> usize {
        mock.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method == Method::GET)
            .count()
    }

    /// Polls `file-1` of `vs_1`, waiting `interval` between polls.
    async fn poll_file_1(client: &Client, interval: Option<Duration>) -> Result<VectorStoreFile> {
        client
            .vector_stores()
            .files("vs_1")
            .poll("file-1", interval)
            .await
    }

    /// `poll_file_1`, timed: the file, and how long it took.
    async fn timed_poll(
        client: &Client,
        interval: Option<Duration>,
    ) -> (VectorStoreFile, Duration) {
        let started = Instant::now();
        let f = poll_file_1(client, interval).await.unwrap();
        (f, started.elapsed())
    }

    /// Uploads a small `a.txt` to the store `store`, attaches it with the default options and
    /// waits.
    async fn upload_and_poll(client: &Client, store: &str) -> Result<VectorStoreFile> {
        client
            .vector_stores()
            .files(store)
            .upload_and_poll(
                FileInput::bytes("a.txt", "text"),
                UploadOptions::default(),
                None,
            )
            .await
    }

    const FILE_1: &str = "/v1/vector_stores/vs_1/files/file-1";

    /// A server at which `file-1` of `vs_1` is `in_progress` (asking for waits of `after_ms`)
    /// to the first `times` retrieves and `status` to the next; with a client of it.
    async fn file_1_polled(after_ms: u64, times: u64, status: &str) -> (MockServer, Client) {
        let (mock, client) = server().await;
        let pending = attached("file-1", "in_progress");
        let done = attached("file-1", status);
        mount_polls(&mock, FILE_1, pending, after_ms, times, done).await;
        (mock, client)
    }

    #[tokio::test]
    async fn poll_waits_as_long_as_the_header_says_until_the_file_is_done() {
        let (mock, client) = file_1_polled(100, 2, "completed").await;
        let (f, waited) = timed_poll(&client, None).await;
        assert_eq!(f.status, FileStatus::Completed);
        assert_eq!(retrieves(&mock).await, 3);
        // Two waits of 100 ms each, not the default second each.
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(1900), "{waited:?}");
    }

    #[tokio::test]
    async fn a_given_poll_interval_wins_over_the_header() {
        let (_mock, client) = file_1_polled(5000, 1, "failed").await;
        let (f, waited) = timed_poll(&client, Some(Duration::from_millis(10))).await;
        assert_eq!(f.status, FileStatus::Failed);
        assert!(waited < Duration::from_secs(2), "{waited:?}");
    }

    #[tokio::test]
    async fn create_and_poll_follows_the_header_of_the_create_response() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/files").and(body_json(
                json!({"file_id": "file-1", "attributes": {"lang": "en"}}),
            )),
            in_progress(attached("file-1", "in_progress"), 100),
        )
        .await;
        once(
            &mock,
            on("GET", FILE_1),
            ok(attached("file-1", "completed")),
        )
        .await;
        let started = Instant::now();
        let f = client
            .vector_stores()
            .files("vs_1")
            .create_and_poll(
                AttachFile {
                    attributes: Some(Map::from_iter([("lang".into(), json!("en"))])),
                    ..AttachFile::new("file-1")
                },
                None,
            )
            .await
            .unwrap();
        assert_eq!(f.status, FileStatus::Completed);
        let waited = started.elapsed();
        assert!(
            // One wait of 100 ms, not the default second.
            waited >= Duration::from_millis(100) && waited < Duration::from_millis(950),
            "{waited:?}"
        );
    }

    #[tokio::test]
    async fn polling_gives_up_after_the_poll_timeout() {
        let mock = MockServer::start().await;
        let client = client_of(&mock)
            .poll_timeout(Duration::from_millis(250))
            .build()
            .unwrap();
        on("GET", FILE_1)
            .respond_with(in_progress(attached("file-1", "in_progress"), 100))
            .mount(&mock)
            .await;
        let e = poll_file_1(&client, None).await.unwrap_err();
        assert!(
            matches!(&e, crate::Error::PollTimeout { id, .. } if id == "file-1"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn upload_and_poll_uploads_for_assistants_then_attaches_and_waits() {
        let (mock, client) = server().await;
        once(&mock, on("POST", "/v1/files"), ok(file_object("file-9"))).await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/files").and(body_json(json!({"file_id": "file-9"}))),
            ok(attached("file-9", "completed")),
        )
        .await;
        let f = upload_and_poll(&client, "vs_1").await.unwrap();
        assert_eq!(f.id, "file-9");
        // Done at once: no retrieve was needed.
        assert_eq!(retrieves(&mock).await, 0);
        let requests = mock.received_requests().await.unwrap();
        let upload = String::from_utf8_lossy(&requests[0].body).into_owned();
        assert!(
            upload.contains("name=\"purpose\"\r\n\r\nassistants"),
            "{upload}"
        );
    }

    #[tokio::test]
    async fn list_update_delete_and_content_use_their_routes() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1/files")
                .and(query_param("filter", "completed"))
                .and(query_param("limit", "10")),
            ok(json!({
                "object": "list", "data": [attached("file-1", "completed")],
                "first_id": "file-1", "last_id": "file-1", "has_more": false
            })),
        )
        .await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/files/file-1")
                .and(body_json(json!({"attributes": {"year": 2024}}))),
            in_progress(attached("file-1", "in_progress"), 500),
        )
        .await;
        once(
            &mock,
            on("DELETE", "/v1/vector_stores/vs_1/files/file-1"),
            ok(json!({
                "id": "file-1", "object": "vector_store.file.deleted", "deleted": true
            })),
        )
        .await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1/files/file-1/content"),
            ok(json!({
                "object": "vector_store.file_content.page",
                "data": [{"type": "text", "text": "parsed"}],
                "has_more": false, "next_page": null
            })),
        )
        .await;
        let files = client.vector_stores().files("vs_1");
        let page = files
            .list(AttachedListQuery {
                limit: Some(10),
                filter: Some(FileStatus::Completed),
                ..AttachedListQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(page.data[0].status, FileStatus::Completed);
        let updated = files
            .update(
                "file-1",
                UpdateAttachedFile {
                    attributes: Some(Map::from_iter([("year".into(), json!(2024))])),
                },
            )
            .await
            .unwrap();
        assert_eq!(updated.status, FileStatus::InProgress);
        assert_eq!(
            files.content("file-1").await.unwrap().data[0].text,
            "parsed"
        );
        assert!(files.delete("file-1").await.unwrap().deleted);
    }

    #[tokio::test]
    async fn an_empty_store_id_is_refused_before_anything_is_uploaded() {
        let (mock, client) = server().await;
        let e = upload_and_poll(&client, "").await.unwrap_err();
        assert!(matches!(e, crate::Error::InvalidArgument(_)), "{e:?}");
        assert!(mock.received_requests().await.unwrap().is_empty());
    }
}
