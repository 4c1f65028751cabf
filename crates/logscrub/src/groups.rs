//! A match's groups, resolved piece by piece by a lazy DFA.
//!
//! Once the lazy DFAs have found a match, the rule's groups say where its
//! secret lies. A capturing engine finds them by walking the regex's NFA
//! over the match: for a `key=value` rule with a few hundred states, two
//! thirds of a dirty line's time, a third of it clearing the backtracker's
//! table of states by bytes. Here the regex is cut into pieces at its
//! groups and at the alternations that hold them, and each piece is found
//! by one anchored forward search of a lazy DFA, from where the one before
//! it ended: a few bytes of a key, then the value in one pass.
//!
//! A capturing engine with leftmost-first semantics takes the first path
//! through the regex in priority order that matches: for `XY`, the first
//! path through `X` after which `Y` matches. An anchored leftmost-first
//! search of `X` alone ends where `X`'s first path ends; when `Y` then
//! matches from there, that is the path the capturing engine takes, with
//! the same groups. For an alternation the first branch that matches at
//! all is taken, as the capturing engine would. When a piece finds nothing
//! (the first path through `X` was not the one that let `Y` match), or the
//! pieces do not end where the match does, they give no answer and the
//! capturing engine decides: the pieces are a shortcut, never a second
//! opinion. The tests hold them to the capturing engine on every short
//! text of regexes built to trip them, and the rules' tests hold
//! [`find_secret`](crate::rules) to each rule's own regex.

use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::nfa::thompson::{self, WhichCaptures};
use regex_automata::util::primitives::NonMaxUsize;
use regex_automata::{Anchored, Input, MatchKind, PatternID};
use regex_syntax::hir::{Hir, HirKind};

use crate::prefilter::{caches, Caches};
use crate::rules::{end_bytes, ByteSet, End};

/// A regex cut into pieces, each one pattern of one lazy DFA.
pub(crate) struct Pieces {
    dfa: DFA,
    caches: Caches,
    root: Vec<Step>,
}

impl std::fmt::Debug for Pieces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pieces").field("patterns", &self.dfa.pattern_len()).finish()
    }
}

/// One piece of a concatenation.
#[derive(Debug)]
enum Step {
    /// Text with no group in it: where its first path ends.
    Text(PatternID),
    /// A group: its index, and the pieces inside it.
    Group(usize, Vec<Step>),
    /// An alternation (or an optional part) that holds groups.
    Branches(Vec<Branch>),
}

#[derive(Debug)]
struct Branch {
    /// The bytes a match of the branch starts with, when known: any other
    /// byte rules it out without a search.
    first: Option<Box<ByteSet>>,
    /// The branch as one pattern: whether it matches at all.
    whole: PatternID,
    steps: Vec<Step>,
}

/// Each lazy DFA's cache holds this much; a cache that fills is cleared.
const CACHE_BYTES: usize = 1 << 20;

/// Regexes smaller than this (in NFA states, about) keep the capturing
/// engine alone: its table is small, and their pieces would cost start-up
/// for little. On the comparison's dense file, pieces for every rule that
/// has them took 2,210M instructions past start-up and 42M at start-up;
/// from 128, 2,227M and 35M; without pieces, 2,785M.
const PIECES_FROM: usize = 128;

impl Pieces {
    /// Cuts `hir` into pieces, or `None` when its shape has no such cut (a
    /// group inside a repetition), it is small (see [`PIECES_FROM`]) or its
    /// pieces do not compile to a lazy DFA.
    pub(crate) fn of(hir: &Hir) -> Option<Pieces> {
        if nfa_size(hir) < PIECES_FROM {
            return None;
        }
        Pieces::cut(hir)
    }

