//! [`PgVectorStore`]: collections as tables in the `vectors` schema.

use std::sync::LazyLock;

use async_trait::async_trait;
use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{Array, BigInt, Double, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use pgvector::Vector;
use serde::Deserialize;
use serde_json::{Map, Value};
use store_core::{
    Chunk, CollectionSpec, ErrorKind, Field, Hit, HitSource, PhysicalName, SearchQuery,
    SearchRequest, StoreError, StoreResult, StoredChunk, VectorStore, last_of_each_id, run_search,
};

use crate::error;
use crate::filter::{Bind, compile_filter};
use crate::prepared::Prepared;
use crate::{Db, Pool};

/// Options of the back-end (`storage.pgvector` in the settings).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PgVectorOptions {
    /// HNSW search breadth (`hnsw.ef_search`); a query for k results uses at least 2 × k.
    pub ef_search: usize,
    /// HNSW graph degree of new collections (`m`).
    pub hnsw_m: usize,
    /// HNSW build breadth of new collections (`ef_construction`).
    pub hnsw_ef_construction: usize,
    /// PostgreSQL text-search configuration of keyword search (of new collections' `tsv`).
    pub text_search_config: String,
    /// How many tuples a filtered (iterative) HNSW scan visits at most
    /// (`hnsw.max_scan_tuples`): the bound on the work a very selective filter can cause.
    pub max_scan_tuples: usize,
    /// Rows per INSERT statement when upserting.
    pub upsert_batch: usize,
    /// The longest any one statement may run (`statement_timeout`), so that no request can hold
    /// a pooled connection for long; 0 turns it off.
    pub statement_timeout_ms: u64,
}

impl PgVectorOptions {
    /// Options a server can run with: the text-search configuration is formatted into SQL, so
    /// it must be a plain identifier.
    pub fn check(&self) -> StoreResult<()> {
        let cfg = &self.text_search_config;
        if IDENT.is_match(cfg) {
            Ok(())
        } else {
            Err(StoreError::invalid_field(
                Field::Setting("storage.pgvector.text_search_config".into()),
                format!("'{cfg}' is not a text-search configuration name"),
            ))
        }
    }
}

impl Default for PgVectorOptions {
    fn default() -> Self {
        Self {
            ef_search: 100,
            hnsw_m: 16,
            hnsw_ef_construction: 64,
            text_search_config: "english".into(),
            max_scan_tuples: 20_000,
            upsert_batch: 500,
            statement_timeout_ms: 30_000,
        }
    }
}

static IDENT: LazyLock<regex::Regex> =
    LazyLock::new(|| regex::Regex::new(r"^[a-z][a-z0-9_]{0,62}$").expect("static regex"));

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

/// The HNSW settings a vector search runs with: iterative scans so that a selective filter still
/// fills k, a search breadth of at least 2 × k, and a bound on the tuples visited. Numbers only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SearchSettings {
    ef_search: usize,
    max_scan_tuples: usize,
}

impl SearchSettings {
    /// What a search for `k` results needs: `ef_search`, at least 2 × k.
    pub(crate) fn for_k(options: &PgVectorOptions, k: usize) -> Self {
        Self {
            ef_search: options.ef_search.max(2 * k).clamp(1, 1000),
            max_scan_tuples: options.max_scan_tuples.clamp(1, i32::MAX as usize),
        }
    }

    /// The session defaults `connect` gives every connection.
    pub(crate) fn session(options: &PgVectorOptions) -> Self {
        Self::for_k(options, 0)
    }

