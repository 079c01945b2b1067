//! Two server processes on one database and one bucket, each with a files directory of its
//! own that the other never sees: files uploaded through one are ingested by the other, read
//! and searched through either; the ingesting one is killed (SIGKILL) in the middle of a batch,
//! and a third takes its claimed jobs over. Every file ends `completed` with exactly the chunks
//! a clean ingest makes.

use e2e_tests::s3::Bucket;
use e2e_tests::{Plain, ServerProcess, free_port, own_database};
use serde_json::json;

use crate::batch::Batch;

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
    let batch = Batch::start(&a, "dispatch", document).await;
    // The worker ingests what the front stored; part of the way, it is killed.
    let done = batch.first_done(&a).await;
    worker.child.start_kill().unwrap();
    worker.child.wait().await.unwrap();
    assert!(
        (1..8).contains(&done),
        "killed in the middle of the batch: {done} done"
    );
    // Another instance, with a files directory of its own, takes the killed one's jobs over.
    let worker = instance(&db, &bucket, "1").await;
    let c = Plain::new(&worker.base);
    batch.assert_clean(&c).await;
    let Batch { store, ids, texts } = &batch;
    for (file, text) in ids.iter().zip(texts) {
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
