//! Two server processes on one database and one bucket, each with a files directory of its
//! own that the other never sees: files uploaded through one are ingested by the other, read
//! and searched through either; the ingesting one is killed (SIGKILL) in the middle of a batch,
//! and a third takes its claimed jobs over. Every file ends `completed` with exactly the chunks
//! a clean ingest makes.

use std::collections::HashSet;
use std::time::Duration;

use e2e_tests::s3::Bucket;
use e2e_tests::{Plain, ServerProcess, free_port, own_database};
use serde_json::{Value, json};
use service::text;

fn document(i: usize) -> String {
    (0..120)
        .map(|w| {
            format!(
                "Dispatch {i} entry {w}: the night ferry carried {} cars.",
                w * 5 % 11
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A server on `db` and `bucket` with its own files directory, `workers` ingestion workers
/// claiming two jobs at a time.
async fn instance(db: &str, bucket: &Bucket, workers: &str) -> ServerProcess {
    let env = bucket.env();
    let mut env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("VECTOR_STORE__INGEST__WORKERS", workers));
    env.push(("VECTOR_STORE__INGEST__JOBS_PER_CLAIM", "2"));
    ServerProcess::start_with_own_files(db, free_port(), &env).await
}

#[tokio::test]
async fn two_instances_share_files_through_the_bucket_and_survive_a_kill() {
    let db = own_database("two_instances").await;
    let bucket = Bucket::new("shared").await;
    // The front takes uploads and answers reads; it runs no ingestion.
    let front = instance(&db, &bucket, "0").await;
    let mut worker = instance(&db, &bucket, "1").await;
    let (a, b) = (Plain::new(&front.base), Plain::new(&worker.base));
    let store = a.post("/v1/vector_stores", json!({"name": "two"})).await;
    let store = store["id"].as_str().unwrap().to_string();
    let (mut ids, mut texts) = (Vec::new(), Vec::new());
    for i in 0..8 {
        ids.push(
            a.upload(&format!("dispatch{i}.txt"), document(i).into_bytes())
                .await,
        );
        texts.push(document(i));
    }
    a.post(
        &format!("/v1/vector_stores/{store}/file_batches"),
        json!({"file_ids": ids}),
    )
    .await;
    // The worker ingests what the front stored; part of the way, it is killed.
    let mut done = 0;
    for _ in 0..3000 {
        let s = a.get(&format!("/v1/vector_stores/{store}")).await;
        done = s["file_counts"]["completed"].as_u64().unwrap();
        if done >= 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.child.start_kill().unwrap();
    worker.child.wait().await.unwrap();
    assert!(
        (1..8).contains(&done),
        "killed in the middle of the batch: {done} done"
    );
    // Another instance, with a files directory of its own, takes the killed one's jobs over.
    let worker = instance(&db, &bucket, "1").await;
    let c = Plain::new(&worker.base);
    let mut counts = Value::Null;
    for _ in 0..3000 {
        counts = c.get(&format!("/v1/vector_stores/{store}")).await["file_counts"].clone();
        if counts["in_progress"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(counts["completed"], 8, "{counts}");
    let docs = a
        .get(&format!("/v2/collections/{store}/documents?limit=1000"))
        .await;
    let rows = docs["data"].as_array().unwrap();
    let unique: HashSet<&str> = rows.iter().map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), rows.len(), "no chunk id twice");
    for (file, text) in ids.iter().zip(&texts) {
        let f = c
            .get(&format!("/v1/vector_stores/{store}/files/{file}"))
            .await;
        let s = &f["chunking_strategy"]["static"];
        let clean = text::chunk(
            text,
            s["max_chunk_size_tokens"].as_u64().unwrap() as usize,
            s["chunk_overlap_tokens"].as_u64().unwrap() as usize,
        );
        let stored = rows
            .iter()
            .filter(|d| d["file_id"] == file.as_str())
            .count();
        assert_eq!(
            stored,
            clean.len(),
            "{file}: as many chunks as a clean ingest"
        );
        // The bytes and the text from either instance.
        for api in [&a, &c] {
            let bytes = api
                .client
                .get(format!("{}/v1/files/{file}/content", api.base))
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap();
            assert_eq!(bytes, text.as_bytes());
            let content = api
                .get(&format!("/v1/vector_stores/{store}/files/{file}/content"))
                .await;
            assert_eq!(content["data"][0]["text"], text.as_str());
        }
    }
    // Searched from either.
    for api in [&a, &c] {
        let hits = api
            .post(
                &format!("/v1/vector_stores/{store}/search"),
                json!({"query": "Dispatch 3 entry 7: the night ferry"}),
            )
            .await;
        assert!(!hits["data"].as_array().unwrap().is_empty(), "{hits}");
    }
    // Nothing was kept on either instance's disk: the bucket holds every file and its text.
    let keys = bucket.keys().await;
    assert_eq!(keys.len(), 16, "{keys:?}");
    drop((front, worker, b));
}
