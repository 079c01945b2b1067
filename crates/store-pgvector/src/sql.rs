//! The SQL of the chunk tables: table names, the rows read back, and the search statements
//! (vector, BM25 keyword) with their binds.

use diesel::QueryableByName;
use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Double, Integer, Jsonb, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use pgvector::Vector;
use serde_json::{Map, Value};
use store_core::{Chunk, CollectionSpec, Hit, PhysicalName, StoredChunk};

use crate::filter::{Bind, compile_filter};
use crate::prepared::Prepared;

/// The quoted name of the table of the collection whose physical name is `physical`,
/// `vectors."<physical>"`; `None` when `physical` is not a [`PhysicalName`].
pub fn table_name(physical: &str) -> Option<String> {
    PhysicalName::parse(physical).ok().map(|n| quoted_table(&n))
}

pub(crate) fn quoted_table(name: &PhysicalName) -> String {
    format!("vectors.\"{name}\"")
}

/// The quoted table name of a collection.
pub(crate) fn table(spec: &CollectionSpec) -> String {
    quoted_table(&spec.name)
}

#[derive(QueryableByName)]
pub(crate) struct ChunkRow {
    #[diesel(sql_type = Text)]
    pub(crate) id: String,
    #[diesel(sql_type = Text)]
    pub(crate) file_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) filename: Option<String>,
    #[diesel(sql_type = Integer)]
    pub(crate) chunk_index: i32,
    #[diesel(sql_type = Text)]
    pub(crate) text: String,
    #[diesel(sql_type = Jsonb)]
    pub(crate) attributes: Value,
}

/// A JSON object read back from a `jsonb` column; any other value (which the writes never store)
/// reads as an empty object.
pub(crate) fn object_or_empty(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) | Value::Array(_) => {
            Map::new()
        }
    }
}

impl From<ChunkRow> for StoredChunk {
    fn from(r: ChunkRow) -> Self {
        StoredChunk {
            id: r.id,
            file_id: r.file_id,
            filename: r.filename,
            chunk_index: r.chunk_index.max(0) as u32,
            text: r.text,
            attributes: object_or_empty(r.attributes),
        }
    }
}

#[derive(QueryableByName)]
pub(crate) struct ScoredRow {
    #[diesel(embed)]
    pub(crate) chunk: ChunkRow,
    #[diesel(sql_type = Double)]
    pub(crate) score: f64,
}

#[derive(QueryableByName)]
pub(crate) struct Count {
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

#[derive(QueryableByName)]
pub(crate) struct Dim {
    #[diesel(sql_type = Integer)]
    pub(crate) dim: i32,
}

pub(crate) const COLUMNS: &str = "id, file_id, filename, chunk_index, text, attributes";

pub(crate) fn bind_all<'a>(
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
pub(crate) async fn load(
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
pub(crate) fn condition(filter: Option<&store_core::Filter>, first: usize) -> (String, Vec<Bind>) {
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
pub(crate) fn vector_sql(t: &str, cond: &str) -> String {
    format!(
        "WITH r AS MATERIALIZED (SELECT {COLUMNS}, embedding <=> $1 AS distance FROM {t} WHERE \
         {cond} ORDER BY embedding <=> $1 LIMIT $2) SELECT {COLUMNS}, (1 - distance / 2)::float8 \
         AS score FROM r ORDER BY distance, id"
    )
}

/// BM25's term-frequency saturation and length normalisation (Lucene's defaults).
pub(crate) const BM25_K1: f64 = 1.2;
pub(crate) const BM25_B: f64 = 0.75;

/// The SQL of a keyword search with `$1` the text-search configuration, `$2` the query text and
/// `$3` the limit: any of the query's words may match (OR), ranked by BM25 and normalised to
/// score / (score + 1).
///
/// - Each query lexeme's document frequency is counted through the GIN index, and the number
///   of documents is the table's live rows as its statistics keep them (`n_live_tup`, exact
///   once the writers' counts are flushed, unlike the planner's sampled `reltuples`), counted
///   when there are none yet: idf = ln(1 + (N − df + 0.5) / (df + 0.5)).
/// - A document's term frequencies are its lexemes' position counts; its length is its number
///   of distinct lexemes, against the average over the matching documents.
/// - Lexemes are quoted (quotes and backslashes doubled) into one-lexeme queries, never parsed
///   as query syntax; the OR query is `plainto_tsquery`'s lexemes joined with `|`.
pub(crate) fn keyword_sql(t: &str, cond: &str) -> String {
    let (k1, b) = (BM25_K1, BM25_B);
    format!(
        r#"WITH terms AS MATERIALIZED (
  SELECT DISTINCT lexeme AS term,
         ('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''')::tsquery AS tq
  FROM unnest(to_tsvector($1::regconfig, $2))),
live AS MATERIALIZED (
  SELECT coalesce((SELECT n_live_tup FROM pg_stat_user_tables
                   WHERE relid = '{t}'::regclass), 0)::float8 AS rows),
n AS MATERIALIZED (
  SELECT CASE WHEN live.rows > 0 THEN live.rows
              ELSE (SELECT count(*) FROM {t})::float8 END AS docs
  FROM live),
df AS MATERIALIZED (
  SELECT term, (SELECT count(*) FROM {t} WHERE tsv @@ terms.tq)::float8 AS df FROM terms),
idf AS MATERIALIZED (
  SELECT df.term, ln(1 + (greatest(n.docs, df.df) - df.df + 0.5) / (df.df + 0.5)) AS idf
  FROM df, n WHERE df.df > 0),
q AS (SELECT replace(plainto_tsquery($1::regconfig, $2)::text, ' & ', ' | ')::tsquery AS query),
cand AS (
  SELECT id, tsv, avg(length(tsv)) OVER () AS avgdl FROM {t}, q WHERE tsv @@ q.query AND {cond}),
top AS (
  SELECT c.id, (SELECT sum(i.idf * u.tf * {k1_1}
                         / (u.tf + {k1} * ({one_b} + {b} * length(c.tsv) / c.avgdl)))
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
pub(crate) struct Columns {
    pub(crate) ids: Vec<String>,
    pub(crate) file_ids: Vec<String>,
    pub(crate) filenames: Vec<Option<String>>,
    pub(crate) indexes: Vec<i32>,
    pub(crate) texts: Vec<String>,
    pub(crate) vectors: Vec<Vector>,
    pub(crate) attributes: Vec<Value>,
}

impl Columns {
    pub(crate) fn new(rows: impl ExactSizeIterator<Item = Chunk>) -> Self {
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

pub(crate) fn to_hits(rows: Vec<ScoredRow>) -> Vec<Hit> {
    rows.into_iter()
        .map(|r| Hit {
            score: score(r.score),
            chunk: r.chunk.into(),
        })
        .collect()
}

/// A score in 0..=1 (a zero query vector has no cosine: NaN counts as 0).
pub(crate) fn score(s: f64) -> f32 {
    if s.is_nan() {
        0.0
    } else {
        (s as f32).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_lowercase_identifiers_become_table_names() {
        let spec = |name: &str| CollectionSpec::new(name, 3);
        assert_eq!(table(&spec("vs_abc123").unwrap()), "vectors.\"vs_abc123\"");
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
            assert!(spec(bad).is_err(), "{bad:?}");
            assert_eq!(table_name(bad), None, "{bad:?}");
        }
        assert!(spec(&"a".repeat(63)).is_ok());
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
