//! API keys: generation, hashing and resolution to a tenant.
//!
//! Keys are 256-bit random strings; only their SHA-256 is stored, and only a short prefix is ever
//! shown again. A resolved key is cached for a short while so that a request costs no database
//! round trip; a revoked key stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
/// Database look-ups of keys not in the cache, a second, for all callers together (and the
/// burst): what anonymous callers spraying made-up keys can make the service do.
const LOOKUPS_PER_SECOND: u32 = 100;
const LOOKUP_BURST: u32 = 200;

type Lookups = governor::RateLimiter<
    governor::state::NotKeyed,
    governor::state::InMemoryState,
    governor::clock::MonotonicClock,
>;

pub struct AuthService {
    catalog: Arc<dyn Catalog>,
    mode: AuthMode,
    default_tenant: Tenant,
    ttl: Duration,
    /// Resolved keys (and, for [`MISS_TTL`], unknown ones) by hash.
    cache: Mutex<HashMap<String, (Option<Tenant>, Instant)>>,
    lookups: Lookups,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("mode", &self.mode)
            .field("default_tenant", &self.default_tenant)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
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
            cache: Mutex::new(HashMap::new()),
            lookups: governor::RateLimiter::direct_with_clock(
                governor::Quota::per_second(
                    std::num::NonZeroU32::new(LOOKUPS_PER_SECOND).expect("non-zero"),
                )
                .allow_burst(std::num::NonZeroU32::new(LOOKUP_BURST).expect("non-zero")),
                governor::clock::MonotonicClock,
            ),
        })
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    /// The caller's tenant.
    pub async fn authenticate(&self, key: Option<&str>) -> Result<Tenant, ServiceError> {
        let key = key.map(str::trim).filter(|k| !k.is_empty());
        let found = match key {
            Some(k) => self.lookup(k).await?,
            None => None,
        };
        match (found, self.mode, key) {
            (Some(tenant), _, _) => Ok(tenant),
            (None, AuthMode::Open, _) => Ok(self.default_tenant.clone()),
            (None, AuthMode::Keys, None) => Err(ServiceError::Unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' or in the 'x-base-api-key' header.".into(),
            )),
            (None, AuthMode::Keys, Some(_)) => {
                Err(ServiceError::Unauthorized("Incorrect API key provided.".into()))
            }
        }
    }

    async fn lookup(&self, key: &str) -> Result<Option<Tenant>, ServiceError> {
        let hash = hash_api_key(key);
        if let Some(found) = self.cached(&hash) {
            return Ok(found);
        }
        if let Err(not_until) = self.lookups.check() {
            use governor::clock::Clock;
            return Err(RateLimited {
                per_second: LOOKUPS_PER_SECOND,
                limit: LOOKUP_BURST,
                retry_after: not_until.wait_time_from(governor::clock::MonotonicClock.now()),
            }
            .into());
        }
        let tenant = self.catalog.tenant_for_key_hash(&hash).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.clear();
            }
            cache.insert(hash, (tenant.clone(), Instant::now()));
        }
        Ok(tenant)
    }

    /// The cached answer for a key hash: `Some(None)` for a key known to be unknown.
    fn cached(&self, hash: &str) -> Option<Option<Tenant>> {
        let cache = self.cache.lock().ok()?;
        let (tenant, at) = cache.get(hash)?;
        let ttl = if tenant.is_some() {
            self.ttl
        } else {
            self.ttl.min(MISS_TTL)
        };
        (at.elapsed() < ttl).then(|| tenant.clone())
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

    /// The caller's own keys, active and revoked, oldest first.
    pub async fn keys_of(&self, tenant: &Tenant) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.catalog.list_tenant_api_keys(&tenant.id).await?)
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
        self.forget_resolved_keys();
        Ok(record)
    }

    pub async fn list_keys(&self) -> Result<Vec<ApiKeyRecord>, ServiceError> {
        Ok(self.catalog.list_api_keys().await?)
    }

    pub async fn revoke_key(&self, id_or_prefix: &str) -> Result<ApiKeyRecord, ServiceError> {
        let record = self.catalog.revoke_api_key(id_or_prefix).await?;
        self.forget_resolved_keys();
        Ok(record)
    }

    /// Empties the cache of resolved keys, so that a revoked key stops working at once here.
    fn forget_resolved_keys(&self) {
        if let Ok(mut cache) = self.cache.lock() {
            cache.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store_core::MockCatalog;

    fn tenant(name: &str) -> Tenant {
        Tenant::new(format!("t_{name}"), name)
    }

    async fn service(mode: AuthMode, known_hash: String) -> AuthService {
        let mut catalog = MockCatalog::new();
        catalog
            .expect_ensure_tenant()
            .returning(|name| Ok(tenant(name)));
        catalog
            .expect_tenant_for_key_hash()
            .returning(move |h| Ok((h == known_hash).then(|| tenant("acme"))));
        AuthService::new(Arc::new(catalog), mode, "default", Duration::from_secs(30))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn unknown_keys_are_remembered_and_their_lookups_bounded() {
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut catalog = MockCatalog::new();
        catalog
            .expect_ensure_tenant()
            .returning(|name| Ok(tenant(name)));
        let counted = calls.clone();
        catalog.expect_tenant_for_key_hash().returning(move |_| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(None)
        });
        let svc = AuthService::new(
            Arc::new(catalog),
            AuthMode::Keys,
            "default",
            Duration::from_secs(30),
        )
        .await
        .unwrap();
        for _ in 0..50 {
            assert!(matches!(
                svc.authenticate(Some("vsk_same_bad_key")).await,
                Err(ServiceError::Unauthorized(_))
            ));
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Made-up keys, each new: the database sees at most the burst, the rest wait.
        let mut limited = 0;
        for i in 0..(LOOKUP_BURST as usize + 100) {
            match svc.authenticate(Some(&format!("vsk_made_up_{i}"))).await {
                Err(ServiceError::RateLimited(_)) => limited += 1,
                Err(ServiceError::Unauthorized(_)) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(limited >= 90, "{limited}");
        assert!(calls.load(std::sync::atomic::Ordering::SeqCst) <= LOOKUP_BURST as usize + 12);
    }

    #[test]
    fn keys_are_long_random_and_hash_to_hex() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with(KEY_PREFIX) && a.len() == 47);
        let h = hash_api_key(&a);
        assert_eq!(h.len(), 64);
        assert!(!h.contains(&a[4..]));
        assert_eq!(key_prefix(&a).len(), 10);
    }

    #[tokio::test]
    async fn keys_mode_requires_a_known_key() {
        let key = generate_api_key();
        let svc = service(AuthMode::Keys, hash_api_key(&key)).await;
        assert_eq!(svc.authenticate(Some(&key)).await.unwrap().name, "acme");
        assert!(matches!(
            svc.authenticate(None).await,
            Err(ServiceError::Unauthorized(_))
        ));
        assert!(matches!(
            svc.authenticate(Some("   ")).await,
            Err(ServiceError::Unauthorized(_))
        ));
        let wrong = svc.authenticate(Some("vsk_wrong")).await.unwrap_err();
        assert!(!wrong.to_string().contains("vsk_wrong"));
    }

    #[tokio::test]
    async fn open_mode_maps_unknown_callers_to_the_default_tenant() {
        let key = generate_api_key();
        let svc = service(AuthMode::Open, hash_api_key(&key)).await;
        assert_eq!(svc.authenticate(None).await.unwrap().name, "default");
        assert_eq!(
            svc.authenticate(Some("sk-anything")).await.unwrap().name,
            "default"
        );
        assert_eq!(svc.authenticate(Some(&key)).await.unwrap().name, "acme");
    }
}
