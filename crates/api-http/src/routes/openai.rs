//! The OpenAI Vector Stores API under `/v1/vector_stores`: a vector store is a collection.

use actix_web::{HttpResponse, web};
use models::openai::{
    CreateVectorStore, Deleted, ListPage, ListQuery, SearchHit, SearchResultsPage,
    SearchVectorStore, UpdateVectorStore, VectorStore,
};
use models::platform::{ContentPart, ExpiresAfter, ExpiryAnchor};
use models::wire::object;
use serde_json::{Map, Value};
use service::{CollectionRecord, CollectionUpdate, Hit, PageRequest};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{Authed, BadInput, Endpoint, NotFound, Quota, tags};
use crate::routes::{Caller, StoreId, VectorStorePath, page_order};
use crate::startup::AppState;
use service::{SearchInput, SearchQueries, StoreState};

type State = web::Data<AppState>;

/// Metadata as OpenAI's schema has it, strings only: a value stored otherwise (before every
/// surface took strings only) is shown as its JSON text.
fn string_values(metadata: Map<String, Value>) -> Map<String, Value> {
    metadata
        .into_iter()
        .map(|(k, v)| match v {
            Value::String(_) => (k, v),
            other @ (Value::Null
            | Value::Bool(_)
            | Value::Number(_)
            | Value::Array(_)
            | Value::Object(_)) => (k, Value::String(other.to_string())),
        })
        .collect()
}

async fn view(state: &AppState, r: CollectionRecord) -> Result<VectorStore, ApiError> {
    let store_state = state.ingest().store_state(&r).await?;
    Ok(view_of(r, store_state))
}

fn view_of(r: CollectionRecord, store_state: StoreState) -> VectorStore {
    let expires_at = r.expires_at();
    let StoreState {
        usage_bytes,
        counts,
        status,
    } = store_state;
    VectorStore {
        object: object::VECTOR_STORE.into(),
        created_at: r.created_at,
        name: r.name.unwrap_or_default(),
        usage_bytes,
        file_counts: crate::routes::vector_store_files::counts_view(counts),
        status,
        last_active_at: Some(r.last_active_at),
        metadata: Some(string_values(r.metadata)),
        expires_after: r.expires_after_days.map(|days| ExpiresAfter {
            anchor: ExpiryAnchor::LastActiveAt,
            days,
        }),
        expires_at,
        id: r.id,
    }
}

#[utoipa::path(
    post,
    path = "",
    tag = tags::VECTOR_STORES,
    operation_id = "createVectorStore",
    summary = "Create a vector store",
    description = "Creates a vector store, optionally with files to ingest (`file_ids`) and how \
                   to chunk them. The files are attached before the store is returned; their \
                   ingestion runs in the background.",
    request_body = CreateVectorStore,
    responses(
        (status = 200, description = "The vector store.", body = VectorStore),
        BadInput,
        NotFound,
        Quota,
        Authed
    ),
)]
async fn create(
    state: State,
    caller: Caller,
    ValidJson(body): ValidJson<CreateVectorStore>,
) -> Result<HttpResponse, ApiError> {
    let record = state
        .ingest()
        .create_store(&caller.tenant, body.into())
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, record).await?))
}

#[utoipa::path(
    get,
    path = "",
    tag = tags::VECTOR_STORES,
    operation_id = "listVectorStores",
    summary = "List vector stores",
    description = "The caller's vector stores, a cursor page at a time (`after`, `before`), \
                   newest first unless `order=asc`.",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of vector stores.", body = ListPage<VectorStore>),
        BadInput,
        Authed
    ),
)]
async fn list(
    state: State,
    caller: Caller,
    ValidQuery(q): ValidQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = PageRequest {
        limit: q.page_size() as usize,
        order: page_order(q.order),
        after: q.after,
        before: q.before,
    };
    let (records, has_more) = state
        .vectors()
        .page_collections(&caller.tenant, page)
        .await?;
    // The page's usage and file counts, as the catalog keeps them: one look-up for the page.
    let states = state.ingest().store_states(&records).await?;
    let data: Vec<VectorStore> = records
        .into_iter()
        .zip(states)
        .map(|(r, s)| view_of(r, s))
        .collect();
    Ok(HttpResponse::Ok().json(ListPage::new(data, has_more, |x| &x.id)))
}

