//! [`VectorStoreMcp`]: the MCP server's tools, each a call of the service layer within the
//! caller's tenant. A tool that fails answers a tool error (`isError: true`) with the message
//! the HTTP API would send; arguments that do not fit the tool's schema are one too.

use std::collections::HashSet;

use http::request::Parts;
use models::openai::SearchVectorStore;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::{Extension, ToolCallContext};
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ErrorCode,
    Implementation, ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool, tool_router};
use serde_json::{Map, Value};
use service::{
    CollectionRecord, IngestService, MAX_SEARCHED_STORES, PageOrder, PageRequest, SearchInput,
    SearchQueries, VectorService,
};
use service::{ServiceError, Tenant};

use crate::McpCaller;
use crate::args::{
    FetchArgs, FetchedDocument, FileContent, FileContentArgs, ListStoresArgs, QueryArg, SearchArgs,
    SearchResult, SearchResults, SearchStoreArgs, StoreHit, StoreHits, StoreList, StoreSummary,
    body, nul_at,
};
use crate::documents::cut_chars;
use crate::handle;

/// The tools' names, the only values of the `tool` label of the metrics.
pub const TOOLS: &[&str] = &[
    "search",
    "fetch",
    "list_vector_stores",
    "search_vector_store",
    "get_file_content",
    "create_vector_store",
    "upload_text",
];

/// The most files `search` gives.
const SEARCH_RESULTS: usize = 10;
/// The most chunks `search` ranks to find them (the most a vector-store search gives).
const SEARCH_CHUNKS: usize = 50;
/// The counter of tool calls, by tool and outcome (`ok`, `error`).
pub const CALLS: &str = "vector_store_mcp_tool_calls_total";

/// Describes this crate's metrics to the recorder that renders them.
pub fn describe_metrics() {
    metrics::describe_counter!(
        CALLS,
        "MCP tool calls answered, by tool and outcome (ok, error)."
    );
}

/// The MCP server: its tools over the service layer.
#[derive(Debug, Clone)]
pub struct VectorStoreMcp {
    pub(crate) ingest: IngestService,
    router: ToolRouter<Self>,
}

/// The message a caller gets for `e`: the HTTP API's, and a generic one for the server's own
/// faults (whose cause is logged, never sent).
pub(crate) fn message(e: ServiceError) -> String {
    if !e.is_server_fault() {
        return e.to_string();
    }
    let error = service::error_chain(&e);
    if let ServiceError::Unavailable { .. } = e {
        tracing::warn!(%error, "an MCP tool found a back-end down");
        "A storage or embedding back-end is unavailable; please try again shortly.".into()
    } else {
        tracing::error!(%error, "an MCP tool failed");
        "The server had an error while processing your request.".into()
    }
}

/// The caller that whoever mounted `/mcp` put in the request.
pub(crate) fn caller(parts: &Parts) -> Result<&McpCaller, String> {
    parts.extensions.get::<McpCaller>().ok_or_else(|| {
        tracing::error!("an MCP request without its caller");
        "The server had an error while processing your request.".to_string()
    })
}

fn file_url(caller: &McpCaller, store: &str, file: &str) -> String {
    format!("{}/files/{file}/content", store_url(caller, store))
}

fn store_url(caller: &McpCaller, store: &str) -> String {
    format!("{}/v1/vector_stores/{store}", caller.base_url)
}

#[tool_router]
impl VectorStoreMcp {
    /// The server over `ingest`; with `allow_writes`, the tools that write are listed too.
    pub fn new(ingest: IngestService, allow_writes: bool) -> Self {
        let mut router = Self::tool_router();
        if allow_writes {
            router += Self::write_router();
        }
        Self { ingest, router }
    }

    /// The stores `search` reaches: those `?vector_store_ids=` names (each must be the
    /// caller's), or else the stores of the caller's that a text search can run on, the
    /// [`MAX_SEARCHED_STORES`] most recently active of them.
    async fn searched_stores(&self, caller: &McpCaller) -> Result<Vec<CollectionRecord>, String> {
        let vectors = self.ingest.vectors();
        let Some(ids) = &caller.stores else {
            let all = vectors
                .list_collections(&caller.tenant)
                .await
                .map_err(message)?;
            let mut all: Vec<_> = all
                .into_iter()
                .filter(|r| vectors.text_searchable(r))
                .collect();
            all.sort_by(|a, b| (b.last_active_at, &b.id).cmp(&(a.last_active_at, &a.id)));
            all.truncate(MAX_SEARCHED_STORES);
            return Ok(all);
        };
        self.stores(&caller.tenant, ids).await
    }

