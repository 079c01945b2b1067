//! Faults and load, run by `make test-chaos` (and so by `make test`) after the other suites,
//! each on loopback and bounded in time:
//! - the database is stopped and started again under load: meanwhile requests get 503
//!   envelopes, none gets 500, and afterwards every acknowledged write is there, with no restart
//!   of the service. It needs a PostgreSQL cluster of its own, which `scripts/test.sh` starts
//!   (`CHAOS_PG_DIR`, `CHAOS_PG_PORT`) and this test stops and starts with `scripts/services.sh`;
//! - 64 clients of 4 tenants search, upsert, delete and upload for 60 s: no 5xx, no
//!   acknowledged write lost, and the latencies are reported.
//!
//! They are `#[ignore]`d in the main run, which shares one database among parallel tests.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_tests::{TestApp, spawn_app_with, test_settings, workspace_root};
use secrecy::SecretString;
use serde_json::{Value, json};

const DIM: usize = 8;

fn vector(seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..DIM)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x % 2000) as f32 / 1000.0) - 1.0 + 1e-3
        })
        .collect()
}

/// Every id stored in a raw collection, page by page.
async fn stored_ids(app: &TestApp, key: &str, collection: &str) -> HashSet<String> {
    let mut ids = HashSet::new();
    let mut offset = 0;
    loop {
        let r = app
            .call_as(
                key,
                "GET",
                &format!("/v2/collections/{collection}/documents?limit=1000&offset={offset}"),
                None,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let rows = r.body["data"].as_array().unwrap();
        if rows.is_empty() {
            return ids;
        }
        offset += rows.len();
        ids.extend(rows.iter().map(|d| d["id"].as_str().unwrap().to_string()));
    }
}

/// What the load saw: statuses, and latencies in ms by kind of request.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, u64>,
    latencies: BTreeMap<&'static str, Vec<f64>>,
    bad_envelopes: u64,
}

impl Tally {
    fn record(&mut self, kind: &'static str, status: u16, body: &Value, started: Instant) {
        *self.statuses.entry(status).or_default() += 1;
        self.latencies
            .entry(kind)
            .or_default()
            .push(started.elapsed().as_secs_f64() * 1000.0);
        if status >= 400 && body["error"]["message"].as_str().is_none_or(str::is_empty) {
            self.bad_envelopes += 1;
        }
    }

    fn report(&mut self, what: &str) {
        println!("{what}: statuses {:?}", self.statuses);
        for (kind, l) in &mut self.latencies {
            l.sort_by(f64::total_cmp);
            let at = |q: f64| l[((l.len() as f64 - 1.0) * q).round() as usize];
            println!(
                "{what}: {kind}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
                l.len(),
                at(0.5),
                at(0.99),
                at(1.0)
            );
        }
    }
}

fn services(command: &str) {
    let dir = std::env::var("CHAOS_PG_DIR").expect("CHAOS_PG_DIR (make test-chaos sets it)");
    let port = std::env::var("CHAOS_PG_PORT").expect("CHAOS_PG_PORT (make test-chaos sets it)");
    let status = std::process::Command::new(workspace_root().join("scripts/services.sh"))
        .args([command, "pg"])
        .env("VECTOR_STORE_PG_DIR", dir)
        .env("VECTOR_STORE_PG_PORT", port)
        .env_remove("DATABASE_URL")
        .env_remove("VECTOR_STORE__DATABASE__URL")
        .status()
        .expect("scripts/services.sh");
    assert!(status.success(), "services.sh {command} pg");
}

