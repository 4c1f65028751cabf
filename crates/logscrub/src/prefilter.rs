//! The prefilter: one cheap pass that says which rules could match a line.
//!
//! Three kinds of trigger, each found with SIMD by a crate made for it:
//! multi-byte keywords in one `aho-corasick` automaton (ASCII
//! case-insensitive, overlapping so that `secret` inside `client_secret` is
//! still seen), single punctuation bytes with `memchr` (`@` for emails, `+`
//! for E.164 numbers), and runs of digits for card, phone and id numbers.
//! A line with no trigger costs one automaton scan, one memchr and one digit
//! scan, and allocates nothing.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use crate::rules::Rule;

/// Rule indices that a prefilter pass selected, as a bitset that allocates
/// only once something is selected.
#[derive(Default)]
pub(crate) struct Candidates {
    words: Vec<u64>,
}

impl Candidates {
    pub(crate) fn insert(&mut self, rule: u32) {
        let w = (rule / 64) as usize;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (rule % 64);
    }

    pub(crate) fn clear(&mut self) {
        self.words.clear();
    }

    /// The selected rules in ascending order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &bits)| {
            let mut bits = bits;
            std::iter::from_fn(move || {
                if bits == 0 {
                    return None;
                }
                let b = bits.trailing_zeros();
                bits &= bits - 1;
                Some(w as u32 * 64 + b)
            })
        })
    }
}

/// A run of digits with the separators people write between them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DigitRun {
    pub start: usize,
    pub end: usize,
    pub digits: usize,
    /// The separators used, as a [`sep_bit`] mask.
    pub seps: u8,
}

/// The bit of a separator byte in [`DigitRun::seps`].
pub(crate) fn sep_bit(b: u8) -> u8 {
    match b {
        b' ' => 1,
        b'-' => 2,
        b'.' => 4,
        b'(' => 8,
        b')' => 16,
        b'/' => 32,
        _ => 0,
    }
}

impl DigitRun {
    /// The most digits in a part of the run whose separators are all in
    /// `allowed` (the run split at every other separator).
    pub(crate) fn digits_with(&self, hay: &[u8], allowed: u8) -> usize {
        if self.seps & !allowed == 0 {
            return self.digits;
        }
        let (mut best, mut cur) = (0, 0);
        for &b in &hay[self.start..self.end] {
            if b.is_ascii_digit() {
                cur += 1;
                best = best.max(cur);
            } else if sep_bit(b) & !allowed != 0 {
                cur = 0;
            }
        }
        best
    }
}

/// The mask of a rule's allowed separators (`digit_separators = " -"`).
pub(crate) fn sep_mask(allowed: &str) -> u8 {
    allowed.bytes().fold(0, |m, b| m | sep_bit(b))
}

/// Bytes that may stand between digits of one number: `4111 1111`,
/// `+1 (415) 555-2671`, `536-22-8726`, `06.12.34.56.78`.
fn is_sep(b: u8) -> bool {
    matches!(b, b' ' | b'-' | b'.' | b'(' | b')' | b'/')
}

/// Finds maximal digit runs with at least `min` digits. At most two
/// separator bytes may stand between digits.
pub(crate) fn digit_runs(hay: &[u8], min: usize) -> impl Iterator<Item = DigitRun> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < hay.len() {
            if !hay[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            let mut end = i;
            let mut digits = 0;
            let mut gap = 0;
            let (mut used, mut pending) = (0u8, 0u8);
            while i < hay.len() {
                let b = hay[i];
                if b.is_ascii_digit() {
                    digits += 1;
                    gap = 0;
                    used |= pending;
                    pending = 0;
                    end = i + 1;
                } else if is_sep(b) && gap < 2 {
                    gap += 1;
                    pending |= sep_bit(b);
                } else {
                    break;
                }
                i += 1;
            }
            if digits >= min {
                return Some(DigitRun { start, end, digits, seps: used });
            }
        }
        None
    })
}

/// One ASCII case-insensitive DFA over rule keywords.
fn keyword_automaton<P: AsRef<[u8]>>(keywords: &[P], kind: MatchKind) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(kind)
        .kind(Some(AhoCorasickKind::DFA))
        .build(keywords)
        .expect("keywords are short literals, well within automaton limits")
}

