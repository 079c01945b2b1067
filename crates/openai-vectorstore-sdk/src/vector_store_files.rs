//! `client.vector_stores.files`: files attached to one vector store, their parsed content, and
//! the helpers that upload, attach and wait for ingestion.

use std::time::Duration;

use models::openai::{
    AttachFile, AttachedListQuery, ChunkingStrategy, Deleted, FileContentPage, FileStatus,
    UpdateAttachedFile, VectorStoreFile,
};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::client::{Client, Polled, non_empty};
use crate::error::Result;
use crate::files::{CreateFile, FileInput};
use crate::pagination::{CursorPage, PageRequest};

/// How a file uploaded by [`VectorStoreFiles::upload`] is attached.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadOptions {
    pub attributes: Option<Map<String, Value>>,
    pub chunking_strategy: Option<ChunkingStrategy>,
}

/// The files of one vector store.
#[derive(Debug, Clone)]
pub struct VectorStoreFiles<'c> {
    client: &'c Client,
    vector_store_id: String,
}

impl<'c> VectorStoreFiles<'c> {
    pub(crate) fn new(client: &'c Client, vector_store_id: String) -> Self {
        Self {
            client,
            vector_store_id,
        }
    }

    pub fn vector_store_id(&self) -> &str {
        &self.vector_store_id
    }

    fn store(&self) -> Result<&str> {
        non_empty("vector_store_id", &self.vector_store_id)
    }

    async fn create_polled(&self, params: AttachFile) -> Result<Polled<VectorStoreFile>> {
        let req = self
            .client
            .request(Method::POST, &["vector_stores", self.store()?, "files"])
            .json(&params);
        self.client.send_polled(req).await
    }

    async fn retrieve_polled(&self, file_id: &str) -> Result<Polled<VectorStoreFile>> {
        let id = non_empty("file_id", file_id)?;
        let req = self
            .client
            .request(Method::GET, &["vector_stores", self.store()?, "files", id]);
        self.client.send_polled(req).await
    }

    /// `POST /vector_stores/{id}/files`: attaches an uploaded file; ingestion starts in the
    /// background.
    pub async fn create(&self, params: AttachFile) -> Result<VectorStoreFile> {
        Ok(self.create_polled(params).await?.value)
    }

    /// `GET /vector_stores/{id}/files/{file_id}`.
    pub async fn retrieve(&self, file_id: &str) -> Result<VectorStoreFile> {
        Ok(self.retrieve_polled(file_id).await?.value)
    }

    /// `POST /vector_stores/{id}/files/{file_id}`: replaces the file's attributes.
    pub async fn update(
        &self,
        file_id: &str,
        params: UpdateAttachedFile,
    ) -> Result<VectorStoreFile> {
        let id = non_empty("file_id", file_id)?;
        let req = self
            .client
            .request(Method::POST, &["vector_stores", self.store()?, "files", id])
            .json(&params);
        self.client.send(req).await
    }

    /// `GET /vector_stores/{id}/files`: one page, optionally of one status (`filter`).
    pub async fn list(&self, params: AttachedListQuery) -> Result<CursorPage<VectorStoreFile>> {
        let url = self.client.url(&["vector_stores", self.store()?, "files"]);
        PageRequest::new(self.client, url, &params)?.fetch().await
    }

    /// `DELETE /vector_stores/{id}/files/{file_id}`: removes the file's chunks, not the file.
    pub async fn delete(&self, file_id: &str) -> Result<Deleted> {
        let id = non_empty("file_id", file_id)?;
        let req = self.client.request(
            Method::DELETE,
            &["vector_stores", self.store()?, "files", id],
        );
        self.client.send(req).await
    }

    /// `GET /vector_stores/{id}/files/{file_id}/content`: the text as parsed for ingestion.
    pub async fn content(&self, file_id: &str) -> Result<FileContentPage> {
        let id = non_empty("file_id", file_id)?;
        let req = self.client.request(
            Method::GET,
            &["vector_stores", self.store()?, "files", id, "content"],
        );
        self.client.send(req).await
    }

