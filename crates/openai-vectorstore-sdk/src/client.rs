//! [`Client`] and [`ClientBuilder`]: the base URL, the key, the default headers and timeouts,
//! and the request plumbing every resource shares (error mapping, decoding, polling).

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use reqwest::{Method, RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::files::Files;
use crate::vector_stores::VectorStores;

/// The base URL when neither the builder nor `OPENAI_BASE_URL` names one.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The response header that tells polling helpers how long to wait before the next poll.
pub use models::wire::POLL_AFTER_HEADER;
/// How long a request may take in all, unless the builder says otherwise (as the official SDKs).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// How long polling helpers wait when neither the caller nor the response names an interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_millis(1000);
/// Tries after the first for a request that failed for a passing reason (as the official SDKs).
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The first wait between tries without a `retry-after`; it doubles up to [`MAX_RETRY_DELAY`].
const INITIAL_RETRY_DELAY: Duration = Duration::from_millis(500);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(8);

/// A client of one service. Cheap to clone: clones share the connection pool.
#[derive(Debug, Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base_url: Url,
    poll_timeout: Option<Duration>,
    max_retries: u32,
}

/// A value read from a response, with the response's `openai-poll-after-ms`.
pub(crate) struct Polled<T> {
    pub(crate) value: T,
    pub(crate) poll_after: Option<Duration>,
}

impl Client {
    /// A client of the API at `base_url` (including `/v1`), sending `api_key` as a bearer token.
    pub fn new(base_url: impl Into<String>, api_key: impl Into<String>) -> Result<Client> {
        Client::builder()
            .base_url(base_url)
            .api_key(api_key)
            .build()
    }

    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
    }

    /// `client.vector_stores`: vector stores, their files and file batches.
    pub fn vector_stores(&self) -> VectorStores<'_> {
        VectorStores::new(self)
    }

    /// `client.files`: uploaded files.
    pub fn files(&self) -> Files<'_> {
        Files::new(self)
    }

    /// The URL of `segments` under the base URL, each segment percent-encoded.
    pub(crate) fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.inner.base_url.clone();
        url.path_segments_mut()
            .expect("the builder checked that the base URL can be a base")
            .pop_if_empty()
            .extend(segments);
        url
    }

    pub(crate) fn request(&self, method: Method, segments: &[&str]) -> RequestBuilder {
        self.inner.http.request(method, self.url(segments))
    }

    pub(crate) fn get_url(&self, url: Url) -> RequestBuilder {
        self.inner.http.get(url)
    }

    /// Sends `req`; a non-2xx answer becomes [`Error::Api`]. As the official SDKs do, a request
    /// that failed for a passing reason (no connection, a timeout, 408, 409, 429, 5xx, or the
    /// server's `x-should-retry: true`) is sent again up to `max_retries` times, waiting what
    /// `retry-after-ms` / `retry-after` ask, else 0.5 s doubling to 8 s. `x-should-retry: false`
    /// stops it. A body streamed from a file cannot be sent twice, so such a request is tried
    /// once.
    pub(crate) async fn send_raw(&self, mut req: RequestBuilder) -> Result<Response> {
        let mut attempt = 0u32;
        loop {
            let again = if attempt < self.inner.max_retries {
                req.try_clone()
            } else {
                None
            };
            let wait = match req.send().await {
                Ok(res) if res.status().is_success() => return Ok(res),
                Ok(res) => {
                    let status = res.status().as_u16();
                    if again.is_none() || !should_retry(status, res.headers()) {
                        let body = res.bytes().await?;
                        return Err(Error::from_response(status, &body));
                    }
                    retry_delay(Some(res.headers()), attempt)
                }
                Err(e) if again.is_some() && (e.is_connect() || e.is_timeout()) => {
                    retry_delay(None, attempt)
                }
                Err(e) => return Err(e.into()),
            };
            tokio::time::sleep(wait).await;
            req = again.expect("checked above");
            attempt += 1;
        }
    }

    /// Sends `req` and decodes the JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T> {
        Ok(self.send_polled(req).await?.value)
    }

    /// Sends `req`, decodes the JSON answer and reads its `openai-poll-after-ms`.
    pub(crate) async fn send_polled<T: DeserializeOwned>(
        &self,
        req: RequestBuilder,
    ) -> Result<Polled<T>> {
        let res = self.send_raw(req).await?;
        let status = res.status().as_u16();
        let poll_after = res
            .headers()
            .get(POLL_AFTER_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis);
        let body = res.bytes().await?;
        let value =
            serde_json::from_slice(&body).map_err(|source| Error::Decode { status, source })?;
        Ok(Polled { value, poll_after })
    }

    /// Fetches with `fetch` until `in_progress` is false, starting from `first` when given.
    /// Between polls it waits `interval` when given, else what the last response's
    /// `openai-poll-after-ms` asked for, else [`DEFAULT_POLL_INTERVAL`].
    pub(crate) async fn poll<T, F, Fut>(
        &self,
        id: &str,
        interval: Option<Duration>,
        mut first: Option<Polled<T>>,
        mut fetch: F,
        in_progress: impl Fn(&T) -> bool,
    ) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Polled<T>>>,
    {
        let started = Instant::now();
        loop {
            let polled = match first.take() {
                Some(p) => p,
                None => fetch().await?,
            };
            if !in_progress(&polled.value) {
                return Ok(polled.value);
            }
            let wait = interval
                .or(polled.poll_after)
                .unwrap_or(DEFAULT_POLL_INTERVAL);
            if let Some(limit) = self.inner.poll_timeout
                && started.elapsed() + wait > limit
            {
                return Err(Error::PollTimeout {
                    id: id.to_string(),
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(wait).await;
        }
    }
}

/// Refuses an empty id before it turns a request into another one (`/vector_stores/` lists).
pub(crate) fn non_empty<'s>(name: &str, value: &'s str) -> Result<&'s str> {
    if value.is_empty() {
        return Err(Error::InvalidArgument(format!(
            "expected a non-empty value for `{name}`"
        )));
    }
    Ok(value)
}

