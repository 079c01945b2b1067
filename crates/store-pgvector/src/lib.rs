//! The PostgreSQL + pgvector storage back-end, and the catalog.
//!
//! - [`PgVectorStore`]: one table per collection in the `vectors` schema, with an HNSW index
//!   (cosine), a stored `tsvector` with a GIN index for keyword search, and JSONB attributes
//!   (GIN) that filters compile to, always with bound parameters;
//! - [`PgCatalog`]: tenants, API keys (SHA-256 only), collection records, files and uploads;
//! - [`connect`] (a deadpool pool over diesel-async) and [`migrate`] (embedded migrations).
//!
//! No features.

mod attribute_keys;
mod catalog;
mod error;
mod files;
mod filter;
mod ingest;
mod options;
mod pool;
mod prepared;
mod quota;
mod sql;
mod stats;
mod store;
mod uploads;

pub use catalog::PgCatalog;
pub use filter::{Bind, SqlFilter, compile_filter};
pub use options::PgVectorOptions;
pub use pool::{Conn, MAX_CONNECTION_USES, Pool, connect, migrate};
pub use sql::table_name;
pub use store::PgVectorStore;

use pool::Db;

use store_core::{StoreError, StoreResult};

/// The first row, as `T`, or not found: `what` with this `id` does not exist (for the caller).
fn one<T, R: Into<T>>(rows: Vec<R>, what: &'static str, id: &str) -> StoreResult<T> {
    first_or(rows, || StoreError::not_found(what, id))
}

/// The first row, as `T`, or the error `missing` makes.
fn first_or<T, R: Into<T>>(rows: Vec<R>, missing: impl FnOnce() -> StoreError) -> StoreResult<T> {
    rows.into_iter().next().map(Into::into).ok_or_else(missing)
}

/// Paging queries fetch `limit + 1` rows: the extra one only says that more follow.
fn split_page<R, T: From<R>>(mut rows: Vec<R>, limit: usize) -> (Vec<T>, bool) {
    let has_more = rows.len() > limit;
    rows.truncate(limit);
    (rows.into_iter().map(T::from).collect(), has_more)
}
