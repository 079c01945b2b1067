//! The catalog: tenants, API keys (stored as hashes only) and collection records.
//!
//! A collection record says which back-end holds a collection, which embedding model fills it
//! and with what dimension. Every lookup is scoped by tenant: another tenant's collection is
//! [`crate::StoreError::NotFound`], exactly like a missing one.

use std::fmt::Debug;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::StoreResult;
use crate::store::CollectionSpec;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tenant {
    pub id: String,
    pub name: String,
}

impl Tenant {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }
}

/// An API key as the catalog keeps it: never the key itself, only its SHA-256 and a short
/// prefix to recognise it by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub id: String,
    pub tenant: Tenant,
    pub prefix: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionRecord {
    /// `vs_…`: the public id, also the back-end's physical collection name.
    pub id: String,
    pub tenant_id: String,
    /// The per-tenant unique name of the platform API.
    pub collection: String,
    /// The display name.
    pub name: Option<String>,
    pub backend: String,
    /// The embedding model, or `None` for raw collections that take caller-supplied vectors.
    pub model: Option<String>,
    pub dimension: usize,
    pub metadata: Map<String, Value>,
    /// `expires_after.days` with the `last_active_at` anchor.
    pub expires_after_days: Option<u32>,
    pub created_at: i64,
    pub last_active_at: i64,
}

impl CollectionRecord {
    /// How a back-end sees the collection; an error only for a record whose id is not a
    /// [`crate::PhysicalName`], which the catalog never hands out.
    pub fn spec(&self) -> StoreResult<CollectionSpec> {
        CollectionSpec::new(&self.id, self.dimension)
    }

    /// When it expires: `expires_after_days` after `last_active_at`, if it has an expiry.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_after_days
            .map(|days| self.last_active_at + i64::from(days) * 86_400)
    }
}

/// Which collections [`Catalog::take_stale_usage`] takes: on one of `backends`, their usage out
/// of date, and either unchanged for `quiet_secs` since their last count (or try) or not
/// counted (or tried) for `recount_secs`; at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleUsage {
    pub backends: Vec<String>,
    pub quiet_secs: i64,
    pub recount_secs: i64,
    pub limit: usize,
}

/// Which way a cursor page runs; ids are time-ordered, so this is id order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageOrder {
    Asc,
    Desc,
}

/// One page of a tenant's collections: `limit` records after `after` and/or before `before`
/// (ids, exclusive), in `order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    pub order: PageOrder,
    pub after: Option<String>,
    pub before: Option<String>,
}

/// Changes to a collection: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CollectionUpdate {
    pub name: Option<Option<String>>,
    pub metadata: Option<Map<String, Value>>,
    pub expires_after_days: Option<Option<u32>>,
}

/// A database connection pool at one moment.
/// A collection's file counts by status and the bytes of text its chunks hold, as the catalog
/// keeps them: the counts change with the files, the usage is that of the last count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectionStats {
    pub id: String,
    /// The counts of its attached files; `usage_bytes` is the bytes of text of all its chunks
    /// (raw writes' too), as last counted.
    pub counts: crate::StatusCounts,
    /// Writes that may have changed its chunks, in all.
    pub changes: u64,
    /// How many of those writes the usage counted.
    pub counted: u64,
}

