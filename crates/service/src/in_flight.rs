//! A bound on each tenant's requests in flight, so that one tenant's heavy requests cannot hold
//! every pooled database connection and starve authentication and the other tenants: with the
//! bound below the pool's size, the rest of the pool stays free for them. A request over the
//! bound waits up to `wait` for a turn, then is refused with [`TooManyInFlight`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store_core::Tenant;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Idle tenants' entries are dropped once this many are kept.
const KEEP_IDLE: usize = 10_000;

#[derive(Debug)]
pub struct InFlight {
    per_tenant: usize,
    wait: Duration,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A request over its tenant's bound on requests in flight.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "too many requests of this API key's tenant are in progress (at most {limit} at once); try again shortly"
)]
pub struct TooManyInFlight {
    pub limit: usize,
}

impl InFlight {
    /// At most `per_tenant` requests of one tenant at once (0: no bound).
    pub fn new(per_tenant: usize, wait: Duration) -> Self {
        Self {
            per_tenant,
            wait,
            gates: Mutex::default(),
        }
    }

    /// A turn for one request of `tenant`, held until dropped; `None` when there is no bound. A
    /// request refused is counted in [`crate::metrics::RATE_LIMIT_REFUSALS`] (reason
    /// `in_flight`).
    pub async fn enter(
        &self,
        tenant: &Tenant,
    ) -> Result<Option<OwnedSemaphorePermit>, TooManyInFlight> {
        if self.per_tenant == 0 {
            return Ok(None);
        }
        let gate = {
            let mut gates = self.gates.lock().unwrap_or_else(|e| e.into_inner());
            if gates.len() >= KEEP_IDLE {
                let max = self.per_tenant;
                gates.retain(|_, g| Arc::strong_count(g) > 1 || g.available_permits() < max);
            }
            gates
                .entry(tenant.id.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        match tokio::time::timeout(self.wait, gate.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => {
                crate::metrics::refused(crate::metrics::Refusal::InFlight);
                Err(TooManyInFlight {
                    limit: self.per_tenant,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: &str) -> Tenant {
        Tenant::new(id, id)
    }

    #[tokio::test]
    async fn a_tenant_at_its_bound_waits_and_others_do_not() {
        let gate = InFlight::new(2, Duration::from_millis(100));
        let a = tenant("a");
        let first = gate.enter(&a).await.unwrap();
        let _second = gate.enter(&a).await.unwrap();
        assert_eq!(
            gate.enter(&a).await.unwrap_err(),
            TooManyInFlight { limit: 2 }
        );
        // Another tenant is not held up.
        assert!(gate.enter(&tenant("b")).await.unwrap().is_some());
        // A finished request gives its turn back.
        drop(first);
        assert!(gate.enter(&a).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_turn_that_frees_up() {
        let gate = Arc::new(InFlight::new(1, Duration::from_secs(5)));
        let a = tenant("a");
        let held = gate.enter(&a).await.unwrap();
        let waiter = {
            let (gate, a) = (gate.clone(), a.clone());
            tokio::spawn(async move { gate.enter(&a).await.map(|p| p.is_some()) })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        assert!(waiter.await.unwrap().unwrap());
    }

    #[test]
    fn a_request_that_gets_no_turn_in_time_is_counted() {
        use crate::metrics::RATE_LIMIT_REFUSALS;
        use crate::metrics::testing::{counter, recorded};
        let gate = InFlight::new(1, Duration::from_millis(20));
        let a = tenant("a");
        let (refused, recorded) = recorded(async {
            let _held = gate.enter(&a).await.unwrap();
            gate.enter(&a).await.is_err()
        });
        assert!(refused);
        assert_eq!(
            counter(&recorded, RATE_LIMIT_REFUSALS, &[("reason", "in_flight")]),
            1
        );
        assert_eq!(
            counter(&recorded, RATE_LIMIT_REFUSALS, &[("reason", "rate")]),
            0
        );
    }

    #[tokio::test]
    async fn no_bound_means_no_turns() {
        let gate = InFlight::new(0, Duration::ZERO);
        assert!(gate.enter(&tenant("a")).await.unwrap().is_none());
    }
}
