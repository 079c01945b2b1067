//! Validation rules shared by the platform, raw and OpenAI payloads, and the conversion of a
//! [`validator::ValidationErrors`] into the `(param, message)` of the error envelope.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};
use validator::{ValidationError, ValidationErrors, ValidationErrorsKind};

pub const METADATA_MAX_KEYS: usize = 16;
pub const METADATA_MAX_KEY_LEN: usize = 64;
pub const METADATA_MAX_VALUE_LEN: usize = 512;
pub const MAX_ID_LEN: usize = 256;

/// Collection names: a lowercase letter, then up to 62 lowercase letters, digits or `_`.
pub static COLLECTION_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z][a-z0-9_]{0,62}$").expect("static regex"));

fn error(code: &'static str, message: impl Into<Cow<'static, str>>) -> ValidationError {
    ValidationError::new(code).with_message(message.into())
}

/// The position of the first id that an earlier one already had.
pub fn first_duplicate<'a, I: IntoIterator<Item = &'a str>>(ids: I) -> Option<usize> {
    let mut seen = std::collections::HashSet::new();
    ids.into_iter().position(|id| !seen.insert(id))
}

pub fn collection_name(name: &str) -> Result<(), ValidationError> {
    if COLLECTION_NAME.is_match(name) {
        Ok(())
    } else {
        Err(error(
            "collection_name",
            "must start with a lowercase letter and hold only lowercase letters, digits and '_', \
             63 characters at most",
        ))
    }
}

pub fn not_blank(s: &str) -> Result<(), ValidationError> {
    if s.trim().is_empty() {
        Err(error("blank", "must not be empty or blank"))
    } else {
        Ok(())
    }
}

pub fn id(s: &str) -> Result<(), ValidationError> {
    not_blank(s)?;
    if s.chars().count() > MAX_ID_LEN {
        return Err(error(
            "id_length",
            format!("must be at most {MAX_ID_LEN} characters"),
        ));
    }
    Ok(())
}

/// List items (`links`, `topics`): each at most [`METADATA_MAX_VALUE_LEN`] characters.
pub fn short_items(items: &[String]) -> Result<(), ValidationError> {
    match items
        .iter()
        .position(|i| i.chars().count() > METADATA_MAX_VALUE_LEN)
    {
        Some(at) => Err(error(
            "item_length",
            format!("item {at} is longer than {METADATA_MAX_VALUE_LEN} characters"),
        )),
        None => Ok(()),
    }
}

/// Metadata and attributes: at most 16 keys, keys of 1 to 64 characters, values strings of at
/// most 512 characters, numbers or booleans.
pub fn metadata(map: &Map<String, Value>) -> Result<(), ValidationError> {
    if map.len() > METADATA_MAX_KEYS {
        return Err(error(
            "metadata_keys",
            format!(
                "may hold at most {METADATA_MAX_KEYS} keys, got {}",
                map.len()
            ),
        ));
    }
    for (k, v) in map {
        if k.is_empty() || k.chars().count() > METADATA_MAX_KEY_LEN {
            return Err(error(
                "metadata_key",
                format!(
                    "keys must be 1 to {METADATA_MAX_KEY_LEN} characters ('{}')",
                    shorten(k)
                ),
            ));
        }
        match v {
            Value::String(s) if s.chars().count() > METADATA_MAX_VALUE_LEN => {
                return Err(error(
                    "metadata_value",
                    format!(
                        "the value of '{k}' is longer than {METADATA_MAX_VALUE_LEN} characters"
                    ),
                ));
            }
            Value::String(_) | Value::Bool(_) => {}
            Value::Number(n) if n.as_f64().is_some_and(number_in_range) => {}
            Value::Number(_) => {
                return Err(error(
                    "metadata_value",
                    format!(
                        "the value of '{k}' must be a number of magnitude at most {MAX_NUMBER:e}"
                    ),
                ));
            }
            Value::Null | Value::Array(_) | Value::Object(_) => {
                return Err(error(
                    "metadata_value",
                    format!("the value of '{k}' must be a string, number or boolean"),
                ));
            }
        }
    }
    Ok(())
}

/// The largest magnitude of a number in metadata or attributes: beyond it, PostgreSQL's `jsonb`
/// hands back a decimal that does not read as a 64-bit float again.
pub const MAX_NUMBER: f64 = 1e308;

