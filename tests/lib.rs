//! Helpers of the end-to-end tests: [`spawn_app`] starts the real application on port 0 against
//! the PostgreSQL named by `DATABASE_URL` and the built-in model, with two fresh tenants.
//!
//! When `ELASTICSEARCH_URL` is set, the Elasticsearch back-end is registered too, and
//! `E2E_STORAGE_BACKEND=elasticsearch` makes it the default, so that the same tests run once per
//! back-end (`make test` does both).

use std::path::PathBuf;

pub mod s3;

use embeddings::EmbedderRegistry;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use vector_store_server::settings::Settings;

/// The model is loaded once per test process.
static EMBEDDERS: OnceCell<EmbedderRegistry> = OnceCell::const_new();

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// The key of tenant A, and of tenant B.
    pub key_a: String,
    pub key_b: String,
    /// The keys of four tenants, A and B first.
    pub keys: Vec<String>,
    /// Stopped with the app: its workers hand back the jobs they hold.
    _background: vector_store_server::Background,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        drop(handle.stop(false));
    }
}

/// The back-end new collections go to in this run (`E2E_STORAGE_BACKEND`, else pgvector).
pub fn backend() -> String {
    std::env::var("E2E_STORAGE_BACKEND").unwrap_or_else(|_| "pgvector".into())
}

/// A back-end other than [`backend`].
pub fn other_backend() -> &'static str {
    if backend() == "pgvector" {
        "elasticsearch"
    } else {
        "pgvector"
    }
}

