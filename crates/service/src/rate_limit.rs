//! Per-tenant request limits: one token bucket per tenant (GCRA, from the `governor` crate).
//!
//! A tenant may make `burst` requests at once and `per_second` requests a second on average; a
//! request over the limit is refused with the time after which it would pass. Refused requests
//! use up nothing. Only authenticated tenants get a bucket: a request with a bad key is refused
//! (unauthorized) before it reaches the limiter, and in `open` mode every caller without a known
//! key is the default tenant, so a made-up key never earns a fresh bucket.
//!
//! Memory follows the tenants active in the last moments, not every tenant ever seen: every
//! [`HOUSEKEEPING_EVERY`] checks, the buckets that have filled up again are dropped (a missing
//! bucket is a full one, so this changes no decision).

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, MonotonicClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};
use store_core::Tenant;

/// How many checks pass between two sweeps of the buckets that have filled up again.
pub const HOUSEKEEPING_EVERY: u64 = 1024;

type Buckets<C> = RateLimiter<String, DashMapStateStore<String>, C, StateInformationMiddleware>;

/// The per-tenant request limits of the whole server (shared by every worker thread).
pub struct RateLimits<C: Clock = MonotonicClock> {
    /// `None` when limiting is off.
    buckets: Option<Buckets<C>>,
    per_second: u32,
    burst: u32,
    checks: AtomicU64,
}

/// Where a tenant stands after a request that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// The most requests the tenant may make at once (the bucket's size).
    pub limit: u32,
    /// How many more requests would pass right now.
    pub remaining: u32,
}

/// A request over its tenant's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimited {
    pub per_second: u32,
    /// The bucket's size.
    pub limit: u32,
    /// How long until the request would pass.
    pub retry_after: Duration,
}

impl RateLimited {
    /// Whole seconds to wait, rounded up, at least 1 (the `retry-after` header).
    pub fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_millis().div_ceil(1000).max(1) as u64
    }

    /// Milliseconds to wait, rounded up, at least 1 (the `retry-after-ms` header).
    pub fn retry_after_ms(&self) -> u64 {
        self.retry_after.as_micros().div_ceil(1000).max(1) as u64
    }
}

impl fmt::Display for RateLimited {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.retry_after_ms();
        let wait = if ms < 1000 {
            format!("{ms}ms")
        } else {
            format!("{:.1}s", ms as f64 / 1000.0)
        };
        write!(
            f,
            "Rate limit reached for requests: {} per second, in bursts of at most {}. Please try \
             again in {wait}.",
            self.per_second, self.limit
        )
    }
}

impl std::error::Error for RateLimited {}

impl RateLimits {
    /// `per_second` 0 turns limiting off; `burst` 0 means a bucket of `per_second` requests.
    pub fn new(per_second: u32, burst: u32) -> Self {
        Self::with_clock(per_second, burst, MonotonicClock)
    }
}

impl<C: Clock> RateLimits<C> {
    pub fn with_clock(per_second: u32, burst: u32, clock: C) -> Self {
        let Some(rate) = NonZeroU32::new(per_second) else {
            return Self {
                buckets: None,
                per_second: 0,
                burst: 0,
                checks: AtomicU64::new(0),
            };
        };
        let burst = NonZeroU32::new(burst).unwrap_or(rate);
        let quota = Quota::per_second(rate).allow_burst(burst);
        let buckets = RateLimiter::dashmap_with_clock(quota, clock)
            .with_middleware::<StateInformationMiddleware>();
        Self {
            buckets: Some(buckets),
            per_second: rate.get(),
            burst: burst.get(),
            checks: AtomicU64::new(0),
        }
    }

    pub fn is_enabled(&self) -> bool {
        self.buckets.is_some()
    }

    pub fn per_second(&self) -> u32 {
        self.per_second
    }

    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// Takes one request from the tenant's bucket. `Ok(None)` when limiting is off. A refusal is
    /// counted in [`crate::metrics::RATE_LIMIT_REFUSALS`] (reason `rate`).
    pub fn check(&self, tenant: &Tenant) -> Result<Option<RateLimitStatus>, RateLimited> {
        let Some(buckets) = &self.buckets else {
            return Ok(None);
        };
        self.housekeeping(buckets);
        match buckets.check_key(&tenant.id) {
            Ok(snapshot) => Ok(Some(RateLimitStatus {
                limit: self.burst,
                remaining: snapshot.remaining_burst_capacity(),
            })),
            Err(not_until) => {
                crate::metrics::refused(crate::metrics::Refusal::Rate);
                Err(RateLimited {
                    per_second: self.per_second,
                    limit: self.burst,
                    retry_after: not_until.wait_time_from(buckets.clock().now()),
                })
            }
        }
    }

    /// How many tenants hold a bucket (those that are not full, plus any not yet swept).
    pub fn tenants(&self) -> usize {
        self.buckets.as_ref().map_or(0, RateLimiter::len)
    }

