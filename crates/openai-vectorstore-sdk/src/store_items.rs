//! What the files and the file batches of one vector store share: the client and the store's
//! id, the requests under `/vector_stores/{id}/{collection}`, creating and retrieving an item,
//! polling it until it is done, and uploading a file to attach.

use std::time::Duration;

use models::openai::{BatchStatus, FileBatch, FileStatus, VectorStoreFile};
use reqwest::{Method, RequestBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{Client, Polled, non_empty};
use crate::error::Result;
use crate::files::{CreateFile, FileInput};
use crate::pagination::{CursorPage, PageRequest};

/// An item of a collection that polling helpers wait on: its id, and whether it is still in
/// progress.
pub(crate) trait Pollable: DeserializeOwned {
    fn id(&self) -> &str;
    fn in_progress(&self) -> bool;
}

impl Pollable for VectorStoreFile {
    fn id(&self) -> &str {
        &self.id
    }

    fn in_progress(&self) -> bool {
        self.status == FileStatus::InProgress
    }
}

impl Pollable for FileBatch {
    fn id(&self) -> &str {
        &self.id
    }

    fn in_progress(&self) -> bool {
        self.status == BatchStatus::InProgress
    }
}

/// One collection of one vector store on a client: `/vector_stores/{id}/{collection}`.
#[derive(Debug, Clone)]
pub(crate) struct StoreItems<'c> {
    client: &'c Client,
    vector_store_id: String,
    /// The path segment of the collection (`files`, `file_batches`).
    collection: &'static str,
    /// What an item's id is called in errors (`file_id`, `batch_id`).
    id_name: &'static str,
}

impl<'c> StoreItems<'c> {
    pub(crate) fn new(
        client: &'c Client,
        vector_store_id: String,
        collection: &'static str,
        id_name: &'static str,
    ) -> Self {
        Self {
            client,
            vector_store_id,
            collection,
            id_name,
        }
    }

    pub(crate) fn vector_store_id(&self) -> &str {
        &self.vector_store_id
    }

    /// The store's id, refused when empty.
    pub(crate) fn store(&self) -> Result<&str> {
        non_empty("vector_store_id", &self.vector_store_id)
    }

    /// The path segments of the collection, then of the item `id` when given, then `tail`;
    /// an empty store or item id is refused.
    fn segments<'s>(&'s self, id: Option<&'s str>, tail: &[&'s str]) -> Result<Vec<&'s str>> {
        let mut segments = vec!["vector_stores", self.store()?, self.collection];
        if let Some(id) = id {
            segments.push(non_empty(self.id_name, id)?);
        }
        segments.extend_from_slice(tail);
        Ok(segments)
    }

    /// A request to the collection, or to its item `id` when given, followed by `tail`.
    pub(crate) fn request(
        &self,
        method: Method,
        id: Option<&str>,
        tail: &[&str],
    ) -> Result<RequestBuilder> {
        Ok(self.client.request(method, &self.segments(id, tail)?))
    }

    /// Sends `req` and decodes the JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        self.client.send(req).await
    }

    /// One page of the list at the collection (or its item `id`) followed by `tail`.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        id: Option<&str>,
        tail: &[&str],
        params: &impl Serialize,
    ) -> Result<CursorPage<T>> {
        let url = self.client.url(&self.segments(id, tail)?);
        PageRequest::new(self.client, url, params)?.fetch().await
    }

    async fn create_polled<T: Pollable>(&self, params: &impl Serialize) -> Result<Polled<T>> {
        let req = self.request(Method::POST, None, &[])?.json(params);
        self.client.send_polled(req).await
    }

    async fn retrieve_polled<T: Pollable>(&self, id: &str) -> Result<Polled<T>> {
        let req = self.request(Method::GET, Some(id), &[])?;
        self.client.send_polled(req).await
    }

    /// `POST` to the collection: creates an item.
    pub(crate) async fn create<T: Pollable>(&self, params: &impl Serialize) -> Result<T> {
        Ok(self.create_polled(params).await?.value)
    }

    /// `GET` of the item `id`.
    pub(crate) async fn retrieve<T: Pollable>(&self, id: &str) -> Result<T> {
        Ok(self.retrieve_polled(id).await?.value)
    }

    /// Retrieves the item `id` until it is no longer in progress.
    pub(crate) async fn poll<T: Pollable>(
        &self,
        id: &str,
        poll_interval: Option<Duration>,
    ) -> Result<T> {
        self.poll_from(id, poll_interval, None).await
    }

    /// Creates an item and retrieves it until it is no longer in progress, waiting first what
    /// the create response asked for.
    pub(crate) async fn create_and_poll<T: Pollable>(
        &self,
        params: &impl Serialize,
        poll_interval: Option<Duration>,
    ) -> Result<T> {
        let created: Polled<T> = self.create_polled(params).await?;
        let id = created.value.id().to_string();
        self.poll_from(&id, poll_interval, Some(created)).await
    }

    /// Polls until the item leaves `in_progress`, starting from `first` when given.
    async fn poll_from<T: Pollable>(
        &self,
        id: &str,
        poll_interval: Option<Duration>,
        first: Option<Polled<T>>,
    ) -> Result<T> {
        self.client
            .poll(
                id,
                poll_interval,
                first,
                || self.retrieve_polled(id),
                T::in_progress,
            )
            .await
    }

    /// Uploads `file` with purpose `assistants`, to be attached to the store (refused first
    /// when the store's id is empty); its id.
    pub(crate) async fn upload(&self, file: FileInput) -> Result<String> {
        self.store()?;
        let uploaded = self
            .client
            .files()
            .create(CreateFile::new(file, "assistants"))
            .await?;
        Ok(uploaded.id)
    }
}
