//! Bounds on requests in flight: one per tenant, so that one tenant's heavy requests cannot hold
//! every pooled database connection and starve the other tenants, and one over all tenants
//! together, so that several busy tenants cannot either: with it below the pool's size, the
//! rest of the pool stays free for authentication, ingestion and the queue. A request takes its
//! tenant's turn first (a tenant's backlog waits in its own line, holding none of the shared
//! turns), then a shared one; over either bound it waits up to `wait` in all, then is refused
//! with [`TooManyInFlight`].

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
    total: Option<Arc<Semaphore>>,
    total_limit: usize,
    wait: Duration,
    gates: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// A request over a bound on requests in flight: its tenant's (429), or the server's (503).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.message())]
pub struct TooManyInFlight {
    pub limit: usize,
    /// The bound over all tenants together, not the tenant's own.
    pub server_wide: bool,
}

impl TooManyInFlight {
    fn message(&self) -> String {
        if self.server_wide {
            format!(
                "the server has too many requests in progress (at most {} at once); try again \
                 shortly",
                self.limit
            )
        } else {
            format!(
                "too many requests of this API key's tenant are in progress (at most {} at once); \
                 try again shortly",
                self.limit
            )
        }
    }
}

/// One request's turn, held until dropped.
#[derive(Debug)]
pub struct Turn {
    _tenant: Option<OwnedSemaphorePermit>,
    _shared: Option<OwnedSemaphorePermit>,
}

impl InFlight {
    /// At most `per_tenant` requests of one tenant at once, and `total` of all tenants together
    /// (0: no such bound).
    pub fn new(per_tenant: usize, total: usize, wait: Duration) -> Self {
        Self {
            per_tenant,
            total: (total > 0).then(|| Arc::new(Semaphore::new(total))),
            total_limit: total,
            wait,
            gates: Mutex::default(),
        }
    }

    /// A turn for one request of `tenant`, held until dropped. A request refused is counted in
    /// [`crate::metrics::RATE_LIMIT_REFUSALS`] (reason `in_flight`).
    pub async fn enter(&self, tenant: &Tenant) -> Result<Turn, TooManyInFlight> {
        let deadline = tokio::time::Instant::now() + self.wait;
        let own = self.tenant_turn(tenant, deadline).await?;
        let shared = match &self.total {
            None => None,
            Some(total) => {
                match tokio::time::timeout_at(deadline, total.clone().acquire_owned()).await {
                    Ok(Ok(permit)) => Some(permit),
                    _ => {
                        crate::metrics::refused(crate::metrics::Refusal::InFlight);
                        return Err(TooManyInFlight {
                            limit: self.total_limit,
                            server_wide: true,
                        });
                    }
                }
            }
        };
        Ok(Turn {
            _tenant: own,
            _shared: shared,
        })
    }

    async fn tenant_turn(
        &self,
        tenant: &Tenant,
        deadline: tokio::time::Instant,
    ) -> Result<Option<OwnedSemaphorePermit>, TooManyInFlight> {
        if self.per_tenant == 0 {
            return Ok(None);
        }
        let gate = {
            let mut gates = self
                .gates
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if gates.len() >= KEEP_IDLE {
                let max = self.per_tenant;
                gates.retain(|_, g| Arc::strong_count(g) > 1 || g.available_permits() < max);
            }
            gates
                .entry(tenant.id.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(self.per_tenant)))
                .clone()
        };
        match tokio::time::timeout_at(deadline, gate.acquire_owned()).await {
            Ok(Ok(permit)) => Ok(Some(permit)),
            _ => {
                crate::metrics::refused(crate::metrics::Refusal::InFlight);
                Err(TooManyInFlight {
                    limit: self.per_tenant,
                    server_wide: false,
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
        let gate = InFlight::new(2, 0, Duration::from_millis(100));
        let a = tenant("a");
        let first = gate.enter(&a).await.unwrap();
        let _second = gate.enter(&a).await.unwrap();
        assert_eq!(
            gate.enter(&a).await.unwrap_err(),
            TooManyInFlight {
                limit: 2,
                server_wide: false
            }
        );
        // Another tenant is not held up.
        assert!(gate.enter(&tenant("b")).await.is_ok());
        // A finished request gives its turn back.
        drop(first);
        assert!(gate.enter(&a).await.is_ok());
    }

    #[tokio::test]
    async fn tenants_together_stay_within_the_server_wide_bound() {
        let gate = InFlight::new(2, 3, Duration::from_millis(100));
        let (a, b, c) = (tenant("a"), tenant("b"), tenant("c"));
        let _a1 = gate.enter(&a).await.unwrap();
        let _a2 = gate.enter(&a).await.unwrap();
        let b1 = gate.enter(&b).await.unwrap();
        // Each within its own bound, but the server has 3 in progress.
        let refused = gate.enter(&c).await.unwrap_err();
        assert_eq!(
            refused,
            TooManyInFlight {
                limit: 3,
                server_wide: true
            }
        );
        assert!(refused.to_string().contains("the server"), "{refused}");
        // A tenant at its own bound waits in its own line, holding no shared turn: once b's
        // request ends, c gets the freed turn even while a keeps asking.
        let waiting_a = gate.enter(&a);
        drop(b1);
        assert!(waiting_a.await.is_err(), "a is at its own bound");
        assert!(gate.enter(&c).await.is_ok());
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_turn_that_frees_up() {
        let gate = Arc::new(InFlight::new(1, 1, Duration::from_secs(5)));
        let a = tenant("a");
        let held = gate.enter(&a).await.unwrap();
        let waiter = {
            let (gate, a) = (gate.clone(), a.clone());
            tokio::spawn(async move { gate.enter(&a).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!waiter.is_finished());
        drop(held);
        assert!(waiter.await.unwrap());
    }

    #[test]
    fn a_request_that_gets_no_turn_in_time_is_counted() {
        use crate::metrics::RATE_LIMIT_REFUSALS;
        use crate::metrics::testing::{counter, recorded};
        let gate = InFlight::new(1, 0, Duration::from_millis(20));
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
    async fn no_bound_means_no_waiting() {
        let gate = InFlight::new(0, 0, Duration::ZERO);
        let a = tenant("a");
        let _held: Vec<Turn> = futures::future::join_all((0..100).map(|_| gate.enter(&a)))
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
    }
}
