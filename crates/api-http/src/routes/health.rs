//! `GET /health` (liveness) and `GET /ready` (the catalog and every back-end answer).

use actix_web::{HttpResponse, get, web};

use crate::error::ApiError;
use crate::startup::AppState;

#[get("/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

#[get("/ready")]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.service.ready().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({"status": "ready"})))
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health).service(ready);
}
