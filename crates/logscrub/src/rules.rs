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
//! generic = true                 # takes any value: a rule that knows the value labels it
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
//! them over whole buffers. Keywords are ASCII; words in other scripts
//! (пароль, 密码) go in a trigger regex, which the prefilter takes loosely
//! (each byte beyond ASCII as any byte beyond ASCII) and the rule's
//! regex then confirms.
//!
//! A rule with `within` runs its regex only in scopes that start where
//! `within` matches: to the end of the line, or, with `scope = "object"`,
//! inside the JSON object the last `{` of the match opens (a Kubernetes
//! Secret's `data`, whatever its keys are named). A scope bounds the regex,
//! so it may use `+`.
//!
//! A `generic` rule finds a secret by the key, header or flag around it,
//! whatever the value. Where it and a rule that knows the value's own shape
//! (a provider's token, a JWT) find the same span, the span takes the
//! second rule's mask and label, which say what leaked.

use aho_corasick::AhoCorasick;
use regex::bytes::{Regex, RegexBuilder};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{meta, Anchored, Input, PatternID};
use regex_syntax::hir::literal::{ExtractKind, Extractor, Seq};
use regex_syntax::hir::{self, Hir, HirKind};
use serde::Deserialize;
use std::ops::Range;
use std::sync::Arc;

use crate::allowlist::Allowlist;
use crate::error::{Error, ErrorKind};
use crate::groups::Pieces;
use crate::mask::{self, Mask, MaskContext};
use crate::validate::Validator;

/// The categories a rule may declare.
pub const CATEGORIES: &[&str] = &["credential", "token", "key", "pii", "financial", "national-id", "network"];

/// How far a `within` scope reaches past its match: to the end of the
/// line, at most this many bytes.
pub(crate) const SCOPE: usize = 4096;

/// How far an object scope (`scope = "object"`) reaches past its match:
/// to the end of the JSON object the match opens, at most this many bytes.
/// A Kubernetes Secret's data holds certificates and keys of a few KiB;
/// more would raise the longest match, and with it the smallest
/// `--max-line` allowed (four times it), past 64 KiB.
pub(crate) const OBJECT_SCOPE: usize = 8 << 10;

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
    scope: Option<String>,
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
    generic: bool,
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
    /// The rule finds a secret by the key or header around it, whatever the
    /// value: on a span that a rule knowing the value's own shape also
    /// finds, that rule's label is used (see [`Rule::is_generic`]).
    pub(crate) generic: bool,
    pub(crate) max_len: usize,
    /// The shortest match of the rule's regex: a line shorter than this
    /// cannot hold a finding of it.
    pub(crate) min_len: usize,
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
    /// Whether the rule finds a secret by the key, header or flag around it
    /// and takes any value (`generic = true` in its file). Where such a rule
    /// and one that knows the value's own shape find the same span, the
    /// mask is the second one's: its label says what leaked, and so what to
    /// rotate.
    ///
    /// ```
    /// let r = logscrub::Redactor::new();
    /// let generic = |id| r.rules().find(|x| x.id() == id).unwrap().is_generic();
    /// assert!(generic("secret-assignment") && !generic("stripe-key"));
    /// assert_eq!(
    ///     r.redact(b"stripe.api_key = sk_live_KKGdoOg6t7CPOtcEQFlOnyzn").as_ref(),
    ///     b"stripe.api_key = [REDACTED:stripe-key]"
    /// );
    /// ```
    pub fn is_generic(&self) -> bool {
        self.generic
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

fn compile(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern).size_limit(REGEX_SIZE_LIMIT).dfa_size_limit(DFA_CACHE).build().map_err(|e| e.to_string())
}

/// The engines a rule regex is compiled with.
#[derive(Clone, Copy, PartialEq)]
enum Engines {
    /// The lazy DFAs, and a one-pass DFA for the groups where the regex is
    /// one-pass.
    All,
    /// The lazy DFAs; the groups by the other capturing engines.
    NoOnePass,
    /// The NFA engines alone, for searches too rare to pay at start-up for
    /// a reverse NFA and the DFAs.
    NfaOnly,
    /// The capturing engines alone (one-pass DFA where it applies, else the
    /// NFAs), for groups within a match already found.
    Groups,
}

/// A parsed rule regex, compiled as `regex::bytes` compiles a pattern
/// (leftmost-first, matches may split UTF-8) under the same limits. With
/// `prefilter`, the DFAs' searches skip ahead to the regex's literals; a
/// rule searched from its [`Starts`] runs anchored searches, which no
/// prefilter speeds, and extracting the literals again took 8% of start-up.
/// Never a full DFA, whatever features regex-automata is built with (a
/// binary's other crates may turn on `dfa-build`): it is built at start-up
/// for each small regex, where the lazy DFA builds only the states a search
/// needs (71 of the default rules' regexes, 4% of start-up, and no faster
/// past it).
fn compile_hir(hir: &Hir, engines: Engines, prefilter: bool) -> Result<meta::Regex, String> {
    let dfas = matches!(engines, Engines::All | Engines::NoOnePass);
    let config = meta::Config::new()
        .match_kind(regex_automata::MatchKind::LeftmostFirst)
        .utf8_empty(false)
        .nfa_size_limit(Some(REGEX_SIZE_LIMIT))
        .hybrid_cache_capacity(DFA_CACHE)
        .onepass(matches!(engines, Engines::All | Engines::Groups))
        .hybrid(dfas)
        .dfa(false)
        .auto_prefilter(dfas && prefilter);
    meta::Builder::new().configure(config).build_from_hir(hir).map_err(|e| e.to_string())
}

/// Repetitions bounded at this many or more are loosened in a rule's
/// capture regex (see [`Compiled::find_secret`]).
const LOOSE_FROM: u32 = 64;

/// Secrets this long are masked on to the end of their token whatever the
/// rule's bounds (see [`Compiled::long`]).
const LONG_VALUE: usize = 1000;

/// The shortest secret that a value bound inside one of the `groups` of
/// `hir` (0: the whole match) may have cut; see [`long_value`]. The bounds
/// of the context around a secret (a URL's user name) do not count.
fn secret_long_value(hir: &Hir, groups: &[usize]) -> usize {
    match hir.kind() {
        _ if groups == [0] => long_value(hir),
        HirKind::Capture(c) if groups.contains(&(c.index as usize)) => long_value(&c.sub),
        HirKind::Capture(c) => secret_long_value(&c.sub, groups),
        HirKind::Repetition(r) => secret_long_value(&r.sub, groups),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => {
            hs.iter().map(|h| secret_long_value(h, groups)).min().unwrap_or(LONG_VALUE)
        }
        _ => LONG_VALUE,
    }
}

/// The shortest value that one of `hir`'s value bounds may have cut: the
/// smallest bound of a repetition bounded at [`LOOSE_FROM`] or more that
/// may stop short of it (`{1,128}`, not the fixed `{64}` of a format), and
/// at most [`LONG_VALUE`].
fn long_value(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Repetition(r) => {
            let each_takes_a_byte = r.sub.properties().minimum_len().is_some_and(|n| n > 0);
            let here = match r.max {
                Some(m) if m >= LOOSE_FROM && r.min < m && each_takes_a_byte => m as usize,
                _ => LONG_VALUE,
            };
            here.min(long_value(&r.sub))
        }
        HirKind::Capture(c) => long_value(&c.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().map(long_value).min().unwrap_or(LONG_VALUE),
        _ => LONG_VALUE,
    }
}

