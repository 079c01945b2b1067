//! [`PgCatalog`]: tenants, API keys and collection records in PostgreSQL.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::Value;
use store_core::{
    ApiKeyRecord, Catalog, CollectionRecord, CollectionStats, CollectionUpdate, Field, PageOrder,
    PageRequest, PoolStatus, Quota, Quotas, StaleUsage, StoreError, StoreResult, Tenant, now_unix,
};

use crate::error;
use crate::quota;
use crate::sql::{Count, object_or_empty};
use crate::{Db, Pool};

#[derive(Debug, Clone)]
pub struct PgCatalog {
    pub(crate) db: Db,
    /// Turns for fenced chunk writes. Each holds two connections while it runs (the fence's
    /// transaction, and the back-end's write), so at most a quarter of the pool's size run at
    /// once: ingestion can never take more than half the pool, and never deadlock it waiting
    /// for second connections.
    pub(crate) fences: std::sync::Arc<tokio::sync::Semaphore>,
    /// What each tenant may keep.
    pub(crate) quotas: Quotas,
}

impl PgCatalog {
    /// A catalog with the default [`Quotas`].
    pub fn new(pool: Pool) -> Self {
        let fences = (pool.max_size() / 4).max(1);
        Self {
            db: Db(pool),
            fences: std::sync::Arc::new(tokio::sync::Semaphore::new(fences)),
            quotas: Quotas::default(),
        }
    }

    /// Holds every tenant to `quotas`.
    pub fn with_quotas(mut self, quotas: Quotas) -> Self {
        self.quotas = quotas;
        self
    }

    /// A turn for a fenced chunk write.
    pub(crate) async fn fence_turn(&self) -> StoreResult<tokio::sync::SemaphorePermit<'_>> {
        self.fences
            .acquire()
            .await
            .map_err(|_| StoreError::internal_msg("the fenced writes' turns are closed"))
    }

    /// The tenant's collection whose `column` (`id` or `collection`, never caller input) is
    /// `value`.
    async fn collection_where(
        &self,
        column: &'static str,
        tenant_id: &str,
        value: &str,
    ) -> StoreResult<CollectionRecord> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<CollectionRow> = diesel::sql_query(format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 AND {column} = $2"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(value.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        crate::one(rows, "collection", value)
    }
}

#[derive(QueryableByName)]
struct TenantRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    name: String,
}

impl From<TenantRow> for Tenant {
    fn from(r: TenantRow) -> Self {
        Tenant {
            id: r.id,
            name: r.name,
        }
    }
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    tenant_name: String,
    #[diesel(sql_type = Text)]
    prefix: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    revoked_at: Option<i64>,
}

