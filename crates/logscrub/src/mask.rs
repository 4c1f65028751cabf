//! Masks: what a confirmed secret is replaced with.
//!
//! Every mask is JSON- and logfmt-safe: it never contains `"`, `\`, a space or
//! a newline, so a masked JSON string stays valid and a logfmt value stays one
//! token. Label and hash masks are recognised by the engine as already masked,
//! so redacting twice equals redacting once.

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{Error, ErrorKind};

/// How a secret is replaced.
///
/// Each rule has a default mask; [`RedactorBuilder::mask`](crate::RedactorBuilder::mask)
/// overrides it by rule id. Masks parse from the short forms used on the
/// command line and in rule files:
///
/// | text | mask |
/// |---|---|
/// | `label` | `[REDACTED:<rule-id>]` |
/// | `label=[X:{id}]` | a template; `{id}`, `{category}` and `{name}` are filled in |
/// | `fixed` | one `*` per byte |
/// | `keep=P,S` | keep the first `P` and last `S` characters, `*` for the rest |
/// | `keep-after=@` | keep from the last `@` on (an email's domain) |
/// | `hash` | `<name:8 hex digits>`: a keyed HMAC-SHA256 pseudonym |
/// | `drop` | drop the whole line |
///
/// # Example
///
/// ```
/// use logscrub::Mask;
///
/// let m: Mask = "keep=0,4".parse().unwrap();
/// assert_eq!(m, Mask::Keep { prefix: 0, suffix: 4 });
/// assert!("label=[has space]".parse::<Mask>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Mask {
    /// A label; `None` is the default `[REDACTED:{id}]`.
    Label(Option<String>),
    /// One `*` for every byte of the secret.
    Fixed,
    /// Keep `prefix` leading and `suffix` trailing characters. Separators
    /// (space, `-`, `.`) are kept too, so a card shows as `**** **** **** 1111`.
    /// When that would reveal half of the secret or more, the whole secret is
    /// masked instead.
    Keep {
        /// Characters kept at the start.
        prefix: usize,
        /// Characters kept at the end.
        suffix: usize,
    },
    /// Keep everything from the last occurrence of the byte on: an email's
    /// domain with `@`.
    KeepAfter(u8),
    /// A keyed pseudonym `<name:3f9a12c0>`: HMAC-SHA256 of the secret under a
    /// key the user supplies. The same secret gives the same pseudonym, so a
    /// user can be followed across lines without being revealed.
    Hash,
    /// Drop the whole line.
    Drop,
}

/// The default label template.
pub(crate) const DEFAULT_LABEL: &str = "[REDACTED:{id}]";

impl Mask {
    /// Checks that a mask can be used: a label template must render to
    /// something JSON- and logfmt-safe.
    pub(crate) fn check(&self) -> Result<(), String> {
        if let Mask::Label(Some(t)) = self {
            if t.is_empty() {
                return Err("a label template cannot be empty".into());
            }
            if let Some(c) = t.chars().find(|c| matches!(c, '"' | '\\') || c.is_whitespace() || c.is_control()) {
                return Err(format!("a label template cannot contain {c:?}: masks must keep JSON and logfmt valid"));
            }
            let rest = t.replace("{id}", "").replace("{category}", "").replace("{name}", "");
            if rest.contains('{') || rest.contains('}') {
                return Err("a label template may only use {id}, {category} and {name}".into());
            }
        }
        if let Mask::KeepAfter(b) = self {
            if !b.is_ascii_graphic() || matches!(b, b'"' | b'\\') {
                return Err("keep-after takes one printable ASCII character".into());
            }
        }
        Ok(())
    }

    /// Whether the rendered mask depends on the secret's text in a way that
    /// only makes sense for one span (keep masks reveal part of it).
    pub(crate) fn reveals(&self) -> bool {
        matches!(self, Mask::Keep { .. } | Mask::KeepAfter(_))
    }
}

/// What a rule contributes to the text of its masks.
pub(crate) struct MaskContext<'a> {
    pub id: &'a str,
    pub category: &'a str,
    pub name: &'a str,
}

/// Renders a label template for a rule.
pub(crate) fn render_label(template: Option<&str>, cx: &MaskContext<'_>) -> String {
    template
        .unwrap_or(DEFAULT_LABEL)
        .replace("{id}", cx.id)
        .replace("{category}", cx.category)
        .replace("{name}", cx.name)
}