/// `hir` with every repetition bounded at [`LOOSE_FROM`] or more made
/// unbounded (`{1,1024}` becomes `{1,}`, `{1024}` becomes `{1024,}`) where
/// each of its iterations takes at least one byte; `upto` becomes the
/// smallest bound so loosened.
///
/// Over a span of at most `upto` bytes no such repetition can iterate more
/// than its bound allowed, so the loosened regex has the same matches there,
/// in the same order of preference, and the same groups. It compiles to an
/// NFA of tens of states where the bounded one has thousands (one per
/// allowed iteration), which the capturing engines pay for per byte.
fn loosen(hir: &Hir, upto: &mut usize) -> Hir {
    match hir.kind() {
        HirKind::Repetition(r) => {
            let each_takes_a_byte = r.sub.properties().minimum_len().is_some_and(|n| n > 0);
            let max = match r.max {
                Some(m) if m >= LOOSE_FROM && each_takes_a_byte => {
                    *upto = (*upto).min(m as usize);
                    None
                }
                max => max,
            };
            Hir::repetition(hir::Repetition { max, sub: Box::new(loosen(&r.sub, upto)), ..r.clone() })
        }
        HirKind::Capture(c) => Hir::capture(hir::Capture { sub: Box::new(loosen(&c.sub, upto)), ..c.clone() }),
        HirKind::Concat(hs) => Hir::concat(hs.iter().map(|h| loosen(h, upto)).collect()),
        HirKind::Alternation(hs) => Hir::alternation(hs.iter().map(|h| loosen(h, upto)).collect()),
        _ => hir.clone(),
    }
}

/// `hir` with every part that cannot match in `upto` bytes made one that
/// never matches (its groups kept, so that group numbers stay).
///
/// The groups of a match no longer than `upto` come out the same: a branch
/// that cannot match within the match's span never took part in it. Such
/// branches (the `{1024}` of a value too long to be quoted, say) are most of
/// a loosened regex's NFA, and the backtracker clears a bit for every NFA
/// state and byte of the span before each search.
fn prune(hir: &Hir, upto: usize) -> Hir {
    let least = |h: &Hir| h.properties().minimum_len().unwrap_or(usize::MAX);
    if least(hir) > upto {
        // Never matches; its groups stay, empty, in their order.
        let mut groups = vec![Hir::fail()];
        empty_groups(hir, &mut groups);
        return Hir::concat(groups);
    }
    match hir.kind() {
        // What the rest of a concatenation takes leaves each part less room.
        HirKind::Concat(hs) => {
            let all: usize = hs.iter().map(least).sum();
            Hir::concat(hs.iter().map(|h| prune(h, upto - (all - least(h)))).collect())
        }
        HirKind::Repetition(r) => {
            let others = (r.min as usize).saturating_sub(1) * least(&r.sub);
            Hir::repetition(hir::Repetition { sub: Box::new(prune(&r.sub, upto - others)), ..r.clone() })
        }
        HirKind::Capture(c) => Hir::capture(hir::Capture { sub: Box::new(prune(&c.sub, upto)), ..c.clone() }),
        HirKind::Alternation(hs) => Hir::alternation(hs.iter().map(|h| prune(h, upto)).collect()),
        _ => hir.clone(),
    }
}

/// The groups in `hir`, each made empty, in order.
fn empty_groups(hir: &Hir, out: &mut Vec<Hir>) {
    match hir.kind() {
        HirKind::Capture(c) => {
            out.push(Hir::capture(hir::Capture { sub: Box::new(Hir::empty()), ..c.clone() }));
            empty_groups(&c.sub, out);
        }
        HirKind::Repetition(r) => empty_groups(&r.sub, out),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().for_each(|h| empty_groups(h, out)),
        _ => {}
    }
}

/// A rule's patterns as its file gives them.
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    pub(crate) regex: String,
    /// A scope: the regex runs after each match of this one, to the end
    /// of the line, or (`object`) inside the JSON object the match opens.
    pub(crate) within: Option<String>,
    pub(crate) object: bool,
    /// A multi-line rule's end marker.
    pub(crate) end: Option<String>,
    /// The rule's own allowlist (its pack's is compiled once, for the pack).
    allow: Vec<String>,
}

/// A rule's patterns, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Compiled {
    /// The rule's regex; without its leading `(?:^|[…])` when it has one
    /// (`lead`), as are the loosened twin's.
    regex: meta::Regex,
    lead: Option<Lead>,
    /// The literals every match starts with, when there are a few long ones.
    starts: Option<Starts>,
    /// `regex` loosened (see [`loosen`]); `None` when nothing is loosened.
    loose: Option<Loose>,
    /// Capture groups that hold the secret; the first that took part wins.
    groups: Vec<usize>,
    /// Where the secret lies in a match, when the regex's shape says so.
    tail: Option<Tail>,
    pub(crate) within: Option<Regex>,
    /// The scope is the JSON object opened by the last `{` of the
    /// `within` match (`scope = "object"`), not the rest of the line.
    pub(crate) object: bool,
    pub(crate) end: Option<Regex>,
    /// Values that are never secrets: the rule's allowlist, then its pack's.
    pub(crate) allow: Vec<Arc<Allowlist>>,
    /// A secret this long may have been cut by a bound of the rule's regex
    /// and go on past it: the engine masks the rest of its token too.
    pub(crate) long: usize,
}

impl Compiled {
    /// The rule's first match in `hay` at or after `at`, and the span of
    /// its secret (the first of its secret groups that took part). `slots`
    /// is scratch space for the groups.
    ///
    /// Both steps use the loosened regex (see [`loosen`]) where they may:
    /// it finds the same match as the rule's own regex when its match is no
    /// longer than the loosened bounds, and no match when that one has
    /// none, and its lazy DFA does not count iterations (a state for every
    /// length of a value, built again and again). The match is found by the
    /// lazy DFAs (a value longer than the loosened bounds, by the rule's own
    /// regex on the NFA engines, from where the twin's match starts, as no
    /// match of the rule starts before it); only then are its groups
    /// resolved, by a capturing engine
    /// anchored on the match's own span (look-around still sees the bytes
    /// beyond it). A rule whose matches all start with one of a few
    /// literals is searched from each of them instead (see [`Starts`]).
    pub(crate) fn find_secret(
        &self,
        hay: &[u8],
        at: usize,
        slots: &mut Vec<Option<NonMaxUsize>>,
    ) -> Option<(Range<usize>, Option<Range<usize>>)> {
        // The match's start, and the start of what `re` matched (one byte
        // later when a lead byte was taken).
        let find = |re: &meta::Regex, at: usize| {
            let rest = |from: usize| match &self.starts {
                Some(starts) => starts.find(re, hay, from),
                None => re.find(Input::new(hay).span(from..hay.len())),
            };
            match &self.lead {
                Some(lead) => lead.find(rest, hay, at),
                None => rest(at).map(|m| (m.start(), m)),
            }
        };
        // The regex that resolves the match's groups, and its pieces.
        let (re, pieces, (start, m)) = match &self.loose {
            Some(loose) => {
                let (start, m) = find(&loose.find, at)?;
                let twin = (&loose.groups, loose.pieces.as_deref());
                if m.end() - start <= loose.upto {
                    (twin.0, twin.1, (start, m))
                } else {
                    // A long value: the rule's own bounds decide its match,
                    // which cannot start before the twin's.
                    let (start, m) = find(&self.regex, start)?;
                    let (re, pieces) = if m.end() - start <= loose.upto { twin } else { (&self.regex, None) };
                    (re, pieces, (start, m))
                }
            }
            None => (&self.regex, None, find(&self.regex, at)?),
        };
        if let Some(tail) = &self.tail {
            return Some((start..m.end(), Some(tail.secret(hay, m.range()))));
        }
        slots.clear();
        slots.resize(re.group_info().slot_len(), None);
        let found = match pieces {
            Some(p) if p.resolve(hay, m.start(), m.end(), slots) => Some(PatternID::ZERO),
            _ => {
                slots.fill(None);
                re.search_slots(&Input::new(hay).span(m.range()).anchored(Anchored::Yes), slots)
            }
        };
        let secret = match found {
            Some(_) => self.groups.iter().find_map(|&g| match (slots[2 * g], slots[2 * g + 1]) {
                (Some(s), Some(e)) => Some(s.get()..e.get()),
                _ => None,
            }),
            // Cannot happen (the span is a match); if it did, the whole
            // match is the secret: fail closed.
            None => Some(start..m.end()),
        };
        debug_assert!(found.is_some(), "a match is found again over its own span");
        Some((start..m.end(), secret))
    }
}

