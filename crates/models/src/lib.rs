//! Wire payloads of the service: the platform collection API (`/v1/api`), the raw API (`/v2`),
//! the OpenAI vector-store objects, the OpenAI attribute-filter grammar and the error envelope.
//!
//! Types only (serde + validator); no web framework, runtime or database.

pub mod filter;
