//! The filter grammar compiled to a SQL condition on the `attributes` JSONB column, following
//! the semantics of [`store_core::filter`]. Only placeholders reach the SQL text: every key and
//! value travels as a bound parameter.

use serde_json::{Value, json};
use store_core::{Comparison, Filter, FilterValue, Op, Scalar};

/// A value to bind, in placeholder order.
#[derive(Debug, Clone, PartialEq)]
pub enum Bind {
    Text(String),
    Float(f64),
    Jsonb(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct SqlFilter {
    pub sql: String,
    pub binds: Vec<Bind>,
}

/// Compiles `filter` into a condition whose placeholders start at `$first`.
pub fn compile_filter(filter: &Filter, first: usize) -> SqlFilter {
    let mut c = Compiler {
        binds: Vec::new(),
        first,
    };
    let sql = c.filter(filter);
    SqlFilter {
        sql,
        binds: c.binds,
    }
}

struct Compiler {
    binds: Vec<Bind>,
    first: usize,
}

impl Compiler {
    fn bind(&mut self, b: Bind) -> String {
        self.binds.push(b);
        format!("${}", self.first + self.binds.len() - 1)
    }

    fn filter(&mut self, f: &Filter) -> String {
        match f {
            Filter::And(fs) => self.join(fs, " AND "),
            Filter::Or(fs) => self.join(fs, " OR "),
            Filter::Comparison(c) => self.comparison(c),
        }
    }

    fn join(&mut self, fs: &[Filter], sep: &str) -> String {
        let parts: Vec<String> = fs.iter().map(|f| self.filter(f)).collect();
        format!("({})", parts.join(sep))
    }

    /// `eq`: the attribute is the value, or a list holding it. Containment lets the GIN index
    /// on `attributes` serve it.
    fn eq(&mut self, key: &str, s: &Scalar) -> String {
        let scalar = self.bind(Bind::Jsonb(json!({ key: s.to_json() })));
        let listed = self.bind(Bind::Jsonb(json!({ key: [s.to_json()] })));
        format!("(attributes @> {scalar}::jsonb OR attributes @> {listed}::jsonb)")
    }

    fn any_eq(&mut self, key: &str, list: &[Scalar]) -> String {
        let parts: Vec<String> = list.iter().map(|s| self.eq(key, s)).collect();
        format!("({})", parts.join(" OR "))
    }

    fn comparison(&mut self, c: &Comparison) -> String {
        match (&c.op, &c.value) {
            (Op::Eq, FilterValue::Scalar(s)) => self.eq(&c.key, s),
            (Op::Ne, FilterValue::Scalar(s)) => format!("NOT {}", self.eq(&c.key, s)),
            (Op::In, FilterValue::List(l)) => self.any_eq(&c.key, l),
            (Op::Nin, FilterValue::List(l)) => format!("NOT {}", self.any_eq(&c.key, l)),
            (op @ (Op::Gt | Op::Gte | Op::Lt | Op::Lte), FilterValue::Scalar(s)) => {
                let sym = match op {
                    Op::Gt => ">",
                    Op::Gte => ">=",
                    Op::Lt => "<",
                    Op::Eq | Op::Ne | Op::Lte | Op::In | Op::Nin => "<=",
                };
                let key = self.bind(Bind::Text(c.key.clone()));
                // Scalars and lists alike: any element of the right type that compares true.
                let elements = format!(
                    "jsonb_array_elements(CASE WHEN jsonb_typeof(attributes -> {key}::text) = \
                     'array' THEN attributes -> {key}::text ELSE jsonb_build_array(attributes -> \
                     {key}::text) END)"
                );
                match s {
                    Scalar::Number(n) => {
                        let v = self.bind(Bind::Float(*n));
                        format!(
                            "EXISTS (SELECT 1 FROM {elements} e WHERE jsonb_typeof(e) = 'number' \
                             AND (e #>> '{{}}')::float8 {sym} {v}::float8)"
                        )
                    }
                    Scalar::String(text) => {
                        let v = self.bind(Bind::Text(text.clone()));
                        format!(
                            "EXISTS (SELECT 1 FROM {elements} e WHERE jsonb_typeof(e) = 'string' \
                             AND (e #>> '{{}}') COLLATE \"C\" {sym} {v}::text COLLATE \"C\")"
                        )
                    }
                    // The parser never builds a boolean range.
                    Scalar::Bool(_) => "FALSE".to_string(),
                }
            }
            // The parser never builds these pairs.
            _ => "FALSE".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(v: Value) -> Filter {
        Filter::from_json(&v).unwrap()
    }

    #[test]
    fn eq_binds_both_the_scalar_and_the_list_form() {
        let out = compile_filter(&f(json!({"type": "eq", "key": "lang", "value": "en"})), 3);
        assert_eq!(
            out.sql,
            "(attributes @> $3::jsonb OR attributes @> $4::jsonb)"
        );
        assert_eq!(
            out.binds,
            vec![
                Bind::Jsonb(json!({"lang": "en"})),
                Bind::Jsonb(json!({"lang": ["en"]}))
            ]
        );
    }

    #[test]
    fn compounds_nest_with_parentheses_and_number_placeholders_in_order() {
        let out = compile_filter(
            &f(json!({"type": "or", "filters": [
                {"type": "ne", "key": "a", "value": 1},
                {"type": "and", "filters": [
                    {"type": "gte", "key": "n", "value": 2},
                    {"type": "nin", "key": "t", "value": ["x", "y"]}
                ]}
            ]})),
            1,
        );
        assert!(
            out.sql.starts_with(
                "(NOT (attributes @> $1::jsonb OR attributes @> $2::jsonb) OR (EXISTS"
            )
        );
        assert!(
            out.sql.contains("(e #>> '{}')::float8 >= $4::float8"),
            "{}",
            out.sql
        );
        assert!(
            out.sql.ends_with(
                "NOT ((attributes @> $5::jsonb OR attributes @> $6::jsonb) OR (attributes @> \
                 $7::jsonb OR attributes @> $8::jsonb))))"
            ),
            "{}",
            out.sql
        );
        assert_eq!(out.binds.len(), 8);
        assert_eq!(out.binds[2], Bind::Text("n".into()));
        assert_eq!(out.binds[3], Bind::Float(2.0));
    }

    #[test]
    fn string_ranges_compare_by_code_point() {
        let out = compile_filter(&f(json!({"type": "lt", "key": "k", "value": "m"})), 1);
        assert!(
            out.sql.contains("COLLATE \"C\" < $2::text COLLATE \"C\""),
            "{}",
            out.sql
        );
    }

    #[test]
    fn a_number_range_compares_numeric_elements_of_scalars_and_lists() {
        let out = compile_filter(&f(json!({"type": "gt", "key": "year", "value": 2020})), 2);
        assert_eq!(
            out.sql,
            "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(attributes -> \
             $2::text) = 'array' THEN attributes -> $2::text ELSE jsonb_build_array(attributes -> \
             $2::text) END) e WHERE jsonb_typeof(e) = 'number' AND (e #>> '{}')::float8 > \
             $3::float8)"
        );
        assert_eq!(
            out.binds,
            vec![Bind::Text("year".into()), Bind::Float(2020.0)]
        );
    }

    #[test]
    fn every_range_operator_has_its_symbol() {
        for (op, sym) in [("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")] {
            let out = compile_filter(&f(json!({"type": op, "key": "k", "value": "m"})), 1);
            assert!(
                out.sql.ends_with(&format!(
                    "jsonb_typeof(e) = 'string' AND (e #>> '{{}}') COLLATE \"C\" {sym} $2::text \
                     COLLATE \"C\")"
                )),
                "{op}: {}",
                out.sql
            );
            assert_eq!(
                out.binds,
                vec![Bind::Text("k".into()), Bind::Text("m".into())]
            );
        }
    }

    #[test]
    fn in_and_nin_are_any_eq_and_its_negation() {
        let out = compile_filter(&f(json!({"type": "in", "key": "n", "value": [1, "a"]})), 1);
        assert_eq!(
            out.sql,
            "((attributes @> $1::jsonb OR attributes @> $2::jsonb) OR (attributes @> $3::jsonb OR \
             attributes @> $4::jsonb))"
        );
        assert_eq!(
            out.binds,
            vec![
                Bind::Jsonb(json!({"n": 1.0})),
                Bind::Jsonb(json!({"n": [1.0]})),
                Bind::Jsonb(json!({"n": "a"})),
                Bind::Jsonb(json!({"n": ["a"]})),
            ]
        );
        let out = compile_filter(&f(json!({"type": "nin", "key": "n", "value": ["x"]})), 1);
        assert_eq!(
            out.sql,
            "NOT ((attributes @> $1::jsonb OR attributes @> $2::jsonb))"
        );
    }

    #[test]
    fn ne_and_booleans_bind_json_values() {
        let out = compile_filter(&f(json!({"type": "ne", "key": "draft", "value": false})), 1);
        assert_eq!(
            out.sql,
            "NOT (attributes @> $1::jsonb OR attributes @> $2::jsonb)"
        );
        assert_eq!(
            out.binds,
            vec![
                Bind::Jsonb(json!({"draft": false})),
                Bind::Jsonb(json!({"draft": [false]}))
            ]
        );
    }

    #[test]
    fn hostile_keys_and_values_never_reach_the_sql_text() {
        let evil = "x'); DROP TABLE tenants; --";
        let out = compile_filter(
            &f(json!({"type": "and", "filters": [
                {"type": "eq", "key": evil, "value": evil},
                {"type": "gt", "key": evil, "value": evil}
            ]})),
            1,
        );
        assert!(!out.sql.contains("DROP"), "{}", out.sql);
        assert!(out.binds.contains(&Bind::Text(evil.into())));
    }
}
