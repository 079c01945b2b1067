//! `client.files`: multipart uploads (from bytes or a path), retrieve, list, delete and the raw
//! content of uploaded files.

use std::path::PathBuf;

use models::openai::{Deleted, FileListQuery, FileObject};
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use crate::client::{Client, non_empty};
use crate::error::{Error, Result};
use crate::pagination::{CursorPage, PageRequest};

/// The content of a file to upload: bytes under a file name, or a file on disk (streamed, named
/// by its last path component).
#[derive(Debug, Clone)]
pub enum FileInput {
    Bytes { filename: String, data: Vec<u8> },
    Path(PathBuf),
}

impl FileInput {
    pub fn bytes(filename: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        FileInput::Bytes {
            filename: filename.into(),
            data: data.into(),
        }
    }

    pub fn path(path: impl Into<PathBuf>) -> Self {
        FileInput::Path(path.into())
    }

    async fn into_part(self) -> Result<Part> {
        match self {
            FileInput::Bytes { filename, data } => Ok(Part::bytes(data).file_name(filename)),
            FileInput::Path(path) => Part::file(&path)
                .await
                .map_err(|source| Error::Io { path, source }),
        }
    }
}

impl From<PathBuf> for FileInput {
    fn from(path: PathBuf) -> Self {
        FileInput::Path(path)
    }
}

impl From<&std::path::Path> for FileInput {
    fn from(path: &std::path::Path) -> Self {
        FileInput::Path(path.to_path_buf())
    }
}

/// `expires_after` of an upload: the file expires `seconds` after it was created
/// (3600..=2592000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileExpiresAfter {
    pub seconds: u64,
}

impl FileExpiresAfter {
    /// The only anchor there is.
    pub const ANCHOR: &'static str = "created_at";
}

/// `POST /files`: the file, its `purpose` (`assistants` for vector stores) and an optional
/// expiry.
#[derive(Debug, Clone)]
pub struct CreateFile {
    pub file: FileInput,
    pub purpose: String,
    pub expires_after: Option<FileExpiresAfter>,
}

impl CreateFile {
    pub fn new(file: FileInput, purpose: impl Into<String>) -> Self {
        Self {
            file,
            purpose: purpose.into(),
            expires_after: None,
        }
    }
}

/// The uploaded files of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct Files<'c> {
    client: &'c Client,
}

