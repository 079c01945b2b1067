//! The HTTP layer of the vector-store service, over the `service` crate.
//!
//! - `routes/`: actix-web handlers for the OpenAI surface (`/v1/vector_stores`, `/v1/files`),
//!   the platform API (`/v1/api`), the raw API (`/v2`) and the health checks; each module
//!   exports `configure`;
//! - `error.rs`: [`ApiError`], the service's error and HTTP's own, mapped once to a status and
//!   the OpenAI error envelope;
//! - `extract.rs`: extractors that parse and validate bodies and query strings;
//! - `mcp.rs`: `/mcp`, the MCP server of `api-mcp` behind the API's authentication and limits,
//!   bridged from actix-web to `rmcp`'s tower service;
//! - `startup.rs`: [`Application`], bound on any port (0 for tests).
//!
//! This crate depends on `service`, `models` and `api-mcp` alone: it never names a storage
//! back-end, nor the storage contract, nor a model; the service's types are all it sees.

pub mod console;
pub mod error;
pub mod extract;
pub mod mcp;
pub mod metrics;
pub mod openapi;
pub mod origin;
pub mod routes;
pub mod startup;

pub use error::ApiError;
pub use startup::{AppState, Application, HttpSettings, check_auth_mode};
