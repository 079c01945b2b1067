//! Collections' file counts and usage as the catalog keeps them (migration 9): read for a page
//! of collections in one query, however many files and chunks they hold.

use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Text};
use diesel_async::RunQueryDsl;
use store_core::{CollectionRecord, CollectionStats, StaleUsage, StatusCounts, StoreResult};

use crate::PgCatalog;
use crate::catalog::{COLLECTION_COLUMNS, CollectionRow};
use crate::error;
use crate::ingest::DB_NOW;

#[derive(QueryableByName)]
struct StatsRow {
    #[diesel(sql_type = Text)]
    vector_store_id: String,
    #[diesel(sql_type = BigInt)]
    in_progress: i64,
    #[diesel(sql_type = BigInt)]
    completed: i64,
    #[diesel(sql_type = BigInt)]
    failed: i64,
    #[diesel(sql_type = BigInt)]
    cancelled: i64,
    #[diesel(sql_type = BigInt)]
    usage_bytes: i64,
    #[diesel(sql_type = BigInt)]
    usage_changes: i64,
    #[diesel(sql_type = BigInt)]
    usage_counted: i64,
}

impl From<StatsRow> for CollectionStats {
    fn from(r: StatsRow) -> Self {
        let n = |v: i64| v.max(0) as u64;
        CollectionStats {
            id: r.vector_store_id,
            counts: StatusCounts {
                in_progress: n(r.in_progress),
                completed: n(r.completed),
                failed: n(r.failed),
                cancelled: n(r.cancelled),
                usage_bytes: n(r.usage_bytes),
            },
            changes: n(r.usage_changes),
            counted: n(r.usage_counted),
        }
    }
}

impl PgCatalog {
    pub(crate) async fn stats_of(&self, ids: Vec<String>) -> StoreResult<Vec<CollectionStats>> {
        let query = diesel::sql_query(
            "SELECT vector_store_id, in_progress, completed, failed, cancelled, usage_bytes, \
             usage_changes, usage_counted FROM store_stats WHERE vector_store_id = ANY($1)",
        )
        .into_boxed()
        .bind::<Array<Text>, _>(ids);
        self.db.load_as::<StatsRow, _>(query).await
    }

    pub(crate) async fn note_chunks_changed(&self, id: &str) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(format!(
            "UPDATE store_stats SET usage_changes = usage_changes + 1, usage_changed_at = \
             {DB_NOW} WHERE vector_store_id = $1",
        ))
        .bind::<Text, _>(id.to_string())
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(())
    }

    pub(crate) async fn note_usage(
        &self,
        id: &str,
        seen: u64,
        usage_bytes: u64,
    ) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query(format!(
            "UPDATE store_stats SET usage_bytes = $3, usage_counted = $2, usage_counted_at = \
             {DB_NOW} WHERE vector_store_id = $1 AND usage_counted < $2",
        ))
        .bind::<Text, _>(id.to_string())
        .bind::<BigInt, _>(i64::try_from(seen).unwrap_or(i64::MAX))
        .bind::<BigInt, _>(i64::try_from(usage_bytes).unwrap_or(i64::MAX))
        .execute(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(())
    }

    pub(crate) async fn stale_usage_of(
        &self,
        stale: StaleUsage,
    ) -> StoreResult<Vec<CollectionRecord>> {
        let StaleUsage {
            backends,
            quiet_secs,
            recount_secs,
            limit,
        } = stale;
        let columns = COLLECTION_COLUMNS
            .split(", ")
            .map(|c| format!("c.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut conn = self.db.conn().await?;
        // Taken for a count by stamping `usage_counted_at`: another server skips them, and one
        // whose count fails is not taken again before `recount_secs`.
        let rows: Vec<CollectionRow> = diesel::sql_query(format!(
            "WITH taken AS ( UPDATE store_stats s SET usage_counted_at = {DB_NOW} FROM (SELECT \
             s.vector_store_id FROM store_stats s JOIN collections c ON c.id = s.vector_store_id \
             WHERE s.usage_changes > s.usage_counted AND c.backend = ANY($2) AND \
             ((s.usage_counted_at <= s.usage_changed_at AND s.usage_changed_at <= {DB_NOW} - $4) \
             OR s.usage_counted_at <= {DB_NOW} - $1) ORDER BY s.usage_changed_at DESC, \
             s.vector_store_id LIMIT $3 FOR UPDATE OF s SKIP LOCKED) t WHERE s.vector_store_id = \
             t.vector_store_id RETURNING s.vector_store_id) SELECT {columns} FROM collections c \
             JOIN taken t ON t.vector_store_id = c.id"
        ))
        .bind::<BigInt, _>(recount_secs)
        .bind::<Array<Text>, _>(backends)
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind::<BigInt, _>(quiet_secs)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
