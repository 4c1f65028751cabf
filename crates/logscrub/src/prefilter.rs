//! The prefilter: one pass over the bytes that says where rules could match.
//!
//! Every trigger is one pattern of one lazy DFA (`regex-automata`'s hybrid
//! DFA, searching for all of them at once, overlapping): the keywords of
//! every rule as one ASCII case-insensitive trie, and for each rule without
//! keywords its `trigger` regex or its own regex (card, phone and id
//! numbers), so that the many dates, addresses and ids in logs do not wake
//! it, only text in its shape. One walk over a buffer finds every trigger; a
//! clean line costs one table lookup a byte and allocates nothing.
//!
//! The keywords share one trie, not one per rule, because each state of the
//! lazy DFA is built from every pattern that may be under way: with a trie a
//! rule, the first pass over varied logs spent twice as long building
//! states. For the same reason the search starts from one NFA state, not
//! from the first states of every pattern ([`FirstStates`]). Which rules a
//! keyword hit selects is settled afterwards, by an Aho-Corasick automaton
//! of the reversed keywords, walked back over the few bytes before the hit
//! ([`Prefilter::select`]).
//!
//! A DFA walk is bound by the latency of each lookup, not by the CPU's width,
//! so a buffer is cut into five lanes that are walked side by side: the
//! lookups of one lane overlap those of the others. A buffer of many lines
//! is cut at line starts, where a walk starts afresh. A short one (a line, a
//! tracing event) is cut anywhere: each lane but the first starts without
//! knowing what came before its cut, so the lane before it walks on past the
//! cut until both are in the same state (a few bytes, at most to the next
//! line), and from there on the later lane's walk is the true one.

use std::panic::{RefUnwindSafe, UnwindSafe};

use aho_corasick::automaton::Automaton;
use aho_corasick::Anchored;
use regex_automata::hybrid::dfa::{Cache, DFA};
use regex_automata::hybrid::LazyStateID;
use regex_automata::nfa::thompson::{self, BuildError, State, Transition, WhichCaptures, NFA};
use regex_automata::util::look::Look as NfaLook;
use regex_automata::util::pool::Pool;
use regex_automata::util::primitives::StateID;
use regex_automata::util::start;
use regex_automata::MatchKind;
use regex_syntax::hir::{Class, ClassBytes, ClassBytesRange, ClassUnicode, ClassUnicodeRange, Hir, HirKind, Look};

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

/// A trigger found: the offset just past its match, and its entry in the
/// pattern in the prefilter's DFA (what it selects: [`Prefilter::select`]).
pub(crate) type Trigger = (usize, u32);

/// Buffers this long are cut into lanes at line starts.
const SPLIT_MIN: usize = 16 * 1024;

/// Buffers at least this long, and shorter than [`SPLIT_MIN`], are cut into
/// lanes anywhere; shorter ones are walked in one part, as the lanes' start
/// states and catching up cost more than they save (about 20 ns: on the
/// Intel Xeon VM of the records one walk and five lanes broke even near 48
/// bytes, and a 100-byte line took 145 ns in one walk, 91 ns in five lanes).
const SPLIT_SHORT: usize = 48;

/// Buffers shorter than this (a line, a tracing event) are cut into
/// [`FEW_LANES`] lanes, as each lane costs a start state and a catching up.
/// On the AMD EPYC VM of session 34, three lanes against five: 53 bytes
/// 95 against 138 ns, 100 bytes 113 against 148 ns, 202 bytes 179 against
/// 197 ns; 404 bytes 297 ns both; 2 KB 2% slower.
const FEW_LANES_BELOW: usize = 384;

/// Lanes for buffers shorter than [`FEW_LANES_BELOW`].
const FEW_LANES: usize = 3;

/// How many parts of a buffer are walked side by side. On the Intel Xeon
/// VM of the records, with each lane's step checked on its own
/// ([`Prefilter::fast_lanes`]), five walked clean logs 12% faster than
/// four and 33% faster than three; six were no faster than five and slower
/// on short lines, seven and eight slower throughout.
const LANES: usize = 5;

/// The lazy DFA's cache, per thread. States are built as the input needs
/// them; a cache that fills is cleared and rebuilt, so memory stays bounded
/// whatever the input. The default packs' states take 1.4-2.5 MB on the
/// bench corpora; every pack's (`--packs all`, 56 triggers) take 4.6-7.2 MB
/// (6-9 MB before the first states were merged), and with a 4 MB ceiling
/// they cleared again and again: 256 MB of real logs took 7-8 s against 1
/// s. The ceiling leaves room for twice that.
const CACHE_BYTES: usize = 16 << 20;

type CacheFn = Box<dyn Fn() -> Cache + Send + Sync + UnwindSafe + RefUnwindSafe>;

/// A lazy DFA's caches, one for each thread that searches with it at once.
pub(crate) type Caches = Pool<Cache, CacheFn>;

/// An empty pool of caches for `dfa`, filled as threads search.
pub(crate) fn caches(dfa: &DFA) -> Caches {
    let dfa = dfa.clone();
    Pool::new(Box::new(move || dfa.create_cache()))
}

/// The compiled triggers of a set of rules.
pub(crate) struct Prefilter {
    dfa: DFA,
    caches: Caches,
    /// For each DFA pattern, the rules it selects: the keyword trie's entry
    /// holds every rule with keywords, each other pattern its one rule. One
    /// more entry at the end, [`Prefilter::all`], selects every rule: the
    /// answer when the DFA fails.
    rules_of: Vec<Vec<u32>>,
    keywords: Option<Keywords>,
}

/// The keywords of every rule, as the DFA's one trie pattern, and what
/// tells which of them a hit of that pattern was.
struct Keywords {
    /// The trie's pattern in the DFA.
    pattern: u32,
    /// The keywords again, each reversed (ASCII case-insensitive), walked
    /// anchored and backwards from where the trie matched: it names the
    /// keywords that end there in a few steps. A contiguous NFA, as the
    /// default packs' keywords made a 1.5 MB DFA (127 KB this way), for the
    /// same speed over so few steps.
    reversed: aho_corasick::nfa::contiguous::NFA,
    /// For each keyword, the rules it gates.
    rules: Vec<Vec<u32>>,
    longest: usize,
}

/// The triggers' NFA: the patterns of `hirs` as the compiler makes them,
/// then the keywords (ASCII case-insensitive) as one more pattern, a trie
/// built by hand: each node one state, with a transition for each child's
/// byte (both cases of a letter). Keywords that share a prefix share its
/// states. Written as an alternation, the trie's root alone was 43 NFA
/// states (a union of one class a first byte); with a state a node, a first
/// pass over logs took 15-17% fewer instructions past start-up (session 26,
/// callgrind: 32 MB of real logs, 64 MB with 1% of lines carrying secrets).
///
/// The search is unanchored, so every DFA state holds the first states of
/// every pattern, and each transition the lazy DFA computes walks them all.
/// So the search starts from one state instead ([`FirstStates`]): for each
/// byte, the states that any pattern's first states go to on it. The
/// patterns match what they did, as a search for all of them at once.
fn triggers_nfa(hirs: &[Hir], keywords: &[&[u8]]) -> Result<NFA, Box<BuildError>> {
    let compiled = thompson::Compiler::new()
        .configure(thompson::Config::new().utf8(false).which_captures(WhichCaptures::None))
        .build_many_from_hir(hirs)?;
    let mut b = thompson::Builder::new();
    b.set_utf8(false);
    b.set_look_matcher(compiled.look_matcher().clone());
    // The compiled patterns' states, copied: a builder numbers its states in
    // the order they are added, so each one's number is known in advance.
    let mut ids: Vec<Option<StateID>> = vec![None; compiled.states().len()];
    let mut order: Vec<StateID> = Vec::new();
    let mut windows = Vec::new();
    for pid in compiled.patterns() {
        let (from, start) = (order.len(), compiled.start_pattern(pid).expect("a compiled pattern has a start"));
        let mut stack = vec![start];
        while let Some(id) = stack.pop() {
            if ids[id.as_usize()].is_some() {
                continue;
            }
            // No more states than the compiled NFA, whose ids all fit.
            ids[id.as_usize()] = Some(StateID::must(order.len()));
            order.push(id);
            match compiled.state(id) {
                State::ByteRange { trans } => stack.push(trans.next),
                State::Sparse(sp) => stack.extend(sp.transitions.iter().map(|t| t.next)),
                State::Dense(d) => stack.extend(d.transitions.iter().copied().filter(|&n| n != StateID::ZERO)),
                State::Look { next, .. } | State::Capture { next, .. } => stack.push(*next),
                State::Union { alternates } => stack.extend(alternates.iter().copied()),
                State::BinaryUnion { alt1, alt2 } => stack.extend([*alt1, *alt2]),
                State::Fail | State::Match { .. } => {}
            }
        }
        windows.push((from, order.len(), start));
    }
    let new = |id: StateID| ids[id.as_usize()].expect("every state reached is numbered");
    let moved = |t: &Transition| Transition { next: new(t.next), ..*t };
    let mut first = FirstStates::new();
    for &(from, to, start) in &windows {
        b.start_pattern()?;
        for &id in &order[from..to] {
            match compiled.state(id) {
                State::ByteRange { trans } => b.add_range(moved(trans))?,
                State::Sparse(sp) => b.add_sparse(sp.transitions.iter().map(moved).collect())?,
                State::Dense(d) => b.add_sparse(
                    (0..=255u8)
                        .zip(d.transitions.iter())
                        .filter(|(_, &n)| n != StateID::ZERO)
                        .map(|(byte, &n)| Transition { start: byte, end: byte, next: new(n) })
                        .collect(),
                )?,
                State::Look { look, next } => b.add_look(new(*next), *look)?,
                State::Union { alternates } => b.add_union(alternates.iter().map(|&a| new(a)).collect())?,
                State::BinaryUnion { alt1, alt2 } => b.add_union(vec![new(*alt1), new(*alt2)])?,
                // No captures were compiled; one would be an empty step.
                State::Capture { next, .. } => {
                    let empty = b.add_empty()?;
                    b.patch(empty, new(*next))?;
                    empty
                }
                State::Fail => b.add_fail()?,
                State::Match { .. } => b.add_match()?,
            };
        }
        b.finish_pattern(new(start))?;
        first.add_compiled(&compiled, start, new);
    }
    if !keywords.is_empty() {
        b.start_pattern()?;
        let matched = b.add_match()?;
        let (edges, ends) = trie_edges(&mut b, keywords, matched)?;
        for &(byte, next) in &edges {
            first.on_byte(byte, next);
        }
        if ends {
            first.others.push(matched);
        }
        let root = trie_node(&mut b, edges, ends, matched)?;
        b.finish_pattern(root)?;
    }
    // Every pattern from anywhere: `(?s-u:.)*?` before their first states.
    let anchored = first.build(&mut b)?;
    let unanchored = b.add_union(Vec::new())?;
    let any = b.add_range(Transition { start: 0, end: 0xFF, next: unanchored })?;
    b.patch(unanchored, anchored)?;
    b.patch(unanchored, any)?;
    Ok(b.build(anchored, unanchored)?)
}