    /// [`Pieces::of`], whatever the regex's size.
    fn cut(hir: &Hir) -> Option<Pieces> {
        if hir.properties().explicit_captures_len() == 0 {
            return None;
        }
        let mut patterns = Vec::new();
        let root = steps(hir, &mut patterns)?;
        let nfa = thompson::Compiler::new()
            .configure(thompson::Config::new().utf8(false).which_captures(WhichCaptures::None))
            .build_many_from_hir(&patterns)
            .ok()?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::LeftmostFirst)
                    .starts_for_each_pattern(true)
                    .cache_capacity(CACHE_BYTES)
                    .skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa)
            .ok()?;
        Some(Pieces { caches: caches(&dfa), dfa, root })
    }

    /// Fills `slots` with the groups of the match `hay[start..end]`, as a
    /// capturing engine anchored on that span would; `false` when the
    /// pieces cannot tell (see the module's docs), and `slots` must then
    /// be filled by that engine.
    pub(crate) fn resolve(&self, hay: &[u8], start: usize, end: usize, slots: &mut [Option<NonMaxUsize>]) -> bool {
        let mut cache = self.caches.get();
        let mut walk = Walk { dfa: &self.dfa, cache: &mut cache, hay, end, slots };
        if walk.steps(&self.root, start, true) != Some(end) {
            return false;
        }
        // Group 0: the match itself.
        if let [s, e, ..] = slots {
            (*s, *e) = (NonMaxUsize::new(start), NonMaxUsize::new(end));
        }
        true
    }
}

/// The pieces of `hir` as steps; each piece's pattern is pushed onto
/// `patterns`.
fn steps(hir: &Hir, patterns: &mut Vec<Hir>) -> Option<Vec<Step>> {
    let parts = match hir.kind() {
        HirKind::Concat(parts) => &parts[..],
        _ => std::slice::from_ref(hir),
    };
    let mut out = Vec::new();
    let mut text: Vec<Hir> = Vec::new();
    for part in parts {
        if part.properties().explicit_captures_len() == 0 {
            text.push(part.clone());
            continue;
        }
        if !text.is_empty() {
            out.push(Step::Text(add(patterns, Hir::concat(std::mem::take(&mut text)))?));
        }
        match part.kind() {
            HirKind::Capture(c) => out.push(Step::Group(c.index as usize, steps(&c.sub, patterns)?)),
            HirKind::Alternation(branches) => out.push(alternatives(branches, patterns)?),
            // `x?` is `x|` (and `x??` is `|x`): greedy, it tries `x` first.
            HirKind::Repetition(r) if (r.min, r.max) == (0, Some(1)) => {
                let (x, none) = ((*r.sub).clone(), Hir::empty());
                out.push(alternatives(&if r.greedy { [x, none] } else { [none, x] }, patterns)?);
            }
            // A group inside a repetition: which iteration it holds is for
            // a capturing engine to say.
            _ => return None,
        }
    }
    if !text.is_empty() {
        out.push(Step::Text(add(patterns, Hir::concat(text))?));
    }
    Some(out)
}

/// The pieces of an alternation's branches.
fn alternatives(branches: &[Hir], patterns: &mut Vec<Hir>) -> Option<Step> {
    let mut each = Vec::with_capacity(branches.len());
    for b in branches {
        let whole = add(patterns, b.clone())?;
        each.push(Branch { first: end_bytes(b, End::First), whole, steps: steps(b, patterns)? });
    }
    Some(Step::Branches(each))
}

/// Adds a pattern to the lazy DFA's; its id.
fn add(patterns: &mut Vec<Hir>, pattern: Hir) -> Option<PatternID> {
    patterns.push(pattern);
    PatternID::new(patterns.len() - 1).ok()
}

/// One resolution under way.
struct Walk<'a> {
    dfa: &'a DFA,
    cache: &'a mut Cache,
    hay: &'a [u8],
    /// The match's end: no piece looks past it.
    end: usize,
    slots: &'a mut [Option<NonMaxUsize>],
}

