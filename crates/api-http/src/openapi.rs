//! The service's OpenAPI 3.1 document, generated from the code: every handler carries
//! `#[utoipa::path]`, and routes are registered only through [`Endpoint`], which takes each
//! route's path and method from that documentation, so a route cannot be served undocumented
//! and its document cannot name another path or method.
//!
//! Errors are described once, as reusable responses over the one envelope schema
//! ([`models::ErrorEnvelope`]); each operation lists the groups it can answer ([`Authed`],
//! [`BadInput`], [`NotFound`], [`Conflict`]).

use std::collections::BTreeMap;

use actix_web::dev::{AppService, HttpServiceFactory};
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};
use utoipa::openapi::path::{HttpMethod, Paths};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Schema};
use utoipa::{IntoResponses, Modify, OpenApi as _, ToSchema};
use utoipa_actix_web::{AppExt, OpenApiFactory};

/// The tags the operations are grouped by in the document and in Swagger UI.
pub mod tags {
    pub const VECTOR_STORES: &str = "Vector stores";
    pub const VECTOR_STORE_FILES: &str = "Vector store files";
    pub const FILE_BATCHES: &str = "Vector store file batches";
    pub const FILES: &str = "Files";
    pub const UPLOADS: &str = "Uploads";
    pub const EMBEDDINGS: &str = "Embeddings";
    /// The platform's collection API (`/v1/api`), under the tag it has always had.
    pub const PLATFORM: &str = "VECTOR_STORE";
    pub const RAW: &str = "Raw collections";
    pub const KEYS: &str = "API keys";
    pub const OPERATIONS: &str = "Operations";
}

/// The security schemes' names, for `security(...)` on operations.
pub const BEARER: &str = "bearer";
pub const API_KEY: &str = "x-base-api-key";
/// The scheme of `/metrics`: the token set in `server.metrics_token`.
pub const METRICS_TOKEN: &str = "metrics_token";

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "vector-store",
        description = "One HTTP API over pluggable vector-store back-ends (PostgreSQL + pgvector, \
            Elasticsearch): the OpenAI Vector Stores, Files, Uploads and Embeddings API under \
            `/v1/vector_stores`, `/v1/files`, `/v1/uploads` and `/v1/embeddings`, the platform's \
            collection API under `/v1/api`, and the raw `/v2` API with explicit dimensions and \
            caller-supplied vectors.\n\nEvery error is the OpenAI envelope \
            `{\"error\": {\"message\", \"type\", \"param\", \"code\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    tags(
        (name = tags::VECTOR_STORES, description = "OpenAI: vector stores and their search."),
        (
            name = tags::VECTOR_STORE_FILES,
            description = "OpenAI: files attached to a vector store and ingested into it."
        ),
        (name = tags::FILE_BATCHES, description = "OpenAI: several files attached at once."),
        (name = tags::FILES, description = "OpenAI: uploaded files."),
        (
            name = tags::UPLOADS,
            description = "OpenAI: files uploaded in parts, then completed into files."
        ),
        (
            name = tags::EMBEDDINGS,
            description = "OpenAI: texts embedded with any of the store's models."
        ),
        (
            name = tags::PLATFORM,
            description = "The platform's collection API: collections by name, indexing and search."
        ),
        (
            name = tags::RAW,
            description = "The raw API: explicit dimensions, caller-supplied vectors, vector, \
                           keyword and hybrid search."
        ),
        (name = tags::KEYS, description = "The caller's own API keys: list, create and revoke."),
        (name = tags::OPERATIONS, description = "Health, readiness, metrics and this document."),
    ),
    components(schemas(models::ErrorEnvelope, models::ErrorBody)),
    security(("bearer" = []), ("x-base-api-key" = [])),
    modifiers(&Components),
)]
struct Base;

/// The security schemes and the error responses, which the derive cannot declare.
struct Components;

