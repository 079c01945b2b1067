//! `client.vector_stores`: create, retrieve, update, list, delete and search vector stores.

use models::openai::{
    CreateVectorStore, Deleted, ListQuery, SearchResultsPage, SearchVectorStore, UpdateVectorStore,
    VectorStore,
};
use reqwest::Method;

use crate::client::{Client, non_empty};
use crate::error::Result;
use crate::file_batches::FileBatches;
use crate::pagination::{CursorPage, PageRequest};
use crate::vector_store_files::VectorStoreFiles;

/// The vector stores of a [`Client`].
#[derive(Debug, Clone, Copy)]
pub struct VectorStores<'c> {
    client: &'c Client,
}

impl<'c> VectorStores<'c> {
    pub(crate) fn new(client: &'c Client) -> Self {
        Self { client }
    }

    /// `POST /vector_stores`. Files named in `file_ids` are attached and ingested.
    pub async fn create(&self, params: CreateVectorStore) -> Result<VectorStore> {
        let req = self
            .client
            .request(Method::POST, &["vector_stores"])
            .json(&params);
        self.client.send(req).await
    }

    /// `GET /vector_stores/{id}`.
    pub async fn retrieve(&self, vector_store_id: &str) -> Result<VectorStore> {
        let id = non_empty("vector_store_id", vector_store_id)?;
        let req = self.client.request(Method::GET, &["vector_stores", id]);
        self.client.send(req).await
    }

    /// `POST /vector_stores/{id}`: fields left `None` stay as they are; `Some(None)` clears.
    pub async fn update(
        &self,
        vector_store_id: &str,
        params: UpdateVectorStore,
    ) -> Result<VectorStore> {
        let id = non_empty("vector_store_id", vector_store_id)?;
        let req = self
            .client
            .request(Method::POST, &["vector_stores", id])
            .json(&params);
        self.client.send(req).await
    }

    /// `GET /vector_stores`: one page; see [`CursorPage`] for the next ones.
    pub async fn list(&self, params: ListQuery) -> Result<CursorPage<VectorStore>> {
        PageRequest::new(self.client, self.client.url(&["vector_stores"]), &params)?
            .fetch()
            .await
    }

    /// `DELETE /vector_stores/{id}`: the store and its chunks go; its files stay.
    pub async fn delete(&self, vector_store_id: &str) -> Result<Deleted> {
        let id = non_empty("vector_store_id", vector_store_id)?;
        let req = self.client.request(Method::DELETE, &["vector_stores", id]);
        self.client.send(req).await
    }

    /// `POST /vector_stores/{id}/search`. Build the query with [`SearchVectorStore::new`]
    /// (one string or a list) and set `filters`, `max_num_results`, `ranking_options`,
    /// `rewrite_query` or the extension `search_mode` on it.
    pub async fn search(
        &self,
        vector_store_id: &str,
        params: SearchVectorStore,
    ) -> Result<SearchResultsPage> {
        let id = non_empty("vector_store_id", vector_store_id)?;
        let req = self
            .client
            .request(Method::POST, &["vector_stores", id, "search"])
            .json(&params);
        self.client.send(req).await
    }

