//! The OpenAI attribute-filter grammar: comparison filters
//! `{"type": eq|ne|gt|gte|lt|lte|in|nin, "key", "value"}` and compound filters
//! `{"type": and|or, "filters": [...]}`, nested.
//!
//! Parsing validates as it goes, so a [`Filter`] that exists is well-typed: `eq`/`ne` take a
//! string, number or boolean; `gt`/`gte`/`lt`/`lte` a number or string; `in`/`nin` a non-empty
//! list of strings and numbers. Unknown operators, unknown fields and wrong value types are
//! errors with a message that names the place in the filter.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value, json};

/// How deep compound filters may nest.
pub const MAX_DEPTH: usize = 8;
/// How many comparisons one filter may hold in all.
pub const MAX_COMPARISONS: usize = 128;
/// How many values an `in`/`nin` list may hold.
pub const MAX_LIST: usize = 256;
/// The longest attribute key.
pub const MAX_KEY_LEN: usize = 64;
/// How many values one filter may compare against in all (every back-end binds each one).
pub const MAX_VALUES: usize = 1024;
/// The longest string value, in characters.
pub const MAX_STRING_VALUE_LEN: usize = 512;

/// What a filter has used of its bounds so far.
#[derive(Default)]
struct Budget {
    comparisons: usize,
    values: usize,
}

/// A comparison or a compound of filters, parsed and validated ([`Filter::from_json`]). Its
/// OpenAPI schema (feature `openapi`) is written by hand: `Filter` is one of
/// `ComparisonFilter` and `CompoundFilter`, whose `filters` are `Filter`s again.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Comparison(Comparison),
    And(Vec<Filter>),
    Or(Vec<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub key: String,
    pub op: Op,
    pub value: FilterValue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Gte,
    Lt,
    Lte,
    In,
    Nin,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::Nin => "nin",
        }
    }

    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "in" => Op::In,
            "nin" => Op::Nin,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    String(String),
    Number(f64),
    Bool(bool),
}

