//! Reading a JSON document through without keeping it: [`Walk`] visits every value as the
//! parser meets it (each array and object through the parser's depth limit) and hands every
//! string and key to a check. Memory stays at the document's depth whatever its size, so a
//! document of any size can be checked before (or instead of) being parsed into a type.

use serde::de::{DeserializeSeed, Deserializer, Error, MapAccess, SeqAccess, Visitor};

/// Where a string was met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Key,
    Value,
}

/// A check of every string and key: `Err(message)` stops the walk there, with that message.
pub type Check = fn(&str, Place) -> Result<(), &'static str>;

/// A seed that walks any JSON value with its check (`Walk(|_, _| Ok(()))` only checks that the
/// document is JSON within the parser's depth limit).
#[derive(Clone, Copy)]
pub struct Walk(pub Check);

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// A map key, checked.
struct Key(Check);

impl<'de> DeserializeSeed<'de> for Key {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        struct KeyVisitor(Check);
        impl Visitor<'_> for KeyVisitor {
            type Value = ();
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: Error>(self, s: &str) -> Result<(), E> {
                (self.0)(s, Place::Key).map_err(E::custom)
            }
        }
        d.deserialize_str(KeyVisitor(self.0))
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: Error>(self, s: &str) -> Result<(), E> {
        (self.0)(s, Place::Value).map_err(E::custom)
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Key(self.0))?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn walk(json: &str, check: Check) -> Result<(), serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        Walk(check).deserialize(&mut de)?;
        de.end()
    }

    #[test]
    fn every_string_and_key_is_checked_and_depth_is_bounded() {
        let no_x: Check = |s, place| match (s.contains('x'), place) {
            (true, Place::Key) => Err("x in a key"),
            (true, Place::Value) => Err("x in a value"),
            (false, _) => Ok(()),
        };
        assert!(walk(r#"{"a": [1, true, null, 2.5, {"b": "c"}]}"#, no_x).is_ok());
        let e = walk(r#"{"a": [{"b": "x"}]}"#, no_x).unwrap_err();
        assert!(e.to_string().starts_with("x in a value"), "{e}");
        let e = walk(r#"{"a": {"x": 1}}"#, no_x).unwrap_err();
        assert!(e.to_string().starts_with("x in a key"), "{e}");
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert!(walk(&deep, |_, _| Ok(())).is_err());
        assert!(walk("[1] 2", |_, _| Ok(())).is_err());
    }
}