    /// Retrieves the file until it is no longer `in_progress`, waiting `poll_interval` between
    /// polls, or else what `openai-poll-after-ms` says.
    pub async fn poll(
        &self,
        file_id: &str,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        self.poll_from(file_id, poll_interval, None).await
    }

    /// Attaches a file and waits until it is ingested (or failed).
    pub async fn create_and_poll(
        &self,
        params: AttachFile,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        let created = self.create_polled(params).await?;
        let file_id = created.value.id.clone();
        self.poll_from(&file_id, poll_interval, Some(created)).await
    }

    /// Polls until the object leaves `in_progress`, starting from `first` when given.
    async fn poll_from(
        &self,
        file_id: &str,
        poll_interval: Option<Duration>,
        first: Option<Polled<VectorStoreFile>>,
    ) -> Result<VectorStoreFile> {
        self.client
            .poll(
                file_id,
                poll_interval,
                first,
                || self.retrieve_polled(file_id),
                |f: &VectorStoreFile| f.status == FileStatus::InProgress,
            )
            .await
    }

    /// Uploads `file` with purpose `assistants` and attaches it, without waiting.
    pub async fn upload(&self, file: FileInput, options: UploadOptions) -> Result<VectorStoreFile> {
        self.store()?;
        let uploaded = self
            .client
            .files()
            .create(CreateFile::new(file, "assistants"))
            .await?;
        self.create(attach(uploaded.id, options)).await
    }

    /// Uploads `file` with purpose `assistants`, attaches it and waits until it is ingested.
    pub async fn upload_and_poll(
        &self,
        file: FileInput,
        options: UploadOptions,
        poll_interval: Option<Duration>,
    ) -> Result<VectorStoreFile> {
        self.store()?;
        let uploaded = self
            .client
            .files()
            .create(CreateFile::new(file, "assistants"))
            .await?;
        self.create_and_poll(attach(uploaded.id, options), poll_interval)
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
    use crate::client::POLL_AFTER_HEADER;
    use crate::testing::{attached, file_object, server};
    use serde_json::json;
    use std::time::Instant;
    use wiremock::matchers::{body_json, method, path, query_param};
    use wiremock::{Mock, ResponseTemplate};

    fn in_progress(body: Value, after_ms: u64) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(body)
            .insert_header(POLL_AFTER_HEADER, after_ms.to_string().as_str())
    }

