//! A recording proxy between the store and the cluster: each request is written down (method,
//! path, query parameters, body) and passed on unchanged, and the cluster's answer is passed
//! back. A request can be held back for a while, to make the store's client time out.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use elasticsearch::Elasticsearch;
use elasticsearch::http::Method;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One request as the store sent it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The path, still percent-encoded.
    pub path: String,
    /// The query parameters, decoded, in the order sent.
    pub params: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Requests whose path contains `path_part` are passed on only after `delay`.
#[derive(Debug, Clone)]
struct Hold {
    path_part: String,
    delay: Duration,
}

/// The proxy; it runs until the test's runtime ends.
#[derive(Clone)]
pub struct Recorder {
    /// Where the store should send its requests.
    pub url: String,
    log: Arc<Mutex<Vec<Recorded>>>,
    hold: Arc<Mutex<Option<Hold>>>,
    /// Requests read and not yet answered.
    open: Arc<AtomicUsize>,
}

impl Recorder {
    /// A proxy on a free local port passing requests on through `upstream`.
    pub async fn start(upstream: Elasticsearch) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port");
        let recorder = Self {
            url: format!("http://{}", listener.local_addr().expect("its address")),
            log: Arc::default(),
            hold: Arc::default(),
            open: Arc::default(),
        };
        let serving = recorder.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(socket, upstream.clone()));
            }
        });
        recorder
    }

    /// Everything recorded so far, in the order it arrived; the log is emptied.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.log.lock().expect("the log"))
    }

    /// Holds back each later request whose path contains `path_part` for `delay`.
    pub fn hold(&self, path_part: &str, delay: Duration) {
        *self.hold.lock().expect("the hold") = Some(Hold {
            path_part: path_part.into(),
            delay,
        });
    }

    /// Passes every request on without delay again.
    pub fn release(&self) {
        *self.hold.lock().expect("the hold") = None;
    }

    /// Returns once every request read has been answered (or its client had gone).
    pub async fn idle(&self) {
        while self.open.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Serves one connection's requests, one after the other (HTTP/1.1 keep-alive).
    async fn serve(self, mut socket: TcpStream, upstream: Elasticsearch) {
        let mut buf = Vec::new();
        while let Some((head, body)) = read_request(&mut socket, &mut buf).await {
            self.open.fetch_add(1, Ordering::SeqCst);
            let written = self.answer(&mut socket, &head, body, &upstream).await;
            self.open.fetch_sub(1, Ordering::SeqCst);
            if !written {
                return;
            }
        }
    }

    /// Records one request, passes it on and writes the answer back; false when the client is
    /// gone.
    async fn answer(
        &self,
        socket: &mut TcpStream,
        head: &str,
        body: Vec<u8>,
        upstream: &Elasticsearch,
    ) -> bool {
        let (recorded, headers) = parse_head(head, body);
        let delay = self
            .hold
            .lock()
            .expect("the hold")
            .as_ref()
            .filter(|h| recorded.path.contains(&h.path_part))
            .map(|h| h.delay);
        self.log.lock().expect("the log").push(recorded.clone());
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let (status, content_type, answer) = forward(upstream, &recorded, headers).await;
        let mut reply = format!(
            "HTTP/1.1 {status} Answer\r\ncontent-type: {content_type}\r\nx-elastic-product: \
                 Elasticsearch\r\ncontent-length: {}\r\n\r\n",
            answer.len()
        )
        .into_bytes();
        if recorded.method != "HEAD" {
            reply.extend_from_slice(&answer);
        }
        socket.write_all(&reply).await.is_ok()
    }
}

/// The next request's head (lower-cased) and body; `None` once the connection is closed.
async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    let mut part = [0u8; 8 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut part).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&part[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let lower = head.to_lowercase();
    assert!(
        !lower.contains("transfer-encoding: chunked"),
        "the recorder reads bodies by content-length only:\n{head}"
    );
    let length: usize = header(&lower, "content-length").map_or(0, |v| v.parse().unwrap_or(0));
    while buf.len() < head_end + length {
        match socket.read(&mut part).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&part[..n]),
        }
    }
    let body = buf[head_end..head_end + length].to_vec();
    buf.drain(..head_end + length);
    Some((head, body))
}

/// The value of header `name` (lower-case) in a head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The request a head and body make, and the headers passed on with it.
fn parse_head(head: &str, body: Vec<u8>) -> (Recorded, HeaderMap) {
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_string();
    let target = words.next().unwrap_or_default();
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let params = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let mut headers = HeaderMap::new();
    for name in ["content-type", "x-opaque-id"] {
        if let Some(v) = header(head, name).and_then(|v| HeaderValue::from_str(v).ok()) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    let recorded = Recorded {
        method,
        path: path.to_string(),
        params,
        body,
    };
    (recorded, headers)
}

/// The cluster's answer to a recorded request: status, content type, body.
async fn forward(
    upstream: &Elasticsearch,
    request: &Recorded,
    headers: HeaderMap,
) -> (u16, String, Vec<u8>) {
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        "HEAD" => Method::Head,
        other => panic!("the recorder passes on no {other} request"),
    };
    let body = (!request.body.is_empty()).then(|| request.body.clone());
    let sent = upstream
        .send(
            method,
            &request.path,
            headers,
            Some(&request.params),
            body,
            None,
        )
        .await;
    let failed = |e: &dyn std::fmt::Display| {
        let error =
            serde_json::json!({"error": {"type": "proxy_exception", "reason": e.to_string()}});
        (
            502,
            "application/json".into(),
            error.to_string().into_bytes(),
        )
    };
    let response = match sent {
        Ok(r) => r,
        Err(e) => return failed(&e),
    };
    let status = response.status_code().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    match response.bytes().await {
        Ok(bytes) => (status, content_type, bytes.to_vec()),
        Err(e) => failed(&e),
    }
}
