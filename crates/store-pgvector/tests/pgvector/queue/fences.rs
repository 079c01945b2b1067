//! Fenced chunk writes: an old claim can change nothing once the file is re-attached, a
//! re-attach waits for a write in flight, and jobs claimed together end together.

use store_core::{AttachedFile, ClaimRequest, FileStatus, IngestCatalog, JobOutcome};

use super::{attached, catalog};

#[tokio::test]
async fn a_reattached_file_refuses_the_old_claims_renewals_writes_and_finish() {
    let catalog = catalog("reattach").await;
    let file = attached(&catalog, "reattach").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    let old = catalog
        .claim(ClaimRequest::new(60, 5, 1))
        .await
        .unwrap()
        .pop()
        .expect("a job");
    assert_eq!(old.job.file_id, id);

    // Re-attached while the first worker runs: the first claim is over.
    catalog.attach(file.clone()).await.unwrap();
    assert!(!catalog.renew(&vs, &id, &old.token, 60).await.unwrap());
    let wrote = catalog
        .fenced(&vs, &id, &old.token, Box::pin(async { Ok(1) }))
        .await
        .unwrap();
    assert_eq!(wrote, None, "the old claim may not write chunks");

    // The new claim has the same attempt number (attempts were reset) but its own token.
    let new = catalog
        .claim(ClaimRequest::new(60, 5, 1))
        .await
        .unwrap()
        .pop()
        .expect("claimed again");
    assert_eq!(new.job.attempts, old.job.attempts);
    assert_ne!(new.token, old.token);
    assert!(
        !catalog
            .finish(
                &vs,
                &id,
                &old.token,
                JobOutcome::Completed { usage_bytes: 1 }
            )
            .await
            .unwrap(),
        "the old claim may not finish the job"
    );
    assert!(catalog.renew(&vs, &id, &new.token, 60).await.unwrap());
    assert_eq!(
        catalog
            .fenced(&vs, &id, &new.token, Box::pin(async { Ok(7) }))
            .await
            .unwrap(),
        Some(7)
    );
    assert!(
        catalog
            .finish(
                &vs,
                &id,
                &new.token,
                JobOutcome::Completed { usage_bytes: 9 }
            )
            .await
            .unwrap()
    );
    let done = catalog.attached(&file.tenant_id, &vs, &id).await.unwrap();
    assert_eq!(done.status, FileStatus::Completed);
    assert_eq!(done.usage_bytes, 9);
}

#[tokio::test]
async fn a_reattach_waits_for_a_fenced_write_in_flight() {
    let catalog = std::sync::Arc::new(catalog("inflight").await);
    let file = attached(&catalog, "inflight").await;
    let (vs, id) = (file.vector_store_id.clone(), file.file_id.clone());
    let claim = catalog
        .claim(ClaimRequest::new(60, 5, 1))
        .await
        .unwrap()
        .pop()
        .expect("a job");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
    let writer = {
        let (catalog, vs, id, token) = (catalog.clone(), vs.clone(), id.clone(), claim.token);
        tokio::spawn(async move {
            catalog
                .fenced(
                    &vs,
                    &id,
                    &token,
                    Box::pin(async move {
                        started_tx.send(()).unwrap();
                        release_rx.await.unwrap();
                        Ok(1)
                    }),
                )
                .await
        })
    };
    started_rx.await.unwrap();
    let reattach = {
        let (catalog, file) = (catalog.clone(), file.clone());
        tokio::spawn(async move { catalog.attach(file).await })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !reattach.is_finished(),
        "the re-attach waits for the write in flight"
    );
    release_tx.send(()).unwrap();
    assert_eq!(writer.await.unwrap().unwrap(), Some(1));
    reattach.await.unwrap().unwrap();
}

#[tokio::test]
async fn jobs_claimed_together_are_written_and_ended_together_while_their_claims_hold() {
    let catalog = catalog("group").await;
    let first = attached(&catalog, "group").await;
    let vs = first.vector_store_id.clone();
    let mut files = vec![first.clone()];
    for i in 1..4 {
        files.push(
            catalog
                .attach(AttachedFile {
                    file_id: format!("file-group-{i}"),
                    ..first.clone()
                })
                .await
                .unwrap(),
        );
    }
    let claims = catalog.claim(ClaimRequest::new(60, 5, 3)).await.unwrap();
    let ids: Vec<&str> = claims.iter().map(|c| c.job.file_id.as_str()).collect();
    assert_eq!(
        ids,
        ["file-group", "file-group-1", "file-group-2"],
        "the oldest, in order"
    );
    let rest = catalog.claim(ClaimRequest::new(60, 5, 3)).await.unwrap();
    assert_eq!(rest.len(), 1, "the others are taken");

    // The second file is re-attached meanwhile: its claim no longer holds.
    catalog.attach(files[1].clone()).await.unwrap();
    let jobs = || {
        claims
            .iter()
            .map(|c| (c.job.file_id.clone(), c.token.clone()))
            .collect::<Vec<_>>()
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let held = catalog
        .fenced_group(
            &vs,
            jobs(),
            Box::new(move |held| {
                Box::pin(async move {
                    tx.send(held).unwrap();
                    Ok(0)
                })
            }),
        )
        .await
        .unwrap();
    assert_eq!(held, ["file-group", "file-group-2"]);
    assert_eq!(rx.await.unwrap(), held, "the work is given the held jobs");

    let done = catalog
        .finish_completed(
            &vs,
            claims
                .iter()
                .map(|c| (c.job.file_id.clone(), c.token.clone(), 5))
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(done.len(), 2);
    for (file, status) in [
        ("file-group", FileStatus::Completed),
        ("file-group-1", FileStatus::InProgress),
        ("file-group-2", FileStatus::Completed),
    ] {
        let f = catalog.attached(&first.tenant_id, &vs, file).await.unwrap();
        assert_eq!(f.status, status, "{file}");
        assert_eq!(
            f.usage_bytes,
            if status == FileStatus::Completed {
                5
            } else {
                0
            }
        );
    }
    // Ended claims hold nothing more: no work runs for them.
    let none = catalog
        .fenced_group(
            &vs,
            jobs(),
            Box::new(|_| Box::pin(async { panic!("no claim holds") })),
        )
        .await
        .unwrap();
    assert!(none.is_empty());
}
