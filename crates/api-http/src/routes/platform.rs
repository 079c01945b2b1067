//! The platform collection API under `/v1/api`.

use actix_web::{HttpResponse, web};
use models::platform::{
    CollectionData, CollectionDataQuery, CollectionInfo, CollectionList, ContentPart,
    CreateCollection, DeleteByIdsRequest, DeleteCollection, DeleteRequest, DeleteResponse,
    DocumentRow, ExpiresAfter, ExpiryAnchor, IndexResponse, IndexingPayload, SearchRequest,
    SearchResponse, SearchResult,
};
use service::{CollectionRecord, Hit, StoredChunk};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Platform, SurfaceError};
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{Authed, BadInput, Conflict, Endpoint, NotFound, Quota, tags};
use crate::routes::{Caller, Named, NamesCollection};
use crate::startup::AppState;
use service::{CreateCollectionInput, DocumentInput};

type State = web::Data<AppState>;
type Reply = Result<HttpResponse, SurfaceError<Platform>>;

macro_rules! names_collection {
    ($($request:ty),* $(,)?) => {$(
        impl NamesCollection for $request {
            fn collection_name(&self) -> &str {
                &self.collection
            }
            fn backend(&self) -> Option<&str> {
                self.storage_backend.as_deref()
            }
        }
    )*};
}

names_collection!(
    DeleteCollection,
    CollectionDataQuery,
    SearchRequest,
    DeleteRequest,
    DeleteByIdsRequest,
);

pub fn info(r: CollectionRecord) -> CollectionInfo {
    CollectionInfo {
        id: r.id,
        collection: r.collection,
        name: r.name,
        model_name: r.model,
        storage_backend: r.backend,
        dimension: r.dimension,
        metadata: r.metadata,
        expires_after: r.expires_after_days.map(|days| ExpiresAfter {
            anchor: ExpiryAnchor::LastActiveAt,
            days,
        }),
        created_at: r.created_at,
        last_active_at: r.last_active_at,
    }
}

#[utoipa::path(
    get,
    path = "/collection",
    tag = tags::PLATFORM,
    operation_id = "listCollections",
    summary = "List collections",
    responses(
        (status = 200, description = "The caller's collections.", body = CollectionList),
        Authed
    ),
)]
async fn list(state: State, caller: Caller) -> Reply {
    let data = state.vectors().list_collections(&caller.tenant).await?;
    Ok(HttpResponse::Ok().json(CollectionList {
        object: models::wire::object::LIST.into(),
        data: data.into_iter().map(info).collect(),
    }))
}

#[utoipa::path(
    post,
    path = "/collection",
    tag = tags::PLATFORM,
    operation_id = "createCollection",
    summary = "Create a collection",
    description = "A collection by its per-tenant name, on a back-end (`storage_backend`) and \
                   with an embedding model.",
    request_body = CreateCollection,
    responses(
        (status = 200, description = "The collection.", body = CollectionInfo),
        BadInput,
        Conflict,
        Quota,
        Authed
    ),
)]
async fn create(
    state: State,
    caller: Caller,
    ValidJson(body): ValidJson<CreateCollection>,
) -> Reply {
    let record = state
        .vectors()
        .create_collection(&caller.tenant, body.into())
        .await?;
    // 200, as the platform API and OpenAI's create answer (the raw /v2 API keeps 201).
    Ok(HttpResponse::Ok().json(info(record)))
}

/// The same as `POST /collection`, at the path the platform's clients also use.
#[utoipa::path(
    post,
    path = "/collection/create",
    tag = tags::PLATFORM,
    operation_id = "createCollectionAt",
    summary = "Create a collection",
    request_body = CreateCollection,
    responses(
        (status = 200, description = "The collection.", body = CollectionInfo),
        BadInput,
        Conflict,
        Authed
    ),
)]
async fn create_at(state: State, caller: Caller, body: ValidJson<CreateCollection>) -> Reply {
    create(state, caller, body).await
}