    async fn retrieves(mock: &wiremock::MockServer) -> usize {
        mock.received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method == wiremock::http::Method::GET)
            .count()
    }

    #[tokio::test]
    async fn poll_waits_as_long_as_the_header_says_until_the_file_is_done() {
        let (mock, client) = server().await;
        let at = "/v1/vector_stores/vs_1/files/file-1";
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(in_progress(attached("file-1", "in_progress"), 100))
            .up_to_n_times(2)
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(attached("file-1", "completed")))
            .mount(&mock)
            .await;
        let started = Instant::now();
        let f = client
            .vector_stores()
            .files("vs_1")
            .poll("file-1", None)
            .await
            .unwrap();
        let waited = started.elapsed();
        assert_eq!(f.status, FileStatus::Completed);
        assert_eq!(retrieves(&mock).await, 3);
        // Two waits of 100 ms each, not the default second each.
        assert!(waited >= Duration::from_millis(200), "{waited:?}");
        assert!(waited < Duration::from_millis(1900), "{waited:?}");
    }

    #[tokio::test]
    async fn a_given_poll_interval_wins_over_the_header() {
        let (mock, client) = server().await;
        let at = "/v1/vector_stores/vs_1/files/file-1";
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(in_progress(attached("file-1", "in_progress"), 5000))
            .up_to_n_times(1)
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .and(path(at))
            .respond_with(ResponseTemplate::new(200).set_body_json(attached("file-1", "failed")))
            .mount(&mock)
            .await;
        let started = Instant::now();
        let f = client
            .vector_stores()
            .files("vs_1")
            .poll("file-1", Some(Duration::from_millis(10)))
            .await
            .unwrap();
        assert_eq!(f.status, FileStatus::Failed);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn create_and_poll_follows_the_header_of_the_create_response() {
        let (mock, client) = server().await;
        Mock::given(method("POST"))
            .and(path("/v1/vector_stores/vs_1/files"))
            .and(body_json(
                json!({"file_id": "file-1", "attributes": {"lang": "en"}}),
            ))
            .respond_with(in_progress(attached("file-1", "in_progress"), 100))
            .expect(1)
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/vector_stores/vs_1/files/file-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(attached("file-1", "completed")))
            .expect(1)
            .mount(&mock)
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
        let mock = wiremock::MockServer::start().await;
        let client = Client::builder()
            .base_url(format!("{}/v1", mock.uri()))
            .poll_timeout(Duration::from_millis(250))
            .build()
            .unwrap();
        Mock::given(method("GET"))
            .and(path("/v1/vector_stores/vs_1/files/file-1"))
            .respond_with(in_progress(attached("file-1", "in_progress"), 100))
            .mount(&mock)
            .await;
        let e = client
            .vector_stores()
            .files("vs_1")
            .poll("file-1", None)
            .await
            .unwrap_err();
        assert!(
            matches!(&e, crate::Error::PollTimeout { id, .. } if id == "file-1"),
            "{e:?}"
        );
    }

    #[tokio::test]
    async fn upload_and_poll_uploads_for_assistants_then_attaches_and_waits() {
        let (mock, client) = server().await;
        Mock::given(method("POST"))
            .and(path("/v1/files"))
            .respond_with(ResponseTemplate::new(200).set_body_json(file_object("file-9")))
            .expect(1)
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/vector_stores/vs_1/files"))
            .and(body_json(json!({"file_id": "file-9"})))
            .respond_with(ResponseTemplate::new(200).set_body_json(attached("file-9", "completed")))
            .expect(1)
            .mount(&mock)
            .await;
        let f = client
            .vector_stores()
            .files("vs_1")
            .upload_and_poll(
                FileInput::bytes("a.txt", "text"),
                UploadOptions::default(),
                None,
            )
            .await
            .unwrap();
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
        Mock::given(method("GET"))
            .and(path("/v1/vector_stores/vs_1/files"))
            .and(query_param("filter", "completed"))
            .and(query_param("limit", "10"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "list", "data": [attached("file-1", "completed")],
                "first_id": "file-1", "last_id": "file-1", "has_more": false
            })))
            .expect(1)
            .mount(&mock)
            .await;
        Mock::given(method("POST"))
            .and(path("/v1/vector_stores/vs_1/files/file-1"))
            .and(body_json(json!({"attributes": {"year": 2024}})))
            .respond_with(in_progress(attached("file-1", "in_progress"), 500))
            .expect(1)
            .mount(&mock)
            .await;
        Mock::given(method("DELETE"))
            .and(path("/v1/vector_stores/vs_1/files/file-1"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "id": "file-1", "object": "vector_store.file.deleted", "deleted": true
            })))
            .expect(1)
            .mount(&mock)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/vector_stores/vs_1/files/file-1/content"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "object": "vector_store.file_content.page",
                "data": [{"type": "text", "text": "parsed"}],
                "has_more": false, "next_page": null
            })))
            .expect(1)
            .mount(&mock)
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
        let e = client
            .vector_stores()
            .files("")
            .upload_and_poll(
                FileInput::bytes("a.txt", "x"),
                UploadOptions::default(),
                None,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, crate::Error::InvalidArgument(_)), "{e:?}");
        assert!(mock.received_requests().await.unwrap().is_empty());
    }
}
