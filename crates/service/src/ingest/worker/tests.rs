//! The worker, the queue and the gauges as the metrics see them, over mocks.

use std::sync::Arc;

use embeddings::{EmbedderRegistry, MockEmbedder};
use serde_json::Map;
use store_core::{
    AttachedFile, Batch, Claim, CollectionRecord, FileRecord, FileStatus, HybridOptions,
    JobOutcome, MockCatalog, MockFileCatalog, MockIngestCatalog, MockVectorStore, PoolStatus,
    StoreError, StoreRegistry,
};

use super::*;
use crate::ingest::IngestService;
use crate::metrics::testing::{Recorded, counter, gauge, recorded};
use crate::metrics::{
    DB_POOL_CONNECTIONS, DB_POOL_IN_USE, DB_POOL_WAITING, INGESTION_BYTES, INGESTION_CHUNKS,
    INGESTION_JOBS, INGESTION_QUEUE_DEPTH,
};
use crate::sandbox::{Sandbox, SandboxLimits};
use crate::{FileService, VectorService};

const TEXT: &str = "The quick brown fox jumps over the lazy dog. It was not amused at all, and \
                    the dog said so, at length, to anyone who would listen that day.";
const FILE_BYTES: u64 = 4321;
/// Tokens a chunk of the job.
const CHUNK_TOKENS: u32 = 12;

fn record() -> CollectionRecord {
    crate::testing::store_record(Some("m"), 2)
}

const GENERATION: u64 = 1 << 40;

fn claim() -> Claim {
    Claim {
        job: AttachedFile {
            vector_store_id: "vs_1".into(),
            file_id: "file-1".into(),
            tenant_id: "t1".into(),
            batch_id: None,
            status: FileStatus::InProgress,
            last_error: None,
            attributes: Map::new(),
            max_chunk_tokens: CHUNK_TOKENS,
            overlap_tokens: 0,
            usage_bytes: 0,
            created_at: 0,
            attempts: 1,
            retries: 0,
        },
        token: "token-1".into(),
        generation: GENERATION,
        doomed: None,
    }
}

/// An ingestion service over `queue`, `catalog` and mocks of the rest; its file
/// `file-1` exists when `file_exists`, its text kept in `dir`.
fn service(
    queue: MockIngestCatalog,
    mut catalog: MockCatalog,
    file_exists: bool,
    dir: &std::path::Path,
) -> IngestService {
    catalog
        .expect_get_collection()
        .returning(|_, _| Ok(record()));
    let mut files = MockFileCatalog::new();
    files.expect_get_file().returning(move |tenant_id, id| {
        if !file_exists {
            return Err(StoreError::not_found("file", id));
        }
        Ok(FileRecord {
            id: id.into(),
            tenant_id: tenant_id.into(),
            filename: "fox.txt".into(),
            bytes: FILE_BYTES,
            purpose: "assistants".into(),
            created_at: 0,
            expires_at: None,
        })
    });
    let mut store = MockVectorStore::new();
    store.expect_name().return_const("pgvector");
    store.expect_delete_files().returning(|_, _| Ok(0));
    // Every chunk is written as the claim's generation, and the file is trimmed to
    // the chunks written.
    let written = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = written.clone();
    store
        .expect_upsert_claimed()
        .withf(|_, _, generation| *generation == GENERATION)
        .returning(move |_, chunks, _| {
            counted.fetch_add(chunks.len() as u32, std::sync::atomic::Ordering::SeqCst);
            Ok(chunks.len() as u64)
        });
    store
        .expect_trim_files()
        .withf(move |_, files| {
            let n = written.load(std::sync::atomic::Ordering::SeqCst);
            files == [("file-1".to_string(), n)] && n > 0
        })
        .returning(|_, _| Ok(0));
    let mut model = MockEmbedder::new();
    model.expect_model().return_const("m".to_string());
    model.expect_dimension().return_const(2usize);
    model.expect_max_input_tokens().return_const(256usize);
    // Late chunking: the file's chunks come as spans of its text.
    model.expect_late_chunking().return_const(true);
    model.expect_embed_spans().returning(|text, spans| {
        assert!(spans.iter().all(|r| text.get(r.clone()).is_some()));
        Ok(spans.iter().map(|_| vec![1.0, 0.0]).collect())
    });
    let vectors = VectorService::new(
        Arc::new(catalog),
        StoreRegistry::new(vec![Arc::new(store)], "pgvector").unwrap(),
        EmbedderRegistry::new(vec![Arc::new(model)], "m").unwrap(),
        HybridOptions::default(),
    );
    let blobs = crate::BlobStore::new(dir).unwrap();
    let files = FileService::new(Arc::new(files), blobs, 1 << 20);
    let limits = SandboxLimits {
        timeout_secs: 1,
        memory_limit_mib: 64,
        max_text_bytes: 1 << 20,
    };
    let sandbox = Sandbox::with_program("/nonexistent".into(), limits);
    IngestService::new(vectors, files, Arc::new(queue), sandbox)
}

