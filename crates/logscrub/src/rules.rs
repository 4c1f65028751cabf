//! Rule files: their TOML shape, and compiling and validating them.
//!
//! A rule file is one pack:
//!
//! ```toml
//! [pack]
//! name = "http"
//! description = "Credentials in HTTP headers"
//! default = true                 # on unless packs are chosen explicitly
//!
//! [[rule]]
//! id = "http-bearer"
//! description = "Bearer tokens in Authorization headers"
//! category = "credential"
//! keywords = ["bearer"]          # literals that gate the regex (ASCII case-insensitive)
//! regex = '''(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{16,4096})'''
//! positive = [
//!   { input = 'Authorization: Bearer abcdefghijklmnop1234', output = 'Authorization: Bearer [REDACTED:http-bearer]' },
//! ]
//! negative = ['bearer of bad news']
//! ```
//!
//! Everything is compiled and checked when a [`Redactor`](crate::Redactor)
//! is built, the built-in packs as a user's files; one bad rule refuses the
//! whole set, and nothing compiles later, in the middle of the input.
//!
//! Keywords are promises: every match of a rule's regex contains one of its
//! keywords. A broken promise hides matches; the property tests compare the
//! engine with a naive oracle that has no triggers, to catch that. A rule
//! without keywords is triggered by its `trigger` regex (a promise too: every
//! match of the rule's regex that its validators accept holds a match of it),
//! else by its own regex (card, phone and id numbers); the prefilter runs
//! them over whole buffers.

use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;

use crate::error::{Error, ErrorKind};
use crate::mask::{self, Mask, MaskContext};
use crate::validate::Validator;

/// The categories a rule may declare.
pub const CATEGORIES: &[&str] = &["credential", "token", "key", "pii", "financial", "national-id", "network"];

/// How far a `within` scope reaches past its match: to the end of the
/// line, at most this many bytes.
pub(crate) const SCOPE: usize = 4096;

/// The largest compiled size of one rule's regex.
const REGEX_SIZE_LIMIT: usize = 8 << 20;

/// The lazy DFA cache of one rule's regex.
const DFA_CACHE: usize = 8 << 20;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDef {
    pack: PackDef,
    #[serde(default)]
    rule: Vec<toml::Spanned<RuleDef>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PackDef {
    name: String,
    description: String,
    #[serde(default = "yes")]
    default: bool,
    #[serde(default)]
    allow: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RuleDef {
    id: String,
    description: String,
    category: String,
    #[serde(default)]
    keywords: Vec<String>,
    #[serde(default)]
    trigger: Option<String>,
    regex: String,
    #[serde(default)]
    within: Option<String>,
    #[serde(default)]
    multiline_end: Option<String>,
    #[serde(default)]
    validators: Vec<String>,
    #[serde(default)]
    entropy: Option<f64>,
    #[serde(default)]
    allow: Vec<String>,
    #[serde(default)]
    mask: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    positive: Vec<Example>,
    #[serde(default)]
    negative: Vec<String>,
}

/// A test case a rule must pass: `input` must become `output` when only
/// this rule runs, with its default mask.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// A realistic log line carrying the secret.
    pub input: String,
    /// The same line as the rule must mask it.
    pub output: String,
}

/// A pack: one rule file.
#[derive(Clone, Debug)]
pub struct Pack {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) default: bool,
    pub(crate) origin: String,
}

impl Pack {
    /// The pack's name, as given to `--packs`.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// What the pack covers.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// Whether the pack is on when no packs are chosen explicitly.
    pub fn is_default(&self) -> bool {
        self.default
    }
    /// Where the pack came from: a file path or `builtin:NAME.toml`.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

/// One compiled rule. Obtained from [`Redactor::rules`](crate::Redactor::rules).
#[derive(Clone, Debug)]
pub struct Rule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) category: String,
    pub(crate) pack: String,
    pub(crate) keywords: Vec<String>,
    /// Without keywords: the pattern the prefilter runs (else the regex).
    pub(crate) trigger: Option<String>,
    pub(crate) patterns: Patterns,
    pub(crate) compiled: Compiled,
    pub(crate) validators: Vec<Validator>,
    pub(crate) entropy: Option<f64>,
    pub(crate) default_mask: Mask,
    pub(crate) mask: Mask,
    pub(crate) label: String,
    pub(crate) default_label: String,
    pub(crate) name: String,
    pub(crate) max_len: usize,
    pub(crate) positive: Vec<Example>,
    pub(crate) negative: Vec<String>,
    pub(crate) origin: String,
    pub(crate) line: usize,
}

