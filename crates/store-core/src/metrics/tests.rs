//! Tests of the instrumented back-end's metrics, read from a recorder.

use super::*;
use crate::store::MockVectorStore;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};

type Recorded = Vec<(
    metrics_util::CompositeKey,
    Option<metrics::Unit>,
    Option<metrics::SharedString>,
    DebugValue,
)>;

/// Runs `f` to its end with a recorder of its own; what it recorded.
fn recorded<T>(f: impl Future<Output = T>) -> (T, Recorded) {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let out = metrics::with_local_recorder(&recorder, || futures::executor::block_on(f));
    (out, snapshotter.snapshot().into_vec())
}

/// The value of metric `name` with exactly the labels `labels`, if it was recorded.
fn value<'a>(
    recorded: &'a Recorded,
    name: &str,
    labels: &[(&str, &str)],
) -> Option<&'a DebugValue> {
    let mut want: Vec<(&str, &str)> = labels.to_vec();
    want.sort();
    recorded.iter().find_map(|(key, _, _, value)| {
        let mut got: Vec<(&str, &str)> = key.key().labels().map(|l| (l.key(), l.value())).collect();
        got.sort();
        (key.key().name() == name && got == want).then_some(value)
    })
}

fn counter(recorded: &Recorded, name: &str, labels: &[(&str, &str)]) -> u64 {
    match value(recorded, name, labels) {
        Some(DebugValue::Counter(n)) => *n,
        None => 0,
        Some(other) => panic!("{name} is not a counter: {other:?}"),
    }
}

fn spec() -> CollectionSpec {
    CollectionSpec::new("vs_1", 3).unwrap()
}

fn store() -> MockVectorStore {
    let mut s = MockVectorStore::new();
    s.expect_name().return_const("pgvector");
    s.expect_count().returning(|_| Ok(7));
    s.expect_upsert().returning(|_, _| {
        Err(StoreError::unavailable(
            "down",
            std::io::Error::other("refused"),
        ))
    });
    s.expect_usage_bytes()
        .returning(|c| Err(StoreError::not_found("collection", c.name.as_str())));
    s
}

#[test]
fn every_call_is_counted_and_timed_by_backend_and_operation() {
    let store = Instrumented::new(Arc::new(store()));
    let (n, recorded) = recorded(async {
        store.count(&spec()).await.unwrap();
        store.count(&spec()).await
    });
    assert_eq!(n.unwrap(), 7, "the inner store's answer comes through");
    let labels = [("backend", "pgvector"), ("operation", "count")];
    assert_eq!(counter(&recorded, BACKEND_REQUESTS, &labels), 2);
    assert_eq!(counter(&recorded, BACKEND_ERRORS, &labels), 0);
    match value(&recorded, BACKEND_DURATION, &labels) {
        Some(DebugValue::Histogram(seconds)) => {
            assert_eq!(seconds.len(), 2);
            assert!(seconds.iter().all(|s| s.into_inner() >= 0.0));
        }
        other => panic!("no durations: {other:?}"),
    }
}

#[test]
fn a_failure_of_the_backend_is_an_error_and_a_missing_collection_is_not() {
    let store = Instrumented::new(Arc::new(store()));
    let (results, recorded) = recorded(async {
        (
            store.upsert(&spec(), Vec::new()).await,
            store.usage_bytes(&spec()).await,
        )
    });
    assert_eq!(results.0.unwrap_err().kind(), ErrorKind::Unavailable);
    assert_eq!(results.1.unwrap_err().kind(), ErrorKind::NotFound);
    let upsert = [("backend", "pgvector"), ("operation", "upsert")];
    assert_eq!(counter(&recorded, BACKEND_REQUESTS, &upsert), 1);
    assert_eq!(counter(&recorded, BACKEND_ERRORS, &upsert), 1);
    let usage = [("backend", "pgvector"), ("operation", "usage_bytes")];
    assert_eq!(counter(&recorded, BACKEND_REQUESTS, &usage), 1);
    assert_eq!(counter(&recorded, BACKEND_ERRORS, &usage), 0);
}

#[test]
fn the_registry_counts_the_calls_of_every_backend_it_holds() {
    let registry = crate::StoreRegistry::new(vec![Arc::new(store())], "pgvector").unwrap();
    let backend = registry.get("pgvector").unwrap();
    assert_eq!(backend.name(), "pgvector");
    let (_, recorded) = recorded(backend.count(&spec()));
    let labels = [("backend", "pgvector"), ("operation", "count")];
    assert_eq!(counter(&recorded, BACKEND_REQUESTS, &labels), 1);
}
