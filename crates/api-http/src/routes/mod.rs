//! The HTTP skins over the service layer. Each module exports `configure`.

pub mod files;
pub mod health;
pub mod openai;
pub mod platform;
pub mod raw;
pub mod vector_store_files;

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};
use store_core::Tenant;

use crate::error::ApiError;
use crate::startup::AppState;

/// The authenticated caller. The key arrives as `Authorization: Bearer <key>` or
/// `x-base-api-key: <key>`.
#[derive(Debug, Clone)]
pub struct Caller(pub Tenant);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = api_key(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| {
                ApiError::Store(store_core::StoreError::internal_msg(
                    "application state missing",
                ))
            })?;
            state.auth.authenticate(key.as_deref()).await.map(Caller)
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
    let auth = req.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, key) = auth.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| key.trim().to_string())
}

/// The order of a cursor list; OpenAI's default is newest first.
fn page_order(order: Option<models::openai::Order>) -> store_core::PageOrder {
    match order.unwrap_or_default() {
        models::openai::Order::Asc => store_core::PageOrder::Asc,
        models::openai::Order::Desc => store_core::PageOrder::Desc,
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.configure(health::configure)
        .configure(platform::configure)
        .configure(openai::configure)
        .configure(files::configure)
        .configure(vector_store_files::configure)
        .configure(raw::configure);
}
