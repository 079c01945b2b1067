//! The capability probe: `GET /` at start-up and whenever the cluster answers again after a
//! failure to reach it, remembered until the next such failure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use elasticsearch::http::Method;
use store_core::{StoreError, StoreResult};

use super::ElasticStore;
use super::transport::Payload;
use crate::cluster::ClusterInfo;
use crate::error::ElasticError;

/// What the back-end knows of the cluster.
#[derive(Debug, Clone, Default)]
enum Known {
    /// Not probed since start-up or since the cluster was last unreachable.
    #[default]
    Nothing,
    Cluster(ClusterInfo),
    /// The credentials may not read `GET /` (no `monitor` cluster privilege).
    Hidden,
}

/// The probe's memory, shared by the clones of one store.
#[derive(Debug, Default, Clone)]
pub(super) struct ProbeState {
    known: Arc<Mutex<Known>>,
    /// The missing privilege is logged once, not on every probe.
    hidden_logged: Arc<AtomicBool>,
}

impl ProbeState {
    fn set(&self, known: Known) {
        *self
            .known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = known;
    }

    fn get(&self) -> Known {
        self.known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Why the probe did not find a cluster to work with.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The cluster answered, and is not one this back-end can use.
    #[error("unsupported Elasticsearch cluster: {0}")]
    Unsupported(String),
    /// The cluster did not answer, or refused the credentials.
    #[error(transparent)]
    Unreachable(StoreError),
}

impl ProbeError {
    /// The store error for a request that needed the probe: an unusable cluster is
    /// unavailable, with the probe's line as the reason.
    pub(super) fn into_store(self) -> StoreError {
        match self {
            ProbeError::Unsupported(why) => {
                StoreError::unavailable(why.clone(), ElasticError::Decode(why))
            }
            ProbeError::Unreachable(e) => e,
        }
    }
}

impl ElasticStore {
    /// Asks the cluster what it is (`GET /`) and remembers the answer: `Some` with its version
    /// and flavor, `None` when the credentials may not ask (403; the back-end still works).
    pub async fn probe(&self) -> Result<Option<ClusterInfo>, ProbeError> {
        match self.send(Method::Get, "/", &[], Payload::Empty).await {
            Ok(body) => match ClusterInfo::from_root(&body) {
                Ok(info) => {
                    self.probe_state.set(Known::Cluster(info.clone()));
                    Ok(Some(info))
                }
                Err(why) => {
                    self.probe_state.set(Known::Nothing);
                    Err(ProbeError::Unsupported(why))
                }
            },
            Err(ElasticError::Response { status: 403, .. }) => {
                if !self.probe_state.hidden_logged.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "the Elasticsearch credentials lack the `monitor` cluster privilege: the \
                         cluster's version and flavor are not checked"
                    );
                }
                self.probe_state.set(Known::Hidden);
                Ok(None)
            }
            Err(e) => {
                self.forget_cluster();
                Err(ProbeError::Unreachable(e.into_store("")))
            }
        }
    }

    /// What the cluster is (`None`: not told), probing first when it is not known.
    pub(super) async fn cluster(&self) -> StoreResult<Option<ClusterInfo>> {
        match self.probe_state.get() {
            Known::Cluster(info) => Ok(Some(info)),
            Known::Hidden => Ok(None),
            Known::Nothing => self.probe().await.map_err(ProbeError::into_store),
        }
    }

    /// Forgets what the cluster is, after a failure to reach it: what answers next is probed.
    pub(super) fn forget_cluster(&self) {
        self.probe_state.set(Known::Nothing);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use store_core::{CollectionSpec, ErrorKind, VectorStore};

    use super::*;
    use crate::store::fake::{self, Log, Reply};

    /// A cluster that answers `GET /` with `root` (`None`: 403), 404 to a mapping, and
    /// acknowledges whatever else it is sent.
    async fn cluster(root: Option<Value>) -> (ElasticStore, Log) {
        let (url, log) = fake::cluster(move |seen| {
            let last = seen.last().unwrap();
            match (last.method.as_str(), last.path()) {
                ("GET", "/") => match &root {
                    Some(root) => Reply::Json(200, root.clone()),
                    None => Reply::Json(
                        403,
                        json!({"error": {"type": "security_exception", "reason": "no"}}),
                    ),
                },
                (_, p) if p.ends_with("/_mapping") => Reply::Json(
                    404,
                    json!({"error": {"type": "index_not_found_exception", "reason": "no"}}),
                ),
                _ => Reply::Json(200, json!({"acknowledged": true})),
            }
        })
        .await;
        (fake::store(url, 5, 0), log)
    }

    fn root(number: &str, flavor: &str) -> Value {
        json!({"version": {"number": number, "build_flavor": flavor},
               "tagline": "You Know, for Search"})
    }

    /// The settings of the index the store asked for.
    fn created_settings(log: &Log) -> Value {
        let log = log.lock().unwrap();
        let made = log
            .iter()
            .find(|s| s.method == "PUT")
            .expect("an index made");
        let body: Value = serde_json::from_str(&made.body).unwrap();
        body["settings"]["index"].clone()
    }

    #[tokio::test]
    async fn serverless_indices_are_made_without_shard_settings() {
        let (store, log) = cluster(Some(root("8.11.0", "serverless"))).await;
        let spec = CollectionSpec::new("vs_a", 3).unwrap();
        store.create_collection(&spec).await.unwrap();
        let settings = created_settings(&log);
        assert!(settings.get("number_of_shards").is_none(), "{settings}");
        assert!(settings.get("number_of_replicas").is_none(), "{settings}");
        assert_eq!(settings["mapping"]["total_fields"]["limit"], 10_000);
    }

    #[tokio::test]
    async fn a_key_without_monitor_still_works_with_the_configured_shards() {
        let (store, log) = cluster(None).await;
        store
            .ping()
            .await
            .expect("403 on GET / is a reachable cluster");
        let spec = CollectionSpec::new("vs_a", 3).unwrap();
        store.create_collection(&spec).await.unwrap();
        assert_eq!(created_settings(&log)["number_of_shards"], 1);
    }

    #[tokio::test]
    async fn the_probe_is_remembered_and_bounds_the_dimension_by_version() {
        let (store, log) = cluster(Some(root("8.7.1", "default"))).await;
        let big = CollectionSpec::new("vs_a", 1025).unwrap();
        let e = store.create_collection(&big).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        assert!(e.to_string().contains("at most 1024"), "{e}");
        let spec = CollectionSpec::new("vs_b", 1024).unwrap();
        store.create_collection(&spec).await.unwrap();
        let probes = log
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.path() == "/")
            .count();
        assert_eq!(probes, 1, "probed once until the cluster is lost");
    }

    #[tokio::test]
    async fn an_unusable_cluster_is_not_ready_and_says_why() {
        let (store, _) = cluster(Some(root("7.17.9", "default"))).await;
        let e = store.ping().await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert!(e.to_string().contains("Elasticsearch 7.17.9"), "{e}");
        assert!(matches!(
            store.probe().await,
            Err(ProbeError::Unsupported(_))
        ));
    }
}
