//! The raw `/v2` API for power users: explicit dimensions, caller-supplied vectors, and search by
//! vector or text in `vector`, `keyword` or `hybrid` mode.

use actix_web::{HttpResponse, web};
use models::raw::{
    CreateRawCollection, DeleteDocuments, DeleteDocumentsResponse, PageQuery, RawCollection,
    RawCollectionList, RawDocumentPage, RawDocumentRow, RawHit, RawSearch, RawSearchResponse,
    UpsertDocuments, UpsertResponse,
};
use store_core::{CollectionRecord, Hit};

use crate::error::{Raw, SurfaceError};
use crate::extract::{ValidJson, ValidQuery};
use crate::routes::Caller;
use crate::startup::AppState;
use service::{CreateCollectionInput, DocumentInput, SearchInput};

type State = web::Data<AppState>;
type Reply = Result<HttpResponse, SurfaceError<Raw>>;

fn view(r: CollectionRecord) -> RawCollection {
    RawCollection {
        id: r.id,
        object: "collection".into(),
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

async fn create(
    state: State,
    caller: Caller,
    ValidJson(body): ValidJson<CreateRawCollection>,
) -> Reply {
    let input = CreateCollectionInput {
        collection: body.collection,
        name: body.name,
        model: body.model,
        dimension: body.dimension,
        metadata: body.metadata.unwrap_or_default(),
        expires_after_days: None,
        backend: body.storage_backend,
    };
    let record = state.service.create_collection(&caller.0, input).await?;
    Ok(HttpResponse::Created().json(view(record)))
}

async fn list(state: State, caller: Caller) -> Reply {
    let data = state.service.list_collections(&caller.0).await?;
    Ok(HttpResponse::Ok().json(RawCollectionList {
        object: "list".into(),
        data: data.into_iter().map(view).collect(),
    }))
}

async fn get(state: State, caller: Caller, name: web::Path<String>) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    Ok(HttpResponse::Ok().json(view(record)))
}

async fn delete(state: State, caller: Caller, name: web::Path<String>) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    state.service.delete_collection(&caller.0, &record).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": record.id, "object": "collection.deleted", "deleted": true
    })))
}

async fn upsert(
    state: State,
    caller: Caller,
    name: web::Path<String>,
    ValidJson(body): ValidJson<UpsertDocuments>,
) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    let docs = body
        .documents
        .into_iter()
        .map(|d| DocumentInput {
            file_id: d.id.clone(),
            id: d.id,
            filename: None,
            chunk_index: 0,
            text: d.text,
            vector: d.vector,
            attributes: d.attributes.unwrap_or_default(),
        })
        .collect();
    let upserted = state.service.upsert(&record, docs).await?;
    Ok(HttpResponse::Ok().json(UpsertResponse {
        object: "upsert.result".into(),
        upserted,
    }))
}

async fn documents(
    state: State,
    caller: Caller,
    name: web::Path<String>,
    ValidQuery(q): ValidQuery<PageQuery>,
) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    let (rows, total) = state
        .service
        .list_documents(
            &record,
            q.limit.unwrap_or(100) as usize,
            q.offset.unwrap_or(0) as usize,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RawDocumentPage {
        object: "list".into(),
        total,
        data: rows
            .into_iter()
            .map(|r| RawDocumentRow {
                id: r.id,
                file_id: r.file_id,
                text: r.text,
                attributes: r.attributes,
            })
            .collect(),
    }))
}

async fn delete_documents(
    state: State,
    caller: Caller,
    name: web::Path<String>,
    ValidJson(body): ValidJson<DeleteDocuments>,
) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    let deleted = state.service.delete_files(&record, &body.ids).await?;
    Ok(HttpResponse::Ok().json(DeleteDocumentsResponse {
        object: "delete.result".into(),
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

async fn search(
    state: State,
    caller: Caller,
    name: web::Path<String>,
    ValidJson(body): ValidJson<RawSearch>,
) -> Reply {
    let record = state.service.collection(&caller.0, &name, None).await?;
    let input = SearchInput {
        mode: body.mode,
        text: body.text,
        vector: body.vector,
        filter: body.filter,
        k: body.k as usize,
        score_threshold: body.score_threshold,
        weights: body.hybrid.map(|h| (h.vector_weight, h.keyword_weight)),
    };
    let hits = state.service.search(&record, input).await?;
    Ok(HttpResponse::Ok().json(RawSearchResponse {
        object: "list".into(),
        data: hits.into_iter().map(hit_view).collect(),
    }))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v2/collections")
            .service(
                web::resource("")
                    .route(web::get().to(list))
                    .route(web::post().to(create)),
            )
            .service(
                web::resource("/{collection}")
                    .route(web::get().to(get))
                    .route(web::delete().to(delete)),
            )
            .service(
                web::resource("/{collection}/documents")
                    .route(web::get().to(documents))
                    .route(web::post().to(upsert)),
            )
            .service(
                web::resource("/{collection}/documents/delete")
                    .route(web::post().to(delete_documents)),
            )
            .service(web::resource("/{collection}/search").route(web::post().to(search))),
    );
}
