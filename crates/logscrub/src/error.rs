//! The engine's one error type.

use std::fmt;

/// An error building a [`Redactor`](crate::Redactor): a rule file that does
/// not parse or validate, an unknown pack or rule id, a bad option.
///
/// Messages name the file, line and rule id where they apply. They quote rule
/// files and options, never log input, so they are safe to print.
///
/// # Example
///
/// ```
/// use logscrub::{ErrorKind, Redactor};
///
/// let err = Redactor::builder().rules_toml("mine.toml", "not toml [").build().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Syntax);
/// assert!(err.to_string().starts_with("mine.toml:1"));
/// ```
#[derive(Clone, Debug)]
pub struct Error {
    kind: ErrorKind,
    origin: Option<String>,
    line: Option<usize>,
    rule: Option<String>,
    message: String,
}

/// What kind of [`Error`] happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A rule file is not valid TOML or does not have the rule file shape.
    Syntax,
    /// A rule's regex does not compile.
    Regex,
    /// Two rules share an id, or two packs a name.
    Duplicate,
    /// A rule has too few test cases, or one cannot reach the rule.
    Tests,
    /// A rule's match length is unbounded without a multi-line opt-in.
    Unbounded,
    /// A rule field has a value that is not allowed.
    Invalid,
    /// A mask is malformed or cannot be used here.
    Mask,
    /// A pack, rule or validator name is not known.
    Unknown,
    /// An option of the builder is out of range.
    Config,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, origin: None, line: None, rule: None, message: message.into() }
    }

    pub(crate) fn at(mut self, origin: &str, line: Option<usize>) -> Error {
        self.origin = Some(origin.to_string());
        self.line = line;
        self
    }

    pub(crate) fn rule(mut self, id: &str) -> Error {
        self.rule = Some(id.to_string());
        self
    }

    /// What kind of error this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The rule file (or pack name) the error is in, if any.
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    /// The 1-based line in the rule file, if known.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The id of the rule the error is about, if any.
    pub fn rule_id(&self) -> Option<&str> {
        self.rule.as_deref()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.origin, self.line) {
            (Some(o), Some(l)) => write!(f, "{o}:{l}: ")?,
            (Some(o), None) => write!(f, "{o}: ")?,
            _ => {}
        }
        if let Some(r) = &self.rule {
            write!(f, "rule '{r}': ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