/// The compiled triggers of a set of rules.
pub(crate) struct Prefilter {
    ac: Option<AhoCorasick>,
    /// For each automaton pattern, the rules it gates.
    by_pattern: Vec<Vec<u32>>,
    /// Single-byte triggers and the rules each gates.
    bytes: Vec<(u8, Vec<u32>)>,
    /// Rules gated by digit runs, with the digits each needs and the
    /// separators it allows.
    digit_rules: Vec<(u32, usize, u8)>,
    /// The digit rules' patterns in one set, in `digit_rules` order: one
    /// search says which of them can match near a run, so that the many
    /// runs in dates, addresses and ids cost one search, not one a rule.
    digit_set: Option<regex::bytes::RegexSet>,
    min_digits: usize,
}

impl Prefilter {
    /// Builds the triggers of the rules for which `enabled` is true.
    pub(crate) fn new(rules: &[Rule], enabled: impl Fn(usize) -> bool) -> Prefilter {
        let mut patterns: Vec<String> = Vec::new();
        let mut by_pattern: Vec<Vec<u32>> = Vec::new();
        let mut bytes: Vec<(u8, Vec<u32>)> = Vec::new();
        let mut digit_rules = Vec::new();
        for (i, rule) in rules.iter().enumerate().filter(|(i, _)| enabled(*i)) {
            let i = i as u32;
            for k in &rule.keywords {
                if let [b] = k.as_bytes() {
                    match bytes.iter_mut().find(|(x, _)| x == b) {
                        Some((_, rs)) => rs.push(i),
                        None => bytes.push((*b, vec![i])),
                    }
                } else {
                    match patterns.iter().position(|p| p == k) {
                        Some(p) => by_pattern[p].push(i),
                        None => {
                            patterns.push(k.clone());
                            by_pattern.push(vec![i]);
                        }
                    }
                }
            }
            if let Some(d) = rule.digits {
                digit_rules.push((i, d, rule.digit_seps));
            }
        }
        let ac = (!patterns.is_empty()).then(|| keyword_automaton(&patterns, MatchKind::Standard));
        let min_digits = digit_rules.iter().map(|&(_, d, _)| d).min().unwrap_or(usize::MAX);
        // Only a speed-up: without it (a set over the size limit) every
        // rule is searched on its own.
        let digit_set = (digit_rules.len() > 1)
            .then(|| {
                crate::rules::compile_set(digit_rules.iter().map(|&(r, _, _)| rules[r as usize].regex.as_str())).ok()
            })
            .flatten();
        Prefilter { ac, by_pattern, bytes, digit_rules, digit_set, min_digits }
    }

    /// Marks the rules whose keyword or byte triggers occur in `hay`.
    pub(crate) fn keywords(&self, hay: &[u8], out: &mut Candidates) {
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(hay) {
                for &r in &self.by_pattern[m.pattern().as_usize()] {
                    out.insert(r);
                }
            }
        }
        for (b, rules) in &self.bytes {
            if memchr::memchr(*b, hay).is_some() {
                for &r in rules {
                    out.insert(r);
                }
            }
        }
    }

    /// The digit runs in `hay` that some digit rule could use: enough
    /// digits, written with separators it allows. With no digit rules,
    /// nothing is scanned.
    pub(crate) fn digit_runs<'h>(&'h self, hay: &'h [u8]) -> impl Iterator<Item = DigitRun> + 'h {
        let hay = if self.digit_rules.is_empty() { &[][..] } else { hay };
        digit_runs(hay, self.min_digits)
            .filter(move |r| self.digit_rules.iter().any(|&(_, d, ok)| r.digits_with(hay, ok) >= d))
    }

    /// The digit rules, the digits each needs and the separators it allows.
    pub(crate) fn digit_rules(&self) -> &[(u32, usize, u8)] {
        &self.digit_rules
    }

    /// The digit rules' patterns as one set, in [`Prefilter::digit_rules`]
    /// order, when it could be built.
    pub(crate) fn digit_set(&self) -> Option<&regex::bytes::RegexSet> {
        self.digit_set.as_ref()
    }
}

/// The chunk gate: which lines of a whole buffer could hold a keyword or
/// byte trigger, found in one pass over the buffer (digit runs come from
/// [`Prefilter::digit_runs`]), so that the many clean lines are copied out
/// in bulk and only candidate lines get the per-line scan.
///
/// Keywords are matched by aho-corasick's packed Teddy searcher (SIMD) over
/// an ASCII-lowercased copy of the buffer when they fit it (Teddy has no
/// case-insensitive mode), else by one case-insensitive automaton. The gate
/// may pass lines that no rule matches, never the reverse.
pub(crate) struct Gate {
    teddy: Option<aho_corasick::packed::Searcher>,
    /// The keywords, case-insensitive, where Teddy does not fit.
    fallback: Option<AhoCorasick>,
    /// For each trigger (keyword pattern, then byte, then pair), the rules
    /// it selects. A keyword also selects the rules of every keyword that
    /// can overlap it, so that a non-overlapping search is enough.
    rules_of: Vec<Vec<u32>>,
    /// Single-byte keywords and their trigger ids.
    bytes: Vec<(u8, u32)>,
    /// Two-byte keywords by first byte: one memchr pass per first byte,
    /// then the second byte and the trigger id of each pair.
    pairs: Vec<(u8, Vec<(u8, u32)>)>,
}

