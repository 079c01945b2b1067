//! A batch of eight files for the tests that kill a server in its middle (a restart on the same
//! disk, a second instance on the same bucket): starting it, waiting on it, and checking that
//! it ended as a clean ingest would.

use std::collections::HashSet;
use std::time::Duration;

use e2e_tests::Plain;
use serde_json::{Value, json};
use service::text;

/// The files of a batch, in order, attached to `store`.
pub struct Batch {
    pub store: String,
    pub ids: Vec<String>,
    pub texts: Vec<String>,
}

impl Batch {
    /// Eight files of `document(i)`, uploaded through `api` as `{name}{i}.txt` and attached to a
    /// new vector store as one batch.
    pub async fn start(api: &Plain, name: &str, document: fn(usize) -> String) -> Batch {
        let store = api.post("/v1/vector_stores", json!({"name": name})).await;
        let store = store["id"].as_str().unwrap().to_string();
        let (mut ids, mut texts) = (Vec::new(), Vec::new());
        for i in 0..8 {
            let text = document(i);
            ids.push(
                api.upload(&format!("{name}{i}.txt"), text.clone().into_bytes())
                    .await,
            );
            texts.push(text);
        }
        api.post(
            &format!("/v1/vector_stores/{store}/file_batches"),
            json!({"file_ids": ids}),
        )
        .await;
        Batch { store, ids, texts }
    }

    /// The batch's file counts, read through `api`.
    async fn counts(&self, api: &Plain) -> Value {
        let s = api.get(&format!("/v1/vector_stores/{}", self.store)).await;
        s["file_counts"].clone()
    }

    /// Waits (at most a minute) until a file is completed; how many are.
    pub async fn first_done(&self, api: &Plain) -> u64 {
        let mut done = 0;
        for _ in 0..3000 {
            done = self.counts(api).await["completed"].as_u64().unwrap();
            if done >= 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        done
    }

    /// Waits (at most five minutes) until no file is in progress, then checks that every file
    /// is completed with exactly the chunks a clean ingest makes, and no chunk id twice.
    pub async fn assert_clean(&self, api: &Plain) {
        let mut counts = Value::Null;
        for _ in 0..3000 {
            counts = self.counts(api).await;
            if counts["in_progress"] == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(counts["completed"], 8, "{counts}");
        let docs = api
            .get(&format!(
                "/v2/collections/{}/documents?limit=1000",
                self.store
            ))
            .await;
        let rows = docs["data"].as_array().unwrap();
        let unique: HashSet<&str> = rows.iter().map(|d| d["id"].as_str().unwrap()).collect();
        assert_eq!(unique.len(), rows.len(), "no chunk id twice");
        for (file, text) in self.ids.iter().zip(&self.texts) {
            let f = api
                .get(&format!("/v1/vector_stores/{}/files/{file}", self.store))
                .await;
            let s = &f["chunking_strategy"]["static"];
            let clean = text::chunk(
                text,
                s["max_chunk_size_tokens"].as_u64().unwrap() as usize,
                s["chunk_overlap_tokens"].as_u64().unwrap() as usize,
            );
            let stored = rows.iter().filter(|d| d["file_id"] == file.as_str());
            assert_eq!(
                stored.count(),
                clean.len(),
                "{file}: as many chunks as a clean ingest"
            );
            for i in 0..clean.len() {
                assert!(
                    unique.contains(format!("{file}:{i}").as_str()),
                    "{file}:{i}"
                );
            }
        }
    }
}
