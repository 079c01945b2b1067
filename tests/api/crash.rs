//! A real crash: the server binary runs as a process of its own, is killed with SIGKILL in the
//! middle of a file batch, and is started again on the same database and files. Every file
//! ends `completed`, with exactly the chunks a clean ingest makes, and no id twice (small files
//! claimed together are written together). A server stopped with SIGTERM hands its jobs back
//! before it finishes the requests in progress.

use std::time::Duration;

use e2e_tests::{Plain, ServerProcess, free_port, own_database};
use serde_json::json;

use crate::batch::Batch;

fn document(i: usize) -> String {
    (0..120)
        .map(|w| {
            format!(
                "Report {i} line {w}: the harbour crane moved {} containers.",
                w * 7 % 13
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn a_server_killed_mid_batch_finishes_it_after_a_restart_with_clean_chunks() {
    let db = own_database("sigkill").await;
    let files = std::env::temp_dir().join(format!("vs-sigkill-{}", uuid::Uuid::new_v4()));
    let port = free_port();
    // One worker claiming two jobs at a time: the files end two by two, in groups written
    // together, and the kill lands between or inside groups.
    let env = [("VECTOR_STORE__INGEST__JOBS_PER_CLAIM", "2")];
    let mut server = ServerProcess::start(&db, &files, port, &env).await;
    let api = Plain::new(&server.base);
    let base = server.base.clone();
    let batch = Batch::start(&api, "report", document).await;
    // Part of the way, then SIGKILL: no shutdown, no cleanup.
    let done = batch.first_done(&api).await;
    server.child.start_kill().unwrap();
    assert!(
        (1..8).contains(&done),
        "killed in the middle of the batch: {done} done"
    );
    let status = server.child.wait().await.unwrap();
    assert!(!status.success(), "killed, not stopped: {status}");
    assert!(
        api.client
            .get(format!("{base}/health"))
            .send()
            .await
            .is_err(),
        "the killed server no longer answers"
    );

    let mut server = ServerProcess::start(&db, &files, port, &env).await;
    batch.assert_clean(&api).await;
    server.child.start_kill().ok();
    server.child.wait().await.ok();
    std::fs::remove_dir_all(files).ok();
}

/// Jobs the database `db` shows claimed by a worker.
async fn claimed_jobs(db: &str) -> i64 {
    use diesel::QueryableByName;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = AsyncPgConnection::establish(db).await.expect("connect");
    let rows: Vec<N> = diesel::sql_query(
        "SELECT count(*) AS n FROM vector_store_files WHERE claim_token IS NOT NULL",
    )
    .load(&mut conn)
    .await
    .expect("count claims");
    rows[0].n
}

#[tokio::test]
async fn on_sigterm_jobs_are_handed_back_before_the_requests_in_progress_are_drained() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let db = own_database("sigterm").await;
    let files = std::env::temp_dir().join(format!("vs-sigterm-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&files).unwrap();
    // A parser that never answers: the worker holds its job until it stops.
    let parser = files.join("hanging-parser.sh");
    std::fs::write(&parser, "#!/bin/sh\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&parser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = [
        ("VECTOR_STORE__INGEST__LEASE_SECS", "60"),
        (
            "VECTOR_STORE__INGEST__EXTRACT__PROGRAM",
            parser.to_str().unwrap(),
        ),
        ("VECTOR_STORE__INGEST__EXTRACT__TIMEOUT_SECS", "60"),
    ];
    let port = free_port();
    let mut server = ServerProcess::start(&db, &files, port, &env).await;
    let api = Plain::new(&server.base);
    let store = api
        .post("/v1/vector_stores", json!({"name": "sigterm"}))
        .await;
    let store = store["id"].as_str().unwrap().to_string();
    let file = api.upload("slow.pdf", b"%PDF-1.4".to_vec()).await;
    api.post(
        &format!("/v1/vector_stores/{store}/files"),
        json!({"file_id": file}),
    )
    .await;
    for _ in 0..100 {
        if claimed_jobs(&db).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(claimed_jobs(&db).await, 1, "the worker took the job");

    // A request in progress: its body arrives over three seconds.
    let body = br#"{"collection": "drained", "dimension": 3}"#;
    let mut conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /v2/collections HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \
         application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    conn.write_all(&body[..5]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pid = server.child.id().expect("running").to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    // The job is handed back at once, while the request is still being received.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        claimed_jobs(&db).await,
        0,
        "the job was still claimed while the server drained its requests"
    );
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server waits for the request in progress"
    );
    // The request in progress is finished, not cut off.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write_all(&body[5..]).await.unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    let stopped = tokio::time::timeout(Duration::from_secs(30), server.child.wait())
        .await
        .expect("the server stops")
        .unwrap();
    assert!(stopped.success(), "{stopped}");
    std::fs::remove_dir_all(files).ok();
}