/// A regex's leading `(?:^|[…])`: the match starts at the start of the
/// haystack or with one byte of a class. Rules write it for a boundary that
/// `\b` does not give (`-` and `.` inside a token, say). In front of a
/// regex it hides every literal from the search, which then runs its DFA
/// over the whole line (an email in a 170-byte line: 263 ns, against 43 ns
/// for the rest of the regex alone, found from its `@`). So the rule's
/// regexes are compiled without it, and the byte before each match of the
/// rest is checked here.
#[derive(Clone, Debug)]
struct Lead {
    bytes: Box<[bool; 256]>,
}

impl Lead {
    /// Splits `hir` into its lead and the rest, when it starts with one and
    /// the rest holds the groups (the whole match is no secret of its own).
    fn split(hir: &Hir) -> Option<(Lead, Hir)> {
        let HirKind::Concat(parts) = hir.kind() else { return None };
        let HirKind::Alternation(alt) = parts.first()?.kind() else { return None };
        let [start, class] = &alt[..] else { return None };
        let (HirKind::Look(hir::Look::Start), HirKind::Class(hir::Class::Bytes(class))) = (start.kind(), class.kind())
        else {
            return None;
        };
        let rest = Hir::concat(parts[1..].to_vec());
        if rest.properties().explicit_captures_len() == 0 {
            return None;
        }
        let mut bytes = Box::new([false; 256]);
        for r in class.ranges() {
            bytes[usize::from(r.start())..=usize::from(r.end())].fill(true);
        }
        Some((Lead { bytes }, rest))
    }

    /// The leftmost match of the lead and then `rest` that starts at or
    /// after `at`: its start, and the match of `rest`. As the lead's regex
    /// would: the earliest start wins, and at the same start `^` before
    /// the class byte.
    fn find(
        &self,
        rest: impl Fn(usize) -> Option<regex_automata::Match>,
        hay: &[u8],
        at: usize,
    ) -> Option<(usize, regex_automata::Match)> {
        let mut from = at;
        loop {
            let m = rest(from)?;
            let q = m.start();
            if q > at && self.bytes[usize::from(hay[q - 1])] {
                return Some((q - 1, m));
            }
            if q == 0 {
                return Some((0, m));
            }
            // The next match starts just past a lead byte: skip to one (a
            // run of digits inside a longer number, say, in one step).
            from = 1 + q + hay[q..].iter().position(|&b| self.bytes[usize::from(b)])?;
        }
    }
}

/// The literals that every match of a regex starts with (a token's prefix:
/// `ghp_`, `xoxb-`; a header's name: `authorization`), when there are a few
/// long ones, in ASCII case or not. A match is then found by the forward
/// lazy DFA alone, anchored at each place such a literal starts, leftmost
/// first: the match's start is known, and the reverse DFA that an
/// unanchored search runs back over the whole match to find it (a second
/// walk over a token, through states of its own cold in the CPU's caches
/// when lines with secrets are rare) is spared.
///
/// A match may also start one byte before such a literal, with a lead
/// (`(?:^|[^a-z0-9])token`, `[A-Z0-9]_KEY`): each is then tried from that
/// byte, then from the literal.
#[derive(Clone, Debug)]
struct Starts {
    literals: AhoCorasick,
    /// How many bytes before a literal a match may start: 0 or 1.
    back: usize,
}

/// Literals shorter than this start too many candidates, but for two
/// letters (`pw`): pairs of digits are in every timestamp, pairs of letters
/// in few places where a key is not.
const STARTS_MIN_LEN: usize = 3;

/// At most this many literals.
const STARTS_MAX: usize = 64;

/// After this many candidates that start no match, the rest of a line is
/// left to one unanchored search: a line of literals that start no match
/// (`ghp_` repeated) costs an anchored search each, over up to a match's
/// length.
const STARTS_TRIES: usize = 4;

impl Starts {
    /// The literals every match of `hir` starts with, if there are a few
    /// long ones.
    fn of(hir: &Hir) -> Option<Starts> {
        let few_long = |seq: &Seq| {
            let literals = seq.literals()?;
            let fit = !literals.is_empty()
                && literals.len() <= STARTS_MAX
                && literals.iter().all(|l| {
                    let l = l.as_bytes();
                    l.len() >= STARTS_MIN_LEN || l.len() == 2 && l.iter().all(u8::is_ascii_alphabetic)
                });
            fit.then(|| literals.iter().map(|l| l.as_bytes().to_vec()).collect::<Vec<_>>())
        };
        // As extracted, else fewer and shorter ones: their first bytes
        // (`private_key"`, `private_key'`... are `private_`).
        let with_back = |hir: &Hir, back: usize| {
            let mut seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
            if let Some(literals) = few_long(&seq) {
                return Some((literals, back));
            }
            [16, 8, 4, STARTS_MIN_LEN].into_iter().find_map(|len| {
                seq.keep_first_bytes(len);
                seq.sort();
                seq.dedup();
                few_long(&seq).map(|literals| (literals, back))
            })
        };
        // A lead of a few bytes (`(?:^|\s)-p`) is in the literals; one of
        // many is left out of them.
        let starts = |hir: &Hir| {
            with_back(hir, 0).or_else(|| match without_lead(hir) {
                (rest, true) => with_back(&rest, 1),
                (_, false) => None,
            })
        };
        // The literals as they are, when there are few: a searcher that
        // minds case skips ahead with a SIMD prefilter (memchr, Teddy) where
        // one that ignores it walks its automaton over every byte (a rule
        // naming words in other scripts: 2.4x faster over lines of them).
        // Else, found in any ASCII case, the literals of the regex with its
        // letters in one case: `(?i)authorization` is one literal, not 8,192.
        let ((literals, back), case) = match starts(hir) {
            Some(exact) => (exact, true),
            None => (starts(&lower_case(hir))?, false),
        };
        let literals = AhoCorasick::builder()
            .ascii_case_insensitive(!case)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(literals)
            .ok()?;
        Some(Starts { literals, back })
    }

    /// `re`'s leftmost match in `hay` that starts at or after `at`.
    fn find(&self, re: &meta::Regex, hay: &[u8], at: usize) -> Option<regex_automata::Match> {
        // Every start before `from` has been tried: starts are tried in
        // order, so the first that holds a match holds the leftmost.
        let mut from = at;
        for _ in 0..STARTS_TRIES {
            let literal = self.literals.find(aho_corasick::Input::new(hay).range(from..))?.start();
            for start in literal.saturating_sub(self.back).max(from)..=literal {
                // Look-around still sees the bytes before `start`.
                let anchored = Input::new(hay).span(start..hay.len()).anchored(Anchored::Yes);
                if let Some(m) = re.find(anchored) {
                    return Some(m);
                }
            }
            from = literal + 1;
        }
        re.find(Input::new(hay).span(from..hay.len()))
    }
}

/// `hir` without the one-byte lead its matches may start with
/// (`(?:^|[^a-z0-9])`, `[A-Z0-9]`, in front of it or of any of its first
/// alternatives), and whether it had one.
fn without_lead(hir: &Hir) -> (Hir, bool) {
    let one_byte = |h: &Hir| match h.kind() {
        HirKind::Class(hir::Class::Bytes(_)) => true,
        HirKind::Class(hir::Class::Unicode(c)) => c.ranges().last().is_none_or(|r| r.end().is_ascii()),
        _ => false,
    };
    let is_lead = |h: &Hir| {
        one_byte(h)
            || matches!(h.kind(), HirKind::Alternation(alt) if matches!(&alt[..],
                [start, class] if matches!(start.kind(), HirKind::Look(hir::Look::Start)) && one_byte(class)))
    };
    match hir.kind() {
        _ if is_lead(hir) => (Hir::empty(), true),
        HirKind::Concat(parts) => {
            let (first, lead) = without_lead(&parts[0]);
            (Hir::concat([first].into_iter().chain(parts[1..].iter().cloned()).collect()), lead)
        }
        HirKind::Alternation(alts) => {
            let (alts, leads): (Vec<Hir>, Vec<bool>) = alts.iter().map(without_lead).unzip();
            (Hir::alternation(alts), leads.contains(&true))
        }
        HirKind::Capture(c) => {
            let (sub, lead) = without_lead(&c.sub);
            (Hir::capture(hir::Capture { sub: Box::new(sub), ..c.clone() }), lead)
        }
        _ => (hir.clone(), false),
    }
}

