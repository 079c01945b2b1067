//! The service layer: everything between the wire and the stores, usable without HTTP.
//!
//! - [`VectorService`]: collections with their embedding model, documents, search (vector,
//!   keyword, hybrid), expiry and readiness, and each collection's file counts and usage;
//! - [`FileService`] and [`BlobStore`]: uploaded files and their bytes, in a local directory or
//!   an S3 bucket ([`blob`]);
//! - [`UploadService`]: uploads in parts, completed into files;
//! - [`IngestService`] and [`Ingestor`]: files attached to vector stores, as durable jobs that
//!   workers claim, extract ([`text`] and [`office`], in the [`sandbox`]), chunk, embed and
//!   store;
//! - [`AuthService`], [`RateLimits`], [`InFlight`]: tenants, API keys and per-tenant limits;
//! - [`ServiceError`]: every failure in the service's own terms, for each wire surface to map;
//! - [`metrics`]: what the service records through the `metrics` facade, and
//!   [`metrics::describe`] for the exporter.
//!
//! It depends on `models`, `store-core` and `embeddings` only: it never names a concrete
//! storage back-end nor a transport.

mod auth;
pub mod blob;
pub mod error;
mod files;
mod in_flight;
mod ingest;
pub mod metrics;
pub mod office;
mod rate_limit;
mod records;
pub mod sandbox;
#[cfg(test)]
mod testing;
pub mod text;
mod uploads;
mod usage;
mod vectors;

pub use auth::{AuthMode, AuthService, generate_api_key, hash_api_key};
pub use error::{ServiceError, ServiceResult, error_chain};
pub use files::{BlobStore, FileService, TempBlob, UploadMeta};
pub use in_flight::{InFlight, TooManyInFlight, Turn};
pub use ingest::{IngestService, Ingestor, StoreState, auto_chunking, batch_status, chunking};
pub use rate_limit::{HOUSEKEEPING_EVERY, RateLimitStatus, RateLimited, RateLimits};
pub use records::RECORD_TTL;
/// The records and values the service's answers are made of, for the surfaces over it: a
/// surface depends on this crate (and `models`) alone, never on the storage contract.
pub use store_core::{
    ApiKeyRecord, AttachedFile, AttachedPage, Batch, CollectionRecord, CollectionUpdate, FilePage,
    FileRecord, FileStatus, Hit, PageOrder, PageRequest, PartRecord, StatusCounts, StoredChunk,
    Tenant, UploadRecord, UploadStatus,
};
pub use store_core::{DocumentPart, Field, FileExpiryPart};
pub use uploads::{EXPIRES_AFTER_SECS, NewUpload, UploadLimits, UploadService};
pub use usage::RECOUNT_INTERVAL_SECS;
pub use vectors::{
    CreateCollectionInput, CreateStoreInput, DocumentInput, EmbedInput, Embedded, Limits,
    MAX_SEARCHED_STORES, SearchInput, SearchModels, SearchQueries, VectorService,
};
