//! Cursor pages: one page of a list, the request that fetched it, and the way to the next page
//! (`after` the page's last id, as the official SDKs page).

use futures::Stream;
use models::openai::ListPage;
use reqwest::Url;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::client::Client;
use crate::error::{Error, Result};

/// One page of a cursor list. [`CursorPage::next_page`] fetches the next one;
/// [`CursorPage::into_stream`] yields every item of this page and the ones after it.
#[derive(Debug, Clone)]
pub struct CursorPage<T> {
    pub object: String,
    pub data: Vec<T>,
    pub first_id: Option<String>,
    pub last_id: Option<String>,
    pub has_more: bool,
    request: PageRequest,
}

/// The list request behind a page: its URL and query parameters.
#[derive(Debug, Clone)]
pub(crate) struct PageRequest {
    client: Client,
    url: Url,
    query: Vec<(String, String)>,
}

impl PageRequest {
    /// The request of `url` with the fields of `params` that are set as its query.
    pub(crate) fn new(client: &Client, url: Url, params: &impl Serialize) -> Result<Self> {
        let value = serde_json::to_value(params)
            .map_err(|e| Error::InvalidArgument(format!("list parameters: {e}")))?;
        let Value::Object(fields) = value else {
            return Err(Error::InvalidArgument(
                "list parameters must be an object".into(),
            ));
        };
        let query = fields
            .into_iter()
            .filter_map(|(k, v)| match v {
                Value::Null => None,
                Value::String(s) => Some((k, s)),
                other
                @ (Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_)) => {
                    Some((k, other.to_string()))
                }
            })
            .collect();
        Ok(Self {
            client: client.clone(),
            url,
            query,
        })
    }

    pub(crate) async fn fetch<T: DeserializeOwned>(self) -> Result<CursorPage<T>> {
        let req = self.client.get_url(self.url.clone()).query(&self.query);
        let page: ListPage<T> = self.client.send(req).await?;
        Ok(CursorPage {
            object: page.object,
            data: page.data,
            first_id: page.first_id,
            last_id: page.last_id,
            has_more: page.has_more,
            request: self,
        })
    }

    fn after(&self, cursor: &str) -> PageRequest {
        let mut next = self.clone();
        next.query.retain(|(k, _)| k != "after");
        next.query.push(("after".into(), cursor.to_string()));
        next
    }
}

impl<T> CursorPage<T> {
    /// Whether the server has more items after this page.
    pub fn has_next_page(&self) -> bool {
        self.has_more && self.last_id.is_some()
    }

    fn next_request(&self) -> Option<PageRequest> {
        match &self.last_id {
            Some(last) if self.has_more => Some(self.request.after(last)),
            _ => None,
        }
    }

    /// The items of this page.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.data.iter()
    }
}

impl<T: DeserializeOwned + Send + 'static> CursorPage<T> {
    /// The page after this one (the same parameters with `after` set to this page's last id),
    /// or `None` when this is the last page.
    pub async fn next_page(&self) -> Result<Option<CursorPage<T>>> {
        match self.next_request() {
            Some(req) => req.fetch().await.map(Some),
            None => Ok(None),
        }
    }

    /// Every item of this page and of the pages after it, fetched as the stream is read. The
    /// stream ends after the first error.
    pub fn into_stream(self) -> impl Stream<Item = Result<T>> + Send + 'static {
        let next = self.next_request();
        let state = (self.data.into_iter(), next);
        futures::stream::try_unfold(state, |(mut items, mut next)| async move {
            loop {
                if let Some(item) = items.next() {
                    return Ok(Some((item, (items, next))));
                }
                let Some(req) = next.take() else {
                    return Ok(None);
                };
                let page = req.fetch::<T>().await?;
                next = page.next_request();
                items = page.data.into_iter();
            }
        })
    }
}

impl<T> IntoIterator for CursorPage<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    /// The items of this page only; [`CursorPage::into_stream`] pages on.
    fn into_iter(self) -> Self::IntoIter {
        self.data.into_iter()
    }
}

impl<'p, T> IntoIterator for &'p CursorPage<T> {
    type Item = &'p T;
    type IntoIter = std::slice::Iter<'p, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.data.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::CursorPage;
    use crate::testing::{ok, on, once, server, vector_store};
    use futures::TryStreamExt;
    use models::openai::{ListQuery, Order, VectorStore};
    use serde_json::json;
    use wiremock::ResponseTemplate;
    use wiremock::matchers::{query_param, query_param_is_missing};

