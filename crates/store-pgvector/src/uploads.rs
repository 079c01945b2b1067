//! [`UploadCatalog`] in PostgreSQL: `uploads` and `upload_parts`. Each change of an upload runs
//! in one transaction under a lock of the upload's row (and, where a quota is checked, of its
//! tenant's row after it), so that parts, completion, cancellation and expiry of one upload
//! never interleave.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use store_core::{
    Field, FileRecord, PartBounds, PartRecord, Quota, StoreError, StoreResult, UploadCatalog,
    UploadRecord, UploadStatus,
};

use crate::PgCatalog;
use crate::{error, quota};

#[derive(QueryableByName)]
struct UploadRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    filename: String,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = Text)]
    mime_type: String,
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = BigInt)]
    expires_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    file_expires_after: Option<i64>,
    #[diesel(sql_type = Nullable<Text>)]
    file_id: Option<String>,
}

impl TryFrom<UploadRow> for UploadRecord {
    type Error = StoreError;

    fn try_from(r: UploadRow) -> StoreResult<Self> {
        Ok(UploadRecord {
            status: r.status.parse().map_err(StoreError::internal_msg)?,
            id: r.id,
            tenant_id: r.tenant_id,
            filename: r.filename,
            bytes: r.bytes.max(0) as u64,
            mime_type: r.mime_type,
            purpose: r.purpose,
            created_at: r.created_at,
            expires_at: r.expires_at,
            file_expires_after: r.file_expires_after,
            file_id: r.file_id,
        })
    }
}

#[derive(QueryableByName)]
struct PartRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    upload_id: String,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
}

impl From<PartRow> for PartRecord {
    fn from(r: PartRow) -> Self {
        PartRecord {
            id: r.id,
            upload_id: r.upload_id,
            bytes: r.bytes.max(0) as u64,
            created_at: r.created_at,
        }
    }
}

const COLUMNS: &str = "id, tenant_id, filename, bytes, mime_type, purpose, status, created_at, \
                       expires_at, file_expires_after, file_id";

/// Why a transaction did not commit.
enum Failed {
    Db(diesel::result::Error),
    Store(StoreError),
}

impl From<diesel::result::Error> for Failed {
    fn from(e: diesel::result::Error) -> Self {
        Failed::Db(e)
    }
}

impl From<StoreError> for Failed {
    fn from(e: StoreError) -> Self {
        Failed::Store(e)
    }
}

impl From<quota::Refusal> for Failed {
    fn from(e: quota::Refusal) -> Self {
        match e {
            quota::Refusal::Db(e) => Failed::Db(e),
            refusal @ quota::Refusal::Quota(..) => Failed::Store(refusal.into_store(error::db)),
        }
    }
}

impl Failed {
    fn into_store(self) -> StoreError {
        match self {
            Failed::Db(e) => error::db(e),
            Failed::Store(e) => e,
        }
    }
}

