//! The tenants' quotas ([`Quotas`]), checked where a vector store, a file, a key or an upload
//! is made: in the transaction that makes it, under a lock of the tenant's row, so that
//! requests made at once cannot pass a quota together.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Text};
use diesel_async::RunQueryDsl;
use store_core::{Quota, Quotas, StoreError};

/// What a tenant holds, read under a lock of its row.
#[derive(QueryableByName)]
pub(crate) struct Holdings {
    #[diesel(sql_type = BigInt)]
    pub vector_stores: i64,
    #[diesel(sql_type = BigInt)]
    pub files: i64,
    #[diesel(sql_type = BigInt)]
    pub file_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub api_keys: i64,
    /// Its uploads still pending and not past their expiry.
    #[diesel(sql_type = BigInt)]
    pub pending_uploads: i64,
}

/// Why a checked insert did not happen.
pub(crate) enum Refusal {
    Db(diesel::result::Error),
    Quota(Quota, u64),
}

impl From<diesel::result::Error> for Refusal {
    fn from(e: diesel::result::Error) -> Self {
        Refusal::Db(e)
    }
}

impl Refusal {
    pub(crate) fn into_store(
        self,
        db: impl FnOnce(diesel::result::Error) -> StoreError,
    ) -> StoreError {
        match self {
            Refusal::Db(e) => db(e),
            Refusal::Quota(quota, limit) => StoreError::QuotaExceeded { quota, limit },
        }
    }
}

/// Locks the tenant's row for the rest of the transaction and reads what it holds. Only the
/// counts a quota bounds are counted (the others read 0).
pub(crate) async fn lock_holdings(
    conn: &mut diesel_async::AsyncPgConnection,
    quotas: &Quotas,
    tenant_id: &str,
) -> Result<Holdings, Refusal> {
    // The lock first, in a statement of its own: the counts below then read a snapshot taken
    // after any other check of this tenant committed.
    diesel::sql_query("SELECT id FROM tenants WHERE id = $1 FOR NO KEY UPDATE")
        .bind::<Text, _>(tenant_id.to_string())
        .execute(conn)
        .await?;
    let stores = quotas.limit(Quota::VectorStores).is_some();
    let keys = quotas.limit(Quota::ApiKeys).is_some();
    let uploads = quotas.limit(Quota::PendingUploads).is_some();
    let rows: Vec<Holdings> = diesel::sql_query(format!(
        "SELECT t.file_count AS files, t.file_bytes AS file_bytes, {} AS vector_stores, {} AS \
         api_keys, {} AS pending_uploads FROM tenants t WHERE t.id = $1",
        if stores {
            "(SELECT count(*) FROM collections c WHERE c.tenant_id = t.id)::int8"
        } else {
            "0::int8"
        },
        if keys {
            "(SELECT count(*) FROM api_keys k WHERE k.tenant_id = t.id AND k.revoked_at IS \
             NULL)::int8"
        } else {
            "0::int8"
        },
        if uploads {
            "(SELECT count(*) FROM uploads u WHERE u.tenant_id = t.id AND u.status = 'pending' \
             AND u.expires_at > extract(epoch FROM now())::int8)::int8"
        } else {
            "0::int8"
        },
    ))
    .bind::<Text, _>(tenant_id.to_string())
    .load(conn)
    .await?;
    Ok(rows.into_iter().next().unwrap_or(Holdings {
        vector_stores: 0,
        files: 0,
        file_bytes: 0,
        api_keys: 0,
        pending_uploads: 0,
    }))
}

/// Refuses when holding `have` of `quota` would go over it.
pub(crate) fn check(quotas: &Quotas, quota: Quota, have: i64) -> Result<(), Refusal> {
    let have = u64::try_from(have.max(0)).unwrap_or(u64::MAX);
    match quotas.limit(quota) {
        Some(limit) if have > limit => Err(Refusal::Quota(quota, limit)),
        _ => Ok(()),
    }
}