    fn page(ids: &[&str], has_more: bool) -> serde_json::Value {
        json!({
            "object": "list",
            "data": ids.iter().map(|id| vector_store(id)).collect::<Vec<_>>(),
            "first_id": ids.first(),
            "last_id": ids.last(),
            "has_more": has_more,
        })
    }

    /// A server with three pages of `GET /v1/vector_stores?limit=2&order=asc`, each to be
    /// asked for once: `vs_1, vs_2`, after `vs_2` `vs_3, vs_4`, and after `vs_4` `vs_5`.
    async fn three_pages() -> (wiremock::MockServer, crate::Client) {
        let (mock, client) = server().await;
        let pages: [(Option<&str>, &[&str], bool); 3] = [
            (None, &["vs_1", "vs_2"], true),
            (Some("vs_2"), &["vs_3", "vs_4"], true),
            (Some("vs_4"), &["vs_5"], false),
        ];
        for (after, ids, has_more) in pages {
            let asked = on("GET", "/v1/vector_stores")
                .and(query_param("limit", "2"))
                .and(query_param("order", "asc"))
                .and(query_param_is_missing("before"));
            let asked = match after {
                Some(cursor) => asked.and(query_param("after", cursor)),
                None => asked.and(query_param_is_missing("after")),
            };
            once(&mock, asked, ok(page(ids, has_more))).await;
        }
        (mock, client)
    }

    /// The first page of [`three_pages`]: the stores listed two at a time in ascending order.
    async fn first_page(client: &crate::Client) -> CursorPage<VectorStore> {
        let q = ListQuery {
            limit: Some(2),
            order: Some(Order::Asc),
            ..ListQuery::default()
        };
        client.vector_stores().list(q).await.unwrap()
    }

    #[tokio::test]
    async fn next_page_asks_for_the_items_after_the_last_id() {
        let (_mock, client) = three_pages().await;
        let first = first_page(&client).await;
        assert_eq!(first.first_id.as_deref(), Some("vs_1"));
        assert!(first.has_next_page());
        let second = first.next_page().await.unwrap().unwrap();
        assert_eq!(
            second.iter().map(|v| v.id.as_str()).collect::<Vec<_>>(),
            ["vs_3", "vs_4"]
        );
        let third = second.next_page().await.unwrap().unwrap();
        assert!(!third.has_next_page());
        assert!(third.next_page().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn the_stream_walks_every_page_once() {
        let (_mock, client) = three_pages().await;
        let ids: Vec<String> = first_page(&client)
            .await
            .into_stream()
            .map_ok(|v| v.id)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(ids, ["vs_1", "vs_2", "vs_3", "vs_4", "vs_5"]);
    }

    #[tokio::test]
    async fn the_stream_stops_at_the_first_error() {
        let (mock, client) = server().await;
        on("GET", "/v1/vector_stores")
            .and(query_param_is_missing("after"))
            .respond_with(ok(page(&["vs_1"], true)))
            .mount(&mock)
            .await;
        on("GET", "/v1/vector_stores")
            .and(query_param("after", "vs_1"))
            .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
            .mount(&mock)
            .await;
        let items: Vec<_> = futures::StreamExt::collect(
            client
                .vector_stores()
                .list(ListQuery::default())
                .await
                .unwrap()
                .into_stream(),
        )
        .await;
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].as_ref().unwrap().id, "vs_1");
        assert_eq!(items[1].as_ref().unwrap_err().status(), Some(500));
    }

    #[tokio::test]
    async fn paging_keeps_before_and_replaces_after() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("GET", "/v1/vector_stores")
                .and(query_param("before", "vs_9"))
                .and(query_param("after", "vs_0")),
            ok(page(&["vs_1"], true)),
        )
        .await;
        once(
            &mock,
            on("GET", "/v1/vector_stores")
                .and(query_param("before", "vs_9"))
                .and(query_param("after", "vs_1")),
            ok(page(&[], false)),
        )
        .await;
        let q = ListQuery {
            after: Some("vs_0".into()),
            before: Some("vs_9".into()),
            ..ListQuery::default()
        };
        let first = client.vector_stores().list(q).await.unwrap();
        let next = first.next_page().await.unwrap().unwrap();
        assert!(next.data.is_empty() && !next.has_next_page());
    }
}
