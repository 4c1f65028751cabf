//! Masks secrets and personal data in log lines at line rate.
//!
//! Rules are data: TOML rule files (packs) with a regex, the literals that gate
//! it, validators, an allowlist, a mask and the rule's own test cases. The
//! default packs are embedded; more can be loaded at run time. A
//! [`Redactor`] compiles them into a prefilter (one lazy DFA over every
//! rule's keywords and, for rules without keywords, their trigger regexes),
//! so a clean line costs one walk and comes back borrowed. Candidate lines
//! are confirmed with `regex` and validators (Luhn, IBAN, JWT shape,
//! entropy, ...), then masked. Many short values (a structured record's
//! fields) are screened in one walk with a [`Batch`].
//!
//! # Example
//!
//! ```
//! use logscrub::Redactor;
//!
//! let redactor = Redactor::new();
//! let line = br#"{"msg":"login","password":"hunter2!x","user":"jane"}"#;
//! assert_eq!(
//!     &redactor.redact(line)[..],
//!     br#"{"msg":"login","password":"[REDACTED:password-assignment]","user":"jane"}"#,
//! );
//! ```
//!
//! # Streaming
//!
//! [`Redactor::stream`] wraps any writer; [`Redactor::redact_reader`] copies a
//! reader into a writer. Memory is bounded by the maximum line length (1 MiB
//! by default): longer lines are processed in overlapping windows, and private
//! key blocks are masked from `BEGIN` to `END` across lines without holding
//! them back. A stream can also record what it masks, where, for a report
//! ([`Stream::record_masked`], [`Masked`]): rule ids, lines, byte ranges and
//! keyed fingerprints, never the text.
//!
//! # Guarantees
//!
//! - Masks never contain `"`, `\`, whitespace or a newline: JSON and logfmt
//!   stay valid.
//! - Redacting twice equals redacting once: masks never trigger a rule.
//! - Overlapping findings are merged; the union is masked, with the widest
//!   finding's mask only where what it shows (an email's domain) lies
//!   outside every other finding, else with `*` throughout.
//! - Bytes that are not masked pass through unchanged, valid UTF-8 or not.
//! - Errors and [`Stats`] name rules, files and counts, never input text.
//!
//! # Untrusted input
//!
//! Every regex runs in time linear in the input (the `regex` crate has no
//! backtracking), and every rule's match length is bounded at load, which
//! bounds the work per window.
#![deny(missing_docs)]

mod allowlist;
mod batch;
mod error;
mod fields;
mod groups;
mod mask;
mod packs;
mod prefilter;
mod redactor;
pub mod rules;
mod stats;
mod stream;
mod validate;

pub use crate::batch::Batch;
pub use crate::error::{Error, ErrorKind};
pub use crate::fields::{
    is_secret_field, is_secret_field_in, reads_value_beside, secret_keys_beside, FIELD_MASK, SECRET_FIELD_NAMES,
};
pub use crate::mask::{HashKey, Mask};
pub use crate::redactor::{
    Finding, Redactor, RedactorBuilder, TestFailure, TestFailureKind, DEFAULT_MAX_LINE, TEST_KEY,
};
pub use crate::rules::{Example, Pack, Rule};
pub use crate::stats::Stats;
pub use crate::stream::{Masked, Stream};
pub use crate::validate::Validator;
