//! By-query calls against a scripted cluster, with the answers Elasticsearch gives: a task to
//! follow, a start without an answer, failures without an `error`, no tasks API.

use serde_json::{Value, json};
use store_core::{CollectionSpec, ErrorKind, StoreResult};

use super::super::fake::{self, Reply, Seen};
use super::*;

const PATH: &str = "/vectorstore_c/_delete_by_query";

fn spec() -> CollectionSpec {
    CollectionSpec::new("c", 2).unwrap()
}

/// Deletes every chunk of the collection, as `delete_all` does.
async fn delete_all(store: &ElasticStore) -> StoreResult<u64> {
    let body = json!({"query": {"match_all": {}}});
    store.by_query(&spec(), ByQuery::Delete, &body).await
}

/// A by-query answer as Elasticsearch writes it.
fn by_query_response(deleted: u64, failures: Value) -> Value {
    json!({
        "took": 147, "timed_out": false, "total": 119, "deleted": deleted, "batches": 1,
        "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0},
        "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0,
        "failures": failures
    })
}

/// `GET _tasks/<id>` of a by-query task, running or completed with `response`.
fn task(completed: bool, response: Option<Value>) -> Value {
    let mut reply = json!({
        "completed": completed,
        "task": {
            "node": "oTUltX4IQMOUUVeiohTt8A", "id": 12345, "type": "transport",
            "action": "indices:data/write/delete/byquery", "cancellable": true,
            "cancelled": false, "start_time_in_millis": 1_458_585_884_904u64,
            "running_time_in_nanos": 47_402, "headers": {},
            "status": {"total": 119, "updated": 0, "created": 0, "deleted": 20, "batches": 1,
                "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0},
                "throttled_millis": 0, "requests_per_second": -1.0,
                "throttled_until_millis": 0}
        }
    });
    if let Some(r) = response {
        reply["response"] = r;
    }
    reply
}

fn started(seen: &[Seen]) -> usize {
    seen.iter()
        .filter(|s| s.method == "POST" && s.path() == PATH)
        .count()
}

/// A cluster with the tasks API whose by-query task runs for two looks and then completes
/// with `response`; `start` answers the start requests (given how many came so far). The
/// task is listed by its opaque id when `listed`.
async fn tasking(start: fn(usize) -> Reply, response: Value) -> (ElasticStore, fake::Log) {
    cluster_with_task(start, response, true).await
}

async fn cluster_with_task(
    start: fn(usize) -> Reply,
    response: Value,
    listed: bool,
) -> (ElasticStore, fake::Log) {
    let (url, log) = fake::cluster(move |seen| {
        let last = seen.last().unwrap();
        match (last.method.as_str(), last.path()) {
            ("POST", PATH) => start(started(seen)),
            ("GET", "/_tasks") => {
                let opaque = seen
                    .iter()
                    .find_map(|s| s.header("x-opaque-id"))
                    .unwrap_or_default();
                let listed = if listed && last.param("detailed").is_some() {
                    json!({"oTUltX4IQMOUUVeiohTt8A:12345": {
                        "action": "indices:data/write/delete/byquery",
                        "headers": {"X-Opaque-Id": opaque}}})
                } else {
                    json!({})
                };
                Reply::Json(
                    200,
                    json!({"nodes": {"oTUltX4IQMOUUVeiohTt8A": {"tasks": listed}}}),
                )
            }
            ("GET", "/_tasks/oTUltX4IQMOUUVeiohTt8A:12345") => {
                let looks = seen.iter().filter(|s| s.path() == last.path()).count();
                if looks <= 2 {
                    Reply::Json(200, task(false, None))
                } else {
                    Reply::Json(200, task(true, Some(response.clone())))
                }
            }
            _ => Reply::Json(404, json!({"error": {"type": "unexpected", "reason": "?"}})),
        }
    })
    .await;
    (fake::store(url, 1, 2), log)
}

fn task_started(_: usize) -> Reply {
    Reply::Json(200, json!({"task": "oTUltX4IQMOUUVeiohTt8A:12345"}))
}

#[tokio::test]
async fn a_by_query_call_runs_as_a_task_followed_to_its_end() {
    let (store, log) = tasking(task_started, by_query_response(119, json!([]))).await;
    assert_eq!(delete_all(&store).await.unwrap(), 119);
    let seen = log.lock().unwrap().clone();
    assert_eq!(started(&seen), 1);
    let start = seen.iter().find(|s| s.path() == PATH).unwrap();
    assert_eq!(start.param("wait_for_completion"), Some("false"));
    assert!(start.header("x-opaque-id").is_some());
    let looks = seen
        .iter()
        .filter(|s| s.path().starts_with("/_tasks/"))
        .count();
    assert_eq!(looks, 3);
}

#[tokio::test]
async fn a_start_without_an_answer_is_followed_by_its_opaque_id_not_started_again() {
    let (store, log) = tasking(|_| Reply::Hang, by_query_response(7, json!([]))).await;
    assert_eq!(delete_all(&store).await.unwrap(), 7);
    assert_eq!(started(&log.lock().unwrap()), 1);
}

