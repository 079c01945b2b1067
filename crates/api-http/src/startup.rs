//! Building and running the HTTP server: [`Application::build`] binds (port 0 allowed), exposes
//! the port, and runs until stopped (graceful shutdown on SIGINT/SIGTERM). Every response gets
//! `x-request-id`, and the rate-limit headers when the request passed a tenant's limit.

use std::net::{IpAddr, TcpListener};
use std::sync::Arc;

use actix_web::dev::{Server, ServerHandle, Service, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::{ErrorHandlerResponse, ErrorHandlers};
use actix_web::{App, HttpMessage, HttpRequest, HttpServer, ResponseError, web};
use api_mcp::McpSettings;
use futures::future::Either;
use secrecy::SecretString;
use serde::Deserialize;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config as SwaggerConfig, SwaggerUi};

use crate::error::{ApiError, LIMIT_HEADER, REMAINING_HEADER};
use crate::extract::{BodyLimit, path_config, payload_config, query_config};
use crate::metrics::{MetricsAccess, RequestTimer};
use crate::openapi::DocumentJson;
use crate::routes;
use service::{
    AuthMode, AuthService, FileService, InFlight, IngestService, RateLimitStatus, RateLimits,
    UploadService, VectorService,
};

/// The `[server]` settings; every default is in the binary's `config/default.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpSettings {
    pub host: String,
    pub port: u16,
    /// The largest request body, in bytes.
    pub body_limit_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// Requests a second each tenant may make on average; 0 turns rate limiting off.
    pub rate_limit_per_second: u32,
    /// Requests each tenant may make at once (its bucket's size); 0 means
    /// `rate_limit_per_second`.
    pub rate_limit_burst: u32,
    /// Requests of one tenant in progress at once; one over it waits up to 10 s for a turn,
    /// then gets 429. Keep it below `database.pool_size`; 0 turns the bound off.
    pub max_in_flight_per_tenant: usize,
    /// Requests of all tenants in progress at once; one over it waits (within the same 10 s)
    /// and then gets 503. Keep it below `database.pool_size`, so that authentication,
    /// ingestion and the queue always find a connection; 0 turns the bound off.
    pub max_in_flight: usize,
    /// The bearer token `GET /metrics` asks for. Unset with API keys on, `/metrics` is not
    /// served; unset in `open` mode, it is public (that mode listens on loopback only).
    #[serde(default)]
    pub metrics_token: Option<SecretString>,
}

/// How long a request over its tenant's bound on requests in flight waits for a turn.
const IN_FLIGHT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// What every handler can reach.
#[derive(Debug, Clone)]
pub struct AppState {
    ingest: IngestService,
    uploads: UploadService,
    auth: Arc<AuthService>,
    mcp: McpSettings,
}

impl AppState {
    /// The state over `ingest` (which holds the vector and file services), `uploads` and
    /// `auth`.
    pub fn new(ingest: IngestService, uploads: UploadService, auth: Arc<AuthService>) -> Self {
        Self {
            ingest,
            uploads,
            auth,
            mcp: McpSettings::default(),
        }
    }

    /// The state with `/mcp` set up as `mcp` says (its defaults otherwise).
    pub fn with_mcp(mut self, mcp: McpSettings) -> Self {
        self.mcp = mcp;
        self
    }

    pub fn mcp(&self) -> &McpSettings {
        &self.mcp
    }

    pub fn uploads(&self) -> &UploadService {
        &self.uploads
    }

    pub fn vectors(&self) -> &VectorService {
        self.ingest.vectors()
    }

    pub fn files(&self) -> &FileService {
        self.ingest.files()
    }

    pub fn ingest(&self) -> &IngestService {
        &self.ingest
    }

    pub fn auth(&self) -> &AuthService {
        &self.auth
    }
}

pub struct Application {
    port: u16,
    server: Server,
}

/// `open` auth serves every caller as one tenant: allowed only on a loopback address.
pub fn check_auth_mode(mode: AuthMode, host: &str) -> Result<(), String> {
    let loopback = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if mode == AuthMode::Open && !loopback {
        return Err(format!(
            "auth mode 'open' is allowed only on a loopback address, not '{host}'; set \
             VECTOR_STORE__AUTH__MODE=keys and create keys with `vector-store-server keys create \
             --tenant NAME`"
        ));
    }
    Ok(())
}

