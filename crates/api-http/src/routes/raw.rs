//! The raw `/v2` API for power users: explicit dimensions, caller-supplied vectors, and search by
//! vector or text in `vector`, `keyword` or `hybrid` mode.

use actix_web::{HttpResponse, web};
use models::openai::Deleted;
use models::raw::{
    CreateRawCollection, DeleteDocuments, DeleteDocumentsResponse, PageQuery, RawCollection,
    RawCollectionList, RawDocumentPage, RawDocumentRow, RawHit, RawSearch, RawSearchResponse,
    UpsertDocuments, UpsertResponse,
};
use models::wire::object;
use service::{CollectionRecord, Hit, StoredChunk};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Raw, SurfaceError};
use crate::extract::{ValidJson, ValidQuery};
use crate::openapi::{Authed, BadInput, Conflict, Endpoint, NotFound, Quota, tags};
use crate::routes::{Caller, Named};
use crate::startup::AppState;
use service::DocumentInput;

type State = web::Data<AppState>;
type Reply = Result<HttpResponse, SurfaceError<Raw>>;

fn view(r: CollectionRecord) -> RawCollection {
    RawCollection {
        id: r.id,
        object: object::COLLECTION.into(),
        collection: r.collection,
        name: r.name,
        model: r.model,
        dimension: r.dimension,
        storage_backend: r.backend,
        metadata: r.metadata,
        created_at: r.created_at,
        last_active_at: r.last_active_at,
    }
}

#[utoipa::path(
    post,
    path = "",
    tag = tags::RAW,
    operation_id = "createRawCollection",
    summary = "Create a collection",
    description = "A collection with an explicit `dimension`, for caller-supplied vectors, or a \
                   `model` to embed texts with.",
    request_body = CreateRawCollection,
    responses(
        (status = 201, description = "The collection.", body = RawCollection),
        BadInput,
        Conflict,
        Quota,
        Authed
    ),
)]
async fn create(
    state: State,
    caller: Caller,
    ValidJson(body): ValidJson<CreateRawCollection>,
) -> Reply {
    let record = state
        .vectors()
        .create_collection(&caller.tenant, body.into())
        .await?;
    Ok(HttpResponse::Created().json(view(record)))
}

#[utoipa::path(
    get,
    path = "",
    tag = tags::RAW,
    operation_id = "listRawCollections",
    summary = "List collections",
    responses(
        (status = 200, description = "The caller's collections.", body = RawCollectionList),
        Authed
    ),
)]
async fn list(state: State, caller: Caller) -> Reply {
    let data = state.vectors().list_collections(&caller.tenant).await?;
    Ok(HttpResponse::Ok().json(RawCollectionList {
        object: object::LIST.into(),
        data: data.into_iter().map(view).collect(),
    }))
}

/// The caller's collection a raw path names.
type PathCollection = Named<web::Path<String>>;
/// The caller's collection a raw path names, and the body or query string of the request.
type PathAnd<T> = Named<(web::Path<String>, T)>;