/// A queue holding one job, whose writes run and whose `finish` is accepted when
/// `accepted` (the claim is still held), else finds the file re-attached.
fn queue(accepted: bool) -> MockIngestCatalog {
    let mut queue = MockIngestCatalog::new();
    queue
        .expect_claim()
        .times(1)
        .returning(|_| Ok(vec![claim()]));
    queue
        .expect_fenced()
        .returning(|_, _, _, work| futures::executor::block_on(work).map(Some));
    queue
        .expect_finish()
        .times(1)
        .returning(move |_, _, _, _| Ok(accepted));
    queue
        .expect_status()
        .returning(|_, _| Ok(Some(FileStatus::InProgress)));
    queue
}

/// What one run of a worker over `queue` recorded.
fn run_worker(queue: MockIngestCatalog, file_exists: bool) -> Recorded {
    let dir = tempfile::tempdir().unwrap();
    let service = service(queue, MockCatalog::new(), file_exists, dir.path());
    let (ran, recorded) = recorded(async {
        service.files.blobs().write_text("file-1", TEXT).await?;
        Ingestor::new(service.clone(), 60, 3).run_once().await
    });
    assert!(ran.unwrap(), "the job was claimed");
    recorded
}

#[test]
fn a_doomed_job_is_not_run_its_chunks_are_removed_and_it_fails() {
    let error = store_core::crashed_too_often(3);
    let mut queue = MockIngestCatalog::new();
    let doomed = Claim {
        doomed: Some(error.clone()),
        ..claim()
    };
    queue
        .expect_claim()
        .times(1)
        .returning(move |_| Ok(vec![doomed.clone()]));
    // The removal of what earlier tries wrote runs under the claim.
    queue
        .expect_fenced()
        .times(1)
        .returning(|_, _, _, work| futures::executor::block_on(work).map(Some));
    queue
        .expect_finish()
        .times(1)
        .withf(move |_, _, token, outcome| {
            token == "token-1" && *outcome == JobOutcome::Failed(error.clone())
        })
        .returning(|_, _, _, _| Ok(true));
    // The file is never read: it does not exist.
    let recorded = run_worker(queue, false);
    assert_eq!(jobs(&recorded, "failed"), 1);
    assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
}

#[test]
fn a_passing_fault_is_retried_until_the_retries_run_out() {
    let dir = tempfile::tempdir().unwrap();
    let service = service(
        MockIngestCatalog::new(),
        MockCatalog::new(),
        true,
        dir.path(),
    );
    let worker = Ingestor::new(service, 60, 3).with_max_retries(2);
    let outcome = |retries| {
        let job = AttachedFile {
            retries,
            ..claim().job
        };
        match worker.on_error(&job, ServiceError::internal_msg("down")) {
            Ended::Outcome(o) => o,
            Ended::ClaimLost => panic!("not a lost claim"),
        }
    };
    assert_eq!(outcome(0), JobOutcome::Retry);
    assert_eq!(outcome(1), JobOutcome::Retry);
    assert_eq!(
        outcome(2),
        JobOutcome::Failed(store_core::retries_used_up(2))
    );
}

#[tokio::test]
async fn a_worker_claims_only_what_its_back_ends_and_models_can_run() {
    let mut queue = MockIngestCatalog::new();
    queue
        .expect_claim()
        .times(1)
        .withf(|r| {
            r.runnable
                == Some(Runnable {
                    backends: vec!["pgvector".into()],
                    models: vec!["m".into()],
                })
        })
        .returning(|_| Ok(vec![]));
    let dir = tempfile::tempdir().unwrap();
    let service = service(queue, MockCatalog::new(), true, dir.path());
    let worker = Ingestor::new(service, 60, 3).claiming_only_runnable();
    assert!(!worker.run_once().await.unwrap());
}