impl Walk<'_> {
    /// Where the first path through pattern `id` from `at` ends.
    fn first_end(&mut self, id: PatternID, at: usize) -> Option<usize> {
        let input = Input::new(self.hay).span(at..self.end).anchored(Anchored::Pattern(id));
        self.dfa.try_search_fwd(self.cache, &input).ok()?.map(|m| m.offset())
    }

    /// Whether pattern `id` matches from `at` at all: the search stops at
    /// its first match state, not at the end of a long value.
    fn matches(&mut self, id: PatternID, at: usize) -> Option<bool> {
        let input = Input::new(self.hay).span(at..self.end).anchored(Anchored::Pattern(id)).earliest(true);
        Some(self.dfa.try_search_fwd(self.cache, &input).ok()?.is_some())
    }

    /// Walks `steps` from `at`; where they end. With `last`, nothing
    /// follows them in the regex.
    fn steps(&mut self, steps: &[Step], mut at: usize, last: bool) -> Option<usize> {
        for (i, step) in steps.iter().enumerate() {
            let last = last && i + 1 == steps.len();
            at = match step {
                // The regex's last piece, after the first paths of all the
                // others: if it matches at all, its first path ends where
                // the match does (the match is that path), so a search that
                // stops at its first match state, not at the end of a long
                // value, is enough.
                Step::Text(id) if last => self.matches(*id, at)?.then_some(self.end)?,
                Step::Text(id) => self.first_end(*id, at)?,
                Step::Group(index, inner) => {
                    let end = self.steps(inner, at, last)?;
                    let slot = 2 * index;
                    if slot + 1 < self.slots.len() {
                        self.slots[slot] = NonMaxUsize::new(at);
                        self.slots[slot + 1] = NonMaxUsize::new(end);
                    }
                    end
                }
                Step::Branches(branches) => {
                    // The first branch that matches; its own pieces then
                    // give its first path, or `None`.
                    let mut first = None;
                    for b in branches {
                        let cannot = match (&b.first, self.hay.get(at)) {
                            (Some(set), Some(&byte)) => at < self.end && !set[usize::from(byte)],
                            _ => false,
                        };
                        if !cannot && self.matches(b.whole, at)? {
                            first = Some(&b.steps);
                            break;
                        }
                    }
                    self.steps(first?, at, last)?
                }
            };
        }
        Some(at)
    }
}