/// Whether `n` is a number metadata and attributes may hold: finite, magnitude at most
/// [`MAX_NUMBER`].
pub fn number_in_range(n: f64) -> bool {
    n.is_finite() && n.abs() <= MAX_NUMBER
}

/// Like [`metadata`], with string values only (the OpenAI vector store's `metadata`).
pub fn string_metadata(map: &Map<String, Value>) -> Result<(), ValidationError> {
    metadata(map)?;
    match map.iter().find(|(_, v)| !v.is_string()) {
        Some((k, _)) => Err(error(
            "metadata_value",
            format!("the value of '{k}' must be a string"),
        )),
        None => Ok(()),
    }
}

fn shorten(s: &str) -> String {
    s.chars().take(70).collect()
}

/// The first failure as `(param, message)`, `param` being the dotted path of the field
/// (`documents[2].content`). Deterministic: fields are visited in name order.
pub fn first_error(errors: &ValidationErrors) -> (String, String) {
    first(errors, "").unwrap_or_else(|| (String::new(), "invalid request".to_string()))
}

fn first(errors: &ValidationErrors, prefix: &str) -> Option<(String, String)> {
    let mut fields: Vec<_> = errors.errors().iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, kind) in fields {
        let path = if field == "__all__" {
            prefix.to_string()
        } else if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(errs) => {
                if let Some(e) = errs.first() {
                    return Some((path, describe(e)));
                }
            }
            ValidationErrorsKind::Struct(inner) => {
                if let Some(found) = first(inner, &path) {
                    return Some(found);
                }
            }
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    if let Some(found) = first(inner, &format!("{path}[{i}]")) {
                        return Some(found);
                    }
                }
            }
        }
    }
    None
}

fn describe(e: &ValidationError) -> String {
    if let Some(m) = &e.message {
        return m.to_string();
    }
    let p = |name: &str| e.params.get(name).map(ToString::to_string);
    match e.code.as_ref() {
        "range" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".to_string(),
        },
        "length" => match (p("min"), p("max")) {
            (Some(min), Some(max)) => format!("must hold between {min} and {max} items"),
            (Some(min), None) => format!("must hold at least {min} items"),
            (None, Some(max)) => format!("must hold at most {max} items"),
            _ => "has the wrong length".to_string(),
        },
        other => format!("is invalid ({other})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn collection_names_follow_the_pattern() {
        for ok in ["a", "docs", "a_1", &format!("a{}", "b".repeat(62))] {
            assert!(collection_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1a",
            "_a",
            "A",
            "a-b",
            "a b",
            "é",
            &format!("a{}", "b".repeat(63)),
        ] {
            assert!(collection_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blank_strings_are_rejected() {
        assert!(not_blank("  \n\t").is_err());
        assert!(not_blank("").is_err());
        assert!(not_blank(" x ").is_ok());
    }

    #[test]
    fn metadata_limits_are_enforced() {
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(metadata(&many).is_err());
        let sixteen: Map<String, Value> = (0..16).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(metadata(&sixteen).is_ok());
        assert!(metadata(&obj(json!({"k".repeat(65): 1}))).is_err());
        assert!(metadata(&obj(json!({"k".repeat(64): 1}))).is_ok());
        assert!(metadata(&obj(json!({"k": "v".repeat(513)}))).is_err());
        assert!(metadata(&obj(json!({"k": "é".repeat(512)}))).is_ok());
        assert!(metadata(&obj(json!({"k": null}))).is_err());
        assert!(metadata(&obj(json!({"k": [1]}))).is_err());
        assert!(metadata(&obj(json!({"k": {"a": 1}}))).is_err());
        assert!(metadata(&obj(json!({"": 1}))).is_err());
        assert!(metadata(&obj(json!({"k": 1e308, "l": -1e308, "m": 5e-324}))).is_ok());
        assert!(metadata(&obj(json!({"k": 1.7976931348623157e308}))).is_err());
        assert!(metadata(&obj(json!({"k": -1.5e308}))).is_err());
        assert!(string_metadata(&obj(json!({"k": 1}))).is_err());
        assert!(string_metadata(&obj(json!({"k": "1"}))).is_ok());
    }

    #[test]
    fn the_first_repeated_id_is_found_by_position() {
        assert_eq!(first_duplicate(["a", "b", "a", "b"]), Some(2));
        assert_eq!(first_duplicate(["a", "b"]), None);
        assert_eq!(first_duplicate(std::iter::empty()), None);
    }
}
