//! JSON events and key blocks.
//!
//! Inside a key block the stream masks whole lines, and a block that opens
//! and does not end is masked to the end of its line: right for text, but a
//! JSON event (the `json` format) would lose its closing quotes and braces.
//! So a JSON event that a block covers or opens is masked value by value:
//! its string values go through the block as the lines of one log, in
//! order, and the event is written again as JSON.

use logscrub::{Redactor, FIELD_MASK};
use serde_json::Value;

use crate::blocks::Blocks;

/// `line` (one line, no newline) as a JSON object, when it is one.
pub(crate) fn record(line: &[u8]) -> Option<Value> {
    let object = line.first() == Some(&b'{') && line.last() == Some(&b'}') && memchr::memchr(b'\n', line).is_none();
    object.then(|| serde_json::from_slice(line).ok()).flatten()
}

/// `record` masked value by value through `blocks`, as a line of JSON;
/// empty if a `drop` rule matched one of its values (the event is dropped,
/// as a line would be). Values whose field names say they are secret are
/// masked whole, as a rule would have found them in the line.
pub(crate) fn masked(mut record: Value, redactor: &Redactor, blocks: &Blocks) -> Vec<u8> {
    let mut values = Vec::new();
    strings(&mut record, false, &mut values);
    let texts: Vec<&str> = values.iter().map(|v| v.as_str()).collect();
    let Some(masked) = blocks.mask_values(redactor, &texts) else {
        return Vec::new();
    };
    for (value, masked) in values.into_iter().zip(masked) {
        *value = masked;
    }
    let mut json = serde_json::to_vec(&record).unwrap_or_default();
    json.push(b'\n');
    json
}

/// The string values in `value`, in order; those under a secret field name
/// are masked whole instead.
fn strings<'v>(value: &'v mut Value, secret: bool, out: &mut Vec<&'v mut String>) {
    match value {
        Value::String(s) if secret => *s = FIELD_MASK.to_string(),
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter_mut().for_each(|v| strings(v, secret, out)),
        Value::Object(map) => {
            for (name, v) in map.iter_mut() {
                strings(v, secret || logscrub::is_secret_field(name), out);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_through_the_block_and_the_event_stays_json() {
        let (redactor, blocks) = (Redactor::new(), Blocks::default());
        let event = |message: &str| {
            let line =
                serde_json::json!({"level": "INFO", "fields": {"message": message, "n": 3, "token": "t0k3n-value"}});
            let record = serde_json::from_str(&line.to_string()).unwrap();
            let out = masked(record, &redactor, &blocks);
            serde_json::from_slice::<Value>(&out).unwrap()
        };
        let opened = event("-----BEGIN PRIVATE KEY-----");
        assert_eq!(opened["fields"]["message"], "-----BEGIN PRIVATE KEY-----");
        assert_eq!(opened["fields"]["token"], FIELD_MASK);
        let body = event("MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj");
        assert_eq!(body["level"], "[REDACTED:private-key]");
        assert_eq!(body["fields"]["message"], "[REDACTED:private-key]");
        assert_eq!(body["fields"]["n"], 3);
        let end = event("-----END PRIVATE KEY-----");
        assert_eq!(end["fields"]["message"], "-----END PRIVATE KEY-----");
        assert!(!blocks.is_open());
    }
}