#[utoipa::path(
    delete,
    path = "/collection/delete",
    tag = tags::PLATFORM,
    operation_id = "deleteCollection",
    summary = "Delete a collection",
    request_body = DeleteCollection,
    responses(
        (
            status = 200,
            description = "The collection and its documents are gone.",
            body = DeleteResponse
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn delete_collection(
    state: State,
    Named { caller, record, .. }: Named<ValidJson<DeleteCollection>>,
) -> Reply {
    state
        .vectors()
        .delete_collection(&caller.tenant, &record)
        .await?;
    Ok(HttpResponse::Ok().json(DeleteResponse {
        message: format!("collection '{}' deleted", record.collection),
        collection: record.collection,
        deleted: 1,
    }))
}

#[utoipa::path(
    get,
    path = "/collection/data",
    tag = tags::PLATFORM,
    operation_id = "getCollectionData",
    summary = "List a collection's documents",
    params(CollectionDataQuery),
    responses(
        (
            status = 200,
            description = "A page of documents (`limit`, `offset`).",
            body = CollectionData
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn data(
    state: State,
    Named {
        record,
        by: ValidQuery(q),
        ..
    }: Named<ValidQuery<CollectionDataQuery>>,
) -> Reply {
    let limit = q.page_size();
    let offset = q.offset.unwrap_or(0);
    let (rows, total) = state
        .vectors()
        .list_documents(&record, limit as usize, offset as usize)
        .await?;
    Ok(HttpResponse::Ok().json(CollectionData {
        object: models::wire::object::LIST.into(),
        collection: record.collection,
        total,
        limit,
        offset,
        data: rows.into_iter().map(row_view).collect(),
    }))
}

fn row_view(r: StoredChunk) -> DocumentRow {
    DocumentRow {
        id: r.file_id,
        content: r.text,
        metadata: r.attributes,
    }
}

#[utoipa::path(
    post,
    path = "/index",
    tag = tags::PLATFORM,
    operation_id = "indexDocuments",
    summary = "Index documents",
    description = "Embeds and stores documents in a collection, creating the collection first if \
                   it does not exist.",
    request_body = IndexingPayload,
    responses(
        (
            status = 200,
            description = "The documents are embedded and stored.",
            body = IndexResponse
        ),
        BadInput,
        Conflict,
        Quota,
        Authed
    ),
)]
async fn index(state: State, caller: Caller, ValidJson(body): ValidJson<IndexingPayload>) -> Reply {
    let input = CreateCollectionInput {
        collection: body.collection,
        name: body.name,
        model: Some(state.vectors().default_model().to_string()),
        dimension: None,
        metadata: body.metadata.unwrap_or_default(),
        expires_after_days: body.expires_after.map(|e| e.days),
        backend: body.storage_backend,
    };
    let docs: Vec<DocumentInput> = body.documents.iter().map(DocumentInput::from).collect();
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let (record, indexed) = state.vectors().index(&caller.tenant, input, docs).await?;
    Ok(HttpResponse::Ok().json(IndexResponse {
        message: format!("indexed {indexed} documents into '{}'", record.collection),
        collection: record.collection,
        indexed,
        ids,
    }))
}

fn result_view(h: Hit) -> SearchResult {
    SearchResult {
        file_id: h.chunk.file_id,
        filename: h.chunk.filename,
        score: h.score,
        attributes: Some(h.chunk.attributes),
        content: vec![ContentPart::text(h.chunk.text)],
    }
}

#[utoipa::path(
    post,
    path = "/search",
    tag = tags::PLATFORM,
    operation_id = "searchCollection",
    summary = "Search a collection",
    description = "Semantic, full-text or hybrid search (`search_type`), optionally filtered by \
                   metadata.",
    request_body = SearchRequest,
    responses(
        (status = 200, description = "The hits, best first.", body = SearchResponse),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn search(
    state: State,
    Named {
        record,
        by: ValidJson(body),
        ..
    }: Named<ValidJson<SearchRequest>>,
) -> Reply {
    let hits = state.vectors().search(&record, (&body).into()).await?;
    Ok(HttpResponse::Ok().json(SearchResponse {
        object: models::wire::object::SEARCH_RESULTS_PAGE.into(),
        search_query: body.query,
        data: hits.into_iter().map(result_view).collect(),
        has_more: false,
        next_page: None,
    }))
}

#[utoipa::path(
    delete,
    path = "/delete_index",
    tag = tags::PLATFORM,
    operation_id = "deleteIndex",
    summary = "Delete every document of a collection",
    request_body = DeleteRequest,
    responses(
        (status = 200, description = "The collection is empty.", body = DeleteResponse),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn delete_index(
    state: State,
    Named { record, .. }: Named<ValidJson<DeleteRequest>>,
) -> Reply {
    let deleted = state.vectors().delete_all(&record).await?;
    Ok(HttpResponse::Ok().json(DeleteResponse {
        message: format!("deleted every document of '{}'", record.collection),
        collection: record.collection,
        deleted,
    }))
}

#[utoipa::path(
    delete,
    path = "/collection/delete_by_ids",
    tag = tags::PLATFORM,
    operation_id = "deleteDocumentsByIds",
    summary = "Delete documents by id",
    request_body = DeleteByIdsRequest,
    responses(
        (status = 200, description = "The documents named are gone.", body = DeleteResponse),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn delete_by_ids(
    state: State,
    Named {
        record,
        by: ValidJson(body),
        ..
    }: Named<ValidJson<DeleteByIdsRequest>>,
) -> Reply {
    let deleted = state
        .vectors()
        .delete_files(&record, &body.index_ids)
        .await?;
    Ok(HttpResponse::Ok().json(DeleteResponse {
        message: format!("deleted {deleted} documents from '{}'", record.collection),
        collection: record.collection,
        deleted,
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/v1/api")
            .guard(super::no_nul_in_path())
            .configure(super::keys::configure)
            .service(Endpoint::new(__path_list, list).and(__path_create, create))
            .service(Endpoint::new(__path_create_at, create_at))
            .service(Endpoint::new(__path_delete_collection, delete_collection))
            .service(Endpoint::new(__path_data, data))
            .service(Endpoint::new(__path_delete_by_ids, delete_by_ids).large_body())
            .service(Endpoint::new(__path_index, index).large_body())
            .service(Endpoint::new(__path_search, search))
            .service(Endpoint::new(__path_delete_index, delete_index)),
    );
}