/// About how many states `hir` compiles to in an NFA.
fn nfa_size(hir: &Hir) -> usize {
    match hir.kind() {
        HirKind::Empty | HirKind::Look(_) | HirKind::Class(_) => 1,
        HirKind::Literal(lit) => lit.0.len(),
        HirKind::Capture(c) => 2 + nfa_size(&c.sub),
        HirKind::Concat(hs) => hs.iter().map(nfa_size).sum(),
        HirKind::Alternation(hs) => hs.len() + hs.iter().map(nfa_size).sum::<usize>(),
        HirKind::Repetition(r) => {
            let copies = match r.max {
                Some(max) => max as usize,
                None => r.min.max(1) as usize,
            };
            copies.saturating_mul(1 + nfa_size(&r.sub))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use regex_automata::meta;

    type Slots = Vec<Option<NonMaxUsize>>;

    fn parse(pattern: &str) -> Hir {
        regex_syntax::ParserBuilder::new().utf8(false).build().parse(pattern).unwrap()
    }

    /// A pattern, compiled for a capturing engine and cut into pieces.
    struct Both {
        re: meta::Regex,
        pieces: Pieces,
    }

    impl Both {
        fn new(pattern: &str) -> Both {
            let hir = parse(pattern);
            let re = meta::Builder::new().build_from_hir(&hir).unwrap();
            Both { re, pieces: Pieces::cut(&hir).expect("the pattern has pieces") }
        }

        /// The groups a capturing engine gives the leftmost match at or
        /// after `at`, and what the pieces give it: `None` when they cannot
        /// tell.
        fn groups(&self, hay: &[u8], at: usize) -> Option<(Slots, Option<Slots>)> {
            let m = self.re.find(Input::new(hay).span(at..hay.len()))?;
            let mut want = vec![None; self.re.group_info().slot_len()];
            let input = Input::new(hay).span(m.range()).anchored(Anchored::Yes);
            self.re.search_slots(&input, &mut want).unwrap();
            let mut got = vec![None; want.len()];
            let told = self.pieces.resolve(hay, m.start(), m.end(), &mut got);
            Some((want, told.then_some(got)))
        }
    }

    fn both(pattern: &str, hay: &[u8], at: usize) -> Option<(Slots, Option<Slots>)> {
        Both::new(pattern).groups(hay, at)
    }

    /// Patterns whose groups a first path can get wrong: ambiguous keys,
    /// greedy pieces that must give bytes back, optional and nested groups,
    /// branches with and without groups, looks at the pieces' edges.
    const TRICKY: [&str; 7] = [
        r#"(?:a|ab)=\s?(?:"(?P<q>[^"]{1,8})(?:"|$)|\[(?P<l>[^\]]{1,8})\]|(?P<b>[^\s"]{1,8}))"#,
        r"(?P<x>a+)(?P<y>a?b)",
        r"(?:(?P<x>a)|ab|(?P<y>a)b)(?P<z>[ab]*)",
        r#"x?(?:!!a\s)?(?:\[(?P<s6>[^\s\[\]:]{1,8})\]|\[(?P<s7>[^\s\[\]:]{8})|(?P<s3>[^\s"\[\]-][^\s"\]]{0,8}))"#,
        r"(?:^|[^a])(?P<x>b+)(?:=|$)",
        r"(?-u:\b)(?P<w>a[ab]{0,3})(?-u:\b)",
        r#"(?P<o>(?P<i>a)?b)(?:"|(?m:$))"#,
    ];

    #[test]
    fn every_short_text_resolves_as_the_capturing_engine_does() {
        let alphabet = b"ab\"= [ ]!:x\n-";
        for pattern in TRICKY {
            let both = Both::new(pattern);
            let (mut told, mut matched) = (0, 0);
            let mut hay = Vec::new();
            // Every text of up to four bytes of the alphabet, from each offset.
            let mut stack = vec![Vec::new()];
            while let Some(prefix) = stack.pop() {
                if prefix.len() < 4 {
                    for &b in alphabet {
                        stack.push([&prefix[..], &[b]].concat());
                    }
                }
                hay.clear();
                hay.extend_from_slice(&prefix);
                for at in 0..=hay.len() {
                    if let Some((want, got)) = both.groups(&hay, at) {
                        matched += 1;
                        if let Some(got) = got {
                            told += 1;
                            assert_eq!(got, want, "{pattern} on {:?} from {at}", String::from_utf8_lossy(&hay));
                        }
                    }
                }
            }
            // The pieces tell most matches, or they are no shortcut.
            assert!(told * 2 > matched, "{pattern}: {told} of {matched}");
        }
    }

    #[test]
    fn key_value_shapes_resolve_as_the_capturing_engine_does() {
        let kv = r#"(?i-u)(?:token|api[_-]?key)\s{0,4}[:=]\s{0,4}(?:"(?P<q>[^"]{1,64})"|(?P<bare>[^\s"]{1,64}))"#;
        for hay in ["token=abc123 next", r#"api_key: "a b c" x"#, "TOKEN =  x", r#"token= "a""#] {
            let (want, got) = both(kv, hay.as_bytes(), 0).expect(hay);
            assert_eq!(got.as_ref(), Some(&want), "{hay}");
        }
    }

    #[test]
    fn a_first_path_the_rest_rejects_goes_back_to_the_capturing_engine() {
        // `a+` first takes every `a`; then `ab` cannot match, and only a
        // capturing engine finds the path that gives one back.
        let (want, got) = both(r"(?P<x>a+)(?P<y>ab)", b"aaab", 0).unwrap();
        assert_eq!(got, None);
        assert_eq!((want[2], want[3]), (NonMaxUsize::new(0), NonMaxUsize::new(2)));
    }

    #[test]
    fn a_group_in_a_repetition_has_no_pieces() {
        assert!(Pieces::cut(&parse(r"(?:(?P<x>a)b)+")).is_none());
        assert!(Pieces::cut(&parse(r"k=(?P<x>a|b)")).is_some());
    }

    #[test]
    fn first_bytes_are_a_necessary_condition() {
        let set = |p: &str| {
            end_bytes(&parse(p), End::First).map(|s| (0u8..=255).filter(|&b| s[usize::from(b)]).collect::<Vec<u8>>())
        };
        assert_eq!(set(r#"\\?"x"#), Some(b"\"\\".to_vec()));
        assert_eq!(set(r"(?:!!)?\[a"), Some(b"![".to_vec()));
        assert_eq!(set(r"a?"), None);
        assert_eq!(set(r"(?:^|[^a])b"), None);
        assert_eq!(set(r"\bab"), Some(b"a".to_vec()));
    }

    proptest! {
        /// On text thick with the patterns' own bytes, whenever the pieces
        /// tell, they tell what the capturing engine does.
        #[test]
        fn pieces_agree_with_the_capturing_engine(hay in r#"[ab"= \[\]!x:-]{0,24}"#, at in 0usize..25, pick in 0usize..7) {
            let patterns = TRICKY;
            let at = at.min(hay.len());
            if let Some((want, Some(got))) = both(patterns[pick], hay.as_bytes(), at) {
                prop_assert_eq!(got, want, "{} on {:?}", patterns[pick], hay);
            }
        }
    }
}
