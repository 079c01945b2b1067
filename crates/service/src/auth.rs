//! API keys: generation, hashing and resolution to a tenant.
//!
//! Keys are 256-bit random strings; only their SHA-256 is stored, and only a short prefix is ever
//! shown again. A resolved key is cached for a short while so that a request costs no database
//! round trip; a revoked key stops working within that time (at once on the instance that
//! revoked it).
//!
//! Look-ups of keys not in the cache are what a caller without a key can make the service do:
//! they are budgeted per client address, then for all callers together, and a valid key
//! already known is never refused by that budget.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use rand::Rng;
use rand::distr::Alphanumeric;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use store_core::{ApiKeyRecord, Catalog, Tenant};

use crate::RateLimited;
use crate::error::ServiceError;

pub const KEY_PREFIX: &str = "vsk_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// No key needed: every caller without a known key is the default tenant. Loopback only.
    Open,
    /// A valid key on every route but the health checks.
    Keys,
}

/// A new random key: `vsk_` and 43 alphanumeric characters (about 256 bits).
pub fn generate_api_key() -> String {
    let body: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(43)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{body}")
}

pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// The part of a key that may be shown and logged.
pub fn key_prefix(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

/// How long an unknown key is remembered as unknown (a new key is never tried before it is
/// made, so this only spares the database repeated bad keys).
const MISS_TTL: Duration = Duration::from_secs(5);
/// Most unknown keys remembered; past it they are forgotten (all of them, and only them).
const MAX_MISSES: usize = 10_000;
/// Database look-ups of keys not in the cache, a second, for each client address (and the
/// burst): what one anonymous caller spraying made-up keys can make the service do.
const LOOKUPS_PER_ADDRESS: u32 = 20;
const ADDRESS_BURST: u32 = 50;
/// The same for all callers together: what many addresses spraying together can do.
const LOOKUPS_PER_SECOND: u32 = 100;
const LOOKUP_BURST: u32 = 200;
/// How many look-ups pass between two sweeps of the per-address buckets that filled up again.
const SWEEP_EVERY: u64 = 1024;

type Lookups = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::MonotonicClock,
>;
type AddressLookups = governor::RateLimiter<
    IpAddr,
    governor::state::keyed::DashMapStateStore<IpAddr>,
    governor::clock::MonotonicClock,
>;

/// What this instance knows of keys, by hash.
///
/// Valid keys and unknown ones are kept apart, so that made-up keys, however many, never push
/// out a valid one. A valid key past its time to live is looked up again when next used (its
/// look-up spends nobody's budget: the key was valid), so revocation elsewhere takes effect
/// within the time to live.
#[derive(Default)]
struct KeyCache {
    /// Each valid key's tenant, and until when that answer is fresh.
    valid: HashMap<String, (Tenant, Instant)>,
    unknown: HashMap<String, Instant>,
}

/// The answer the cache has for a key hash.
enum Cached {
    /// Valid and fresh.
    Valid(Tenant),
    /// Valid when last looked up, but to be checked again (its look-up is not budgeted).
    Stale,
    /// Known not to be a key.
    Unknown,
    /// Never seen (or forgotten): a budgeted look-up.
    Missing,
}

pub struct AuthService {
    catalog: Arc<dyn Catalog>,
    mode: AuthMode,
    default_tenant: Tenant,
    ttl: Duration,
    cache: Arc<Mutex<KeyCache>>,
    lookups: Lookups,
    by_address: AddressLookups,
    misses: AtomicU64,
    /// Look-ups under way, by key hash: a request for a key already being looked up waits for
    /// that look-up rather than start (and spend budget on) another.
    pending: Arc<Mutex<HashMap<String, Pending>>>,
}

/// A look-up under way, shared by every request that waits for it.
type Pending = futures::future::Shared<
    futures::future::BoxFuture<'static, Result<Option<Tenant>, Arc<store_core::StoreError>>>,
>;

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("mode", &self.mode)
            .field("default_tenant", &self.default_tenant)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Remembers what a key's look-up found: its tenant for `ttl`, or that it is unknown.
fn remember_in(cache: &Mutex<KeyCache>, ttl: Duration, hash: String, tenant: Option<Tenant>) {
    let Ok(mut cache) = cache.lock() else {
        return;
    };
    match tenant {
        Some(tenant) => {
            cache.unknown.remove(&hash);
            cache.valid.insert(hash, (tenant, Instant::now() + ttl));
        }
        None => {
            cache.valid.remove(&hash);
            if cache.unknown.len() >= MAX_MISSES {
                cache.unknown.clear();
            }
            cache.unknown.insert(hash, Instant::now());
        }
    }
}

fn quota(per_second: u32, burst: u32) -> governor::Quota {
    let nz = |n: u32| std::num::NonZeroU32::new(n).expect("non-zero");
    governor::Quota::per_second(nz(per_second)).allow_burst(nz(burst))
}

/// The address a caller's look-ups are budgeted by: an IPv4 address, or an IPv6 address's
/// /64 network (what one host is usually given).
fn budget_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let bits = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(std::net::Ipv6Addr::from(bits))
            }
        },
        v4 @ IpAddr::V4(_) => v4,
    }
}