    /// The caller's stores of `ids`, each once; an id that is not the caller's is not found.
    async fn stores(
        &self,
        tenant: &Tenant,
        ids: &[String],
    ) -> Result<Vec<CollectionRecord>, String> {
        let distinct: HashSet<&String> = ids.iter().collect();
        VectorService::check_searched_stores(distinct.len()).map_err(message)?;
        let mut stores: Vec<CollectionRecord> = Vec::new();
        for id in ids {
            if !stores.iter().any(|s| &s.id == id) {
                stores.push(self.store(tenant, id).await?);
            }
        }
        Ok(stores)
    }

    pub(crate) async fn store(
        &self,
        tenant: &Tenant,
        id: &str,
    ) -> Result<CollectionRecord, String> {
        self.ingest
            .vectors()
            .collection_by_id(tenant, id)
            .await
            .map_err(message)
    }

    #[tool(
        description = "Search the caller's vector stores for files relevant to a query. Returns \
                       {results: [{id, title, url}]}, most relevant first; pass an id to fetch.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchArgs>,
    ) -> Result<Json<SearchResults>, String> {
        let caller = caller(&parts)?;
        let template = SearchInput {
            k: SEARCH_CHUNKS,
            ..SearchInput::from(&SearchVectorStore::new(args.query.as_str()))
        };
        let stores = self.searched_stores(caller).await?;
        let hits = self
            .ingest
            .vectors()
            .search_stores(&stores, vec![args.query.clone()], template)
            .await
            .map_err(message)?;
        let mut seen = HashSet::new();
        let results = hits
            .into_iter()
            .filter(|(store, h)| seen.insert((store.clone(), h.chunk.file_id.clone())))
            .take(SEARCH_RESULTS)
            .map(|(store, h)| SearchResult {
                id: handle::encode(&store, &h.chunk.file_id),
                // Only a file's chunks have a name; a document indexed without one has its
                // store's url.
                url: match &h.chunk.filename {
                    Some(_) => file_url(caller, &store, &h.chunk.file_id),
                    None => store_url(caller, &store),
                },
                title: h.chunk.filename.unwrap_or(h.chunk.file_id),
            })
            .collect();
        Ok(Json(SearchResults { results }))
    }

    #[tool(
        description = "The full text of one file that search found, by its id. Returns \
                       {id, title, text, url, metadata}.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn fetch(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<FetchArgs>,
    ) -> Result<Json<FetchedDocument>, String> {
        let caller = caller(&parts)?;
        let not_found = || format!("no document with id '{}'", args.id);
        let (store_id, file_id) = handle::decode(&args.id).ok_or_else(not_found)?;
        if caller
            .stores
            .as_ref()
            .is_some_and(|ids| !ids.iter().any(|s| s == store_id))
        {
            return Err(not_found());
        }
        let store = self.store(&caller.tenant, store_id).await?;
        let attached = match self.ingest.attached(&caller.tenant, &store, file_id).await {
            Ok(attached) => attached,
            Err(e) if e.is_not_found() => {
                return self.fetch_document(caller, &store, &args.id, file_id).await;
            }
            Err(e) => return Err(message(e)),
        };
        let file = self
            .ingest
            .files()
            .get(&caller.tenant, file_id)
            .await
            .map_err(message)?;
        let (text, truncated) = self
            .text(&caller.tenant, &store, file_id, None)
            .await
            .map_err(message)?;
        let mut metadata = Map::new();
        metadata.insert("vector_store_id".into(), store.id.clone().into());
        metadata.insert("file_id".into(), file.id.clone().into());
        metadata.insert("attributes".into(), Value::Object(attached.attributes));
        metadata.insert("truncated".into(), truncated.into());
        Ok(Json(FetchedDocument {
            url: file_url(caller, &store.id, &file.id),
            id: args.id,
            title: file.filename,
            text,
            metadata,
        }))
    }

    /// `fetch` of a document indexed without a file (through `/v1/api` or `/v2`); `url` is its
    /// store's.
    async fn fetch_document(
        &self,
        caller: &McpCaller,
        store: &CollectionRecord,
        id: &str,
        document_id: &str,
    ) -> Result<Json<FetchedDocument>, String> {
        let Some(doc) = self
            .document(store, document_id, self.text_budget(None), None)
            .await?
        else {
            return Err(format!("no document with id '{id}'"));
        };
        let mut metadata = Map::new();
        metadata.insert("vector_store_id".into(), store.id.clone().into());
        metadata.insert("document_id".into(), document_id.into());
        metadata.insert("attributes".into(), Value::Object(doc.attributes));
        metadata.insert("truncated".into(), doc.truncated.into());
        Ok(Json(FetchedDocument {
            url: store_url(caller, &store.id),
            id: id.into(),
            title: doc.title,
            text: doc.text,
            metadata,
        }))
    }

    /// The most bytes of text one reply holds, for `max_chars` characters at most. A reply
    /// carries its result twice, as structured content and as the same JSON in a text block,
    /// where every quote and backslash of the first is escaped again: at most three times the
    /// text as JSON, which the page read is cut to.
    fn text_budget(&self, max_chars: Option<u32>) -> usize {
        let limit = self
            .ingest
            .vectors()
            .limits()
            .max_response_bytes
            .saturating_sub(1024)
            / 3;
        // A character is at most 4 bytes, and JSON writes a control character in 6.
        max_chars.map_or(limit, |c| (c as usize).saturating_mul(6).min(limit))
    }

    /// The first page of a file's text, at most `max_chars` characters, and whether there is
    /// more.
    async fn text(
        &self,
        tenant: &Tenant,
        store: &CollectionRecord,
        file_id: &str,
        max_chars: Option<u32>,
    ) -> Result<(String, bool), ServiceError> {
        let (mut text, next) = self
            .ingest
            .content(tenant, store, file_id, 0, self.text_budget(max_chars))
            .await?;
        let truncated = next.is_some() | cut_chars(&mut text, max_chars);
        Ok((text, truncated))
    }

    #[tool(
        description = "The caller's vector stores, newest first, a page at a time (limit 1 to \
                       100, after: the last id of the page before).",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn list_vector_stores(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<ListStoresArgs>,
    ) -> Result<Json<StoreList>, String> {
        let caller = caller(&parts)?;
        let limit = args.limit.unwrap_or(20);
        if !(1..=100).contains(&limit) {
            return Err(format!("limit must be 1 to 100, not {limit}"));
        }
        let page = PageRequest {
            limit: limit as usize,
            order: PageOrder::Desc,
            after: args.after,
            before: None,
        };
        let (records, has_more) = self
            .ingest
            .vectors()
            .page_collections(&caller.tenant, page)
            .await
            .map_err(message)?;
        let data: Vec<StoreSummary> = records
            .into_iter()
            .map(|r| StoreSummary {
                name: r.name.unwrap_or_default(),
                created_at: r.created_at,
                metadata: r.metadata,
                id: r.id,
            })
            .collect();
        let last_id = data.last().map(|s| s.id.clone());
        Ok(Json(StoreList {
            data,
            has_more,
            last_id,
        }))
    }

    #[tool(
        description = "Search one or more vector stores (at most 50) as POST \
                       /v1/vector_stores/{id}/search does: query, max_num_results (1 to 50), \
                       filters, ranking_options, rewrite_query, search_mode. Returns the \
                       matching chunks, best first.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn search_vector_store(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<SearchStoreArgs>,
    ) -> Result<Json<StoreHits>, String> {
        let caller = caller(&parts)?;
        if args.vector_store_ids.is_empty() {
            return Err("vector_store_ids must name at least one vector store".into());
        }
        let body = search_body(&args)?;
        let stores = self.stores(&caller.tenant, &args.vector_store_ids).await?;
        let queries: SearchQueries = match body.rewrite_query {
            Some(true) => (self.ingest.vectors())
                .rewrite_queries(body.query.texts(), &stores)
                .await
                .map_err(message)?,
            _ => body.query.texts().into(),
        };
        let search_query = queries.texts().to_vec();
        let hits = self
            .ingest
            .vectors()
            .search_stores(&stores, queries, SearchInput::from(&body))
            .await
            .map_err(message)?;
        let data = hits
            .into_iter()
            .map(|(store, h)| StoreHit {
                vector_store_id: store,
                filename: h.chunk.filename.unwrap_or_else(|| h.chunk.file_id.clone()),
                file_id: h.chunk.file_id,
                score: h.score,
                attributes: h.chunk.attributes,
                text: h.chunk.text,
            })
            .collect();
        Ok(Json(StoreHits { search_query, data }))
    }

    #[tool(
        description = "The text of one file of a vector store, at most max_chars characters; \
                       truncated tells whether it goes on.",
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    async fn get_file_content(
        &self,
        Extension(parts): Extension<Parts>,
        Parameters(args): Parameters<FileContentArgs>,
    ) -> Result<Json<FileContent>, String> {
        let caller = caller(&parts)?;
        let store = self.store(&caller.tenant, &args.vector_store_id).await?;
        let (text, truncated) = match self
            .text(&caller.tenant, &store, &args.file_id, args.max_chars)
            .await
        {
            Ok(found) => found,
            // A document indexed without a file.
            Err(e) if e.is_not_found() => {
                let budget = self.text_budget(args.max_chars);
                let doc = self
                    .document(&store, &args.file_id, budget, args.max_chars)
                    .await?;
                doc.map(|d| (d.text, d.truncated))
                    .ok_or_else(|| message(e))?
            }
            Err(e) => return Err(message(e)),
        };
        Ok(Json(FileContent {
            vector_store_id: store.id,
            file_id: args.file_id,
            text,
            truncated,
        }))
    }
}

