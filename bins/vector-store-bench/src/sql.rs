//! The baselines straight on PostgreSQL: binary COPY into a table of the service's shape (same
//! columns, generated `tsvector`, the same four indexes), and the service's nearest-neighbour
//! query on its own table, prepared once per connection with the search settings set per session.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use futures::pin_mut;
use indicatif::ProgressBar;
use pgvector::Vector;
use serde_json::json;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls, Statement};

pub async fn connect(url: &str) -> Result<Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .context("connecting to PostgreSQL")?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The DDL the pgvector back-end runs for a new collection (defaults: m 16, ef_construction 64,
/// `english`), for a table `t`.
pub fn service_table_ddl(t: &str, dimension: usize) -> Vec<String> {
    vec![
        format!(
            "CREATE TABLE {t} (id text PRIMARY KEY, file_id text NOT NULL, filename text, \
             chunk_index integer NOT NULL, text text NOT NULL, embedding vector({dimension}) NOT \
             NULL, attributes jsonb NOT NULL DEFAULT '{{}}', tsv tsvector GENERATED ALWAYS AS \
             (to_tsvector('english'::regconfig, text)) STORED)"
        ),
        format!(
            "CREATE INDEX ON {t} USING hnsw (embedding vector_cosine_ops) WITH (m = 16, \
             ef_construction = 64)"
        ),
        format!("CREATE INDEX ON {t} USING gin (tsv)"),
        format!("CREATE INDEX ON {t} USING gin (attributes jsonb_path_ops)"),
        format!("CREATE INDEX ON {t} (file_id, chunk_index)"),
    ]
}

/// (Re)creates `bench.copy_target` in the service's shape.
pub async fn create_copy_table(url: &str, dimension: usize) -> Result<String> {
    let c = connect(url).await?;
    let t = "bench.copy_target".to_string();
    c.batch_execute(&format!(
        "SET client_min_messages = warning; CREATE SCHEMA IF NOT EXISTS bench; DROP TABLE IF \
         EXISTS {t}"
    ))
    .await?;
    for s in service_table_ddl(&t, dimension) {
        c.batch_execute(&s).await?;
    }
    Ok(t)
}

pub async fn drop_copy_table(url: &str, t: &str) -> Result<()> {
    connect(url)
        .await?
        .batch_execute(&format!("DROP TABLE IF EXISTS {t}"))
        .await?;
    Ok(())
}

/// Loads the rows with `concurrency` connections, each one binary COPY of its share, as the
/// /v2 route stores them (file_id = id, no filename, chunk 0, no attributes). The elapsed time.
pub async fn copy_rows(
    url: &str,
    table: &str,
    rows: &[(&str, &str, &[f32])],
    concurrency: usize,
    bar: &ProgressBar,
) -> Result<Duration> {
    let per = rows.len().div_ceil(concurrency.max(1)).max(1);
    let mut clients = Vec::new();
    for _ in rows.chunks(per) {
        clients.push(connect(url).await?);
    }
    let vector_type = clients[0].prepare("SELECT $1::vector").await?.params()[0].clone();
    let types = [
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        vector_type,
        Type::JSONB,
    ];
    let copy = format!(
        "COPY {table} (id, file_id, filename, chunk_index, text, embedding, attributes) FROM \
         STDIN (FORMAT binary)"
    );
    let empty = json!({});
    let start = Instant::now();
    let jobs = rows.chunks(per).zip(&clients).map(|(part, client)| {
        let copy = &copy;
        let types = &types;
        let empty = &empty;
        async move {
            let sink = client.copy_in(copy.as_str()).await?;
            let writer = BinaryCopyInWriter::new(sink, types);
            pin_mut!(writer);
            let none: Option<&str> = None;
            for (i, (id, text, v)) in part.iter().enumerate() {
                let vector = Vector::from(v.to_vec());
                let row: [&(dyn ToSql + Sync); 7] = [id, id, &none, &0i32, text, &vector, empty];
                writer.as_mut().write(&row).await?;
                if i % 500 == 499 {
                    bar.inc(500);
                }
            }
            writer.finish().await?;
            Ok::<_, anyhow::Error>(())
        }
    });
    futures::future::try_join_all(jobs).await?;
    let elapsed = start.elapsed();
    bar.finish_and_clear();
    Ok(elapsed)
}

/// The service's vector-search SQL on table `t` (see `store-pgvector`'s `vector_sql`).
pub fn vector_sql(t: &str) -> String {
    const COLUMNS: &str = "id, file_id, filename, chunk_index, text, attributes";
    format!(
        "WITH r AS MATERIALIZED (SELECT {COLUMNS}, embedding <=> $1 AS distance FROM {t} WHERE \
         TRUE ORDER BY embedding <=> $1 LIMIT $2) SELECT {COLUMNS}, (1 - distance / 2)::float8 AS \
         score FROM r ORDER BY distance, id"
    )
}

/// One connection ready to search: session settings as the service's for k, statement prepared.
pub struct Searcher {
    client: Client,
    statement: Statement,
}

impl Searcher {
    pub async fn new(url: &str, table: &str, ef_search: usize) -> Result<Self> {
        let client = connect(url).await?;
        client
            .batch_execute(&format!(
                "SET hnsw.iterative_scan = relaxed_order; SET hnsw.ef_search = {ef_search}; SET \
                 hnsw.max_scan_tuples = 20000"
            ))
            .await?;
        let statement = client.prepare(&vector_sql(table)).await?;
        Ok(Self { client, statement })
    }

    pub async fn search(&self, vector: &Vector, k: i64) -> Result<Vec<String>> {
        let rows = self.client.query(&self.statement, &[vector, &k]).await?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }
}

/// `pg_total_relation_size` of a table (with its indexes and TOAST), in bytes.
pub async fn table_bytes(url: &str, table: &str) -> Result<i64> {
    let c = connect(url).await?;
    let row = c
        .query_one(
            "SELECT pg_total_relation_size($1::text::regclass)",
            &[&table],
        )
        .await?;
    Ok(row.get(0))
}