impl Modify for Components {
    fn modify(&self, doc: &mut OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            BEARER,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <key>`: an API key (`vector-store-server keys \
                         create`).",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            API_KEY,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "x-base-api-key",
                "The same API key, in the platform's own header.",
            ))),
        );
        components.add_security_scheme(
            METRICS_TOKEN,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "`Authorization: Bearer <server.metrics_token>`, when the service runs \
                         with API keys.",
                    ))
                    .build(),
            ),
        );
        for (name, _, description) in ERRORS {
            components
                .responses
                .insert(name.to_string(), RefOr::T(error_response(description)));
        }
    }
}

/// Every error the service answers: (response name, status, description).
const ERRORS: &[(&str, &str, &str)] = &[
    (
        "BadRequest",
        "400",
        "The body, query string or path is not valid; `param` names the field.",
    ),
    (
        "Unauthorized",
        "401",
        "No API key, or one that is not known.",
    ),
    (
        "QuotaExceeded",
        "403",
        "The tenant would go over one of its quotas (`quotas.*`); the message names it.",
    ),
    (
        "NotFound",
        "404",
        "No such object for this caller (another tenant's objects are not found either).",
    ),
    (
        "Conflict",
        "409",
        "The object exists already, or its state does not allow this change.",
    ),
    (
        "PayloadTooLarge",
        "413",
        "The body is over the limit (`server.body_limit_bytes`).",
    ),
    (
        "TooManyRequests",
        "429",
        "Over the tenant's rate limit, or too many of its requests are in progress; retry later.",
    ),
    (
        "InternalError",
        "500",
        "The service failed; the message says no more than that.",
    ),
    (
        "Unavailable",
        "503",
        "A back-end or the catalog does not answer, or the server has too many requests in \
         progress; retry later.",
    ),
    (
        "InsufficientStorage",
        "507",
        "The server's file storage is below its free-space mark (`files.min_free_bytes`).",
    ),
];

fn error_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(Ref::from_schema_name(models::ErrorEnvelope::name()))),
        )
        .build()
}

/// The reusable error responses named, by status.
fn refs(names: &[&str]) -> BTreeMap<String, RefOr<Response>> {
    names
        .iter()
        .map(|name| {
            let (_, status, _) = ERRORS
                .iter()
                .find(|(n, ..)| n == name)
                .expect("a declared error response");
            (
                status.to_string(),
                RefOr::Ref(Ref::from_response_name(*name)),
            )
        })
        .collect()
}

/// What any route with a caller can answer: no key, over the limit, a failure, a back-end down.
pub struct Authed;
/// A body or query string that does not parse or validate, or a body over the limit.
pub struct BadInput;
/// An unknown object, or another tenant's.
pub struct NotFound;
/// An object that exists already, or whose state refuses the change.
pub struct Conflict;
/// A request that makes an object a tenant's quota bounds.
pub struct Quota;
/// An upload, refused while the files disk is nearly full.
pub struct DiskFull;
/// A back-end or the catalog that does not answer (the readiness check).
pub struct Unready;
/// A route behind its own token (`/metrics`): refused without it, absent while it is unset.
pub struct Guarded;

impl IntoResponses for Guarded {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["Unauthorized", "NotFound"])
    }
}

impl IntoResponses for Authed {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&[
            "Unauthorized",
            "TooManyRequests",
            "InternalError",
            "Unavailable",
        ])
    }
}

impl IntoResponses for BadInput {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["BadRequest", "PayloadTooLarge"])
    }
}

impl IntoResponses for NotFound {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["NotFound"])
    }
}

impl IntoResponses for Conflict {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["Conflict"])
    }
}

impl IntoResponses for Quota {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["QuotaExceeded"])
    }
}

impl IntoResponses for DiskFull {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["InsufficientStorage"])
    }
}

impl IntoResponses for Unready {
    fn responses() -> BTreeMap<String, RefOr<Response>> {
        refs(&["InternalError", "Unavailable"])
    }
}

/// An actix resource and the documentation of each of its routes. Built from `#[utoipa::path]`
/// handlers only: the resource's path and each route's method are the documented ones.
pub struct Endpoint {
    path: String,
    resource: actix_web::Resource,
    paths: Paths,
    schemas: Vec<(String, RefOr<Schema>)>,
}

impl Endpoint {
    /// The resource at the path `D` documents, answering `D`'s method with `handler`.
    pub fn new<D, F, Args>(doc: D, handler: F) -> Self
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        let path = D::path();
        Self {
            resource: web::resource(path.clone()),
            path,
            paths: Paths::new(),
            schemas: Vec::new(),
        }
        .and(doc, handler)
    }

    /// Another method of the same path. Panics (when the routes are built, so in every test
    /// that starts the server) if `D` documents another path.
    pub fn and<D, F, Args>(mut self, doc: D, handler: F) -> Self
    where
        D: utoipa::Path + OpenApiFactory,
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        assert_eq!(
            D::path(),
            self.path,
            "an endpoint's routes are documented at one path"
        );
        for method in D::methods() {
            self.resource = self
                .resource
                .route(web::method(actix_method(&method)).to(handler.clone()));
        }
        self.paths.merge(doc.paths());
        doc.schemas(&mut self.schemas);
        self
    }