/// `hir` with its ASCII letters in lower case: literals lowered, and a class
/// of just the two cases of a letter (`(?i)a` is `[Aa]`) made that letter.
/// What it matches, in any ASCII case, is what `hir` matches.
fn lower_case(hir: &Hir) -> Hir {
    match hir.kind() {
        HirKind::Literal(lit) => Hir::literal(lit.0.to_ascii_lowercase()),
        HirKind::Class(class) => {
            // Two ranges of one byte each, sorted: the upper case first.
            let ends = match class {
                hir::Class::Bytes(c) => match c.ranges() {
                    [a, b] if a.start() == a.end() && b.start() == b.end() => Some((a.start(), b.start())),
                    _ => None,
                },
                hir::Class::Unicode(c) => match c.ranges() {
                    [a, b] if a.start() == a.end() && b.start() == b.end() && b.end().is_ascii() => {
                        Some((a.start() as u8, b.start() as u8))
                    }
                    _ => None,
                },
            };
            match ends {
                Some((upper, lower)) if upper.is_ascii_uppercase() && lower == upper.to_ascii_lowercase() => {
                    Hir::literal([lower])
                }
                _ => hir.clone(),
            }
        }
        HirKind::Repetition(r) => Hir::repetition(hir::Repetition { sub: Box::new(lower_case(&r.sub)), ..r.clone() }),
        HirKind::Capture(c) => Hir::capture(hir::Capture { sub: Box::new(lower_case(&c.sub)), ..c.clone() }),
        HirKind::Concat(hs) => Hir::concat(hs.iter().map(lower_case).collect()),
        HirKind::Alternation(hs) => Hir::alternation(hs.iter().map(lower_case).collect()),
        HirKind::Empty | HirKind::Look(_) => hir.clone(),
    }
}

/// Where a rule's secret lies in its match, when the regex's shape says so
/// without a capturing search. The regex (its lead split off) must be one
/// group holding the secret, after zero-width assertions only or after
/// anything when the group's length is fixed (`key=(?P<secret>[a-z0-9]{40})`),
/// and then a tail (`(?:[^a-z0-9]|$)`, say) none of whose bytes the group
/// can end with. The secret then ends just past the match's last byte that
/// the group can end with, and starts where the match does or its length
/// before its end. Otherwise a match's groups cost a capturing search over
/// it: for a line with an email, a fifth of its time; for a key and a
/// 40-byte value, two thirds.
#[derive(Clone, Debug)]
struct Tail {
    /// The group's index.
    group: usize,
    /// The bytes the group may end with; `None` when nothing follows it.
    last: Option<Box<ByteSet>>,
    /// The group's length, when something comes before it.
    len: Option<usize>,
}

pub(crate) type ByteSet = [bool; 256];

impl Tail {
    /// The shape of `hir`, if it has it (see [`Tail`]).
    fn of(hir: &Hir) -> Option<Tail> {
        let parts = match hir.kind() {
            HirKind::Concat(parts) => &parts[..],
            _ => std::slice::from_ref(hir),
        };
        let zero_width = |h: &Hir| matches!(h.kind(), HirKind::Look(_));
        let at = parts.iter().position(|h| matches!(h.kind(), HirKind::Capture(_)))?;
        let HirKind::Capture(group) = parts[at].kind() else { return None };
        let (before, tail) = (&parts[..at], &parts[at + 1..]);
        let len = match before.iter().all(zero_width) {
            true => None,
            // Found back from its end: its length must be fixed.
            false => match (group.sub.properties().minimum_len(), group.sub.properties().maximum_len()) {
                (Some(least), Some(most)) if least == most => Some(least),
                _ => return None,
            },
        };
        if group.sub.properties().minimum_len()? == 0
            || group.sub.properties().explicit_captures_len() > 0
            || before.iter().chain(tail).any(|h| h.properties().explicit_captures_len() > 0)
        {
            return None;
        }
        let group_index = group.index as usize;
        if tail.iter().all(zero_width) {
            return Some(Tail { group: group_index, last: None, len });
        }
        let last = end_bytes(&group.sub, End::Last)?;
        let mut in_tail = Box::new([false; 256]);
        for h in tail {
            add_bytes(h, &mut in_tail)?;
        }
        if (0..256).any(|b| last[b] && in_tail[b]) {
            return None;
        }
        Some(Tail { group: group_index, last: Some(last), len })
    }

    /// The secret of match `m` in `hay`.
    fn secret(&self, hay: &[u8], m: Range<usize>) -> Range<usize> {
        // The group's last byte is the match's last byte it can end with:
        // none of the tail's bytes is one. There is one (the group takes at
        // least one byte); were there not, the whole match is the secret.
        let end = match &self.last {
            None => m.end,
            Some(last) => match hay[m.clone()].iter().rposition(|&b| last[usize::from(b)]) {
                Some(i) => m.start + i + 1,
                None => return m,
            },
        };
        match self.len {
            None => m.start..end,
            Some(len) if end - m.start >= len => end - len..end,
            Some(_) => m,
        }
    }
}

/// The bytes of `class`, if it is all ASCII or bytes.
fn byte_set(class: &hir::Class) -> Option<Box<ByteSet>> {
    let bytes = match class {
        hir::Class::Bytes(c) => c.clone(),
        hir::Class::Unicode(c) => c.to_byte_class()?,
    };
    let mut set = Box::new([false; 256]);
    for r in bytes.ranges() {
        set[usize::from(r.start())..=usize::from(r.end())].fill(true);
    }
    Some(set)
}

/// Adds to `set` every byte a match of `hir` may hold; `None` when that is
/// not known (a class beyond ASCII).
fn add_bytes(hir: &Hir, set: &mut ByteSet) -> Option<()> {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) => {}
        HirKind::Literal(lit) => lit.0.iter().for_each(|&b| set[usize::from(b)] = true),
        HirKind::Class(class) => {
            let bytes = byte_set(class)?;
            (0..256).for_each(|b| set[b] |= bytes[b]);
        }
        HirKind::Repetition(r) => add_bytes(&r.sub, set)?,
        HirKind::Capture(c) => add_bytes(&c.sub, set)?,
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().try_for_each(|h| add_bytes(h, set))?,
    }
    Some(())
}

/// An end of a match: its first byte or its last.
#[derive(Clone, Copy, Debug)]
pub(crate) enum End {
    First,
    Last,
}

/// Every byte a match of `hir` may start or end with (a superset), if
/// `hir` cannot match the empty string and the answer is known (ASCII or
/// byte classes). Looks are passed over, as they take no byte.
pub(crate) fn end_bytes(hir: &Hir, end: End) -> Option<Box<ByteSet>> {
    if hir.properties().minimum_len()? == 0 {
        return None;
    }
    let mut set = Box::new([false; 256]);
    add_end_bytes(hir, end, &mut set)?;
    Some(set)
}

/// Adds to `set` the bytes a non-empty match of `hir` may start or end
/// with; `None` when that is not known.
fn add_end_bytes(hir: &Hir, end: End, set: &mut ByteSet) -> Option<()> {
    match hir.kind() {
        HirKind::Literal(lit) => {
            let b = match end {
                End::First => lit.0.first(),
                End::Last => lit.0.last(),
            };
            set[usize::from(*b?)] = true;
        }
        HirKind::Class(_) => add_bytes(hir, set)?,
        HirKind::Capture(c) => add_end_bytes(&c.sub, end, set)?,
        HirKind::Repetition(r) => add_end_bytes(&r.sub, end, set)?,
        HirKind::Alternation(hs) => hs.iter().try_for_each(|h| add_end_bytes(h, end, set))?,
        HirKind::Concat(parts) => {
            // From that end: a part that may match nothing lets the next
            // one in start or end the match too.
            for i in 0..parts.len() {
                let part = &parts[match end {
                    End::First => i,
                    End::Last => parts.len() - 1 - i,
                }];
                if part.properties().maximum_len() == Some(0) {
                    continue;
                }
                add_end_bytes(part, end, set)?;
                if part.properties().minimum_len()? > 0 {
                    return Some(());
                }
            }
            // Every part may match nothing: then so may the whole, whose
            // ends are in what comes around it, unknown here.
            return None;
        }
        HirKind::Empty | HirKind::Look(_) => return None,
    }
    Some(())
}