impl Rule {
    /// The rule's kebab-case id.
    pub fn id(&self) -> &str {
        &self.id
    }
    /// What the rule catches.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The rule's category: one of [`CATEGORIES`].
    pub fn category(&self) -> &str {
        &self.category
    }
    /// The pack the rule belongs to.
    pub fn pack(&self) -> &str {
        &self.pack
    }
    /// The mask in effect (the default unless overridden).
    pub fn mask(&self) -> &Mask {
        &self.mask
    }
    /// The mask the rule file gives.
    pub fn default_mask(&self) -> &Mask {
        &self.default_mask
    }
    /// The literals that gate the rule.
    pub fn keywords(&self) -> &[String] {
        &self.keywords
    }
    /// Whether the rule masks a block that spans lines (from its regex to
    /// its end marker).
    pub fn is_multiline(&self) -> bool {
        self.patterns.end.is_some()
    }
    /// Inputs the rule must mask, with the expected output.
    pub fn positive(&self) -> &[Example] {
        &self.positive
    }
    /// Look-alikes the rule must leave unchanged.
    pub fn negative(&self) -> &[String] {
        &self.negative
    }
    /// `file:line` where the rule is defined.
    pub fn location(&self) -> String {
        format!("{}:{}", self.origin, self.line)
    }
}

fn line_of(text: &str, span: Range<usize>) -> usize {
    text[..span.start.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

fn is_kebab(id: &str) -> bool {
    !id.is_empty()
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
        && !id.ends_with('-')
        && !id.contains("--")
}

/// The longest match a pattern can make, in bytes, or `None` if unbounded.
fn max_len(pattern: &str) -> Result<Option<usize>, String> {
    Ok(parse_hir(pattern)?.properties().maximum_len())
}

/// A pattern's syntax tree, parsed as the rules' regexes are (bytes, not
/// only UTF-8): for its properties, and for the prefilter to build on.
pub(crate) fn parse_hir(pattern: &str) -> Result<regex_syntax::hir::Hir, String> {
    regex_syntax::ParserBuilder::new().utf8(false).build().parse(pattern).map_err(|e| e.to_string())
}

/// One set of several patterns, under the same limits as a rule's regex.
fn compile_set<'p>(patterns: impl IntoIterator<Item = &'p str>) -> Result<RegexSet, String> {
    RegexSetBuilder::new(patterns)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(DFA_CACHE)
        .build()
        .map_err(|e| e.to_string())
}

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(DFA_CACHE).build().map_err(|e| e.to_string())
}

/// A rule's patterns as its file gives them.
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    pub(crate) regex: String,
    /// A scope: the regex runs inside each match of this one.
    pub(crate) within: Option<String>,
    /// A multi-line rule's end marker.
    pub(crate) end: Option<String>,
    /// The rule's own allowlist (its pack's is compiled once, for the pack).
    allow: Vec<String>,
}

/// A rule's patterns, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    pub(crate) regex: Regex,
    /// Capture groups that hold the secret; the first that took part wins.
    pub(crate) groups: Vec<usize>,
    pub(crate) within: Option<Regex>,
    pub(crate) end: Option<Regex>,
    /// Values that are never secrets: the rule's allowlist, then its pack's.
    pub(crate) allow: Vec<Arc<RegexSet>>,
}

/// An allowlist as one set, or `None` when it is empty.
fn compile_allow(patterns: &[String]) -> Result<Option<Arc<RegexSet>>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let set = compile_set(patterns.iter().map(String::as_str))
        .map_err(|e| Error::new(ErrorKind::Regex, format!("allow: {e}")))?;
    Ok(Some(Arc::new(set)))
}

