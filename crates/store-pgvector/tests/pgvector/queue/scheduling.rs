//! Which job is claimed when: tries used up, files that keep stopping servers, hand-backs,
//! retries with back-off, the back-ends and models a server has; the queue's depth and counts.

use store_core::{
    AttachedFile, Batch, Catalog, ClaimRequest, FileStatus, IngestCatalog, JobOutcome, StaleUsage,
    now_unix,
};

use super::{attached, attached_on, catalog, insert_file_of};

#[tokio::test]
async fn a_job_whose_tries_are_used_up_fails_instead_of_running_again() {
    let catalog = catalog("spent").await;
    let file = attached(&catalog, "spent").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    // Two workers each die holding it (their leases of 0 s run out at once).
    for attempt in 1..=2 {
        let c = catalog
            .claim(ClaimRequest::new(0, 2, 1))
            .await
            .unwrap()
            .pop()
            .expect("claimed");
        assert_eq!(c.job.attempts, attempt);
        // A lease ends a second after its length, rounded to whole seconds.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    }
    // The third claim is doomed: its holder removes what was written and fails it.
    let c = catalog
        .claim(ClaimRequest::new(30, 2, 1))
        .await
        .unwrap()
        .pop()
        .expect("claimed doomed");
    let e = c.doomed.clone().expect("doomed");
    assert_eq!(e.code, "server_error");
    assert!(e.message.contains("2 tries"), "{}", e.message);
    let f = catalog.attached(&file.tenant_id, &vs, &id).await.unwrap();
    assert_eq!(
        f.status,
        FileStatus::InProgress,
        "failed only by its holder"
    );
    assert!(
        catalog
            .finish(&vs, &id, &c.token, JobOutcome::Failed(e))
            .await
            .unwrap()
    );
    let f = catalog.attached(&file.tenant_id, &vs, &id).await.unwrap();
    assert_eq!(f.status, FileStatus::Failed);
    assert!(f.last_error.unwrap().message.contains("2 tries"));
}

#[tokio::test]
async fn a_file_that_keeps_stopping_servers_is_not_tried_again_even_when_reattached() {
    let catalog = catalog("crashes").await;
    let file = attached(&catalog, "crashes").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    insert_file_of(&catalog, &file).await;
    // Three servers die holding it; after each of the first two deaths the file is attached
    // again, which starts its tries afresh (attempts 1 each time) but not its count of crashes.
    for crash in 1..=3 {
        let c = catalog
            .claim(ClaimRequest::new(0, 3, 1))
            .await
            .unwrap()
            .pop()
            .expect("claimed");
        assert_eq!(c.job.attempts, 1, "crash {crash}");
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        if crash < 3 {
            catalog.attach(file.clone()).await.unwrap();
        }
    }
    let doomed = |c: Option<store_core::Claim>| {
        let c = c.expect("claimed doomed");
        let e = c.doomed.clone().expect("doomed");
        assert_eq!(e.code, "server_error");
        assert!(
            e.message.contains("stopped a server 3 times"),
            "{}",
            e.message
        );
        c
    };
    let c = doomed(
        catalog
            .claim(ClaimRequest::new(30, 3, 1))
            .await
            .unwrap()
            .pop(),
    );
    assert!(
        catalog
            .finish(
                &vs,
                &id,
                &c.token,
                JobOutcome::Failed(c.doomed.clone().unwrap())
            )
            .await
            .unwrap()
    );
    let f = catalog.attached(&file.tenant_id, &vs, &id).await.unwrap();
    assert_eq!(f.status, FileStatus::Failed);
    // Attached again, it is doomed at once rather than take a server down again.
    catalog.attach(file.clone()).await.unwrap();
    doomed(
        catalog
            .claim(ClaimRequest::new(30, 3, 1))
            .await
            .unwrap()
            .pop(),
    );
}

#[tokio::test]
async fn a_handed_back_claim_spends_no_attempt_and_is_claimed_again_at_once() {
    let catalog = catalog("handback").await;
    let file = attached(&catalog, "handback").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    insert_file_of(&catalog, &file).await;
    // With one attempt allowed, a hand-back that spent it would fail the job on its next claim.
    for _ in 0..3 {
        let c = catalog
            .claim(ClaimRequest::new(30, 1, 1))
            .await
            .unwrap()
            .pop()
            .expect("handed-back jobs are claimed again at once, and spend no attempt");
        assert_eq!(c.job.attempts, 1);
        assert_eq!(c.job.retries, 0);
        assert!(
            catalog
                .finish(&vs, &id, &c.token, JobOutcome::HandBack)
                .await
                .unwrap()
        );
    }
    let f = catalog.attached(&file.tenant_id, &vs, &id).await.unwrap();
    assert_eq!(f.status, FileStatus::InProgress);
}

#[tokio::test]
async fn a_retried_job_spends_no_attempt_and_waits_a_back_off_that_doubles() {
    let catalog = catalog("retry").await;
    let file = attached(&catalog, "retry").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    let claim = || async {
        catalog
            .claim(ClaimRequest::new(30, 1, 1))
            .await
            .unwrap()
            .pop()
    };
    let c = claim().await.expect("claimed");
    assert!(
        catalog
            .finish(&vs, &id, &c.token, JobOutcome::Retry)
            .await
            .unwrap()
    );
    assert!(claim().await.is_none(), "a retry waits its back-off");
    // The first back-off is 2 s (stamped in whole seconds: between 1 and 2 s).
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    let c = claim()
        .await
        .expect("claimed after the first back-off, with its attempt given back");
    assert_eq!((c.job.attempts, c.job.retries), (1, 1));
    assert!(
        catalog
            .finish(&vs, &id, &c.token, JobOutcome::Retry)
            .await
            .unwrap()
    );
    // The second is 4 s (stamped in whole seconds: more than 3 s), longer than the first
    // could have been.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(claim().await.is_none(), "the second back-off is longer");
    tokio::time::sleep(std::time::Duration::from_millis(1600)).await;
    let c = claim().await.expect("claimed after the second back-off");
    assert_eq!((c.job.attempts, c.job.retries), (1, 2));
    // Attached again, the job starts afresh.
    catalog.attach(file.clone()).await.unwrap();
    let c = claim().await.expect("a re-attached job is claimed at once");
    assert_eq!((c.job.attempts, c.job.retries), (1, 0));
}

#[tokio::test]
async fn a_server_claims_only_jobs_whose_back_end_and_model_it_has() {
    use store_core::Runnable;
    let catalog = catalog("runnable").await;
    attached_on(&catalog, "runnable", "es", "elasticsearch", Some("m")).await;
    attached_on(&catalog, "runnable", "pg", "pgvector", Some("other")).await;
    let claim = |backends: &[&str], models: &[&str]| {
        let runnable = Runnable {
            backends: backends
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
            models: models
                .iter()
                .map(std::string::ToString::to_string)
                .collect(),
        };
        let catalog = &catalog;
        async move {
            catalog
                .claim(ClaimRequest::new(30, 5, 10).runnable(runnable))
                .await
                .unwrap()
                .into_iter()
                .map(|c| c.job.file_id)
                .collect::<Vec<_>>()
        }
    };
    // Neither: no such back-end with that model here.
    assert!(claim(&["pgvector"], &["m"]).await.is_empty());
    assert!(claim(&["elasticsearch"], &["other"]).await.is_empty());
    assert_eq!(claim(&["pgvector"], &["other"]).await, ["file-pg"]);
    assert_eq!(
        claim(&["pgvector", "elasticsearch"], &["m", "other"]).await,
        ["file-es"]
    );
}

#[tokio::test]
async fn the_queue_depth_counts_files_until_they_end_and_a_cancel_says_how_many_it_ended() {
    let catalog = catalog("depth").await;
    assert_eq!(catalog.queue_depth().await.unwrap(), 0);
    let file = attached(&catalog, "depth").await;
    let (tenant, vs) = (file.tenant_id.clone(), file.vector_store_id.clone());
    assert_eq!(catalog.queue_depth().await.unwrap(), 1);
    let batch = Batch {
        id: "vsfb_depth".into(),
        vector_store_id: vs.clone(),
        tenant_id: tenant.clone(),
        created_at: now_unix(),
        cancelled: false,
    };
    let files = ["a", "b"].map(|f| AttachedFile {
        file_id: format!("file-depth-{f}"),
        batch_id: Some(batch.id.clone()),
        ..file.clone()
    });
    catalog
        .create_batch(batch.clone(), files.to_vec())
        .await
        .unwrap();
    assert_eq!(catalog.queue_depth().await.unwrap(), 3);

    let (cancelled, n) = catalog.cancel_batch(&tenant, &vs, &batch.id).await.unwrap();
    assert!(cancelled.cancelled);
    assert_eq!(n, 2, "both files of the batch were queued");
    assert_eq!(catalog.queue_depth().await.unwrap(), 1);
    let (_, again) = catalog.cancel_batch(&tenant, &vs, &batch.id).await.unwrap();
    assert_eq!(again, 0, "nothing was left to cancel");

    // A job being ingested is in the queue until it ends.
    let claim = catalog
        .claim(ClaimRequest::new(60, 5, 1))
        .await
        .unwrap()
        .pop()
        .expect("a job");
    assert_eq!(catalog.queue_depth().await.unwrap(), 1);
    let outcome = JobOutcome::Completed { usage_bytes: 1 };
    let ended = catalog.finish(&vs, &file.file_id, &claim.token, outcome);
    assert!(ended.await.unwrap());
    assert_eq!(catalog.queue_depth().await.unwrap(), 0);
}

#[tokio::test]
async fn a_collections_counts_follow_its_files_and_its_usage_is_stale_until_counted() {
    let catalog = catalog("stats").await;
    let file = attached(&catalog, "stats").await;
    let vs = file.vector_store_id.clone();
    let stats = || async {
        catalog
            .collection_stats(vec![vs.clone()])
            .await
            .unwrap()
            .pop()
            .unwrap()
    };
    let s = stats().await;
    assert_eq!((s.counts.in_progress, s.counts.total()), (1, 1));
    // A second file, attached in a batch, and the first one completed.
    let second = AttachedFile {
        file_id: "file-stats-2".into(),
        batch_id: Some("vsfb_stats".into()),
        ..file.clone()
    };
    let batch = Batch {
        id: "vsfb_stats".into(),
        vector_store_id: vs.clone(),
        tenant_id: file.tenant_id.clone(),
        created_at: now_unix(),
        cancelled: false,
    };
    catalog.create_batch(batch, vec![second]).await.unwrap();
    let c = catalog
        .claim(ClaimRequest::new(30, 5, 1))
        .await
        .unwrap()
        .pop()
        .unwrap();
    assert_eq!(c.job.file_id, file.file_id);
    let before = stats().await;
    assert_eq!(before.counts.in_progress, 2);
    catalog
        .finish(
            &vs,
            &file.file_id,
            &c.token,
            JobOutcome::Completed { usage_bytes: 10 },
        )
        .await
        .unwrap();
    let s = stats().await;
    assert_eq!(
        (s.counts.in_progress, s.counts.completed, s.counts.total()),
        (1, 1, 2)
    );
    // The completed file may have changed the chunks: the usage is stale until counted.
    assert!(s.changes > before.changes);
    assert!(s.usage_is_stale());
    catalog.record_usage(&vs, s.changes, 1234).await.unwrap();
    let counted = stats().await;
    assert!(!counted.usage_is_stale());
    assert_eq!(counted.counts.usage_bytes, 1234);
    // A raw write makes it stale again; a count that saw fewer changes is dropped.
    catalog.chunks_changed(&vs).await.unwrap();
    catalog.record_usage(&vs, s.changes, 1).await.unwrap();
    let s = stats().await;
    assert!(s.usage_is_stale());
    assert_eq!(s.counts.usage_bytes, 1234);
    // Stale collections of the back-ends asked for are taken for a count; once counted, not
    // again.
    let stale = catalog
        .take_stale_usage(stale_on("pgvector"))
        .await
        .unwrap();
    assert_eq!(
        stale.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        [vs.as_str()]
    );
    assert!(
        catalog
            .take_stale_usage(stale_on("elasticsearch"))
            .await
            .unwrap()
            .is_empty()
    );
    catalog.record_usage(&vs, s.changes, 99).await.unwrap();
    assert!(
        catalog
            .take_stale_usage(stale_on("pgvector"))
            .await
            .unwrap()
            .is_empty()
    );
    // Detaching and cancelling change the counts.
    catalog
        .detach(&file.tenant_id, &vs, &file.file_id)
        .await
        .unwrap();
    catalog
        .cancel_batch(&file.tenant_id, &vs, "vsfb_stats")
        .await
        .unwrap();
    let s = stats().await;
    assert_eq!(
        (s.counts.in_progress, s.counts.completed, s.counts.cancelled),
        (0, 0, 1)
    );
    assert!(s.usage_is_stale());
}

/// The collections on `backend` changed since their last count, at most 10.
fn stale_on(backend: &str) -> StaleUsage {
    StaleUsage {
        backends: vec![backend.into()],
        quiet_secs: 0,
        recount_secs: 60,
        limit: 10,
    }
}