/// Appends the masked form of `secret` to `out`. `label` is the rule's label,
/// rendered once at build time.
pub(crate) fn render(mask: &Mask, label: &str, name: &str, secret: &[u8], key: Option<&HashKey>, out: &mut Vec<u8>) {
    match mask {
        Mask::Label(_) | Mask::Drop => out.extend_from_slice(label.as_bytes()),
        Mask::Fixed => out.resize(out.len() + secret.len(), b'*'),
        Mask::Keep { prefix, suffix } => keep(secret, *prefix, *suffix, out),
        Mask::KeepAfter(sep) => match memchr::memrchr(*sep, secret) {
            Some(i) if i > 0 && secret[i..].is_ascii() => {
                out.resize(out.len() + i, b'*');
                out.extend_from_slice(&secret[i..]);
            }
            _ => out.resize(out.len() + secret.len(), b'*'),
        },
        Mask::Hash => match key {
            Some(key) => {
                out.push(b'<');
                out.extend_from_slice(name.as_bytes());
                out.push(b':');
                out.extend_from_slice(key.pseudonym(secret).as_bytes());
                out.push(b'>');
            }
            // The builder refuses hash masks without a key; stay closed anyway.
            None => out.extend_from_slice(label.as_bytes()),
        },
    }
}

fn keep(secret: &[u8], prefix: usize, suffix: usize, out: &mut Vec<u8>) {
    let is_sep = |b: &u8| matches!(b, b' ' | b'-' | b'.');
    let chars = secret.iter().filter(|b| !is_sep(b)).count();
    // Keeping half or more would reveal too much; non-ASCII keeps nothing so
    // that a kept prefix never splits a character.
    if !secret.is_ascii() || (prefix + suffix) * 2 >= chars {
        out.resize(out.len() + secret.len(), b'*');
        return;
    }
    let mut seen = 0;
    for b in secret {
        if is_sep(b) {
            out.push(*b);
            continue;
        }
        out.push(if seen < prefix || seen >= chars - suffix { *b } else { b'*' });
        seen += 1;
    }
}

impl FromStr for Mask {
    type Err = Error;

    fn from_str(s: &str) -> Result<Mask, Error> {
        let (name, arg) = match s.split_once('=') {
            Some((n, a)) => (n, Some(a)),
            None => (s, None),
        };
        // The text given is not echoed: a secret pasted by mistake would
        // end up in a terminal or a CI log. A known mask name is safe to say.
        let known = ["label", "fixed", "hash", "drop", "keep", "keep-after"].contains(&name);
        let bad = |why: &str| {
            let kind = if known { format!("{name} ") } else { String::new() };
            Error::new(ErrorKind::Mask, format!("invalid {kind}mask: {why}"))
        };
        let mask = match (name, arg) {
            ("label", None) => Mask::Label(None),
            ("label", Some(t)) => Mask::Label(Some(t.to_string())),
            ("fixed", None) => Mask::Fixed,
            ("hash", None) => Mask::Hash,
            ("drop", None) => Mask::Drop,
            ("keep", Some(a)) => {
                let (p, q) = a.split_once(',').ok_or_else(|| bad("keep takes PREFIX,SUFFIX"))?;
                let p = p.trim().parse().map_err(|_| bad("PREFIX is not a number"))?;
                let q = q.trim().parse().map_err(|_| bad("SUFFIX is not a number"))?;
                Mask::Keep { prefix: p, suffix: q }
            }
            ("keep-after", Some(a)) if a.len() == 1 => Mask::KeepAfter(a.as_bytes()[0]),
            _ => return Err(bad("expected label, label=TEMPLATE, fixed, keep=P,S, keep-after=C, hash or drop")),
        };
        mask.check().map_err(|why| bad(&why))?;
        Ok(mask)
    }
}

impl fmt::Display for Mask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mask::Label(None) => f.write_str("label"),
            Mask::Label(Some(t)) => write!(f, "label={t}"),
            Mask::Fixed => f.write_str("fixed"),
            Mask::Keep { prefix, suffix } => write!(f, "keep={prefix},{suffix}"),
            Mask::KeepAfter(b) => write!(f, "keep-after={}", char::from(*b)),
            Mask::Hash => f.write_str("hash"),
            Mask::Drop => f.write_str("drop"),
        }
    }
}

/// The key for [`Mask::Hash`] pseudonyms. Its bytes are never printed: its
/// `Debug` shows only its length.
///
/// # Example
///
/// ```
/// use logscrub::HashKey;
///
/// let key = HashKey::new(b"0123456789abcdef-my-secret-key".to_vec()).unwrap();
/// assert_eq!(format!("{key:?}"), "HashKey(30 bytes)");
/// assert!(HashKey::new(b"short".to_vec()).is_err());
/// ```
#[derive(Clone)]
pub struct HashKey(Vec<u8>);

