//! `_delete_by_query` and `_update_by_query`: each run as a cluster task that is started once and
//! followed to its end, its failures and its partial work reported.
//!
//! A by-query call can outlast any sensible request timeout. It is started with
//! `wait_for_completion=false` and an `X-Opaque-Id`, and followed with `GET _tasks/<id>` until
//! it completes (for at most `task_timeout_secs`); the final answer is the task's `response`.
//! When the start request gets no answer, the task it may have made is looked for by its
//! opaque id before it is started again; a by-query that had already finished unseen is run a
//! second time, which deletes or sets nothing more than the first did.
//!
//! Following tasks takes the `monitor` cluster privilege. Without it (or on a cluster without
//! the tasks API), learnt once, by-query calls wait for their answer within the request
//! timeout, and one that times out is not started again.

use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use elasticsearch::http::Method;
use elasticsearch::http::headers::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use store_core::{CollectionSpec, StoreError, StoreResult};

use super::ElasticStore;
use super::transport::{Answer, Payload, Request, backoff, retry_delay};
use crate::error::ElasticError;

/// The first pause between looks at a running task; it doubles up to [`POLL_MAX`].
const POLL_FIRST: Duration = Duration::from_millis(100);
const POLL_MAX: Duration = Duration::from_secs(2);

/// The actions of `_delete_by_query` and `_update_by_query` in the task list.
const BY_QUERY_ACTIONS: &str = "indices:data/write/*byquery";

/// [`TaskApi`] states (0: not learnt yet).
const TASKS: u8 = 1;
const NO_TASKS: u8 = 2;

/// Whether by-query calls run as followed tasks, learnt at the first one.
#[derive(Debug, Default)]
pub(super) struct TaskApi(AtomicU8);

/// The by-query calls the store makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ByQuery {
    Delete,
    SetAttributes,
}

impl ByQuery {
    fn endpoint(self) -> &'static str {
        match self {
            ByQuery::Delete => "_delete_by_query",
            ByQuery::SetAttributes => "_update_by_query",
        }
    }

    /// The answer's count of the documents it changed.
    fn counted(self) -> &'static str {
        match self {
            ByQuery::Delete => "deleted",
            ByQuery::SetAttributes => "updated",
        }
    }

    /// What it does, for messages.
    fn doing(self) -> &'static str {
        match self {
            ByQuery::Delete => "they were being deleted",
            ByQuery::SetAttributes => "their attributes were being set",
        }
    }
}

impl ElasticStore {
    /// Runs a by-query call again while it meets version conflicts or passing failures; the
    /// sum of its `counted` field. Failures after partial work are errors that say how much
    /// was done.
    pub(super) async fn by_query(
        &self,
        spec: &CollectionSpec,
        call: ByQuery,
        body: &Value,
    ) -> StoreResult<u64> {
        let path = format!("/{}/{}", self.index(spec), call.endpoint());
        let mut total = 0;
        for attempt in 0..=self.options.retries {
            let reply = self
                .run_by_query(&path, body)
                .await
                .map_err(|e| e.into_store(&spec.name))?;
            total += (reply.get(call.counted()))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if let Some(e) = failure_of(&reply) {
                if e.is_transient() && attempt < self.options.retries {
                    tracing::debug!(error = %e, attempt, path, "running a by-query call again");
                    tokio::time::sleep(retry_delay(&e, attempt)).await;
                    continue;
                }
                return Err(partial(e.into_store(&spec.name), total, call.counted()));
            }
            let conflicts = reply
                .get("version_conflicts")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if conflicts == 0 {
                return Ok(total);
            }
            tokio::time::sleep(backoff(attempt)).await;
        }
        Err(StoreError::conflict(format!(
            "chunks of collection {} kept changing while {}; try again",
            spec.name,
            call.doing()
        )))
    }

    /// The final answer of one by-query call (with its `failures`, if any).
    async fn run_by_query(&self, path: &str, body: &Value) -> Result<Value, ElasticError> {
        if self.tasks_usable().await? {
            self.by_query_task(path, body).await
        } else {
            self.by_query_waiting(path, body).await
        }
    }

