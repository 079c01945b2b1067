//! The caller's own API keys under `/v1/api/keys`: list, create (the key shown once) and revoke.
//! A tenant sees and revokes only its own keys; another tenant's key id is a 404.

use actix_web::{HttpResponse, web};
use models::platform::{ApiKey, ApiKeyList, CreatedApiKey, KeysQuery};
use service::ApiKeyRecord;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::{Platform, SurfaceError};
use crate::extract::ValidQuery;
use crate::openapi::{Authed, BadInput, Endpoint, NotFound, Quota, tags};
use crate::routes::Caller;
use crate::startup::AppState;

type State = web::Data<AppState>;
type Reply = Result<HttpResponse, SurfaceError<Platform>>;

fn view(r: ApiKeyRecord) -> ApiKey {
    ApiKey {
        id: r.id,
        object: models::wire::object::API_KEY.into(),
        prefix: r.prefix,
        created_at: r.created_at,
        revoked_at: r.revoked_at,
    }
}

#[utoipa::path(
    get,
    path = "/keys",
    tag = tags::KEYS,
    operation_id = "listApiKeys",
    summary = "List the caller's API keys",
    description = "The keys of the caller's tenant, active and revoked, oldest first, a page at a \
                   time (`limit`, `after`); never the keys themselves.",
    params(KeysQuery),
    responses(
        (status = 200, description = "A page of the tenant's keys.", body = ApiKeyList),
        BadInput,
        Authed
    ),
)]
async fn list(state: State, caller: Caller, ValidQuery(q): ValidQuery<KeysQuery>) -> Reply {
    let limit = q.page_size() as usize;
    let (keys, has_more) = state.auth().keys_of(&caller.tenant, limit, q.after).await?;
    Ok(HttpResponse::Ok().json(ApiKeyList {
        object: models::wire::object::LIST.into(),
        data: keys.into_iter().map(view).collect(),
        has_more,
    }))
}

#[utoipa::path(
    post,
    path = "/keys",
    tag = tags::KEYS,
    operation_id = "createApiKey",
    summary = "Create an API key",
    description = "A new key for the caller's tenant. The answer holds the key itself, this once: \
                   it is stored hashed.",
    responses((status = 200, description = "The new key.", body = CreatedApiKey), Quota, Authed),
)]
async fn create(state: State, caller: Caller) -> Reply {
    let (record, key) = state.auth().create_key_for(&caller.tenant).await?;
    tracing::info!(key_id = %record.id, "API key created");
    Ok(HttpResponse::Ok().json(CreatedApiKey {
        record: view(record),
        key,
    }))
}

#[utoipa::path(
    delete,
    path = "/keys/{id}",
    tag = tags::KEYS,
    operation_id = "revokeApiKey",
    summary = "Revoke an API key",
    description = "Revokes one of the caller's active keys (the caller's own included). It stops \
                   working at once on this instance and within `auth.key_cache_ttl_secs` on the \
                   others.",
    params(("id" = String, Path, description = "The key's id (`key_…`).")),
    responses((status = 200, description = "The key, revoked.", body = ApiKey), NotFound, Authed),
)]
async fn revoke(state: State, caller: Caller, id: web::Path<String>) -> Reply {
    let record = state.auth().revoke_key_of(&caller.tenant, &id).await?;
    tracing::info!(key_id = %record.id, "API key revoked");
    Ok(HttpResponse::Ok().json(view(record)))
}

/// The routes, inside the platform's `/v1/api` scope.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(Endpoint::new(__path_list, list).and(__path_create, create))
        .service(Endpoint::new(__path_revoke, revoke));
}