impl Application {
    pub fn build(settings: &HttpSettings, state: AppState) -> std::io::Result<Self> {
        check_auth_mode(state.auth().mode(), &settings.host).map_err(std::io::Error::other)?;
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let bound = listener.local_addr()?;
        let open = state.auth().mode() == AuthMode::Open;
        if open && !bound.ip().is_loopback() {
            return Err(std::io::Error::other(format!(
                "auth mode 'open' is allowed only on a loopback address: '{}' is bound to {}",
                settings.host,
                bound.ip()
            )));
        }
        let port = bound.port();
        let limit = settings.body_limit_bytes;
        let data = web::Data::new(state);
        // One set of buckets for every worker thread.
        let limits = web::Data::new(RateLimits::new(
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
        ));
        let in_flight = web::Data::new(InFlight::new(
            settings.max_in_flight_per_tenant,
            settings.max_in_flight,
            IN_FLIGHT_WAIT,
        ));
        let metrics_access =
            MetricsAccess::new(data.auth().mode(), settings.metrics_token.as_ref());
        if matches!(metrics_access, MetricsAccess::Off) {
            tracing::info!("GET /metrics is off: set server.metrics_token to serve it");
        }
        let metrics_access = web::Data::new(metrics_access);
        crate::metrics::recorder();
        let document = web::Data::new(DocumentJson::new());
        let mcp = data
            .mcp()
            .enabled
            .then(|| web::Data::new(api_mcp::service(data.ingest().clone(), data.mcp())));
        if limits.is_enabled() {
            tracing::info!(
                per_second = limits.per_second(),
                burst = limits.burst(),
                "rate limit per tenant"
            );
        } else {
            tracing::info!("rate limiting is off");
        }
        let mut server = HttpServer::new(move || {
            App::new()
                .into_utoipa_app()
                .configure(routes::configure)
                .into_app()
                .configure(crate::console::configure)
                .configure(|cfg| {
                    if let Some(mcp) = &mcp {
                        cfg.app_data(mcp.clone()).configure(crate::mcp::configure);
                    }
                })
                .service(web::redirect("/docs", "/docs/"))
                .service(swagger_ui())
                .app_data(data.clone())
                .app_data(metrics_access.clone())
                .app_data(document.clone())
                .app_data(limits.clone())
                .app_data(in_flight.clone())
                .app_data(BodyLimit(limit))
                .app_data(payload_config(limit))
                .app_data(path_config())
                .app_data(query_config())
                .default_service(web::to(unknown_route))
                .wrap_fn(move |req, srv| {
                    match open
                        .then(|| crate::origin::refusal(req.request()))
                        .flatten()
                    {
                        Some(refused) => {
                            let res = req.into_response(refused.error_response());
                            Either::Left(std::future::ready(Ok(res.map_into_right_body())))
                        }
                        None => {
                            let fut = srv.call(req);
                            Either::Right(async move { Ok(fut.await?.map_into_left_body()) })
                        }
                    }
                })
                .wrap(ErrorHandlers::new().default_handler(envelope_for_bare_errors))
                .wrap_fn(|req, srv| {
                    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
                    let method = req.method().clone();
                    let path = req.path().to_string();
                    let timer = RequestTimer::start(method.as_str());
                    let fut = srv.call(req);
                    async move {
                        let mut res = fut.await?;
                        let template = res.request().match_pattern();
                        let elapsed = timer.finish(template.as_deref(), res.status().as_u16());
                        if let Ok(v) = HeaderValue::from_str(&id) {
                            res.headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), v);
                        }
                        let status = res.request().extensions().get::<RateLimitStatus>().copied();
                        if let Some(status) = status {
                            rate_limit_headers(res.headers_mut(), status);
                        }
                        tracing::info!(
                            request_id = %id,
                            %method,
                            %path,
                            status = res.status().as_u16(),
                            elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                            "request"
                        );
                        Ok(res)
                    }
                })
        })
        .shutdown_timeout(settings.shutdown_timeout_secs)
        // Whoever runs it stops it ([`Application::handle`]): the binary stops its background
        // work before it drains the requests in progress.
        .disable_signals();
        if settings.workers > 0 {
            server = server.workers(settings.workers);
        }
        let server = server.listen(listener)?.run();
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, shutdown hooks).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Swagger UI over `/openapi.json` at `/docs`, from files inside the binary. It asks no
/// validator service (`validatorUrl: none`), so the page loads nothing from off the machine.
fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new("/docs/{_:.*}").config(
        SwaggerConfig::from("/openapi.json")
            .validator_url("none")
            .persist_authorization(true)
            .try_it_out_enabled(true),
    )
}

/// Where the caller stands against its rate limit, on every response to a request that passed it.
fn rate_limit_headers(headers: &mut HeaderMap, status: RateLimitStatus) {
    headers.insert(
        HeaderName::from_static(LIMIT_HEADER),
        HeaderValue::from(status.limit),
    );
    headers.insert(
        HeaderName::from_static(REMAINING_HEADER),
        HeaderValue::from(status.remaining),
    );
}

async fn unknown_route(req: HttpRequest) -> actix_web::HttpResponse {
    ApiError::NotFound(format!(
        "Unknown request URL: {} {}",
        req.method(),
        req.path()
    ))
    .error_response()
}

/// Responses that actix itself produced without a body we chose (405 on a known path, for
/// instance) are rewritten into the envelope.
fn envelope_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_json = res
        .response()
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let (req, _) = res.into_parts();
    let err = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.path()))
        }
        StatusCode::NOT_FOUND => ApiError::NotFound(format!(
            "Unknown request URL: {} {}",
            req.method(),
            req.path()
        )),
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge("the request body is too large".into())
        }
        s if s.is_server_error() => ApiError::internal(format!("bare {s} response")),
        s => ApiError::invalid_body(s.canonical_reason().unwrap_or("bad request").to_string()),
    };
    let response = err.error_response();
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body::<B>(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_auth_is_refused_off_loopback() {
        assert!(check_auth_mode(AuthMode::Open, "127.0.0.1").is_ok());
        assert!(check_auth_mode(AuthMode::Open, "::1").is_ok());
        assert!(check_auth_mode(AuthMode::Open, "localhost").is_ok());
        assert!(check_auth_mode(AuthMode::Open, "0.0.0.0").is_err());
        assert!(check_auth_mode(AuthMode::Keys, "0.0.0.0").is_ok());
    }

    #[test]
    fn a_passed_request_reports_its_limit_and_what_remains() {
        let mut headers = HeaderMap::new();
        rate_limit_headers(
            &mut headers,
            RateLimitStatus {
                limit: 100,
                remaining: 42,
            },
        );
        assert_eq!(headers.get(LIMIT_HEADER).unwrap(), "100");
        assert_eq!(headers.get(REMAINING_HEADER).unwrap(), "42");
    }
}
