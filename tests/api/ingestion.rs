//! The ingestion pipeline survives a crash: a batch cut off mid-way finishes after a restart,
//! with no duplicate chunks, and a failing file does not hold up the others.

use std::collections::HashSet;
use std::time::Duration;

use e2e_tests::{own_database, spawn_app_with, test_settings};
use secrecy::SecretString;
use serde_json::{Value, json};

fn paragraph(i: usize) -> String {
    (0..30)
        .map(|w| format!("file{i} word{w} talks about topic number {}.", w % 7))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_batch_cut_off_by_a_crash_finishes_after_a_restart_without_duplicates() {
    let mut settings = test_settings();
    settings.ingest.workers = 1;
    settings.ingest.jobs_per_claim = 1;
    settings.ingest.lease_secs = 1;
    // The crashed server abandons the jobs it holds: only this test's jobs, in a database of
    // its own.
    settings.database.url = Some(SecretString::from(own_database("crash").await));

    // The first server runs on a runtime of its own, which the test tears down mid-batch.
    let (tx, rx) = std::sync::mpsc::channel::<(String, String, String, Vec<String>)>();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let first_settings = settings.clone();
    let crashed = std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = spawn_app_with(first_settings).await;
            let r = app
                .call("POST", "/v1/vector_stores", Some(json!({"name": "crash"})))
                .await;
            let store = r.body["id"].as_str().unwrap().to_string();
            let mut ids = Vec::new();
            for i in 0..8 {
                ids.push(
                    app.upload(
                        &app.key_a,
                        &format!("doc{i}.txt"),
                        paragraph(i).into_bytes(),
                    )
                    .await,
                );
            }
            ids.push(
                app.upload(&app.key_a, "picture.png", b"\x89PNG not text".to_vec())
                    .await,
            );
            let r = app
                .call(
                    "POST",
                    &format!("/v1/vector_stores/{store}/file_batches"),
                    Some(json!({"file_ids": ids})),
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            // Let it get part of the way.
            loop {
                let b = app
                    .call("GET", &format!("/v1/vector_stores/{store}"), None)
                    .await;
                if b.body["file_counts"]["completed"].as_u64().unwrap() >= 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            tx.send((store, app.key_a.clone(), app.address.clone(), ids))
                .unwrap();
            stop_rx.recv().ok();
            std::mem::forget(app);
        });
        // Dropping the runtime kills the worker wherever it is, like a crash.
        rt.shutdown_background();
    });
    let (store, key, _, ids) = rx.recv().unwrap();
    stop_tx.send(()).unwrap();
    crashed.join().unwrap();

    let app = spawn_app_with(settings.clone()).await;
    let mut status = Value::Null;
    // A bound, not a timing: the suite runs in parallel on two shared cores.
    for _ in 0..3000 {
        let r = app
            .call_as(&key, "GET", &format!("/v1/vector_stores/{store}"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        status = r.body.clone();
        if status["file_counts"]["in_progress"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status["file_counts"]["completed"], 8, "{status}");
    assert_eq!(
        status["file_counts"]["failed"], 1,
        "the PNG fails and holds nothing up: {status}"
    );

    // Every chunk exactly once: ids are unique and follow {file}:{0..n} with no gaps.
    let r = app
        .call_as(
            &key,
            "GET",
            &format!("/v2/collections/{store}/documents?limit=1000"),
            None,
        )
        .await;
    let rows = r.body["data"].as_array().unwrap();
    assert_eq!(r.body["total"].as_u64().unwrap() as usize, rows.len());
    let unique: HashSet<&str> = rows.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), rows.len());
    for file in &ids[..8] {
        let n = rows
            .iter()
            .filter(|d| d["file_id"] == file.as_str())
            .count();
        assert!(n >= 1, "{file} has chunks");
        for i in 0..n {
            assert!(
                unique.contains(format!("{file}:{i}").as_str()),
                "{file}:{i} is missing"
            );
        }
    }
}

