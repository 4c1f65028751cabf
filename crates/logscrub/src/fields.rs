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
    let table = default_names_by_first();
    let bytes = name.as_bytes();
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

/// The keys under which a record of this `kind` keeps secrets, whatever
/// the secrets' own keys are named: a Kubernetes Secret's `data` and
/// `stringData` (`tls.key`, `.dockerconfigjson`, anything). The structured
/// counterpart of the `k8s-secret-data` rule, for records already parsed.
///
/// # Example
///
/// ```
/// assert_eq!(logscrub::secret_keys_of_kind("Secret"), ["data", "stringData"]);
/// assert!(logscrub::secret_keys_of_kind("ConfigMap").is_empty());
/// ```
pub fn secret_keys_of_kind(kind: &str) -> &'static [&'static str] {
    match kind {
        "Secret" => &["data", "stringData"],
        _ => &[],
    }
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
