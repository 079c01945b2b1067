//! The one error type of the client: an error the API answered, a request that never got an
//! answer, an answer that does not decode, a local file that cannot be read, or a bad argument.

use std::path::PathBuf;
use std::time::Duration;

use models::ErrorEnvelope;
use serde_json::Value;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with a status other than 2xx. `kind`, `param` and `code` come from the
    /// error envelope `{"error": {"message", "type", "param", "code"}}` when the body is one.
    #[error("{status}: {message}")]
    Api {
        status: u16,
        message: String,
        kind: Option<String>,
        param: Option<String>,
        code: Option<String>,
    },
    /// The request was not sent, or no complete answer came back (connection, timeout, TLS).
    #[error("request failed: {0}")]
    Transport(#[from] reqwest::Error),
    /// A 2xx answer whose body is not the expected object.
    #[error("cannot decode the {status} response: {source}")]
    Decode {
        status: u16,
        #[source]
        source: serde_json::Error,
    },
    /// A file to upload cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An argument the client refuses before sending anything (an empty id, a bad base URL or
    /// header).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A polling helper gave up after the client's poll timeout.
    #[error("{id} was still in progress after {waited:?}")]
    PollTimeout { id: String, waited: Duration },
}

impl Error {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::Transport(e) => e.status().map(|s| s.as_u16()),
            Error::Decode { status, .. } => Some(*status),
            Error::Io { .. } | Error::InvalidArgument(_) | Error::PollTimeout { .. } => None,
        }
    }

    /// An API error from a non-2xx answer: the envelope's fields when the body is one, else the
    /// body's text (or the status's reason when it is empty) as the message.
    pub fn from_response(status: u16, body: &[u8]) -> Error {
        if let Ok(ErrorEnvelope { error }) = serde_json::from_slice::<ErrorEnvelope>(body) {
            return Error::Api {
                status,
                message: error.message,
                kind: Some(error.kind),
                param: error.param,
                code: error.code,
            };
        }
        // Lenient reading of envelopes from other servers: any field may be missing, and
        // `code` may be a number.
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |v: Option<&Value>| match v {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(other) => Some(other.to_string()),
        };
        let inner = value.get("error");
        let message = match inner {
            Some(Value::String(s)) => Some(s.clone()),
            Some(obj) => text(obj.get("message")),
            None => None,
        }
        .unwrap_or_else(|| {
            let body = String::from_utf8_lossy(body).trim().to_string();
            if body.is_empty() {
                reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("unknown error")
                    .to_string()
            } else {
                body
            }
        });
        let field = |name: &str| inner.and_then(|e| text(e.get(name)));
        Error::Api {
            status,
            message,
            kind: field("type"),
            param: field("param"),
            code: field("code"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::api_error;

    #[test]
    fn the_envelope_fills_every_field() {
        let body = concat!(
            r#"{"error":{"message":"no such vector store","type":"invalid_request_error","#,
            r#""param":"vector_store_id","code":"not_found"}}"#
        )
        .as_bytes();
        assert_eq!(
            api_error(&Error::from_response(404, body)),
            (
                404,
                "no such vector store",
                Some("invalid_request_error"),
                Some("vector_store_id"),
                Some("not_found")
            )
        );
    }

    #[test]
    fn a_body_that_is_no_envelope_becomes_the_message() {
        let e = Error::from_response(502, b"  bad gateway from the proxy \n");
        assert_eq!(e.to_string(), "502: bad gateway from the proxy");
        assert_eq!(e.status(), Some(502));
        let e = Error::from_response(503, b"");
        assert_eq!(e.to_string(), "503: Service Unavailable");
    }

    #[test]
    fn a_partial_envelope_is_read_leniently() {
        let e = Error::from_response(429, br#"{"error":{"message":"slow down","code":429}}"#);
        assert_eq!(api_error(&e), (429, "slow down", None, None, Some("429")));
        let e = Error::from_response(400, br#"{"error":"bad request"}"#);
        assert_eq!(e.to_string(), "400: bad request");
    }
}
