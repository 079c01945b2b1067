//! A Rust client for the OpenAI Vector Stores and Files APIs, shaped like the official SDKs'
//! `client.vector_stores.*` and `client.files.*`, over the wire types of the `models` crate.
//!
//! It owns the HTTP side of talking to this service (or to OpenAI): the base URL and bearer
//! key, the default headers (`OpenAI-Beta: assistants=v2`), timeouts, the error envelope
//! ([`Error::Api`] carries status, message, type, param and code), cursor pages
//! ([`CursorPage`]: `next_page` and an auto-paging [`futures::Stream`]), multipart uploads from
//! bytes or a path, and the polling helpers (`create_and_poll`, `upload_and_poll`, `poll`)
//! that follow the `openai-poll-after-ms` response header.
//!
//! | SDK | here |
//! |---|---|
//! | `client.vector_stores.create/retrieve/update/list/delete/search` | [`Client::vector_stores`] |
//! | `client.vector_stores.files.*` | [`VectorStores::files`] |
//! | `client.vector_stores.file_batches.*` | [`VectorStores::file_batches`] |
//! | `client.files.*` | [`Client::files`] |
//!
//! Request parameters are the `models::openai` types (`CreateVectorStore`, `ListQuery`,
//! `SearchVectorStore`, ...), re-exported as [`types`]. Requests are not retried.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use openai_vectorstore_sdk::types::{
//!     CreateVectorStore, FileStatus, ListQuery, SearchVectorStore,
//! };
//! use openai_vectorstore_sdk::{Client, FileInput, UploadOptions};
//!
//! # async fn run() -> Result<(), openai_vectorstore_sdk::Error> {
//! let client = Client::new("http://localhost:8080/v1", "vsk_...")?;
//! let vs = client
//!     .vector_stores()
//!     .create(CreateVectorStore { name: Some("handbook".into()), ..Default::default() })
//!     .await?;
//! let file = client
//!     .vector_stores()
//!     .files(&vs.id)
//!     .upload_and_poll(FileInput::path("handbook.md"), UploadOptions::default(), None)
//!     .await?;
//! assert_eq!(file.status, FileStatus::Completed);
//! let hits = client
//!     .vector_stores()
//!     .search(&vs.id, SearchVectorStore::new("holiday policy"))
//!     .await?;
//! println!("{}", hits.data[0].content[0].text);
//! let all: Vec<_> = client
//!     .vector_stores()
//!     .list(ListQuery::default())
//!     .await?
//!     .into_stream()
//!     .try_collect()
//!     .await?;
//! println!("{} stores", all.len());
//! # Ok(())
//! # }
//! ```
//!
//! No cargo features.

mod client;
mod error;
mod file_batches;
mod files;
mod pagination;
mod store_items;
mod vector_store_files;
mod vector_stores;

pub use client::{
    Client, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_POLL_INTERVAL, DEFAULT_TIMEOUT,
    POLL_AFTER_HEADER,
};
pub use error::{Error, Result};
pub use file_batches::{BatchUploadOptions, FileBatches};
pub use files::{CreateFile, FileExpiresAfter, FileInput, Files};
pub use pagination::CursorPage;
pub use vector_store_files::{UploadOptions, VectorStoreFiles};
pub use vector_stores::VectorStores;

/// The request and response types, from `models`.
pub mod types {
    pub use models::SearchMode;
    pub use models::filter::{Comparison, Filter, FilterValue, Op, Scalar};
    pub use models::openai::*;
    pub use models::platform::{ContentPart, ExpiresAfter, ExpiryAnchor};
    pub use models::{ErrorBody, ErrorEnvelope};
}

#[cfg(test)]
mod testing {
    //! A wiremock server with a client pointed at its `/v1`, mocks and their answers, response
    //! bodies, and the fields of an API error.

    use serde_json::{Value, json};
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

    /// A client builder pointed at `mock`'s `/v1`.
    pub(crate) fn client_of(mock: &MockServer) -> crate::ClientBuilder {
        crate::Client::builder().base_url(format!("{}/v1", mock.uri()))
    }