impl<'c> Files<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /files`, as `multipart/form-data`.
    pub async fn create(&self, params: CreateFile) -> Result<FileObject> {
        let mut form = Form::new().text("purpose", params.purpose);
        if let Some(e) = params.expires_after {
            form = form
                .text("expires_after[anchor]", FileExpiresAfter::ANCHOR)
                .text("expires_after[seconds]", e.seconds.to_string());
        }
        let form = form.part("file", params.file.into_part().await?);
        let req = self
            .client
            .request(Method::POST, &["files"])
            .multipart(form);
        self.client.send(req).await
    }

    /// `GET /files/{id}`.
    pub async fn retrieve(&self, file_id: &str) -> Result<FileObject> {
        let id = non_empty("file_id", file_id)?;
        self.client
            .send(self.client.request(Method::GET, &["files", id]))
            .await
    }

    /// `GET /files`: one page, optionally of one `purpose`.
    pub async fn list(&self, params: FileListQuery) -> Result<CursorPage<FileObject>> {
        PageRequest::new(self.client, self.client.url(&["files"]), &params)?
            .fetch()
            .await
    }

    /// `DELETE /files/{id}`.
    pub async fn delete(&self, file_id: &str) -> Result<Deleted> {
        let id = non_empty("file_id", file_id)?;
        self.client
            .send(self.client.request(Method::DELETE, &["files", id]))
            .await
    }

    /// `GET /files/{id}/content`: the uploaded bytes.
    pub async fn content(&self, file_id: &str) -> Result<Vec<u8>> {
        let id = non_empty("file_id", file_id)?;
        let req = self.client.request(Method::GET, &["files", id, "content"]);
        let res = self.client.send_raw(req).await?;
        Ok(res.bytes().await?.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{file_object, ok, on, once, server};
    use models::openai::Order;
    use serde_json::json;
    use wiremock::matchers::{header_regex, query_param};
    use wiremock::{Request, ResponseTemplate};

    /// The body of the one request `mock` received at `at`, as text.
    async fn body_of(mock: &wiremock::MockServer, at: &str) -> String {
        let requests: Vec<Request> = mock.received_requests().await.unwrap();
        let r = requests
            .iter()
            .find(|r| r.url.path() == at)
            .expect("a request");
        String::from_utf8_lossy(&r.body).into_owned()
    }

    #[tokio::test]
    async fn an_upload_from_bytes_is_multipart_with_file_purpose_and_expiry() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/files").and(header_regex(
                "content-type",
                "^multipart/form-data; boundary=",
            )),
            ok(file_object("file-1")),
        )
        .await;
        let f = client
            .files()
            .create(CreateFile {
                expires_after: Some(FileExpiresAfter { seconds: 3600 }),
                ..CreateFile::new(
                    FileInput::bytes("notes.txt", "hello multipart"),
                    "assistants",
                )
            })
            .await
            .unwrap();
        assert_eq!(f.id, "file-1");
        let body = body_of(&mock, "/v1/files").await;
        assert!(
            body.contains("name=\"purpose\"\r\n\r\nassistants\r\n"),
            "{body}"
        );
        assert!(
            body.contains("name=\"expires_after[anchor]\"\r\n\r\ncreated_at\r\n"),
            "{body}"
        );
        assert!(
            body.contains("name=\"expires_after[seconds]\"\r\n\r\n3600\r\n"),
            "{body}"
        );
        assert!(
            body.contains("name=\"file\"; filename=\"notes.txt\""),
            "{body}"
        );
        assert!(body.contains("\r\n\r\nhello multipart\r\n"), "{body}");
    }

    #[tokio::test]
    async fn an_upload_from_a_path_is_named_after_the_file() {
        let (mock, client) = server().await;
        on("POST", "/v1/files")
            .respond_with(ok(file_object("file-2")))
            .mount(&mock)
            .await;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("guide.md");
        std::fs::write(&file, "# Guide\nread me").unwrap();
        client
            .files()
            .create(CreateFile::new(FileInput::path(&file), "assistants"))
            .await
            .unwrap();
        let body = body_of(&mock, "/v1/files").await;
        assert!(body.contains("filename=\"guide.md\""), "{body}");
        assert!(body.contains("# Guide\nread me"), "{body}");
        assert!(
            !body.contains("expires_after"),
            "no expiry unless asked: {body}"
        );
    }

    #[tokio::test]
    async fn a_missing_path_is_an_io_error_and_sends_nothing() {
        let (mock, client) = server().await;
        let e = client
            .files()
            .create(CreateFile::new(
                FileInput::path("/no/such/file.txt"),
                "assistants",
            ))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Io { path, .. } if path.ends_with("file.txt")),
            "{e:?}"
        );
        assert!(mock.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn content_is_the_raw_bytes() {
        let (mock, client) = server().await;
        let bytes = vec![0u8, 159, 146, 150, b'\n'];
        once(
            &mock,
            on("GET", "/v1/files/file-1/content"),
            ResponseTemplate::new(200).set_body_bytes(bytes.clone()),
        )
        .await;
        assert_eq!(client.files().content("file-1").await.unwrap(), bytes);
    }

    #[tokio::test]
    async fn list_retrieve_and_delete_use_their_routes() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("GET", "/v1/files")
                .and(query_param("purpose", "assistants"))
                .and(query_param("order", "desc"))
                .and(query_param("limit", "5")),
            ok(json!({
                "object": "list", "data": [file_object("file-1")],
                "first_id": "file-1", "last_id": "file-1", "has_more": false
            })),
        )
        .await;
        once(
            &mock,
            on("GET", "/v1/files/file-1"),
            ok(file_object("file-1")),
        )
        .await;
        once(
            &mock,
            on("DELETE", "/v1/files/file-1"),
            ok(json!({
                "id": "file-1", "object": "file", "deleted": true
            })),
        )
        .await;
        let files = client.files();
        let page = files
            .list(FileListQuery {
                purpose: Some("assistants".into()),
                limit: Some(5),
                order: Some(Order::Desc),
                after: None,
            })
            .await
            .unwrap();
        assert_eq!(page.data.len(), 1);
        assert!(!page.has_next_page());
        assert_eq!(files.retrieve("file-1").await.unwrap().bytes, 5);
        assert!(files.delete("file-1").await.unwrap().deleted);
    }
}