    fn housekeeping(&self, buckets: &Buckets<C>) {
        let n = self.checks.fetch_add(1, Ordering::Relaxed);
        if n % HOUSEKEEPING_EVERY == HOUSEKEEPING_EVERY - 1 {
            buckets.retain_recent();
            buckets.shrink_to_fit();
        }
    }
}

impl<C: Clock> fmt::Debug for RateLimits<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimits")
            .field("per_second", &self.per_second)
            .field("burst", &self.burst)
            .field("tenants", &self.tenants())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use governor::clock::FakeRelativeClock;

    fn tenant(id: &str) -> Tenant {
        Tenant::new(id, id)
    }

    fn limits(per_second: u32, burst: u32) -> (RateLimits<FakeRelativeClock>, FakeRelativeClock) {
        let clock = FakeRelativeClock::default();
        (
            RateLimits::with_clock(per_second, burst, clock.clone()),
            clock,
        )
    }

    #[test]
    fn the_burst_passes_and_the_next_request_is_refused_with_the_wait() {
        let (limits, _) = limits(2, 3);
        let a = tenant("t_a");
        let remaining: Vec<u32> = (0..3)
            .map(|_| limits.check(&a).unwrap().unwrap().remaining)
            .collect();
        assert_eq!(remaining, [2, 1, 0]);
        let refused = limits.check(&a).unwrap_err();
        assert_eq!(refused.retry_after, Duration::from_millis(500));
        assert_eq!(refused.limit, 3);
        assert_eq!(refused.retry_after_secs(), 1);
        assert_eq!(refused.retry_after_ms(), 500);
        assert!(
            refused.to_string().starts_with("Rate limit reached"),
            "{refused}"
        );
    }

    #[test]
    fn another_tenant_has_its_own_bucket() {
        let (limits, _) = limits(1, 1);
        assert!(limits.check(&tenant("t_a")).is_ok());
        assert!(limits.check(&tenant("t_a")).is_err());
        assert!(limits.check(&tenant("t_b")).is_ok());
    }

    #[test]
    fn after_the_wait_a_request_passes_again() {
        let (limits, clock) = limits(1, 2);
        let a = tenant("t_a");
        limits.check(&a).unwrap();
        limits.check(&a).unwrap();
        let wait = limits.check(&a).unwrap_err().retry_after;
        clock.advance(wait);
        assert!(limits.check(&a).is_ok());
        assert!(limits.check(&a).is_err(), "refused requests use up nothing");
    }

    #[test]
    fn zero_turns_limiting_off_and_zero_burst_means_one_seconds_worth() {
        let (off, _) = limits(0, 10);
        assert!(!off.is_enabled());
        for _ in 0..1000 {
            assert_eq!(off.check(&tenant("t_a")), Ok(None));
        }
        let (on, _) = limits(5, 0);
        assert_eq!(on.burst(), 5);
        let a = tenant("t_a");
        assert!((0..5).all(|_| on.check(&a).is_ok()));
        assert!(on.check(&a).is_err());
    }

    #[test]
    fn a_refused_request_is_counted_and_one_that_passes_is_not() {
        use crate::metrics::RATE_LIMIT_REFUSALS;
        use crate::metrics::testing::{counter, recorded};
        let (limits, _) = limits(1, 2);
        let a = tenant("t_a");
        let (passed, recorded) =
            recorded(async { (0..5).filter(|_| limits.check(&a).is_ok()).count() });
        assert_eq!(passed, 2);
        assert_eq!(
            counter(&recorded, RATE_LIMIT_REFUSALS, &[("reason", "rate")]),
            3
        );
        assert_eq!(
            counter(&recorded, RATE_LIMIT_REFUSALS, &[("reason", "in_flight")]),
            0
        );
    }

    #[test]
    fn waits_are_rounded_up() {
        let r = RateLimited {
            per_second: 1,
            limit: 1,
            retry_after: Duration::from_micros(1_200_001),
        };
        assert_eq!((r.retry_after_secs(), r.retry_after_ms()), (2, 1201));
        let r = RateLimited {
            retry_after: Duration::ZERO,
            ..r
        };
        assert_eq!((r.retry_after_secs(), r.retry_after_ms()), (1, 1));
    }

    #[test]
    fn buckets_of_idle_tenants_are_dropped() {
        let (limits, clock) = limits(10, 10);
        for i in 0..5000 {
            limits.check(&tenant(&format!("t_{i}"))).unwrap();
        }
        assert!(limits.tenants() > 1000, "{}", limits.tenants());
        clock.advance(Duration::from_secs(5));
        for _ in 0..HOUSEKEEPING_EVERY {
            limits.check(&tenant("t_busy")).unwrap_or_default();
        }
        assert!(limits.tenants() <= 1, "{}", limits.tenants());
    }
}