impl Scalar {
    pub fn to_json(&self) -> Value {
        match self {
            Scalar::String(s) => Value::String(s.clone()),
            Scalar::Number(n) => json!(n),
            Scalar::Bool(b) => Value::Bool(*b),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    Scalar(Scalar),
    List(Vec<Scalar>),
}

impl Filter {
    /// Parses and validates a filter from JSON.
    pub fn from_json(v: &Value) -> Result<Filter, String> {
        parse(v, "filters", 0, &mut Budget::default())
    }

    pub fn to_json(&self) -> Value {
        match self {
            Filter::Comparison(c) => json!({
                "type": c.op.as_str(),
                "key": c.key,
                "value": match &c.value {
                    FilterValue::Scalar(s) => s.to_json(),
                    FilterValue::List(l) => Value::Array(l.iter().map(Scalar::to_json).collect()),
                }
            }),
            Filter::And(fs) => {
                json!({
                    "type": "and",
                    "filters": fs.iter().map(Filter::to_json).collect::<Vec<_>>()
                })
            }
            Filter::Or(fs) => {
                json!({"type": "or", "filters": fs.iter().map(Filter::to_json).collect::<Vec<_>>()})
            }
        }
    }
}

fn parse(v: &Value, at: &str, depth: usize, budget: &mut Budget) -> Result<Filter, String> {
    if depth > MAX_DEPTH {
        return Err(format!("{at}: filters nest deeper than {MAX_DEPTH} levels"));
    }
    let obj = v
        .as_object()
        .ok_or_else(|| format!("{at}: a filter must be an object, got {}", type_name(v)))?;
    let ty = obj
        .get("type")
        .ok_or_else(|| format!("{at}: missing 'type'"))?
        .as_str()
        .ok_or_else(|| format!("{at}.type: must be a string"))?;
    match ty {
        "and" | "or" => {
            only_fields(obj, &["type", "filters"], at)?;
            let list = obj
                .get("filters")
                .ok_or_else(|| format!("{at}: a compound filter needs 'filters'"))?
                .as_array()
                .ok_or_else(|| format!("{at}.filters: must be an array"))?;
            if list.is_empty() {
                return Err(format!("{at}.filters: must not be empty"));
            }
            let parsed = list
                .iter()
                .enumerate()
                .map(|(i, f)| parse(f, &format!("{at}.filters[{i}]"), depth + 1, budget))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(if ty == "and" {
                Filter::And(parsed)
            } else {
                Filter::Or(parsed)
            })
        }
        other => {
            let op = Op::parse(other).ok_or_else(|| {
                format!(
                    "{at}.type: unknown filter type '{other}'; expected one of eq, ne, gt, gte, \
                     lt, lte, in, nin, and, or"
                )
            })?;
            only_fields(obj, &["type", "key", "value"], at)?;
            budget.comparisons += 1;
            if budget.comparisons > MAX_COMPARISONS {
                return Err(format!(
                    "{at}: a filter may hold at most {MAX_COMPARISONS} comparisons"
                ));
            }
            let key = obj
                .get("key")
                .ok_or_else(|| format!("{at}: missing 'key'"))?
                .as_str()
                .ok_or_else(|| format!("{at}.key: must be a string"))?;
            if key.is_empty() || key.chars().count() > MAX_KEY_LEN {
                return Err(format!("{at}.key: must be 1 to {MAX_KEY_LEN} characters"));
            }
            let raw = obj
                .get("value")
                .ok_or_else(|| format!("{at}: missing 'value'"))?;
            let value = parse_value(op, raw, &format!("{at}.value"))?;
            let scalars: Vec<&Scalar> = match &value {
                FilterValue::Scalar(s) => vec![s],
                FilterValue::List(l) => l.iter().collect(),
            };
            budget.values += scalars.len();
            if budget.values > MAX_VALUES {
                return Err(format!(
                    "{at}: a filter may compare against at most {MAX_VALUES} values in all"
                ));
            }
            if scalars
                .iter()
                .any(|s| matches!(s, Scalar::String(v) if v.chars().count() > MAX_STRING_VALUE_LEN))
            {
                return Err(format!(
                    "{at}.value: strings are at most {MAX_STRING_VALUE_LEN} characters"
                ));
            }
            if key.contains('\0')
                || scalars
                    .iter()
                    .any(|s| matches!(s, Scalar::String(v) if v.contains('\0')))
            {
                return Err(format!("{at}: keys and values may not hold NUL (U+0000)"));
            }
            Ok(Filter::Comparison(Comparison {
                key: key.to_string(),
                op,
                value,
            }))
        }
    }
}

fn parse_value(op: Op, v: &Value, at: &str) -> Result<FilterValue, String> {
    let scalar = |v: &Value| -> Option<Scalar> {
        match v {
            Value::String(s) => Some(Scalar::String(s.clone())),
            Value::Number(n) => n.as_f64().filter(|f| f.is_finite()).map(Scalar::Number),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Null | Value::Array(_) | Value::Object(_) => None,
        }
    };
    match op {
        Op::Eq | Op::Ne => scalar(v).map(FilterValue::Scalar).ok_or_else(|| {
            format!(
                "{at}: '{}' takes a string, number or boolean, got {}",
                op.as_str(),
                type_name(v)
            )
        }),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => match scalar(v) {
            Some(s @ (Scalar::String(_) | Scalar::Number(_))) => Ok(FilterValue::Scalar(s)),
            _ => Err(format!(
                "{at}: '{}' takes a number or string, got {}",
                op.as_str(),
                type_name(v)
            )),
        },
        Op::In | Op::Nin => {
            let list = v.as_array().ok_or_else(|| {
                format!(
                    "{at}: '{}' takes an array, got {}",
                    op.as_str(),
                    type_name(v)
                )
            })?;
            if list.is_empty() || list.len() > MAX_LIST {
                return Err(format!(
                    "{at}: '{}' takes 1 to {MAX_LIST} values",
                    op.as_str()
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, item)| match scalar(item) {
                    Some(s @ (Scalar::String(_) | Scalar::Number(_))) => Ok(s),
                    _ => Err(format!(
                        "{at}[{i}]: '{}' values must be strings or numbers, got {}",
                        op.as_str(),
                        type_name(item)
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(FilterValue::List)
        }
    }
}

fn only_fields(obj: &Map<String, Value>, allowed: &[&str], at: &str) -> Result<(), String> {
    match obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{at}: unknown field '{k}'")),
        None => Ok(()),
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Serialize for Filter {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Filter::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "openapi")]
mod schema {
    //! The filter grammar as OpenAPI: `Filter` = `ComparisonFilter` | `CompoundFilter`, the
    //! compound's `filters` referring back to `Filter`.

    use utoipa::openapi::schema::{
        AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type,
    };
    use utoipa::openapi::{Ref, RefOr};
    use utoipa::{PartialSchema, ToSchema};

    use super::{Filter, MAX_COMPARISONS, MAX_DEPTH, MAX_KEY_LEN, MAX_LIST, MAX_STRING_VALUE_LEN};
    use crate::openapi::{one_of_strings, string};

    fn named(name: &str) -> RefOr<Schema> {
        RefOr::Ref(Ref::from_schema_name(name))
    }

    fn typed(t: Type) -> ObjectBuilder {
        ObjectBuilder::new().schema_type(t)
    }

    /// `{"type": eq|ne|gt|gte|lt|lte|in|nin, "key", "value"}`.
    pub struct ComparisonFilter;

    impl PartialSchema for ComparisonFilter {
        fn schema() -> RefOr<Schema> {
            let text = || string().max_length(Some(MAX_STRING_VALUE_LEN)).build();
            let value = OneOfBuilder::new()
                .description(Some(format!(
                    "`eq` and `ne` take a string, number or boolean; `gt`, `gte`, `lt` and `lte` \
                     a number or string; `in` and `nin` a list of 1 to {MAX_LIST} strings and \
                     numbers. Strings are at most {MAX_STRING_VALUE_LEN} characters."
                )))
                .item(text())
                .item(typed(Type::Number).build())
                .item(typed(Type::Boolean).build())
                .item(
                    ArrayBuilder::new()
                        .items(
                            OneOfBuilder::new()
                                .item(text())
                                .item(typed(Type::Number).build()),
                        )
                        .min_items(Some(1))
                        .max_items(Some(MAX_LIST)),
                );
            typed(Type::Object)
                .title(Some("Comparison filter"))
                .description(Some("Compares the attribute `key` with `value`."))
                .property(
                    "type",
                    one_of_strings(&["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]),
                )
                .required("type")
                .property(
                    "key",
                    string()
                        .description(Some("The attribute to compare."))
                        .min_length(Some(1))
                        .max_length(Some(MAX_KEY_LEN)),
                )
                .required("key")
                .property("value", value)
                .required("value")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .examples([serde_json::json!({"type": "eq", "key": "lang", "value": "en"})])
                .into()
        }
    }

    impl ToSchema for ComparisonFilter {}

    /// `{"type": and|or, "filters": [...]}`.
    pub struct CompoundFilter;

    impl PartialSchema for CompoundFilter {
        fn schema() -> RefOr<Schema> {
            typed(Type::Object)
                .title(Some("Compound filter"))
                .description(Some(format!(
                    "All (`and`) or any (`or`) of `filters`, which nest at most {MAX_DEPTH} \
                     levels deep and hold at most {MAX_COMPARISONS} comparisons in all."
                )))
                .property("type", one_of_strings(&["and", "or"]))
                .required("type")
                .property(
                    "filters",
                    ArrayBuilder::new()
                        .items(named(&Filter::name()))
                        .min_items(Some(1)),
                )
                .required("filters")
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .examples([serde_json::json!({"type": "or", "filters": [
                    {"type": "eq", "key": "lang", "value": "en"},
                    {"type": "gte", "key": "year", "value": 2020}
                ]})])
                .into()
        }
    }

    impl ToSchema for CompoundFilter {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            // `Filter` itself is registered by whoever refers to it (or by `Filter::schemas`).
            schemas.push((ComparisonFilter::name().into(), ComparisonFilter::schema()));
        }
    }

    impl PartialSchema for Filter {
        fn schema() -> RefOr<Schema> {
            OneOfBuilder::new()
                .description(Some(
                    "An attribute filter: a comparison, or a compound of filters.",
                ))
                .item(named(&ComparisonFilter::name()))
                .item(named(&CompoundFilter::name()))
                .into()
        }
    }

    impl ToSchema for Filter {
        fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
            schemas.push((ComparisonFilter::name().into(), ComparisonFilter::schema()));
            schemas.push((CompoundFilter::name().into(), CompoundFilter::schema()));
        }
    }
}

#[cfg(feature = "openapi")]
pub use schema::{ComparisonFilter, CompoundFilter};

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(v: Value) -> String {
        Filter::from_json(&v).unwrap_err()
    }

    #[test]
    fn every_comparison_operator_parses() {
        for op in ["eq", "ne", "gt", "gte", "lt", "lte"] {
            let f = Filter::from_json(&json!({"type": op, "key": "k", "value": 1})).unwrap();
            assert!(matches!(f, Filter::Comparison(_)), "{op}");
        }
        for op in ["in", "nin"] {
            let f = Filter::from_json(&json!({"type": op, "key": "k", "value": ["a", 2]})).unwrap();
            assert!(matches!(f, Filter::Comparison(_)), "{op}");
        }
    }

    #[test]
    fn nested_compounds_round_trip_through_json() {
        let v = json!({"type": "and", "filters": [
            {"type": "eq", "key": "a", "value": "x"},
            {"type": "or", "filters": [
                {"type": "gt", "key": "n", "value": 2.5},
                {"type": "nin", "key": "t", "value": ["p", "q"]}
            ]}
        ]});
        let f: Filter = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(f.to_json(), v);
    }

    #[test]
    fn an_unknown_operator_is_rejected_with_the_known_ones_listed() {
        let e = parse_err(json!({"type": "like", "key": "k", "value": "x"}));
        assert!(
            e.contains("unknown filter type 'like'") && e.contains("nin"),
            "{e}"
        );
    }

    #[test]
    fn a_filter_binds_at_most_max_values_in_all() {
        let list = |n: usize| (0..n).map(|i| json!(format!("v{i}"))).collect::<Vec<_>>();
        let many = |lists: usize| {
            json!({"type": "or", "filters": (0..lists)
                .map(|i| json!({"type": "in", "key": format!("k{i}"), "value": list(MAX_LIST)}))
                .collect::<Vec<_>>()})
        };
        assert!(Filter::from_json(&many(MAX_VALUES / MAX_LIST)).is_ok());
        // 128 lists of 256 values: within every per-comparison bound, over the total.
        let e = parse_err(many(MAX_COMPARISONS));
        assert!(e.contains(&format!("at most {MAX_VALUES} values")), "{e}");
        let long = "x".repeat(MAX_STRING_VALUE_LEN + 1);
        let e = parse_err(json!({"type": "eq", "key": "k", "value": long}));
        assert!(e.contains("characters"), "{e}");
    }

    #[test]
    fn wrong_value_types_are_rejected() {
        assert!(parse_err(json!({"type": "eq", "key": "k", "value": [1]})).contains("eq"));
        assert!(parse_err(json!({"type": "gt", "key": "k", "value": true})).contains("gt"));
        assert!(parse_err(json!({"type": "in", "key": "k", "value": "x"})).contains("array"));
        assert!(parse_err(json!({"type": "in", "key": "k", "value": []})).contains("1 to"));
        assert!(parse_err(json!({"type": "in", "key": "k", "value": [null]})).contains("[0]"));
        assert!(parse_err(json!({"type": "eq", "key": "k", "value": null})).contains("null"));
        assert!(parse_err(json!({"type": "eq", "key": 5, "value": 1})).contains("key"));
    }

    #[test]
    fn malformed_shapes_are_rejected() {
        assert!(parse_err(json!("eq")).contains("object"));
        assert!(parse_err(json!({"key": "k"})).contains("missing 'type'"));
        assert!(parse_err(json!({"type": "and", "filters": []})).contains("empty"));
        assert!(parse_err(json!({"type": "and"})).contains("filters"));
        assert!(parse_err(json!({"type": "eq", "key": "k"})).contains("value"));
        assert!(parse_err(json!({"type": "eq", "key": "", "value": 1})).contains("key"));
        assert!(parse_err(json!({"type": "eq", "key": "k", "value": 1, "x": 1})).contains("'x'"));
    }

    #[test]
    fn the_error_names_the_nested_place() {
        let e = parse_err(json!({"type": "or", "filters": [
            {"type": "eq", "key": "a", "value": 1},
            {"type": "gt", "key": "b", "value": [1]}
        ]}));
        assert!(e.starts_with("filters.filters[1].value"), "{e}");
    }

    #[test]
    fn nesting_and_size_are_bounded() {
        let mut v = json!({"type": "eq", "key": "k", "value": 1});
        for _ in 0..=MAX_DEPTH {
            v = json!({"type": "and", "filters": [v]});
        }
        assert!(parse_err(v).contains("deeper"));
        let many: Vec<Value> = (0..=MAX_COMPARISONS)
            .map(|_| json!({"type": "eq", "key": "k", "value": 1}))
            .collect();
        assert!(parse_err(json!({"type": "or", "filters": many})).contains("at most"));
    }

    #[test]
    fn unicode_keys_and_values_are_fine() {
        let f = Filter::from_json(&json!({"type": "eq", "key": "città", "value": "東京"})).unwrap();
        assert_eq!(f.to_json()["value"], "東京");
    }
}