#[utoipa::path(
    get,
    path = "/{id}",
    tag = tags::VECTOR_STORES,
    operation_id = "getVectorStore",
    summary = "Retrieve a vector store",
    params(StoreId),
    responses(
        (status = 200, description = "The vector store.", body = VectorStore),
        NotFound,
        Authed
    ),
)]
async fn retrieve(
    state: State,
    VectorStorePath {
        caller: _turn,
        store: record,
    }: VectorStorePath,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(view(&state, record).await?))
}

#[utoipa::path(
    post,
    path = "/{id}",
    tag = tags::VECTOR_STORES,
    operation_id = "modifyVectorStore",
    summary = "Modify a vector store",
    description = "Changes the name, metadata or expiry; a field left out is kept, `null` \
                   metadata or expiry clears it.",
    params(StoreId),
    request_body = UpdateVectorStore,
    responses(
        (status = 200, description = "The vector store as modified.", body = VectorStore),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn update(
    state: State,
    VectorStorePath {
        caller,
        store: record,
    }: VectorStorePath,
    ValidJson(body): ValidJson<UpdateVectorStore>,
) -> Result<HttpResponse, ApiError> {
    let update = CollectionUpdate {
        name: body.name,
        // `null` metadata clears it.
        metadata: body.metadata.map(Option::unwrap_or_default),
        expires_after_days: body.expires_after.map(|e| e.map(|e| e.days)),
    };
    let record = state
        .vectors()
        .update_collection(&caller.tenant, &record, update)
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, record).await?))
}

#[utoipa::path(
    delete,
    path = "/{id}",
    tag = tags::VECTOR_STORES,
    operation_id = "deleteVectorStore",
    summary = "Delete a vector store",
    description = "Deletes the store and its chunks; the files it had stay in `/v1/files`.",
    params(StoreId),
    responses((status = 200, description = "The store is gone.", body = Deleted), NotFound, Authed),
)]
async fn delete(
    state: State,
    VectorStorePath {
        caller,
        store: record,
    }: VectorStorePath,
) -> Result<HttpResponse, ApiError> {
    state
        .vectors()
        .delete_collection(&caller.tenant, &record)
        .await?;
    Ok(HttpResponse::Ok().json(Deleted::new(record.id, object::VECTOR_STORE_DELETED)))
}

fn hit_view(h: Hit) -> SearchHit {
    SearchHit {
        filename: h.chunk.filename.unwrap_or_else(|| h.chunk.file_id.clone()),
        file_id: h.chunk.file_id,
        score: h.score,
        attributes: h.chunk.attributes,
        content: vec![ContentPart::text(h.chunk.text)],
    }
}

#[utoipa::path(
    post,
    path = "/{id}/search",
    tag = tags::VECTOR_STORES,
    operation_id = "searchVectorStore",
    summary = "Search a vector store",
    description = "The chunks most relevant to the query (one text or several), optionally \
                   filtered by attributes, at most `max_num_results`.",
    params(StoreId),
    request_body = SearchVectorStore,
    responses(
        (status = 200, description = "The hits, best first.", body = SearchResultsPage),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn search(
    state: State,
    VectorStorePath {
        caller: _turn,
        store: record,
    }: VectorStorePath,
    ValidJson(body): ValidJson<SearchVectorStore>,
) -> Result<HttpResponse, ApiError> {
    let queries: SearchQueries = match body.rewrite_query {
        Some(true) => {
            (state.vectors())
                .rewrite_queries(body.query.texts(), std::slice::from_ref(&record))
                .await?
        }
        _ => body.query.texts().into(),
    };
    let search_query = queries.texts().to_vec();
    let template = SearchInput::from(&body);
    let hits = state
        .vectors()
        .search_many(&record, queries, template)
        .await?;
    Ok(HttpResponse::Ok().json(SearchResultsPage {
        object: object::SEARCH_RESULTS_PAGE.into(),
        search_query,
        data: hits.into_iter().map(hit_view).collect(),
        has_more: false,
        next_page: None,
    }))
}

/// Routes under the `/v1/vector_stores` scope, which [`super::vector_store_files`] shares.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(Endpoint::new(__path_list, list).and(__path_create, create))
        .service(
            Endpoint::new(__path_retrieve, retrieve)
                .and(__path_update, update)
                .and(__path_delete, delete),
        )
        .service(Endpoint::new(__path_search, search));
}