/// Where the patterns of the triggers' NFA start, merged: for each byte,
/// the states their first byte-consuming states go to on it, and apart the
/// first states that consume no byte (an assertion such as `\b`, a match).
///
/// Those apart are in every state of the DFA, each one walked again for
/// every transition it builds. So the patterns that begin with the same
/// assertion share one, and a leading `^` is no assertion at all: it is a
/// transition on `\n`, and a walk from a line start begins as if a newline
/// came before it ([`Prefilter::start`]). The default packs' triggers
/// began with five `^` and two `\b`: merged, a first pass over real logs
/// took 10% fewer instructions, and the prefilter's over random tokens 16%
/// fewer; with `^` as a newline, 13% and 21% (callgrind, session 34).
struct FirstStates {
    /// For each byte, the states it leads to.
    on: Vec<Vec<StateID>>,
    /// For each assertion (but `^`) that begins a pattern, the states
    /// after it.
    looks: Vec<(NfaLook, Vec<StateID>)>,
    /// The other first states that consume no byte.
    others: Vec<StateID>,
}

impl FirstStates {
    fn new() -> FirstStates {
        FirstStates { on: vec![Vec::new(); 256], looks: Vec::new(), others: Vec::new() }
    }

    fn on_byte(&mut self, byte: u8, next: StateID) {
        self.on[usize::from(byte)].push(next);
    }

    /// The states that `start` of `nfa` reaches without a byte, numbered
    /// by `new`.
    fn add_compiled(&mut self, nfa: &NFA, start: StateID, new: impl Fn(StateID) -> StateID) {
        for id in first_states(nfa, start) {
            match nfa.state(id) {
                State::ByteRange { trans } => (trans.start..=trans.end).for_each(|b| self.on_byte(b, new(trans.next))),
                State::Sparse(sp) => {
                    for t in sp.transitions.iter() {
                        (t.start..=t.end).for_each(|b| self.on_byte(b, new(t.next)));
                    }
                }
                State::Dense(d) => {
                    for (byte, &next) in (0..=255u8).zip(d.transitions.iter()) {
                        if next != StateID::ZERO {
                            self.on_byte(byte, new(next));
                        }
                    }
                }
                State::Look { look: NfaLook::StartLF, next } => self.on_byte(b'\n', new(*next)),
                State::Look { look, next } => match self.looks.iter_mut().find(|(l, _)| l == look) {
                    Some((_, nexts)) => nexts.push(new(*next)),
                    None => self.looks.push((*look, vec![new(*next)])),
                },
                _ => self.others.push(new(id)),
            }
        }
    }

    /// One sparse state with a transition a byte (to a union where the
    /// byte takes several patterns on), beside the other first states.
    fn build(mut self, b: &mut thompson::Builder) -> Result<StateID, Box<BuildError>> {
        let mut unions: std::collections::HashMap<Vec<StateID>, StateID> = Default::default();
        let mut trans: Vec<Transition> = Vec::new();
        for (byte, mut to) in (0..=255u8).zip(std::mem::take(&mut self.on)) {
            to.sort_unstable();
            to.dedup();
            let next = match to.len() {
                0 => continue,
                1 => to[0],
                _ => match unions.get(&to) {
                    Some(&u) => u,
                    None => {
                        let u = b.add_union(to.clone())?;
                        unions.insert(to, u);
                        u
                    }
                },
            };
            match trans.last_mut() {
                Some(t) if t.next == next && t.end + 1 == byte => t.end = byte,
                _ => trans.push(Transition { start: byte, end: byte, next }),
            }
        }
        let mut firsts = std::mem::take(&mut self.others);
        for (look, nexts) in std::mem::take(&mut self.looks) {
            let next = match &nexts[..] {
                [one] => *one,
                _ => b.add_union(nexts)?,
            };
            firsts.push(b.add_look(next, look)?);
        }
        if !trans.is_empty() {
            firsts.insert(0, b.add_sparse(trans)?);
        }
        Ok(b.add_union(firsts)?)
    }
}

/// The states of `nfa` that `start` reaches without a byte and that do
/// not merely lead on: those that take a byte, assertions, matches.
fn first_states(nfa: &NFA, start: StateID) -> Vec<StateID> {
    let (mut seen, mut stack, mut out) = (std::collections::HashSet::new(), vec![start], Vec::new());
    while let Some(id) = stack.pop() {
        if !seen.insert(id) {
            continue;
        }
        match nfa.state(id) {
            State::Union { alternates } => stack.extend(alternates.iter().copied()),
            State::BinaryUnion { alt1, alt2 } => stack.extend([*alt1, *alt2]),
            State::Capture { next, .. } => stack.push(*next),
            _ => out.push(id),
        }
    }
    out
}

/// A trie node's transitions: a byte, the child it leads to.
type Edges = Vec<(u8, StateID)>;

/// The trie of `words` (each the rest of a keyword past this node) as NFA
/// states, ASCII case-insensitive; a word that ends here goes to `matched`.
fn keyword_trie(b: &mut thompson::Builder, words: &[&[u8]], matched: StateID) -> Result<StateID, Box<BuildError>> {
    let (edges, ends) = trie_edges(b, words, matched)?;
    trie_node(b, edges, ends, matched)
}

/// The transitions of a trie node over `words` (its children built), and
/// whether a word ends at it.
fn trie_edges(b: &mut thompson::Builder, words: &[&[u8]], matched: StateID) -> Result<(Edges, bool), Box<BuildError>> {
    let mut next: std::collections::BTreeMap<u8, Vec<&[u8]>> = Default::default();
    let mut ends = false;
    for w in words {
        match w.split_first() {
            None => ends = true,
            Some((first, rest)) => next.entry(first.to_ascii_lowercase()).or_default().push(rest),
        }
    }
    let mut edges: Edges = Vec::new();
    for (byte, rest) in next {
        let child = keyword_trie(b, &rest, matched)?;
        edges.push((byte, child));
        if byte.is_ascii_lowercase() {
            edges.push((byte.to_ascii_uppercase(), child));
        }
    }
    edges.sort_unstable();
    Ok((edges, ends))
}

/// A trie node: one state with a transition a child's byte.
fn trie_node(
    b: &mut thompson::Builder,
    edges: Edges,
    ends: bool,
    matched: StateID,
) -> Result<StateID, Box<BuildError>> {
    if edges.is_empty() {
        return Ok(matched);
    }
    let node =
        b.add_sparse(edges.into_iter().map(|(byte, next)| Transition { start: byte, end: byte, next }).collect())?;
    match ends {
        true => Ok(b.add_union(vec![matched, node])?),
        false => Ok(node),
    }
}