    /// Lets this path's JSON bodies be as large as `server.body_limit_bytes` (documents and
    /// vectors in bulk); every other route's are held to
    /// [`SMALL_BODY_BYTES`](crate::extract::SMALL_BODY_BYTES).
    pub fn large_body(mut self) -> Self {
        self.resource = self.resource.app_data(crate::extract::LargeBody);
        self
    }
}

fn actix_method(method: &HttpMethod) -> Method {
    let name = serde_json::to_value(method).expect("a method serializes");
    Method::from_bytes(name.as_str().unwrap_or_default().to_uppercase().as_bytes())
        .expect("an HTTP method")
}

impl HttpServiceFactory for Endpoint {
    fn register(self, config: &mut AppService) {
        self.resource.register(config);
    }
}

impl OpenApiFactory for Endpoint {
    fn paths(&self) -> Paths {
        self.paths.clone()
    }

    fn schemas(&self, schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.extend(self.schemas.iter().cloned());
    }
}

/// The document of every route [`crate::routes::configure`] registers.
pub fn document() -> OpenApi {
    let (_, mut doc) = actix_web::App::new()
        .into_utoipa_app()
        .openapi(Base::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc
}

/// The document, serialized once, as `GET /openapi.json` serves it.
#[derive(Debug, Clone)]
pub struct DocumentJson(pub web::Bytes);

impl DocumentJson {
    pub fn new() -> Self {
        let json = document().to_json().expect("the document serializes");
        Self(web::Bytes::from(json))
    }
}

impl Default for DocumentJson {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::{App, HttpRequest, HttpResponse, test, web};
    use utoipa_actix_web::AppExt;

    use super::*;

    /// The full path of every resource in actix's map of the routes, read from the map's
    /// debug form (actix has no other listing): a resource is a node without children, its
    /// path the patterns of the scopes above it and its own.
    fn registered(map_debug: &str) -> BTreeSet<String> {
        let mut stack: Vec<(usize, String)> = Vec::new();
        let mut paths = BTreeSet::new();
        let mut lines = map_debug.lines().peekable();
        while let Some(line) = lines.next() {
            let indent = line.len() - line.trim_start().len();
            let text = line.trim();
            if text == "ResourceMap {" {
                stack.retain(|(i, _)| *i < indent);
                let parent = stack.last().map(|(_, p)| p.clone()).unwrap_or_default();
                stack.push((indent, parent));
            } else if text == "patterns: Single(" {
                let pattern = lines.next().expect("a pattern").trim();
                let pattern = pattern.trim_end_matches(',').trim_matches('"');
                if let Some((_, path)) = stack.last_mut() {
                    // The first pattern of a map is its own; later ones belong to nested defs.
                    if !path.ends_with(pattern) || pattern.is_empty() {
                        path.push_str(pattern);
                    }
                }
            } else if text == "nodes: None,"
                && let Some((_, path)) = stack.last()
            {
                paths.insert(if path.is_empty() {
                    "/".into()
                } else {
                    path.clone()
                });
            }
        }
        paths
    }

    /// The paths of every resource `extra` and the service's routes register.
    async fn routes_with(extra: fn(&mut web::ServiceConfig)) -> BTreeSet<String> {
        let app = test::init_service(
            App::new()
                .into_utoipa_app()
                .configure(crate::routes::configure)
                .into_app()
                .configure(extra)
                .default_service(web::to(|req: HttpRequest| async move {
                    HttpResponse::Ok().body(format!("{:#?}", req.resource_map()))
                })),
        )
        .await;
        let req = test::TestRequest::get().uri("/not-a-route").to_request();
        let body = test::call_and_read_body(&app, req).await;
        registered(std::str::from_utf8(&body).unwrap())
    }

    #[actix_web::test]
    async fn an_undocumented_route_is_seen() {
        let routes = routes_with(|cfg| {
            cfg.service(web::scope("/v9").route("/hidden/{id}", web::get().to(HttpResponse::Ok)));
        })
        .await;
        assert!(routes.contains("/v9/hidden/{id}"), "{routes:#?}");
        assert!(
            routes.contains("/v1/vector_stores/{id}/search"),
            "{routes:#?}"
        );
    }

    #[actix_web::test]
    async fn every_registered_route_is_in_the_document_and_nothing_else() {
        let routes = routes_with(|_| {}).await;
        let documented: BTreeSet<String> = document().paths.paths.keys().cloned().collect();
        assert!(routes.len() >= 30, "{routes:#?}");
        assert_eq!(routes, documented);
    }
}