impl CollectionStats {
    /// Whether a write since the last count may have changed the usage.
    pub fn usage_is_stale(&self) -> bool {
        self.changes > self.counted
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStatus {
    /// The connections the pool holds (lent out or idle).
    pub size: usize,
    /// The connections lent out.
    pub in_use: usize,
    /// The callers waiting for a connection.
    pub waiting: usize,
}

#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait Catalog: Send + Sync + Debug + 'static {
    /// Succeeds when the catalog's database answers.
    async fn ping(&self) -> StoreResult<()>;

    /// The catalog's connection pool now; `None` for a catalog without one.
    fn pool_status(&self) -> Option<PoolStatus> {
        None
    }

    /// The tenant with this name, created if missing.
    async fn ensure_tenant(&self, name: &str) -> StoreResult<Tenant>;

    /// Stores a key's hash for a tenant (created if missing).
    async fn insert_api_key(
        &self,
        tenant_name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKeyRecord>;

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;

    /// Revokes a key by id or prefix; NotFound when neither matches an active key.
    async fn revoke_api_key(&self, id_or_prefix: &str) -> StoreResult<ApiKeyRecord>;

    /// A page of one tenant's keys, active and revoked, oldest first: at most `limit`, after the
    /// key `after` (one of the tenant's); and whether more follow.
    async fn list_tenant_api_keys(
        &self,
        tenant_id: &str,
        limit: usize,
        after: Option<String>,
    ) -> StoreResult<(Vec<ApiKeyRecord>, bool)>;

    /// Revokes one of the tenant's active keys by id; NotFound when the tenant has no active key
    /// with that id (another tenant's key is not found either).
    async fn revoke_tenant_api_key(&self, tenant_id: &str, id: &str) -> StoreResult<ApiKeyRecord>;

    /// The tenant of an active key with this hash, if any.
    async fn tenant_for_key_hash(&self, key_hash: &str) -> StoreResult<Option<Tenant>>;

    /// Records a new collection as it is given (its times too). Conflict when the tenant
    /// already has a collection of that name.
    async fn create_collection(&self, new: CollectionRecord) -> StoreResult<CollectionRecord>;

    async fn get_collection(&self, tenant_id: &str, id: &str) -> StoreResult<CollectionRecord>;

    async fn get_collection_by_name(
        &self,
        tenant_id: &str,
        collection: &str,
    ) -> StoreResult<CollectionRecord>;

    /// The tenant's collections, oldest first.
    async fn list_collections(&self, tenant_id: &str) -> StoreResult<Vec<CollectionRecord>>;

    /// A page of the tenant's collections, and whether more follow it.
    async fn page_collections(
        &self,
        tenant_id: &str,
        page: PageRequest,
    ) -> StoreResult<(Vec<CollectionRecord>, bool)>;

    /// Applies the changes, bumps `last_active_at`, returns the new record.
    async fn update_collection(
        &self,
        tenant_id: &str,
        id: &str,
        update: CollectionUpdate,
    ) -> StoreResult<CollectionRecord>;

    async fn delete_collection(&self, tenant_id: &str, id: &str) -> StoreResult<()>;

    /// Sets `last_active_at` to now.
    async fn touch_collection(&self, tenant_id: &str, id: &str) -> StoreResult<()>;

    /// Collections of every tenant on one of `backends` that expired at or before `now` and
    /// whose chunks have not been freed yet, longest expired first, at most `limit`.
    async fn expired_collections(
        &self,
        now: i64,
        backends: Vec<String>,
        limit: usize,
    ) -> StoreResult<Vec<CollectionRecord>>;

    /// Records that an expired collection's chunks were freed at `at`.
    async fn mark_chunks_freed(&self, id: &str, at: i64) -> StoreResult<()>;

    /// The stats of these collections (of any tenant: the caller has checked they are the
    /// caller's), in one look-up whatever they hold; a collection not found is left out.
    async fn collection_stats(&self, ids: Vec<String>) -> StoreResult<Vec<CollectionStats>>;

    /// Records a write that may have changed the collection's chunks: its usage is out of date
    /// until counted again. Called once the write ended, whether or not it succeeded.
    async fn chunks_changed(&self, id: &str) -> StoreResult<()>;

    /// Records the usage counted once `seen` changes had been made (read from
    /// [`Catalog::collection_stats`] before counting); a count that saw fewer changes than one
    /// recorded already is dropped.
    async fn record_usage(&self, id: &str, seen: u64, usage_bytes: u64) -> StoreResult<()>;

    /// Takes for a count the collections of every tenant that `stale` describes, the latest
    /// changed first. A collection taken is not taken again (by any server) before
    /// `stale.recount_secs`, unless it changes again.
    async fn take_stale_usage(&self, stale: StaleUsage) -> StoreResult<Vec<CollectionRecord>>;

    /// Records that the collection's chunks use `keys` as attribute keys, unless that would make
    /// more than `max` distinct keys: then nothing is recorded and the answer is InvalidInput.
    async fn add_attribute_keys(
        &self,
        collection_id: &str,
        keys: Vec<String>,
        max: usize,
    ) -> StoreResult<()>;
}
