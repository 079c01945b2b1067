//! What the hostile-load scenarios share: a server process of their own, a sampler of its
//! resident memory, and plain HTTP calls.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use e2e_tests::{ServerProcess, free_port, own_database, server_bin, upload_form};
use serde_json::{Value, json};

pub const MIB: u64 = 1024 * 1024;

/// The resident memory of a process, sampled every 20 ms: the most seen since the last reset.
pub struct Rss {
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    pid: u32,
}

impl Rss {
    pub fn watch(pid: u32) -> Rss {
        let peak = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                if let Some(now) = rss_of(pid) {
                    p.fetch_max(now, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Rss { peak, stop, pid }
    }

    /// The most resident memory seen since the last reset, in bytes.
    pub fn peak(&self) -> u64 {
        self.peak.load(Ordering::Relaxed)
    }

    pub fn now(&self) -> u64 {
        rss_of(self.pid).unwrap_or(0)
    }

    pub fn reset(&self) {
        self.peak.store(self.now(), Ordering::Relaxed);
    }
}

impl Drop for Rss {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// `VmRSS` of `pid`, in bytes.
pub fn rss_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// A server process in `keys` mode on a database of its own, and a key of each of `tenants`.
pub async fn server(
    name: &str,
    env: &[(&str, &str)],
    tenants: &[&str],
) -> (ServerProcess, Vec<String>) {
    let db = own_database(name).await;
    let mut all = vec![
        ("VECTOR_STORE__AUTH__MODE", "keys"),
        ("VECTOR_STORE__INGEST__WORKERS", "2"),
        // These scenarios measure memory and time; the disk's free-space mark has its own
        // tests, and a CI disk with little room must not turn an upload here into a 507.
        ("VECTOR_STORE__FILES__MIN_FREE_BYTES", "0"),
    ];
    all.extend_from_slice(env);
    let server = ServerProcess::start_with_own_files(&db, free_port(), &all).await;
    let mut keys = Vec::new();
    for tenant in tenants {
        let out = std::process::Command::new(server_bin())
            .args(["keys", "create", "--tenant", tenant])
            .env("VECTOR_STORE__DATABASE__URL", &db)
            .env("VECTOR_STORE__LOG__LEVEL", "warn")
            .output()
            .expect("keys create");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        keys.push(String::from_utf8(out.stdout).unwrap().trim().to_string());
    }
    (server, keys)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()
        .unwrap()
}

pub async fn call(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = c
        .request(method.parse().unwrap(), format!("{base}{path}"))
        .bearer_auth(key);
    if let Some(b) = body {
        req = req.json(&b);
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let body = res.json().await.unwrap_or(Value::Null);
            (status, body)
        }
        Err(_) => (0, Value::Null),
    }
}

pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    values[((values.len() as f64 - 1.0) * q).round() as usize]
}

/// Creates a vector store named `name` that embeds with `model`; its id.
pub async fn create_store(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    name: &str,
    model: &str,
) -> String {
    let body = json!({"name": name, "embedding_model": model});
    let (s, store) = call(c, base, key, "POST", "/v1/vector_stores", Some(body)).await;
    assert_eq!(s, 200, "{store}");
    store["id"].as_str().unwrap().to_string()
}

/// Uploads `data` as `name` and attaches it to `store`, with `chunking` as its chunking
/// strategy when given; the file's id.
pub async fn upload_and_attach(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    store: &str,
    (name, data): (&str, Vec<u8>),
    chunking: Option<Value>,
) -> String {
    let res = c
        .post(format!("{base}/v1/files"))
        .bearer_auth(key)
        .multipart(upload_form(name, data))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut attach = json!({"file_id": id});
    if let Some(strategy) = chunking {
        attach["chunking_strategy"] = strategy;
    }
    let path = format!("/v1/vector_stores/{store}/files");
    let (s, body) = call(c, base, key, "POST", &path, Some(attach)).await;
    assert_eq!(s, 200, "{body}");
    id
}

/// Polls a file of `store` until it leaves `in_progress`, for 600 s at most; its last view,
/// printed with the time it took since `began`.
pub async fn wait_ended(
    c: &reqwest::Client,
    base: &str,
    key: &str,
    (store, id): (&str, &str),
    began: Instant,
) -> Value {
    let path = format!("/v1/vector_stores/{store}/files/{id}");
    loop {
        let (s, f) = call(c, base, key, "GET", &path, None).await;
        assert_eq!(s, 200, "{f}");
        if f["status"] != "in_progress" {
            println!(
                "{id}: {} after {:.1} s ({})",
                f["status"],
                began.elapsed().as_secs_f64(),
                f["last_error"]["message"]
            );
            return f;
        }
        assert!(
            began.elapsed() < Duration::from_secs(600),
            "{id} stayed in_progress: {f}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Asserts that the server is still the process it was started as and that its resident
/// memory peaked under 1 GiB, and prints the figures of `scenario`.
pub fn same_process_under_a_gibibyte(
    scenario: &str,
    mut server: ServerProcess,
    rss: &Rss,
    started_at: u64,
) {
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server is still the same process"
    );
    println!(
        "{scenario}: RSS {:.0} MiB before, peak {:.0} MiB",
        mib(started_at),
        mib(rss.peak())
    );
    assert!(
        rss.peak() < 1024 * MIB,
        "peak RSS {:.0} MiB",
        mib(rss.peak())
    );
}
