//! Names of fields whose whole value is a secret, for structured input
//! (JSON keys, msgpack map keys, `tracing` fields).

/// Field names masked whole by default: a field whose lowercased name
/// contains one of these.
///
/// # Example
///
/// ```
/// assert!(logscrub::is_secret_field("X-Api-Key"));
/// assert!(logscrub::is_secret_field("db_password"));
/// assert!(!logscrub::is_secret_field("user"));
/// ```
pub const SECRET_FIELD_NAMES: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "credential",
    "api_key",
    "apikey",
    "api-key",
    "private_key",
    "session",
    "signature",
];

/// The mask for a value masked whole because of its field's name.
pub const FIELD_MASK: &str = "[REDACTED:field]";

/// Whether a field with this name holds a secret by the default list
/// ([`SECRET_FIELD_NAMES`], case-insensitive substrings).
pub fn is_secret_field(name: &str) -> bool {
    is_secret_name(name.as_bytes())
}

/// [`is_secret_field`] on bytes, which need not be UTF-8.
fn is_secret_name(bytes: &[u8]) -> bool {
    let table = default_names_by_first();
    (0..bytes.len()).any(|i| {
        table[usize::from(bytes[i].to_ascii_lowercase())]
            .iter()
            .any(|n| bytes.get(i..i + n.len()).is_some_and(|w| w.eq_ignore_ascii_case(n)))
    })
}

/// Whether `name` contains one of `names` (given in lowercase), ignoring
/// ASCII case.
///
/// # Example
///
/// ```
/// assert!(logscrub::is_secret_field_in("X-Signing-Key", &["signing"]));
/// ```
pub fn is_secret_field_in<S: AsRef<str>>(name: &str, names: &[S]) -> bool {
    let bytes = name.as_bytes();
    names.iter().any(|n| {
        let n = n.as_ref().as_bytes();
        !n.is_empty() && bytes.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
    })
}

/// The keys of a record that hold secrets because of what its key `key`
/// says (`value`), whatever those keys are named: the structured
/// counterpart of the `k8s-secret-data` and `name-value-secret` rules, for
/// records already parsed.
///
/// - `"kind": "Secret"`: a Kubernetes Secret keeps every value under
///   `data` and `stringData` (`tls.key`, `.dockerconfigjson`, anything).
/// - A name/value pair whose name is a secret field name
///   ([`is_secret_field`]): `{"name": "DB_PASSWORD", "value": ...}` in pod
///   and task env entries, HAR and OpenTelemetry headers
///   (`name`/`key` and `value`), SSM parameters (`Name` and `Value`),
///   Elastic Beanstalk option settings (`OptionName` and `Value`) and
///   CloudFormation parameters (`ParameterKey` and `ParameterValue`).
///
/// `key` and `value` are bytes, as a record holds them: a check of every
/// key of every record need not decode them first, and `value` is only
/// read for the few keys named above.
///
/// # Example
///
/// ```
/// assert_eq!(logscrub::secret_keys_beside(b"kind", b"Secret"), ["data", "stringData"]);
/// assert_eq!(logscrub::secret_keys_beside(b"name", b"DB_PASSWORD"), ["value"]);
/// assert!(logscrub::secret_keys_beside(b"name", b"LOG_LEVEL").is_empty());
/// assert!(logscrub::secret_keys_beside(b"kind", b"ConfigMap").is_empty());
/// ```
pub fn secret_keys_beside(key: &[u8], value: &[u8]) -> &'static [&'static str] {
    match pointer(key) {
        Some((Says::Secret, keys)) if value == b"Secret" => keys,
        Some((Says::SecretName, keys)) if is_secret_name(value) => keys,
        _ => &[],
    }
}

/// Whether [`secret_keys_beside`] reads the value of `key`: a check of
/// every key of a record can skip finding the values of all others.
///
/// # Example
///
/// ```
/// assert!(logscrub::reads_value_beside(b"name"));
/// assert!(!logscrub::reads_value_beside(b"msg"));
/// ```
pub fn reads_value_beside(key: &[u8]) -> bool {
    pointer(key).is_some()
}

/// What the value of a key that points at secrets must say.
enum Says {
    /// `Secret`: a Kubernetes Secret's kind.
    Secret,
    /// A secret field name: the name of a name/value pair.
    SecretName,
}

/// For a key whose value can point at secrets: what the value must say,
/// and the keys beside it that then hold them.
fn pointer(key: &[u8]) -> Option<(Says, &'static [&'static str])> {
    Some(match key {
        b"kind" => (Says::Secret, &["data", "stringData"]),
        b"name" | b"key" => (Says::SecretName, &["value"]),
        b"Name" | b"Key" | b"OptionName" => (Says::SecretName, &["Value"]),
        b"ParameterKey" => (Says::SecretName, &["ParameterValue"]),
        _ => return None,
    })
}

/// [`SECRET_FIELD_NAMES`] by first byte: the default check runs for every
/// key of every structured record, and a key is compared only where one of
/// the names could start.
fn default_names_by_first() -> &'static [Vec<&'static [u8]>; 256] {
    static TABLE: std::sync::OnceLock<[Vec<&'static [u8]>; 256]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        std::array::from_fn(|b| {
            SECRET_FIELD_NAMES.iter().map(|n| n.as_bytes()).filter(|n| usize::from(n[0]) == b).collect()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_as_case_insensitive_substrings_anywhere() {
        for key in ["password", "DB_PASSWORD", "x-api-key", "X-Api-Key", "sessionid", "my_token", "Set-Cookie", "pwd"] {
            assert!(is_secret_field(key), "{key}");
        }
        for key in ["user", "", "pass", "tok", "passwor", "request_id", "sess", "\u{e9}t\u{e9}"] {
            assert!(!is_secret_field(key), "{key}");
        }
        assert!(!is_secret_field_in("anything", &[""; 0]));
        assert!(!is_secret_field_in("abc", &["", "x"]), "an empty name matches nothing");
        assert!(is_secret_field_in("x-\u{e9}l\u{e9}", &["\u{e9}l"]));
        // The table and the plain search agree.
        for key in ["a", "PaSsWoRd", "xapikeyx", "api_ke", "cookies", "signature_v4", "\u{e9}token"] {
            assert_eq!(is_secret_field(key), is_secret_field_in(key, SECRET_FIELD_NAMES), "{key}");
        }
    }
}
