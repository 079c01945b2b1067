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
        *self.known.lock().unwrap_or_else(|p| p.into_inner()) = known;
    }

    fn get(&self) -> Known {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).clone()
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
            Known::Nothing => self.probe().await.map_err(|e| match e {
                ProbeError::Unsupported(why) => {
                    StoreError::unavailable(why.clone(), ElasticError::Decode(why))
                }
                ProbeError::Unreachable(e) => e,
            }),
        }
    }

    /// Forgets what the cluster is, after a failure to reach it: what answers next is probed.
    pub(super) fn forget_cluster(&self) {
        self.probe_state.set(Known::Nothing);
    }
}