/// A rule's regex loosened, for matches no longer than `upto`.
#[derive(Clone, Debug)]
struct Loose {
    /// Finds matches (the lazy DFAs).
    find: meta::Regex,
    /// Resolves the groups of a match no longer than `upto`: `find` pruned
    /// of what cannot match in `upto` bytes (see [`prune`]).
    groups: meta::Regex,
    /// `groups` cut into pieces that a lazy DFA resolves faster; `None`
    /// when it has no such cut, or is small enough for the capturing
    /// engine.
    pieces: Option<Arc<Pieces>>,
    upto: usize,
}

/// An allowlist as one set, or `None` when it is empty.
fn compile_allow(patterns: &[String]) -> Result<Option<Arc<Allowlist>>, Error> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let set =
        Allowlist::new(patterns, REGEX_SIZE_LIMIT).map_err(|e| Error::new(ErrorKind::Regex, format!("allow: {e}")))?;
    Ok(Some(Arc::new(set)))
}

impl Patterns {
    /// Compiles the patterns; `full` is the rule's regex, parsed.
    fn compile(&self, full: &Hir, pack_allow: Option<&Arc<Allowlist>>) -> Result<Compiled, Error> {
        let regex_error = |e| Error::new(ErrorKind::Regex, e);
        let (lead, hir) = match Lead::split(full) {
            Some((lead, rest)) => (Some(lead), rest),
            None => (None, full.clone()),
        };
        let mut upto = usize::MAX;
        let loosened = loosen(&hir, &mut upto);
        // No twin when nothing is loosened, nor when every match of the rule
        // is longer than the loosened bounds: it would only ever send the
        // search back to the rule's own regex.
        // The loosened and pruned twins have the regex's shape: one tail
        // serves all three, and spares them a capturing engine.
        let tail = Tail::of(&hir);
        let starts = Starts::of(&loosened);
        let prefilter = starts.is_none();
        let loose = match hir.properties().minimum_len() {
            Some(shortest) if upto != usize::MAX && shortest <= upto => {
                let find = compile_hir(&loosened, Engines::NoOnePass, prefilter).map_err(regex_error)?;
                let (groups, pieces) = match tail {
                    Some(_) => (find.clone(), None),
                    None => {
                        let pruned = prune(&loosened, upto);
                        (
                            compile_hir(&pruned, Engines::Groups, false).map_err(regex_error)?,
                            Pieces::of(&pruned).map(Arc::new),
                        )
                    }
                };
                Some(Loose { find, groups, pieces, upto })
            }
            _ => None,
        };
        // Beside a loosened twin, the rule's own regex only decides values
        // longer than the loosened bounds, a few bytes past a match the twin
        // found: the NFA engines do that well enough, and sparing its reverse
        // NFA and DFAs took a fifth off start-up (47 -> 37 ms) and 10 MB off
        // the resident size. Alone with long bounds it searches every line,
        // but captures only values longer than them: no one-pass DFA (the
        // largest part of its compiled size), nor with a tail, which reads
        // its groups.
        let engines = match (&loose, upto) {
            (Some(_), _) => Engines::NfaOnly,
            (None, usize::MAX) if tail.is_none() => Engines::All,
            (None, _) => Engines::NoOnePass,
        };
        let regex = compile_hir(&hir, engines, prefilter).map_err(regex_error)?;
        // The secret is the first group named `secret…` that took part in
        // the match (alternatives for quoted and bare values), else group 1,
        // else the whole match.
        let names = || regex.group_info().pattern_names(PatternID::ZERO);
        let named: Vec<usize> =
            names().enumerate().filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret"))).map(|(i, _)| i).collect();
        let groups = if !named.is_empty() {
            named
        } else if names().count() > 1 {
            vec![1]
        } else {
            vec![0]
        };
        let optional = |p: &Option<String>, what: &str| {
            p.as_deref().map(compile).transpose().map_err(|e| Error::new(ErrorKind::Regex, format!("{what}: {e}")))
        };
        let allow = compile_allow(&self.allow)?.into_iter().chain(pack_allow.cloned()).collect();
        let tail = tail.filter(|t| groups == [t.group]);
        Ok(Compiled {
            long: secret_long_value(full, &groups),
            regex,
            lead,
            starts,
            loose,
            groups,
            tail,
            within: optional(&self.within, "within")?,
            object: self.object,
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
    allow: Option<Arc<Allowlist>>,
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
    pack_allow: Option<&Arc<Allowlist>>,
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
        let hir = parse_hir(t).map_err(|e| Error::new(ErrorKind::Regex, format!("trigger: {e}")))?;
        // A trigger only gates its rule: one that matches empty text would
        // wake it on every line.
        if hir.properties().minimum_len() == Some(0) {
            return Err(invalid(
                "trigger can match empty text, so it would wake the rule on every line: give it at least one byte"
                    .into(),
            ));
        }
    }
    if def.within.is_some() && def.multiline_end.is_some() {
        return Err(invalid("a rule cannot have both within and multiline_end".into()));
    }
    let full = parse_hir(&def.regex).map_err(|e| Error::new(ErrorKind::Regex, e))?;
    let props = full.properties().clone();
    let object = match (def.scope.as_deref(), &def.within) {
        (None | Some("line"), _) => false,
        (Some("object"), Some(_)) => true,
        (Some("object"), None) => return Err(invalid("scope = \"object\" needs a within regex".into())),
        (Some(other), _) => return Err(invalid(format!("scope = {other:?}: expected \"line\" or \"object\""))),
    };
    let begin_len = match &def.within {
        // Inside a scope, the scope bounds the match.
        Some(p) => max_len(p)
            .map_err(|e| Error::new(ErrorKind::Regex, format!("within: {e}")))?
            .map(|n| n + if object { OBJECT_SCOPE } else { SCOPE }),
        None => props.maximum_len(),
    };
    let end_len = match &def.multiline_end {
        Some(p) => max_len(p).map_err(|e| Error::new(ErrorKind::Regex, e))?,
        None => Some(0),
    };
    // A regex that can never match takes no line at all.
    let min_len = props.minimum_len().unwrap_or(usize::MAX);
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
    let patterns = Patterns { regex: def.regex, within: def.within, object, end: def.multiline_end, allow: def.allow };
    let compiled = patterns.compile(&full, pack_allow)?;
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
        generic: def.generic,
        max_len,
        min_len,
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every rule of every built-in pack, with its pattern compiled by
    /// `regex::bytes` as the reference for [`Compiled::find_secret`].
    fn rules() -> &'static [(Rule, Regex)] {
        static RULES: std::sync::OnceLock<Vec<(Rule, Regex)>> = std::sync::OnceLock::new();
        RULES.get_or_init(|| {
            let r = crate::Redactor::builder().packs(["all"]).build().unwrap();
            r.inner.rules.iter().map(|rule| (rule.clone(), compile(&rule.patterns.regex).unwrap())).collect()
        })
    }

    #[test]
    fn token_prefixes_are_starts_and_key_names_are_not() {
        let has_starts = |id: &str| rules().iter().find(|(r, _)| r.id() == id).unwrap().0.compiled.starts.is_some();
        assert!(has_starts("github-token") && has_starts("slack-token") && has_starts("http-authorization"));
        // A key name after a lead byte, in any case; `pw` is two letters.
        assert!(has_starts("secret-assignment") && has_starts("env-secret-assignment"));
        assert!(has_starts("password-assignment"));
        // Any word before the `@`.
        assert!(!has_starts("email"));
        // 142 of the 190 rules in all packs when this was written.
        assert!(rules().iter().filter(|(r, _)| r.compiled.starts.is_some()).count() > rules().len() / 2);
    }

    /// What the rule's own regex says: its first match from `at`, and its
    /// secret group, captured over the rest of the haystack.
    fn reference(rule: &Rule, re: &Regex, hay: &[u8], at: usize) -> Option<(Range<usize>, Option<Range<usize>>)> {
        let found = re.find_at(hay, at)?;
        let mut locs = re.capture_locations();
        let m = re.captures_read_at(&mut locs, hay, found.start()).expect("a match captures");
        assert_eq!(m.range(), found.range());
        let secret = rule.compiled.groups.iter().find_map(|&g| locs.get(g)).map(|(s, e)| s..e);
        Some((found.range(), secret))
    }

    fn agree(rule: &Rule, re: &Regex, hay: &[u8], at: usize) -> Result<(), String> {
        let got = rule.compiled.find_secret(hay, at, &mut Vec::new());
        let want = reference(rule, re, hay, at);
        if got == want {
            Ok(())
        } else {
            Err(format!(
                "rule {}: {got:?} where its regex gives {want:?} on {:?}",
                rule.id,
                String::from_utf8_lossy(hay)
            ))
        }
    }

    #[test]
    fn a_secret_at_a_value_bound_may_have_been_cut() {
        let long = |re: &str| long_value(&parse_hir(re).unwrap());
        assert_eq!(long(r"k=(?P<secret>[^\s]{1,128})"), 128);
        assert_eq!(long(r"k=(?:'(?P<secret>[^']{1,2048})'|(?P<secret2>\S{1,256}))"), 256);
        // Formats and short bounds are not value bounds; past LONG_VALUE
        // every secret counts as cut.
        assert_eq!(long(r"sig=(?P<secret>[0-9a-f]{64})"), LONG_VALUE);
        assert_eq!(long(r"k=(?P<secret>[a-z]{1,32})"), LONG_VALUE);
        assert_eq!(long(r"k=(?P<secret>[a-z]{1,8192})"), LONG_VALUE);
        // Only the secret's own bounds count, not its context's.
        let hir = parse_hir(r"//(?P<user>[^:@]{1,256}):(?P<secret>[^@]{1,4096})@").unwrap();
        assert_eq!((secret_long_value(&hir, &[2]), secret_long_value(&hir, &[0])), (LONG_VALUE, 256));
    }

    #[test]
    fn long_bounds_are_loosened_and_short_ones_kept() {
        let hir = parse_hir(r"a{2,8}(?P<s>[a-z]{1,1024})x{0,64}(?:ab){1,300}y{0,63}(?:b?){0,100}").unwrap();
        let mut upto = usize::MAX;
        let loose = loosen(&hir, &mut upto);
        assert_eq!(upto, 64);
        assert_eq!(loose.properties().maximum_len(), None);
        assert_eq!(loose.properties().explicit_captures_len(), 1);
        // Repetitions that can take nothing are kept bounded: the count of
        // their iterations is not bounded by the length of the match.
        let mut upto = usize::MAX;
        let kept = loosen(&parse_hir(r"(?:b?){0,100}").unwrap(), &mut upto);
        assert_eq!((upto, kept.properties().maximum_len()), (usize::MAX, Some(100)));
    }

    #[test]
    fn pruning_keeps_the_groups_of_short_matches() {
        let hir = parse_hir(r#""(?P<secret>[^"]{1,1024})"|"(?P<secret2>[^"]{1024,})"#).unwrap();
        let pruned = compile_hir(&prune(&hir, 1024), Engines::Groups, false).unwrap();
        let whole = compile_hir(&hir, Engines::All, true).unwrap();
        assert_eq!(pruned.group_info().all_group_len(), whole.group_info().all_group_len());
        for hay in [&br#"k="abc" x"#[..], br#""a"#] {
            let (mut a, mut b) = (pruned.create_captures(), whole.create_captures());
            pruned.captures(Input::new(hay).anchored(Anchored::Yes), &mut a);
            whole.captures(Input::new(hay).anchored(Anchored::Yes), &mut b);
            assert_eq!((a.get_group(1), a.get_group(2)), (b.get_group(1), b.get_group(2)));
        }
        let long = [&b"\""[..], &[b'x'; 1100]].concat();
        assert!(pruned.find(&long[..]).is_none(), "{:?} {:?}", prune(&hir, 1024), pruned.find(&long[..]));
    }

    /// Every rule's examples, with their secret stretched to each length
    /// around the loosened bounds: the loosened regex must give the rule's
    /// own matches and secrets, below, at and past the bound.
    #[test]
    fn loosened_rules_find_what_their_regex_finds_at_every_bound() {
        for (rule, re) in rules() {
            let examples =
                rule.positive.iter().map(|e| e.input.as_str()).chain(rule.negative.iter().map(String::as_str));
            for input in examples {
                let input = input.as_bytes();
                agree(rule, re, input, 0).unwrap();
                let Some(Loose { upto, .. }) = &rule.compiled.loose else { continue };
                let Some((_, Some(secret))) = reference(rule, re, input, 0) else { continue };
                let grow = |len: usize| -> Vec<u8> {
                    let fill = input[secret.end - 1];
                    let extra = len.saturating_sub(secret.len());
                    [&input[..secret.end], &vec![fill; extra][..], &input[secret.end..]].concat()
                };
                for len in [upto - 1, *upto, upto + 1, 1023, 1024, 1025, 4096, 4097] {
                    agree(rule, re, &grow(len), 0).unwrap();
                }
            }
        }
    }

    /// The parts of `hir` that are its secret `groups` (0: all of it).
    fn secret_parts<'h>(hir: &'h Hir, groups: &[usize], out: &mut Vec<&'h Hir>) {
        match hir.kind() {
            _ if groups == [0] => out.push(hir),
            HirKind::Capture(c) if groups.contains(&(c.index as usize)) => out.push(&c.sub),
            HirKind::Capture(c) => secret_parts(&c.sub, groups, out),
            HirKind::Repetition(r) => secret_parts(&r.sub, groups, out),
            HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().for_each(|h| secret_parts(h, groups, out)),
            _ => {}
        }
    }

    /// A regex's shape in printable ASCII, to draw random values of: each
    /// class cut down to `lowest`..=`~`, look-around dropped, repetitions
    /// cut at 64 past their minimum.
    enum Shape {
        Literal(Vec<u8>),
        OneOf(Vec<u8>),
        Repeat(Box<Shape>, usize, usize),
        All(Vec<Shape>),
        Any(Vec<Shape>),
    }

    impl Shape {
        fn of(hir: &Hir, lowest: u8) -> Shape {
            let of = |h: &Hir| Shape::of(h, lowest);
            match hir.kind() {
                HirKind::Literal(l) => Shape::Literal(l.0.to_vec()),
                // A tab too, where spaces are drawn: separators are tabs in
                // some logs, and keywords are typed with a space.
                HirKind::Class(c) => Shape::OneOf(
                    (lowest..=b'~')
                        .chain((lowest <= b' ').then_some(b'\t'))
                        .filter(|&b| match c {
                            hir::Class::Bytes(c) => c.ranges().iter().any(|r| r.start() <= b && b <= r.end()),
                            hir::Class::Unicode(c) => {
                                c.ranges().iter().any(|r| r.start() <= char::from(b) && char::from(b) <= r.end())
                            }
                        })
                        .collect(),
                ),
                HirKind::Repetition(r) => {
                    let max = r.max.unwrap_or(r.min + 64).min(r.min + 64);
                    Shape::Repeat(Box::new(of(&r.sub)), r.min as usize, max as usize)
                }
                HirKind::Capture(c) => of(&c.sub),
                HirKind::Concat(hs) => Shape::All(hs.iter().map(of).collect()),
                HirKind::Alternation(hs) => Shape::Any(hs.iter().map(of).collect()),
                HirKind::Empty | HirKind::Look(_) => Shape::All(Vec::new()),
            }
        }

        /// Appends a random value; `seed` is a xorshift state.
        fn sample(&self, seed: &mut u64, out: &mut Vec<u8>) {
            match self {
                Shape::Literal(l) => out.extend_from_slice(l),
                Shape::OneOf(bytes) if bytes.is_empty() => {}
                Shape::OneOf(bytes) => out.push(bytes[next(seed, bytes.len())]),
                Shape::Repeat(sub, min, max) => {
                    for _ in 0..min + next(seed, max - min + 1) {
                        sub.sample(seed, out);
                    }
                }
                Shape::All(parts) => parts.iter().for_each(|p| p.sample(seed, out)),
                Shape::Any(parts) => parts[next(seed, parts.len())].sample(seed, out),
            }
        }
    }

    /// A rule's regex as a [`Shape`] (classes down to the space), after a
    /// match of its `within` scope and a space when it has one.
    fn scoped_shape(rule: &Rule) -> Shape {
        let regex = Shape::of(&parse_hir(&rule.patterns.regex).unwrap(), b' ');
        match &rule.patterns.within {
            Some(w) => Shape::All(vec![Shape::of(&parse_hir(w).unwrap(), b' '), Shape::Literal(b" ".to_vec()), regex]),
            None => regex,
        }
    }

    /// A random number below `n` (xorshift on `seed`).
    fn next(seed: &mut u64, n: usize) -> usize {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        (*seed % n.max(1) as u64) as usize
    }

    const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// An entropy floor is there to turn away placeholders and words, not
    /// real secrets: random values of a rule's secret shape must pass it,
    /// and so must the values of that shape drawn from the alphabets real
    /// tokens use. (A floor of 3 bits let about one random AWS key id in
    /// 5,000 through unmasked, and a 16-digit hex session id one in seven.)
    /// Shapes that may be shorter than 16 bytes (a generic `key=value`)
    /// keep floors that turn some short values away on purpose.
    #[test]
    fn random_values_of_a_rules_secret_shape_pass_its_entropy_floor() {
        const SAMPLES: usize = 20_000;
        let mut low = Vec::new();
        for (rule, _) in rules() {
            let Some(floor) = rule.entropy else { continue };
            let hir = parse_hir(&rule.patterns.regex).unwrap();
            let mut parts = Vec::new();
            secret_parts(&hir, &rule.compiled.groups, &mut parts);
            for part in parts {
                let Some(shortest) = part.properties().minimum_len().filter(|&n| n >= 16) else { continue };
                let shape = Shape::of(part, b'!');
                let mut seed = 0x9E37_79B9_7F4A_7C15;
                let mut value = Vec::new();
                let below = (0..SAMPLES)
                    .filter(|_| {
                        value.clear();
                        shape.sample(&mut seed, &mut value);
                        !crate::validate::meets_entropy(&value, floor)
                    })
                    .count();
                if below > 0 {
                    low.push(format!("{}: {below} of {SAMPLES} random values of {part} are below {floor}", rule.id));
                }
                // Real tokens are drawn from a few alphabets, at the
                // shortest lengths the shape allows.
                let whole = Regex::new(&format!("^(?:{part})$")).unwrap();
                for alphabet in [&b"0123456789abcdef"[..], b"0123456789ABCDEF", ALNUM] {
                    for len in [shortest, shortest + 4] {
                        let below = (0..SAMPLES / 4)
                            .filter(|_| {
                                value.clear();
                                value.extend((0..len).map(|_| alphabet[next(&mut seed, alphabet.len())]));
                                whole.is_match(&value) && !crate::validate::meets_entropy(&value, floor)
                            })
                            .count();
                        if below > 0 {
                            let alphabet = String::from_utf8_lossy(alphabet);
                            low.push(format!(
                                "{}: {below} random {len}-byte values of {alphabet} are below {floor}",
                                rule.id
                            ));
                        }
                    }
                }
            }
        }
        assert!(low.is_empty(), "{low:#?}");
    }

    /// Keywords and triggers are a promise: every match of the rule's regex
    /// that the rule accepts holds one of them. Every random match of each
    /// rule's regex (with spaces, so that separators are drawn too, and
    /// after a match of its `within` scope) that the rule alone masks with
    /// no prefilter must wake the rule. (Keyword rules joined the test in
    /// session 19: eleven of them missed such matches, `IDENTIFIED  BY`
    /// with two spaces, `radius-server host X key Y`, `password has been
    /// set to`, and now have triggers in their regex's shape.) A key block
    /// that opens counts as masked (to its end). A tenth of the draws must
    /// be masked, but where a validator (a checksum) turns random draws
    /// away.
    #[test]
    fn the_prefilter_wakes_a_rule_on_random_matches_of_its_regex() {
        const SAMPLES: usize = 500;
        let all = crate::Redactor::builder().packs(["all"]).build().unwrap();
        let inner = &*all.inner;
        let mut missed = Vec::new();
        for (i, rule) in inner.rules.iter().enumerate() {
            let shape = scoped_shape(rule);
            let mut seed = 0x2545_F491_4F6C_DD1D;
            let (mut value, mut masked) = (Vec::new(), 0);
            for _ in 0..SAMPLES {
                // After other text too, unless the regex is anchored there.
                value.clear();
                if next(&mut seed, 2) == 0 {
                    value.extend_from_slice(b"x ");
                }
                shape.sample(&mut seed, &mut value);
                let (mut hits, mut open) = (Vec::new(), None);
                inner.confirm(i as u32, &value, 0, value.len(), 0, &mut open, &mut hits);
                if hits.is_empty() && open.is_none() {
                    continue;
                }
                masked += 1;
                let mut woken = crate::prefilter::Candidates::default();
                inner.every().rules(&value, &mut woken);
                if !woken.iter().any(|r| r == i as u32) {
                    missed.push(format!("{}: {:?}", rule.id, String::from_utf8_lossy(&value)));
                }
            }
            let floor = if rule.validators.is_empty() { SAMPLES / 10 } else { 0 };
            assert!(masked >= floor, "{}: only {masked} of {SAMPLES} samples masked", rule.id);
        }
        assert!(missed.is_empty(), "{missed:#?}");
    }

    /// Masking twice is masking once, on random matches of every rule's
    /// regex (spaces included, after a match of its `within` scope) after
    /// random text or none, and on random
    /// pairs of them joined by a separator: a mask must never let another
    /// rule, or another branch of the same one, match what the first pass
    /// kept. (Deeper runs, up to 5,000 per rule and 200,000 pairs in a
    /// release build, found the fixes recorded for session 19; about one
    /// pair in 100,000 is still masked further by a second pass, where a
    /// mask made a line short enough for a bounded regex to reach across
    /// it.)
    #[test]
    fn masking_random_matches_twice_is_masking_once() {
        const SAMPLES: usize = 300;
        const PAIRS: usize = 5_000;
        let all = crate::Redactor::builder().packs(["all"]).build().unwrap();
        let shapes: Vec<(&str, Shape)> = all.inner.rules.iter().map(|r| (r.id.as_str(), scoped_shape(r))).collect();
        let mut differ = Vec::new();
        let mut check = |what: String, value: &[u8]| {
            let once = all.redact(value).into_owned();
            let twice = all.redact(&once);
            if *twice != once[..] {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                differ.push(format!("{what}: {:?}\n  -> {:?}\n  -> {:?}", text(value), text(&once), text(&twice)));
            }
        };
        let mut seed = 0xD1B5_4A32_D192_ED03;
        let mut value = Vec::new();
        for (id, shape) in &shapes {
            for _ in 0..SAMPLES {
                value.clear();
                if next(&mut seed, 2) == 0 {
                    value.extend_from_slice(b"x ");
                }
                shape.sample(&mut seed, &mut value);
                check(id.to_string(), &value);
            }
        }
        for _ in 0..PAIRS {
            let (a, b) = (&shapes[next(&mut seed, shapes.len())], &shapes[next(&mut seed, shapes.len())]);
            value.clear();
            a.1.sample(&mut seed, &mut value);
            value.extend_from_slice([&b" "[..], b"", b"=", b"\"", b",", b" x "][next(&mut seed, 6)]);
            b.1.sample(&mut seed, &mut value);
            check(format!("{} + {}", a.0, b.0), &value);
        }
        assert!(differ.is_empty(), "{} found:\n{}", differ.len(), differ.join("\n"));
    }

    #[test]
    fn a_lead_is_split_only_from_the_front_of_a_regex_with_groups() {
        let split = |re: &str| Lead::split(&parse_hir(re).unwrap()).map(|(_, rest)| rest.to_string());
        assert!(split(r"(?-u)(?:^|[^0-9])(?P<secret>[0-9]{4})").is_some());
        assert!(split(r"(?-u)(?:[^0-9]|^)(?P<secret>[0-9]{4})").is_none(), "the class first: another priority");
        assert!(split(r"(?-u)(?:^|[^0-9])[0-9]{4}").is_none(), "no groups: the lead is part of the secret");
        assert!(split(r"(?-u)k=(?:^|[^0-9])(?P<secret>[0-9]{4})").is_none());
        assert!(split(r"(?m-u)(?:^|[^0-9])(?P<secret>[0-9]{4})").is_none(), "a line start, not the haystack's");
    }

    #[test]
    fn a_tail_is_read_only_where_the_shape_leaves_one_reading() {
        let tail = |re: &str| Tail::of(&parse_hir(re).unwrap());
        let card = tail(r"(?-u)\b(?P<secret>[0-9]{4}-[0-9]{4})(?:[^0-9A-Za-z_]|\.(?:[^0-9]|$)|$)").unwrap();
        assert_eq!(card.group, 1);
        for hay in ["1234-5678", "1234-5678 ", "1234-5678.x", "1234-5678."] {
            assert_eq!(&hay[card.secret(hay.as_bytes(), 0..hay.len())], "1234-5678", "{hay}");
        }
        assert!(tail(r"(?-u)\b(?P<secret>ghp_[A-Za-z0-9]{4})(?:[^0-9]|$)").is_none(), "a letter may end either");
        assert!(tail(r"(?-u)(?P<secret>[a-z]+)\b").is_some_and(|t| t.last.is_none()), "nothing follows the group");
        assert!(tail(r"(?-u)(?P<secret>[a-z=]+)(?:[^a-z]|$)").is_none(), "= may end the group or start the tail");
        assert!(tail(r"(?-u)(?P<secret>[a-z]*)(?:[^a-z]|$)").is_none(), "the group may be empty");
        assert!(tail(r"(?-u)k=(?P<secret>[a-z]+)").is_none(), "the group does not start the match");
        let key = tail(r"(?-u)k(?:=|: ?)(?P<secret>[a-z0-9]{4})(?:[^a-z0-9]|$)").unwrap();
        assert_eq!(key.len, Some(4), "a fixed length after the key");
        for hay in ["k=ab12", "k: ab12 ", "k:ab12;"] {
            assert_eq!(&hay[key.secret(hay.as_bytes(), 0..hay.len())], "ab12", "{hay}");
        }
        assert!(tail(r"(?-u)k=(?P<secret>[a-z]{4})").is_some_and(|t| t.last.is_none() && t.len == Some(4)));
        assert!(tail(r"(?-u)(?P<k>k)=(?P<secret>[a-z]{4})").is_none(), "a group before the group");
        assert!(tail(r"(?-u)(?P<secret>[a-z]+)|(?P<secret2>[0-9]+)").is_none(), "two groups");
        assert!(tail(r"(?-u)(?P<secret>[a-z]+(?P<x>[0-9]))").is_none(), "a group in the group");
        assert!(tail(r"(?P<secret>[a-z]+é?)(?:[^a-z]|$)").is_none(), "a byte beyond ASCII");
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any rule, any example cut and spliced with noise and a long run
        /// of one byte, searched from any offset.
        #[test]
        fn find_secret_agrees_with_the_rules_regex(
            pick in any::<prop::sample::Index>(),
            example in any::<prop::sample::Index>(),
            cut in any::<prop::sample::Index>(),
            noise in "[ -~]{0,24}",
            run in (any::<u8>(), 0usize..1100),
            at in any::<prop::sample::Index>(),
        ) {
            let (rule, re) = pick.get(rules());
            let examples: Vec<&str> =
                rule.positive.iter().map(|e| e.input.as_str()).chain(rule.negative.iter().map(String::as_str)).collect();
            let input = example.get(&examples).as_bytes();
            let cut = cut.index(input.len() + 1);
            let (fill, len) = run;
            let fill = if fill.is_ascii_graphic() { fill } else { b'a' + fill % 26 };
            let hay = [&input[..cut], &vec![fill; len][..], noise.as_bytes(), &input[cut..]].concat();
            let at = at.index(hay.len() + 1);
            prop_assert!(agree(rule, re, &hay, at).is_ok(), "{}", agree(rule, re, &hay, at).unwrap_err());
        }

        /// A rule whose secret is read off its match's shape (see
        /// [`Tail`]): its regex's own groups, on its examples cut anywhere
        /// (so that a match may end the haystack) and followed by any byte.
        #[test]
        fn a_tail_reads_the_secret_the_groups_capture(
            pick in any::<prop::sample::Index>(),
            example in any::<prop::sample::Index>(),
            cut in any::<prop::sample::Index>(),
            after in proptest::option::of(any::<u8>()),
            at in any::<prop::sample::Index>(),
        ) {
            let tailed: Vec<&(Rule, Regex)> = rules().iter().filter(|(r, _)| r.compiled.tail.is_some()).collect();
            let (rule, re) = *pick.get(&tailed);
            let examples: Vec<&str> =
                rule.positive.iter().map(|e| e.input.as_str()).chain(rule.negative.iter().map(String::as_str)).collect();
            let input = example.get(&examples).as_bytes();
            let hay = [&input[..cut.index(input.len() + 1)], after.as_slice()].concat();
            let at = at.index(hay.len() + 1);
            prop_assert!(agree(rule, re, &hay, at).is_ok(), "{}", agree(rule, re, &hay, at).unwrap_err());
        }

        /// Matches found from the literals they start with: the same as an
        /// unanchored search finds, from any offset, in text thick with
        /// the literals, with and without matches after them.
        #[test]
        fn starts_find_what_an_unanchored_search_finds(
            tokens in "(ghp_|gho_|GHP_|xoxb-|XoXb-|[a-zA-Z0-9_ -]){0,24}",
            keys in "(token|TOKEN|api_key|-token |=|[a-z0-9 _-]){0,24}",
            at in 0usize..120,
        ) {
            for (pattern, hay) in [
                (r"(?-u)\b(?:ghp_|gho_|(?i:xoxb)-)[A-Za-z0-9]{4,8}(?:[^A-Za-z0-9]|$)", &tokens),
                // A lead byte before the literals, in one branch.
                (r"(?i-u)(?:(?:^|[^a-z0-9])(?:api[_-]?key|token)\s*=\s*|-token\s)(?P<secret>[a-z0-9]{3,8})", &keys),
            ] {
                let hir = parse_hir(pattern).unwrap();
                let starts = Starts::of(&hir).expect("a few long literals");
                let re = compile_hir(&hir, Engines::All, true).unwrap();
                let at = at.min(hay.len());
                let want = re.find(Input::new(hay.as_bytes()).span(at..hay.len())).map(|m| m.range());
                let got = starts.find(&re, hay.as_bytes(), at).map(|m| m.range());
                prop_assert_eq!(got, want, "{:?} from {}", hay, at);
            }
        }

        /// A lead found apart from the rest of its regex: the same matches
        /// as the whole regex, from any offset, in text thick with the
        /// class's bytes and its neighbours.
        #[test]
        fn a_lead_finds_what_its_whole_regex_finds(hay in "[0-9a. -]{0,40}", at in 0usize..41) {
            let whole = r"(?-u)(?:^|[^0-9.])(?P<secret>[0-9]{2,4}(?:[ -][0-9]{2,4})?)";
            let (lead, rest) = Lead::split(&parse_hir(whole).unwrap()).unwrap();
            let rest = compile_hir(&rest, Engines::All, true).unwrap();
            let at = at.min(hay.len());
            let want = Regex::new(whole).unwrap().find_at(hay.as_bytes(), at).map(|m| m.range());
            let got = lead.find(|from| rest.find(Input::new(hay.as_bytes()).span(from..hay.len())), hay.as_bytes(), at).map(|(start, m)| start..m.end());
            prop_assert_eq!(got, want, "{:?} from {}", hay, at);
        }
    }
}