impl HashKey {
    /// The fewest bytes a key may have.
    pub const MIN_LEN: usize = 16;

    /// Wraps key bytes; refuses keys shorter than [`HashKey::MIN_LEN`],
    /// which would make pseudonyms easy to reverse by guessing.
    pub fn new(key: Vec<u8>) -> Result<HashKey, Error> {
        if key.len() < Self::MIN_LEN {
            return Err(Error::new(
                ErrorKind::Config,
                format!("the hash key has {} bytes; at least {} are needed", key.len(), Self::MIN_LEN),
            ));
        }
        Ok(HashKey(key))
    }

    /// The first 8 hex digits of HMAC-SHA256(key, secret).
    pub(crate) fn pseudonym(&self, secret: &[u8]) -> String {
        self.hex_tag(secret, 4)
    }

    /// A keyed fingerprint of `secret` for reports: the first 16 hex digits
    /// of HMAC-SHA256(key, secret). With one key, the same secret has the
    /// same fingerprint wherever it is found, so that a report can say that
    /// forty files hold one leaked password, and which lines to rotate it
    /// for, without holding the password; without the key it cannot be
    /// reversed by guessing. Longer than a `hash` mask's pseudonym, as a
    /// report over an archive may hold millions of secrets.
    ///
    /// ```
    /// use logscrub::HashKey;
    ///
    /// let key = HashKey::new(b"0123456789abcdef-my-secret-key".to_vec()).unwrap();
    /// let a = key.fingerprint(b"hunter2hunter2");
    /// assert_eq!(a.len(), 16);
    /// assert_eq!(a, key.fingerprint(b"hunter2hunter2"));
    /// assert_ne!(a, key.fingerprint(b"hunter3hunter3"));
    /// ```
    pub fn fingerprint(&self, secret: &[u8]) -> String {
        self.hex_tag(secret, 8)
    }

    /// The first `bytes` bytes of HMAC-SHA256(key, secret), in hex.
    fn hex_tag(&self, secret: &[u8], bytes: usize) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(secret);
        let tag = mac.finalize().into_bytes();
        tag[..bytes].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HashKey({} bytes)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(mask: &Mask, secret: &str) -> String {
        let key = HashKey::new(b"test-key-0123456789".to_vec()).unwrap();
        let mut out = Vec::new();
        render(mask, "[REDACTED:x]", "x", secret.as_bytes(), Some(&key), &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn renders() {
        assert_eq!(run(&Mask::Fixed, "abcd"), "****");
        assert_eq!(run(&Mask::Keep { prefix: 0, suffix: 4 }, "4111 1111 1111 1234"), "**** **** **** 1234");
        assert_eq!(run(&Mask::Keep { prefix: 2, suffix: 2 }, "abcd"), "****");
        assert_eq!(run(&Mask::KeepAfter(b'@'), "jane.doe@example.com"), "********@example.com");
        assert_eq!(run(&Mask::KeepAfter(b'@'), "@x"), "**");
        let h = run(&Mask::Hash, "jane@example.com");
        assert!(h.starts_with("<x:") && h.len() == 12, "{h}");
        assert_eq!(h, run(&Mask::Hash, "jane@example.com"));
        assert_ne!(h, run(&Mask::Hash, "john@example.com"));
    }

    #[test]
    fn a_fingerprint_is_keyed_and_longer_than_the_pseudonym() {
        let (a, b) = (HashKey::new(vec![1; 16]).unwrap(), HashKey::new(vec![2; 16]).unwrap());
        let fa = a.fingerprint(b"jane@example.com");
        assert!(fa.len() == 16 && fa.bytes().all(|c| c.is_ascii_hexdigit()), "{fa}");
        assert!(fa.starts_with(&a.pseudonym(b"jane@example.com")));
        assert_ne!(fa, b.fingerprint(b"jane@example.com"));
    }

    #[test]
    fn parses_and_prints() {
        for s in ["label", "label=<{name}>", "fixed", "keep=0,4", "keep-after=@", "hash", "drop"] {
            assert_eq!(s.parse::<Mask>().unwrap().to_string(), s);
        }
        for bad in ["", "keep", "keep=a,b", "label=a\"b", "label=a\\b", "label={oops}", "nope"] {
            assert!(bad.parse::<Mask>().is_err(), "{bad}");
        }
    }
}
