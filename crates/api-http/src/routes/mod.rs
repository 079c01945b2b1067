//! The HTTP skins over the service layer. Each module exports `configure`.

pub mod embeddings;
pub mod files;
pub mod health;
pub mod keys;
pub mod openai;
pub mod platform;
pub mod raw;
pub mod uploads;
pub mod vector_store_files;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::Deserialize;
use service::{CollectionRecord, Tenant};
use utoipa::IntoParams;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::extract::{ValidJson, ValidQuery};
use crate::startup::AppState;
use service::{InFlight, RateLimits, Turn};

/// The authenticated caller, within its tenant's rate limit. The key arrives as
/// `Authorization: Bearer <key>` or `x-base-api-key: <key>`.
///
/// Authentication comes first, so a request with a bad key is 401 and never reaches the limiter;
/// then one request is taken from the tenant's bucket ([`RateLimits`]), and a request over the
/// limit is 429. Last, the request takes one of its tenant's turns in flight ([`InFlight`]),
/// held until the handler is done. Routes without a `Caller` (`/health`, `/ready`) are never
/// limited.
#[derive(Debug, Clone)]
pub struct Caller {
    pub tenant: Tenant,
    /// The request's turn in flight, given back when the request is done.
    _turn: Option<Arc<Turn>>,
}

/// Whether a request was admitted (its [`Caller`] authenticated, within its limits and in
/// flight), for the extractors that must not read a body before that. A handler's extractors
/// run side by side, so without it a body would be read and parsed while its request still
/// waits for its turn. Set by `Caller`'s extraction, which comes first in every handler.
#[derive(Clone)]
pub struct Admission(tokio::sync::watch::Receiver<Option<bool>>);

impl Admission {
    /// The admission of `req`, when a [`Caller`] is being extracted for it.
    pub fn of(req: &HttpRequest) -> Option<Self> {
        req.extensions().get::<Self>().cloned()
    }

    /// Waits until the request is admitted. An error when it is not (the `Caller`'s own error
    /// is the one answered).
    pub async fn wait(mut self) -> Result<(), ApiError> {
        match self.0.wait_for(Option::is_some).await.map(|v| *v) {
            Ok(Some(true)) => Ok(()),
            _ => Err(ApiError::invalid_body("the request was not admitted")),
        }
    }
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let limits = req.app_data::<web::Data<RateLimits>>().cloned();
        let in_flight = req.app_data::<web::Data<InFlight>>().cloned();
        let key = api_key(req);
        let (admitted, admission) = tokio::sync::watch::channel(None);
        req.extensions_mut().insert(Admission(admission));
        let req = req.clone();
        Box::pin(async move {
            let caller = Self::admit(&req, state, limits, in_flight, key).await;
            let _ = admitted.send(Some(caller.is_ok()));
            caller
        })
    }
}

impl Caller {
    async fn admit(
        req: &HttpRequest,
        state: Option<web::Data<AppState>>,
        limits: Option<web::Data<RateLimits>>,
        in_flight: Option<web::Data<InFlight>>,
        key: Option<String>,
    ) -> Result<Self, ApiError> {
        {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let client = req.peer_addr().map(|a| a.ip());
            let tenant = state.auth().authenticate(key.as_deref(), client).await?;
            if let Some(limits) = limits
                && let Some(status) = limits.check(&tenant)?
            {
                // Read back by the middleware in `startup.rs`, which sends it as headers.
                req.extensions_mut().insert(status);
            }
            let turn = match in_flight {
                Some(gate) => Some(Arc::new(gate.enter(&tenant).await?)),
                None => None,
            };
            Ok(Caller {
                tenant,
                _turn: turn,
            })
        }
    }
}

/// The path of a route about one vector store, `/v1/vector_stores/{id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StoreId {
    /// The vector store's id.
    pub id: String,
}

/// The path of a route about one file of a vector store, `…/{id}/files/{file_id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StoreFileId {
    /// The vector store's id.
    pub id: String,
    /// The file's id.
    pub file_id: String,
}

/// The path of a route about one file batch of a vector store, `…/{id}/file_batches/{batch_id}…`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct StoreBatchId {
    /// The vector store's id.
    pub id: String,
    /// The batch's id.
    pub batch_id: String,
}

/// The caller and the vector store its path names (`/v1/vector_stores/{id}/…`), which must
/// be the caller's: another tenant's store, like one that does not exist, is not found.
#[derive(Debug, Clone)]
pub struct VectorStorePath {
    pub caller: Caller,
    pub store: CollectionRecord,
}

