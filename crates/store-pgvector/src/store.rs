//! [`PgVectorStore`]: collections as tables in the `vectors` schema.

use std::collections::HashMap;
use std::sync::LazyLock;

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{Array, BigInt, Double, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use pgvector::Vector;
use serde::Deserialize;
use serde_json::{Map, Value};
use store_core::{
    Chunk, CollectionSpec, Hit, SearchMode, SearchRequest, StoreError, StoreResult, StoredChunk,
    VectorStore,
};

use crate::error;
use crate::filter::{Bind, compile_filter};
use crate::{Db, Pool};

/// Options of the back-end (`storage.pgvector` in the settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgVectorOptions {
    /// HNSW search breadth; a query for k results uses at least 2 × k.
    pub ef_search: usize,
    pub hnsw_m: usize,
    pub hnsw_ef_construction: usize,
    /// PostgreSQL text-search configuration of keyword search.
    pub text_search_config: String,
    /// Rows per INSERT statement when upserting.
    pub upsert_batch: usize,
}

impl Default for PgVectorOptions {
    fn default() -> Self {
        Self {
            ef_search: 100,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
            text_search_config: "english".into(),
            upsert_batch: 500,
        }
    }
}

static IDENT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z][a-z0-9_]{0,62}$").expect("static regex"));

#[derive(Debug, Clone)]
pub struct PgVectorStore {
    db: Db,
    options: PgVectorOptions,
}

impl PgVectorStore {
    pub const NAME: &'static str = "pgvector";

    pub fn new(pool: Pool, options: PgVectorOptions) -> Self {
        Self {
            db: Db(pool),
            options,
        }
    }
}

/// The quoted table name, after checking that the physical name is a plain identifier: names
/// are the only thing ever formatted into SQL.
fn table(spec: &CollectionSpec) -> StoreResult<String> {
    if IDENT.is_match(&spec.name) {
        Ok(format!("vectors.\"{}\"", spec.name))
    } else {
        Err(StoreError::invalid_param(
            "collection",
            format!("'{}' is not a valid physical collection name", spec.name),
        ))
    }
}

fn check_dimension(spec: &CollectionSpec, v: &[f32]) -> StoreResult<()> {
    if v.len() != spec.dimension {
        return Err(StoreError::dimension_mismatch(spec.dimension, v.len()));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct ChunkRow {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    file_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    filename: Option<String>,
    #[diesel(sql_type = Integer)]
    chunk_index: i32,
    #[diesel(sql_type = Text)]
    text: String,
    #[diesel(sql_type = Jsonb)]
    attributes: Value,
}

impl From<ChunkRow> for StoredChunk {
    fn from(r: ChunkRow) -> Self {
        StoredChunk {
            id: r.id,
            file_id: r.file_id,
            filename: r.filename,
            chunk_index: r.chunk_index.max(0) as u32,
            text: r.text,
            attributes: match r.attributes {
                Value::Object(m) => m,
                _ => Map::new(),
            },
        }
    }
}

#[derive(QueryableByName)]
struct ScoredRow {
    #[diesel(embed)]
    chunk: ChunkRow,
    #[diesel(sql_type = Double)]
    score: f64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Dim {
    #[diesel(sql_type = Integer)]
    dim: i32,
}

const COLUMNS: &str = "id, file_id, filename, chunk_index, text, attributes";

fn bind_all<'a>(
    mut q: BoxedSqlQuery<'a, Pg, SqlQuery>,
    binds: Vec<Bind>,
) -> BoxedSqlQuery<'a, Pg, SqlQuery> {
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind::<Text, _>(t),
            Bind::Float(f) => q.bind::<Double, _>(f),
            Bind::Jsonb(j) => q.bind::<Jsonb, _>(j),
        };
    }
    q
}

impl PgVectorStore {
    /// The condition and binds of an optional filter, placeholders from `$first`.
    fn condition(filter: Option<&store_core::Filter>, first: usize) -> (String, Vec<Bind>) {
        match filter {
            Some(f) => {
                let c = compile_filter(f, first);
                (c.sql, c.binds)
            }
            None => ("TRUE".into(), Vec::new()),
        }
    }

