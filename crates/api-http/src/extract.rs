//! Extractors that parse and validate in one step, so that every malformed, mistyped or invalid
//! request gets the error envelope with `param` naming the offending field.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{FromRequest, HttpRequest, web};
use serde::de::DeserializeOwned;
use validator::Validate;

use models::walk::{Place, Walk};

use crate::error::ApiError;

/// The largest request body, set once at start-up from the settings.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The largest JSON body of a route that does not take documents in bulk (a search, a create,
/// an update): far below the server's body limit, so that a burst of such requests cannot hold
/// much memory.
pub const SMALL_BODY_BYTES: usize = 1024 * 1024;

/// Marks a route whose JSON bodies may be as large as [`BodyLimit`]
/// ([`crate::openapi::Endpoint::large_body`]).
#[derive(Debug, Clone, Copy)]
pub struct LargeBody;

/// The body limit of `req`'s route.
pub(crate) fn limit_of(req: &HttpRequest) -> usize {
    let server = req
        .app_data::<BodyLimit>()
        .map_or(SMALL_BODY_BYTES, |l| l.0);
    if req.app_data::<LargeBody>().is_some() {
        server
    } else {
        server.min(SMALL_BODY_BYTES)
    }
}

/// A JSON body that parsed into `T` and passed `T::validate`.
///
/// The body is read only once the request has its turn: after its caller is authenticated,
/// within its rate limit and admitted in flight ([`crate::routes::Admission`]), so requests
/// waiting for a turn hold no bodies. A body over the route's limit is refused by its declared
/// length before a byte is read, or as soon as it passes the limit.
#[derive(Debug)]
pub struct ValidJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = limit_of(req);
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let declared = req
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let admission = crate::routes::Admission::of(req);
        let mut payload = payload.take();
        Box::pin(async move {
            match content_type.as_deref() {
                Some(ct) if ct.starts_with("application/json") || ct.contains("+json") => {}
                Some(ct) => {
                    return Err(ApiError::invalid_body(format!(
                        "expected Content-Type: application/json, got '{ct}'"
                    )));
                }
                None => {
                    return Err(ApiError::invalid_body(
                        "expected Content-Type: application/json",
                    ));
                }
            }
            if declared.is_some_and(|n| n > limit as u64) {
                return Err(too_large(limit));
            }
            if let Some(admission) = admission {
                admission.wait().await?;
            }
            let bytes = read_body(&mut payload, limit).await?;
            parse_json(&bytes).map(ValidJson)
        })
    }
}

/// The whole body, refused once it passes `limit` bytes.
#[allow(
    clippy::wildcard_enum_match_arm,
    reason = "actix's payload error is non-exhaustive: the others are a broken body alike"
)]
pub(crate) async fn read_body(
    payload: &mut Payload,
    limit: usize,
) -> Result<web::BytesMut, ApiError> {
    use futures::StreamExt;
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| match e {
            actix_web::error::PayloadError::Overflow => too_large(limit),
            e => ApiError::invalid_body(format!("could not read the request body: {e}")),
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Parses and validates a JSON document, naming the failing field.
pub fn parse_json<T: DeserializeOwned + Validate>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid_body(
            "the request body is empty; expected a JSON object",
        ));
    }
    nul_free(bytes)?;
    // The plain parse is the fast path (a search carries hundreds of floats, an upsert hundreds
    // of thousands); only a document that fails is parsed again to name the failing field.
    if let Ok(value) = serde_json::from_slice::<T>(bytes) {
        validate(&value)?;
        return Ok(value);
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if matches!(
            inner.classify(),
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof
        ) {
            return ApiError::invalid_body(format!("the request body is not valid JSON: {inner}"));
        }
        at_path(path, strip_position(&inner.to_string()))
    })?;
    de.end()
        .map_err(|e| ApiError::invalid_body(format!("the request body is not valid JSON: {e}")))?;
    validate(&value)?;
    Ok(value)
}

/// What a request may not carry in any string: PostgreSQL stores no NUL, so on every back-end
/// alike it is refused before anything is stored or looked up.
const NUL: &str = "must not contain the NUL character (U+0000)";