impl Patterns {
    fn compile(&self, pack_allow: Option<&Arc<RegexSet>>) -> Result<Compiled, Error> {
        let regex = compile(&self.regex).map_err(|e| Error::new(ErrorKind::Regex, e))?;
        // The secret is the first group named `secret…` that took part in
        // the match (alternatives for quoted and bare values), else group 1,
        // else the whole match.
        let named: Vec<usize> = regex
            .capture_names()
            .enumerate()
            .filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret")))
            .map(|(i, _)| i)
            .collect();
        let groups = if !named.is_empty() {
            named
        } else if regex.captures_len() > 1 {
            vec![1]
        } else {
            vec![0]
        };
        let optional = |p: &Option<String>, what: &str| {
            p.as_deref().map(compile).transpose().map_err(|e| Error::new(ErrorKind::Regex, format!("{what}: {e}")))
        };
        let allow = compile_allow(&self.allow)?.into_iter().chain(pack_allow.cloned()).collect();
        Ok(Compiled {
            regex,
            groups,
            within: optional(&self.within, "within")?,
            end: optional(&self.end, "multiline_end")?,
            allow,
        })
    }
}

/// One rule file, read and its pack checked; its rules are compiled one by
/// one ([`File::compile`]), so that the rules of every file can share the
/// cores.
pub(crate) struct File {
    pub(crate) pack: Pack,
    /// The pack's allowlist, compiled once: every rule of the pack checks it.
    allow: Option<Arc<RegexSet>>,
    /// Each rule's definition and the line it starts on.
    pub(crate) rules: Vec<(RuleDef, usize)>,
}

/// Reads one rule file: its TOML shape, its pack, its pack's allowlist.
pub(crate) fn read(origin: &str, text: &str) -> Result<File, Error> {
    let file: FileDef = toml::from_str(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s));
        Error::new(ErrorKind::Syntax, e.message().trim_end().to_string()).at(origin, line)
    })?;
    let pack = Pack {
        name: file.pack.name.clone(),
        description: file.pack.description,
        default: file.pack.default,
        origin: origin.to_string(),
    };
    if !is_kebab(&pack.name) {
        return Err(
            Error::new(ErrorKind::Invalid, format!("pack name {:?} is not kebab-case", pack.name)).at(origin, Some(1))
        );
    }
    let allow = compile_allow(&file.pack.allow).map_err(|e| e.at(origin, None))?;
    let rules = file
        .rule
        .into_iter()
        .map(|spanned| {
            let line = line_of(text, spanned.span());
            (spanned.into_inner(), line)
        })
        .collect();
    Ok(File { pack, allow, rules })
}

impl File {
    /// Checks and compiles rule `i` of the file. `custom` resolves validator
    /// names beyond the built-ins.
    pub(crate) fn compile(&self, i: usize, custom: &[Validator]) -> Result<Rule, Error> {
        let (def, line) = &self.rules[i];
        let origin = &self.pack.origin;
        compile_rule(def.clone(), &self.pack, self.allow.as_ref(), custom, origin, *line)
            .map_err(|e| e.at(origin, Some(*line)).rule(&def.id))
    }
}