    /// `client.vector_stores.files`, for the store `vector_store_id`.
    pub fn files(&self, vector_store_id: impl Into<String>) -> VectorStoreFiles<'c> {
        VectorStoreFiles::new(self.client, vector_store_id.into())
    }

    /// `client.vector_stores.file_batches`, for the store `vector_store_id`.
    pub fn file_batches(&self, vector_store_id: impl Into<String>) -> FileBatches<'c> {
        FileBatches::new(self.client, vector_store_id.into())
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{ok, on, once, server, vector_store};
    use models::Filter;
    use models::SearchMode;
    use models::openai::{
        CreateVectorStore, Ranker, SearchRankingOptions, SearchVectorStore, UpdateVectorStore,
    };
    use models::platform::{ExpiresAfter, ExpiryAnchor};
    use serde_json::{Map, json};
    use wiremock::matchers::body_json;

    #[tokio::test]
    async fn create_posts_only_the_fields_that_are_set() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores").and(body_json(json!({
                "name": "handbook",
                "metadata": {"team": "hr"},
                "expires_after": {"anchor": "last_active_at", "days": 7},
                "embedding_model": "all-minilm-l6-v2",
            }))),
            ok(vector_store("vs_1")),
        )
        .await;
        let vs = client
            .vector_stores()
            .create(CreateVectorStore {
                name: Some("handbook".into()),
                metadata: Some(Map::from_iter([("team".into(), json!("hr"))])),
                expires_after: Some(ExpiresAfter {
                    anchor: ExpiryAnchor::LastActiveAt,
                    days: 7,
                }),
                embedding_model: Some("all-minilm-l6-v2".into()),
                ..CreateVectorStore::default()
            })
            .await
            .unwrap();
        assert_eq!(vs.id, "vs_1");
    }

    #[tokio::test]
    async fn update_sends_null_to_clear_and_leaves_out_what_stays() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1")
                .and(body_json(json!({"name": "renamed", "expires_after": null}))),
            ok(vector_store("vs_1")),
        )
        .await;
        client
            .vector_stores()
            .update(
                "vs_1",
                UpdateVectorStore {
                    name: Some(Some("renamed".into())),
                    expires_after: Some(None),
                    ..UpdateVectorStore::default()
                },
            )
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn delete_uses_the_delete_method() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("DELETE", "/v1/vector_stores/vs_1"),
            ok(json!({
                "id": "vs_1", "object": "vector_store.deleted", "deleted": true
            })),
        )
        .await;
        let d = client.vector_stores().delete("vs_1").await.unwrap();
        assert!(d.deleted);
        assert_eq!(d.object, "vector_store.deleted");
    }

    #[tokio::test]
    async fn search_sends_every_option_and_reads_the_hits() {
        let (mock, client) = server().await;
        let filter = json!({"type": "and", "filters": [
            {"type": "eq", "key": "topic", "value": "science"},
            {"type": "gte", "key": "year", "value": 2020}
        ]});
        // Filter numbers are f64s: 2020 goes out as 2020.0.
        let sent_filter = json!({"type": "and", "filters": [
            {"type": "eq", "key": "topic", "value": "science"},
            {"type": "gte", "key": "year", "value": 2020.0}
        ]});
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/search").and(body_json(json!({
                "query": ["whales", "oceans"],
                "filters": sent_filter,
                "max_num_results": 3,
                "ranking_options": {"ranker": "auto", "score_threshold": 0.5},
                "rewrite_query": false,
                "search_mode": "hybrid",
            }))),
            ok(json!({
                "object": "vector_store.search_results.page",
                "search_query": ["whales", "oceans"],
                "data": [{
                    "file_id": "file-1", "filename": "whales.txt", "score": 0.9,
                    "attributes": {"topic": "science"},
                    "content": [{"type": "text", "text": "Blue whales are the largest animals."}]
                }],
                "has_more": false,
                "next_page": null
            })),
        )
        .await;
        let params = SearchVectorStore {
            filters: Some(Filter::from_json(&filter).unwrap()),
            max_num_results: 3,
            ranking_options: Some(SearchRankingOptions {
                ranker: Some(Ranker::Auto),
                score_threshold: Some(0.5),
                hybrid_search: None,
            }),
            rewrite_query: Some(false),
            search_mode: Some(SearchMode::Hybrid),
            ..SearchVectorStore::new(vec!["whales", "oceans"])
        };
        let page = client.vector_stores().search("vs_1", params).await.unwrap();
        assert_eq!(page.search_query, ["whales", "oceans"]);
        assert_eq!(page.data[0].file_id, "file-1");
        assert_eq!(
            page.data[0].content[0].text,
            "Blue whales are the largest animals."
        );
    }

    #[tokio::test]
    async fn a_single_query_is_sent_as_a_string() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("POST", "/v1/vector_stores/vs_1/search")
                .and(body_json(json!({"query": "whales", "max_num_results": 10}))),
            ok(json!({
                "object": "vector_store.search_results.page", "search_query": ["whales"],
                "data": [], "has_more": false, "next_page": null
            })),
        )
        .await;
        let page = client
            .vector_stores()
            .search("vs_1", SearchVectorStore::new("whales"))
            .await
            .unwrap();
        assert!(page.data.is_empty());
    }
}