/// The Elasticsearch-API server of this run, when there is one.
pub fn elasticsearch_url() -> Option<String> {
    std::env::var("ELASTICSEARCH_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The cluster's credentials the tests were given (`ELASTICSEARCH_USERNAME`, `_PASSWORD`,
/// `_API_KEY`, `_INSECURE`), as the server's settings.
fn elasticsearch_credentials() -> Vec<(String, String)> {
    ["USERNAME", "PASSWORD", "API_KEY", "INSECURE"]
        .into_iter()
        .filter_map(|name| {
            let value = std::env::var(format!("ELASTICSEARCH_{name}")).ok()?;
            Some((
                format!("VECTOR_STORE__STORAGE__ELASTICSEARCH__{name}"),
                value,
            ))
        })
        .filter(|(_, value)| !value.is_empty())
        .collect()
}

/// This package's build of the server binary (`e2e-server`), beside the test executable as
/// cargo lays them out (`target/<profile>/deps/api-…` and `target/<profile>/e2e-server`).
pub fn server_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("E2E_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe.parent().expect("deps/");
    let dir = if dir.ends_with("deps") {
        dir.parent().expect("the profile's directory")
    } else {
        dir
    };
    dir.join(format!("e2e-server{}", std::env::consts::EXE_SUFFIX))
}

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Settings for a test app: port 0, keys required, `DATABASE_URL`, the workspace's models.
pub fn test_settings() -> Settings {
    let mut s = Settings::load(None).expect("default settings load");
    s.server.port = 0;
    s.server.workers = 2;
    s.server.body_limit_bytes = 1024 * 1024;
    s.auth.mode = service::AuthMode::Keys;
    let url = std::env::var("DATABASE_URL").expect(
        "DATABASE_URL is not set: run the tests with `make test`, or start a database with \
         `scripts/services.sh up pg` and `eval \"$(scripts/services.sh env)\"`",
    );
    s.database.url = Some(SecretString::from(url));
    s.database.pool_size = 4;
    // All test apps' workers share the database's queue, and a test process that ends drops
    // the jobs its workers hold (other tests' jobs, as often as not): they are taken again after
    // a short lease rather than the default minute.
    s.ingest.lease_secs = 5;
    // For the same reason each worker takes one job at a time: a test process that ends then
    // drops one job, not a claim's worth. Workers that claim many run in the tests that have a
    // database of their own ([`own_database`]) and in the official-client suites.
    s.ingest.jobs_per_claim = 1;
    s.ingest.extract.program = Some(server_bin());
    if let Some(url) = elasticsearch_url() {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        s.storage.elasticsearch = serde_json::json!({
            "url": url,
            "username": var("ELASTICSEARCH_USERNAME"),
            "password": var("ELASTICSEARCH_PASSWORD"),
            "api_key": var("ELASTICSEARCH_API_KEY"),
            "insecure": matches!(var("ELASTICSEARCH_INSECURE").as_str(), "1" | "true"),
            "index_prefix": "vse2e_",
            "replicas": 0,
        });
    }
    s.storage.default_backend = backend();
    s.files.dir = std::env::temp_dir()
        .join("vector-store-tests")
        .join("files");
    s.embeddings.models_dir = std::env::var_os("VECTOR_STORE_MODELS_DIR")
        .map_or_else(|| workspace_root().join("models"), PathBuf::from);
    if std::env::var_os("TEST_LOG").is_some() {
        use vector_store_server::telemetry::*;
        init_subscriber(get_subscriber("info", s.log.format, std::io::stdout));
    }
    s
}

/// A fresh database of its own (`e2e_<name>`, dropped and made again), for a test whose
/// ingestion jobs must be seen by its own workers only: every other test app's workers share
/// `DATABASE_URL`'s queue, and some of them are cut off or torn down on purpose.
pub async fn own_database(name: &str) -> String {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let mut conn = AsyncPgConnection::establish(&url)
        .await
        .expect("connect to DATABASE_URL");
    let db = format!("e2e_{name}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        diesel::sql_query(&sql)
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let mut own = reqwest::Url::parse(&url).expect("DATABASE_URL is a URL");
    own.set_path(&db);
    own.to_string()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(test_settings()).await
}

pub async fn spawn_app_with(settings: Settings) -> TestApp {
    let embedders = EMBEDDERS
        .get_or_init(|| async {
            vector_store_server::embedders(&settings)
                .await
                .expect("the built-in model loads (run scripts/fetch-model.sh)")
        })
        .await
        .clone();
    let state = vector_store_server::state(&settings, embedders)
        .await
        .expect("application state");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let mut keys = Vec::new();
    for tenant in ["a", "b", "c", "d"] {
        let (_, key) = state
            .auth()
            .create_key(&format!("{tenant}_{run}"))
            .await
            .expect("a tenant's key");
        keys.push(key);
    }
    let (key_a, key_b) = (keys[0].clone(), keys[1].clone());
    let background = vector_store_server::spawn_background(&settings, &state);
    let app = api_http::Application::build(&settings.server, state).expect("bind");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        key_a,
        key_b,
        keys,
        handle,
        _background: background,
    }
}

/// A response's status and JSON body (`Value::Null` when the body is not JSON).
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let res = req.send().await.expect("request sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = res.bytes().await.expect("body read");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    /// `GET /v1/files/{id}/content` as `key`: the response, headers and bytes unread.
    pub async fn file_content(&self, key: &str, id: &str) -> reqwest::Response {
        let url = self.url(&format!("/v1/files/{id}/content"));
        let req = self.client.get(url).bearer_auth(key);
        req.send().await.expect("request sent")
    }

    /// `GET /metrics` with the metrics token as the bearer.
    pub async fn metrics(&self, token: &str) -> reqwest::Response {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request sent")
    }

    /// Polls `/ready` for up to five seconds; its last status.
    pub async fn wait_until_ready(&self) -> u16 {
        let mut status = 0;
        for _ in 0..50 {
            status = self.send(self.client.get(self.url("/ready"))).await.status;
            if status == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        status
    }

    /// Uploads `data` as the file `name` for `key`'s tenant; the file's id.
    pub async fn upload(&self, key: &str, name: &str, data: Vec<u8>) -> String {
        let form = upload_form(name, data);
        let r = self
            .send(
                self.client
                    .post(self.url("/v1/files"))
                    .bearer_auth(key)
                    .multipart(form),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Creates a vector store named `name` as tenant A; its id.
    pub async fn vector_store(&self, name: &str) -> String {
        let r = self
            .call("POST", "/v1/vector_stores", Some(json!({ "name": name })))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// Attaches a file to tenant A's vector store: `body` is the request (`file_id`, and
    /// `attributes` or `chunking_strategy` when wanted); the file object.
    pub async fn attach(&self, store: &str, body: Value) -> Value {
        let path = format!("/v1/vector_stores/{store}/files");
        let r = self.call("POST", &path, Some(body)).await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    /// Polls tenant A's attached file until it is no longer `in_progress` (a bound of about
    /// five minutes, not a timing: the suite shares two cores); the file object.
    pub async fn wait_for_file(&self, store: &str, file: &str) -> Value {
        let path = format!("/v1/vector_stores/{store}/files/{file}");
        for _ in 0..3000 {
            let r = self.call("GET", &path, None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            if r.body["status"] != "in_progress" {
                return r.body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{path} stayed in_progress");
    }

    /// A JSON request as tenant A.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call_as(&self.key_a, method, path, body).await
    }

    pub async fn call_as(&self, key: &str, method: &str, path: &str, body: Option<Value>) -> Reply {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client.request(method, self.url(path)).bearer_auth(key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        self.send(req).await
    }
}

/// Asserts the OpenAI error envelope and returns its `error` object.
pub fn assert_envelope(reply: &Reply, status: u16) -> &serde_json::Map<String, Value> {
    assert_eq!(reply.status, status, "status of {}", reply.body);
    let error = reply
        .body
        .get("error")
        .and_then(Value::as_object)
        .unwrap_or_else(|| panic!("no error envelope in {}", reply.body));
    assert!(
        error
            .get("message")
            .and_then(Value::as_str)
            .is_some_and(|m| !m.is_empty()),
        "{error:?}"
    );
    assert!(
        error.get("type").and_then(Value::as_str).is_some(),
        "{error:?}"
    );
    assert!(
        error.contains_key("param") && error.contains_key("code"),
        "{error:?}"
    );
    error
}

/// A TCP forwarder to PostgreSQL that a test can cut and restore, to see the service while its
/// database is unreachable.
pub struct Proxy {
    pub port: u16,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let port = listener.local_addr().unwrap().port();
        let up = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = target.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                conns2.lock().unwrap().push(task);
            }
        });
        Proxy { port, up, conns }
    }

    /// A proxy in front of the server `url` names (`default_port` when it names none), and the
    /// same URL pointing at the proxy.
    pub async fn in_front_of(url: &str, default_port: u16) -> (Proxy, String) {
        let url = reqwest::Url::parse(url).expect("a server URL");
        let target = format!(
            "{}:{}",
            url.host_str().unwrap_or("127.0.0.1"),
            url.port_or_known_default().unwrap_or(default_port)
        );
        let proxy = Proxy::start(target).await;
        let mut via_proxy = url;
        via_proxy.set_host(Some("127.0.0.1")).expect("host");
        via_proxy.set_port(Some(proxy.port)).expect("port");
        (proxy, via_proxy.to_string())
    }

    /// Drops every open connection and refuses new ones.
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for task in self.conns.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// This package's server binary running as a process of its own (`serve`), on the back-end of
/// this pass of the suite, in open auth mode, without rate limits, with one ingestion worker and
/// a lease of 2 s; killed when dropped.
pub struct ServerProcess {
    pub child: tokio::process::Child,
    pub base: String,
    /// A files directory that goes with the process (removed when it is dropped).
    files: Option<tempfile::TempDir>,
}

impl ServerProcess {
    /// Starts it on `db`, `files` and `port` with `env` on top, and waits until it is ready.
    pub async fn start(
        db: &str,
        files: &std::path::Path,
        port: u16,
        env: &[(&str, &str)],
    ) -> ServerProcess {
        let models = std::env::var_os("VECTOR_STORE_MODELS_DIR")
            .map_or_else(|| workspace_root().join("models"), PathBuf::from);
        let child = tokio::process::Command::new(server_bin())
            .arg("serve")
            .env("VECTOR_STORE__DATABASE__URL", db)
            .env("VECTOR_STORE__SERVER__PORT", port.to_string())
            .env("VECTOR_STORE__SERVER__RATE_LIMIT_PER_SECOND", "0")
            .env("VECTOR_STORE__FILES__DIR", files)
            .env("VECTOR_STORE__EMBEDDINGS__MODELS_DIR", models)
            .env("VECTOR_STORE__INGEST__WORKERS", "1")
            .env("VECTOR_STORE__INGEST__LEASE_SECS", "2")
            .env("VECTOR_STORE__LOG__LEVEL", "warn")
            .env("VECTOR_STORE__STORAGE__DEFAULT_BACKEND", backend())
            .env(
                "VECTOR_STORE__STORAGE__ELASTICSEARCH__URL",
                elasticsearch_url().unwrap_or_default(),
            )
            .env(
                "VECTOR_STORE__STORAGE__ELASTICSEARCH__INDEX_PREFIX",
                "vsproc_",
            )
            .env("VECTOR_STORE__STORAGE__ELASTICSEARCH__REPLICAS", "0")
            .envs(elasticsearch_credentials())
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start the server binary");
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        for _ in 0..600 {
            if let Ok(r) = client.get(format!("{base}/ready")).send().await
                && r.status() == 200
            {
                return ServerProcess {
                    child,
                    base,
                    files: None,
                };
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the server binary did not become ready");
    }

    /// Starts it on a files directory of its own, removed with it.
    pub async fn start_with_own_files(db: &str, port: u16, env: &[(&str, &str)]) -> ServerProcess {
        let files = tempfile::Builder::new()
            .prefix("vs-server-files-")
            .tempdir()
            .expect("a files directory");
        let mut server = Self::start(db, files.path(), port, env).await;
        server.files = Some(files);
        server
    }
}

/// A port free on the loopback address now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// The multipart form of an upload of `data` as the file `name` (purpose `assistants`).
pub fn upload_form(name: &str, data: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("purpose", "assistants")
        .part(
            "file",
            reqwest::multipart::Part::bytes(data).file_name(name.to_string()),
        )
}

/// JSON calls to a server in open auth mode (a [`ServerProcess`]); each must answer 2xx.
#[derive(Clone)]
pub struct Plain {
    pub client: reqwest::Client,
    pub base: String,
}

impl Plain {
    pub fn new(base: &str) -> Plain {
        Plain {
            client: reqwest::Client::new(),
            base: base.to_string(),
        }
    }

    async fn json(res: reqwest::Response) -> Value {
        let status = res.status();
        let body: Value = res.json().await.expect("a JSON answer");
        assert!(status.is_success(), "{status}: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        let res = self.client.get(format!("{}{path}", self.base)).send().await;
        Self::json(res.expect("request sent")).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await;
        Self::json(res.expect("request sent")).await
    }

    /// Uploads `data` as the file `name`; its id.
    pub async fn upload(&self, name: &str, data: Vec<u8>) -> String {
        let res = self
            .client
            .post(format!("{}/v1/files", self.base))
            .multipart(upload_form(name, data))
            .send()
            .await;
        Self::json(res.expect("request sent")).await["id"]
            .as_str()
            .expect("a file id")
            .to_string()
    }
}