#[utoipa::path(
    get,
    path = "/{collection}",
    tag = tags::RAW,
    operation_id = "getRawCollection",
    summary = "Retrieve a collection",
    params(("collection" = String, Path, description = "The collection's name.")),
    responses(
        (status = 200, description = "The collection.", body = RawCollection),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn get(Named { record, .. }: PathCollection) -> Reply {
    Ok(HttpResponse::Ok().json(view(record)))
}

#[utoipa::path(
    delete,
    path = "/{collection}",
    tag = tags::RAW,
    operation_id = "deleteRawCollection",
    summary = "Delete a collection",
    params(("collection" = String, Path, description = "The collection's name.")),
    responses(
        (status = 200, description = "The collection and its documents are gone.", body = Deleted),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn delete(state: State, Named { caller, record, .. }: PathCollection) -> Reply {
    state
        .vectors()
        .delete_collection(&caller.tenant, &record)
        .await?;
    Ok(HttpResponse::Ok().json(Deleted::new(record.id, object::COLLECTION_DELETED)))
}

#[utoipa::path(
    post,
    path = "/{collection}/documents",
    tag = tags::RAW,
    operation_id = "upsertRawDocuments",
    summary = "Upsert documents",
    description = "Documents with a `vector` of the collection's dimension, or a `text` the \
                   collection's model embeds.",
    params(("collection" = String, Path, description = "The collection's name.")),
    request_body = UpsertDocuments,
    responses(
        (
            status = 200,
            description = "The documents are stored (replacing those with the same ids).",
            body = UpsertResponse
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn upsert(
    state: State,
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<UpsertDocuments>>,
) -> Reply {
    let docs = body
        .documents
        .into_iter()
        .map(DocumentInput::from)
        .collect();
    let upserted = state.vectors().upsert(&record, docs).await?;
    Ok(HttpResponse::Ok().json(UpsertResponse {
        object: object::UPSERT_RESULT.into(),
        upserted,
    }))
}

#[utoipa::path(
    get,
    path = "/{collection}/documents",
    tag = tags::RAW,
    operation_id = "listRawDocuments",
    summary = "List documents",
    params(("collection" = String, Path, description = "The collection's name."), PageQuery),
    responses(
        (
            status = 200,
            description = "A page of documents (`limit`, `offset`).",
            body = RawDocumentPage
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn documents(
    state: State,
    Named {
        record,
        by: (_, ValidQuery(q)),
        ..
    }: PathAnd<ValidQuery<PageQuery>>,
) -> Reply {
    let (rows, total) = state
        .vectors()
        .list_documents(
            &record,
            q.page_size() as usize,
            q.offset.unwrap_or(0) as usize,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RawDocumentPage {
        object: object::LIST.into(),
        total,
        data: rows.into_iter().map(row_view).collect(),
    }))
}

fn row_view(r: StoredChunk) -> RawDocumentRow {
    RawDocumentRow {
        id: r.id,
        file_id: r.file_id,
        text: r.text,
        attributes: r.attributes,
    }
}

#[utoipa::path(
    post,
    path = "/{collection}/documents/delete",
    tag = tags::RAW,
    operation_id = "deleteRawDocuments",
    summary = "Delete documents by id",
    params(("collection" = String, Path, description = "The collection's name.")),
    request_body = DeleteDocuments,
    responses(
        (
            status = 200,
            description = "The documents named are gone.",
            body = DeleteDocumentsResponse
        ),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn delete_documents(
    state: State,
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<DeleteDocuments>>,
) -> Reply {
    let deleted = state.vectors().delete_files(&record, &body.ids).await?;
    Ok(HttpResponse::Ok().json(DeleteDocumentsResponse {
        object: object::DELETE_RESULT.into(),
        deleted,
    }))
}

fn hit_view(h: Hit) -> RawHit {
    RawHit {
        id: h.chunk.id,
        file_id: h.chunk.file_id,
        score: h.score,
        text: h.chunk.text,
        attributes: h.chunk.attributes,
    }
}

#[utoipa::path(
    post,
    path = "/{collection}/search",
    tag = tags::RAW,
    operation_id = "searchRawCollection",
    summary = "Search a collection",
    description = "By `vector` or `text`, in `vector`, `keyword` or `hybrid` mode, optionally \
                   filtered.",
    params(("collection" = String, Path, description = "The collection's name.")),
    request_body = RawSearch,
    responses(
        (status = 200, description = "The `k` best hits.", body = RawSearchResponse),
        BadInput,
        NotFound,
        Authed
    ),
)]
async fn search(
    state: State,
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<RawSearch>>,
) -> Reply {
    let hits = state.vectors().search(&record, body.into()).await?;
    Ok(HttpResponse::Ok().json(RawSearchResponse {
        object: object::LIST.into(),
        data: hits.into_iter().map(hit_view).collect(),
    }))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(
        utoipa_actix_web::scope("/v2/collections")
            .guard(super::no_nul_in_path())
            .service(Endpoint::new(__path_list, list).and(__path_create, create))
            .service(Endpoint::new(__path_get, get).and(__path_delete, delete))
            .service(
                Endpoint::new(__path_documents, documents)
                    .and(__path_upsert, upsert)
                    .large_body(),
            )
            .service(Endpoint::new(__path_delete_documents, delete_documents).large_body())
            .service(Endpoint::new(__path_search, search)),
    );
}