/// A rule's regex as a trigger over many lines at once: `^` and `$` hold at
/// every line boundary, no class takes a newline (a match stays on its
/// line), and Unicode word boundaries (which a lazy DFA cannot check on
/// non-ASCII text) always hold. A line holds no newline, so every match of
/// the rule on a line is still a match here.
///
/// Every byte beyond ASCII is taken as any such byte ([`beyond`]). Each
/// distinct byte a trigger names would split the DFA's alphabet, and every
/// state's row of transitions grows with it: a trigger for пароль, 密码 and
/// four more such words took the alphabet from 102 classes to 150, the
/// states of the 1% input outgrew the cache, and it ran 2x slower (12x in
/// the bench, which clears the cache on every pass). As one class, such a
/// trigger adds one. It then fires on other words as long in bytes, which
/// the rule's regex turns down.
fn line_anchored(h: &Hir) -> Hir {
    match h.kind() {
        HirKind::Class(Class::Bytes(c)) => {
            let mut c = widened(c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))));
            c.difference(&ClassBytes::new([ClassBytesRange::new(b'\n', b'\n')]));
            Hir::class(Class::Bytes(c))
        }
        HirKind::Class(Class::Unicode(c)) => {
            let mut c = c.clone();
            c.difference(&ClassUnicode::new([ClassUnicodeRange::new('\n', '\n')]));
            widened_chars(&c)
        }
        HirKind::Look(look) => match look {
            Look::Start => Hir::look(Look::StartLF),
            Look::End => Hir::look(Look::EndLF),
            Look::WordUnicode
            | Look::WordUnicodeNegate
            | Look::WordStartUnicode
            | Look::WordEndUnicode
            | Look::WordStartHalfUnicode
            | Look::WordEndHalfUnicode => Hir::empty(),
            _ => h.clone(),
        },
        HirKind::Capture(c) => line_anchored(&c.sub),
        HirKind::Repetition(r) => {
            Hir::repetition(regex_syntax::hir::Repetition { sub: Box::new(line_anchored(&r.sub)), ..r.clone() })
        }
        HirKind::Concat(hs) => Hir::concat(hs.iter().map(line_anchored).collect()),
        HirKind::Alternation(hs) => factored(hs.iter().map(line_anchored).collect()),
        HirKind::Literal(lit) => Hir::concat(
            lit.0
                .chunk_by(|a, b| a.is_ascii() && b.is_ascii())
                .map(|run| match run {
                    [b] if !b.is_ascii() => Hir::class(Class::Bytes(beyond())),
                    _ => Hir::literal(run),
                })
                .collect(),
        ),
        HirKind::Empty => h.clone(),
    }
}

/// The alternation of `alts` as a trie: branches that begin alike share
/// their beginning, and a branch that matches nothing (an empty class) is
/// left out. It matches what the alternation matches (a trigger's
/// alternatives are never ordered: every match is reported).
///
/// Every state of the DFA holds the start of every trigger, and building
/// one walks them all: the default packs' triggers began with 160 NFA
/// states, 27 of them the words beyond ASCII of one rule, most alike once
/// widened (пароль and парола are both twelve bytes beyond ASCII): each
/// transition that the first pass over a log computes (18,000 on 32 MB of
/// real logs) cost 3-4 us. Factored, they begin with 121.
fn factored(alts: Vec<Hir>) -> Hir {
    // Each branch as its first element, a byte for a literal, and the rest.
    let split = |h: Hir| -> (Hir, Hir) {
        match h.kind() {
            HirKind::Concat(xs) => match xs[0].kind() {
                HirKind::Literal(lit) if lit.0.len() > 1 => (
                    Hir::literal(&lit.0[..1]),
                    Hir::concat([Hir::literal(&lit.0[1..])].into_iter().chain(xs[1..].iter().cloned()).collect()),
                ),
                _ => (xs[0].clone(), Hir::concat(xs[1..].to_vec())),
            },
            HirKind::Literal(lit) if lit.0.len() > 1 => (Hir::literal(&lit.0[..1]), Hir::literal(&lit.0[1..])),
            _ => (h, Hir::empty()),
        }
    };
    let mut empty = false;
    let mut groups: Vec<(Hir, Vec<Hir>)> = Vec::new();
    for alt in alts {
        match alt.kind() {
            HirKind::Empty => empty = true,
            HirKind::Class(Class::Bytes(c)) if c.ranges().is_empty() => {}
            HirKind::Class(Class::Unicode(c)) if c.ranges().is_empty() => {}
            _ => {
                let (head, tail) = split(alt);
                match groups.iter_mut().find(|(h, _)| *h == head) {
                    Some((_, tails)) => tails.push(tail),
                    None => groups.push((head, vec![tail])),
                }
            }
        }
    }
    let mut out: Vec<Hir> = groups
        .into_iter()
        .map(|(head, mut tails)| match tails.len() {
            1 => Hir::concat(vec![head, tails.remove(0)]),
            _ => Hir::concat(vec![head, factored(tails)]),
        })
        .collect();
    if empty {
        out.push(Hir::empty());
    }
    match out.len() {
        0 => Hir::fail(),
        _ => Hir::alternation(out),
    }
}

/// Whether `h` names a byte or character beyond ASCII.
fn beyond_ascii(h: &Hir) -> bool {
    match h.kind() {
        HirKind::Literal(lit) => !lit.0.is_ascii(),
        // Some but not all of what lies beyond ASCII: not `[^"]`.
        HirKind::Class(Class::Unicode(c)) => {
            let mut beyond = c.clone();
            beyond.intersect(&ClassUnicode::new([ClassUnicodeRange::new('\u{80}', char::MAX)]));
            !beyond.ranges().is_empty() && beyond.ranges() != [ClassUnicodeRange::new('\u{80}', char::MAX)]
        }
        HirKind::Class(Class::Bytes(c)) => {
            let mut beyond = c.clone();
            beyond.intersect(&ClassBytes::new([ClassBytesRange::new(0x80, 0xFF)]));
            !beyond.ranges().is_empty() && beyond.ranges() != [ClassBytesRange::new(0x80, 0xFF)]
        }
        HirKind::Capture(c) => beyond_ascii(&c.sub),
        HirKind::Repetition(r) => beyond_ascii(&r.sub),
        HirKind::Concat(hs) | HirKind::Alternation(hs) => hs.iter().any(beyond_ascii),
        HirKind::Empty | HirKind::Look(_) => false,
    }
}

/// Every byte beyond ASCII, as one class of a trigger.
fn beyond() -> ClassBytes {
    ClassBytes::new([ClassBytesRange::new(0x80, 0xFF)])
}

/// The byte ranges `ranges` (inclusive) with every byte beyond ASCII, if
/// they hold any.
fn widened(ranges: impl IntoIterator<Item = (u32, u32)>) -> ClassBytes {
    let mut out = ClassBytes::empty();
    for (lo, hi) in ranges {
        if lo < 0x80 {
            out.push(ClassBytesRange::new(lo as u8, hi.min(0x7F) as u8));
        }
        if hi >= 0x80 {
            out.union(&beyond());
        }
    }
    out
}

/// A class of characters as bytes: its ASCII part as it is, its characters
/// beyond ASCII as any bytes beyond ASCII, as many as their UTF-8 takes.
fn widened_chars(c: &ClassUnicode) -> Hir {
    let ascii: Vec<(u32, u32)> =
        c.ranges().iter().map(|r| (u32::from(r.start()), u32::from(r.end()))).filter(|r| r.0 < 0x80).collect();
    let mut alts = vec![Hir::class(Class::Bytes(widened(ascii)))];
    // The characters of each UTF-8 length, 2, 3 and 4 bytes, that it holds.
    for (len, (first, last)) in [(2, (0x80u32, 0x7FFu32)), (3, (0x800, 0xFFFF)), (4, (0x1_0000, 0x10_FFFF))] {
        if c.ranges().iter().any(|r| u32::from(r.start()) <= last && u32::from(r.end()) >= first) {
            alts.push(Hir::concat(vec![Hir::class(Class::Bytes(beyond())); len]));
        }
    }
    // Factored: the ASCII part goes when it is empty, and the lengths share
    // their first bytes.
    factored(alts)
}

impl Prefilter {
    /// Builds the triggers of the rules for which `enabled` is true. A rule
    /// with keywords is triggered by them; one without, by its trigger
    /// regex, else its `within` scope (which every match lies in), else its
    /// regex.
    pub(crate) fn new(rules: &[Rule], enabled: impl Fn(usize) -> bool) -> Result<Prefilter, String> {
        Prefilter::with_cache(rules, enabled, CACHE_BYTES)
    }

