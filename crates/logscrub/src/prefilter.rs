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
    fn insert(&mut self, rule: u32) {
        let w = (rule / 64) as usize;
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        self.words[w] |= 1 << (rule % 64);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.words.is_empty()
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
            let mut seps = 0;
            while i < hay.len() {
                let b = hay[i];
                if b.is_ascii_digit() {
                    digits += 1;
                    seps = 0;
                    end = i + 1;
                } else if is_sep(b) && seps < 2 {
                    seps += 1;
                } else {
                    break;
                }
                i += 1;
            }
            if digits >= min {
                return Some(DigitRun { start, end, digits });
            }
        }
        None
    })
}

/// The compiled triggers of a set of rules.
pub(crate) struct Prefilter {
    ac: Option<AhoCorasick>,
    /// For each automaton pattern, the rules it gates.
    by_pattern: Vec<Vec<u32>>,
    /// Single-byte triggers and the rules each gates.
    bytes: Vec<(u8, Vec<u32>)>,
    /// Rules gated by digit runs, with the digits each needs.
    digit_rules: Vec<(u32, usize)>,
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
                digit_rules.push((i, d));
            }
        }
        let ac = (!patterns.is_empty()).then(|| {
            AhoCorasick::builder()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::Standard)
                .kind(Some(AhoCorasickKind::DFA))
                .build(&patterns)
                .expect("keywords are short literals, well within automaton limits")
        });
        let min_digits = digit_rules.iter().map(|&(_, d)| d).min().unwrap_or(usize::MAX);
        Prefilter { ac, by_pattern, bytes, digit_rules, min_digits }
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

    /// The digit runs in `hay` that could hold a match of a digit rule.
    pub(crate) fn digit_runs<'h>(&self, hay: &'h [u8]) -> impl Iterator<Item = DigitRun> + 'h {
        let min = if self.digit_rules.is_empty() { usize::MAX } else { self.min_digits };
        digit_runs(if min == usize::MAX { &[] } else { hay }, min)
    }

    /// The digit rules and the digits each needs.
    pub(crate) fn digit_rules(&self) -> &[(u32, usize)] {
        &self.digit_rules
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn candidates_bitset() {
        let mut c = Candidates::default();
        assert!(c.is_empty());
        for r in [130, 3, 64, 3] {
            c.insert(r);
        }
        assert_eq!(c.iter().collect::<Vec<_>>(), [3, 64, 130]);
    }
}
