//! The embedding models' metrics, recorded through the `metrics` facade (the binary installs
//! the exporter): every call of a model, counted and timed by [`Instrumented`], which the
//! [`crate::EmbedderRegistry`] puts around each model it is given. The one label is the
//! model's registered name (`model`), a name of the configuration.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use crate::Embedder;
use crate::error::EmbedError;

/// Calls of a model, by `model`.
pub const EMBEDDING_REQUESTS: &str = "vector_store_embedding_requests_total";
/// Texts a model embedded, by `model`.
pub const EMBEDDING_TEXTS: &str = "vector_store_embedding_texts_total";
/// Calls of a model that failed on its side, by `model`.
pub const EMBEDDING_ERRORS: &str = "vector_store_embedding_errors_total";
/// How long calls of a model took, in seconds, by `model`.
pub const EMBEDDING_DURATION: &str = "vector_store_embedding_duration_seconds";

/// Describes this crate's metrics to the installed recorder (their HELP lines); once, after the
/// recorder is installed.
pub fn describe() {
    metrics::describe_counter!(EMBEDDING_REQUESTS, "Calls of an embedding model, by model.");
    metrics::describe_counter!(
        EMBEDDING_TEXTS,
        "Texts an embedding model embedded (in calls that succeeded), by model."
    );
    metrics::describe_counter!(
        EMBEDDING_ERRORS,
        "Calls of an embedding model that failed on its side (unavailable or internal), by model."
    );
    metrics::describe_histogram!(
        EMBEDDING_DURATION,
        metrics::Unit::Seconds,
        "Time a call of an embedding model took, by model."
    );
}

/// A model whose every [`Embedder::embed`] is counted in [`EMBEDDING_REQUESTS`] and timed in
/// [`EMBEDDING_DURATION`]; the texts of a call that succeeds are counted in
/// [`EMBEDDING_TEXTS`].
///
/// [`EMBEDDING_ERRORS`] counts the failures of the model or its provider,
/// [`EmbedError::Unavailable`] and [`EmbedError::Internal`]. A text refused as too long or
/// otherwise invalid is the caller's input, not a failure (windowed embedding even relies on
/// [`EmbedError::InputTooLong`] to find sizes the model reads): counted as a call only.
#[derive(Debug)]
pub struct Instrumented {
    inner: Arc<dyn Embedder>,
}

impl Instrumented {
    /// `inner`, counted under its own [`Embedder::model`] name.
    pub fn new(inner: Arc<dyn Embedder>) -> Self {
        Self { inner }
    }
}

/// Whether `e` is the model's own failure rather than its answer to input at fault.
fn is_failure(e: &EmbedError) -> bool {
    match e {
        EmbedError::Unavailable { .. } | EmbedError::Internal { .. } => true,
        EmbedError::UnknownModel { .. }
        | EmbedError::InputTooLong { .. }
        | EmbedError::InvalidInput(_) => false,
    }
}

impl Instrumented {
    /// Counts and times one call that embedded `texts` texts (or spans).
    fn record<T>(&self, started: Instant, texts: usize, result: &Result<T, EmbedError>) {
        let model = self.inner.model().to_string();
        metrics::histogram!(EMBEDDING_DURATION, "model" => model.clone())
            .record(started.elapsed().as_secs_f64());
        metrics::counter!(EMBEDDING_REQUESTS, "model" => model.clone()).increment(1);
        match result {
            Ok(_) => {
                metrics::counter!(EMBEDDING_TEXTS, "model" => model).increment(texts as u64);
            }
            Err(e) => {
                if is_failure(e) {
                    metrics::counter!(EMBEDDING_ERRORS, "model" => model).increment(1);
                }
            }
        }
    }
}

#[async_trait]
impl Embedder for Instrumented {
    fn model(&self) -> &str {
        self.inner.model()
    }

    fn dimension(&self) -> usize {
        self.inner.dimension()
    }

    fn max_input_tokens(&self) -> usize {
        self.inner.max_input_tokens()
    }

    async fn embed(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let result = self.inner.embed(texts).await;
        self.record(started, texts.len(), &result);
        result
    }

    fn late_chunking(&self) -> bool {
        self.inner.late_chunking()
    }

