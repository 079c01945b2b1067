//! The Elasticsearch storage back-end.
//!
//! - [`ElasticStore`]: one index per collection (`index_prefix` + collection name) with an
//!   explicit strict mapping ([`mapping`]): BM25 `text`, a cosine `dense_vector` (HNSW), the
//!   chunk's identity fields, the attributes as given (kept, not indexed) and a typed copy of them
//!   (`attr.s.*` keyword, `attr.n.*` double, `attr.b.*` boolean) that filters compile to
//!   ([`query`]);
//! - writes go through `_bulk` in batches bounded in chunks and bytes with `refresh=wait_for`;
//!   per-item failures are retried when transient and reported otherwise;
//! - deletes and attribute updates are `_delete_by_query` / `_update_by_query` run as tasks the
//!   store follows to their end (`GET _tasks/<id>`), never started twice for one call;
//! - answers are read as real clusters give them: by-query `failures[]`, shards that failed in a
//!   200, proxies' pages that are not JSON, 429 with `Retry-After`, circuit breakers that
//!   tripped for good;
//! - vector search is the top-level `knn` option with the filter inside it, keyword search a
//!   `match`, hybrid search both of them fused by reciprocal rank on this side (no licensed
//!   feature needed), with the same 0..1 scores as every back-end;
//! - [`cluster`]: the capability probe's reading of `GET /` (version, Serverless), which decides
//!   what index creation sends and refuses clusters the back-end cannot use;
//! - [`ElasticOptions`]: connection and index settings (`VECTOR_STORE__STORAGE__ELASTICSEARCH__*`).
//!
//! No features.

pub mod cluster;
mod error;
pub mod mapping;
mod options;
pub mod query;
mod store;

pub use options::ElasticOptions;
pub use store::{ElasticStore, ProbeError};