impl FromRequest for VectorStorePath {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let id = req.match_info().get("id").map(str::to_string);
        Box::pin(async move {
            let caller = caller.await?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let id = id.ok_or_else(|| ApiError::internal("a vector store route without {id}"))?;
            let store = state
                .vectors()
                .collection_by_id(&caller.tenant, &id)
                .await?;
            Ok(Self { caller, store })
        })
    }
}

/// A request part that names a collection by its per-tenant name (and, on the platform API,
/// maybe the back-end it must live on).
pub trait NamesCollection {
    fn collection_name(&self) -> &str;
    fn backend(&self) -> Option<&str> {
        None
    }
}

impl<T: NamesCollection> NamesCollection for ValidJson<T> {
    fn collection_name(&self) -> &str {
        self.0.collection_name()
    }
    fn backend(&self) -> Option<&str> {
        self.0.backend()
    }
}

impl<T: NamesCollection> NamesCollection for ValidQuery<T> {
    fn collection_name(&self) -> &str {
        self.0.collection_name()
    }
    fn backend(&self) -> Option<&str> {
        self.0.backend()
    }
}

/// The `{collection}` of a raw API path.
impl NamesCollection for web::Path<String> {
    fn collection_name(&self) -> &str {
        self.as_str()
    }
}

/// The `{collection}` of a raw API path, and another part of the request read with it (a body,
/// a query string).
impl<T> NamesCollection for (web::Path<String>, T) {
    fn collection_name(&self) -> &str {
        self.0.as_str()
    }
}

/// The caller, the collection that the request part `E` names (the caller's own: another
/// tenant's, like one that does not exist, is not found), and that part. The caller is
/// authenticated first, then `E` is read, then the collection is looked up: a request without
/// a valid key is 401 whatever else is wrong with it, and a bad body is 400 before an unknown
/// collection is 404.
pub struct Named<E> {
    pub caller: Caller,
    pub record: CollectionRecord,
    pub by: E,
}

impl<E> FromRequest for Named<E>
where
    E: FromRequest + NamesCollection + 'static,
    E::Error: Into<actix_web::Error>,
{
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Caller::from_request(req, payload);
        let by = E::from_request(req, payload);
        let state = req.app_data::<web::Data<AppState>>().cloned();
        Box::pin(async move {
            let caller = caller.await?;
            let by = by.await.map_err(Into::into)?;
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let record = state
                .vectors()
                .collection(&caller.tenant, by.collection_name(), by.backend())
                .await
                .map_err(ApiError::from)?;
            Ok(Self { caller, record, by })
        })
    }
}

fn api_key(req: &HttpRequest) -> Option<String> {
    if let Some(v) = req
        .headers()
        .get("x-base-api-key")
        .and_then(|v| v.to_str().ok())
    {
        return Some(v.trim().to_string());
    }
    bearer(req).map(str::to_string)
}

/// The token of an `Authorization: Bearer <token>` header.
pub(crate) fn bearer(req: &HttpRequest) -> Option<&str> {
    let auth = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = auth.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The order of a cursor list; OpenAI's default is newest first.
fn page_order(order: Option<models::openai::Order>) -> service::PageOrder {
    match order.unwrap_or_default() {
        models::openai::Order::Asc => service::PageOrder::Asc,
        models::openai::Order::Desc => service::PageOrder::Desc,
    }
}

/// Matches unless the path holds an encoded NUL (`%00`): no id can hold one (PostgreSQL stores
/// none), so such a path names nothing and falls through to the 404 of unknown routes, on every
/// back-end alike and before any is asked.
pub(crate) fn no_nul_in_path() -> impl actix_web::guard::Guard {
    actix_web::guard::fn_guard(|ctx| !ctx.head().uri.path().contains("%00"))
}

/// Every group of routes sits in a scope with a fixed prefix, so that a request is matched
/// against the patterns of its own group only (each `{param}` pattern is a regex run). Routes
/// are [`crate::openapi::Endpoint`]s: each is in the document.
pub fn configure(cfg: &mut ServiceConfig) {
    cfg.configure(health::configure)
        .configure(platform::configure)
        .service(
            utoipa_actix_web::scope("/v1/vector_stores")
                .guard(no_nul_in_path())
                .configure(openai::configure)
                .configure(vector_store_files::configure),
        )
        .configure(files::configure)
        .configure(uploads::configure)
        .configure(embeddings::configure)
        .configure(raw::configure);
}