    async fn embed_spans(
        &self,
        text: &str,
        spans: &[Range<usize>],
    ) -> Result<Vec<Vec<f32>>, EmbedError> {
        let started = Instant::now();
        let result = self.inner.embed_spans(text, spans).await;
        self.record(started, spans.len(), &result);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MockEmbedder;
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
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let out = metrics::with_local_recorder(&recorder, || runtime.block_on(f));
        (out, snapshotter.snapshot().into_vec())
    }

    /// The value of metric `name` of model `model`, if it was recorded.
    fn value<'a>(recorded: &'a Recorded, name: &str, model: &str) -> Option<&'a DebugValue> {
        recorded.iter().find_map(|(key, _, _, value)| {
            let labels: Vec<(&str, &str)> =
                key.key().labels().map(|l| (l.key(), l.value())).collect();
            (key.key().name() == name && labels == [("model", model)]).then_some(value)
        })
    }

    fn counter(recorded: &Recorded, name: &str, model: &str) -> u64 {
        match value(recorded, name, model) {
            Some(DebugValue::Counter(n)) => *n,
            None => 0,
            Some(other) => panic!("{name} is not a counter: {other:?}"),
        }
    }

    /// Model `m`: three texts are too many for it, a text `down` finds its provider down.
    fn model() -> MockEmbedder {
        let mut m = MockEmbedder::new();
        m.expect_model().return_const("m".to_string());
        m.expect_embed().returning(|texts: &[String]| {
            if texts.len() > 2 {
                Err(EmbedError::InputTooLong {
                    index: 2,
                    tokens: 300,
                    max: 256,
                })
            } else if texts.iter().any(|t| t == "down") {
                Err(EmbedError::Unavailable {
                    message: "no answer".into(),
                    source: None,
                })
            } else {
                Ok(texts.iter().map(|_| vec![1.0, 0.0]).collect())
            }
        });
        m
    }

    fn texts(t: &[&str]) -> Vec<String> {
        t.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn calls_and_the_texts_embedded_are_counted_by_model() {
        let model = Instrumented::new(Arc::new(model()));
        let (vectors, recorded) = recorded(async {
            model.embed(&texts(&["a", "b"])).await.unwrap();
            model.embed(&texts(&["c"])).await
        });
        assert_eq!(
            vectors.unwrap(),
            vec![vec![1.0, 0.0]],
            "the model's answer comes through"
        );
        assert_eq!(counter(&recorded, EMBEDDING_REQUESTS, "m"), 2);
        assert_eq!(counter(&recorded, EMBEDDING_TEXTS, "m"), 3);
        assert_eq!(counter(&recorded, EMBEDDING_ERRORS, "m"), 0);
        match value(&recorded, EMBEDDING_DURATION, "m") {
            Some(DebugValue::Histogram(seconds)) => assert_eq!(seconds.len(), 2),
            other => panic!("no durations: {other:?}"),
        }
    }

    #[test]
    fn a_provider_down_is_an_error_and_a_text_too_long_is_not() {
        let model = Instrumented::new(Arc::new(model()));
        let (results, recorded) = recorded(async {
            (
                model.embed(&texts(&["down"])).await,
                model.embed(&texts(&["a", "b", "c"])).await,
            )
        });
        assert!(matches!(results.0, Err(EmbedError::Unavailable { .. })));
        assert!(matches!(
            results.1,
            Err(EmbedError::InputTooLong { index: 2, .. })
        ));
        assert_eq!(counter(&recorded, EMBEDDING_REQUESTS, "m"), 2);
        assert_eq!(counter(&recorded, EMBEDDING_ERRORS, "m"), 1);
        assert_eq!(
            counter(&recorded, EMBEDDING_TEXTS, "m"),
            0,
            "nothing was embedded"
        );
    }

    #[test]
    fn the_registry_counts_the_calls_of_every_model_it_holds() {
        let registry = crate::EmbedderRegistry::new(vec![Arc::new(model())], "m").unwrap();
        let model = registry.get("m").unwrap();
        let (_, recorded) = recorded(async { model.embed(&texts(&["a"])).await });
        assert_eq!(counter(&recorded, EMBEDDING_REQUESTS, "m"), 1);
        assert_eq!(counter(&recorded, EMBEDDING_TEXTS, "m"), 1);
    }
}
