//! The OpenAI error envelope: `{"error": {"message", "type", "param", "code"}}`; `param` and
//! `code` are present as `null` when unknown.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub param: Option<String>,
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
            serde_json::json!({"error": {"message": "m", "type": "invalid_request_error", "param": null, "code": null}})
        );
    }
}