    /// [`Prefilter::new`] with a cache of `cache_bytes` (tests use a tiny
    /// one, to make it clear often).
    fn with_cache(rules: &[Rule], enabled: impl Fn(usize) -> bool, cache_bytes: usize) -> Result<Prefilter, String> {
        let mut hirs: Vec<Hir> = Vec::new();
        let mut rules_of: Vec<Vec<u32>> = Vec::new();
        let mut all = Vec::new();
        // Each keyword (lowercase, as rules keep them) and the rules it gates.
        let mut gated: std::collections::BTreeMap<&[u8], Vec<u32>> = Default::default();
        for (i, rule) in rules.iter().enumerate().filter(|(i, _)| enabled(*i)) {
            let i = i as u32;
            all.push(i);
            if !rule.keywords.is_empty() {
                for k in &rule.keywords {
                    gated.entry(k.as_bytes()).or_default().push(i);
                }
                continue;
            }
            let pattern = match (&rule.trigger, &rule.patterns.within) {
                (Some(t), _) => t,
                (None, Some(w)) => w,
                (None, None) => &rule.patterns.regex,
            };
            let hir = crate::rules::parse_hir(pattern).map_err(|e| format!("rule '{}': {e}", rule.id))?;
            hirs.push(match beyond_ascii(&hir) {
                // Widened, it would match at every character of a line in
                // its script, and each match is a step off the fast path,
                // a trigger to record, sort and select: as the rest of the
                // line, it matches once, at the line's end.
                true => Hir::concat(vec![
                    line_anchored(&hir),
                    line_anchored(&Hir::repetition(regex_syntax::hir::Repetition {
                        min: 0,
                        max: None,
                        greedy: true,
                        sub: Box::new(Hir::class(Class::Bytes(ClassBytes::new([ClassBytesRange::new(0, 0xFF)])))),
                    })),
                    Hir::look(Look::EndLF),
                ]),
                false => line_anchored(&hir),
            });
            rules_of.push(vec![i]);
        }
        let words: Vec<&[u8]> = gated.keys().copied().collect();
        let keywords = match gated.is_empty() {
            true => None,
            false => {
                let mut selected: Vec<u32> = gated.values().flatten().copied().collect();
                selected.sort_unstable();
                selected.dedup();
                rules_of.push(selected);
                let reversed = aho_corasick::nfa::contiguous::NFA::builder()
                    .ascii_case_insensitive(true)
                    .build(words.iter().map(|w| w.iter().rev().copied().collect::<Vec<u8>>()))
                    .map_err(|e| format!("the prefilter's keywords: {e}"))?;
                Some(Keywords {
                    pattern: rules_of.len() as u32 - 1,
                    reversed,
                    longest: words.iter().map(|w| w.len()).max().unwrap_or(0),
                    rules: gated.into_values().collect(),
                })
            }
        };
        rules_of.push(all);
        let nfa = triggers_nfa(&hirs, &words).map_err(|e| format!("the prefilter: {e}"))?;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(MatchKind::All)
                    .cache_capacity(cache_bytes)
                    .skip_cache_capacity_check(true)
                    // Never give up on a cache that keeps filling: slower
                    // on hostile input, never wrong.
                    .minimum_cache_clear_count(None),
            )
            .build_from_nfa(nfa)
            .map_err(|e| format!("the prefilter: {e}"))?;
        Ok(Prefilter { caches: caches(&dfa), dfa, rules_of, keywords })
    }

    /// Marks the rules that trigger `(at, pattern)`, found in `hay`, selects.
    /// A keyword hit selects the rules of each keyword that ends at `at`;
    /// should none be found there (it cannot happen), every rule with
    /// keywords: fail closed.
    pub(crate) fn select(&self, hay: &[u8], (at, pattern): Trigger, out: &mut Candidates) {
        if let Some(kw) = self.keywords.as_ref().filter(|kw| kw.pattern == pattern) {
            let reversed = &kw.reversed;
            let mut found = false;
            if let Ok(mut state) = reversed.start_state(Anchored::Yes) {
                for (depth, &b) in hay[at.saturating_sub(kw.longest)..at].iter().rev().enumerate() {
                    state = reversed.next_state(Anchored::Yes, state, b);
                    if reversed.is_dead(state) {
                        break;
                    }
                    if !reversed.is_match(state) {
                        continue;
                    }
                    // A match state also lists the keywords that are a
                    // suffix of its path (reached by failure links): only
                    // those as long as the path end exactly at `at`.
                    for i in 0..reversed.match_len(state) {
                        let k = reversed.match_pattern(state, i);
                        if reversed.pattern_len(k) == depth + 1 {
                            found = true;
                            kw.rules[k.as_usize()].iter().for_each(|&r| out.insert(r));
                        }
                    }
                }
            }
            debug_assert!(found, "a keyword ends where the trie matched");
            if found {
                return;
            }
        }
        self.rules_of[pattern as usize].iter().for_each(|&r| out.insert(r));
    }

    /// The trigger that selects every rule.
    fn all(&self) -> u32 {
        self.rules_of.len() as u32 - 1
    }

    /// Marks the rules whose triggers occur in `hay`.
    pub(crate) fn rules(&self, hay: &[u8], out: &mut Candidates) {
        let mut found = Vec::new();
        self.triggers(hay, &mut found);
        for t in found {
            self.select(hay, t, out);
        }
    }

    /// The triggers in `hay` (any bytes; lines are cut at `\n`), sorted by
    /// offset. Should the DFA fail (it cannot with the configuration above,
    /// but it is not this code's to promise), every line is reported with
    /// every rule: fail closed.
    pub(crate) fn triggers(&self, hay: &[u8], out: &mut Vec<Trigger>) {
        out.clear();
        let mut cache = self.caches.get();
        let walked = match hay.len() {
            n if n >= SPLIT_MIN => self.walk_lanes::<LANES>(&mut cache, hay, Cut::LineStarts, out),
            n if n >= FEW_LANES_BELOW => self.walk_lanes::<LANES>(&mut cache, hay, Cut::Anywhere, out),
            n if n >= SPLIT_SHORT => self.walk_lanes::<FEW_LANES>(&mut cache, hay, Cut::Anywhere, out),
            _ => Err(Retry),
        }
        .is_ok();
        if walked {
            return;
        }
        out.clear();
        if self.walk(&mut cache, hay, 0, hay.len(), None, out).is_err() {
            self.every_line(hay, out);
        }
    }

    /// Every line of `hay` with every rule: the fail-closed answer.
    fn every_line(&self, hay: &[u8], out: &mut Vec<Trigger>) {
        out.clear();
        let all = self.all();
        out.extend(memchr::memchr_iter(b'\n', hay).map(|i| (i, all)));
        if !hay.ends_with(b"\n") {
            out.push((hay.len(), all));
        }
    }

    /// The start state for a walk from `at`: what precedes it decides word
    /// boundaries, and at a line start (the start of `hay`, or after a
    /// newline) the newline is taken, which begins the triggers that begin
    /// with `^` ([`FirstStates`]).
    fn start(&self, cache: &mut Cache, hay: &[u8], at: usize, out: &mut Vec<Trigger>) -> Result<LazyStateID, Retry> {
        let before = at.checked_sub(1).map(|i| hay[i]);
        let s = self.dfa.start_state(cache, &start::Config::new().look_behind(before)).map_err(|_| Retry)?;
        if before.is_some_and(|b| b != b'\n') {
            return Ok(s);
        }
        // A line starts here: the newline before it, taken (the triggers'
        // leading `^` is a newline in the NFA).
        if !s.is_tagged() {
            let next = self.dfa.next_state_untagged(cache, s, b'\n');
            if !next.is_tagged() {
                return Ok(next);
            }
        }
        // Only a trigger that matches empty text can end on the newline (a
        // rule's regex that does, in a rule without keywords): it wakes its
        // rule on this line.
        self.step(cache, s, b'\n', at, out)
    }

    /// Records the patterns of match state `s`, entered on the byte at `at`:
    /// the DFA reports a match one byte late, so it ended just before `at`.
    fn record(&self, cache: &Cache, s: LazyStateID, at: usize, out: &mut Vec<Trigger>) {
        for i in 0..self.dfa.match_len(cache, s) {
            out.push((at, self.dfa.match_pattern(cache, s, i).as_u32()));
        }
    }

    /// Walks `hay[from..to]` from state `s` (or the start), then the end of
    /// input. Every trigger it records lies on a line of `hay[from..to]`: at
    /// most at the newline that ends it.
    fn walk(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        to: usize,
        s: Option<LazyStateID>,
        out: &mut Vec<Trigger>,
    ) -> Result<(), Retry> {
        let s = match s {
            Some(s) => s,
            None => self.start(cache, hay, from, out)?,
        };
        let s = self.walk_part(cache, hay, from, to, s, out)?;
        // After a newline nothing more can end on a line (the newline itself
        // flushed every match before it), so the end of input is only
        // walked after a line that has none.
        if hay[from..to].last() != Some(&b'\n') {
            self.end(cache, s, to, out)?;
        }
        Ok(())
    }

    /// Walks `hay[from..to]` from state `s` and returns the state at `to`.
    #[inline(always)]
    fn walk_part(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        from: usize,
        to: usize,
        mut s: LazyStateID,
        out: &mut Vec<Trigger>,
    ) -> Result<LazyStateID, Retry> {
        let mut at = from;
        while at < to {
            at = self.fast(cache, &hay[..to], at, &mut s);
            if at < to {
                s = self.step(cache, s, hay[at], at, out)?;
                at += 1;
            }
        }
        Ok(s)
    }

    /// Records what ends at the end of input `at`, in state `s`.
    #[inline(always)]
    fn end(&self, cache: &mut Cache, s: LazyStateID, at: usize, out: &mut Vec<Trigger>) -> Result<(), Retry> {
        let s = self.dfa.next_eoi_state(cache, s).map_err(|_| Retry)?;
        if s.is_match() {
            self.record(cache, s, at, out);
        }
        Ok(())
    }

    /// One step of a walk that may leave the fast path: computes a missing
    /// transition and records a match.
    #[inline(never)]
    fn step(
        &self,
        cache: &mut Cache,
        s: LazyStateID,
        b: u8,
        at: usize,
        out: &mut Vec<Trigger>,
    ) -> Result<LazyStateID, Retry> {
        let s = self.dfa.next_state(cache, s, b).map_err(|_| Retry)?;
        if s.is_match() {
            self.record(cache, s, at, out);
        }
        Ok(s)
    }

    /// [`Prefilter::fast_lanes`] for one lane: steps from byte `at` while
    /// the state stays untagged, and returns where it stopped.
    #[inline(always)]
    fn fast(&self, cache: &Cache, hay: &[u8], mut at: usize, s: &mut LazyStateID) -> usize {
        let mut cur = *s;
        if cur.is_tagged() {
            return at;
        }
        while at < hay.len() {
            let next = self.dfa.next_state_untagged(cache, cur, hay[at]);
            if next.is_tagged() {
                break;
            }
            cur = next;
            at += 1;
        }
        *s = cur;
        at
    }

    /// The hot loop: steps every lane from byte `i` while every state stays
    /// untagged (no match, every transition known). Returns where it
    /// stopped, `(i, k)`: lanes before `k` have taken byte `i`, lane `k` and
    /// those after it have not. It calls nothing, so that the states stay
    /// in registers; it is kept out of line, as inlined into the larger
    /// walks three of the four states went to the stack (a clean 100-byte
    /// line: 115 -> 109 ns). Each lane's step is checked on its own and
    /// reads its transition with no bounds check: fewer instructions a byte
    /// than four checked lookups and one test of all four (clean logs 3-5%
    /// faster, a clean 100-byte line 94 -> 88 ns).
    #[inline(never)]
    fn fast_lanes<const LANES: usize>(
        &self,
        cache: &Cache,
        lanes: &[&[u8]; LANES],
        mut i: usize,
        s: &mut [LazyStateID; LANES],
    ) -> (usize, usize) {
        let n = lanes.iter().map(|l| l.len()).min().unwrap_or(0);
        let lanes = lanes.map(|l| &l[..n]);
        let mut cur = *s;
        if cur.iter().any(|s| s.is_tagged()) {
            return (i, 0);
        }
        while i < n {
            for k in 0..LANES {
                // SAFETY: `cur[k]` is untagged (checked above and before
                // each assignment below) and comes from `cache` as it is
                // now: this loop only reads the cache, and the callers
                // check that nothing cleared it since the states were made.
                // `i < n`, the length of every lane here.
                let next = unsafe { self.dfa.next_state_untagged_unchecked(cache, cur[k], *lanes[k].get_unchecked(i)) };
                if next.is_tagged() {
                    *s = cur;
                    return (i, k);
                }
                cur[k] = next;
            }
            i += 1;
        }
        *s = cur;
        (i, 0)
    }

    /// Walks `hay` in `LANES` parts cut as `cut` says, side by side, each
    /// lane's state in a register of its own. A cache clear while walking
    /// invalidates the other lanes' states, and a lane that does not catch
    /// up with the next one within it spoils the next one's end state: the
    /// caller then walks again in one part.
    fn walk_lanes<const LANES: usize>(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        cut: Cut,
        out: &mut Vec<Trigger>,
    ) -> Result<(), Retry> {
        let line_start = |aim: usize| memchr::memchr(b'\n', &hay[aim..]).map_or(hay.len(), |i| aim + i + 1);
        // Lane k covers hay[starts[k]..end(k)].
        let mut starts = [0; LANES];
        for k in 1..LANES {
            let aim = hay.len() * k / LANES;
            starts[k] = match cut {
                Cut::LineStarts => line_start(aim.max(starts[k - 1]).min(hay.len())),
                Cut::Anywhere => aim,
            };
        }
        let end = |k: usize| if k + 1 < LANES { starts[k + 1] } else { hay.len() };
        let lanes: [&[u8]; LANES] = std::array::from_fn(|k| &hay[starts[k]..end(k)]);
        let clears = cache.clear_count();
        // Cut at line starts, each lane records its triggers apart, in order,
        // and the lanes in turn are the buffer's triggers in order: no sort
        // (2.5% of the engine's instructions on lines that each hold a
        // secret). Cut anywhere, a lane's catching up records triggers in
        // the next lane's part, so they all go to `out`, sorted at the end.
        let apart = matches!(cut, Cut::LineStarts);
        let mut lane_out: [Vec<Trigger>; LANES] = std::array::from_fn(|_| Vec::new());
        let mut s = [LazyStateID::default(); LANES];
        for k in 0..LANES {
            let o = if apart { &mut lane_out[k] } else { &mut *out };
            s[k] = self.start(cache, hay, starts[k], o)?;
        }
        // Every state held must come from the cache as it is now.
        let cleared = |cache: &Cache| if cache.clear_count() == clears { Ok(()) } else { Err(Retry) };
        cleared(cache)?;
        let side_by_side = lanes.iter().map(|l| l.len()).min().unwrap_or(0);
        let mut i = 0;
        loop {
            let done;
            (i, done) = self.fast_lanes(cache, &lanes, i, &mut s);
            if i == side_by_side {
                break;
            }
            // A match, or a transition not computed yet: the slow path.
            for k in done..LANES {
                let o = if apart { &mut lane_out[k] } else { &mut *out };
                s[k] = self.step(cache, s[k], lanes[k][i], starts[k] + i, o)?;
                cleared(cache)?;
            }
            i += 1;
        }
        match cut {
            Cut::LineStarts => {
                // The lanes' tails, each on its own.
                for k in 0..LANES {
                    self.walk(cache, hay, starts[k] + side_by_side, end(k), Some(s[k]), &mut lane_out[k])?;
                    cleared(cache)?;
                    out.append(&mut lane_out[k]);
                }
            }
            Cut::Anywhere => {
                for k in 0..LANES {
                    s[k] = self.walk_part(cache, hay, starts[k] + side_by_side, end(k), s[k], out)?;
                    cleared(cache)?;
                }
                // Lane k's end state is true once lane k - 1 caught up with
                // it, so they catch up in order.
                for k in 0..LANES - 1 {
                    self.catch_up(cache, hay, (s[k], starts[k + 1]), end(k + 1), clears, out)?;
                }
                if hay.last() != Some(&b'\n') {
                    self.end(cache, s[LANES - 1], hay.len(), out)?;
                    cleared(cache)?;
                }
            }
        }
        // Triggers at one offset come in the order of their DFA state.
        if !out.is_sorted() {
            out.sort_unstable();
        }
        // A lane and the one catching up with it find the same triggers
        // where both walked.
        out.dedup();
        Ok(())
    }

    /// Walks on from `s`, the true state at `from`, beside a walk from the
    /// start state at `from` (the next lane's), until both are in the same
    /// state: from there on the next lane's walk is the true one. Records
    /// the triggers of the true walk up to there (the next lane's own may
    /// miss those that began before `from`). Fails if they are not the
    /// same by `limit`, the next lane's end.
    fn catch_up(
        &self,
        cache: &mut Cache,
        hay: &[u8],
        (mut s, from): (LazyStateID, usize),
        limit: usize,
        clears: usize,
        out: &mut Vec<Trigger>,
    ) -> Result<(), Retry> {
        // `s` comes from the cache as it was at `clears`: any step may clear
        // it, and then the other walk's state is stale.
        let cleared = |cache: &Cache| if cache.clear_count() == clears { Ok(()) } else { Err(Retry) };
        let mut next = self.start(cache, hay, from, out)?;
        cleared(cache)?;
        for (at, &b) in hay.iter().enumerate().take(limit).skip(from) {
            s = self.step(cache, s, b, at, out)?;
            cleared(cache)?;
            next = self.dfa.next_state(cache, next, b).map_err(|_| Retry)?;
            cleared(cache)?;
            if s == next {
                return Ok(());
            }
        }
        Err(Retry)
    }
}