fn jobs(recorded: &Recorded, outcome: &str) -> u64 {
    counter(recorded, INGESTION_JOBS, &[("outcome", outcome)])
}

#[test]
fn a_completed_job_counts_once_with_its_chunks_and_its_files_bytes() {
    let chunks = text::chunk(TEXT, CHUNK_TOKENS as usize, 0).len() as u64;
    assert!(chunks > 1, "{chunks}");
    let recorded = run_worker(queue(true), true);
    assert_eq!(jobs(&recorded, "completed"), 1);
    assert_eq!(jobs(&recorded, "failed"), 0);
    assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), chunks);
    assert_eq!(counter(&recorded, INGESTION_BYTES, &[]), FILE_BYTES);
    // The chunk writes went through the instrumented back-end.
    let upsert = [("backend", "pgvector"), ("operation", "upsert")];
    assert_eq!(
        counter(&recorded, store_core::metrics::BACKEND_REQUESTS, &upsert),
        1
    );
}

#[test]
fn a_job_whose_claim_was_taken_over_is_not_counted() {
    let recorded = run_worker(queue(false), true);
    for outcome in ["completed", "failed", "cancelled"] {
        assert_eq!(jobs(&recorded, outcome), 0, "{outcome}");
    }
    assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
    assert_eq!(counter(&recorded, INGESTION_BYTES, &[]), 0);
}

#[test]
fn a_failed_job_counts_as_failed_with_no_chunks() {
    let recorded = run_worker(queue(true), false);
    assert_eq!(jobs(&recorded, "failed"), 1);
    assert_eq!(jobs(&recorded, "completed"), 0);
    assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 0);
}

#[test]
fn the_files_a_cancel_ends_are_counted_cancelled() {
    let mut queue = MockIngestCatalog::new();
    queue.expect_cancel_batch().returning(|tenant_id, vs, id| {
        let batch = Batch {
            id: id.into(),
            vector_store_id: vs.into(),
            tenant_id: tenant_id.into(),
            created_at: 0,
            cancelled: true,
        };
        Ok((batch, 2))
    });
    let dir = tempfile::tempdir().unwrap();
    let service = service(queue, MockCatalog::new(), true, dir.path());
    let tenant = Tenant::new("t1", "acme");
    let (batch, recorded) = recorded(service.cancel_batch(&tenant, &record(), "vsfb_1"));
    assert!(batch.unwrap().cancelled);
    assert_eq!(jobs(&recorded, "cancelled"), 2);
}

#[test]
fn sampling_sets_the_queue_depth_and_the_pool_gauges() {
    let mut queue = MockIngestCatalog::new();
    queue.expect_queue_depth().times(1).returning(|| Ok(5));
    let mut catalog = MockCatalog::new();
    catalog.expect_pool_status().return_const(Some(PoolStatus {
        size: 4,
        in_use: 3,
        waiting: 2,
    }));
    let dir = tempfile::tempdir().unwrap();
    let service = service(queue, catalog, true, dir.path());
    let (sampled, recorded) = recorded(service.sample_gauges());
    sampled.unwrap();
    assert_eq!(gauge(&recorded, INGESTION_QUEUE_DEPTH), Some(5.0));
    assert_eq!(gauge(&recorded, DB_POOL_CONNECTIONS), Some(4.0));
    assert_eq!(gauge(&recorded, DB_POOL_IN_USE), Some(3.0));
    assert_eq!(gauge(&recorded, DB_POOL_WAITING), Some(2.0));
}

#[test]
fn without_a_pool_only_the_queue_depth_is_sampled() {
    let mut queue = MockIngestCatalog::new();
    queue.expect_queue_depth().returning(|| Ok(0));
    let mut catalog = MockCatalog::new();
    catalog.expect_pool_status().return_const(None);
    let dir = tempfile::tempdir().unwrap();
    let service = service(queue, catalog, true, dir.path());
    let (sampled, recorded) = recorded(service.sample_gauges());
    sampled.unwrap();
    assert_eq!(gauge(&recorded, INGESTION_QUEUE_DEPTH), Some(0.0));
    assert_eq!(gauge(&recorded, DB_POOL_CONNECTIONS), None);
}