#[derive(diesel::QueryableByName)]
struct Attempts {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
}

#[tokio::test]
async fn a_job_longer_than_its_lease_keeps_its_claim_and_runs_once() {
    use diesel_async::RunQueryDsl;
    let mut settings = test_settings();
    // A one-second lease (two at most, whole seconds) and a second idle worker, ready to take
    // the job if the claim lapsed.
    settings.ingest.workers = 2;
    settings.ingest.lease_secs = 1;
    // No other app's worker can take (and then abandon or fail) the job: the attempts counted
    // are this app's.
    let url = own_database("lease").await;
    settings.database.url = Some(SecretString::from(url.clone()));
    let app = spawn_app_with(settings).await;
    let r = app
        .call(
            "POST",
            "/v1/vector_stores",
            Some(json!({"name": "long job"})),
        )
        .await;
    let store = r.body["id"].as_str().unwrap().to_string();
    // The model is loaded first, so that the job's own work is what outlasts the lease.
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(json!({"query": "warm up"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let text: String = (0..30).map(paragraph).collect::<Vec<_>>().join("\n\n");
    let file = app.upload(&app.key_a, "long.txt", text.into_bytes()).await;
    let started = std::time::Instant::now();
    app.attach(
        &store,
        json!({"file_id": file, "chunking_strategy": {"type": "static",
                "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}}),
    )
    .await;
    let mut status = Value::Null;
    for _ in 0..3000 {
        let r = app
            .call(
                "GET",
                &format!("/v1/vector_stores/{store}/files/{file}"),
                None,
            )
            .await;
        status = r.body["status"].clone();
        if status != "in_progress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, "completed");
    assert!(
        started.elapsed() > Duration::from_secs(3),
        "the job must outlast its lease for this test to mean anything: {:?}",
        started.elapsed()
    );
    let pool = store_pgvector::connect(&url, 1, &Default::default())
        .await
        .unwrap();
    let mut conn = pool.get().await.unwrap();
    let row: Attempts = diesel::sql_query(
        "SELECT attempts FROM vector_store_files WHERE vector_store_id = $1 AND file_id = $2",
    )
    .bind::<diesel::sql_types::Text, _>(&store)
    .bind::<diesel::sql_types::Text, _>(&file)
    .get_result(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        row.attempts, 1,
        "claimed once: the running worker renewed its lease"
    );
}

#[tokio::test]
async fn chunks_longer_than_the_model_reads_are_stored_whole_and_found() {
    let app = spawn_app_with(test_settings()).await;
    let store = app.vector_store("long chunks").await;
    // About 960 tokens: four chunks of 400 with 100 of overlap, each longer than the 256 word
    // pieces the built-in model reads.
    let text = (0..60)
        .map(|i| format!("Sentence {i} tells of lighthouses, keepers and the long nights at sea."))
        .collect::<Vec<_>>()
        .join(" ");
    let file = app
        .upload(&app.key_a, "keepers.txt", text.into_bytes())
        .await;
    app.attach(
        &store,
        json!({"file_id": file, "chunking_strategy": {"type": "static",
                "static": {"max_chunk_size_tokens": 400, "chunk_overlap_tokens": 100}}}),
    )
    .await;
    let f = app.wait_for_file(&store, &file).await;
    assert_eq!(f["status"], "completed", "{f}");
    assert_eq!(
        f["chunking_strategy"]["static"]["max_chunk_size_tokens"],
        400
    );
    let r = app
        .call(
            "GET",
            &format!("/v2/collections/{store}/documents?limit=100"),
            None,
        )
        .await;
    let chunks = r.body["data"].as_array().unwrap();
    assert_eq!(chunks.len(), 4, "{}", r.body);
    assert!(
        chunks[0]["text"].as_str().unwrap().len() > 1500,
        "stored whole"
    );
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(json!({"query": "lighthouse keepers at night"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["file_id"], file.as_str());
    assert!(
        r.body["data"][0]["score"].as_f64().unwrap() > 0.6,
        "{}",
        r.body
    );
}

#[tokio::test]
async fn files_claimed_together_end_with_their_own_chunks_and_attributes() {
    // One worker that claims every job of the batch at once: the small files are embedded
    // and written together, the large one (over 64 chunks) on its own, the picture fails.
    let mut settings = test_settings();
    settings.ingest.workers = 1;
    settings.ingest.jobs_per_claim = 16;
    settings.database.url = Some(SecretString::from(own_database("group").await));
    let app = spawn_app_with(settings).await;
    let store = app.vector_store("together").await;
    let mut files = Vec::new();
    for i in 0..10 {
        let id = app
            .upload(
                &app.key_a,
                &format!("note{i}.txt"),
                paragraph(i).into_bytes(),
            )
            .await;
        files.push(json!({"file_id": id, "attributes": {"n": i}}));
    }
    let large: String = (100..125).map(paragraph).collect::<Vec<_>>().join("\n\n");
    let large = app
        .upload(&app.key_a, "large.txt", large.into_bytes())
        .await;
    files.push(json!({"file_id": large, "attributes": {"n": 100}}));
    let picture = app
        .upload(&app.key_a, "picture.png", b"\x89PNG not text".to_vec())
        .await;
    files.push(json!({"file_id": picture}));
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/file_batches"),
            Some(
                json!({"files": files, "chunking_strategy": {"type": "static",
                "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}}),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let batch = r.body["id"].as_str().unwrap().to_string();
    let mut counts = Value::Null;
    for _ in 0..3000 {
        let r = app
            .call(
                "GET",
                &format!("/v1/vector_stores/{store}/file_batches/{batch}"),
                None,
            )
            .await;
        counts = r.body["file_counts"].clone();
        if r.body["status"] != "in_progress" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(counts["completed"], 11, "{counts}");
    assert_eq!(counts["failed"], 1, "{counts}");

    let r = app
        .call(
            "GET",
            &format!("/v2/collections/{store}/documents?limit=1000"),
            None,
        )
        .await;
    let chunks = r.body["data"].as_array().unwrap();
    let unique: HashSet<&str> = chunks.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), chunks.len(), "no chunk id twice");
    let large_chunks = chunks
        .iter()
        .filter(|c| c["file_id"] == large.as_str())
        .count();
    assert!(large_chunks > 64, "{large_chunks} chunks of the large file");
    for (i, f) in files.iter().take(11).enumerate() {
        let id = f["file_id"].as_str().unwrap();
        let n = if i == 10 { 100 } else { i };
        let own: Vec<&Value> = chunks.iter().filter(|c| c["file_id"] == id).collect();
        assert!(!own.is_empty(), "{id} has chunks");
        for c in &own {
            assert_eq!(c["attributes"]["n"], n, "{c}");
            let text = c["text"].as_str().unwrap();
            let own_words = if i == 10 {
                "file1".to_string()
            } else {
                format!("file{n} ")
            };
            assert!(text.contains(&own_words), "{id}: {text}");
        }
        let r = app
            .call(
                "GET",
                &format!("/v1/vector_stores/{store}/files/{id}"),
                None,
            )
            .await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        let bytes: usize = own.iter().map(|c| c["text"].as_str().unwrap().len()).sum();
        assert_eq!(r.body["usage_bytes"], bytes, "{}", r.body);
    }
    assert!(!chunks.iter().any(|c| c["file_id"] == picture.as_str()));
    // Each file is found by its own text.
    let r = app
        .call(
            "POST",
            &format!("/v1/vector_stores/{store}/search"),
            Some(json!({"query": "file7 word3 talks about topic number 3",
                        "filters": {"type": "eq", "key": "n", "value": 7}})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"][0]["file_id"], files[7]["file_id"]);
}
