//! The service layer: everything the three HTTP skins (platform `/v1/api`, raw `/v2`, and the
//! OpenAI surface) share, API-key auth and the per-tenant rate limits. No actix types in here.

mod auth;
mod collections;
mod files;
mod in_flight;
mod ingest;
mod rate_limit;
mod records;
pub mod sandbox;
pub mod text;

pub use auth::{AuthMode, AuthService, generate_api_key, hash_api_key};
pub use collections::{
    CreateCollectionInput, DocumentInput, Limits, SearchInput, SearchKind, VectorService,
};
pub use files::{BlobStore, FileService, TempBlob, UploadMeta};
pub use in_flight::{InFlight, TooManyInFlight};
pub use ingest::{AttachRequest, IngestService, Ingestor, auto_chunking, chunking};
pub use rate_limit::{HOUSEKEEPING_EVERY, RateLimitStatus, RateLimited, RateLimits};
pub use records::RECORD_TTL;
