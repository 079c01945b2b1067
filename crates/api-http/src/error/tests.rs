//! Tests of the error envelope: each error's status, type, code and param, on every surface.

use super::*;
use embeddings::EmbedError;
use service::RateLimited;
use store_core::StoreError;

/// The HTTP error of a failure of the service.
fn api(e: impl Into<ServiceError>) -> ApiError {
    ApiError::Service(e.into())
}

#[test]
fn every_class_has_exactly_one_row() {
    for class in [
        Class::InvalidRequest,
        Class::Unauthorized,
        Class::Forbidden,
        Class::NotFound,
        Class::MethodNotAllowed,
        Class::Conflict,
        Class::PayloadTooLarge,
        Class::QuotaExceeded,
        Class::RateLimited,
        Class::InsufficientStorage,
        Class::Unavailable,
        Class::Internal,
    ] {
        assert_eq!(ERROR_TABLE.iter().filter(|r| r.class == class).count(), 1);
    }
}

#[test]
fn store_kinds_map_to_their_statuses() {
    let cases = [
        (StoreError::not_found("collection", "x"), 404),
        (StoreError::invalid("bad"), 400),
        (StoreError::conflict("dup"), 409),
        (
            StoreError::unavailable("down", std::io::Error::other("refused")),
            503,
        ),
        (StoreError::internal_msg("boom"), 500),
    ];
    for (e, status) in cases {
        assert_eq!(api(e).status_code().as_u16(), status);
    }
}

#[test]
fn internal_errors_never_leak_their_cause() {
    let e = api(StoreError::internal(
        "query failed",
        std::io::Error::other("password=hunter2"),
    ));
    let env = e.envelope();
    assert!(!env.error.message.contains("hunter2"));
    assert!(!env.error.message.contains("query failed"));
    assert_eq!(env.error.kind, "server_error");
}

#[test]
fn invalid_input_carries_its_param() {
    let e = api(StoreError::dimension_mismatch(
        Field::Chunk(DocumentPart::Vector),
        3,
        2,
    ));
    assert_eq!(e.envelope().error.param.as_deref(), Some("vector"));
    assert_eq!(e.status_code(), StatusCode::BAD_REQUEST);
}

#[test]
fn each_surface_names_a_field_in_its_own_words() {
    let text = |index| Field::Document {
        index,
        part: DocumentPart::Text,
    };
    let cases = [
        (Field::Model, ["embedding_model", "model_name", "model"]),
        (Field::Query, ["query", "query", "text"]),
        (
            text(3),
            [
                "documents[3].text",
                "documents[3].content",
                "documents[3].text",
            ],
        ),
        (
            Field::Backend,
            ["storage_backend", "storage_backend", "storage_backend"],
        ),
    ];
    for (field, [openai, platform, raw]) in cases {
        let e = api(ServiceError::invalid(field, "bad"));
        let param = |env: ErrorEnvelope| env.error.param.unwrap();
        assert_eq!(param(e.envelope_on::<OpenAi>()), openai);
        assert_eq!(param(e.envelope_on::<Platform>()), platform);
        assert_eq!(param(e.envelope_on::<Raw>()), raw);
    }
    let on_platform: SurfaceError<Platform> =
        ServiceError::invalid(Field::Model, "unknown model").into();
    let res = on_platform.error_response();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

#[test]
fn embedding_errors_map_to_client_or_server_faults() {
    let too_long = api(EmbedError::InputTooLong {
        index: 0,
        tokens: 300,
        max: 256,
    });
    assert_eq!(too_long.status_code(), StatusCode::BAD_REQUEST);
    let down = api(EmbedError::Unavailable {
        message: "timeout".into(),
        source: None,
    });
    assert_eq!(down.status_code(), StatusCode::SERVICE_UNAVAILABLE);
}

#[test]
fn an_unavailable_back_end_is_not_described_to_the_caller() {
    let e = api(StoreError::unavailable(
        "http://10.1.2.3:9200/_bulk refused",
        std::io::Error::other("connect to internal-es.corp:9200"),
    ));
    let message = e.envelope().error.message;
    assert_eq!(e.status_code(), StatusCode::SERVICE_UNAVAILABLE);
    for internal in ["10.1.2.3", "9200", "internal-es", "_bulk"] {
        assert!(!message.contains(internal), "{message}");
    }
}

#[test]
fn conflicts_tell_clients_not_to_retry() {
    let res = api(StoreError::conflict("dup")).error_response();
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(res.headers().get("x-should-retry").unwrap(), "false");
}

#[test]
fn a_rate_limited_request_is_429_with_when_to_retry() {
    let e = api(RateLimited {
        per_second: 2,
        limit: 5,
        retry_after: std::time::Duration::from_millis(1500),
    });
    let env = e.envelope();
    assert!(env.error.message.starts_with("Rate limit reached"));
    assert_eq!(env.error.kind, "requests");
    assert_eq!(env.error.code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(env.error.param, None);
    let res = e.error_response();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers();
    assert_eq!(h.get("retry-after").unwrap(), "2");
    assert_eq!(h.get("retry-after-ms").unwrap(), "1500");
    assert_eq!(h.get(LIMIT_HEADER).unwrap(), "5");
    assert_eq!(h.get(REMAINING_HEADER).unwrap(), "0");
}

#[test]
fn a_request_over_the_in_flight_bounds_is_429_for_its_tenant_and_503_for_the_server() {
    for (server_wide, status) in [
        (false, StatusCode::TOO_MANY_REQUESTS),
        (true, StatusCode::SERVICE_UNAVAILABLE),
    ] {
        let e = api(service::TooManyInFlight {
            limit: 12,
            server_wide,
        });
        let res = e.error_response();
        assert_eq!(res.status(), status);
        assert_eq!(res.headers().get("retry-after").unwrap(), "1");
        let env = e.envelope();
        assert!(
            env.error.message.contains("at most 12 at once"),
            "{}",
            env.error.message
        );
    }
}

#[test]
fn a_quota_refusal_is_403_naming_the_quota_and_a_full_disk_507() {
    let e = api(StoreError::QuotaExceeded {
        quota: store_core::Quota::VectorStores,
        limit: 3,
    });
    assert_eq!(e.status_code(), StatusCode::FORBIDDEN);
    let env = e.envelope();
    assert_eq!(env.error.code.as_deref(), Some("quota_exceeded"));
    assert!(
        env.error.message.contains("quotas.max_vector_stores"),
        "{}",
        env.error.message
    );
    let e = api(ServiceError::InsufficientStorage("full".into()));
    assert_eq!(e.status_code(), StatusCode::INSUFFICIENT_STORAGE);
    assert_eq!(e.envelope().error.message, "full");
}
