//! The operations routes: `GET /health` (liveness), `GET /ready` (the catalog and every
//! back-end answer), `GET /metrics` (Prometheus) and `GET /openapi.json` (this API's document).

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;
use crate::metrics::MetricsAccess;
use crate::openapi::{DocumentJson, Endpoint, Guarded, Unready, tags};
use crate::startup::AppState;

/// The answer of the health checks.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Status {
    /// `ok` (`/health`) or `ready` (`/ready`).
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[utoipa::path(
    get,
    path = "/health",
    tag = tags::OPERATIONS,
    operation_id = "health",
    summary = "Liveness",
    description = "Answers while the process serves requests; it does not ask the back-ends.",
    security(()),
    responses((status = 200, description = "The process is up.", body = Status)),
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

#[utoipa::path(
    get,
    path = "/ready",
    tag = tags::OPERATIONS,
    operation_id = "ready",
    summary = "Readiness",
    description = "Answers 200 once the catalog and every configured back-end answer, 503 while \
                   one does not.",
    security(()),
    responses((status = 200, description = "Ready for traffic.", body = Status), Unready),
)]
async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.vectors().ready().await?;
    Ok(HttpResponse::Ok().json(Status { status: "ready" }))
}

#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = tags::OPERATIONS,
    operation_id = "openapi",
    summary = "This document",
    description = "The OpenAPI 3.1 document of every route; Swagger UI shows it at `/docs`.",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", body = Object)),
)]
async fn document(doc: web::Data<DocumentJson>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

#[utoipa::path(
    get,
    path = "/metrics",
    tag = tags::OPERATIONS,
    operation_id = "metrics",
    summary = "Prometheus metrics",
    description = "The metrics in Prometheus's text format. With API keys on (`auth.mode = \
                   \"keys\"`), served only to `Authorization: Bearer <server.metrics_token>`, and \
                   not at all while no token is set.",
    security((), ("metrics_token" = [])),
    responses(
        (
            status = 200,
            description = "The metrics.",
            content_type = "text/plain; version=0.0.4",
            body = String
        ),
        Guarded,
    ),
)]
async fn metrics(
    req: HttpRequest,
    state: web::Data<AppState>,
    access: web::Data<MetricsAccess>,
) -> Result<HttpResponse, ApiError> {
    access.check(super::bearer(&req))?;
    // The metrics matter most while the database is down: the gauges read from it keep their
    // last values then, and the rest is served.
    if let Err(e) = state.ingest().sample_gauges().await {
        tracing::warn!(error = %e, "could not read the queue and pool gauges");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::metrics::recorder().render()))
}

pub fn configure(cfg: &mut ServiceConfig) {
    cfg.service(Endpoint::new(__path_health, health))
        .service(Endpoint::new(__path_ready, ready))
        .service(Endpoint::new(__path_document, document))
        .service(Endpoint::new(__path_metrics, metrics));
}
