//! Tests of the service's metrics, read from a recorder.

use super::testing::{counter, recorded};
use super::*;

#[test]
fn a_job_that_completed_counts_its_chunks_and_bytes_and_one_still_in_progress_nothing() {
    let ((), recorded) = recorded(async {
        job_completed(3, 1200);
        job_completed(2, 800);
        jobs_ended(FileStatus::Cancelled, 4);
        jobs_ended(FileStatus::InProgress, 1);
    });
    let outcome = |o| counter(&recorded, INGESTION_JOBS, &[("outcome", o)]);
    assert_eq!(outcome("completed"), 2);
    assert_eq!(outcome("cancelled"), 4);
    assert_eq!(outcome("in_progress"), 0);
    assert_eq!(counter(&recorded, INGESTION_CHUNKS, &[]), 5);
    assert_eq!(counter(&recorded, INGESTION_BYTES, &[]), 2000);
}