#[tokio::test]
#[ignore = "make test-chaos: it stops and starts a database cluster of its own"]
async fn the_database_stops_and_starts_under_load_and_no_acknowledged_write_is_lost() {
    let port = std::env::var("CHAOS_PG_PORT").expect("CHAOS_PG_PORT (make test-chaos sets it)");
    let mut settings = test_settings();
    settings.database.url = Some(SecretString::from(format!(
        "postgres://vectorstore@127.0.0.1:{port}/vectorstore"
    )));
    settings.database.pool_size = 8;
    settings.server.rate_limit_per_second = 0;
    settings.ingest.workers = 0;
    let app = Arc::new(spawn_app_with(settings).await);
    let r = app
        .call(
            "POST",
            "/v2/collections",
            Some(json!({"collection": "outage", "dimension": DIM})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    let acked = Arc::new(Mutex::new(HashSet::new()));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let until = Instant::now() + Duration::from_secs(24);
    let mut clients = Vec::new();
    for c in 0..8u64 {
        let (app, acked, tally) = (app.clone(), acked.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let started = Instant::now();
                if n.is_multiple_of(2) {
                    let id = format!("c{c}_{n}");
                    let r = app
                        .call(
                            "POST",
                            "/v2/collections/outage/documents",
                            Some(json!({
                                "documents": [{
                                    "id": id,
                                    "text": "outage test",
                                    "vector": vector(c * 100_000 + n)
                                }]
                            })),
                        )
                        .await;
                    if r.status == 200 {
                        acked.lock().unwrap().insert(id);
                    }
                    tally
                        .lock()
                        .unwrap()
                        .record("upsert", r.status, &r.body, started);
                } else {
                    let r = app
                        .call(
                            "POST",
                            "/v2/collections/outage/search",
                            Some(json!({"vector": vector(n), "k": 5})),
                        )
                        .await;
                    tally
                        .lock()
                        .unwrap()
                        .record("search", r.status, &r.body, started);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    tokio::task::spawn_blocking(|| services("down"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    tokio::task::spawn_blocking(|| services("up"))
        .await
        .unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    tally.report("database restart");
    assert_eq!(tally.bad_envelopes, 0, "every refusal is an envelope");
    let unavailable = tally.statuses.get(&503).copied().unwrap_or(0);
    assert!(
        unavailable > 0,
        "requests met the outage: {:?}",
        tally.statuses
    );
    for (status, n) in &tally.statuses {
        assert!(
            *status == 200 || *status == 503,
            "{n} requests answered {status}: {:?}",
            tally.statuses
        );
    }
    // The same service, without a restart, serves again and holds every acknowledged write.
    assert_eq!(app.wait_until_ready().await, 200);
    let stored = stored_ids(&app, &app.key_a, "outage").await;
    let acked = acked.lock().unwrap().clone();
    assert!(!acked.is_empty());
    let lost: Vec<&String> = acked.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged writes lost: {lost:?}",
        lost.len()
    );
}

#[tokio::test]
#[ignore = "make test-chaos: a minute of load"]
async fn sixty_four_clients_of_four_tenants_for_a_minute_get_no_5xx_and_lose_nothing() {
    let mut settings = test_settings();
    settings.database.pool_size = 16;
    settings.server.rate_limit_per_second = 0;
    settings.server.max_in_flight_per_tenant = 3;
    let app = Arc::new(spawn_app_with(settings).await);
    for key in &app.keys {
        let r = app
            .call_as(
                key,
                "POST",
                "/v2/collections",
                Some(json!({"collection": "load", "dimension": DIM})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // Per tenant: ids acknowledged as written, ids acknowledged as deleted, uploaded files.
    type Books = (HashSet<String>, HashSet<String>, Vec<String>);
    let books: Arc<Vec<Mutex<Books>>> =
        Arc::new((0..4).map(|_| Mutex::new(Books::default())).collect());
    let tally = Arc::new(Mutex::new(Tally::default()));
    let until = Instant::now() + Duration::from_secs(60);
    let mut clients = Vec::new();
    for c in 0..64u64 {
        let t = (c % 4) as usize;
        let (app, books, tally) = (app.clone(), books.clone(), tally.clone());
        clients.push(tokio::spawn(async move {
            let key = app.keys[t].clone();
            let mut n = 0u64;
            while Instant::now() < until {
                n += 1;
                let started = Instant::now();
                match n % 10 {
                    0..=4 => {
                        let r = app
                            .call_as(
                                &key,
                                "POST",
                                "/v2/collections/load/search",
                                Some(json!({"vector": vector(c * 7 + n), "k": 10})),
                            )
                            .await;
                        tally
                            .lock()
                            .unwrap()
                            .record("search", r.status, &r.body, started);
                    }
                    5..=7 => {
                        let ids: Vec<String> = (0..5).map(|i| format!("c{c}_{n}_{i}")).collect();
                        let docs: Vec<Value> = ids
                            .iter()
                            .enumerate()
                            .map(|(i, id)| {
                                json!({
                                    "id": id,
                                    "text": format!("load document {id}"),
                                    "vector": vector(c * 1_000_000 + n * 10 + i as u64)
                                })
                            })
                            .collect();
                        let r = app
                            .call_as(
                                &key,
                                "POST",
                                "/v2/collections/load/documents",
                                Some(json!({"documents": docs})),
                            )
                            .await;
                        if r.status == 200 {
                            books[t].lock().unwrap().0.extend(ids);
                        }
                        tally
                            .lock()
                            .unwrap()
                            .record("upsert", r.status, &r.body, started);
                    }
                    8 => {
                        let victim = books[t].lock().unwrap().0.iter().next().cloned();
                        let Some(victim) = victim else { continue };
                        let r = app
                            .call_as(
                                &key,
                                "POST",
                                "/v2/collections/load/documents/delete",
                                Some(json!({"ids": [victim]})),
                            )
                            .await;
                        if r.status == 200 {
                            let mut b = books[t].lock().unwrap();
                            b.0.remove(&victim);
                            b.1.insert(victim);
                        }
                        tally
                            .lock()
                            .unwrap()
                            .record("delete", r.status, &r.body, started);
                    }
                    _ => {
                        let form = e2e_tests::upload_form(
                            &format!("u{c}_{n}.txt"),
                            format!("upload {c} {n}").into_bytes(),
                        );
                        let r = app
                            .send(
                                app.client
                                    .post(app.url("/v1/files"))
                                    .bearer_auth(&key)
                                    .multipart(form),
                            )
                            .await;
                        if r.status == 200 {
                            books[t]
                                .lock()
                                .unwrap()
                                .2
                                .push(r.body["id"].as_str().unwrap().to_string());
                        }
                        tally
                            .lock()
                            .unwrap()
                            .record("upload", r.status, &r.body, started);
                    }
                }
            }
        }));
    }
    for c in clients {
        c.await.unwrap();
    }
    let mut tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    tally.report("mixed load");
    let server_errors: u64 = tally
        .statuses
        .iter()
        .filter(|(s, _)| **s >= 500)
        .map(|(_, n)| n)
        .sum();
    assert_eq!(server_errors, 0, "{:?}", tally.statuses);
    assert_eq!(tally.bad_envelopes, 0);
    for (t, key) in app.keys.iter().enumerate() {
        let (written, deleted, files) = books[t].lock().unwrap().clone();
        let stored = stored_ids(&app, key, "load").await;
        let lost: Vec<&String> = written.difference(&stored).collect();
        assert!(lost.is_empty(), "tenant {t}: {} writes lost", lost.len());
        let revived: Vec<&String> = deleted.intersection(&stored).collect();
        assert!(
            revived.is_empty(),
            "tenant {t}: {} deletes undone",
            revived.len()
        );
        for f in &files {
            let r = app
                .call_as(key, "GET", &format!("/v1/files/{f}"), None)
                .await;
            assert_eq!(r.status, 200, "tenant {t}: file {f}");
        }
        // Another tenant's files are not there for it.
        if let Some(f) = files.first() {
            let other = &app.keys[(t + 1) % 4];
            let r = app
                .call_as(other, "GET", &format!("/v1/files/{f}"), None)
                .await;
            assert_eq!(r.status, 404);
        }
    }
}

/// The p50, p99 and largest of `values` (sorted here).
fn quantiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() as f64 - 1.0) * q).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

#[tokio::test]
#[ignore = "make test-chaos: hundreds of batches beside a server that stops, the CPU loaded"]
async fn small_batches_complete_in_seconds_while_another_server_on_the_database_stops() {
    use e2e_tests::{Plain, ServerProcess, free_port, own_database};
    // Two servers on one database and files directory, each with its own worker; a process
    // keeps one core busy.
    let db = own_database("stall").await;
    let files = std::env::temp_dir().join(format!("vs-stall-{}", uuid::Uuid::new_v4()));
    let long_lease = [("VECTOR_STORE__INGEST__LEASE_SECS", "60")];
    let served = ServerProcess::start(&db, &files, free_port(), &long_lease).await;
    let mut other = ServerProcess::start(&db, &files, free_port(), &long_lease).await;
    let mut burner = tokio::process::Command::new("sh")
        .args(["-c", "while :; do :; done"])
        .kill_on_drop(true)
        .spawn()
        .expect("a CPU burner");

    let api = Plain::new(&served.base);
    let rounds: u64 = 240;
    let done = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut clients = Vec::new();
    for c in 0..4u64 {
        let (api, done) = (api.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            let mut took = Vec::new();
            for r in 0..rounds / 4 {
                let store = api
                    .post(
                        "/v1/vector_stores",
                        json!({"name": format!("stall {c} {r}")}),
                    )
                    .await;
                let store = store["id"].as_str().unwrap().to_string();
                let mut ids = Vec::new();
                for i in 0..(2 + (c + r) % 4) {
                    let data = format!("round {r} file {i} of {c}.....").into_bytes();
                    ids.push(api.upload(&format!("f{i}.txt"), data).await);
                }
                let started = Instant::now();
                let batch = api
                    .post(
                        &format!("/v1/vector_stores/{store}/file_batches"),
                        json!({"file_ids": ids}),
                    )
                    .await;
                let batch = batch["id"].as_str().unwrap().to_string();
                loop {
                    let b = api
                        .get(&format!("/v1/vector_stores/{store}/file_batches/{batch}"))
                        .await;
                    if b["status"] != "in_progress" {
                        assert_eq!(b["file_counts"]["completed"], ids.len(), "{b}");
                        break;
                    }
                    // A bound far above "a few seconds", far below a 60 s lease.
                    assert!(
                        started.elapsed() < Duration::from_secs(30),
                        "a batch stayed in_progress: {b}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                took.push(started.elapsed().as_secs_f64());
                done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            took
        }));
    }
    // A third of the way in, the other server stops as a deployment or a test harness stops
    // it (SIGTERM, a graceful stop), holding whatever jobs it has claimed.
    while done.load(std::sync::atomic::Ordering::SeqCst) < rounds / 3 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pid = other.child.id().expect("running") as i32;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let stopped = tokio::time::timeout(Duration::from_secs(40), other.child.wait())
        .await
        .expect("the other server stops within its shutdown timeout")
        .unwrap();
    println!("the other server stopped: {stopped}");
    let mut took = Vec::new();
    for c in clients {
        took.extend(c.await.unwrap());
    }
    burner.start_kill().ok();
    let (p50, p99, max) = quantiles(&mut took);
    println!(
        "{} batches of 2 to 5 files: completed in p50 {p50:.2} s, p99 {p99:.2} s, max {max:.2} s",
        took.len()
    );
    drop(served);
    std::fs::remove_dir_all(files).ok();
}
