//! Allowlists: values that are never secrets (`${DB_PASSWORD}`, `null`,
//! `****`), checked on every secret a rule finds before it is masked.
//!
//! An allowlist only says whether any of its patterns matches one short
//! secret, so it needs neither match positions nor groups: a forward lazy
//! DFA answers in a pass over the secret, and most often within its first
//! bytes (the packs' allowlists are anchored at both ends). The capturing
//! engines would pay for every call instead: the backtracker clears a table
//! of states by bytes, and the packs' bounded placeholders (`{0,256}`) make
//! thousands of states. A full `meta::Regex` would also build a reverse NFA
//! and literal prefilters that an allowlist never uses, at start-up.

use regex_automata::hybrid::dfa::DFA;
use regex_automata::nfa::thompson::{self, pikevm::PikeVM, WhichCaptures};
use regex_automata::util::syntax;
use regex_automata::Input;

use crate::prefilter::{caches, Caches};

/// A lazy DFA's cache holds this much at most; one that fills is cleared,
/// and the next secrets build their states again. Every allowlist has a
/// cache on every thread (21 allowlists in the default packs), so this
/// bounds what hostile secrets can make each one hold. The default rules'
/// examples fit; at 64 KiB `secret-assignment`'s allowlist (nested bounded
/// repetitions) was cleared every few of them (session 36).
const CACHE_BYTES: usize = 256 << 10;

/// Several patterns as one set: does any of them match a secret?
pub(crate) struct Allowlist {
    dfa: DFA,
    caches: Caches,
    /// For the one search the lazy DFA cannot finish: a Unicode word
    /// boundary next to a byte beyond ASCII. No default pack's allowlist
    /// has one, so its cache is made for each such search.
    pikevm: PikeVM,
}

impl std::fmt::Debug for Allowlist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allowlist").field("patterns", &self.dfa.pattern_len()).finish()
    }
}

