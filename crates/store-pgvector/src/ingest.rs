//! [`IngestCatalog`] in PostgreSQL: attached files double as the job queue, claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease.

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Bool, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use serde_json::{Map, Value};
use store_core::{
    AttachedFile, AttachedPage, Batch, Claim, ClaimRequest, FencedWork, FileStatus, GroupWork,
    IngestCatalog, JobOutcome, LastError, PageOrder, StatusCounts, StoreError, StoreResult,
    attempts_used_up, crashed_too_often, retry_delay_secs,
};

use crate::error;
use crate::{PgCatalog, one};

mod rows;

pub(crate) use rows::DB_NOW;
use rows::{
    BATCH_COLUMNS, BatchRow, COLUMNS, CountRow, Fault, FileIdRow, Row, lease_length, upsert_query,
};

#[async_trait]
impl IngestCatalog for PgCatalog {
    async fn attach(&self, file: AttachedFile) -> StoreResult<AttachedFile> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<Row> = upsert_query(&file)
            .load(&mut conn)
            .await
            .map_err(error::db)?;
        one(rows, "vector store file", &file.file_id)
    }

    async fn attached(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
    ) -> StoreResult<AttachedFile> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM vector_store_files WHERE tenant_id = $1 AND vector_store_id = \
             $2 AND file_id = $3"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        one(rows, "vector store file", file_id)
    }

    async fn page_attached(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        page: AttachedPage,
    ) -> StoreResult<(Vec<AttachedFile>, bool)> {
        let (direction, asc) = match page.order {
            PageOrder::Asc => ("ASC", true),
            PageOrder::Desc => ("DESC", false),
        };
        let limit = page.limit.clamp(1, 1000);
        let mut conn = self.db.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM vector_store_files WHERE tenant_id = $1 AND vector_store_id = \
             $2 AND ($3::text IS NULL OR status = $3) AND ($4::text IS NULL OR batch_id = $4) AND \
             ($5::text IS NULL OR (CASE WHEN $7 THEN file_id > $5 ELSE file_id < $5 END)) AND \
             ($6::text IS NULL OR (CASE WHEN $7 THEN file_id < $6 ELSE file_id > $6 END)) ORDER \
             BY file_id {direction} LIMIT $8"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Nullable<Text>, _>(page.status.map(|s| s.as_str().to_string()))
        .bind::<Nullable<Text>, _>(page.batch_id)
        .bind::<Nullable<Text>, _>(page.after)
        .bind::<Nullable<Text>, _>(page.before)
        .bind::<Bool, _>(asc)
        .bind::<BigInt, _>(limit as i64 + 1)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(crate::split_page(rows, limit))
    }

    async fn set_attributes(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<AttachedFile> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<Row> = diesel::sql_query(format!(
            "UPDATE vector_store_files SET attributes = $4 WHERE tenant_id = $1 AND \
             vector_store_id = $2 AND file_id = $3 RETURNING {COLUMNS}"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .bind::<Jsonb, _>(Value::Object(attributes))
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        one(rows, "vector store file", file_id)
    }

    async fn detach(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        file_id: &str,
    ) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        let n = diesel::sql_query(
            "DELETE FROM vector_store_files WHERE tenant_id = $1 AND vector_store_id = $2 AND \
             file_id = $3",
        )
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        if n == 0 {
            return Err(StoreError::not_found("vector store file", file_id));
        }
        Ok(())
    }

    async fn counts(
        &self,
        vector_store_id: &str,
        batch_id: Option<String>,
    ) -> StoreResult<StatusCounts> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<CountRow> = diesel::sql_query(
            "SELECT status, count(*)::int8 AS n, coalesce(sum(usage_bytes), 0)::int8 AS bytes \
             FROM vector_store_files WHERE vector_store_id = $1 AND ($2::text IS NULL OR batch_id \
             = $2) GROUP BY status",
        )
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Nullable<Text>, _>(batch_id)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        let mut c = StatusCounts::default();
        for r in rows {
            let n = r.n.max(0) as u64;
            c.usage_bytes += r.bytes.max(0) as u64;
            match FileStatus::parse(&r.status) {
                Some(FileStatus::InProgress) => c.in_progress += n,
                Some(FileStatus::Completed) => c.completed += n,
                Some(FileStatus::Failed) | None => c.failed += n,
                Some(FileStatus::Cancelled) => c.cancelled += n,
            }
        }
        Ok(c)
    }

    async fn claim(&self, request: ClaimRequest) -> StoreResult<Vec<Claim>> {
        let ClaimRequest {
            lease_secs,
            max_attempts,
            limit,
            runnable,
        } = request;
        #[derive(QueryableByName)]
        struct ClaimRow {
            #[diesel(embed)]
            file: Row,
            #[diesel(sql_type = Text)]
            claim_token: String,
            #[diesel(sql_type = BigInt)]
            seq: i64,
            #[diesel(sql_type = BigInt)]
            generation: i64,
            #[diesel(sql_type = Nullable<Text>)]
            doomed_code: Option<String>,
            #[diesel(sql_type = Nullable<Text>)]
            doomed_message: Option<String>,
        }
        let mut conn = self.db.conn().await?;
        let max = i32::try_from(max_attempts.max(1)).unwrap_or(i32::MAX);
        let spent = attempts_used_up(max_attempts.max(1));
        let crashed = crashed_too_often(max_attempts.max(1));
        let columns = COLUMNS
            .split(", ")
            .map(|c| format!("v.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let rows: Vec<ClaimRow> = conn
            .transaction(async |c| {
                // One transaction, so both statements read one `now()`.
                // A claim whose lease ran out while held ended without an answer: it is void
                // (and the trigger of migration 7 counts it against its file), before the
                // counts are read below.
                diesel::sql_query(format!(
                    "UPDATE vector_store_files v SET claim_token = NULL FROM (SELECT \
                     vector_store_id, file_id FROM vector_store_files WHERE status = \
                     'in_progress' AND claim_token IS NOT NULL AND claimed_until <= {DB_NOW} FOR \
                     UPDATE SKIP LOCKED) j WHERE v.vector_store_id = j.vector_store_id AND \
                     v.file_id = j.file_id",
                ))
                .execute(c)
                .await?;
                // Free jobs are claimed by turns across tenants (each tenant's oldest first, then
                // each one's second oldest, …), so one tenant's large batch does not hold up
                // another's file. Only jobs of vector stores whose back-end and model this
                // server has are claimed: another server runs the others. A job whose tries are
                // used up (or whose file stopped servers too often) is claimed doomed: its
                // holder removes what earlier tries wrote and ends it `failed`.
                diesel::sql_query(format!(
                    "WITH worn AS (SELECT id FROM files WHERE crashed_claims >= $2) UPDATE \
                     vector_store_files v SET claimed_until = {DB_NOW} + $1, attempts = \
                     v.attempts + 1, claim_token = gen_random_uuid()::text FROM (SELECT \
                     q.vector_store_id, q.file_id FROM vector_store_files q JOIN (SELECT \
                     f.vector_store_id, f.file_id, f.seq, row_number() OVER (PARTITION BY \
                     f.tenant_id ORDER BY f.seq) AS turn FROM vector_store_files f JOIN \
                     collections s ON s.id = f.vector_store_id WHERE f.status = 'in_progress' AND \
                     (f.claimed_until IS NULL OR f.claimed_until <= {DB_NOW}) AND ($8::text[] IS \
                     NULL OR s.backend = ANY($8)) AND ($9::text[] IS NULL OR s.model IS NULL OR \
                     s.model = ANY($9))) r ON q.vector_store_id = r.vector_store_id AND q.file_id \
                     = r.file_id ORDER BY r.turn, r.seq LIMIT $5 FOR UPDATE OF q SKIP LOCKED) j \
                     WHERE v.vector_store_id = j.vector_store_id AND v.file_id = j.file_id \
                     RETURNING {columns}, v.claim_token, v.seq, nextval('claim_generations') AS \
                     generation, CASE WHEN v.file_id IN (SELECT id FROM worn) THEN $6 WHEN \
                     v.attempts > $2 THEN $3 END AS doomed_code, CASE WHEN v.file_id IN (SELECT \
                     id FROM worn) THEN $7 WHEN v.attempts > $2 THEN $4 END AS doomed_message"
                ))
                .bind::<BigInt, _>(lease_length(lease_secs))
                .bind::<Integer, _>(max)
                .bind::<Text, _>(spent.code)
                .bind::<Text, _>(spent.message)
                .bind::<BigInt, _>(i64::try_from(limit.max(1)).unwrap_or(i64::MAX))
                .bind::<Text, _>(crashed.code)
                .bind::<Text, _>(crashed.message)
                .bind::<Nullable<Array<Text>>, _>(runnable.as_ref().map(|r| r.backends.clone()))
                .bind::<Nullable<Array<Text>>, _>(runnable.as_ref().map(|r| r.models.clone()))
                .load(c)
                .await
            })
            .await
            .map_err(error::db)?;
        let mut rows = rows;
        rows.sort_by_key(|r| r.seq);
        Ok(rows
            .into_iter()
            .map(|r| Claim {
                doomed: r.doomed_code.map(|code| LastError {
                    code,
                    message: r.doomed_message.unwrap_or_default(),
                }),
                job: r.file.into(),
                token: r.claim_token,
                generation: u64::try_from(r.generation).unwrap_or_default(),
            })
            .collect())
    }

    async fn renew(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        lease_secs: i64,
    ) -> StoreResult<bool> {
        let mut conn = self.db.conn().await?;
        // A row locked by this claim's own fenced write is skipped rather than waited for (the
        // write may need a pooled connection itself), and checked without a lock instead.
        let n = diesel::sql_query(format!(
            "UPDATE vector_store_files v SET claimed_until = {DB_NOW} + $3 FROM (SELECT \
             vector_store_id, file_id FROM vector_store_files WHERE vector_store_id = $1 AND \
             file_id = $2 AND status = 'in_progress' AND claim_token = $4 FOR NO KEY UPDATE SKIP \
             LOCKED) j WHERE v.vector_store_id = j.vector_store_id AND v.file_id = j.file_id",
        ))
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .bind::<BigInt, _>(lease_length(lease_secs))
        .bind::<Text, _>(token.to_string())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        if n == 1 {
            return Ok(true);
        }
        self.holds(&mut conn, vector_store_id, file_id, token).await
    }

    async fn finish(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        outcome: JobOutcome,
    ) -> StoreResult<bool> {
        let mut conn = self.db.conn().await?;
        // A release (retry or hand-back) gives back the attempt its claim took: only claims
        // that end without an answer count. A retry waits a back-off that doubles with each.
        let (status, bytes, code, message, release, retry) = match outcome {
            JobOutcome::Completed { usage_bytes } => (
                FileStatus::Completed,
                usage_bytes as i64,
                None,
                None,
                false,
                false,
            ),
            JobOutcome::Failed(e) => (
                FileStatus::Failed,
                0,
                Some(e.code),
                Some(e.message),
                false,
                false,
            ),
            JobOutcome::Retry => (FileStatus::InProgress, 0, None, None, true, true),
            JobOutcome::HandBack => (FileStatus::InProgress, 0, None, None, true, false),
        };
        let delays: Vec<i64> = (1..=12).map(retry_delay_secs).collect();
        let n = diesel::sql_query(format!(
            "UPDATE vector_store_files SET status = $3, usage_bytes = $4, last_error_code = $5, \
             last_error = $6, attempts = CASE WHEN $7 THEN greatest(attempts - 1, 0) ELSE \
             attempts END, retries = CASE WHEN $8 THEN retries + 1 ELSE retries END, \
             claimed_until = CASE WHEN NOT $7 THEN NULL WHEN $8 THEN {DB_NOW} + $9[least(retries \
             + 1, cardinality($9))] ELSE NULL END, claim_token = NULL WHERE vector_store_id = $1 \
             AND file_id = $2 AND status = 'in_progress' AND claim_token = $10",
        ))
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .bind::<Text, _>(status.as_str().to_string())
        .bind::<BigInt, _>(bytes)
        .bind::<Nullable<Text>, _>(code)
        .bind::<Nullable<Text>, _>(message)
        .bind::<Bool, _>(release)
        .bind::<Bool, _>(retry)
        .bind::<Array<BigInt>, _>(delays)
        .bind::<Text, _>(token.to_string())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(n == 1)
    }

    async fn fenced(
        &self,
        vector_store_id: &str,
        file_id: &str,
        token: &str,
        work: FencedWork,
    ) -> StoreResult<Option<u64>> {
        let _turn = self.fence_turn().await?;
        let mut conn = self.db.conn().await?;
        let (vs, file, token) = (
            vector_store_id.to_string(),
            file_id.to_string(),
            token.to_string(),
        );
        conn.transaction(async |c| {
            // The share lock makes every change of the row (re-attach, detach, cancel, another
            // claim) wait until the work is done; the work runs only if the token is current.
            #[derive(QueryableByName)]
            struct One {
                #[diesel(sql_type = Integer)]
                #[allow(dead_code, reason = "the row's presence is the answer")]
                one: i32,
            }
            let held: Vec<One> = diesel::sql_query(
                "SELECT 1 AS one FROM vector_store_files WHERE vector_store_id = $1 AND file_id = \
                 $2 AND status = 'in_progress' AND claim_token = $3 FOR SHARE",
            )
            .bind::<Text, _>(vs.clone())
            .bind::<Text, _>(file.clone())
            .bind::<Text, _>(token.clone())
            .load(c)
            .await?;
            if held.is_empty() {
                return Ok(None);
            }
            work.await.map(Some).map_err(Fault::Work)
        })
        .await
        .map_err(Fault::into_store)
    }

    async fn fenced_group(
        &self,
        vector_store_id: &str,
        jobs: Vec<(String, String)>,
        work: GroupWork,
    ) -> StoreResult<Vec<String>> {
        let _turn = self.fence_turn().await?;
        let mut conn = self.db.conn().await?;
        let vs = vector_store_id.to_string();
        let (files, tokens): (Vec<String>, Vec<String>) = jobs.into_iter().unzip();
        conn.transaction(async |c| {
            // As in `fenced`: the share locks hold every claim found current until the work is
            // done. A row another transaction has locked is left out rather than waited for
            // (several rows waited for in turn could deadlock with a change of many rows).
            let held: Vec<FileIdRow> = diesel::sql_query(
                "SELECT file_id FROM vector_store_files WHERE vector_store_id = $1 AND status = \
                 'in_progress' AND (file_id, claim_token) IN (SELECT * FROM unnest($2::text[], \
                 $3::text[])) FOR SHARE SKIP LOCKED",
            )
            .bind::<Text, _>(vs)
            .bind::<Array<Text>, _>(files)
            .bind::<Array<Text>, _>(tokens)
            .load(c)
            .await?;
            let held: Vec<String> = held.into_iter().map(|r| r.file_id).collect();
            if held.is_empty() {
                return Ok(held);
            }
            work(held.clone()).await.map_err(Fault::Work)?;
            Ok(held)
        })
        .await
        .map_err(Fault::into_store)
    }

    async fn finish_completed(
        &self,
        vector_store_id: &str,
        jobs: Vec<(String, String, u64)>,
    ) -> StoreResult<Vec<String>> {
        let mut conn = self.db.conn().await?;
        let mut files = Vec::with_capacity(jobs.len());
        let mut tokens = Vec::with_capacity(jobs.len());
        let mut bytes = Vec::with_capacity(jobs.len());
        for (f, t, b) in jobs {
            files.push(f);
            tokens.push(t);
            bytes.push(i64::try_from(b).unwrap_or(i64::MAX));
        }
        let done: Vec<FileIdRow> = diesel::sql_query(
            "UPDATE vector_store_files v SET status = 'completed', usage_bytes = d.bytes, \
             last_error_code = NULL, last_error = NULL, claimed_until = NULL, claim_token = NULL \
             FROM unnest($2::text[], $3::text[], $4::int8[]) AS d(file_id, token, bytes) WHERE \
             v.vector_store_id = $1 AND v.file_id = d.file_id AND v.status = 'in_progress' AND \
             v.claim_token = d.token RETURNING v.file_id",
        )
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Array<Text>, _>(files)
        .bind::<Array<Text>, _>(tokens)
        .bind::<Array<BigInt>, _>(bytes)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(done.into_iter().map(|r| r.file_id).collect())
    }

    async fn status(
        &self,
        vector_store_id: &str,
        file_id: &str,
    ) -> StoreResult<Option<FileStatus>> {
        #[derive(QueryableByName)]
        struct StatusRow {
            #[diesel(sql_type = Text)]
            status: String,
        }
        let mut conn = self.db.conn().await?;
        let rows: Vec<StatusRow> = diesel::sql_query(
            "SELECT status FROM vector_store_files WHERE vector_store_id = $1 AND file_id = $2",
        )
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(file_id.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| FileStatus::parse(&r.status)))
    }

    async fn create_batch(&self, batch: Batch, files: Vec<AttachedFile>) -> StoreResult<Batch> {
        let mut conn = self.db.conn().await?;
        let b = batch.clone();
        conn.transaction(async |c| {
            diesel::sql_query(format!(
                "INSERT INTO file_batches ({BATCH_COLUMNS}) VALUES ($1, $2, $3, $4, false)"
            ))
            .bind::<Text, _>(b.id.clone())
            .bind::<Text, _>(b.vector_store_id.clone())
            .bind::<Text, _>(b.tenant_id.clone())
            .bind::<BigInt, _>(b.created_at)
            .execute(c)
            .await?;
            for f in &files {
                upsert_query(f).execute(c).await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(error::db)?;
        Ok(batch)
    }

    async fn batch(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        batch_id: &str,
    ) -> StoreResult<Batch> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<BatchRow> = diesel::sql_query(format!(
            "SELECT {BATCH_COLUMNS} FROM file_batches WHERE tenant_id = $1 AND vector_store_id = \
             $2 AND id = $3"
        ))
        .bind::<Text, _>(tenant_id.to_string())
        .bind::<Text, _>(vector_store_id.to_string())
        .bind::<Text, _>(batch_id.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        one(rows, "file batch", batch_id)
    }

    async fn cancel_batch(
        &self,
        tenant_id: &str,
        vector_store_id: &str,
        batch_id: &str,
    ) -> StoreResult<(Batch, u64)> {
        let batch = self.batch(tenant_id, vector_store_id, batch_id).await?;
        let mut conn = self.db.conn().await?;
        let id = batch.id.clone();
        let cancelled = conn
            .transaction(async |c| {
                diesel::sql_query("UPDATE file_batches SET cancelled = true WHERE id = $1")
                    .bind::<Text, _>(id.clone())
                    .execute(c)
                    .await?;
                diesel::sql_query(
                    "UPDATE vector_store_files SET status = 'cancelled', claimed_until = NULL, \
                     claim_token = NULL WHERE batch_id = $1 AND status = 'in_progress'",
                )
                .bind::<Text, _>(id.clone())
                .execute(c)
                .await
            })
            .await
            .map_err(error::db)?;
        let batch = Batch {
            cancelled: true,
            ..batch
        };
        Ok((batch, cancelled as u64))
    }

    async fn queue_depth(&self) -> StoreResult<u64> {
        #[derive(QueryableByName)]
        struct Depth {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let mut conn = self.db.conn().await?;
        // Counted on the queue's own (partial) index.
        let rows: Vec<Depth> = diesel::sql_query(
            "SELECT count(*)::int8 AS n FROM vector_store_files WHERE status = 'in_progress'",
        )
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().next().map_or(0, |r| r.n.max(0) as u64))
    }
}