/// Refuses a JSON document that holds a NUL (`\u0000`) in any key or string, naming where. The
/// scan for the escape is the fast path; only a document that has one is read again to find
/// it, as a stream (no tree of the document is built, whatever its size).
fn nul_free(bytes: &[u8]) -> Result<(), ApiError> {
    if memchr::memmem::find(bytes, b"\\u0000").is_none() {
        return Ok(());
    }
    use serde::de::DeserializeSeed;
    use serde_json::error::Category;
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut track = serde_path_to_error::Track::new();
    let walked = Walk(|s, place| match (s.contains('\0'), place) {
        (false, _) => Ok(()),
        (true, Place::Key) => Err(NUL_KEY),
        (true, Place::Value) => Err(NUL),
    })
    .deserialize(serde_path_to_error::Deserializer::new(&mut de, &mut track));
    let Err(e) = walked else {
        return Ok(());
    };
    // Not JSON (or nested past the parser's depth): the typed parse reports it.
    if matches!(e.classify(), Category::Syntax | Category::Eof) {
        return Ok(());
    }
    // A NUL in a key is reported at the object that holds the key.
    let path = track.path();
    let segments: Vec<_> = path.iter().collect();
    let at_key = e.to_string().starts_with(NUL_KEY);
    let keep = segments.len() - usize::from(at_key && !segments.is_empty());
    match dotted(&segments[..keep]) {
        path if path.is_empty() => Err(ApiError::invalid_body(format!("a key {NUL}"))),
        path => Err(ApiError::invalid(path.clone(), format!("{path}: {NUL}"))),
    }
}

/// The message of a NUL found in a key (the key's object is named, not the key).
const NUL_KEY: &str = "a key must not contain the NUL character (U+0000)";

/// `documents[2].content` of the segments of a path.
fn dotted(segments: &[&serde_path_to_error::Segment]) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for s in segments {
        match s {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push('?');
            }
        }
    }
    out
}

/// A query string that parsed into `T` and passed `T::validate`.
#[derive(Debug)]
pub struct ValidQuery<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ValidQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(ValidQuery))
    }
}

pub fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<T, ApiError> {
    if let Some((name, _)) =
        form_urlencoded::parse(query.as_bytes()).find(|(k, v)| k.contains('\0') || v.contains('\0'))
    {
        let name = name.replace('\0', "\\0");
        return Err(ApiError::invalid(name.clone(), format!("{name}: {NUL}")));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        at_path(path, format!("invalid query string: {}", e.into_inner()))
    })?;
    validate(&value)?;
    Ok(value)
}

/// A parse failure at `path` (serde_path_to_error's dotted path; `.` is the document itself).
fn at_path(path: String, message: String) -> ApiError {
    if path.is_empty() || path == "." {
        ApiError::invalid_body(message)
    } else {
        ApiError::invalid(path, message)
    }
}

fn validate<T: Validate>(value: &T) -> Result<(), ApiError> {
    value.validate().map_err(|errors| {
        let (param, message) = models::validation::first_error(&errors);
        ApiError::invalid(param.clone(), format!("{param}: {message}"))
    })
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn too_large(limit: usize) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "the request body is larger than the limit of {limit} bytes"
    ))
}

/// Error handlers for actix's own extractors (paths and queries), so they answer with the
/// envelope too.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _| ApiError::invalid_body(format!("invalid path: {err}")).into())
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        ApiError::invalid_body(format!("invalid query string: {err}")).into()
    })
}

pub fn payload_config(limit: usize) -> web::PayloadConfig {
    web::PayloadConfig::new(limit)
}

/// The form of a `multipart/form-data` body, read part by part; any other body is 400, the
/// message naming the `parts` the route expects.
pub fn multipart_form(
    req: &HttpRequest,
    payload: web::Payload,
    parts: &str,
) -> Result<actix_multipart::Multipart, ApiError> {
    let is_multipart = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("multipart/form-data"));
    if !is_multipart {
        return Err(ApiError::invalid_body(format!(
            "expected Content-Type: multipart/form-data with {parts}"
        )));
    }
    Ok(actix_multipart::Multipart::new(req.headers(), payload))
}

/// The most bytes of a form's part other than its file or data.
pub const MAX_FORM_FIELD: usize = 4096;
/// The most parts of one form: a file, or a part's data, and a few fields.
pub const MAX_FORM_PARTS: usize = 16;

/// The next part of `form`, refused when it would be past [`MAX_FORM_PARTS`] (`read` counts
/// the parts read so far).
pub async fn next_part(
    form: &mut actix_multipart::Multipart,
    read: &mut usize,
) -> Result<Option<actix_multipart::Field>, ApiError> {
    use futures::StreamExt;
    let Some(field) = form.next().await else {
        return Ok(None);
    };
    *read += 1;
    if *read > MAX_FORM_PARTS {
        return Err(ApiError::invalid_body(format!(
            "a form holds at most {MAX_FORM_PARTS} parts"
        )));
    }
    field.map(Some).map_err(malformed)
}