/// Builds a [`Client`]. Every request carries `Authorization: Bearer <key>` (when a key is
/// set), `OpenAI-Beta: assistants=v2` and the default headers added here.
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    base_url: Option<String>,
    api_key: Option<String>,
    timeout: Duration,
    connect_timeout: Option<Duration>,
    poll_timeout: Option<Duration>,
    max_retries: u32,
    headers: Vec<(String, String)>,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            base_url: None,
            api_key: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: None,
            poll_timeout: None,
            max_retries: DEFAULT_MAX_RETRIES,
            headers: vec![("OpenAI-Beta".into(), "assistants=v2".into())],
        }
    }
}

impl ClientBuilder {
    /// The API's base URL, including `/v1`. Defaults to `OPENAI_BASE_URL`, else
    /// [`DEFAULT_BASE_URL`].
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// The key sent as a bearer token. Defaults to `OPENAI_API_KEY`; with neither, requests
    /// carry no `Authorization` header.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// How long a request may take in all ([`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// How long the polling helpers wait for an object to leave `in_progress` before they give
    /// up with [`Error::PollTimeout`]. Unset, they wait as long as it takes.
    pub fn poll_timeout(mut self, timeout: Duration) -> Self {
        self.poll_timeout = Some(timeout);
        self
    }

    /// Tries after the first for requests that fail for passing reasons
    /// ([`DEFAULT_MAX_RETRIES`]); 0 never retries.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// A header sent with every request; it replaces an earlier one of the same name (such as
    /// the default `OpenAI-Beta`).
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    pub fn build(self) -> Result<Client> {
        let base = self
            .base_url
            .or_else(|| std::env::var("OPENAI_BASE_URL").ok())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string());
        let base_url = Url::parse(&base)
            .map_err(|e| Error::InvalidArgument(format!("base URL '{base}': {e}")))?;
        if base_url.cannot_be_a_base() || !matches!(base_url.scheme(), "http" | "https") {
            return Err(Error::InvalidArgument(format!(
                "base URL '{base}' must be an http or https URL"
            )));
        }
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            let bad = |what: &str| Error::InvalidArgument(format!("header {name}: bad {what}"));
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| bad("value"))?;
            headers.insert(name, value);
        }
        let key = self
            .api_key
            .or_else(|| std::env::var("OPENAI_API_KEY").ok());
        if let Some(key) = key {
            let mut value = HeaderValue::from_str(&format!("Bearer {key}"))
                .map_err(|_| Error::InvalidArgument("the API key is not a valid header".into()))?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(
                USER_AGENT,
                HeaderValue::from_static(concat!(
                    "openai-vectorstore-sdk/",
                    env!("CARGO_PKG_VERSION")
                )),
            );
        }
        let mut http = reqwest::Client::builder()
            .default_headers(headers)
            .timeout(self.timeout);
        if let Some(t) = self.connect_timeout {
            http = http.connect_timeout(t);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                http: http.build()?,
                base_url,
                poll_timeout: self.poll_timeout,
                max_retries: self.max_retries,
            }),
        })
    }
}

