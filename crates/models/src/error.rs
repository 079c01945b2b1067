//! The OpenAI error envelope: `{"error": {"message", "type", "param", "code"}}`; `param` and
//! `code` are present as `null` when unknown.

use serde::{Deserialize, Serialize};

/// Every error response: `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    /// What went wrong, for a person to read.
    #[cfg_attr(feature = "openapi", schema(example = "vector store 'vs_1' not found"))]
    pub message: String,
    /// The kind of error, such as `invalid_request_error`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "openapi", schema(example = "invalid_request_error"))]
    pub kind: String,
    /// The request field at fault (a dotted path such as `documents[2].content`); `null` when
    /// none is.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub param: Option<String>,
    /// A machine-readable code; `null` when there is none.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub code: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_param_and_code_serialize_as_null() {
        let e = ErrorEnvelope {
            error: ErrorBody {
                message: "m".into(),
                kind: "invalid_request_error".into(),
                param: None,
                code: None,
            },
        };
        let v = serde_json::to_value(e).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "error": {
                    "message": "m",
                    "type": "invalid_request_error",
                    "param": null,
                    "code": null
                }
            })
        );
    }
}