    async fn vector_search(
        &self,
        spec: &CollectionSpec,
        vector: &[f32],
        filter: Option<&store_core::Filter>,
        k: usize,
    ) -> StoreResult<Vec<ScoredRow>> {
        let t = table(spec)?;
        let (cond, binds) = Self::condition(filter, 3);
        // relaxed_order iterative scans may return rows slightly out of order: re-sort.
        let sql = format!(
            "WITH r AS MATERIALIZED (SELECT {COLUMNS}, embedding <=> $1 AS distance FROM {t} WHERE {cond} ORDER BY embedding <=> $1 LIMIT $2) \
             SELECT {COLUMNS}, (1 - distance / 2)::float8 AS score FROM r ORDER BY distance, id"
        );
        let q = diesel::sql_query(sql)
            .into_boxed::<Pg>()
            .bind::<pgvector::sql_types::Vector, _>(Vector::from(vector.to_vec()))
            .bind::<BigInt, _>(k as i64);
        let q = bind_all(q, binds);
        let mut conn = self.db.conn().await?;
        let ef = self.options.ef_search.max(2 * k).min(1000);
        if ef > self.options.ef_search {
            // The session default is too narrow for this k: widen it for this query only.
            let set = format!("SET LOCAL hnsw.ef_search = {ef}");
            conn.transaction(async |c| {
                diesel::sql_query(set).execute(c).await?;
                q.load::<ScoredRow>(c).await
            })
            .await
            .map_err(error::db)
        } else {
            q.load::<ScoredRow>(&mut conn).await.map_err(error::db)
        }
    }

    async fn keyword_search(
        &self,
        spec: &CollectionSpec,
        text: &str,
        filter: Option<&store_core::Filter>,
        k: usize,
    ) -> StoreResult<Vec<ScoredRow>> {
        let t = table(spec)?;
        let (cond, binds) = Self::condition(filter, 4);
        // OR of the query's terms, ranked by cover density, normalised to rank / (rank + 1).
        let sql = format!(
            "WITH q AS (SELECT to_tsquery($1::regconfig, replace(plainto_tsquery($1::regconfig, $2)::text, ' & ', ' | ')) AS query) \
             SELECT {COLUMNS}, ts_rank_cd(tsv, q.query, 32)::float8 AS score FROM {t}, q \
             WHERE tsv @@ q.query AND {cond} ORDER BY score DESC, id LIMIT $3"
        );
        let q = diesel::sql_query(sql)
            .into_boxed::<Pg>()
            .bind::<Text, _>(self.options.text_search_config.clone())
            .bind::<Text, _>(text.to_string())
            .bind::<BigInt, _>(k as i64);
        let q = bind_all(q, binds);
        let mut conn = self.db.conn().await?;
        q.load::<ScoredRow>(&mut conn).await.map_err(error::db)
    }

    async fn table_dimension(&self, spec: &CollectionSpec) -> StoreResult<Option<usize>> {
        let mut conn = self.db.conn().await?;
        let rows: Vec<Dim> = diesel::sql_query(
            "SELECT a.atttypmod AS dim FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'vectors' AND c.relname = $1 AND a.attname = 'embedding'",
        )
        .bind::<Text, _>(spec.name.clone())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().next().map(|d: Dim| d.dim.max(0) as usize))
    }

    /// NotFound unless the collection's table exists.
    async fn require(&self, spec: &CollectionSpec) -> StoreResult<()> {
        match self.table_dimension(spec).await? {
            Some(_) => Ok(()),
            None => Err(StoreError::not_found("collection", spec.name.clone())),
        }
    }
}

fn to_hits(rows: Vec<ScoredRow>, threshold: Option<f32>, k: usize) -> Vec<Hit> {
    rows.into_iter()
        .map(|r| Hit {
            score: (r.score as f32).clamp(0.0, 1.0),
            chunk: r.chunk.into(),
        })
        .filter(|h| threshold.is_none_or(|t| h.score >= t))
        .take(k)
        .collect()
}