impl AuthService {
    /// Ensures the default tenant exists.
    pub async fn new(
        catalog: Arc<dyn Catalog>,
        mode: AuthMode,
        default_tenant: &str,
        cache_ttl: Duration,
    ) -> Result<Self, ServiceError> {
        let default_tenant = catalog.ensure_tenant(default_tenant).await?;
        Ok(Self {
            catalog,
            mode,
            default_tenant,
            ttl: cache_ttl,
            cache: Arc::new(Mutex::new(KeyCache::default())),
            lookups: governor::RateLimiter::direct_with_clock(
                quota(LOOKUPS_PER_SECOND, LOOKUP_BURST),
                governor::clock::MonotonicClock,
            ),
            by_address: governor::RateLimiter::dashmap_with_clock(
                quota(LOOKUPS_PER_ADDRESS, ADDRESS_BURST),
                governor::clock::MonotonicClock,
            ),
            misses: AtomicU64::new(0),
            pending: Arc::default(),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The caller's tenant. `client` is the address the request came from: look-ups of keys
    /// this instance does not know are budgeted by it first, then for everyone together.
    pub async fn authenticate(
        &self,
        key: Option<&str>,
        client: Option<IpAddr>,
    ) -> Result<Tenant, ServiceError> {
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        let found = match key {
            Some(k) => self.lookup(k, client).await?,
            None => None,
        };
        match (found, self.mode, key) {
            (Some(tenant), _, _) => Ok(tenant),
            (None, AuthMode::Open, _) => Ok(self.default_tenant.clone()),
            (None, AuthMode::Keys, None) => Err(ServiceError::Unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or in \
                 the 'x-base-api-key' header."
                    .into(),
            )),
            (None, AuthMode::Keys, Some(_)) => Err(ServiceError::Unauthorized(
                "Incorrect API key provided.".into(),
            )),
        }
    }

    async fn lookup(
        &self,
        key: &str,
        client: Option<IpAddr>,
    ) -> Result<Option<Tenant>, ServiceError> {
        let hash = hash_api_key(key);
        let cached = self.cached(&hash);
        match cached {
            Cached::Valid(tenant) => return Ok(Some(tenant)),
            Cached::Unknown => return Ok(None),
            // A stale valid key is looked up again without spending budget.
            Cached::Stale | Cached::Missing => {}
        }
        let shared = {
            let mut pending = self
                .pending
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match pending.get(&hash) {
                Some(under_way) => under_way.clone(),
                None => {
                    if matches!(cached, Cached::Missing) {
                        self.spend_budget(client)?;
                    }
                    // The look-up runs to its end, and its answer is remembered, even when
                    // every request that asked is dropped meanwhile (refused by another of its
                    // checks, or its client went away): otherwise each such request of a valid
                    // key would spend a look-up of the budget and reach the database.
                    let (catalog, cache, ttl) =
                        (self.catalog.clone(), self.cache.clone(), self.ttl);
                    let (done, key) = (self.pending.clone(), hash.clone());
                    let task = tokio::spawn(async move {
                        let found = catalog.tenant_for_key_hash(&key).await;
                        if let Ok(tenant) = &found {
                            remember_in(&cache, ttl, key.clone(), tenant.clone());
                        }
                        done.lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .remove(&key);
                        found.map_err(Arc::new)
                    });
                    let shared = async move {
                        task.await.unwrap_or_else(|e| {
                            Err(Arc::new(store_core::StoreError::internal_msg(format!(
                                "a key look-up stopped: {e}"
                            ))))
                        })
                    }
                    .boxed()
                    .shared();
                    pending.insert(hash, shared.clone());
                    shared
                }
            }
        };
        shared.await.map_err(|e| match &*e {
            store_core::StoreError::Unavailable { message, .. } => ServiceError::Unavailable {
                message: format!("storage back-end unavailable: {message}"),
                source: None,
            },
            other @ (store_core::StoreError::NotFound { .. }
            | store_core::StoreError::InvalidInput { .. }
            | store_core::StoreError::Conflict(_)
            | store_core::StoreError::QuotaExceeded { .. }
            | store_core::StoreError::Internal { .. }) => {
                ServiceError::internal_msg(format!("a key look-up failed: {other}"))
            }
        })
    }

    /// Takes one look-up from the client's budget, then from everyone's.
    fn spend_budget(&self, client: Option<IpAddr>) -> Result<(), ServiceError> {
        use governor::clock::Clock;
        let refused = |not_until: governor::NotUntil<_>, per_second, limit| {
            ServiceError::from(RateLimited {
                per_second,
                limit,
                retry_after: not_until.wait_time_from(governor::clock::MonotonicClock.now()),
            })
        };
        if let Some(addr) = client {
            if self.misses.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
                self.by_address.retain_recent();
                self.by_address.shrink_to_fit();
            }
            self.by_address
                .check_key(&budget_key(addr))
                .map_err(|n| refused(n, LOOKUPS_PER_ADDRESS, ADDRESS_BURST))?;
        }
        self.lookups
            .check()
            .map_err(|n| refused(n, LOOKUPS_PER_SECOND, LOOKUP_BURST))
    }

    fn cached(&self, hash: &str) -> Cached {
        let Ok(cache) = self.cache.lock() else {
            return Cached::Missing;
        };
        if let Some((tenant, fresh_until)) = cache.valid.get(hash) {
            return if Instant::now() < *fresh_until {
                Cached::Valid(tenant.clone())
            } else {
                Cached::Stale
            };
        }
        match cache.unknown.get(hash) {
            Some(at) if at.elapsed() < self.ttl.min(MISS_TTL) => Cached::Unknown,
            _ => Cached::Missing,
        }
    }

    /// Creates a key for a tenant (created if missing); the key itself is returned once and
    /// never stored.
    pub async fn create_key(&self, tenant: &str) -> Result<(ApiKeyRecord, String), ServiceError> {
        if tenant.trim().is_empty() || tenant.len() > 128 {
            return Err(ServiceError::invalid(
                store_core::Field::Tenant,
                "tenant names are 1 to 128 characters",
            ));
        }
        let key = generate_api_key();
        let record = self
            .catalog
            .insert_api_key(tenant, &hash_api_key(&key), &key_prefix(&key))
            .await?;
        Ok((record, key))
    }

    /// A page of the caller's own keys, active and revoked, oldest first: at most `limit`,
    /// after the key `after`; and whether more follow.
    pub async fn keys_of(
        &self,
        tenant: &Tenant,
        limit: usize,
        after: Option<String>,
    ) -> Result<(Vec<ApiKeyRecord>, bool), ServiceError> {
        Ok(self
            .catalog
            .list_tenant_api_keys(&tenant.id, limit, after)
            .await?)
    }

    /// A new key for the caller's own tenant; the key itself is returned once.
    pub async fn create_key_for(
        &self,
        tenant: &Tenant,
    ) -> Result<(ApiKeyRecord, String), ServiceError> {
        self.create_key(&tenant.name).await
    }

    /// Revokes one of the caller's own active keys by id: another tenant's key, a revoked one or
    /// an unknown id is NotFound. The key stops working at once on this instance (the cache of
    /// resolved keys is emptied) and within `key_cache_ttl` on others.
    pub async fn revoke_key_of(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<ApiKeyRecord, ServiceError> {
        let record = self.catalog.revoke_tenant_api_key(&tenant.id, id).await?;
        self.recheck_keys_of(&record.tenant.id);
        Ok(record)
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.catalog.list_api_keys().await?)
    }

    pub async fn revoke_key(&self, id_or_prefix: &str) -> Result<ApiKeyRecord, ServiceError> {
        let record = self.catalog.revoke_api_key(id_or_prefix).await?;
        self.recheck_keys_of(&record.tenant.id);
        Ok(record)
    }

    /// Marks the cached keys of `tenant_id` to be looked up again at their next use, so that a
    /// revoked key of theirs stops working at once here (the cache holds no key ids, only
    /// hashes). Other tenants' keys, and the budget of look-ups, are untouched.
    fn recheck_keys_of(&self, tenant_id: &str) {
        let Ok(mut cache) = self.cache.lock() else {
            return;
        };
        let now = Instant::now();
        for (tenant, fresh_until) in cache.valid.values_mut() {
            if tenant.id == tenant_id {
                *fresh_until = now;
            }
        }
    }
}

#[cfg(test)]
mod tests;