/// The body `POST /v1/vector_stores/{id}/search` would take for `args`, validated as it is.
fn search_body(args: &SearchStoreArgs) -> Result<SearchVectorStore, String> {
    let mut fields = Map::new();
    let query = match &args.query {
        QueryArg::One(q) => Value::from(q.as_str()),
        QueryArg::Many(qs) => Value::from(qs.clone()),
    };
    fields.insert("query".into(), query);
    if let Some(n) = args.max_num_results {
        fields.insert("max_num_results".into(), n.into());
    }
    if let Some(f) = &args.filters {
        fields.insert("filters".into(), Value::Object(f.clone()));
    }
    if let Some(r) = &args.ranking_options {
        fields.insert("ranking_options".into(), Value::Object(r.clone()));
    }
    if let Some(r) = args.rewrite_query {
        fields.insert("rewrite_query".into(), r.into());
    }
    if let Some(m) = &args.search_mode {
        fields.insert("search_mode".into(), m.as_str().into());
    }
    body(fields)
}

impl VectorStoreMcp {
    /// `request` run by its tool; arguments that do not fit the tool's schema are a tool error,
    /// as the specification asks, not a protocol error.
    async fn route(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let known = self.router.has_route(&request.name);
        match self
            .router
            .call(ToolCallContext::new(self, request, context))
            .await
        {
            Err(e) if known && e.code == ErrorCode::INVALID_PARAMS => {
                Ok(CallToolResult::error(vec![ContentBlock::text(e.message)]).into())
            }
            other => other,
        }
    }
}

impl ServerHandler for VectorStoreMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(
                "vector-store-server",
                env!("CARGO_PKG_VERSION"),
            ))
            .with_instructions(
                "The caller's vector stores: search and fetch files, list stores, search them \
                 with filters, read a file's text.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.router.list_all()))
    }

    /// Calls the tool, counted by its outcome; arguments holding a NUL are a tool error before
    /// any tool runs.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let tool = TOOLS
            .iter()
            .copied()
            .find(|t| *t == request.name)
            .unwrap_or("unknown");
        let known = self.router.has_route(&request.name);
        let nul = (request.arguments.as_ref())
            .and_then(nul_at)
            .filter(|_| known);
        let outcome = match nul {
            Some(path) => Ok(CallToolResult::error(vec![ContentBlock::text(format!(
                "{path}: must not contain the NUL character (U+0000)"
            ))])
            .into()),
            None => self.route(request, context).await,
        };
        let ok = matches!(&outcome, Ok(CallToolResponse::Complete(r)) if r.is_error != Some(true));
        metrics::counter!(CALLS, "tool" => tool, "outcome" => if ok { "ok" } else { "error" })
            .increment(1);
        outcome
    }
}
