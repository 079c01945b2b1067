//! The job queue's rows, columns and SQL fragments, and how a fenced transaction fails.

use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Bool, Integer, Jsonb, Nullable, Text};
use diesel_async::RunQueryDsl;
use serde_json::Value;
use store_core::{AttachedFile, Batch, FileStatus, LastError, StoreError, StoreResult};

use crate::PgCatalog;
use crate::error;
use crate::sql::object_or_empty;

#[derive(QueryableByName)]
pub(crate) struct Row {
    #[diesel(sql_type = Text)]
    pub(crate) vector_store_id: String,
    #[diesel(sql_type = Text)]
    pub(crate) file_id: String,
    #[diesel(sql_type = Text)]
    pub(crate) tenant_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) batch_id: Option<String>,
    #[diesel(sql_type = Text)]
    pub(crate) status: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) last_error_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) last_error: Option<String>,
    #[diesel(sql_type = Jsonb)]
    pub(crate) attributes: Value,
    #[diesel(sql_type = Integer)]
    pub(crate) max_chunk_tokens: i32,
    #[diesel(sql_type = Integer)]
    pub(crate) overlap_tokens: i32,
    #[diesel(sql_type = BigInt)]
    pub(crate) usage_bytes: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) created_at: i64,
    #[diesel(sql_type = Integer)]
    pub(crate) attempts: i32,
    #[diesel(sql_type = Integer)]
    pub(crate) retries: i32,
}

impl From<Row> for AttachedFile {
    fn from(r: Row) -> Self {
        AttachedFile {
            vector_store_id: r.vector_store_id,
            file_id: r.file_id,
            tenant_id: r.tenant_id,
            batch_id: r.batch_id,
            status: FileStatus::parse(&r.status).unwrap_or(FileStatus::Failed),
            last_error: r.last_error_code.map(|code| LastError {
                code,
                message: r.last_error.unwrap_or_default(),
            }),
            attributes: object_or_empty(r.attributes),
            max_chunk_tokens: r.max_chunk_tokens.max(0) as u32,
            overlap_tokens: r.overlap_tokens.max(0) as u32,
            usage_bytes: r.usage_bytes.max(0) as u64,
            created_at: r.created_at,
            attempts: r.attempts.max(0) as u32,
            retries: r.retries.max(0) as u32,
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct BatchRow {
    #[diesel(sql_type = Text)]
    pub(crate) id: String,
    #[diesel(sql_type = Text)]
    pub(crate) vector_store_id: String,
    #[diesel(sql_type = Text)]
    pub(crate) tenant_id: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) created_at: i64,
    #[diesel(sql_type = Bool)]
    pub(crate) cancelled: bool,
}

impl From<BatchRow> for Batch {
    fn from(r: BatchRow) -> Self {
        Batch {
            id: r.id,
            vector_store_id: r.vector_store_id,
            tenant_id: r.tenant_id,
            created_at: r.created_at,
            cancelled: r.cancelled,
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct CountRow {
    #[diesel(sql_type = Text)]
    pub(crate) status: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) bytes: i64,
}

/// How long from now a lease of `lease_secs` runs. Times are whole seconds, so one more second
/// keeps a lease from ending up to a second early.
pub(crate) fn lease_length(lease_secs: i64) -> i64 {
    lease_secs.max(1) + 1
}

/// The database's clock in whole seconds, in SQL: leases are stamped and compared with one
/// clock, whatever the servers' clocks say (migration 7's trigger reads the same).
pub(crate) const DB_NOW: &str = "floor(extract(epoch FROM now()))::bigint";

pub(crate) const COLUMNS: &str = "vector_store_id, file_id, tenant_id, batch_id, status, \
                                  last_error_code, last_error, attributes, max_chunk_tokens, \
                                  overlap_tokens, usage_bytes, created_at, attempts, retries";
pub(crate) const BATCH_COLUMNS: &str = "id, vector_store_id, tenant_id, created_at, cancelled";

const UPSERT: &str = "INSERT INTO vector_store_files (vector_store_id, file_id, tenant_id, \
                      batch_id, status, attributes, max_chunk_tokens, overlap_tokens, created_at) \
                      VALUES ($1, $2, $3, $4, 'in_progress', $5, $6, $7, $8) ON CONFLICT \
                      (vector_store_id, file_id) DO UPDATE SET batch_id = EXCLUDED.batch_id, \
                      status = 'in_progress', last_error_code = NULL, last_error = NULL, \
                      attributes = EXCLUDED.attributes, max_chunk_tokens = \
                      EXCLUDED.max_chunk_tokens, overlap_tokens = EXCLUDED.overlap_tokens, \
                      usage_bytes = 0, attempts = 0, retries = 0, claimed_until = NULL, \
                      claim_token = NULL, seq = nextval('vector_store_files_seq_seq') RETURNING ";

pub(crate) fn upsert_query(
    f: &AttachedFile,
) -> diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>
{
    diesel::sql_query(format!("{UPSERT}{COLUMNS}"))
        .into_boxed()
        .bind::<Text, _>(f.vector_store_id.clone())
        .bind::<Text, _>(f.file_id.clone())
        .bind::<Text, _>(f.tenant_id.clone())
        .bind::<Nullable<Text>, _>(f.batch_id.clone())
        .bind::<Jsonb, _>(Value::Object(f.attributes.clone()))
        .bind::<Integer, _>(f.max_chunk_tokens as i32)
        .bind::<Integer, _>(f.overlap_tokens as i32)
        .bind::<BigInt, _>(f.created_at)
}

impl PgCatalog {
    /// Whether the claim `token` is current, read without taking a lock.
    pub(crate) async fn holds(
        &self,
        conn: &mut crate::Conn,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
    ) -> StoreResult<bool> {
        #[derive(QueryableByName)]
        struct Held {
            #[diesel(sql_type = Bool)]
            held: bool,
        }
        let rows: Vec<Held> = diesel::sql_query(
            "SELECT EXISTS (SELECT 1 FROM vector_store_files WHERE vector_store_id = $1 AND \
             file_id = $2 AND status = 'in_progress' AND claim_token = $3) AS held",
        )
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .bind::<Text, _>(token.to_string())
        .load(conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().next().is_some_and(|r| r.held))
    }
}

/// Why a fenced transaction ended: a database error, or one of the work's own.
pub(crate) enum Fault {
    Db(diesel::result::Error),
    Work(StoreError),
}

impl From<diesel::result::Error> for Fault {
    fn from(e: diesel::result::Error) -> Self {
        Fault::Db(e)
    }
}

impl Fault {
    pub(crate) fn into_store(self) -> StoreError {
        match self {
            Fault::Db(e) => error::db(e),
            Fault::Work(e) => e,
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct FileIdRow {
    #[diesel(sql_type = Text)]
    pub(crate) file_id: String,
}