fn bigint(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn records(rows: Vec<UploadRow>) -> StoreResult<Vec<UploadRecord>> {
    rows.into_iter().map(UploadRecord::try_from).collect()
}

/// The upload `id` the rows hold, or not found.
fn one_upload(rows: Vec<UploadRow>, id: &str) -> StoreResult<UploadRecord> {
    records(rows)?
        .into_iter()
        .next()
        .ok_or_else(|| StoreError::not_found("upload", id))
}

/// Locks the tenant's upload `id` for the rest of the transaction and reads it; not found
/// when the tenant has none such.
async fn lock_upload(
    c: &mut AsyncPgConnection,
    tenant_id: &str,
    id: &str,
) -> Result<UploadRecord, Failed> {
    let rows: Vec<UploadRow> = diesel::sql_query(format!(
        "SELECT {COLUMNS} FROM uploads WHERE tenant_id = $1 AND id = $2 FOR UPDATE"
    ))
    .bind::<Text, _>(tenant_id.to_string())
    .bind::<Text, _>(id.to_string())
    .load(c)
    .await?;
    Ok(one_upload(rows, id)?)
}

/// Refuses an upload that is no longer pending.
fn pending(upload: &UploadRecord) -> Result<(), Failed> {
    if upload.status == UploadStatus::Pending {
        return Ok(());
    }
    Err(StoreError::invalid(format!(
        "upload {} is {}: only a pending upload can change",
        upload.id, upload.status
    ))
    .into())
}

/// Sets the locked upload's status (and file), removing its parts' records.
async fn finish(
    c: &mut AsyncPgConnection,
    id: &str,
    status: UploadStatus,
    file_id: Option<String>,
) -> Result<UploadRecord, Failed> {
    diesel::sql_query("DELETE FROM upload_parts WHERE upload_id = $1")
        .bind::<Text, _>(id.to_string())
        .execute(c)
        .await?;
    let rows: Vec<UploadRow> = diesel::sql_query(format!(
        "UPDATE uploads SET status = $2, file_id = $3 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind::<Text, _>(id.to_string())
    .bind::<Text, _>(status.as_str())
    .bind::<Nullable<Text>, _>(file_id)
    .load(c)
    .await?;
    Ok(one_upload(rows, id)?)
}

#[async_trait]
impl UploadCatalog for PgCatalog {
    async fn insert_upload(&self, u: UploadRecord) -> StoreResult<UploadRecord> {
        let mut conn = self.db.conn().await?;
        let quotas = self.quotas;
        conn.transaction(async |c| {
            if quotas.limit(Quota::PendingUploads).is_some() {
                let holdings = quota::lock_holdings(c, &quotas, &u.tenant_id).await?;
                let have = holdings.pending_uploads.saturating_add(1);
                quota::check(&quotas, Quota::PendingUploads, have)?;
            }
            diesel::sql_query(format!(
                "INSERT INTO uploads ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, \
                 $11)"
            ))
            .bind::<Text, _>(u.id.clone())
            .bind::<Text, _>(u.tenant_id.clone())
            .bind::<Text, _>(u.filename.clone())
            .bind::<BigInt, _>(bigint(u.bytes))
            .bind::<Text, _>(u.mime_type.clone())
            .bind::<Text, _>(u.purpose.clone())
            .bind::<Text, _>(u.status.as_str())
            .bind::<BigInt, _>(u.created_at)
            .bind::<BigInt, _>(u.expires_at)
            .bind::<Nullable<BigInt>, _>(u.file_expires_after)
            .bind::<Nullable<Text>, _>(u.file_id.clone())
            .execute(c)
            .await?;
            Ok::<_, quota::Refusal>(())
        })
        .await
        .map_err(|e| e.into_store(error::db))?;
        Ok(u)
    }

    async fn get_upload(&self, tenant_id: &str, id: &str) -> StoreResult<UploadRecord> {
        let rows: Vec<UploadRow> = self
            .db
            .owned_rows("uploads", COLUMNS, tenant_id, id)
            .await?;
        one_upload(rows, id)
    }

    async fn insert_part(
        &self,
        tenant_id: &str,
        part: PartRecord,
        bounds: PartBounds,
    ) -> StoreResult<PartRecord> {
        #[derive(QueryableByName)]
        struct Sum {
            #[diesel(sql_type = BigInt)]
            n: i64,
            #[diesel(sql_type = BigInt)]
            bytes: i64,
        }
        let mut conn = self.db.conn().await?;
        let quotas = self.quotas;
        let bytes = bigint(part.bytes);
        conn.transaction(async |c| {
            let upload = lock_upload(c, tenant_id, &part.upload_id).await?;
            pending(&upload)?;
            if upload.expires_at <= bounds.now {
                return Err(
                    StoreError::invalid(format!("upload {} has expired", upload.id)).into(),
                );
            }
            let sums: Vec<Sum> = diesel::sql_query(
                "SELECT count(*)::int8 AS n, coalesce(sum(bytes), 0)::int8 AS bytes FROM \
                 upload_parts WHERE upload_id = $1",
            )
            .bind::<Text, _>(upload.id.clone())
            .load(c)
            .await?;
            let (n, held) = sums.into_iter().next().map_or((0, 0), |s| (s.n, s.bytes));
            if usize::try_from(n).unwrap_or(usize::MAX) >= bounds.max_parts {
                let max = bounds.max_parts;
                let message = format!("an upload has at most {max} parts (uploads.max_parts)");
                return Err(StoreError::invalid_field(Field::PartData, message).into());
            }
            if held.saturating_add(bytes) > bigint(upload.bytes) {
                let message = format!(
                    "with this part the upload's parts would hold {} bytes, more than the {} it \
                     declared",
                    held.saturating_add(bytes),
                    upload.bytes
                );
                return Err(StoreError::invalid_field(Field::PartData, message).into());
            }
            let holdings = quota::lock_holdings(c, &quotas, tenant_id).await?;
            quota::check(
                &quotas,
                Quota::FileBytes,
                holdings.file_bytes.saturating_add(bytes),
            )?;
            diesel::sql_query(
                "INSERT INTO upload_parts (id, upload_id, tenant_id, bytes, created_at) VALUES \
                 ($1, $2, $3, $4, $5)",
            )
            .bind::<Text, _>(part.id.clone())
            .bind::<Text, _>(part.upload_id.clone())
            .bind::<Text, _>(tenant_id.to_string())
            .bind::<BigInt, _>(bytes)
            .bind::<BigInt, _>(part.created_at)
            .execute(c)
            .await?;
            Ok::<_, Failed>(())
        })
        .await
        .map_err(Failed::into_store)?;
        Ok(part)
    }

    async fn parts(&self, upload_id: &str) -> StoreResult<Vec<PartRecord>> {
        let query = diesel::sql_query(
            "SELECT id, upload_id, bytes, created_at FROM upload_parts WHERE upload_id = $1 \
             ORDER BY id",
        )
        .into_boxed()
        .bind::<Text, _>(upload_id.to_string());
        self.db.load_as::<PartRow, _>(query).await
    }

    async fn complete_upload(
        &self,
        tenant_id: &str,
        id: &str,
        f: FileRecord,
    ) -> StoreResult<UploadRecord> {
        let mut conn = self.db.conn().await?;
        let quotas = self.quotas;
        conn.transaction(async |c| {
            pending(&lock_upload(c, tenant_id, id).await?)?;
            let holdings = quota::lock_holdings(c, &quotas, tenant_id).await?;
            quota::check(&quotas, Quota::Files, holdings.files + 1)?;
            // The parts' bytes leave the tenant's count as the file's come in.
            let upload = finish(c, id, UploadStatus::Completed, Some(f.id.clone())).await?;
            crate::files::insert_row(c, &f).await?;
            Ok::<_, Failed>(upload)
        })
        .await
        .map_err(Failed::into_store)
    }

    async fn claim_completion(
        &self,
        tenant_id: &str,
        id: &str,
        lease_secs: i64,
    ) -> StoreResult<i64> {
        #[derive(QueryableByName)]
        struct Claimed {
            #[diesel(sql_type = BigInt)]
            completing_until: i64,
        }
        let mut conn = self.db.conn().await?;
        conn.transaction(async |c| {
            pending(&lock_upload(c, tenant_id, id).await?)?;
            let claimed: Vec<Claimed> = diesel::sql_query(
                "UPDATE uploads SET completing_until = extract(epoch FROM now())::int8 + $2 \
                 WHERE id = $1 AND (completing_until IS NULL OR completing_until < \
                 extract(epoch FROM now())::int8) RETURNING completing_until",
            )
            .bind::<Text, _>(id.to_string())
            .bind::<BigInt, _>(lease_secs)
            .load(c)
            .await?;
            match claimed.into_iter().next() {
                Some(claim) => Ok(claim.completing_until),
                None => {
                    let message = format!("upload {id} is being completed by another request");
                    Err(StoreError::conflict(message).into())
                }
            }
        })
        .await
        .map_err(Failed::into_store)
    }

    async fn release_completion(&self, id: &str, token: i64) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(
            "UPDATE uploads SET completing_until = NULL WHERE id = $1 AND completing_until = $2",
        )
        .bind::<Text, _>(id.to_string())
        .bind::<BigInt, _>(token)
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(())
    }

    async fn cancel_upload(&self, tenant_id: &str, id: &str) -> StoreResult<UploadRecord> {
        let mut conn = self.db.conn().await?;
        conn.transaction(async |c| {
            pending(&lock_upload(c, tenant_id, id).await?)?;
            finish(c, id, UploadStatus::Cancelled, None).await
        })
        .await
        .map_err(Failed::into_store)
    }

    async fn expire_uploads(&self, now: i64, limit: usize) -> StoreResult<Vec<UploadRecord>> {
        let mut conn = self.db.conn().await?;
        conn.transaction(async |c| {
            let rows: Vec<UploadRow> = diesel::sql_query(format!(
                "UPDATE uploads SET status = 'expired' WHERE id IN (SELECT id FROM uploads WHERE \
                 status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE \
                 SKIP LOCKED) RETURNING {COLUMNS}"
            ))
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(c)
            .await?;
            let expired = records(rows)?;
            let ids: Vec<String> = expired.iter().map(|u| u.id.clone()).collect();
            diesel::sql_query("DELETE FROM upload_parts WHERE upload_id = ANY($1)")
                .bind::<Array<Text>, _>(ids)
                .execute(c)
                .await?;
            Ok::<_, Failed>(expired)
        })
        .await
        .map_err(Failed::into_store)
    }

    async fn upload_pending(&self, id: &str) -> StoreResult<bool> {
        let query = "SELECT EXISTS (SELECT 1 FROM uploads WHERE id = $1 AND status = 'pending') \
                     AS exists";
        self.db.exists(query, id).await
    }
}
