//! The web console at `/console`: static files built into the binary, a page that works only
//! through the public API. Nothing is loaded from elsewhere (the content security policy says
//! so to the browser too).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

/// (file name, content type, bytes) of every file the console has.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../console/index.html"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../console/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/console.css"),
    ),
];

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' \
                      data:; connect-src 'self'; form-action 'self'; base-uri 'none'; \
                      frame-ancestors 'none'";

fn file(name: &str) -> HttpResponse {
    match FILES.iter().find(|(n, ..)| *n == name) {
        Some((_, content_type, body)) => HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, *content_type))
            .insert_header((CACHE_CONTROL, "no-cache"))
            .insert_header((CONTENT_SECURITY_POLICY, POLICY))
            .insert_header(("x-content-type-options", "nosniff"))
            .body(*body),
        None => actix_web::ResponseError::error_response(&crate::error::ApiError::NotFound(
            format!("no console file '{name}'"),
        )),
    }
}

async fn index() -> HttpResponse {
    file("index.html")
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    file(&name)
}

/// `/console` (to `/console/`), the page, and its files.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/console", "/console/"))
        .route("/console/", web::get().to(index))
        .route("/console/{name}", web::get().to(asset));
}
