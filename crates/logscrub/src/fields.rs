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
    is_secret_field_in(name, SECRET_FIELD_NAMES)
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