    /// Whether tasks can be followed here; asked of the cluster once.
    async fn tasks_usable(&self) -> Result<bool, ElasticError> {
        match self.tasks.0.load(Ordering::Relaxed) {
            TASKS => return Ok(true),
            NO_TASKS => return Ok(false),
            _ => {}
        }
        let answer = self
            .exchange(Request {
                method: Method::Get,
                path: "/_tasks",
                params: &[("actions", BY_QUERY_ACTIONS)],
                payload: Payload::Empty,
                headers: &HeaderMap::new(),
            })
            .await?;
        let usable = match answer.status {
            200..=299 => true,
            400 | 403 | 404 | 405 | 410 | 501 => {
                tracing::warn!(
                    status = answer.status,
                    "Elasticsearch tasks cannot be followed (the monitor cluster privilege is \
                     missing, or the cluster has no tasks API): deletes and attribute updates \
                     wait for their answer within the request timeout"
                );
                false
            }
            _ => return answer.into_result().map(|_| false),
        };
        self.tasks
            .0
            .store(if usable { TASKS } else { NO_TASKS }, Ordering::Relaxed);
        Ok(usable)
    }

    /// Starts the call as a task (once) and follows it.
    async fn by_query_task(&self, path: &str, body: &Value) -> Result<Value, ElasticError> {
        let id = format!("vector-store-by-query-{}", uuid::Uuid::new_v4());
        let mut headers = HeaderMap::new();
        headers.insert(
            HeaderName::from_static("x-opaque-id"),
            HeaderValue::from_str(&id).map_err(|e| ElasticError::Decode(e.to_string()))?,
        );
        let params = [
            ("wait_for_completion", "false"),
            ("refresh", "true"),
            ("conflicts", "proceed"),
        ];
        let mut attempt = 0;
        loop {
            let e = match self.post_by_query(path, &params, body, &headers).await {
                Ok(reply) => {
                    return match reply.get("task").and_then(Value::as_str) {
                        Some(task) => self.follow(task).await,
                        // A cluster that ran the call before answering.
                        None => Ok(reply),
                    };
                }
                Err(e) => e,
            };
            if !e.is_transient() {
                return Err(e);
            }
            // The start may have reached the cluster: follow the task it made, if it still
            // runs, rather than start another.
            if let Some(task) = self.task_with_opaque_id(&id).await {
                return self.follow(&task).await;
            }
            if attempt >= self.options.retries {
                return Err(e);
            }
            tokio::time::sleep(retry_delay(&e, attempt)).await;
            attempt += 1;
        }
    }

    /// The id of the running by-query task sent with `X-Opaque-Id: id`.
    async fn task_with_opaque_id(&self, id: &str) -> Option<String> {
        let params = [("actions", BY_QUERY_ACTIONS), ("detailed", "true")];
        match self
            .send(Method::Get, "/_tasks", &params, Payload::Empty)
            .await
        {
            Ok(reply) => task_of(&reply, id),
            Err(e) => {
                tracing::warn!(request = id, error = %e,
                    "could not learn whether a by-query call without an answer runs");
                None
            }
        }
    }

