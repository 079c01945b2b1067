//! [`PgVectorStore`]: collections as tables in the `vectors` schema.

use async_trait::async_trait;
use diesel::pg::Pg;
use diesel::sql_types::{Array, BigInt, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use pgvector::Vector;
use serde_json::{Map, Value};
use store_core::{
    Chunk, CollectionSpec, ErrorKind, Field, Hit, HitSource, SearchQuery, SearchRequest,
    StoreError, StoreResult, StoredChunk, VectorStore, last_of_each_id, run_search,
};

use crate::error;
use crate::options::{PgVectorOptions, SearchSettings};
use crate::sql::{
    COLUMNS, ChunkRow, Columns, Count, Dim, ScoredRow, bind_all, condition, keyword_sql, load,
    table, to_hits, vector_sql,
};
use crate::{Db, Pool};

/// The largest dimension an HNSW index on `vector` takes.
const MAX_DIMENSION: usize = 2000;

#[derive(Debug, Clone)]
pub struct PgVectorStore {
    db: Db,
    options: PgVectorOptions,
    /// The search settings every connection of the pool starts with: a vector search they
    /// already serve runs as one statement, without a transaction of its own.
    session: SearchSettings,
}

impl PgVectorStore {
    pub const NAME: &'static str = "pgvector";

    /// A store over `pool`, with the options the pool's connections were set up with: a vector
    /// search for k up to `ef_search / 2` is one statement (a larger k sets its own settings
    /// in a transaction).
    pub fn new(pool: Pool) -> Self {
        let options = pool.options().clone();
        Self::with_options(pool, options)
    }

    /// A store over `pool` with other options than the pool's: searches whose settings differ
    /// from the connections' set their own in a transaction.
    pub fn with_options(pool: Pool, options: PgVectorOptions) -> Self {
        let session = SearchSettings::session(pool.options());
        Self {
            db: Db(pool),
            options,
            session,
        }
    }
}

/// PostgreSQL cannot store the NUL character in `text` or `jsonb`: such input is refused
/// before anything is written, rather than failing inside the database.
fn check_no_nul(field: &Field, s: &str) -> StoreResult<()> {
    if s.contains('\0') {
        return Err(StoreError::invalid_field(
            field.clone(),
            format!("{field} contains a NUL character (U+0000), which cannot be stored"),
        ));
    }
    Ok(())
}

fn check_json_no_nul(field: &Field, v: &Value) -> StoreResult<()> {
    match v {
        Value::String(s) => check_no_nul(field, s),
        Value::Array(items) => items.iter().try_for_each(|i| check_json_no_nul(field, i)),
        Value::Object(m) => m.iter().try_for_each(|(k, v)| {
            check_no_nul(field, k)?;
            check_json_no_nul(field, v)
        }),
        Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
    }
}

fn check_chunk(spec: &CollectionSpec, c: &Chunk) -> StoreResult<()> {
    spec.check_vector(&c.vector)?;
    Ok(c.check_limits()?)
}

impl PgVectorStore {
    /// Maps a failed query on a collection's table: NotFound when the table is missing (checked
    /// after the fact, so the happy path costs no extra round trip and no error text is parsed),
    /// the usual mapping otherwise.
    async fn failed(&self, spec: &CollectionSpec, e: diesel::result::Error) -> StoreError {
        let mapped = error::db(e);
        match mapped.kind() {
            ErrorKind::Internal | ErrorKind::NotFound => match self.table_dimension(spec).await {
                Ok(None) => StoreError::not_found("collection", spec.name.clone()),
                _ => mapped,
            },
            ErrorKind::InvalidInput
            | ErrorKind::Conflict
            | ErrorKind::QuotaExceeded
            | ErrorKind::Unavailable => mapped,
        }
    }

    async fn vector_search(
        &self,
        spec: &CollectionSpec,
        vector: &[f32],
        filter: Option<&store_core::Filter>,
        k: usize,
    ) -> StoreResult<Vec<ScoredRow>> {
        let t = table(spec);
        let (cond, binds) = condition(filter, 3);
        let q = diesel::sql_query(vector_sql(&t, &cond))
            .into_boxed::<Pg>()
            .bind::<pgvector::sql_types::Vector, _>(Vector::from(vector.to_vec()))
            .bind::<BigInt, _>(k as i64);
        let q = bind_all(q, binds);
        let settings = SearchSettings::for_k(&self.options, k);
        let prepared = filter.is_none();
        let mut conn = self.db.conn().await?;
        let result = if self.session == settings {
            load(q, prepared, &mut conn).await
        } else {
            let sql = settings.sql(true);
            conn.transaction(async |c| {
                diesel_async::SimpleAsyncConnection::batch_execute(c, &sql).await?;
                load(q, prepared, c).await
            })
            .await
        };
        match result {
            Ok(rows) => Ok(rows),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn keyword_search(
        &self,
        spec: &CollectionSpec,
        text: &str,
        filter: Option<&store_core::Filter>,
        k: usize,
    ) -> StoreResult<Vec<ScoredRow>> {
        let t = table(spec);
        let (cond, binds) = condition(filter, 4);
        let q = diesel::sql_query(keyword_sql(&t, &cond))
            .into_boxed::<Pg>()
            .bind::<Text, _>(self.options.text_search_config.clone())
            .bind::<Text, _>(text.to_string())
            .bind::<BigInt, _>(k as i64);
        let q = bind_all(q, binds);
        let mut conn = self.db.conn().await?;
        match load(q, filter.is_none(), &mut conn).await {
            Ok(rows) => Ok(rows),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    /// The dimension of the collection's table, or `None` when there is no such table.
    async fn table_dimension(&self, spec: &CollectionSpec) -> StoreResult<Option<usize>> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<Dim> = diesel::sql_query(
            "SELECT a.atttypmod AS dim FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'vectors' AND \
             c.relname = $1 AND a.attname = 'embedding'",
        )
        .bind::<Text, _>(spec.name.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().next().map(|d: Dim| d.dim.max(0) as usize))
    }

    /// Runs a statement on the collection's table; returns the rows it affected.
    async fn execute(&self, spec: &CollectionSpec, sql: String) -> StoreResult<u64> {
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(sql).execute(&mut conn).await {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    /// The one number a `SELECT ... AS n` on the collection's table gives.
    async fn number(&self, spec: &CollectionSpec, sql: String) -> StoreResult<u64> {
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(sql).load::<Count>(&mut conn).await {
            Ok(rows) => Ok(rows.into_iter().next().map_or(0, |c| c.n.max(0) as u64)),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    /// Creates the table and its indexes in one transaction.
    async fn create_table(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let t = table(spec);
        self.options.check()?;
        let cfg = &self.options.text_search_config;
        // Index names are left to PostgreSQL, which keeps them unique within the schema
        // however long the collection's name is.
        let statements = [
            format!(
                "CREATE TABLE {t} (id text PRIMARY KEY, file_id text NOT NULL, filename text, \
                 chunk_index integer NOT NULL, text text NOT NULL, embedding vector({dim}) NOT \
                 NULL, attributes jsonb NOT NULL DEFAULT '{{}}', tsv tsvector GENERATED ALWAYS AS \
                 (to_tsvector('{cfg}'::regconfig, text)) STORED)",
                dim = spec.dimension
            ),
            format!(
                "CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, \
                 ef_construction = {})",
                self.options.hnsw_m.clamp(2, 100),
                self.options.hnsw_ef_construction.clamp(4, 1000)
            ),
            format!("CREATE INDEX ON {t} USING gin (tsv)"),
            format!("CREATE INDEX ON {t} USING gin (attributes jsonb_path_ops)"),
            format!("CREATE INDEX ON {t} (file_id, chunk_index)"),
        ];
        let mut conn = self.db.conn().await?;
        conn.transaction(async |c| {
            for s in statements {
                diesel::sql_query(s).execute(c).await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(error::db)
    }
}

#[async_trait]
impl VectorStore for PgVectorStore {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        self.db.ping().await
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        spec.check_dimension(MAX_DIMENSION)?;
        if let Some(existing) = self.table_dimension(spec).await? {
            return spec.same_dimension_as(existing);
        }
        match self.create_table(spec).await {
            Ok(()) => Ok(()),
            // Created concurrently by another caller: fine when the dimensions agree.
            Err(e) => match self.table_dimension(spec).await {
                Ok(Some(existing)) => spec.same_dimension_as(existing),
                _ => Err(e),
            },
        }
    }

    async fn drop_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let t = table(spec);
        let mut conn = self.db.conn().await?;
        diesel::sql_query(format!("DROP TABLE IF EXISTS {t}"))
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    async fn upsert(&self, spec: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64> {
        let t = table(spec);
        for c in &chunks {
            check_chunk(spec, c)?;
        }
        if chunks.is_empty() {
            return Ok(0);
        }
        let rows = last_of_each_id(chunks);
        let total = rows.len() as u64;
        let batch = self.options.upsert_batch.max(1);
        let mut rows = rows.into_iter();
        let mut batches = Vec::with_capacity((total as usize).div_ceil(batch));
        loop {
            let part: Vec<Chunk> = rows.by_ref().take(batch).collect();
            if part.is_empty() {
                break;
            }
            batches.push(Columns::new(part.into_iter()));
        }
        let sql = format!(
            "INSERT INTO {t} (id, file_id, filename, chunk_index, text, embedding, attributes) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], \
             $6::vector[], $7::jsonb[]) ON CONFLICT (id) DO UPDATE SET file_id = \
             EXCLUDED.file_id, filename = EXCLUDED.filename, chunk_index = EXCLUDED.chunk_index, \
             text = EXCLUDED.text, embedding = EXCLUDED.embedding, attributes = \
             EXCLUDED.attributes"
        );
        let mut conn = self.db.conn().await?;
        let result = conn
            .transaction(async |c| {
                for b in &batches {
                    diesel::sql_query(sql.as_str())
                        .bind::<Array<Text>, _>(&b.ids)
                        .bind::<Array<Text>, _>(&b.file_ids)
                        .bind::<Array<Nullable<Text>>, _>(&b.filenames)
                        .bind::<Array<Integer>, _>(&b.indexes)
                        .bind::<Array<Text>, _>(&b.texts)
                        .bind::<Array<pgvector::sql_types::Vector>, _>(&b.vectors)
                        .bind::<Array<Jsonb>, _>(&b.attributes)
                        .execute(c)
                        .await?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .await;
        match result {
            Ok(()) => Ok(total),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn delete_files(&self, spec: &CollectionSpec, file_ids: &[String]) -> StoreResult<u64> {
        let t = table(spec);
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(format!("DELETE FROM {t} WHERE file_id = ANY($1)"))
            .bind::<Array<Text>, _>(file_ids)
            .execute(&mut conn)
            .await
        {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn trim_files(&self, spec: &CollectionSpec, files: &[(String, u32)]) -> StoreResult<u64> {
        let t = table(spec);
        let (ids, keep): (Vec<String>, Vec<i32>) = files
            .iter()
            .map(|(f, k)| (f.clone(), i32::try_from(*k).unwrap_or(i32::MAX)))
            .unzip();
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(format!(
            "DELETE FROM {t} c USING unnest($1::text[], $2::int4[]) AS d(file_id, keep) WHERE \
             c.file_id = d.file_id AND c.chunk_index >= d.keep"
        ))
        .bind::<Array<Text>, _>(ids)
        .bind::<Array<Integer>, _>(keep)
        .execute(&mut conn)
        .await
        {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn set_file_attributes(
        &self,
        spec: &CollectionSpec,
        file_id: &str,
        attributes: Map<String, Value>,
    ) -> StoreResult<u64> {
        let t = table(spec);
        store_core::limits::attributes(&attributes)?;
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(format!("UPDATE {t} SET attributes = $1 WHERE file_id = $2"))
            .bind::<Jsonb, _>(Value::Object(attributes))
            .bind::<Text, _>(file_id)
            .execute(&mut conn)
            .await
        {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn delete_all(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec);
        self.execute(spec, format!("DELETE FROM {t}")).await
    }

    async fn count(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec);
        self.number(spec, format!("SELECT count(*) AS n FROM {t}"))
            .await
    }

    async fn usage_bytes(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec);
        self.number(
            spec,
            format!("SELECT coalesce(sum(octet_length(text)), 0)::int8 AS n FROM {t}"),
        )
        .await
    }

    async fn list(
        &self,
        spec: &CollectionSpec,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<StoredChunk>> {
        let t = table(spec);
        let mut conn = self.db.conn().await?;
        let rows = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM {t} ORDER BY file_id, chunk_index, id LIMIT $1 OFFSET $2"
        ))
        .bind::<BigInt, _>(i64::try_from(limit).unwrap_or(i64::MAX))
        .bind::<BigInt, _>(i64::try_from(offset).unwrap_or(i64::MAX))
        .load::<ChunkRow>(&mut conn)
        .await;
        match rows {
            Ok(rows) => Ok(rows.into_iter().map(Into::into).collect()),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn file_chunks(
        &self,
        spec: &CollectionSpec,
        file_id: &str,
    ) -> StoreResult<Vec<StoredChunk>> {
        let t = table(spec);
        let mut conn = self.db.conn().await?;
        let rows = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM {t} WHERE file_id = $1 ORDER BY chunk_index, id"
        ))
        .bind::<Text, _>(file_id)
        .load::<ChunkRow>(&mut conn)
        .await;
        match rows {
            Ok(rows) => Ok(rows.into_iter().map(Into::into).collect()),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn search(&self, spec: &CollectionSpec, req: &SearchRequest) -> StoreResult<Vec<Hit>> {
        run_search(self, spec, req).await
    }
}

#[async_trait]
impl HitSource for PgVectorStore {
    fn check(&self, _spec: &CollectionSpec, req: &SearchRequest) -> StoreResult<()> {
        if let SearchQuery::Keyword(text) | SearchQuery::Hybrid { text, .. } = &req.mode {
            check_no_nul(&Field::Query, text)?;
        }
        if let Some(f) = &req.filter {
            check_json_no_nul(&Field::Filter, &f.to_json())?;
        }
        Ok(())
    }

    async fn vector_hits(
        &self,
        spec: &CollectionSpec,
        vector: &[f32],
        filter: Option<&store_core::Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>> {
        Ok(to_hits(self.vector_search(spec, vector, filter, n).await?))
    }

    async fn keyword_hits(
        &self,
        spec: &CollectionSpec,
        text: &str,
        filter: Option<&store_core::Filter>,
        n: usize,
    ) -> StoreResult<Vec<Hit>> {
        Ok(to_hits(self.keyword_search(spec, text, filter, n).await?))
    }

    async fn require_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        match self.table_dimension(spec).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("collection", spec.name.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_must_have_the_dimension_and_finite_components() {
        let spec = CollectionSpec::new("c", 2).unwrap();
        assert!(spec.check_vector(&[0.1, 0.2]).is_ok());
        assert_eq!(
            spec.check_vector(&[0.1]).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert_eq!(
            spec.check_vector(&[0.1, f32::NAN]).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        assert!(spec.check_vector(&[f32::INFINITY, 0.0]).is_err());
    }

    #[test]
    fn nul_characters_anywhere_in_a_chunk_are_refused() {
        let spec = CollectionSpec::new("c", 1).unwrap();
        let ok = Chunk {
            id: "a".into(),
            file_id: "f".into(),
            filename: Some("f.txt".into()),
            chunk_index: 0,
            text: "text".into(),
            vector: vec![1.0],
            attributes: serde_json::json!({"k": ["v", {"n": "w"}]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        };
        assert!(check_chunk(&spec, &ok).is_ok());
        let mut bad = ok.clone();
        bad.text = "a\0b".into();
        assert_eq!(
            check_chunk(&spec, &bad).unwrap_err().kind(),
            ErrorKind::InvalidInput
        );
        let mut bad = ok.clone();
        bad.filename = Some("\0".into());
        assert!(check_chunk(&spec, &bad).is_err());
        let mut bad = ok.clone();
        bad.attributes
            .insert("k".into(), serde_json::json!([{"n": "\u{0}"}]));
        assert!(check_chunk(&spec, &bad).is_err());
        let mut bad = ok;
        bad.attributes.insert("\0".into(), Value::Null);
        assert!(check_chunk(&spec, &bad).is_err());
    }
}
