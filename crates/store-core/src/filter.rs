//! The filter model handed to back-ends: the OpenAI comparison/compound grammar, already validated.
//!
//! The wire type lives in `models` (it is part of every search payload); this module re-exports it
//! so back-ends name one type, and adds the evaluation rules every back-end must follow:
//! - `eq`/`ne` compare a scalar; on a list attribute (`topics`), `eq` matches when any element
//!   equals the value;
//! - `gt`/`gte`/`lt`/`lte` compare numbers with numbers and strings with strings (code-point
//!   order); a value of another type never matches;
//! - `in`/`nin` are `eq` against any of the listed values, and its negation;
//! - a missing key fails every comparison but `ne` and `nin`, which it satisfies.

pub use models::filter::{Comparison, Filter, FilterValue, Op, Scalar};

/// Evaluates a filter against one attribute map, following the rules above. Back-ends compile
/// filters to their own query language; this reference is what the conformance suite and unit
/// tests compare them with.
pub fn matches(filter: &Filter, attributes: &serde_json::Map<String, serde_json::Value>) -> bool {
    match filter {
        Filter::And(all) => all.iter().all(|f| matches(f, attributes)),
        Filter::Or(any) => any.iter().any(|f| matches(f, attributes)),
        Filter::Comparison(c) => comparison_matches(c, attributes.get(&c.key)),
    }
}

fn comparison_matches(c: &Comparison, stored: Option<&serde_json::Value>) -> bool {
    let values: Vec<&serde_json::Value> = match stored {
        None | Some(serde_json::Value::Null) => Vec::new(),
        Some(serde_json::Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    let any = |pred: &dyn Fn(&serde_json::Value) -> bool| values.iter().any(|v| pred(v));
    match (&c.op, &c.value) {
        (Op::Eq, FilterValue::Scalar(s)) => any(&|v| scalar_eq(s, v)),
        (Op::Ne, FilterValue::Scalar(s)) => !any(&|v| scalar_eq(s, v)),
        (Op::In, FilterValue::List(list)) => any(&|v| list.iter().any(|s| scalar_eq(s, v))),
        (Op::Nin, FilterValue::List(list)) => !any(&|v| list.iter().any(|s| scalar_eq(s, v))),
        (op @ (Op::Gt | Op::Gte | Op::Lt | Op::Lte), FilterValue::Scalar(s)) => {
            any(&|v| match scalar_cmp(s, v) {
                Some(ord) => match op {
                    // `ord` is stored.cmp(filter value)
                    Op::Gt => ord.is_gt(),
                    Op::Gte => ord.is_ge(),
                    Op::Lt => ord.is_lt(),
                    Op::Eq | Op::Ne | Op::Lte | Op::In | Op::Nin => ord.is_le(),
                },
                None => false,
            })
        }
        // The parser never builds these pairs.
        _ => false,
    }
}

fn scalar_eq(s: &Scalar, v: &serde_json::Value) -> bool {
    match (s, v) {
        (Scalar::String(a), serde_json::Value::String(b)) => a == b,
        (Scalar::Number(a), serde_json::Value::Number(b)) => b.as_f64() == Some(*a),
        (Scalar::Bool(a), serde_json::Value::Bool(b)) => a == b,
        _ => false,
    }
}

fn scalar_cmp(s: &Scalar, v: &serde_json::Value) -> Option<std::cmp::Ordering> {
    match (s, v) {
        (Scalar::String(a), serde_json::Value::String(b)) => Some(b.as_str().cmp(a.as_str())),
        (Scalar::Number(a), serde_json::Value::Number(b)) => b.as_f64()?.partial_cmp(a),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn f(v: serde_json::Value) -> Filter {
        serde_json::from_value(v).expect("valid filter")
    }

    fn attrs(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn eq_on_a_list_attribute_matches_any_element() {
        let a = attrs(json!({"topics": ["rust", "db"]}));
        assert!(matches(
            &f(json!({"type": "eq", "key": "topics", "value": "db"})),
            &a
        ));
        assert!(!matches(
            &f(json!({"type": "eq", "key": "topics", "value": "go"})),
            &a
        ));
    }

    #[test]
    fn a_missing_key_satisfies_only_ne_and_nin() {
        let a = attrs(json!({}));
        assert!(matches(
            &f(json!({"type": "ne", "key": "k", "value": 1})),
            &a
        ));
        assert!(matches(
            &f(json!({"type": "nin", "key": "k", "value": [1]})),
            &a
        ));
        for op in ["eq", "gt", "gte", "lt", "lte"] {
            assert!(
                !matches(&f(json!({"type": op, "key": "k", "value": 1})), &a),
                "{op}"
            );
        }
        assert!(!matches(
            &f(json!({"type": "in", "key": "k", "value": [1]})),
            &a
        ));
    }

    #[test]
    fn ranges_never_match_across_types() {
        let a = attrs(json!({"n": "10"}));
        assert!(!matches(
            &f(json!({"type": "gt", "key": "n", "value": 1})),
            &a
        ));
        let a = attrs(json!({"n": 10}));
        assert!(matches(
            &f(json!({"type": "gt", "key": "n", "value": 1})),
            &a
        ));
        assert!(matches(
            &f(json!({"type": "lte", "key": "n", "value": 10})),
            &a
        ));
        assert!(!matches(
            &f(json!({"type": "lt", "key": "n", "value": 10})),
            &a
        ));
    }

    #[test]
    fn numbers_compare_by_value_not_by_spelling() {
        let a = attrs(json!({"n": 5}));
        assert!(matches(
            &f(json!({"type": "eq", "key": "n", "value": 5.0})),
            &a
        ));
    }

    #[test]
    fn nested_compounds_combine() {
        let a = attrs(json!({"lang": "en", "year": 2020, "draft": false}));
        let filter = f(json!({"type": "and", "filters": [
            {"type": "eq", "key": "lang", "value": "en"},
            {"type": "or", "filters": [
                {"type": "gte", "key": "year", "value": 2021},
                {"type": "eq", "key": "draft", "value": false}
            ]}
        ]}));
        assert!(matches(&filter, &a));
    }
}