#[async_trait]
impl VectorStore for PgVectorStore {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    async fn ping(&self) -> StoreResult<()> {
        let mut conn = self.db.conn().await?;
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    async fn create_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let t = table(spec)?;
        if spec.dimension == 0 || spec.dimension > 2000 {
            return Err(StoreError::invalid_param(
                "dimension",
                "dimension must be between 1 and 2000",
            ));
        }
        if let Some(existing) = self.table_dimension(spec).await? {
            return if existing == spec.dimension {
                Ok(())
            } else {
                Err(StoreError::conflict(format!(
                    "collection {} exists with dimension {existing}",
                    spec.name
                )))
            };
        }
        let cfg = &self.options.text_search_config;
        if !IDENT.is_match(cfg) {
            return Err(StoreError::invalid_param(
                "text_search_config",
                format!("'{cfg}' is not a text-search configuration name"),
            ));
        }
        let name = &spec.name;
        let statements = [
            format!(
                "CREATE TABLE IF NOT EXISTS {t} (id text PRIMARY KEY, file_id text NOT NULL, filename text, \
                 chunk_index integer NOT NULL, text text NOT NULL, embedding vector({dim}) NOT NULL, \
                 attributes jsonb NOT NULL DEFAULT '{{}}', \
                 tsv tsvector GENERATED ALWAYS AS (to_tsvector('{cfg}'::regconfig, text)) STORED)",
                dim = spec.dimension
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS \"{name}_hnsw\" ON {t} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})",
                self.options.hnsw_m.clamp(2, 100),
                self.options.hnsw_ef_construction.clamp(4, 1000)
            ),
            format!("CREATE INDEX IF NOT EXISTS \"{name}_tsv\" ON {t} USING gin (tsv)"),
            format!(
                "CREATE INDEX IF NOT EXISTS \"{name}_attrs\" ON {t} USING gin (attributes jsonb_path_ops)"
            ),
            format!("CREATE INDEX IF NOT EXISTS \"{name}_file\" ON {t} (file_id, chunk_index)"),
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

    async fn drop_collection(&self, spec: &CollectionSpec) -> StoreResult<()> {
        let t = table(spec)?;
        let mut conn = self.db.conn().await?;
        diesel::sql_query(format!("DROP TABLE IF EXISTS {t}"))
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(())
    }

    async fn upsert(&self, spec: &CollectionSpec, chunks: Vec<Chunk>) -> StoreResult<u64> {
        let t = table(spec)?;
        for c in &chunks {
            check_dimension(spec, &c.vector)?;
        }
        if chunks.is_empty() {
            return Ok(0);
        }
        self.require(spec).await?;
        // One row per id: the last one given wins.
        let mut last: HashMap<&str, usize> = HashMap::new();
        for (i, c) in chunks.iter().enumerate() {
            last.insert(c.id.as_str(), i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let total = keep.len() as u64;
        let sql = format!(
            "INSERT INTO {t} (id, file_id, filename, chunk_index, text, embedding, attributes) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::vector[], $7::jsonb[]) \
             ON CONFLICT (id) DO UPDATE SET file_id = EXCLUDED.file_id, filename = EXCLUDED.filename, \
             chunk_index = EXCLUDED.chunk_index, text = EXCLUDED.text, embedding = EXCLUDED.embedding, \
             attributes = EXCLUDED.attributes"
        );
        let mut chunks: Vec<Option<Chunk>> = chunks.into_iter().map(Some).collect();
        let rows: Vec<Chunk> = keep.into_iter().filter_map(|i| chunks[i].take()).collect();
        let batch = self.options.upsert_batch.max(1);
        let mut conn = self.db.conn().await?;
        conn.transaction(async |c| {
            for part in rows.chunks(batch) {
                diesel::sql_query(sql.as_str())
                    .bind::<Array<Text>, _>(part.iter().map(|r| r.id.clone()).collect::<Vec<_>>())
                    .bind::<Array<Text>, _>(
                        part.iter().map(|r| r.file_id.clone()).collect::<Vec<_>>(),
                    )
                    .bind::<Array<Nullable<Text>>, _>(
                        part.iter().map(|r| r.filename.clone()).collect::<Vec<_>>(),
                    )
                    .bind::<Array<Integer>, _>(
                        part.iter()
                            .map(|r| r.chunk_index as i32)
                            .collect::<Vec<_>>(),
                    )
                    .bind::<Array<Text>, _>(part.iter().map(|r| r.text.clone()).collect::<Vec<_>>())
                    .bind::<Array<pgvector::sql_types::Vector>, _>(
                        part.iter()
                            .map(|r| Vector::from(r.vector.clone()))
                            .collect::<Vec<_>>(),
                    )
                    .bind::<Array<Jsonb>, _>(
                        part.iter()
                            .map(|r| Value::Object(r.attributes.clone()))
                            .collect::<Vec<_>>(),
                    )
                    .execute(c)
                    .await?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(error::db)?;
        Ok(total)
    }

    async fn delete_files(&self, spec: &CollectionSpec, file_ids: &[String]) -> StoreResult<u64> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let n = diesel::sql_query(format!("DELETE FROM {t} WHERE file_id = ANY($1)"))
            .bind::<Array<Text>, _>(file_ids.to_vec())
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(n as u64)
    }

    async fn delete_all(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let n = diesel::sql_query(format!("DELETE FROM {t}"))
            .execute(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(n as u64)
    }

    async fn count(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT count(*) AS n FROM {t}"))
            .load(&mut conn)
            .await
            .map_err(error::db)?;
        Ok(rows
            .into_iter()
            .next()
            .map_or(0, |c: Count| c.n.max(0) as u64))
    }

    async fn usage_bytes(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let rows: Vec<Count> = diesel::sql_query(format!(
            "SELECT coalesce(sum(octet_length(text)), 0)::int8 AS n FROM {t}"
        ))
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows
            .into_iter()
            .next()
            .map_or(0, |c: Count| c.n.max(0) as u64))
    }

    async fn list(
        &self,
        spec: &CollectionSpec,
        limit: usize,
        offset: usize,
    ) -> StoreResult<Vec<StoredChunk>> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let rows: Vec<ChunkRow> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM {t} ORDER BY file_id, chunk_index, id LIMIT $1 OFFSET $2"
        ))
        .bind::<BigInt, _>(limit as i64)
        .bind::<BigInt, _>(offset as i64)
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn file_chunks(
        &self,
        spec: &CollectionSpec,
        file_id: &str,
    ) -> StoreResult<Vec<StoredChunk>> {
        let t = table(spec)?;
        self.require(spec).await?;
        let mut conn = self.db.conn().await?;
        let rows: Vec<ChunkRow> = diesel::sql_query(format!(
            "SELECT {COLUMNS} FROM {t} WHERE file_id = $1 ORDER BY chunk_index, id"
        ))
        .bind::<Text, _>(file_id.to_string())
        .load(&mut conn)
        .await
        .map_err(error::db)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn search(&self, spec: &CollectionSpec, req: &SearchRequest) -> StoreResult<Vec<Hit>> {
        let k = req.k.clamp(1, 1000);
        let filter = req.filter.as_ref();
        let threshold = req.score_threshold;
        match &req.mode {
            SearchMode::Vector(v) => {
                check_dimension(spec, v)?;
                self.require(spec).await?;
                Ok(to_hits(
                    self.vector_search(spec, v, filter, k).await?,
                    threshold,
                    k,
                ))
            }
            SearchMode::Keyword(text) => {
                self.require(spec).await?;
                Ok(to_hits(
                    self.keyword_search(spec, text, filter, k).await?,
                    threshold,
                    k,
                ))
            }
            SearchMode::Hybrid { vector, text } => {
                check_dimension(spec, vector)?;
                self.require(spec).await?;
                let depth = (2 * k).max(20);
                let (by_vector, by_keyword) = futures::try_join!(
                    self.vector_search(spec, vector, filter, depth),
                    self.keyword_search(spec, text, filter, depth)
                )?;
                let v_ids: Vec<String> = by_vector.iter().map(|r| r.chunk.id.clone()).collect();
                let k_ids: Vec<String> = by_keyword.iter().map(|r| r.chunk.id.clone()).collect();
                let mut rows: HashMap<String, ChunkRow> = HashMap::new();
                for r in by_vector.into_iter().chain(by_keyword) {
                    rows.entry(r.chunk.id.clone()).or_insert(r.chunk);
                }
                Ok(req
                    .hybrid
                    .fuse(&v_ids, &k_ids)
                    .into_iter()
                    .filter(|(_, score)| threshold.is_none_or(|t| *score >= t))
                    .take(k)
                    .filter_map(|(id, score)| {
                        rows.remove(&id).map(|row| Hit {
                            chunk: row.into(),
                            score,
                        })
                    })
                    .collect())
            }
        }
    }
}