/// A trigger the gate found: where, and which entry of its rule table.
/// `DIGITS` marks a confirmed digit run (the line's own scan finds its rules).
pub(crate) type Trigger = (usize, u32);

/// The trigger id of a confirmed digit run.
pub(crate) const DIGITS: u32 = u32::MAX;

/// Whether occurrences of `a` and `b` can overlap without one hiding inside
/// a non-overlapping search's report of the other being noticed: one
/// contains the other, or a suffix of one is a prefix of the other.
fn can_overlap(a: &[u8], b: &[u8]) -> bool {
    // Called for every pair of keywords at start-up: plain loops over short
    // strings, no searcher to build.
    let contains = |x: &[u8], y: &[u8]| y.len() <= x.len() && x.windows(y.len()).any(|w| w == y);
    let joins =
        |x: &[u8], y: &[u8]| (1..=x.len().min(y.len())).any(|n| x[x.len() - n] == y[0] && x[x.len() - n..] == y[..n]);
    contains(a, b) || contains(b, a) || joins(a, b) || joins(b, a)
}

/// Teddy refuses more than 64 literals on x86-64 (more would make too many
/// false candidates).
const TEDDY_LIMIT: usize = 64;

impl Gate {
    pub(crate) fn new(rules: &[Rule], enabled: impl Fn(usize) -> bool) -> Gate {
        let mut long: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        let mut bytes: Vec<(u8, Vec<u32>)> = Vec::new();
        let mut pairs: Vec<([u8; 2], Vec<u32>)> = Vec::new();
        fn add<K: PartialEq, V>(table: &mut Vec<(K, Vec<V>)>, key: K, rule: V) {
            match table.iter_mut().find(|(k, _)| *k == key) {
                Some((_, rs)) => rs.push(rule),
                None => table.push((key, vec![rule])),
            }
        }
        for (i, rule) in rules.iter().enumerate().filter(|(i, _)| enabled(*i)) {
            for k in &rule.keywords {
                match k.as_bytes() {
                    [b] => add(&mut bytes, b.to_ascii_lowercase(), i as u32),
                    [a, b] => add(&mut pairs, [a.to_ascii_lowercase(), b.to_ascii_lowercase()], i as u32),
                    k => add(&mut long, k.to_ascii_lowercase(), i as u32),
                }
            }
        }
        let mut rules_of: Vec<Vec<u32>> = long
            .iter()
            .map(|(k, _)| {
                let mut rs: Vec<u32> =
                    long.iter().filter(|(o, _)| can_overlap(k, o)).flat_map(|(_, r)| r.iter().copied()).collect();
                rs.sort_unstable();
                rs.dedup();
                rs
            })
            .collect();
        let mut byte_ids = Vec::new();
        for (b, rs) in bytes {
            byte_ids.push((b, rules_of.len() as u32));
            rules_of.push(rs);
        }
        let mut by_first: Vec<(u8, Vec<(u8, u32)>)> = Vec::new();
        for ([a, b], rs) in pairs {
            add(&mut by_first, a, (b, rules_of.len() as u32));
            rules_of.push(rs);
        }
        // Teddy (SIMD) when the keywords fit it, over a lowercased copy of
        // the buffer; otherwise one case-insensitive automaton over the
        // buffer itself. Merging keywords into fewer, shorter literals to
        // fit Teddy was measured slower: short literals pass too many lines.
        let lits: Vec<&[u8]> = long.iter().map(|(k, _)| k.as_slice()).collect();
        let teddy = if lits.is_empty() || lits.len() > TEDDY_LIMIT {
            None
        } else {
            aho_corasick::packed::Config::new().builder().extend(&lits).build()
        };
        let fallback =
            (teddy.is_none() && !lits.is_empty()).then(|| keyword_automaton(&lits, MatchKind::LeftmostFirst));
        Gate { teddy, fallback, rules_of, bytes: byte_ids, pairs: by_first }
    }

    /// The rules a trigger selects.
    pub(crate) fn rules_of(&self, trigger: u32) -> &[u32] {
        &self.rules_of[trigger as usize]
    }