/// Whether an error answer is worth sending again: the server's word when it gives one.
fn should_retry(status: u16, headers: &HeaderMap) -> bool {
    match headers.get("x-should-retry").and_then(|v| v.to_str().ok()) {
        Some("true") => true,
        Some("false") => false,
        _ => matches!(status, 408 | 409 | 429) || status >= 500,
    }
}

/// How long to wait before try `attempt + 1`: `retry-after-ms`, else `retry-after` (seconds),
/// when they ask for at most a minute; else exponential back-off.
fn retry_delay(headers: Option<&HeaderMap>, attempt: u32) -> Duration {
    let header = |name: &str| {
        headers
            .and_then(|h| h.get(name))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
    };
    let asked = header("retry-after-ms")
        .map(|ms| Duration::from_secs_f64(ms / 1000.0))
        .or_else(|| header("retry-after").map(Duration::from_secs_f64));
    match asked {
        Some(d) if d <= Duration::from_secs(60) => d,
        _ => INITIAL_RETRY_DELAY
            .saturating_mul(1 << attempt.min(8))
            .min(MAX_RETRY_DELAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{api_error, client_of, ok, on, once, server, vector_store};
    use wiremock::matchers::{header, header_exists, method};
    use wiremock::{Mock, ResponseTemplate};

    #[tokio::test]
    async fn every_request_carries_the_key_the_beta_header_and_the_agent() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1")
                .and(header("authorization", "Bearer sk-test"))
                .and(header("openai-beta", "assistants=v2"))
                .and(header_exists("user-agent")),
            ok(vector_store("vs_1")),
        )
        .await;
        let vs = client.vector_stores().retrieve("vs_1").await.unwrap();
        assert_eq!(vs.id, "vs_1");
    }

    #[tokio::test]
    async fn default_headers_are_added_and_replace_the_beta_header() {
        let mock = wiremock::MockServer::start().await;
        let client = Client::builder()
            .base_url(format!("{}/v1/", mock.uri()))
            .api_key("k")
            .default_header("openai-beta", "assistants=v9")
            .default_header("OpenAI-Project", "proj_1")
            .build()
            .unwrap();
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1")
                .and(header("openai-beta", "assistants=v9"))
                .and(header("openai-project", "proj_1")),
            ok(vector_store("vs_1")),
        )
        .await;
        // A trailing slash on the base URL changes nothing.
        client.vector_stores().retrieve("vs_1").await.unwrap();
    }

    #[tokio::test]
    async fn ids_are_percent_encoded_and_empty_ids_are_refused() {
        let (mock, client) = server().await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/a%2Fb%20c"),
            ok(vector_store("a/b c")),
        )
        .await;
        client.vector_stores().retrieve("a/b c").await.unwrap();
        let e = client.vector_stores().retrieve("").await.unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }

    #[tokio::test]
    async fn an_error_envelope_becomes_an_api_error() {
        let (mock, client) = server().await;
        let envelope = serde_json::json!({
            "error": {
                "message": "vector store 'missing' not found",
                "type": "invalid_request_error",
                "param": null,
                "code": "not_found"
            }
        });
        on("GET", "/v1/vector_stores/missing")
            .respond_with(ResponseTemplate::new(404).set_body_json(envelope))
            .mount(&mock)
            .await;
        let e = client
            .vector_stores()
            .retrieve("missing")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404));
        assert_eq!(
            api_error(&e),
            (
                404,
                "vector store 'missing' not found",
                Some("invalid_request_error"),
                None,
                Some("not_found")
            )
        );
    }

    #[tokio::test]
    async fn a_success_that_does_not_decode_is_a_decode_error() {
        let (mock, client) = server().await;
        on("GET", "/v1/vector_stores/vs_1")
            .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
            .mount(&mock)
            .await;
        let e = client.vector_stores().retrieve("vs_1").await.unwrap_err();
        assert!(matches!(e, Error::Decode { status: 200, .. }), "{e:?}");
    }

    #[tokio::test]
    async fn a_request_past_the_timeout_is_a_transport_error() {
        let mock = wiremock::MockServer::start().await;
        let client = client_of(&mock)
            .timeout(Duration::from_millis(100))
            .build()
            .unwrap();
        Mock::given(method("GET"))
            .respond_with(ok(vector_store("vs_1")).set_delay(Duration::from_secs(2)))
            .mount(&mock)
            .await;
        let e = client.vector_stores().retrieve("vs_1").await.unwrap_err();
        assert!(matches!(&e, Error::Transport(t) if t.is_timeout()), "{e:?}");
    }

    #[test]
    fn a_base_url_that_is_not_http_is_refused() {
        for bad in ["not a url", "mailto:x@y.z", "ftp://host/v1"] {
            let e = Client::new(bad, "k").unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)), "{bad}: {e:?}");
        }
        let e = Client::builder()
            .base_url("http://h/v1")
            .default_header("bad header", "v")
            .build()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }

    fn retrying_client(mock: &wiremock::MockServer, retries: u32) -> Client {
        client_of(mock)
            .api_key("k")
            .max_retries(retries)
            .build()
            .unwrap()
    }

    #[tokio::test]
    async fn a_rate_limited_request_is_sent_again_after_the_wait_it_was_told() {
        let mock = wiremock::MockServer::start().await;
        let limited = serde_json::json!({"error": {"message": "slow down", "type": "requests",
            "param": null, "code": "rate_limit_exceeded"}});
        on("GET", "/v1/vector_stores/vs_1")
            .respond_with(
                ResponseTemplate::new(429)
                    .insert_header("retry-after-ms", "20")
                    .set_body_json(limited.clone()),
            )
            .up_to_n_times(1)
            .expect(1)
            .mount(&mock)
            .await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_1"),
            ok(vector_store("vs_1")),
        )
        .await;
        let vs = retrying_client(&mock, 2)
            .vector_stores()
            .retrieve("vs_1")
            .await
            .unwrap();
        assert_eq!(vs.id, "vs_1");
    }

    #[tokio::test]
    async fn retries_stop_at_max_retries_and_at_x_should_retry_false() {
        let mock = wiremock::MockServer::start().await;
        on("GET", "/v1/vector_stores/vs_1")
            .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
            .expect(3)
            .mount(&mock)
            .await;
        once(
            &mock,
            on("GET", "/v1/vector_stores/vs_2"),
            ResponseTemplate::new(409).insert_header("x-should-retry", "false"),
        )
        .await;
        let client = retrying_client(&mock, 2);
        let e = client.vector_stores().retrieve("vs_1").await.unwrap_err();
        assert!(matches!(e, Error::Api { status: 503, .. }), "{e:?}");
        let e = client.vector_stores().retrieve("vs_2").await.unwrap_err();
        assert!(matches!(e, Error::Api { status: 409, .. }), "{e:?}");
    }

    #[test]
    fn the_wait_follows_the_server_within_a_minute_else_backs_off() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_delay(Some(&h), 0), Duration::from_secs(2));
        h.insert("retry-after-ms", HeaderValue::from_static("150"));
        assert_eq!(retry_delay(Some(&h), 0), Duration::from_millis(150));
        let mut far = HeaderMap::new();
        far.insert("retry-after", HeaderValue::from_static("3600"));
        assert_eq!(retry_delay(Some(&far), 1), Duration::from_secs(1));
        assert_eq!(retry_delay(None, 0), Duration::from_millis(500));
        assert_eq!(retry_delay(None, 10), Duration::from_secs(8));
        assert!(should_retry(429, &HeaderMap::new()) && should_retry(502, &HeaderMap::new()));
        assert!(!should_retry(400, &HeaderMap::new()) && !should_retry(404, &HeaderMap::new()));
    }
}