impl From<KeyRow> for ApiKeyRecord {
    fn from(r: KeyRow) -> Self {
        ApiKeyRecord {
            id: r.id,
            tenant: Tenant {
                id: r.tenant_id,
                name: r.tenant_name,
            },
            prefix: r.prefix,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct CollectionRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    collection: String,
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
    #[diesel(sql_type = Text)]
    backend: String,
    #[diesel(sql_type = Nullable<Text>)]
    model: Option<String>,
    #[diesel(sql_type = Integer)]
    dimension: i32,
    #[diesel(sql_type = Jsonb)]
    metadata: Value,
    #[diesel(sql_type = Nullable<Integer>)]
    expires_after_days: Option<i32>,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    last_active_at: i64,
}

impl From<CollectionRow> for CollectionRecord {
    fn from(r: CollectionRow) -> Self {
        CollectionRecord {
            id: r.id,
            tenant_id: r.tenant_id,
            collection: r.collection,
            name: r.name,
            backend: r.backend,
            model: r.model,
            dimension: r.dimension.max(0) as usize,
            metadata: object_or_empty(r.metadata),
            expires_after_days: r.expires_after_days.map(|d| d.max(0) as u32),
            created_at: r.created_at,
            last_active_at: r.last_active_at,
        }
    }
}

const KEY_COLUMNS: &str =
    "k.id, k.tenant_id, t.name AS tenant_name, k.prefix, k.created_at, k.revoked_at";
/// Whether a collection's expiry has passed at `$8` (the time of the statement), or its chunks
/// were freed.
const EXPIRED: &str = "(chunks_freed_at IS NOT NULL OR (expires_after_days IS NOT NULL AND \
                       last_active_at + expires_after_days::bigint * 86400 < $8))";

pub(crate) const COLLECTION_COLUMNS: &str = "id, tenant_id, collection, name, backend, model, \
                                             dimension, metadata, expires_after_days, created_at, \
                                             last_active_at";

fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

#[async_trait]
impl Catalog for PgCatalog {
    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await
    }

    fn pool_status(&self) -> Option<PoolStatus> {
        Some(self.db.0.status())
    }

    async fn ensure_tenant(&self, name: &str) -> StoreResult<Tenant> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<TenantRow> = diesel::sql_query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO \
             UPDATE SET name = EXCLUDED.name RETURNING id, name",
        )
        .bind::<Text, _>(new_id("tenant_"))
        .bind::<Text, _>(name.to_string())
        .bind::<BigInt, _>(now_unix())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        crate::first_or(rows, || {
            StoreError::internal_msg("the tenant upsert returned no row")
        })
    }

    async fn insert_api_key(
        &self,
        tenant_name: &str,
        key_hash: &str,
        prefix: &str,
    ) -> StoreResult<ApiKeyRecord> {
        let tenant = self.ensure_tenant(tenant_name).await?;
        let mut conn = self.db.conn().await?;
        let id = new_id("key_");
        let now = now_unix();
        let quotas = self.quotas;
        conn.transaction(async |c| {
            let held = quota::lock_holdings(c, &quotas, &tenant.id).await?;
            quota::check(&quotas, Quota::ApiKeys, held.api_keys + 1)?;
            diesel::sql_query(
                "INSERT INTO api_keys (id, tenant_id, key_hash, prefix, created_at) VALUES ($1, \
                 $2, $3, $4, $5)",
            )
            .bind::<Text, _>(id.clone())
            .bind::<Text, _>(tenant.id.clone())
            .bind::<Text, _>(key_hash.to_string())
            .bind::<Text, _>(prefix.to_string())
            .bind::<BigInt, _>(now)
            .execute(c)
            .await?;
            Ok::<_, quota::Refusal>(())
        })
        .await
        .map_err(|e| e.into_store(error::db))?;
        Ok(ApiKeyRecord {
            id,
            tenant,
            prefix: prefix.to_string(),
            created_at: now,
            revoked_at: None,
        })
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let query = diesel::sql_query(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN tenants t ON t.id = k.tenant_id ORDER BY \
             k.created_at, k.id"
        ))
        .into_boxed();
        self.db.load_as::<KeyRow, _>(query).await
    }

    async fn revoke_api_key(&self, id_or_prefix: &str) -> StoreResult<ApiKeyRecord> {
        // An id names one key; a prefix must name exactly one active key, or nothing is revoked.
        let mut conn = self.db.conn().await?;
        let rows: Vec<KeyRow> = diesel::sql_query(format!(
            "WITH m AS (SELECT id FROM api_keys WHERE revoked_at IS NULL AND (id = $1 OR prefix = \
             $1) ORDER BY (id = $1) DESC FOR UPDATE), pick AS (SELECT CASE WHEN bool_or(id = $1) \
             THEN $1 WHEN count(*) = 1 THEN min(id) END AS id FROM m), r AS (UPDATE api_keys SET \
             revoked_at = $2 WHERE id = (SELECT id FROM pick) RETURNING *) SELECT {KEY_COLUMNS} \
             FROM r k JOIN tenants t ON t.id = k.tenant_id"
        ))
        .bind::<Text, _>(id_or_prefix.to_string())
        .bind::<BigInt, _>(now_unix())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        if let Some(row) = rows.into_iter().next() {
            return Ok(row.into());
        }
        let active: Vec<Count> = diesel::sql_query(
            "SELECT count(*) AS n FROM api_keys WHERE revoked_at IS NULL AND prefix = $1",
        )
        .bind::<Text, _>(id_or_prefix.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        match active.into_iter().next().map_or(0, |c| c.n) {
            0 => Err(StoreError::not_found("active API key", id_or_prefix)),
            n => Err(StoreError::invalid_field(
                Field::Key,
                format!(
                    "the prefix '{id_or_prefix}' matches {n} active keys; revoke one by its id"
                ),
            )),
        }
    }

    async fn list_tenant_api_keys(
        &self,
        tenant_id: &str,
        limit: usize,
        after: Option<String>,
    ) -> StoreResult<(Vec<ApiKeyRecord>, bool)> {
        let limit = limit.clamp(1, 1000);
        let mut conn = self.db.conn().await?;
        let rows: Vec<KeyRow> = diesel::sql_query(format!(
            "SELECT {KEY_COLUMNS} FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE \
             k.tenant_id = $1 AND ($2::text IS NULL OR (k.created_at, k.id) > (SELECT \
             a.created_at, a.id FROM api_keys a WHERE a.id = $2 AND a.tenant_id = $1)) ORDER BY \
             k.created_at, k.id LIMIT $3"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Nullable<Text>, _>(after)
        .bind::<BigInt, _>(limit as i64 + 1)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(crate::split_page(rows, limit))
    }

    async fn revoke_tenant_api_key(&self, tenant_id: &str, id: &str) -> StoreResult<ApiKeyRecord> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<KeyRow> = diesel::sql_query(format!(
            "WITH r AS (UPDATE api_keys SET revoked_at = $3 WHERE id = $2 AND tenant_id = $1 AND \
             revoked_at IS NULL RETURNING *) SELECT {KEY_COLUMNS} FROM r k JOIN tenants t ON t.id \
             = k.tenant_id"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(id.to_string())
        .bind::<BigInt, _>(now_unix())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        crate::one(rows, "active API key", id)
    }

    async fn tenant_for_key_hash(&self, key_hash: &str) -> StoreResult<Option<Tenant>> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<TenantRow> = diesel::sql_query(
            "SELECT t.id, t.name FROM api_keys k JOIN tenants t ON t.id = k.tenant_id WHERE \
             k.key_hash = $1 AND k.revoked_at IS NULL",
        )
        .bind::<Text, _>(key_hash.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().next().map(Into::into))
    }

    async fn create_collection(&self, new: CollectionRecord) -> StoreResult<CollectionRecord> {
        let mut conn = self.db.conn().await?;
        let quotas = self.quotas;
        let name = new.collection.clone();
        let rows: Vec<CollectionRow> = conn
            .transaction(async |c| {
                let held = quota::lock_holdings(c, &quotas, &new.tenant_id).await?;
                quota::check(&quotas, Quota::VectorStores, held.vector_stores + 1)?;
                Ok::<_, quota::Refusal>(
                    diesel::sql_query(format!(
                        "INSERT INTO collections ({COLLECTION_COLUMNS}) VALUES ($1, $2, $3, $4, \
                         $5, $6, $7, $8, $9, $10, $11) RETURNING {COLLECTION_COLUMNS}"
                    ))
                    .bind::<Text, _>(new.id)
                    .bind::<Text, _>(new.tenant_id)
                    .bind::<Text, _>(new.collection)
                    .bind::<Nullable<Text>, _>(new.name)
                    .bind::<Text, _>(new.backend)
                    .bind::<Nullable<Text>, _>(new.model)
                    .bind::<Integer, _>(new.dimension as i32)
                    .bind::<Jsonb, _>(Value::Object(new.metadata))
                    .bind::<Nullable<Integer>, _>(new.expires_after_days.map(|d| d as i32))
                    .bind::<BigInt, _>(new.created_at)
                    .bind::<BigInt, _>(new.last_active_at)
                    .load(c)
                    .await?,
                )
            })
            .await
            .map_err(|e| {
                e.into_store(|e| match error::db(e) {
                    StoreError::Conflict(_) => {
                        StoreError::conflict(format!("a collection named '{name}' already exists"))
                    }
                    other @ (StoreError::NotFound { .. }
                    | StoreError::InvalidInput { .. }
                    | StoreError::QuotaExceeded { .. }
                    | StoreError::Unavailable { .. }
                    | StoreError::Internal { .. }) => other,
                })
            })?;
        crate::first_or(rows, || {
            StoreError::internal_msg("the collection insert returned no row")
        })
    }

    async fn get_collection(&self, tenant_id: &str, id: &str) -> StoreResult<CollectionRecord> {
        self.collection_where("id", tenant_id, id).await
    }

    async fn get_collection_by_name(
        &self,
        tenant_id: &str,
        collection: &str,
    ) -> StoreResult<CollectionRecord> {
        self.collection_where("collection", tenant_id, collection)
            .await
    }

    async fn list_collections(&self, tenant_id: &str) -> StoreResult<Vec<CollectionRecord>> {
        let query = diesel::sql_query(format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 ORDER BY \
             created_at, id"
        ))
        .into_boxed()
        .bind::<Text, _>(tenant_id.to_string());
        self.db.load_as::<CollectionRow, _>(query).await
    }

    async fn page_collections(
        &self,
        tenant_id: &str,
        page: PageRequest,
    ) -> StoreResult<(Vec<CollectionRecord>, bool)> {
        let direction = match page.order {
            PageOrder::Asc => "ASC",
            PageOrder::Desc => "DESC",
        };
        let limit = page.limit.clamp(1, 1000);
        let mut conn = self.db.conn().await?;
        let rows: Vec<CollectionRow> = diesel::sql_query(format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE tenant_id = $1 AND ($2::text IS \
             NULL OR (CASE WHEN $4 THEN id > $2 ELSE id < $2 END)) AND ($3::text IS NULL OR (CASE \
             WHEN $4 THEN id < $3 ELSE id > $3 END)) ORDER BY id {direction} LIMIT $5"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Nullable<Text>, _>(page.after)
        .bind::<Nullable<Text>, _>(page.before)
        .bind::<diesel::sql_types::Bool, _>(page.order == PageOrder::Asc)
        .bind::<BigInt, _>(limit as i64 + 1)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(crate::split_page(rows, limit))
    }

    async fn update_collection(
        &self,
        tenant_id: &str,
        id: &str,
        update: CollectionUpdate,
    ) -> StoreResult<CollectionRecord> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<CollectionRow> = diesel::sql_query(format!(
            // An expired collection stays expired: its name and metadata change, its expiry
            // and last use do not.
            "UPDATE collections SET name = CASE WHEN $3 THEN $4 ELSE name END, metadata = \
             COALESCE($5, metadata), expires_after_days = CASE WHEN $6 AND NOT {EXPIRED} THEN $7 \
             ELSE expires_after_days END, last_active_at = CASE WHEN {EXPIRED} THEN \
             last_active_at ELSE $8 END WHERE tenant_id = $1 AND id = $2 RETURNING \
             {COLLECTION_COLUMNS}"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(id.to_string())
        .bind::<diesel::sql_types::Bool, _>(update.name.is_some())
        .bind::<Nullable<Text>, _>(update.name.flatten())
        .bind::<Nullable<Jsonb>, _>(update.metadata.map(Value::Object))
        .bind::<diesel::sql_types::Bool, _>(update.expires_after_days.is_some())
        .bind::<Nullable<Integer>, _>(update.expires_after_days.flatten().map(|d| d as i32))
        .bind::<BigInt, _>(now_unix())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        crate::one(rows, "collection", id)
    }

    async fn delete_collection(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        self.db
            .delete_owned("collections", "collection", tenant_id, id)
            .await
    }

    async fn touch_collection(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            // An expired collection stays expired: using it does not revive it.
            "UPDATE collections SET last_active_at = $3 WHERE tenant_id = $1 AND id = $2 AND \
             (expires_after_days IS NULL OR last_active_at + expires_after_days * 86400 >= $3)",
        )
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(id.to_string())
        .bind::<BigInt, _>(now_unix())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(())
    }

    async fn expired_collections(
        &self,
        now: i64,
        backends: Vec<String>,
        limit: usize,
    ) -> StoreResult<Vec<CollectionRecord>> {
        let query = diesel::sql_query(format!(
            "SELECT {COLLECTION_COLUMNS} FROM collections WHERE expires_after_days IS NOT NULL \
             AND chunks_freed_at IS NULL AND last_active_at + expires_after_days::bigint * 86400 \
             <= $1 AND backend = ANY($3) ORDER BY last_active_at + expires_after_days::bigint * \
             86400, id LIMIT $2"
        ))
        .into_boxed()
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind::<diesel::sql_types::Array<Text>, _>(backends);
        self.db.load_as::<CollectionRow, _>(query).await
    }

    async fn mark_chunks_freed(&self, id: &str, at: i64) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query("UPDATE collections SET chunks_freed_at = $2 WHERE id = $1")
            .bind::<Text, _>(id.to_string())
            .bind::<BigInt, _>(at)
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    async fn collection_stats(&self, ids: Vec<String>) -> StoreResult<Vec<CollectionStats>> {
        self.stats_of(ids).await
    }

    async fn chunks_changed(&self, id: &str) -> StoreResult<()> {
        self.note_chunks_changed(id).await
    }

    async fn record_usage(&self, id: &str, seen: u64, usage_bytes: u64) -> StoreResult<()> {
        self.note_usage(id, seen, usage_bytes).await
    }

    async fn take_stale_usage(&self, stale: StaleUsage) -> StoreResult<Vec<CollectionRecord>> {
        self.stale_usage_of(stale).await
    }

    async fn add_attribute_keys(
        &self,
        collection_id: &str,
        keys: Vec<String>,
        max: usize,
    ) -> StoreResult<()> {
        self.admit_attribute_keys(collection_id, keys, max).await
    }
}
