//! `/mcp`: the MCP server of `api-mcp`, behind the same doors as the API. The caller is
//! authenticated (401 with `WWW-Authenticate: Bearer` without a valid key), limited and put in
//! flight as on every route ([`Caller`]); then the request is handed to `rmcp`'s Streamable
//! HTTP service.
//!
//! That service is a tower service over `http` 1.x, and actix-web 4 is on `http` 0.2: the
//! bridge copies the method, URI, headers and body into an `http::Request`, and the reply's
//! status, headers and (whole) body back. Replies are JSON, sessions are none, so a reply is
//! complete when its body is. A refusal of the transport's own (a foreign `Origin`, 403; a
//! wrong `Accept`, 406; no JSON `Content-Type`, 415) keeps its status and is sent in the API's
//! error envelope; a JSON body that is no JSON-RPC message is a 400.

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue, WWW_AUTHENTICATE};
use actix_web::web::Bytes;
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use api_mcp::{McpCaller, McpService};
use http_body_util::{BodyExt, Full};

use crate::error::ApiError;
use crate::extract::{limit_of, read_body};
use crate::routes::Caller;

/// `/mcp`'s routes, when `mcp.enabled`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/mcp", web::to(mcp));
}

async fn mcp(
    req: HttpRequest,
    payload: web::Payload,
    service: web::Data<McpService>,
) -> HttpResponse {
    match answer(&req, payload, &service).await {
        Ok(res) => res,
        Err(e) => {
            let mut res = e.error_response();
            if res.status() == StatusCode::UNAUTHORIZED {
                res.headers_mut()
                    .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            res
        }
    }
}

async fn answer(
    req: &HttpRequest,
    payload: web::Payload,
    service: &McpService,
) -> Result<HttpResponse, ApiError> {
    let caller = Caller::extract(req).await?;
    let mut payload = payload.into_inner();
    let body = read_body(&mut payload, limit_of(req)).await?;
    let base_url = {
        let info = req.connection_info();
        format!("{}://{}", info.scheme(), info.host())
    };
    let mcp_caller = McpCaller {
        tenant: caller.tenant.clone(),
        stores: store_ids(req.query_string())?,
        base_url,
    };
    let mut request = http::Request::builder()
        .method(req.method().as_str())
        .uri(req.uri().to_string());
    for (name, value) in req.headers() {
        request = request.header(name.as_str(), value.as_bytes());
    }
    let mut request = request
        .body(Full::new(body.freeze()))
        .map_err(|e| ApiError::invalid_body(format!("a request MCP cannot read: {e}")))?;
    request.extensions_mut().insert(mcp_caller);
    let (parts, body) = service.handle(request).await.into_parts();
    let Ok(body) = body
        .collect()
        .await
        .map(http_body_util::Collected::to_bytes);
    reply(req, &parts, body)
}

/// The transport's reply as actix-web's; a refusal of its own in the API's error envelope.
fn reply(
    req: &HttpRequest,
    parts: &http::response::Parts,
    body: Bytes,
) -> Result<HttpResponse, ApiError> {
    let status = StatusCode::from_u16(parts.status.as_u16())
        .map_err(|_| ApiError::internal("an MCP reply without a valid status"))?;
    let is_json = |v: Option<&[u8]>| {
        v.and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"))
    };
    if !status.is_success()
        && !is_json(
            parts
                .headers
                .get(http::header::CONTENT_TYPE)
                .map(http::HeaderValue::as_bytes),
        )
    {
        // `rmcp` answers a JSON body that is no JSON-RPC message with 415, as it does a body
        // that is no JSON: the first is a bad request.
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE
            && is_json(req.headers().get(CONTENT_TYPE).map(HeaderValue::as_bytes))
        {
            let text = String::from_utf8_lossy(&body);
            let why = text
                .trim()
                .trim_start_matches("fail to deserialize request body ");
            return Err(ApiError::invalid_body(format!(
                "the body is no JSON-RPC message: {why}"
            )));
        }
        let mut res = refusal(status, &body).error_response();
        // Statuses the envelope's table has no row for (406, 415) are kept as they came.
        *res.status_mut() = status;
        if let Some(allow) = parts.headers.get(http::header::ALLOW)
            && let Ok(allow) = HeaderValue::from_bytes(allow.as_bytes())
        {
            res.headers_mut()
                .insert(actix_web::http::header::ALLOW, allow);
        }
        return Ok(res);
    }
    let mut res = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_str().as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            res.append_header((name, value));
        }
    }
    if !parts.headers.contains_key(http::header::CONTENT_TYPE) && !body.is_empty() {
        res.insert_header((CONTENT_TYPE, "application/json"));
    }
    Ok(res.body(body))
}

/// The transport's plain-text refusal as the API's error (its status is set by the caller).
fn refusal(status: StatusCode, body: &[u8]) -> ApiError {
    let text = String::from_utf8_lossy(body).trim().to_string();
    match status {
        StatusCode::FORBIDDEN => ApiError::Forbidden(text),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(text),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(text),
        s if s.is_server_error() => ApiError::internal(format!("MCP answered {s}: {text}")),
        _ => ApiError::invalid_body(text),
    }
}

/// The stores of `?vector_store_ids=a,b` (or the parameter repeated); `None` without it. An id
/// holding a NUL names no store and is refused.
fn store_ids(query: &str) -> Result<Option<Vec<String>>, ApiError> {
    let ids: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "vector_store_ids")
        .flat_map(|(_, v)| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    if ids.iter().any(|id| id.contains('\0')) {
        return Err(ApiError::invalid(
            "vector_store_ids",
            "vector_store_ids: must not contain the NUL character (U+0000)",
        ));
    }
    Ok((!ids.is_empty()).then_some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_ids_come_comma_separated_or_repeated() {
        assert_eq!(store_ids("").unwrap(), None);
        assert_eq!(store_ids("other=1").unwrap(), None);
        assert_eq!(
            store_ids("vector_store_ids=vs_a,vs_b&vector_store_ids=vs_c").unwrap(),
            Some(vec!["vs_a".into(), "vs_b".into(), "vs_c".into()])
        );
        assert!(store_ids("vector_store_ids=vs_a,vs%00b").is_err());
    }

    #[test]
    fn a_refusal_keeps_its_status() {
        let e = refusal(
            StatusCode::FORBIDDEN,
            b"Forbidden: Origin header is not allowed",
        );
        assert_eq!(e.class().row().status, StatusCode::FORBIDDEN);
        let e = refusal(StatusCode::METHOD_NOT_ALLOWED, b"Method Not Allowed");
        assert_eq!(e.class().row().status, StatusCode::METHOD_NOT_ALLOWED);
    }
}