    /// The keyword and byte triggers in `hay`, sorted by offset. `folded`
    /// is scratch space for the lowercased copy Teddy needs.
    pub(crate) fn candidates(&self, hay: &[u8], folded: &mut Vec<u8>, out: &mut Vec<Trigger>) {
        out.clear();
        if self.teddy.is_some() {
            folded.clear();
            folded.extend_from_slice(hay);
            folded.make_ascii_lowercase();
        }
        if let Some(t) = &self.teddy {
            out.extend(t.find_iter(folded.as_slice()).map(|m| (m.start(), m.pattern().as_u32())));
        } else if let Some(ac) = &self.fallback {
            out.extend(ac.find_iter(hay).map(|m| (m.start(), m.pattern().as_u32())));
        }
        for &(b, t) in &self.bytes {
            out.extend(memchr::memchr_iter(b, hay).map(|at| (at, t)));
        }
        // Pairs are matched on the buffer itself, case-insensitively: a
        // lowercased copy of the whole buffer for them alone costs more
        // than the search.
        for (a, seconds) in &self.pairs {
            for at in memchr::memchr2_iter(*a, a.to_ascii_uppercase(), hay) {
                let Some(next) = hay.get(at + 1).map(u8::to_ascii_lowercase) else { continue };
                out.extend(seconds.iter().filter(|&&(b, _)| b == next).map(|&(_, t)| (at, t)));
            }
        }
        out.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_know_their_separators() {
        let run = |s: &str| digit_runs(s.as_bytes(), 1).next().unwrap().seps;
        assert_eq!(run("2015-10-18 18:01"), sep_mask("- "));
        assert_eq!(run("4111 1111 1111 1111"), sep_mask(" "));
        assert_eq!(run("173.234.31.186"), sep_mask("."));
        assert_eq!(run("(415) 555-2671"), sep_mask(") -"));
        assert_eq!(run("12345678."), 0, "a trailing separator is not used");
        let r = digit_runs(b"ns1 10.0.0.7", 1).next().unwrap();
        assert_eq!((r.digits, r.digits_with(b"ns1 10.0.0.7", sep_mask("."))), (6, 5));
    }

    fn runs(s: &str, min: usize) -> Vec<&str> {
        digit_runs(s.as_bytes(), min).map(|r| &s[r.start..r.end]).collect()
    }

    #[test]
    fn digit_runs_table() {
        assert_eq!(runs("card 4111 1111 1111 1111 ok", 12), ["4111 1111 1111 1111"]);
        assert_eq!(runs("call +1 (415) 555-2671.", 10), ["1 (415) 555-2671"]);
        assert_eq!(runs("2015-10-18 18:01:47,978 pid 1234", 6), ["2015-10-18 18"]);
        assert_eq!(runs("a 1 2 3 b", 3), ["1 2 3"]);
        assert_eq!(runs("12 - - 34", 3), Vec::<&str>::new());
        assert!(runs("", 1).is_empty());
    }

    #[test]
    fn gate_pairs_ignore_case_and_share_a_first_byte() {
        let text = r#"
[pack]
name = "t"
description = "t"
[[rule]]
id = "plus-one"
description = "d"
category = "pii"
keywords = ["+1", "+2"]
regex = '\+[12](?P<secret>[0-9]{5})'
positive = [{ input = "a +123456 b", output = "a +1[REDACTED:plus-one] b" }]
negative = ["a +3"]
[[rule]]
id = "q-tilde"
description = "d"
category = "token"
keywords = ["q~"]
regex = 'q~(?P<secret>[a-z]{5})'
positive = [{ input = "x q~abcde", output = "x q~[REDACTED:q-tilde]" }]
negative = ["x q"]
"#;
        let (_, rules) = crate::rules::parse("t.toml", text, &[]).unwrap();
        let gate = Gate::new(&rules, |_| true);
        let found = |hay: &str| {
            let mut out = Vec::new();
            gate.candidates(hay.as_bytes(), &mut Vec::new(), &mut out);
            out.iter().flat_map(|&(at, t)| gate.rules_of(t).iter().map(move |&r| (at, r))).collect::<Vec<_>>()
        };
        assert_eq!(found("+1 +2 +3 Q~ q"), [(0, 0), (3, 0), (9, 1)]);
        assert!(found("+ q Q").is_empty());
    }

    #[test]
    fn candidates_bitset() {
        let mut c = Candidates::default();
        assert_eq!(c.iter().count(), 0);
        for r in [130, 3, 64, 3] {
            c.insert(r);
        }
        assert_eq!(c.iter().collect::<Vec<_>>(), [3, 64, 130]);
    }
}