impl Allowlist {
    /// Compiles `patterns` with the rules' syntax (bytes, not only UTF-8)
    /// and NFA size limit.
    pub(crate) fn new(patterns: &[String], size_limit: usize) -> Result<Allowlist, String> {
        let nfa = thompson::Compiler::new()
            .syntax(syntax::Config::new().utf8(false))
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .nfa_size_limit(Some(size_limit))
                    .which_captures(WhichCaptures::None),
            )
            .build_many(patterns)
            .map_err(|e| e.to_string())?;
        let dfa = DFA::builder()
            .configure(
                DFA::config().unicode_word_boundary(true).cache_capacity(CACHE_BYTES).skip_cache_capacity_check(true),
            )
            .build_from_nfa(nfa.clone())
            .map_err(|e| e.to_string())?;
        let pikevm = PikeVM::new_from_nfa(nfa).map_err(|e| e.to_string())?;
        Ok(Allowlist { caches: caches(&dfa), dfa, pikevm })
    }

    /// Whether any pattern matches anywhere in `secret`.
    pub(crate) fn is_match(&self, secret: &[u8]) -> bool {
        let input = Input::new(secret).earliest(true);
        match self.dfa.try_search_fwd(&mut self.caches.get(), &input) {
            Ok(found) => found.is_some(),
            Err(_) => self.pikevm.is_match(&mut self.pikevm.create_cache(), input),
        }
    }

    /// How often this thread's cache has been cleared, for tests that
    /// check it holds what they walk.
    #[cfg(test)]
    pub(crate) fn clear_count(&self) -> usize {
        self.caches.get().clear_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn set(patterns: &[&str]) -> Allowlist {
        Allowlist::new(&patterns.iter().map(|p| p.to_string()).collect::<Vec<_>>(), 8 << 20).unwrap()
    }

    #[test]
    fn matches_where_any_pattern_matches() {
        let allow =
            set(&[r"(?i-u)^(?:null|changeme|xxx+)$", r"(?-u)^(?:\$\{[^}]{0,256}\}?|<[^<>]{0,256}>|\*+)$", "example"]);
        for yes in ["null", "NULL", "xxxx", "${DB_PASSWORD}", "<redacted>", "****", "an-example-key", "example"] {
            assert!(allow.is_match(yes.as_bytes()), "{yes}");
        }
        for no in ["nullx", "s3cr3t", "x${A}", "<a<b>", "**x", "", "exampl"] {
            assert!(!allow.is_match(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn long_placeholders_are_matched_whatever_states_they_walk() {
        let allow = set(&[r"(?-u)^(?:<[^<>]{0,256}>|\{\{[^{}]{0,256}\}\})$"]);
        for n in [0, 1, 100, 255, 256] {
            for fill in [b'a', b'z', b' ', 0xff] {
                let body = vec![fill; n];
                assert!(allow.is_match(&[&b"<"[..], &body, b">"].concat()), "{n}");
                assert!(allow.is_match(&[&b"{{"[..], &body, b"}}"].concat()), "{n}");
                assert!(!allow.is_match(&[&b"<"[..], &body, b">x"].concat()), "{n}");
            }
        }
        assert!(!allow.is_match(&[&b"<"[..], &[b'a'; 257], b">"].concat()));
    }

    #[test]
    fn bytes_beyond_utf8_are_matched_as_bytes() {
        let allow = set(&[r"(?-u)^\xFF+$"]);
        assert!(allow.is_match(b"\xff\xff"));
        assert!(!allow.is_match(b"\xff\xfe"));
    }

    #[test]
    fn a_unicode_word_boundary_next_to_non_ascii_is_still_answered() {
        // The lazy DFA quits on such a byte; the PikeVM answers instead.
        let allow = set(&[r"\bdemo\b"]);
        assert!(allow.is_match("é demo é".as_bytes()));
        assert!(!allow.is_match("édemo".as_bytes()));
        assert!(allow.is_match(b"a demo"));
    }

    /// Pieces of allowlist patterns: anchors, classes, bounded repetitions,
    /// alternations, word boundaries, bytes beyond ASCII.
    const PIECES: &[&str] = &[
        "^",
        "$",
        "a",
        "b",
        "(?i)ab",
        "[ab]",
        "[^a]",
        "a{0,3}",
        "b+",
        "(?:a|bb)",
        r"\b",
        r"\B",
        r"(?-u)\b",
        r"(?-u)\xFF",
        "é",
        ".",
        r"\$\{",
        r"[^}]{0,4}",
        "x*",
    ];

    proptest! {
        /// The lazy DFA (and the PikeVM where it quits) says what the
        /// `regex` crate says of the same patterns, on bytes thick with
        /// theirs.
        #[test]
        fn agrees_with_the_regex_crate(
            picks in proptest::collection::vec(proptest::collection::vec(0..PIECES.len(), 1..5), 1..4),
            hay in proptest::collection::vec(prop_oneof![Just(b'a'), Just(b'b'), Just(b' '), Just(b'$'), Just(b'{'), Just(b'}'), Just(0xff), Just(0xc3), Just(0xa9), Just(b'x')], 0..12),
        ) {
            let patterns: Vec<String> = picks.iter().map(|p| p.iter().map(|&i| PIECES[i]).collect()).collect();
            let Ok(reference) = regex::bytes::RegexSet::new(&patterns) else { return Ok(()) };
            let allow = Allowlist::new(&patterns, 8 << 20).unwrap();
            prop_assert_eq!(allow.is_match(&hay), reference.is_match(&hay), "{:?} on {:?}", patterns, hay);
        }
    }

    #[test]
    fn a_bad_pattern_is_an_error() {
        assert!(Allowlist::new(&["(".to_string()], 8 << 20).is_err());
        assert!(Allowlist::new(&["a{0,100000}".to_string()], 1 << 10).is_err());
    }
}