    pub(crate) async fn server() -> (MockServer, crate::Client) {
        let mock = MockServer::start().await;
        // Without retries: each test counts the requests it expects.
        let client = client_of(&mock)
            .api_key("sk-test")
            .max_retries(0)
            .build()
            .unwrap();
        (mock, client)
    }

    pub(crate) fn vector_store(id: &str) -> Value {
        json!({
            "id": id, "object": "vector_store", "created_at": 1_700_000_000, "name": "n",
            "usage_bytes": 0,
            "file_counts": {
                "in_progress": 0,
                "completed": 0,
                "failed": 0,
                "cancelled": 0,
                "total": 0
            },
            "status": "completed", "last_active_at": 1_700_000_000, "metadata": {},
            "expires_after": null, "expires_at": null
        })
    }

    pub(crate) fn file_object(id: &str) -> Value {
        json!({
            "id": id, "object": "file", "bytes": 5, "created_at": 1_700_000_000,
            "filename": "a.txt", "purpose": "assistants", "status": "processed",
            "expires_at": null, "status_details": null
        })
    }

    pub(crate) fn attached(id: &str, status: &str) -> Value {
        json!({
            "id": id, "object": "vector_store.file", "created_at": 1_700_000_000,
            "vector_store_id": "vs_1", "usage_bytes": 0, "status": status, "last_error": null,
            "attributes": {},
            "chunking_strategy": {
                "type": "static",
                "static": {"max_chunk_size_tokens": 128, "chunk_overlap_tokens": 64}
            }
        })
    }

    pub(crate) fn batch(id: &str, status: &str) -> Value {
        json!({
            "id": id, "object": "vector_store.files_batch", "created_at": 1_700_000_000,
            "vector_store_id": "vs_1", "status": status,
            "file_counts": {
                "in_progress": 0,
                "completed": 2,
                "failed": 0,
                "cancelled": 0,
                "total": 2
            }
        })
    }

    /// A mock of the requests `method_name path_name`.
    pub(crate) fn on(method_name: &str, path_name: &str) -> MockBuilder {
        Mock::given(method(method_name)).and(path(path_name))
    }

    /// A 200 answer of `body`.
    pub(crate) fn ok(body: Value) -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(body)
    }

    /// Mounts `answer` on `server` to the requests `requests` matches, to be asked for once.
    pub(crate) async fn once(server: &MockServer, requests: MockBuilder, answer: ResponseTemplate) {
        requests.respond_with(answer).expect(1).mount(server).await;
    }

    /// A 200 answer of `body` that asks polling helpers to wait `after_ms` before the next poll.
    pub(crate) fn in_progress(body: Value, after_ms: u64) -> ResponseTemplate {
        ok(body).insert_header(crate::POLL_AFTER_HEADER, after_ms.to_string().as_str())
    }

    /// Mounts the answers to `GET {at}`: `pending` (asking for a wait of `after_ms`) to the
    /// first `times` requests, then `done` to one more.
    pub(crate) async fn mount_polls(
        mock: &MockServer,
        at: &str,
        pending: Value,
        after_ms: u64,
        times: u64,
        done: Value,
    ) {
        on("GET", at)
            .respond_with(in_progress(pending, after_ms))
            .up_to_n_times(times)
            .expect(times)
            .mount(mock)
            .await;
        once(mock, on("GET", at), ok(done)).await;
    }

    /// The status, message, type, param and code of an [`crate::Error::Api`]; panics on
    /// another error.
    pub(crate) fn api_error(
        e: &crate::Error,
    ) -> (u16, &str, Option<&str>, Option<&str>, Option<&str>) {
        match e {
            crate::Error::Api {
                status,
                message,
                kind,
                param,
                code,
            } => (
                *status,
                message,
                kind.as_deref(),
                param.as_deref(),
                code.as_deref(),
            ),
            other @ (crate::Error::Transport(_)
            | crate::Error::Decode { .. }
            | crate::Error::Io { .. }
            | crate::Error::InvalidArgument(_)
            | crate::Error::PollTimeout { .. }) => panic!("not an API error: {other:?}"),
        }
    }
}
