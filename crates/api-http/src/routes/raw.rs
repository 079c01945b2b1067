//! The raw `/v2` API for power users: explicit dimensions, caller-supplied vectors, and search by
//! vector or text in `vector`, `keyword` or `hybrid` mode.

use actix_web::{HttpResponse, web};
use models::raw::{
    CreateRawCollection, DeleteDocuments, DeleteDocumentsResponse, PageQuery, RawCollection,
    RawCollectionList, RawDocumentPage, RawDocumentRow, RawHit, RawSearch, RawSearchResponse,
    UpsertDocuments, UpsertResponse,
};
use store_core::{CollectionRecord, Hit, StoredChunk};

use crate::error::{Raw, SurfaceError};
use crate::extract::{ValidJson, ValidQuery};
use crate::routes::{Caller, Named};
use crate::startup::AppState;
use service::{DocumentInput, SearchInput};

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
    let record = state
        .service
        .create_collection(&caller.0, body.into())
        .await?;
    Ok(HttpResponse::Created().json(view(record)))
}

async fn list(state: State, caller: Caller) -> Reply {
    let data = state.service.list_collections(&caller.0).await?;
    Ok(HttpResponse::Ok().json(RawCollectionList {
        object: "list".into(),
        data: data.into_iter().map(view).collect(),
    }))
}

/// The caller's collection a raw path names.
type PathCollection = Named<web::Path<String>>;
/// The caller's collection a raw path names, and the body or query string of the request.
type PathAnd<T> = Named<(web::Path<String>, T)>;

async fn get(Named { record, .. }: PathCollection) -> Reply {
    Ok(HttpResponse::Ok().json(view(record)))
}

async fn delete(state: State, Named { caller, record, .. }: PathCollection) -> Reply {
    state.service.delete_collection(&caller.0, &record).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": record.id, "object": "collection.deleted", "deleted": true
    })))
}

fn document_input(d: models::raw::RawDocument) -> DocumentInput {
    DocumentInput {
        file_id: d.id.clone(),
        id: d.id,
        filename: None,
        chunk_index: 0,
        text: d.text,
        vector: d.vector,
        attributes: d.attributes.unwrap_or_default(),
    }
}

async fn upsert(
    state: State,
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<UpsertDocuments>>,
) -> Reply {
    let docs = body.documents.into_iter().map(document_input).collect();
    let upserted = state.service.upsert(&record, docs).await?;
    Ok(HttpResponse::Ok().json(UpsertResponse {
        object: "upsert.result".into(),
        upserted,
    }))
}

async fn documents(
    state: State,
    Named {
        record,
        by: (_, ValidQuery(q)),
        ..
    }: PathAnd<ValidQuery<PageQuery>>,
) -> Reply {
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

async fn delete_documents(
    state: State,
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<DeleteDocuments>>,
) -> Reply {
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
    Named {
        record,
        by: (_, ValidJson(body)),
        ..
    }: PathAnd<ValidJson<RawSearch>>,
) -> Reply {
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
