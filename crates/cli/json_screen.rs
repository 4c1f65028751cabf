//! A JSON line's text as a rule would see it once decoded: every key,
//! string and number, escapes resolved, collected without building the
//! value. An escape (`\u0070assword`, `https:\/\/`) can hide text from a
//! scan of the raw bytes; the screen shows it, so that a line with escapes
//! but nothing to mask can go through as it is, unparsed and unchanged.

use std::fmt;

use logscrub::Batch;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Pushes every decoded key, string and number of the JSON value `line` to
/// `batch`, as the scrubber would see them (numbers as `serde_json` writes
/// them). Returns whether a key names a secret, or `None` when the line is
/// not one JSON value.
pub fn screen(line: &[u8], batch: &mut Batch) -> Option<bool> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let mut screen = Screen { batch, secret_key: false, after_key: false };
    (&mut screen).deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(screen.secret_key)
}

struct Screen<'b> {
    batch: &'b mut Batch,
    secret_key: bool,
    /// The last item pushed to `batch` is a key, and what comes now is its
    /// value: a string value may put secrets under other keys (a
    /// Kubernetes Secret's `kind`, a secret name/value pair's name), which
    /// counts as a secret-named key.
    after_key: bool,
}

impl Screen<'_> {
    fn number(&mut self, n: serde_json::Number) {
        self.after_key = false;
        self.batch.push(n.to_string().as_bytes());
    }
}

impl<'de> DeserializeSeed<'de> for &mut Screen<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Screen<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        self.after_key = false;
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        self.after_key = false;
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.number(v.into());
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.number(v.into());
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // JSON has no NaN or infinity: every parsed float is finite.
        if let Some(n) = serde_json::Number::from_f64(v) {
            self.number(n);
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if std::mem::take(&mut self.after_key) {
            let key = self.batch.get(self.batch.len() - 1).unwrap_or_default();
            self.secret_key |= !logscrub::secret_keys_beside(key, v.as_bytes()).is_empty();
        }
        self.batch.push(v.as_bytes());
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.after_key = false;
        while seq.next_element_seed(&mut *self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.after_key = false;
        while map.next_key_seed(Key(&mut *self))?.is_some() {
            map.next_value_seed(&mut *self)?;
        }
        Ok(())
    }
}

/// A map key: screened like a string, and checked for a secret's name.
struct Key<'s, 'b>(&'s mut Screen<'b>);

impl<'de> DeserializeSeed<'de> for Key<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<(), D::Error> {
        de.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON key")
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.secret_key |= logscrub::is_secret_field(v);
        self.0.after_key = true;
        self.0.batch.push(v.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(line: &str) -> Option<(Vec<String>, bool)> {
        let mut batch = Batch::new();
        let secret = screen(line.as_bytes(), &mut batch)?;
        let values = (0..batch.len()).map(|i| String::from_utf8(batch.get(i).unwrap().to_vec()).unwrap()).collect();
        Some((values, secret))
    }

    #[test]
    fn keys_strings_and_numbers_are_decoded_in_order() {
        let (v, secret) = values(r#"{"m\u0073g":"a\/b\n","n":[1,-2,2.5e3,true,null],"o":{"k":"\"x\""}}"#).unwrap();
        assert_eq!(v, ["msg", "a/b\n", "n", "1", "-2", "2500.0", "o", "k", "\"x\""]);
        assert!(!secret);
    }

    #[test]
    fn a_key_that_puts_secrets_under_others_counts_as_a_secret_key() {
        assert!(values(r#"{"o":{"data":{"a":"b"},"kind":"Secr\u0065t"}}"#).unwrap().1);
        assert!(!values(r#"{"kind":"ConfigMap","msg":"Secret"}"#).unwrap().1);
        assert!(!values(r#"{"kind":1,"x":"Secret"}"#).unwrap().1);
        // A name/value pair whose name is a secret's, but not a value that
        // only follows such a name in an array or a nested object.
        assert!(values(r#"{"env":[{"name":"DB_P\u0041SSWORD","value":"x"}]}"#).unwrap().1);
        assert!(!values(r#"{"env":[{"name":"LOG_LEVEL","value":"x"}]}"#).unwrap().1);
        assert!(!values(r#"{"name":["x","DB_PASSWORD"],"v":{"k":1}}"#).unwrap().1);
    }

    #[test]
    fn an_escaped_secret_key_is_seen() {
        assert!(values(r#"{"pass\u0077ord":"x"}"#).unwrap().1);
        assert!(values(r#"[{"a":{"api_key":1}}]"#).unwrap().1);
    }

    #[test]
    fn not_one_json_value_is_none() {
        for bad in [r#"{"a":1"#, r#"{"a":1} x"#, "", r#"{"a":"\ud800"}"#, "[1,]"] {
            assert_eq!(values(bad), None, "{bad}");
        }
    }
}