    /// Waits for `task` to complete; its final answer.
    async fn follow(&self, task: &str) -> Result<Value, ElasticError> {
        let waited = Duration::from_secs(self.options.task_timeout_secs.max(1));
        let deadline = Instant::now() + waited;
        let path = format!("/_tasks/{task}");
        let mut pause = POLL_FIRST;
        loop {
            match self
                .exchange(Request {
                    method: Method::Get,
                    path: &path,
                    params: &[],
                    payload: Payload::Empty,
                    headers: &HeaderMap::new(),
                })
                .await
                .and_then(Answer::into_result)
            {
                Ok(reply) if reply.get("completed") == Some(&Value::Bool(true)) => {
                    return task_result(&reply);
                }
                Ok(_) => {}
                // The task runs on whatever this request met.
                Err(e) if e.is_transient() => {
                    tracing::debug!(error = %e, task, "could not look at a by-query task");
                }
                // Not an error of the call's collection (a 404 here is the task's).
                Err(e) => {
                    return Err(ElasticError::Decode(format!(
                        "task {task} could not be followed: {e}"
                    )));
                }
            }
            if Instant::now() + pause > deadline {
                return Err(ElasticError::StillRunning {
                    task: task.to_string(),
                    secs: waited.as_secs(),
                });
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(POLL_MAX);
        }
    }

    /// Runs the call and waits for its answer; only a refusal is tried again, as a call
    /// without an answer may still run.
    async fn by_query_waiting(&self, path: &str, body: &Value) -> Result<Value, ElasticError> {
        let params = [("refresh", "true"), ("conflicts", "proceed")];
        let mut attempt = 0;
        loop {
            let e = match self
                .post_by_query(path, &params, body, &HeaderMap::new())
                .await
            {
                Ok(reply) => return Ok(reply),
                Err(e) => e,
            };
            if !was_refused(&e) || attempt >= self.options.retries {
                return Err(e);
            }
            tokio::time::sleep(retry_delay(&e, attempt)).await;
            attempt += 1;
        }
    }

    /// Sends one by-query request: the body of a success, or of an error status that is a
    /// by-query answer ([`by_query_answer`]); any other answer is an error.
    async fn post_by_query(
        &self,
        path: &str,
        params: &[(&str, &str)],
        body: &Value,
        headers: &HeaderMap,
    ) -> Result<Value, ElasticError> {
        let answer = self
            .exchange(Request {
                method: Method::Post,
                path,
                params,
                payload: Payload::Json(body),
                headers,
            })
            .await?;
        if answer.is_success() {
            Ok(answer.body.unwrap_or_default())
        } else {
            by_query_answer(answer)
        }
    }
}

/// The call surely did not run: the cluster refused it (429, 503), or no connection was made.
fn was_refused(e: &ElasticError) -> bool {
    match e {
        ElasticError::Transport(t) => !t.is_timeout() && t.status_code().is_none(),
        ElasticError::Response { .. } | ElasticError::Status { .. } => {
            matches!(e.status(), Some(429 | 503)) && e.is_transient()
        }
        ElasticError::Decode(_) | ElasticError::StillRunning { .. } => false,
    }
}

/// An error status whose body is a by-query answer (failures, and no `error`) is that
/// answer; any other is an error.
fn by_query_answer(answer: Answer) -> Result<Value, ElasticError> {
    match &answer.body {
        Some(body)
            if body.get("failures").is_some_and(Value::is_array) && body.get("error").is_none() =>
        {
            Ok(body.clone())
        }
        Some(_) | None => Err(match answer.into_result() {
            Err(e) => e,
            Ok(_) => ElasticError::Decode("an error status read as success".into()),
        }),
    }
}

/// The final answer of a completed task: its `response`, or its `error`.
fn task_result(reply: &Value) -> Result<Value, ElasticError> {
    if let Some(error) = reply.get("error").filter(|e| e.is_object()) {
        let kind = error
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Err(ElasticError::caused(ElasticError::status_of(kind), error));
    }
    reply
        .get("response")
        .filter(|r| r.is_object())
        .cloned()
        .ok_or_else(|| ElasticError::Decode("a completed task without a response".into()))
}

/// Why a by-query answer stopped early: its first failure (with its status), or its time-out.
fn failure_of(reply: &Value) -> Option<ElasticError> {
    if let Some(first) = reply
        .get("failures")
        .and_then(Value::as_array)
        .and_then(|f| f.first())
    {
        let cause = first
            .get("cause")
            .or_else(|| first.get("reason"))
            .cloned()
            .unwrap_or_default();
        let kind = cause
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let status = first
            .get("status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok())
            .unwrap_or_else(|| ElasticError::status_of(kind));
        return Some(ElasticError::caused(status, &cause));
    }
    (reply.get("timed_out") == Some(&Value::Bool(true))).then(|| ElasticError::Response {
        status: 503,
        kind: "timeout".into(),
        reason: "a step of the call timed out".into(),
        permanent: false,
        retry_after: None,
    })
}

/// `e`, saying how much work was done before it.
fn partial(e: StoreError, done: u64, counted: &str) -> StoreError {
    let note = |m: String| format!("{m} ({done} chunks were {counted} before it stopped)");
    match e {
        StoreError::InvalidInput { message, field } => StoreError::InvalidInput {
            message: note(message),
            field,
        },
        StoreError::Conflict(message) => StoreError::Conflict(note(message)),
        StoreError::Unavailable { message, source } => StoreError::Unavailable {
            message: note(message),
            source,
        },
        StoreError::Internal { message, source } => StoreError::Internal {
            message: note(message),
            source,
        },
        e @ (StoreError::NotFound { .. } | StoreError::QuotaExceeded { .. }) => e,
    }
}

/// The id of a task in a `_tasks` answer sent with `X-Opaque-Id: id`.
pub(super) fn task_of(reply: &Value, id: &str) -> Option<String> {
    reply
        .get("nodes")?
        .as_object()?
        .values()
        .filter_map(|n| n.get("tasks").and_then(Value::as_object))
        .flat_map(|tasks| tasks.iter())
        .find(|(_, t)| {
            t.pointer("/headers/X-Opaque-Id")
                .and_then(Value::as_str)
                .is_some_and(|v| v == id)
        })
        .map(|(key, _)| key.clone())
}

#[cfg(test)]
#[path = "by_query_tests.rs"]
mod tests;
