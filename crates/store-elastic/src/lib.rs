//! The Elasticsearch storage back-end.
//!
//! - [`ElasticStore`]: one index per collection (`index_prefix` + collection name) with an
//!   explicit strict mapping ([`mapping`]): BM25 `text`, a cosine `dense_vector` (HNSW), the
//!   chunk's identity fields, the attributes as given (kept, not indexed) and a typed copy of them
//!   (`attr.s.*` keyword, `attr.n.*` double, `attr.b.*` boolean) that filters compile to
//!   ([`query`]);
//! - writes go through `_bulk` in bounded batches with `refresh=wait_for`; per-item failures are
//!   retried when transient and reported otherwise;
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