fn compile_rule(
    def: RuleDef,
    pack: &Pack,
    pack_allow: Option<&Arc<RegexSet>>,
    custom: &[Validator],
    origin: &str,
    line: usize,
) -> Result<Rule, Error> {
    let invalid = |m: String| Error::new(ErrorKind::Invalid, m);
    if !is_kebab(&def.id) {
        return Err(invalid(format!("id {:?} is not kebab-case", def.id)));
    }
    if def.description.trim().is_empty() {
        return Err(invalid("description is empty".into()));
    }
    if !CATEGORIES.contains(&def.category.as_str()) {
        return Err(invalid(format!("category {:?} is not one of {}", def.category, CATEGORIES.join(", "))));
    }
    for k in &def.keywords {
        // Short keywords fire everywhere: a lone byte or a pair must hold
        // punctuation (`@`, `+1`), anything else needs 3 bytes.
        let ok = k.is_ascii()
            && match k.len() {
                0 => false,
                1 | 2 => k.bytes().any(|b| b.is_ascii_punctuation()),
                _ => true,
            };
        if !ok {
            return Err(invalid(format!(
                "keyword {k:?}: keywords are ASCII, at least 3 bytes long, or 1 or 2 bytes with punctuation"
            )));
        }
    }
    if let Some(t) = &def.trigger {
        if !def.keywords.is_empty() {
            return Err(invalid("a rule is triggered by keywords or by a trigger regex, not both".into()));
        }
        parse_hir(t).map_err(|e| Error::new(ErrorKind::Regex, format!("trigger: {e}")))?;
    }
    if def.within.is_some() && def.multiline_end.is_some() {
        return Err(invalid("a rule cannot have both within and multiline_end".into()));
    }
    let begin_len = match &def.within {
        // Inside a scope, the scope bounds the match.
        Some(p) => max_len(p).map_err(|e| Error::new(ErrorKind::Regex, format!("within: {e}")))?.map(|n| n + SCOPE),
        None => max_len(&def.regex).map_err(|e| Error::new(ErrorKind::Regex, e))?,
    };
    let end_len = match &def.multiline_end {
        Some(p) => max_len(p).map_err(|e| Error::new(ErrorKind::Regex, e))?,
        None => Some(0),
    };
    let max_len = match (begin_len, end_len) {
        (Some(a), Some(b)) => a.max(b),
        _ => {
            return Err(Error::new(
                ErrorKind::Unbounded,
                "the regex can match without bound (`+`, `*`, `{n,}`): give every repetition an upper \
                 bound, or set multiline_end for a block that spans lines",
            ))
        }
    };
    let mut validators = Vec::new();
    for name in &def.validators {
        let v = Validator::builtin(name)
            .or_else(|| custom.iter().find(|v| v.name() == name).cloned())
            .ok_or_else(|| Error::new(ErrorKind::Unknown, format!("unknown validator {name:?}")))?;
        validators.push(v);
    }
    if let Some(e) = def.entropy {
        if !(0.0..=8.0).contains(&e) {
            return Err(invalid(format!("entropy = {e}: bits per byte lie between 0 and 8")));
        }
    }
    let default_mask: Mask = match &def.mask {
        Some(m) => m.parse()?,
        None => Mask::Label(None),
    };
    if def.multiline_end.is_some() && matches!(default_mask, Mask::Hash | Mask::Keep { .. } | Mask::KeepAfter(_)) {
        return Err(Error::new(ErrorKind::Mask, "a multi-line rule masks with label, fixed or drop"));
    }
    let name = def.name.clone().unwrap_or_else(|| def.id.clone());
    if !is_kebab(&name) {
        return Err(invalid(format!("name {name:?} is not kebab-case")));
    }
    if def.positive.is_empty() || def.negative.is_empty() {
        return Err(Error::new(
            ErrorKind::Tests,
            "a rule needs test cases: at least one positive (input and expected output) and one negative",
        ));
    }
    let patterns = Patterns { regex: def.regex, within: def.within, end: def.multiline_end, allow: def.allow };
    let compiled = patterns.compile(pack_allow)?;
    let mut rule = Rule {
        id: def.id,
        description: def.description,
        category: def.category,
        pack: pack.name.clone(),
        keywords: def.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
        trigger: def.trigger,
        patterns,
        compiled,
        validators,
        entropy: def.entropy,
        mask: default_mask.clone(),
        default_mask,
        label: String::new(),
        default_label: String::new(),
        name,
        max_len,
        positive: def.positive,
        negative: def.negative,
        origin: origin.to_string(),
        line,
    };
    rule.set_mask(rule.default_mask.clone());
    rule.default_label = rule.label.clone();
    Ok(rule)
}

impl Rule {
    /// Sets the mask in effect and renders its label.
    pub(crate) fn set_mask(&mut self, m: Mask) {
        let template = match &m {
            Mask::Label(Some(t)) => Some(t.as_str()),
            _ => None,
        };
        let cx = MaskContext { id: &self.id, category: &self.category, name: &self.name };
        self.label = mask::render_label(template, &cx);
        self.mask = m;
    }
}
