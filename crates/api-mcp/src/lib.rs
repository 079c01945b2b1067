//! The service's MCP server, mounted at `/mcp` by `api-http`: tools (read-only unless
//! `mcp.allow_writes`) over the `service` crate, spoken by the official Rust SDK (`rmcp`) as
//! MCP over Streamable HTTP.
//!
//! - `tools.rs`: [`VectorStoreMcp`], the tools (`search` and `fetch` of OpenAI's deep-research
//!   contract, `list_vector_stores`, `search_vector_store`, `get_file_content`);
//! - `args.rs`: their arguments and results, with the JSON schemas `tools/list` shows;
//! - `writes.rs`: the tools that write (`create_vector_store`, `upload_text`), listed only with
//!   `mcp.allow_writes`;
//! - `documents.rs`: the text of documents indexed without a file;
//! - `handle.rs`: the opaque id of a store's file that `search` gives and `fetch` takes.
//!
//! [`service`] builds the tower service (over `http` 1.x) that answers one HTTP request of
//! the transport. It keeps no session: every request stands alone and gets a JSON reply, for
//! the `2026-07-28` revision (`server/discover`, per-request `_meta`) and the earlier ones
//! (`initialize`, `notifications/initialized`, `ping`, `tools/list`, `tools/call`).
//!
//! The caller is authenticated, limited and put in flight before a request reaches this
//! crate: whoever mounts it puts an [`McpCaller`] in the request's extensions. No HTTP
//! framework is named here.

mod args;
mod documents;
mod handle;
mod tools;
mod writes;

use std::sync::Arc;

use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde::Deserialize;
use service::{IngestService, Tenant};

pub use tools::{CALLS, TOOLS, VectorStoreMcp, describe_metrics};

/// The `[mcp]` settings; the binary's `config/default.toml` has every default.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct McpSettings {
    /// Whether `/mcp` is served at all.
    pub enabled: bool,
    /// Whether the tools that write (`create_vector_store`, `upload_text`) are listed.
    pub allow_writes: bool,
    /// The `Host` values `/mcp` answers (`name` or `name:port`); empty: any.
    pub allowed_hosts: Vec<String>,
    /// The browser origins `/mcp` answers (`https://app.example:*`); a request with any other
    /// `Origin` is refused with 403. Clients that are no browser send none.
    pub allowed_origins: Vec<String>,
}

impl Default for McpSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            allow_writes: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
        }
    }
}

/// Who is calling, put in the HTTP request's extensions by whoever mounts `/mcp`.
#[derive(Debug, Clone)]
pub struct McpCaller {
    /// The authenticated caller's tenant: every tool works within it.
    pub tenant: Tenant,
    /// The stores `search` and `fetch` reach (`?vector_store_ids=`); `None`: all the tenant's.
    pub stores: Option<Vec<String>>,
    /// Where the service is reached (`http://host:port`), for the `url` of a file.
    pub base_url: String,
}

/// The tower service of `/mcp`.
pub type McpService = StreamableHttpService<VectorStoreMcp, NeverSessionManager>;

/// The tower service that answers `/mcp`, over `ingest` (which holds the vector and file
/// services), stateless, with JSON replies.
pub fn service(ingest: IngestService, settings: &McpSettings) -> McpService {
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .with_sse_retry(None)
        .with_allowed_origins(settings.allowed_origins.clone())
        .enforce_origin_validation();
    config = if settings.allowed_hosts.is_empty() {
        config.disable_allowed_hosts()
    } else {
        config.with_allowed_hosts(settings.allowed_hosts.clone())
    };
    let server = VectorStoreMcp::new(ingest, settings.allow_writes);
    StreamableHttpService::new(
        move || Ok(server.clone()),
        Arc::new(NeverSessionManager::default()),
        config,
    )
}