/// Where a buffer is cut into lanes.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// At line starts, where a walk starts afresh: no trigger spans a line.
    LineStarts,
    /// Evenly, mid-line: each lane catches up with the next.
    Anywhere,
}

/// The walk could not finish as it was: walk again, more simply.
#[derive(Debug)]
struct Retry;

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules of `body`, a test pack's `[[rule]]` tables.
    fn rules(body: &str) -> Vec<Rule> {
        let file = crate::rules::read("t.toml", &format!("[pack]\nname = \"t\"\ndescription = \"t\"\n{body}")).unwrap();
        (0..file.rules.len()).map(|i| file.compile(i, &[]).unwrap()).collect()
    }

    /// One rule `id` with neither keywords nor trigger, so that its own
    /// `regex` wakes it, masking `input` to `output` and leaving `negative`.
    fn gated_by_its_regex(id: &str, regex: &str, (input, output): (&str, &str), negative: &str) -> Vec<Rule> {
        rules(&format!(
            "[[rule]]\nid = \"{id}\"\ndescription = \"d\"\ncategory = \"pii\"\nregex = '{regex}'\n\
             positive = [{{ input = \"{input}\", output = \"{output}\" }}]\nnegative = [\"{negative}\"]\n"
        ))
    }

    const TWO: &str = r#"