/// The bytes of a form field that is not a file, at most [`MAX_FORM_FIELD`] (refused as `name`
/// past it).
pub async fn field_bytes(
    field: &mut actix_multipart::Field,
    name: &str,
) -> Result<Vec<u8>, ApiError> {
    use futures::StreamExt;
    let mut value = Vec::new();
    while let Some(chunk) = field.next().await {
        value.extend_from_slice(&chunk.map_err(malformed)?);
        if value.len() > MAX_FORM_FIELD {
            return Err(ApiError::invalid(name, "this form field is too long"));
        }
    }
    Ok(value)
}

/// A form that breaks off or is not well-formed, as a 400.
pub fn malformed(e: actix_multipart::MultipartError) -> ApiError {
    ApiError::invalid_body(format!("malformed multipart body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use models::platform::{CollectionDataQuery, SearchRequest};

    fn param_of(e: ApiError) -> Option<String> {
        e.envelope().error.param
    }

    #[test]
    fn a_wrong_type_names_the_field() {
        let e = parse_json::<SearchRequest>(
            br#"{"collection":"c","query":"q","max_num_results":"ten"}"#,
        )
        .unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("max_num_results"));
    }

    #[test]
    fn malformed_json_is_a_body_error() {
        let e = parse_json::<SearchRequest>(b"{\"collection\": ").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert_eq!(param_of(e), None);
    }

    #[test]
    fn anything_after_the_document_is_a_body_error() {
        let e = parse_json::<SearchRequest>(br#"{"collection":"c","query":"q"} {"#).unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
        assert!(parse_json::<SearchRequest>(b"{\"collection\":\"c\",\"query\":\"q\"}\n ").is_ok());
    }

    #[test]
    fn an_empty_body_is_rejected() {
        assert!(
            parse_json::<SearchRequest>(b"  ")
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn a_missing_field_is_reported() {
        let e = parse_json::<SearchRequest>(br#"{"collection":"c"}"#).unwrap_err();
        assert!(e.to_string().contains("query"), "{e}");
    }

    #[test]
    fn a_validation_failure_names_the_field() {
        let e = parse_json::<SearchRequest>(br#"{"collection":"c","query":"  "}"#).unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("query"));
    }

    #[test]
    fn a_nul_anywhere_in_a_body_is_refused_where_it_is() {
        let e = parse_json::<SearchRequest>(
            concat!(
                r#"{"collection":"c","query":"q","#,
                r#""filters":{"type":"eq","key":"k","value":"a\u0000b"}}"#
            )
            .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("filters.value"));
        let e = parse_json::<models::platform::IndexingPayload>(
            concat!(
                r#"{"collection":"c","documents":[{"content":"x"},"#,
                r#"{"content":"x","metadata":{"k\u0000":1}}]}"#
            )
            .as_bytes(),
        )
        .unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("documents[1].metadata"));
        // An escaped backslash before `u0000` is text, not NUL.
        let ok: SearchRequest = parse_json(br#"{"collection":"c","query":"C:\\u0000"}"#).unwrap();
        assert_eq!(ok.query, "C:\\u0000");
    }

    #[test]
    fn a_nul_in_a_crafted_body_fails_that_body_only() {
        // Nested past serde_json's depth limit, the NUL at the bottom: the NUL scan gives up on
        // it, and the typed parse refuses the field.
        let deep = format!(
            "{{\"collection\":\"c\",\"query\":{}\"\\u0000\"{}}}",
            "[".repeat(200),
            "]".repeat(200)
        );
        let e = parse_json::<SearchRequest>(deep.as_bytes()).unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("query"));
        // Invalid UTF-8 beside the escape: not JSON either.
        let e = parse_json::<SearchRequest>(b"{\"collection\":\"c\xff\",\"query\":\"\\u0000\"}")
            .unwrap_err();
        assert!(e.to_string().contains("not valid JSON"), "{e}");
    }

    #[test]
    fn a_nul_in_a_query_string_is_refused() {
        let e = parse_query::<CollectionDataQuery>("collection=c%00x&limit=5").unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("collection"));
        assert!(
            e_message(parse_query::<CollectionDataQuery>("collection=c&x%00=1")).contains("NUL")
        );
    }

    fn e_message<T>(r: Result<T, ApiError>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn a_bad_query_string_names_the_field() {
        let e = parse_query::<CollectionDataQuery>("collection=c&limit=abc").unwrap_err();
        assert_eq!(param_of(e).as_deref(), Some("limit"));
        let ok: CollectionDataQuery = parse_query("collection=c&limit=5&offset=10").unwrap();
        assert_eq!((ok.limit, ok.offset), (Some(5), Some(10)));
        let e = parse_query::<CollectionDataQuery>("limit=5").unwrap_err();
        assert!(e.to_string().contains("collection"), "{e}");
    }
}
