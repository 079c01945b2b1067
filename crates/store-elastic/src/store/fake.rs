//! A scripted stand-in for a cluster, for the answers real clusters give and the emulator the
//! other tests use does not: time-outs, tasks, proxy pages, shard failures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::ElasticStore;
use crate::ElasticOptions;

/// One request the fake cluster got.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) method: String,
    /// Path and query string.
    pub(super) target: String,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    pub(super) body: String,
}

impl Seen {
    pub(super) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    pub(super) fn param(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    }

    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// What the fake cluster answers.
pub(super) enum Reply {
    Json(u16, Value),
    /// Any status, extra headers and body.
    Raw {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// No answer within a minute.
    Hang,
}

/// Every request the fake cluster got, in order.
pub(super) type Log = Arc<Mutex<Vec<Seen>>>;

/// A cluster on a local port that answers each request by `answer`, called with every
/// request so far (the last one is the one to answer).
pub(super) async fn cluster<F>(answer: F) -> (String, Log)
where
    F: Fn(&[Seen]) -> Reply + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let log: Log = Arc::default();
    let seen = log.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(serve(socket, seen.clone(), answer.clone()));
        }
    });
    (url, log)
}

/// A store for the fake cluster at `url`.
pub(super) fn store(url: String, timeout_secs: u64, retries: u32) -> ElasticStore {
    ElasticStore::new(ElasticOptions {
        url,
        timeout_secs,
        retries,
        ..ElasticOptions::default()
    })
    .unwrap()
}

async fn serve<F>(mut socket: TcpStream, log: Log, answer: Arc<F>)
where
    F: Fn(&[Seen]) -> Reply + Send + Sync + 'static,
{
    let mut buf = Vec::new();
    loop {
        let Some(seen) = read_request(&mut socket, &mut buf).await else {
            return;
        };
        let reply = {
            let mut log = log.lock().unwrap();
            log.push(seen);
            answer(&log)
        };
        let (status, headers, body) = match reply {
            Reply::Json(status, body) => (
                status,
                vec![("content-type", "application/json".to_string())],
                body.to_string(),
            ),
            Reply::Raw {
                status,
                headers,
                body,
            } => (status, headers, body),
            Reply::Hang => {
                tokio::time::sleep(Duration::from_secs(60)).await;
                return;
            }
        };
        let mut out = format!(
            "HTTP/1.1 {status} Fake\r\nx-elastic-product: Elasticsearch\r\ncontent-length: {}\r\n",
            body.len()
        );
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(&body);
        if socket.write_all(out.as_bytes()).await.is_err() {
            return;
        }
    }
}

async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<Seen> {
    let mut part = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match socket.read(&mut part).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&part[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.lines();
    let mut first = lines.next().unwrap_or_default().split_whitespace();
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap_or(0));
    while buf.len() < head_end + length {
        match socket.read(&mut part).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&part[..n]),
        }
    }
    let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
    buf.drain(..head_end + length);
    Some(Seen {
        method,
        target,
        headers,
        body,
    })
}