[[rule]]
id = "plus-one"
description = "d"
category = "pii"
keywords = ["+1", "Tok="]
regex = '(?:\+1|tok=)(?P<secret>[0-9]{5})'
positive = [{ input = "a +123456 b", output = "a +1[REDACTED:plus-one] b" }]
negative = ["a +3"]
[[rule]]
id = "nine-digits"
description = "d"
category = "pii"
regex = '(?-u)(?:^|[^0-9])(?P<secret>[0-9]{9})(?:[^0-9]|$)'
positive = [{ input = "id 123456789", output = "id [REDACTED:nine-digits]" }]
negative = ["id 1234567890"]
"#;

    fn found(pf: &Prefilter, hay: &str) -> Vec<(usize, u32)> {
        let mut out = Vec::new();
        pf.triggers(hay.as_bytes(), &mut out);
        out.iter()
            .flat_map(|&t| {
                let mut rules = Candidates::default();
                pf.select(hay.as_bytes(), t, &mut rules);
                rules.iter().map(move |r| (t.0, r)).collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn keywords_ignore_ascii_case_and_regexes_hold_per_line() {
        let pf = Prefilter::new(&rules(TWO), |_| true).unwrap();
        assert_eq!(found(&pf, "+1 TOK= +3"), [(2, 0), (7, 0)]);
        // `^` and `$` hold at every line boundary, and at the ends; the
        // trailing `[^0-9]` does not take the newline.
        assert_eq!(found(&pf, "123456789\nx 1234567890\n987654321"), [(9, 1), (32, 1)]);
        assert!(found(&pf, "+ tok 12345678").is_empty());
    }

    #[test]
    fn lanes_find_what_one_walk_finds() {
        let pf = Prefilter::new(&rules(TWO), |_| true).unwrap();
        let mut text = String::new();
        for i in 0..5000 {
            text.push_str(&format!("line {i} {}\n", if i % 7 == 0 { "tok=12345 id 123456789" } else { "ok" }));
        }
        let mut lanes = Vec::new();
        pf.walk_lanes::<LANES>(&mut pf.caches.get(), text.as_bytes(), Cut::LineStarts, &mut lanes).unwrap();
        let mut one = Vec::new();
        pf.walk(&mut pf.caches.get(), text.as_bytes(), 0, text.len(), None, &mut one).unwrap();
        assert_eq!(lanes, one);
        let lines: std::collections::BTreeSet<usize> =
            lanes.iter().map(|&(at, _)| text[..at].matches('\n').count()).collect();
        assert_eq!(lines.len(), 5000usize.div_ceil(7));
    }

    #[test]
    fn a_cache_that_keeps_clearing_finds_the_same_triggers() {
        // Every line a different number: new DFA states all the time, and
        // a cache that fits a handful of them clears again and again, in
        // the middle of the lanes. (The walk must start again, not use the
        // other lanes' stale states: it did, and panicked, before.)
        let rules = rules(TWO);
        let big = Prefilter::new(&rules, |_| true).unwrap();
        let tiny = Prefilter::with_cache(&rules, |_| true, 0).unwrap();
        let mut text = String::new();
        for i in 0..20_000u64 {
            let n = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 10_000_000_000;
            text.push_str(&format!("tok={:05} id {n} +1{}\n", i % 99_999, i % 7));
        }
        let (mut a, mut b) = (Vec::new(), Vec::new());
        big.triggers(text.as_bytes(), &mut a);
        tiny.triggers(text.as_bytes(), &mut b);
        assert_eq!(a, b);
        // Short buffers, cut mid-line, with the cache clearing under them.
        for len in [64, 100, 333, 5000] {
            let hay = &text.as_bytes()[text.len() - len..];
            big.triggers(hay, &mut a);
            tiny.triggers(hay, &mut b);
            assert_eq!(a, b);
        }
        assert!(tiny.caches.get().clear_count() > 0, "the tiny cache was cleared");
    }

    #[test]
    fn when_the_dfa_fails_every_line_gets_every_rule() {
        let pf = Prefilter::new(&rules(TWO), |_| true).unwrap();
        let mut out = Vec::new();
        pf.every_line(b"a\nb\nc", &mut out);
        assert_eq!(out, [(1, 2), (3, 2), (5, 2)]);
        assert_eq!(pf.rules_of[pf.all() as usize], [0, 1]);
    }

    #[test]
    fn a_keyword_hit_selects_the_rules_of_each_keyword_ending_there() {
        // One trie for every rule's keywords: a hit must still wake only
        // the rules whose keywords end at it, shared and nested ones too.
        let rule = |id: &str, keywords: &str| {
            format!(
                r#"
[[rule]]
id = "{id}"
description = "d"
category = "credential"
keywords = [{keywords}]
regex = '(?i){id}=(?P<secret>[0-9]{{4}})'
positive = [{{ input = "{id}=1234", output = "{id}=[REDACTED:{id}]" }}]
negative = ["{id}"]
"#
            )
        };
        let text = [
            rule("aa", r#""aa=", "password=", "token""#),
            rule("bb", r#""bb=", "word=""#),
            rule("cc", r#""cc=", "PASS""#),
            rule("dd", r#""dd=", "token""#),
        ]
        .concat();
        let pf = Prefilter::new(&rules(&text), |_| true).unwrap();
        assert_eq!(found(&pf, "x PassWord=1"), [(6, 2), (11, 0), (11, 1)]);
        assert_eq!(found(&pf, "a token b"), [(7, 0), (7, 3)]);
        assert_eq!(found(&pf, "dd= word"), [(3, 3)]);
        // Without the `dd` rule, `token` selects `aa` alone.
        let pf = Prefilter::new(&rules(&text), |i| i != 3).unwrap();
        assert_eq!(found(&pf, "a token b"), [(7, 0)]);
    }

    /// Every built-in rule, and the keyword rules' keywords.
    fn builtin() -> &'static (Vec<Rule>, Vec<String>) {
        static RULES: std::sync::OnceLock<(Vec<Rule>, Vec<String>)> = std::sync::OnceLock::new();
        RULES.get_or_init(|| {
            let r = crate::Redactor::builder().packs(["all"]).build().unwrap();
            let rules: Vec<Rule> = r.rules().cloned().collect();
            let mut words: Vec<String> = rules.iter().flat_map(|r| r.keywords.clone()).collect();
            words.sort();
            words.dedup();
            (rules, words)
        })
    }

    /// The prefilter of every built-in rule.
    fn builtin_prefilter() -> &'static Prefilter {
        static PF: std::sync::OnceLock<Prefilter> = std::sync::OnceLock::new();
        PF.get_or_init(|| Prefilter::new(&builtin().0, |_| true).unwrap())
    }

    /// What one walk from the start finds in `hay`, sorted as lanes sort
    /// theirs (one walk gives triggers that end at the same byte in the
    /// DFA's order).
    fn one_walk(pf: &Prefilter, hay: &[u8]) -> Vec<Trigger> {
        let mut one = Vec::new();
        pf.walk(&mut pf.caches.get(), hay, 0, hay.len(), None, &mut one).unwrap();
        one.sort_unstable();
        one
    }

    /// A rule without keywords whose regex matches empty text: its trigger
    /// ends on the newline a walk from a line start takes, and wakes the
    /// rule on the line, in one walk and in lanes, without giving up on
    /// the prefilter (which would wake every rule).
    #[test]
    fn a_trigger_that_matches_empty_text_wakes_its_rule_at_a_line_start() {
        let empty = gated_by_its_regex("digits", "(?P<secret>[0-9]{0,4})", ("x 1234", "x [REDACTED:digits]"), "x y");
        let pf = Prefilter::new(&empty, |_| true).unwrap();
        let mut one = Vec::new();
        pf.walk(&mut pf.caches.get(), b"x y", 0, 3, None, &mut one).unwrap();
        assert!(one.contains(&(0, 0)), "{one:?}");
        let line = "a line of words with no digits at all, long enough to be cut into lanes\nand one more";
        assert!(line.len() >= SPLIT_SHORT);
        let mut lanes = Vec::new();
        pf.walk_lanes::<FEW_LANES>(&mut pf.caches.get(), line.as_bytes(), Cut::Anywhere, &mut lanes).unwrap();
        let mut one = one_walk(&pf, line.as_bytes());
        // One walk records the line start's match twice: on the newline
        // taken, and on the first byte.
        one.dedup();
        assert_eq!(lanes, one);
        assert!(lanes.contains(&(0, 0)) && lanes.iter().any(|&(at, _)| at > line.find('\n').unwrap()), "{lanes:?}");
    }

    #[test]
    fn lanes_cut_mid_line_catch_up_or_give_way() {
        let pf = builtin_prefilter();
        let line = b"2024-05-01T10:00:00Z INFO login user=jane@example.com password=hunter2hunter2 card 4111 1111 1111 1111 from +44 7700 900123";
        let mut lanes = Vec::new();
        pf.walk_lanes::<LANES>(&mut pf.caches.get(), line, Cut::Anywhere, &mut lanes).unwrap();
        assert_eq!(lanes, one_walk(pf, line));
        assert!(lanes.len() >= 4, "{lanes:?}");
        let mut few = Vec::new();
        pf.walk_lanes::<FEW_LANES>(&mut pf.caches.get(), line, Cut::Anywhere, &mut few).unwrap();
        assert_eq!(few, lanes);
        // A trigger under way across every cut: the lane before a cut holds
        // how far into it the walk is, the next lane cannot, so it never
        // catches up within the next lane, and the walk is done again in
        // one part.
        let counting = gated_by_its_regex(
            "q-to-z",
            "(?-u)(?P<secret>q[a-y]{1,200}z)",
            ("a qabcz b", "a [REDACTED:q-to-z] b"),
            "a qz",
        );
        let pf = Prefilter::new(&counting, |_| true).unwrap();
        let hay = [b"q".as_slice(), &[b'a'; 150], b"z"].concat();
        assert!(pf.walk_lanes::<LANES>(&mut pf.caches.get(), &hay, Cut::Anywhere, &mut Vec::new()).is_err());
        assert!(pf.walk_lanes::<FEW_LANES>(&mut pf.caches.get(), &hay, Cut::Anywhere, &mut Vec::new()).is_err());
        let mut found = Vec::new();
        pf.triggers(&hay, &mut found);
        assert_eq!(found, one_walk(&pf, &hay));
        assert_eq!(found, [(152, 0)]);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

        /// Cut anywhere, the lanes find what one walk finds: keywords,
        /// numbers, emails, words in other scripts (a trigger that matches at
        /// the end of their line) and line breaks on either side of every cut.
        #[test]
        fn lanes_cut_anywhere_find_what_one_walk_finds(
            pieces in proptest::collection::vec(
                (0usize..10_000, proptest::bool::ANY, "[0-9a-zA-Z@.:/_=+ пароль密码é-]{0,12}", 0u8..8),
                1..40,
            )
        ) {
            let (_, words) = builtin();
            let pf = builtin_prefilter();
            let mut hay = Vec::new();
            for (pick, upper, filler, newline) in &pieces {
                let word = words[pick % words.len()].as_bytes();
                hay.extend(word.iter().map(|b| if *upper { b.to_ascii_uppercase() } else { *b }));
                hay.extend_from_slice(filler.as_bytes());
                if *newline == 0 {
                    hay.push(b'\n');
                }
            }
            let one = one_walk(pf, &hay);
            let mut lanes = Vec::new();
            if pf.walk_lanes::<LANES>(&mut pf.caches.get(), &hay, Cut::Anywhere, &mut lanes).is_ok() {
                proptest::prop_assert_eq!(&lanes, &one);
            }
            lanes.clear();
            if pf.walk_lanes::<FEW_LANES>(&mut pf.caches.get(), &hay, Cut::Anywhere, &mut lanes).is_ok() {
                proptest::prop_assert_eq!(&lanes, &one);
            }
            let mut found = Vec::new();
            pf.triggers(&hay, &mut found);
            found.sort_unstable();
            proptest::prop_assert_eq!(found, one);
        }

        /// With the built-in packs' keywords (nested, shared, mixed case),
        /// the one trie and the reversed walk select exactly the rules a
        /// keyword of which ends at each hit, as one pattern a rule did.
        #[test]
        fn keyword_hits_select_what_a_plain_search_finds(
            pieces in proptest::collection::vec(
                (0usize..10_000, proptest::bool::ANY, "[a-zA-Z_=:;\"' \t\n.-]{0,4}"),
                0..24,
            )
        ) {
            let (rules, words) = builtin();
            let mut hay = Vec::new();
            for (pick, upper, filler) in &pieces {
                let word = words[pick % words.len()].as_bytes();
                hay.extend(word.iter().map(|b| if *upper { b.to_ascii_uppercase() } else { *b }));
                hay.extend_from_slice(filler.as_bytes());
            }
            let has_keywords = |i: usize| !rules[i].keywords.is_empty();
            let pf = Prefilter::new(rules, has_keywords).unwrap();
            let mut got = std::collections::BTreeSet::new();
            let mut found = Vec::new();
            pf.triggers(&hay, &mut found);
            for t in found {
                let mut c = Candidates::default();
                pf.select(&hay, t, &mut c);
                got.extend(c.iter().map(|r| (t.0, r)));
            }
            let lower = hay.to_ascii_lowercase();
            let mut want = std::collections::BTreeSet::new();
            for (i, rule) in rules.iter().enumerate() {
                for k in &rule.keywords {
                    for end in k.len()..=lower.len() {
                        if lower[end - k.len()..end] == *k.as_bytes() {
                            want.insert((end, i as u32));
                        }
                    }
                }
            }
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn a_keyword_trie_node_is_one_nfa_state() {
        // The root of the built-in keywords: one state, a transition a
        // first byte in either case, not a union of one state each.
        let pf = builtin_prefilter();
        let nfa = pf.dfa.get_nfa();
        let pattern = regex_automata::PatternID::must(pf.keywords.as_ref().unwrap().pattern as usize);
        let State::Sparse(root) = nfa.state(nfa.start_pattern(pattern).unwrap()) else { panic!("not one state") };
        let bytes: Vec<u8> = root.transitions.iter().flat_map(|t| t.start..=t.end).collect();
        for b in [b'p', b'P', b't', b'T', b'a', b'A'] {
            assert!(bytes.contains(&b), "{}", b as char);
        }
    }

    #[test]
    fn unicode_word_boundaries_are_widened_not_refused() {
        let hir = regex_syntax::parse(r"\bab\b").unwrap();
        let wide = line_anchored(&hir);
        assert!(!wide.properties().look_set().contains_word_unicode());
    }

    const BEYOND_ASCII: &str = r#"
[[rule]]
id = "password-words"
description = "d"
category = "credential"
trigger = '(?:hasło|пароль|密码|パスワード|비밀번호|[а-я]{2}=)'
regex = '(?:hasło|пароль|密码|パスワード|비밀번호)=(?P<secret>[0-9]{4})'
positive = [{ input = "a пароль=1234 b", output = "a пароль=[REDACTED:password-words] b" }]
negative = ["a пароль b"]
"#;

    #[test]
    fn bytes_beyond_ascii_are_one_class() {
        // The words' bytes beyond ASCII would be 27 classes of their own.
        let pf = Prefilter::new(&rules(&[TWO, BEYOND_ASCII].concat()), |_| true).unwrap();
        let classes: std::collections::BTreeSet<u8> = (0x80..=0xFF).map(|b| pf.dfa.byte_classes().get(b)).collect();
        assert_eq!(classes.len(), 1);
        let pf = Prefilter::new(&rules(BEYOND_ASCII), |_| true).unwrap();
        for hit in ["x hasło=1", "пароль", "a 密码 b", "パスワード", "비밀번호:", "ёж=1"] {
            assert!(!found(&pf, hit).is_empty(), "{hit}");
        }
        // Other words of the same scripts fire too (the rule's regex turns
        // them down); ASCII text and shorter words do not.
        assert!(!found(&pf, "a 日本 b").is_empty());
        for miss in ["password=1", "haslo=1", "has=1", "a é b", "ab="] {
            assert!(found(&pf, miss).is_empty(), "{miss}");
        }
    }

    #[test]
    fn alternatives_alike_once_widened_begin_once() {
        // Five words beyond ASCII, one a class, begin with one state once
        // widened: the words' alternation is a trie, its empty classes gone.
        let h = line_anchored(&crate::rules::parse_hir("(?i)пароль|парола|лозинка|κωδικός|[пП]|hasło|haslo").unwrap());
        let HirKind::Alternation(branches) = h.kind() else { panic!("{h:?}") };
        assert_eq!(branches.len(), 2, "{h:?}");
        assert!(!format!("{h:?}").contains("[]"), "{h:?}");
    }

    #[test]
    fn the_search_starts_from_one_state_a_byte() {
        // The built-in triggers' first states (79 before they were merged)
        // are one byte-consuming state beside the assertions (`^`, `\b`).
        let nfa = builtin_prefilter().dfa.get_nfa();
        let consuming = first_states(nfa, nfa.start_anchored())
            .into_iter()
            .filter(|&id| matches!(nfa.state(id), State::ByteRange { .. } | State::Sparse(_) | State::Dense(_)))
            .count();
        assert_eq!(consuming, 1);
    }

    /// All matches (pattern, end) of a search for every pattern of `nfa`.
    fn all_matches(nfa: NFA, hay: &[u8]) -> std::collections::BTreeSet<(usize, usize)> {
        let dfa = DFA::builder().configure(DFA::config().match_kind(MatchKind::All)).build_from_nfa(nfa).unwrap();
        let (mut cache, mut state) = (dfa.create_cache(), regex_automata::hybrid::dfa::OverlappingState::start());
        let input = regex_automata::Input::new(hay);
        let mut found = std::collections::BTreeSet::new();
        loop {
            dfa.try_search_overlapping_fwd(&mut cache, &input, &mut state).unwrap();
            match state.get_match() {
                Some(m) => found.insert((m.pattern().as_usize(), m.offset())),
                None => return found,
            };
        }
    }

    proptest::proptest! {
        /// An alternation factored into a trie matches exactly what it
        /// matched.
        #[test]
        fn factored_alternations_match_the_same(
            words in proptest::collection::vec("[abк]{0,3}|[ab]\\[ab\\]|a\\+", 1..6),
            fold in proptest::bool::ANY,
            candidates in proptest::collection::vec("[abкК+]{0,4}", 1..24),
        ) {
            let pattern = format!("{}(?:{})", if fold { "(?i)" } else { "" }, words.join("|"));
            let hir = crate::rules::parse_hir(&pattern).unwrap();
            let plain = match hir.kind() {
                HirKind::Alternation(hs) => Hir::alternation(hs.iter().map(line_anchored).collect()),
                _ => line_anchored(&hir),
            };
            let whole = |h: Hir| {
                let h = Hir::concat(vec![Hir::look(Look::Start), h, Hir::look(Look::End)]);
                regex_automata::meta::Regex::builder().build_from_hir(&h).unwrap()
            };
            let (plain, factored) = (whole(plain), whole(line_anchored(&hir)));
            for c in &candidates {
                proptest::prop_assert_eq!(plain.is_match(c), factored.is_match(c), "{} on {:?}", pattern, c);
            }
        }

        /// With their first states merged, the triggers match what they
        /// match as the regex compiler builds them: the same patterns,
        /// ending at the same offsets.
        #[test]
        fn merged_first_states_match_the_same(
            patterns in proptest::collection::vec("\\^?(?:[ab.]|\\[a-c\\]|\\$|\\\\b){0,3}[ab]{1,2}(?:\\|ca?)?", 1..5),
            keywords in proptest::collection::vec("[abcAB]{1,3}", 0..4),
            hay in "[abcAB. \n]{0,40}",
        ) {
            let mut hirs: Vec<Hir> = patterns.iter().map(|p| line_anchored(&crate::rules::parse_hir(p).unwrap())).collect();
            let words: Vec<&[u8]> = keywords.iter().map(|k| k.as_bytes()).collect();
            let merged = triggers_nfa(&hirs, &words).unwrap();
            if !keywords.is_empty() {
                let any_case = keywords.iter().map(|k| format!("(?i-u:{})", regex_syntax::escape(k)));
                hirs.push(crate::rules::parse_hir(&any_case.collect::<Vec<_>>().join("|")).unwrap());
            }
            let plain = thompson::Compiler::new()
                .configure(thompson::Config::new().utf8(false).which_captures(WhichCaptures::None))
                .build_many_from_hir(&hirs)
                .unwrap();
            // The merged NFA takes `^` as a newline, and a walk begins as
            // if after one (`Prefilter::start`).
            let after_newline = [b"\n", hay.as_bytes()].concat();
            let merged: std::collections::BTreeSet<(usize, usize)> =
                all_matches(merged, &after_newline).into_iter().map(|(p, at)| (p, at - 1)).collect();
            proptest::prop_assert_eq!(merged, all_matches(plain, hay.as_bytes()), "{:?} {:?}", patterns, keywords);
        }

        /// Widened, a trigger still matches wherever the rule's own regex
        /// does: on text of any script, valid UTF-8 or not.
        #[test]
        fn widened_triggers_match_where_the_regex_matches(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Strategy::prop_map("[a-zA-Zа-яЁё0-9 =:é日本密码]{1,6}", String::into_bytes),
                    proptest::collection::vec(0x7Eu8..=0xFF, 1..3),
                ],
                0..12,
            ),
        ) {
            let hay = pieces.concat();
            for p in [r"[а-я]{2}=\d", r"(?i)ё[^a-z]", r"密码|日本\w", r"\w{3}é", r"(?-u)[\x80-\xBF]=", r"[^\x00-\x7F]{2}0", r"\bé\b"] {
                let wide = line_anchored(&crate::rules::parse_hir(p).unwrap());
                let nfa = thompson::Compiler::new()
                    .configure(thompson::Config::new().utf8(false))
                    .build_from_hir(&wide)
                    .unwrap();
                let dfa = DFA::builder().build_from_nfa(nfa).unwrap();
                let wide_matches = dfa
                    .try_search_fwd(&mut dfa.create_cache(), &regex_automata::Input::new(&hay))
                    .unwrap()
                    .is_some();
                if regex::bytes::Regex::new(p).unwrap().is_match(&hay) {
                    proptest::prop_assert!(wide_matches, "{} on {:?}", p, hay);
                }
            }
        }
    }

    #[test]
    fn every_packs_states_fit_the_cache_with_room() {
        // Every rule's examples, each in log lines of a few shapes, with
        // numbers that vary: the states every pack's triggers need must fit
        // the cache with room to spare, or a walk clears it again and again
        // (`--packs all` did, at 4 MB: 40 MB/s on real logs). A prefilter of
        // its own, whose cache no other test has grown: these lines take 6
        // MB of it.
        let pf = Prefilter::new(&builtin().0, |_| true).unwrap();
        let shapes = [
            "2024-05-01T10:00:{}Z INFO [worker-7] request GET /api/v1/items?page={} done status=200",
            "Dec 10 06:55:{} LabSZ sshd[{}]: Failed password for invalid user admin from 173.234.31.186",
            "{{\"ts\":\"2024-05-01T10:00:{}Z\",\"level\":\"info\",\"msg\":\"done\",\"ms\":{}}}",
        ];
        let mut text = String::new();
        for (i, rule) in builtin().0.iter().enumerate() {
            let examples =
                rule.positive.iter().map(|e| e.input.as_str()).chain(rule.negative.iter().map(String::as_str));
            for (k, ex) in examples.enumerate() {
                let shape = shapes[(i + k) % shapes.len()];
                let line = shape.replacen("{}", &format!("{:02}", (i * 7 + k) % 60), 1).replacen(
                    "{}",
                    &(i * 31 + k).to_string(),
                    1,
                );
                text.push_str(&format!("{line} {ex}\n"));
            }
        }
        let mut found = Vec::new();
        pf.triggers(text.as_bytes(), &mut found);
        let cache = pf.caches.get();
        assert_eq!(cache.clear_count(), 0);
        assert!(cache.memory_usage() < CACHE_BYTES / 2, "{} bytes of states", cache.memory_usage());
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