#[tokio::test]
async fn a_proxy_page_for_the_start_is_a_passing_failure_tried_again() {
    fn gateway_then_task(n: usize) -> Reply {
        if n == 1 {
            Reply::Raw {
                status: 502,
                headers: vec![("content-type", "text/html".into())],
                body: "<html><head><title>502 Bad Gateway</title></head></html>".into(),
            }
        } else {
            task_started(n)
        }
    }
    // The failed start made no task: none is listed.
    let (store, log) =
        cluster_with_task(gateway_then_task, by_query_response(3, json!([])), false).await;
    assert_eq!(delete_all(&store).await.unwrap(), 3);
    assert_eq!(started(&log.lock().unwrap()), 2);
}

#[tokio::test]
async fn failures_without_an_error_object_report_their_reason_and_the_work_done() {
    let failures = json!([{
        "index": "vectorstore_c", "id": "f:3",
        "cause": {"type": "mapper_parsing_exception",
                  "reason": "failed to parse field [attr.n.size] of type [double]"},
        "status": 400
    }]);
    let (store, _) = tasking(task_started, by_query_response(20, failures)).await;
    let e = delete_all(&store).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    let text = e.to_string();
    assert!(text.contains("failed to parse field"), "{text}");
    assert!(text.contains("20 chunks were deleted"), "{text}");

    let missing = json!([{
        "index": "vectorstore_c", "id": "f:3", "status": 404,
        "cause": {"type": "document_missing_exception", "reason": "[f:3]: document missing"}
    }]);
    let (store, _) = tasking(task_started, by_query_response(2, missing)).await;
    let e = delete_all(&store).await.unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::Internal,
        "not a missing collection: {e}"
    );
}

#[tokio::test]
async fn a_cluster_that_answers_the_start_with_the_final_answer_needs_no_task() {
    // As the emulator does: `wait_for_completion=false` is run to its end.
    fn at_once(_: usize) -> Reply {
        Reply::Json(200, by_query_response(5, json!([])))
    }
    let (store, log) = tasking(at_once, json!({})).await;
    assert_eq!(delete_all(&store).await.unwrap(), 5);
    let seen = log.lock().unwrap().clone();
    assert!(!seen.iter().any(|s| s.path().starts_with("/_tasks/")));
}

#[tokio::test]
async fn without_the_tasks_api_calls_wait_for_their_answer_and_it_is_learnt_once() {
    let (url, log) = fake::cluster(|seen| {
        let last = seen.last().unwrap();
        if last.path() == "/_tasks" {
            return Reply::Json(
                403,
                json!({"error": {"type": "security_exception",
                    "reason": "action [cluster:monitor/tasks/lists] is unauthorized"},
                    "status": 403}),
            );
        }
        Reply::Json(200, by_query_response(4, json!([])))
    })
    .await;
    let store = fake::store(url, 5, 0);
    for _ in 0..2 {
        assert_eq!(delete_all(&store).await.unwrap(), 4);
    }
    let seen = log.lock().unwrap().clone();
    assert_eq!(seen.iter().filter(|s| s.path() == "/_tasks").count(), 1);
    assert!(
        seen.iter()
            .filter(|s| s.path() == PATH)
            .all(|s| s.param("wait_for_completion").is_none())
    );
}

#[tokio::test]
async fn a_task_that_outlasts_the_wait_is_left_running_and_not_started_again() {
    let (url, log) = fake::cluster(|seen| {
        let last = seen.last().unwrap();
        match last.path() {
            "/_tasks" => Reply::Json(200, json!({"nodes": {}})),
            PATH => task_started(1),
            _ => Reply::Json(200, task(false, None)),
        }
    })
    .await;
    let store = ElasticStore::new(crate::ElasticOptions {
        url,
        task_timeout_secs: 1,
        ..crate::ElasticOptions::default()
    })
    .unwrap();
    let e = delete_all(&store).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unavailable, "{e}");
    assert!(e.to_string().contains("left running"), "{e}");
    assert_eq!(started(&log.lock().unwrap()), 1);
}

#[tokio::test]
async fn a_task_that_cannot_be_found_is_not_a_missing_collection() {
    let (url, _) = fake::cluster(|seen| {
        let last = seen.last().unwrap();
        match last.path() {
            "/_tasks" => Reply::Json(200, json!({"nodes": {}})),
            PATH => task_started(1),
            _ => Reply::Json(
                404,
                json!({"error": {"type": "index_not_found_exception",
                    "reason": "no such index [.tasks]"}, "status": 404}),
            ),
        }
    })
    .await;
    let store = fake::store(url, 5, 0);
    let e = delete_all(&store).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Internal, "{e}");
}

#[test]
fn a_completed_task_gives_its_response_or_its_error() {
    let ok = task(true, Some(by_query_response(1, json!([]))));
    assert_eq!(task_result(&ok).unwrap()["deleted"], 1);
    let mut failed = task(true, None);
    failed["error"] = json!({"type": "es_rejected_execution_exception",
        "reason": "rejected execution of TimedRunnable"});
    assert!(task_result(&failed).unwrap_err().is_overload());
    assert!(task_result(&task(true, None)).is_err());
}