    /// Statements that apply these settings, `SET LOCAL` (in a transaction) or session-wide.
    pub(crate) fn sql(&self, local: bool) -> String {
        let scope = if local { "SET LOCAL" } else { "SET" };
        format!(
            "{scope} hnsw.iterative_scan = relaxed_order; {scope} hnsw.ef_search = {}; \
             {scope} hnsw.max_scan_tuples = {}",
            self.ef_search, self.max_scan_tuples
        )
    }
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

/// The quoted name of the table of the collection whose physical name is `physical`,
/// `vectors."<physical>"`; `None` when `physical` is not a [`PhysicalName`].
pub fn table_name(physical: &str) -> Option<String> {
    PhysicalName::parse(physical).ok().map(|n| quoted_table(&n))
}

fn quoted_table(name: &PhysicalName) -> String {
    format!("vectors.\"{name}\"")
}

/// The quoted table name of a collection, once its name parsed as a [`PhysicalName`].
fn table(spec: &CollectionSpec) -> StoreResult<String> {
    Ok(quoted_table(&spec.physical_name()?))
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

/// Loads search rows, through a statement kept prepared on the connection when `prepared`:
/// searches without a filter, whose text depends on the table alone. Filtered ones vary with the
/// filter's shape and are prepared each time.
async fn load(
    q: BoxedSqlQuery<'_, Pg, SqlQuery>,
    prepared: bool,
    conn: &mut AsyncPgConnection,
) -> diesel::QueryResult<Vec<ScoredRow>> {
    if prepared {
        Prepared(q).load(conn).await
    } else {
        q.load(conn).await
    }
}

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

/// The SQL of a vector search: the nearest `$2` rows to `$1` that pass the filter, through the
/// HNSW index. An iterative scan in relaxed order may hand rows back slightly out of order, so
/// they are materialised and sorted again (pgvector 0.8).
fn vector_sql(t: &str, cond: &str) -> String {
    format!(
        "WITH r AS MATERIALIZED (SELECT {COLUMNS}, embedding <=> $1 AS distance FROM {t} \
         WHERE {cond} ORDER BY embedding <=> $1 LIMIT $2) \
         SELECT {COLUMNS}, (1 - distance / 2)::float8 AS score FROM r ORDER BY distance, id"
    )
}

/// BM25's term-frequency saturation and length normalisation (Lucene's defaults).
const BM25_K1: f64 = 1.2;
const BM25_B: f64 = 0.75;

/// The SQL of a keyword search with `$1` the text-search configuration, `$2` the query text and
/// `$3` the limit: any of the query's words may match (OR), ranked by BM25 and normalised to
/// score / (score + 1).
///
/// - Each query lexeme's document frequency is counted through the GIN index, and the number
///   of documents is the planner's estimate (`reltuples`), counted when there is none yet:
///   idf = ln(1 + (N − df + 0.5) / (df + 0.5)).
/// - A document's term frequencies are its lexemes' position counts; its length is its number
///   of distinct lexemes, against the average over the matching documents.
/// - Lexemes are quoted (quotes and backslashes doubled) into one-lexeme queries, never parsed
///   as query syntax; the OR query is `plainto_tsquery`'s lexemes joined with `|`.
fn keyword_sql(t: &str, cond: &str) -> String {
    let (k1, b) = (BM25_K1, BM25_B);
    format!(
        r#"WITH terms AS MATERIALIZED (
  SELECT DISTINCT lexeme AS term,
         ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery AS tq
  FROM unnest(to_tsvector($1::regconfig, $2))),
n AS MATERIALIZED (
  SELECT CASE WHEN c.reltuples > 0 THEN c.reltuples::float8 ELSE (SELECT count(*) FROM {t})::float8 END AS docs
  FROM pg_class c WHERE c.oid = '{t}'::regclass),
df AS MATERIALIZED (SELECT term, (SELECT count(*) FROM {t} WHERE tsv @@ terms.tq)::float8 AS df FROM terms),
idf AS MATERIALIZED (
  SELECT df.term, ln(1 + (greatest(n.docs, df.df) - df.df + 0.5) / (df.df + 0.5)) AS idf
  FROM df, n WHERE df.df > 0),
q AS (SELECT replace(plainto_tsquery($1::regconfig, $2)::text, ' & ', ' | ')::tsquery AS query),
cand AS (
  SELECT id, tsv, avg(length(tsv)) OVER () AS avgdl FROM {t}, q WHERE tsv @@ q.query AND {cond}),
top AS (
  SELECT c.id, (SELECT sum(i.idf * u.tf * {k1_1} / (u.tf + {k1} * ({one_b} + {b} * length(c.tsv) / c.avgdl)))
                FROM (SELECT lexeme, greatest(cardinality(positions), 1) AS tf FROM unnest(c.tsv)) u
                JOIN idf i ON i.term = u.lexeme) AS bm25
  FROM cand c ORDER BY bm25 DESC, c.id LIMIT $3)
SELECT {COLUMNS}, (top.bm25 / (top.bm25 + 1))::float8 AS score
FROM {t} JOIN top USING (id) ORDER BY top.bm25 DESC, id"#,
        k1_1 = k1 + 1.0,
        one_b = 1.0 - b,
    )
}

/// One multi-row upsert's columns, moved out of the chunks.
struct Columns {
    ids: Vec<String>,
    file_ids: Vec<String>,
    filenames: Vec<Option<String>>,
    indexes: Vec<i32>,
    texts: Vec<String>,
    vectors: Vec<Vector>,
    attributes: Vec<Value>,
}

impl Columns {
    fn new(rows: impl ExactSizeIterator<Item = Chunk>) -> Self {
        let n = rows.len();
        let mut c = Columns {
            ids: Vec::with_capacity(n),
            file_ids: Vec::with_capacity(n),
            filenames: Vec::with_capacity(n),
            indexes: Vec::with_capacity(n),
            texts: Vec::with_capacity(n),
            vectors: Vec::with_capacity(n),
            attributes: Vec::with_capacity(n),
        };
        for r in rows {
            c.ids.push(r.id);
            c.file_ids.push(r.file_id);
            c.filenames.push(r.filename);
            c.indexes
                .push(i32::try_from(r.chunk_index).unwrap_or(i32::MAX));
            c.texts.push(r.text);
            c.vectors.push(Vector::from(r.vector));
            c.attributes.push(Value::Object(r.attributes));
        }
        c
    }
}

fn to_hits(rows: Vec<ScoredRow>) -> Vec<Hit> {
    rows.into_iter()
        .map(|r| Hit {
            score: score(r.score),
            chunk: r.chunk.into(),
        })
        .collect()
}

/// A score in 0..=1 (a zero query vector has no cosine: NaN counts as 0).
fn score(s: f64) -> f32 {
    if s.is_nan() {
        0.0
    } else {
        (s as f32).clamp(0.0, 1.0)
    }
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
            _ => mapped,
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
        let t = table(spec)?;
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
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'vectors' AND c.relname = $1 AND a.attname = 'embedding'",
        )
        .bind::<Text, _>(spec.name.clone())
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
        let t = table(spec)?;
        self.options.check()?;
        let cfg = &self.options.text_search_config;
        // Index names are left to PostgreSQL, which keeps them unique within the schema
        // however long the collection's name is.
        let statements = [
            format!(
                "CREATE TABLE {t} (id text PRIMARY KEY, file_id text NOT NULL, filename text, \
                 chunk_index integer NOT NULL, text text NOT NULL, embedding vector({dim}) NOT NULL, \
                 attributes jsonb NOT NULL DEFAULT '{{}}', \
                 tsv tsvector GENERATED ALWAYS AS (to_tsvector('{cfg}'::regconfig, text)) STORED)",
                dim = spec.dimension
            ),
            format!(
                "CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops) WITH (m = {}, ef_construction = {})",
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
        table(spec)?;
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
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::text[], $6::vector[], $7::jsonb[]) \
             ON CONFLICT (id) DO UPDATE SET file_id = EXCLUDED.file_id, filename = EXCLUDED.filename, \
             chunk_index = EXCLUDED.chunk_index, text = EXCLUDED.text, embedding = EXCLUDED.embedding, \
             attributes = EXCLUDED.attributes"
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
        let t = table(spec)?;
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
        let t = table(spec)?;
        let (ids, keep): (Vec<String>, Vec<i32>) = files
            .iter()
            .map(|(f, k)| (f.clone(), i32::try_from(*k).unwrap_or(i32::MAX)))
            .unzip();
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(format!(
            "DELETE FROM {t} c USING unnest($1::text[], $2::int4[]) AS d(file_id, keep) \
             WHERE c.file_id = d.file_id AND c.chunk_index >= d.keep"
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
        let t = table(spec)?;
        store_core::limits::attributes(&attributes)?;
        let mut conn = self.db.conn().await?;
        match diesel::sql_query(format!("UPDATE {t} SET attributes = $1 WHERE file_id = $2"))
            .bind::<diesel::sql_types::Jsonb, _>(Value::Object(attributes))
            .bind::<Text, _>(file_id)
            .execute(&mut conn)
            .await
        {
            Ok(n) => Ok(n as u64),
            Err(e) => Err(self.failed(spec, e).await),
        }
    }

    async fn delete_all(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
        self.execute(spec, format!("DELETE FROM {t}")).await
    }

    async fn count(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
        self.number(spec, format!("SELECT count(*) AS n FROM {t}"))
            .await
    }

    async fn usage_bytes(&self, spec: &CollectionSpec) -> StoreResult<u64> {
        let t = table(spec)?;
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
        let t = table(spec)?;
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
        let t = table(spec)?;
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
    fn check(&self, spec: &CollectionSpec, req: &SearchRequest) -> StoreResult<()> {
        table(spec)?;
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
    fn the_default_options_deserialize_from_nothing_and_from_a_partial_object() {
        let d: PgVectorOptions = serde_json::from_value(serde_json::json!({})).unwrap();
        assert_eq!(d.ef_search, 100);
        assert_eq!(d.hnsw_m, 16);
        assert_eq!(d.hnsw_ef_construction, 64);
        assert_eq!(d.text_search_config, "english");
        assert_eq!(d.max_scan_tuples, 20_000);
        let p: PgVectorOptions = serde_json::from_value(
            serde_json::json!({"ef_search": 40, "text_search_config": "simple"}),
        )
        .unwrap();
        assert_eq!((p.ef_search, p.text_search_config.as_str()), (40, "simple"));
        assert!(serde_json::from_value::<PgVectorOptions>(serde_json::json!({"ef": 1})).is_err());
    }

    #[test]
    fn only_plain_lowercase_identifiers_become_table_names() {
        let spec = |name: &str| CollectionSpec {
            name: name.into(),
            dimension: 3,
        };
        assert_eq!(table(&spec("vs_abc123")).unwrap(), "vectors.\"vs_abc123\"");
        for bad in [
            "",
            "1abc",
            "Abc",
            "a-b",
            "a\"b",
            "a b",
            &"a".repeat(64),
            "ünï",
        ] {
            assert!(table(&spec(bad)).is_err(), "{bad:?}");
        }
        assert!(table(&spec(&"a".repeat(63))).is_ok());
    }

    #[test]
    fn vectors_must_have_the_dimension_and_finite_components() {
        let spec = CollectionSpec {
            name: "c".into(),
            dimension: 2,
        };
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
    fn the_search_breadth_is_at_least_twice_k_and_bounded() {
        let o = PgVectorOptions::default();
        let sql = |k| SearchSettings::for_k(&o, k).sql(true);
        assert!(sql(10).contains("SET LOCAL hnsw.ef_search = 100;"));
        assert!(sql(80).contains("hnsw.ef_search = 160;"));
        assert!(sql(900).contains("hnsw.ef_search = 1000;"));
        assert!(sql(1).contains("hnsw.iterative_scan = relaxed_order"));
        assert!(sql(1).contains("hnsw.max_scan_tuples = 20000"));
        let session = SearchSettings::session(&o);
        assert!(session.sql(false).starts_with("SET hnsw.iterative_scan"));
        // The session serves every k up to ef_search / 2, and no larger one.
        assert_eq!(SearchSettings::for_k(&o, 50), session);
        assert_ne!(SearchSettings::for_k(&o, 51), session);
    }

    #[test]
    fn nul_characters_anywhere_in_a_chunk_are_refused() {
        let spec = CollectionSpec {
            name: "c".into(),
            dimension: 1,
        };
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

    #[test]
    fn scores_are_clamped_and_nan_is_zero() {
        assert_eq!(score(f64::NAN), 0.0);
        assert_eq!(score(1.000_001), 1.0);
        assert_eq!(score(-0.1), 0.0);
        assert_eq!(score(0.25), 0.25);
    }

    #[test]
    fn search_sql_holds_only_placeholders_and_the_checked_table_name() {
        let sql = vector_sql("vectors.\"t\"", "TRUE");
        assert!(sql.contains("ORDER BY embedding <=> $1 LIMIT $2"), "{sql}");
        assert!(sql.starts_with("WITH r AS MATERIALIZED"), "{sql}");
        assert!(sql.ends_with("ORDER BY distance, id"), "{sql}");
        let sql = keyword_sql("vectors.\"t\"", "TRUE");
        assert!(sql.contains("plainto_tsquery($1::regconfig, $2)"), "{sql}");
        assert!(sql.contains("to_tsvector($1::regconfig, $2)"), "{sql}");
        assert!(sql.contains("LIMIT $3"), "{sql}");
        assert!(sql.contains("'vectors.\"t\"'::regclass"), "{sql}");
    }
}
