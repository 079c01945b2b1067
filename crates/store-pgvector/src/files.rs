//! [`FileCatalog`] in PostgreSQL.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use store_core::{FileCatalog, FilePage, FileRecord, PageOrder, Quota, StoreResult};

use crate::PgCatalog;
use crate::{error, quota};

#[derive(QueryableByName)]
struct FileRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    tenant_id: String,
    #[diesel(sql_type = Text)]
    filename: String,
    #[diesel(sql_type = BigInt)]
    bytes: i64,
    #[diesel(sql_type = Text)]
    purpose: String,
    #[diesel(sql_type = BigInt)]
    created_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    expires_at: Option<i64>,
}

impl From<FileRow> for FileRecord {
    fn from(r: FileRow) -> Self {
        FileRecord {
            id: r.id,
            tenant_id: r.tenant_id,
            filename: r.filename,
            bytes: r.bytes.max(0) as u64,
            purpose: r.purpose,
            created_at: r.created_at,
            expires_at: r.expires_at,
        }
    }
}

const COLUMNS: &str = "id, tenant_id, filename, bytes, purpose, created_at, expires_at";

/// Writes the file's row (its bytes count in its tenant's holdings through a trigger); the
/// caller has checked the quotas in the same transaction.
pub(crate) async fn insert_row(
    c: &mut AsyncPgConnection,
    f: &FileRecord,
) -> Result<usize, diesel::result::Error> {
    diesel::sql_query(format!(
        "INSERT INTO files ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind::<Text, _>(f.id.clone())
    .bind::<Text, _>(f.tenant_id.clone())
    .bind::<Text, _>(f.filename.clone())
    .bind::<BigInt, _>(i64::try_from(f.bytes).unwrap_or(i64::MAX))
    .bind::<Text, _>(f.purpose.clone())
    .bind::<BigInt, _>(f.created_at)
    .bind::<Nullable<BigInt>, _>(f.expires_at)
    .execute(c)
    .await
}

#[async_trait]
impl FileCatalog for PgCatalog {
    async fn insert_file(&self, f: FileRecord) -> StoreResult<FileRecord> {
        let mut conn = self.db.conn().await?;
        let quotas = self.quotas;
        let bytes = i64::try_from(f.bytes).unwrap_or(i64::MAX);
        conn.transaction(async |c| {
            let held = quota::lock_holdings(c, &quotas, &f.tenant_id).await?;
            quota::check(&quotas, Quota::Files, held.files + 1)?;
            quota::check(
                &quotas,
                Quota::FileBytes,
                held.file_bytes.saturating_add(bytes),
            )?;
            insert_row(c, &f).await?;
            Ok::<_, quota::Refusal>(())
        })
        .await
        .map_err(|e| e.into_store(error::db))?;
        Ok(f)
    }

    async fn get_file(&self, tenant_id: &str, id: &str) -> StoreResult<FileRecord> {
        let rows: Vec<FileRow> = self.db.owned_rows("files", COLUMNS, tenant_id, id).await?;
        crate::one(rows, "file", id)
    }

    async fn page_files(
        &self,
        tenant_id: &str,
        page: FilePage,
    ) -> StoreResult<(Vec<FileRecord>, bool)> {
        let (direction, asc) = match page.order {
            PageOrder::Asc => ("ASC", true),
            PageOrder::Desc => ("DESC", false),
        };
        let limit = page.limit.clamp(1, 10_000);
        let mut conn = self.db.conn().await?;
        let rows: Vec<FileRow> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM files WHERE tenant_id = $1 AND ($2::text IS NULL OR purpose = \
             $2) AND ($3::text IS NULL OR (CASE WHEN $4 THEN id > $3 ELSE id < $3 END)) ORDER BY \
             id {direction} LIMIT $5"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Nullable<Text>, _>(page.purpose)
        .bind::<Nullable<Text>, _>(page.after)
        .bind::<diesel::sql_types::Bool, _>(asc)
        .bind::<BigInt, _>(limit as i64 + 1)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(crate::split_page(rows, limit))
    }

    async fn delete_file(&self, tenant_id: &str, id: &str) -> StoreResult<()> {
        self.db.delete_owned("files", "file", tenant_id, id).await
    }

    async fn expired_files(&self, now: i64, limit: usize) -> StoreResult<Vec<FileRecord>> {
        let query = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM files WHERE expires_at IS NOT NULL AND expires_at <= $1 ORDER \
             BY expires_at LIMIT $2"
        ))
        .into_boxed()
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(limit as i64);
        self.db.load_as::<FileRow, _>(query).await
    }

    async fn file_exists(&self, id: &str) -> StoreResult<bool> {
        self.db
            .exists(
                "SELECT EXISTS (SELECT 1 FROM files WHERE id = $1) AS exists",
                id,
            )
            .await
    }
}
