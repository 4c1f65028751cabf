//! Validators: checks that run on a candidate secret after its regex matched.
//!
//! A regex says "this looks like a card number"; a validator says "this *is*
//! one" (its checksum holds, its brand prefix and grouping are real). They are
//! what lets the card rule mask `4111 1111 1111 1111` while leaving an order id
//! or a timestamp of the same length alone.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;

/// A check applied to the bytes of a candidate secret. All validators of a
/// rule must accept a candidate for it to be masked.
///
/// Built-in validators are named in rule files (`validators = ["luhn"]`);
/// others can be registered with
/// [`RedactorBuilder::validator`](crate::RedactorBuilder::validator).
///
/// # Example
///
/// ```
/// use logscrub::Validator;
///
/// let luhn = Validator::builtin("luhn").unwrap();
/// assert!(luhn.check(b"4111 1111 1111 1111"));
/// assert!(!luhn.check(b"4111 1111 1111 1112"));
/// ```
#[derive(Clone)]
pub struct Validator {
    name: Arc<str>,
    check: Check,
}

/// A validator function supplied by the user.
type CheckFn = Arc<dyn Fn(&[u8]) -> bool + Send + Sync>;

#[derive(Clone)]
enum Check {
    Luhn,
    Card,
    Iban,
    Ssn,
    Jwt,
    Phone,
    HasDigit,
    Fn(fn(&[u8]) -> bool),
    Custom(CheckFn),
}

impl Validator {
    /// The names of the built-in validators, as used in rule files.
    pub const BUILTINS: &'static [&'static str] = &[
        "luhn",
        "card",
        "iban",
        "ssn",
        "jwt",
        "phone",
        "has-digit",
        "token-like",
        "ipv6",
        "verhoeff",
        "br-cpf",
        "es-dni",
        "it-codice-fiscale",
        "fr-nir",
        "kz-iin",
        "pl-pesel",
        "nl-bsn",
        "basic-auth",
    ];

    /// Looks up a built-in validator by name.
    ///
    /// | name | accepts |
    /// |---|---|
    /// | `luhn` | digits (separators ignored) whose Luhn checksum holds |
    /// | `card` | a payment card: Luhn, a known brand prefix and length, and consistent grouping |
    /// | `iban` | an IBAN with its country's length and a valid mod-97 check |
    /// | `ssn` | a US SSN outside the ranges never issued |
    /// | `jwt` | a JWT whose header is base64url JSON naming an `alg`, or a header too long for the `jwt` rule that opens a JOSE header |
    /// | `phone` | 8 to 15 digits, not all the same digit |
    /// | `has-digit` | at least one ASCII digit: tokens have them, words do not |
    /// | `token-like` | a digit, or 16 or more bytes of letters in both cases, the case changing as in a random string rather than a CamelCase word |
    /// | `ipv6` | an address `std::net::Ipv6Addr` parses |
    /// | `verhoeff` | the Verhoeff check digit (Indian Aadhaar) |
    /// | `br-cpf` | Brazilian CPF: both mod-11 check digits |
    /// | `es-dni` | Spanish DNI or NIE: the mod-23 check letter |
    /// | `it-codice-fiscale` | Italian codice fiscale: the check character |
    /// | `fr-nir` | French NIR: the 97-complement key (Corsica 2A/2B included) |
    /// | `kz-iin` | Kazakh IIN: the two-pass weighted mod-11 check digit |
    /// | `pl-pesel` | Polish PESEL: the weighted check digit |
    /// | `nl-bsn` | Dutch BSN: the eleven test |
    /// | `basic-auth` | base64 of `user:password` in printable text, as HTTP Basic credentials carry |
    pub fn builtin(name: &str) -> Option<Validator> {
        let check = match name {
            "luhn" => Check::Luhn,
            "card" => Check::Card,
            "iban" => Check::Iban,
            "ssn" => Check::Ssn,
            "jwt" => Check::Jwt,
            "phone" => Check::Phone,
            "has-digit" => Check::HasDigit,
            "token-like" => Check::Fn(token_like),
            "ipv6" => Check::Fn(|s| std::str::from_utf8(s).is_ok_and(|t| t.parse::<std::net::Ipv6Addr>().is_ok())),
            "verhoeff" => Check::Fn(ids::verhoeff),
            "br-cpf" => Check::Fn(ids::br_cpf),
            "es-dni" => Check::Fn(ids::es_dni),
            "it-codice-fiscale" => Check::Fn(ids::it_codice_fiscale),
            "fr-nir" => Check::Fn(ids::fr_nir),
            "kz-iin" => Check::Fn(ids::kz_iin),
            "pl-pesel" => Check::Fn(ids::pl_pesel),
            "nl-bsn" => Check::Fn(ids::nl_bsn),
            "basic-auth" => Check::Fn(basic_auth),
            _ => return None,
        };
        Some(Validator { name: name.into(), check })
    }

    /// Makes a validator from a function. `check` must be pure: the same
    /// bytes always give the same answer.
    ///
    /// # Example
    ///
    /// ```
    /// use logscrub::Validator;
    ///
    /// let even = Validator::custom("even-length", |s| s.len() % 2 == 0);
    /// assert!(even.check(b"ab"));
    /// ```
    pub fn custom<F>(name: &str, check: F) -> Validator
    where
        F: Fn(&[u8]) -> bool + Send + Sync + 'static,
    {
        Validator { name: name.into(), check: Check::Custom(Arc::new(check)) }
    }

    /// The validator's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether `candidate` passes this validator.
    pub fn check(&self, candidate: &[u8]) -> bool {
        match &self.check {
            Check::Luhn => luhn(candidate),
            Check::Card => card(candidate),
            Check::Iban => iban(candidate),
            Check::Ssn => ssn(candidate),
            Check::Jwt => jwt(candidate),
            Check::Phone => phone(candidate),
            Check::HasDigit => candidate.iter().any(u8::is_ascii_digit),
            Check::Fn(f) => f(candidate),
            Check::Custom(f) => f(candidate),
        }
    }
}

impl fmt::Debug for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Validator").field(&self.name).finish()
    }
}

/// The ASCII digits of `s`, as values 0..=9, ignoring everything else.
fn digits(s: &[u8]) -> impl DoubleEndedIterator<Item = u32> + Clone + '_ {
    s.iter().filter(|b| b.is_ascii_digit()).map(|b| u32::from(b - b'0'))
}

/// The Luhn (mod 10) checksum used by card numbers and many national ids.
pub(crate) fn luhn(s: &[u8]) -> bool {
    let (mut sum, mut count) = (0, 0);
    for (i, d) in digits(s).rev().enumerate() {
        sum += if i % 2 == 1 { (d * 2) % 10 + d * 2 / 10 } else { d };
        count += 1;
    }
    count >= 2 && sum % 10 == 0
}

/// A payment card: Luhn, a brand's prefix and length, not a run of one
/// digit, and grouping that a person or a payment system would write.
fn card(s: &[u8]) -> bool {
    let ds: Vec<u8> = s.iter().copied().filter(u8::is_ascii_digit).collect();
    let n = ds.len();
    if !(12..=19).contains(&n) || ds.iter().all(|&d| d == ds[0]) || !luhn(&ds) {
        return false;
    }
    let prefix = |k: usize| -> u32 { ds[..k].iter().fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0')) };
    let brand = match ds[0] {
        b'4' => matches!(n, 13 | 16 | 19), // Visa
        b'5' => {
            (51..=55).contains(&prefix(2)) && n == 16                 // Mastercard
            || matches!(prefix(2), 50 | 56..=59) && (12..=19).contains(&n)
        } // Maestro
        b'2' => (2221..=2720).contains(&prefix(4)) && n == 16, // Mastercard 2-series
        b'3' => {
            matches!(prefix(2), 34 | 37) && n == 15                   // Amex
            || (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&n) // JCB
            || ((300..=305).contains(&prefix(3)) || matches!(prefix(2), 36 | 38 | 39))
                && (14..=19).contains(&n)
        } // Diners
        b'6' => {
            prefix(4) == 6011
            || (644..=649).contains(&prefix(3))
            || prefix(2) == 65
            || prefix(2) == 62 // Discover, UnionPay
            || matches!(prefix(2), 60 | 63 | 67) && (12..=19).contains(&n)
        } // Maestro
        _ => false,
    };
    brand && grouping(s)
}

/// Card grouping: no separators, or one separator character used
/// throughout with groups of 4 (the last may be shorter) or the 4-6-5 and
/// 4-6-4 groupings of Amex and Diners.
fn grouping(s: &[u8]) -> bool {
    let groups: Vec<&[u8]> = s.split(|b| !b.is_ascii_digit()).collect();
    if groups.len() == 1 {
        return true;
    }
    let mut seps = s.iter().filter(|b| !b.is_ascii_digit());
    let first = seps.next().copied();
    if seps.any(|&b| Some(b) != first) {
        return false;
    }
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let fours = lens[..lens.len() - 1].iter().all(|&l| l == 4) && (1..=4).contains(&lens[lens.len() - 1]);
    fours || lens == [4, 6, 5] || lens == [4, 6, 4]
}

/// IBAN length by country (ISO 13616 registry).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NL", 18),
    (b"NO", 15),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"SA", 24),
    (b"SC", 31),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
];

/// An IBAN: the country's registered length and ISO 7064 mod 97-10.
fn iban(s: &[u8]) -> bool {
    let compact: Vec<u8> = s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_uppercase).collect();
    if compact.len() < 15 || !compact[..2].iter().all(u8::is_ascii_uppercase) {
        return false;
    }
    let cc = [compact[0], compact[1]];
    match IBAN_LENGTHS.iter().find(|(c, _)| **c == cc) {
        Some(&(_, len)) if len == compact.len() => {}
        _ => return false,
    }
    let mut rem: u32 = 0;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        let v = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'A'..=b'Z' => u32::from(b - b'A') + 10,
            _ => return false,
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// A US SSN (AAA-GG-SSSS) outside the never-issued ranges and the
/// numbers printed on sample cards.
fn ssn(s: &[u8]) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    if ds.len() != 9 {
        return false;
    }
    let num = |r: std::ops::Range<usize>| ds[r].iter().fold(0, |a, d| a * 10 + d);
    let (area, group, serial) = (num(0..3), num(3..5), num(5..9));
    let sample = (area, group, serial) == (78, 5, 1120) || (area, group, serial) == (123, 45, 6789);
    area != 0 && area != 666 && area < 900 && group != 0 && serial != 0 && !sample
}

/// A JWT: base64url parts whose first decodes to a JSON object that names
/// an `alg`, then a payload. A header alone counts only when it ran to the
/// rule's bound ([`JWT_HEADER_BOUND`]): then it is the start of a token too
/// long to match whole (certificate chains in `x5c`), and it counts when its
/// decodable prefix opens a JSON object with a JOSE header parameter.
fn jwt(s: &[u8]) -> bool {
    let mut parts = s.split(|&b| b == b'.');
    let header = parts.next().unwrap_or_default();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match parts.next() {
        None if header.len() >= JWT_HEADER_BOUND => {
            let whole = &header[..header.len() / 4 * 4];
            engine.decode(whole).is_ok_and(|prefix| jose_header_prefix(&prefix))
        }
        Some(payload) if !payload.is_empty() => {
            let Ok(decoded) = engine.decode(unpadded(header)) else {
                return false;
            };
            match serde_json::from_slice::<serde_json::Value>(&decoded) {
                Ok(serde_json::Value::Object(map)) => map.contains_key("alg"),
                _ => false,
            }
        }
        _ => false,
    }
}

/// `s` without base64 padding, which the engines here do not take.
fn unpadded(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"==").or_else(|| s.strip_suffix(b"=")).unwrap_or(s)
}

/// The length of a JWT header (with its `eyJ`) at the `jwt` rule's bound.
const JWT_HEADER_BOUND: usize = 3 + 2048;

/// Whether `prefix`, the start of a decoded header, opens a JSON object and
/// holds the name of a parameter JOSE registers (RFC 7515 and 7516) as one
/// of its strings.
fn jose_header_prefix(prefix: &[u8]) -> bool {
    const NAMES: [&str; 13] =
        ["alg", "typ", "cty", "kid", "x5c", "x5t", "x5t#S256", "x5u", "jku", "jwk", "crit", "enc", "zip"];
    let text = prefix.trim_ascii_start();
    text.starts_with(b"{") && {
        let mut keys = text.split(|&b| b == b'"').skip(1).step_by(2);
        keys.any(|k| NAMES.iter().any(|n| n.as_bytes() == k))
    }
}

/// HTTP Basic credentials: standard base64 (padded or not) of printable
/// UTF-8 text holding a `:` (the user may be empty: `:token`).
fn basic_auth(s: &[u8]) -> bool {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    engine.decode(unpadded(s)).is_ok_and(|text| {
        // A value cut at its rule's length bound may end inside a character:
        // that character does not make it any less a credential.
        let text = match std::str::from_utf8(&text) {
            Err(e) if e.error_len().is_none() => &text[..e.valid_up_to()],
            _ => &text[..],
        };
        std::str::from_utf8(text).is_ok_and(|t| t.len() >= 2 && t.contains(':') && !t.chars().any(char::is_control))
    })
}

/// A digit, or the letters of a random token. `has-digit` alone turned
/// away about one random base-62 token of 20 bytes in 30 (all letters);
/// words and identifiers have no digit either, but a random string's
/// letters are about half upper case and change case at every other byte,
/// where a CamelCase word (`ConnectionPoolTimeout`) changes once a word.
/// So: 16 or more bytes, four in five of them letters, each case at least
/// a fifth of the letters and a change of case between at least a quarter
/// of neighbouring letters. Random letters of 20 bytes fail that about one
/// time in 90, 32 bytes one in 400.
fn token_like(s: &[u8]) -> bool {
    if s.iter().any(u8::is_ascii_digit) {
        return true;
    }
    let letters = s.iter().filter(|b| b.is_ascii_alphabetic()).count();
    if s.len() < 16 || letters * 5 < s.len() * 4 {
        return false;
    }
    let upper = s.iter().filter(|b| b.is_ascii_uppercase()).count();
    let lower = letters - upper;
    let pairs = s.windows(2).filter(|w| w[0].is_ascii_alphabetic() && w[1].is_ascii_alphabetic());
    let (pairs, changes) = pairs
        .fold((0, 0), |(n, c), w| (n + 1, c + usize::from(w[0].is_ascii_uppercase() != w[1].is_ascii_uppercase())));
    upper * 5 >= letters && lower * 5 >= letters && changes * 4 >= pairs
}

/// A phone number: 8 to 15 digits (E.164 allows at most 15), not all one
/// digit and not an obvious ascending run.
fn phone(s: &[u8]) -> bool {
    let ds: Vec<u32> = digits(s).collect();
    let n = ds.len();
    (8..=15).contains(&n) && !ds.iter().all(|&d| d == ds[0]) && !ds.windows(2).all(|w| w[1] == (w[0] + 1) % 10)
}

/// Check digits of national identity numbers.
mod ids {
    use super::digits;

    fn ds(s: &[u8]) -> Vec<u32> {
        digits(s).collect()
    }

    pub fn verhoeff(s: &[u8]) -> bool {
        const D: [[u8; 10]; 10] = [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
            [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
            [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
            [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
            [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
            [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
            [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
            [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
            [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
        ];
        const P: [[u8; 10]; 8] = [
            [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
            [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
            [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
            [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
            [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
            [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
            [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
            [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
        ];
        let d = ds(s);
        if d.iter().all(|&x| x == d[0]) {
            return false;
        }
        let mut c = 0u8;
        for (i, &x) in d.iter().rev().enumerate() {
            c = D[c as usize][P[i % 8][x as usize] as usize];
        }
        d.len() >= 2 && c == 0
    }

    pub fn br_cpf(s: &[u8]) -> bool {
        let d = ds(s);
        if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
            return false;
        }
        let check = |n: usize| {
            let sum: u32 = d[..n].iter().enumerate().map(|(i, &x)| x * (n as u32 + 1 - i as u32)).sum();
            let r = sum * 10 % 11;
            if r == 10 {
                0
            } else {
                r
            }
        };
        check(9) == d[9] && check(10) == d[10]
    }

    pub fn es_dni(s: &[u8]) -> bool {
        const LETTERS: &[u8] = b"TRWAGMYFPDXBNJZSQVHLCKE";
        let t: Vec<u8> = s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_uppercase).collect();
        let (Some(&letter), Some(&first)) = (t.last(), t.first()) else { return false };
        let lead = match first {
            b'X' => Some(0),
            b'Y' => Some(1),
            b'Z' => Some(2),
            _ => None,
        };
        let body = &t[usize::from(lead.is_some())..t.len() - 1];
        if !body.iter().all(u8::is_ascii_digit) || body.len() != 8 - usize::from(lead.is_some()) {
            return false;
        }
        let n = body.iter().fold(lead.unwrap_or(0), |a, b| a * 10 + u64::from(b - b'0'));
        LETTERS[(n % 23) as usize] == letter
    }

    pub fn it_codice_fiscale(s: &[u8]) -> bool {
        const ODD: [u32; 36] = [
            1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14,
            16, 10, 22, 25, 24, 23,
        ];
        let t: Vec<u8> = s.iter().map(u8::to_ascii_uppercase).collect();
        if t.len() != 16 || !t.iter().all(u8::is_ascii_alphanumeric) {
            return false;
        }
        let idx = |b: u8| if b.is_ascii_digit() { (b - b'0') as usize } else { (b - b'A') as usize + 10 };
        let val = |b: u8| if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') };
        let sum: u32 = t[..15].iter().enumerate().map(|(i, &b)| if i % 2 == 0 { ODD[idx(b)] } else { val(b) }).sum();
        t[15] == b'A' + (sum % 26) as u8
    }

    pub fn fr_nir(s: &[u8]) -> bool {
        let t: Vec<u8> = s.iter().filter(|b| b.is_ascii_alphanumeric()).map(u8::to_ascii_uppercase).collect();
        if t.len() != 15 || !matches!(t[0], b'1' | b'2') {
            return false;
        }
        // Corsica: département 2A counts as 19, 2B as 18, in the key.
        let (body, adjust): (Vec<u8>, u64) = match (t[5], t[6]) {
            (b'2', b'A') => ([&t[..5], b"19", &t[7..13]].concat(), 0),
            (b'2', b'B') => ([&t[..5], b"18", &t[7..13]].concat(), 0),
            _ => (t[..13].to_vec(), 0),
        };
        if !body.iter().chain(&t[13..]).all(u8::is_ascii_digit) {
            return false;
        }
        let n = body.iter().fold(0u64, |a, b| a * 10 + u64::from(b - b'0')) + adjust;
        let key = u64::from(t[13] - b'0') * 10 + u64::from(t[14] - b'0');
        97 - n % 97 == key
    }

    pub fn kz_iin(s: &[u8]) -> bool {
        let d = ds(s);
        if d.len() != 12 || !(1..=6).contains(&d[6]) && d[6] != 0 {
            return false;
        }
        let pass = |w: &[u32]| d[..11].iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11;
        let mut c = pass(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        if c == 10 {
            c = pass(&[3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
        }
        c != 10 && c == d[11]
    }

    pub fn pl_pesel(s: &[u8]) -> bool {
        let d = ds(s);
        if d.len() != 11 {
            return false;
        }
        let w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
        let sum: u32 = d[..10].iter().zip(w).map(|(a, b)| a * b).sum();
        (10 - sum % 10) % 10 == d[10] && (1..=12).contains(&((d[2] * 10 + d[3]) % 20))
    }

    pub fn nl_bsn(s: &[u8]) -> bool {
        let d = ds(s);
        if d.len() != 9 || d[0] == 0 && d[1] == 0 {
            return false;
        }
        let sum: i64 =
            d[..8].iter().enumerate().map(|(i, &x)| i64::from(x) * (9 - i as i64)).sum::<i64>() - i64::from(d[8]);
        sum % 11 == 0
    }
}

/// Shannon entropy of `s` in bits per byte.
///
/// Computed as `log2(n) - sum(c * log2(c)) / n` over the byte counts `c`:
/// a count of one adds nothing and small counts come from a table, so a
/// token costs one `log2` rather than one per distinct byte (that was a
/// quarter of the time of a line holding one token). The result may differ
/// from the textbook sum in its last bits: [`ENTROPY_SLACK`] is for that.
pub(crate) fn entropy(s: &[u8]) -> f64 {
    /// `c * log2(c)` for the counts a secret's bytes mostly have.
    static C_LOG2_C: std::sync::LazyLock<[f64; 64]> =
        std::sync::LazyLock::new(|| std::array::from_fn(|c| if c < 2 { 0.0 } else { c as f64 * (c as f64).log2() }));
    if s.is_empty() {
        return 0.0;
    }
    let mut counts = [0u32; 256];
    for &b in s {
        counts[usize::from(b)] += 1;
    }
    let table = &*C_LOG2_C;
    let mut sum = 0.0;
    // Each distinct byte once: its count is taken (and zeroed) at its first
    // occurrence.
    for &b in s {
        let c = std::mem::take(&mut counts[usize::from(b)]) as usize;
        sum += match table.get(c) {
            Some(v) => *v,
            None => c as f64 * (c as f64).log2(),
        };
    }
    let n = s.len() as f64;
    n.log2() - sum / n
}

/// How far below its rule's floor an entropy may come out and still pass:
/// rounding in [`entropy`] must not let a secret whose entropy is exactly
/// the floor (eight bytes, each as often) through unmasked.
const ENTROPY_SLACK: f64 = 1e-9;

/// Whether `s` has at least `floor` bits of entropy per byte (see
/// [`ENTROPY_SLACK`]).
pub(crate) fn meets_entropy(s: &[u8], floor: f64) -> bool {
    entropy(s) >= floor - ENTROPY_SLACK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_table() {
        for ok in ["4111111111111111", "4111 1111 1111 1111", "79927398713", "378282246310005"] {
            assert!(luhn(ok.as_bytes()), "{ok}");
        }
        for bad in ["4111111111111112", "79927398710", "1"] {
            assert!(!luhn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn card_table() {
        let good = [
            "4111111111111111",
            "4111-1111-1111-1111",
            "4111 1111 1111 1111",
            "4111.1111.1111.1111",
            "5555555555554444",
            "2223003122003222",
            "378282246310005",
            "3782 822463 10005",
            "6011111111111117",
            "3530111333300000",
            "30569309025904",
            "4222222222222",
        ];
        for c in good {
            assert!(card(c.as_bytes()), "{c}");
        }
        let bad = [
            "4111111111111112",    // Luhn fails
            "0000000000000000",    // one digit repeated
            "4111-1111 1111-1111", // mixed separators
            "41 11111111 111111",  // grouping no one writes
            "9111111111111119",    // no brand starts with 9
            "1234567812345670",    // passes Luhn, no brand
        ];
        for c in bad {
            assert!(!card(c.as_bytes()), "{c}");
        }
    }

    #[test]
    fn iban_table() {
        for ok in [
            "GB82WEST12345698765432",
            "DE89 3704 0044 0532 0130 00",
            "NL91ABNA0417164300",
            "fr1420041010050500013m02606",
        ] {
            assert!(iban(ok.as_bytes()), "{ok}");
        }
        for bad in ["GB82WEST12345698765433", "DE89 3704 0044 0532 0130", "XX82WEST12345698765432"] {
            assert!(!iban(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn ssn_table() {
        assert!(ssn(b"536-22-8726"));
        for bad in
            ["000-12-3456", "666-12-3456", "912-12-3456", "536-00-8726", "536-22-0000", "078-05-1120", "123-45-6789"]
        {
            assert!(!ssn(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn jwt_shape() {
        let t = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert!(jwt(t.as_bytes()));
        assert!(!jwt(b"eyJub3QiOiJhIGp3dCJ9.eyJzdWIiOiIxIn0.sig"));
        assert!(!jwt(b"abc.def.ghi"));
        assert!(!jwt(b"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"), "a header alone");
    }

    #[test]
    fn basic_credentials_decode_to_printable_user_and_password() {
        assert!(basic_auth(b"YWRtaW46czNjcjN0UGFzcw=="), "admin:s3cr3tPass");
        assert!(basic_auth(b"dXNlcjpwYXNz"), "user:pass");
        assert!(basic_auth(b"OnRva2VuMTIz"), ":token123");
        assert!(!basic_auth(b"authentication"), "a word that happens to be base64");
        assert!(!basic_auth(b"YWRtaW4="), "no colon");
        assert!(!basic_auth(b"AAECAwQ6"), "control bytes");
        // "jane:" and 100 e-acutes, cut at 128 base64 bytes (a rule's bound)
        // in the middle of one: still a credential.
        use base64::Engine;
        let whole = base64::engine::general_purpose::STANDARD.encode(format!("jane:{}", "\u{e9}".repeat(100)));
        assert!(basic_auth(whole.as_bytes()) && basic_auth(&whole.as_bytes()[..128]));
        assert!(!basic_auth(b"/w=="), "a lone byte that starts no character");
    }

    #[test]
    fn a_header_at_the_bound_counts_when_it_opens_a_jose_header() {
        use base64::Engine;
        let encode = |json: String| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        let chain = "MIIC".repeat(600);
        let x5c = encode(format!(r#"{{"x5c":["{chain}"],"alg":"RS256"}}"#));
        assert!(x5c.len() > JWT_HEADER_BOUND);
        assert!(jwt(&x5c.as_bytes()[..JWT_HEADER_BOUND]));
        // Cut anywhere, not only on a whole base64 quantum.
        assert!(jwt(&x5c.as_bytes()[..JWT_HEADER_BOUND + 1]));
        // A base64url JSON blob that is no JOSE header; a short header.
        let blob = encode(format!(r#"{{"data":["{chain}"]}}"#));
        assert!(!jwt(&blob.as_bytes()[..JWT_HEADER_BOUND]));
        assert!(!jwt(&x5c.as_bytes()[..JWT_HEADER_BOUND - 1]));
    }

    #[test]
    fn national_id_checks() {
        // Valid numbers computed by an independent implementation; the
        // second of each pair has its check digit changed.
        use ids::*;
        type Case = (fn(&[u8]) -> bool, &'static str, &'static str);
        let table: [Case; 8] = [
            (verhoeff, "7260 1815 9082", "7260 1815 9083"),
            (br_cpf, "246.281.948-74", "246.281.948-75"),
            (es_dni, "88592782W", "88592782X"),
            (es_dni, "Y5167906G", "Y5167906H"),
            (it_codice_fiscale, "QPKXOJ78B16Q528B", "QPKXOJ78B16Q528C"),
            (fr_nir, "1 57 08 90 681 067 63", "1 57 08 90 681 067 64"),
            (kz_iin, "507529170345", "507529170346"),
            (pl_pesel, "22040792448", "22040792449"),
        ];
        for (check, good, bad) in table {
            assert!(check(good.as_bytes()), "{good}");
            assert!(!check(bad.as_bytes()), "{bad}");
        }
        assert!(nl_bsn(b"237215901") && !nl_bsn(b"237215902"));
        assert!(!br_cpf(b"111.111.111-11"));
    }

    #[test]
    fn token_like_takes_random_letters_and_leaves_words() {
        for token in [&b"kHqWzTxYvBnMaSdFgHjKpLoIuYtRe"[..], b"QwErTyUiOpAsDfGhJkLz", b"tk_9f8e7d6c", b"a1"] {
            assert!(token_like(token), "{}", String::from_utf8_lossy(token));
        }
        for word in [
            &b"expired"[..],
            b"ConnectionPoolTimeout",
            b"AppWindowTokenManager",
            b"kHqWzTxYvBnMaSd",
            b"kh-qw-zt-xy-vb-nm-as-df",
        ] {
            assert!(!token_like(word), "{}", String::from_utf8_lossy(word));
        }
    }

    #[test]
    fn phone_and_entropy() {
        assert!(phone(b"+1 415 555 2671"));
        assert!(!phone(b"+1 111 111 1111"));
        assert!(!phone(b"12345678"));
        assert!(entropy(b"aaaa") < 0.01);
        assert!((entropy(b"abcd") - 2.0).abs() < 1e-9);
        // The textbook sum, on counts that reach past the table.
        let textbook = |s: &[u8]| {
            let mut counts = [0u32; 256];
            s.iter().for_each(|&b| counts[usize::from(b)] += 1);
            let n = s.len() as f64;
            counts.iter().filter(|&&c| c > 0).map(|&c| -(f64::from(c) / n) * (f64::from(c) / n).log2()).sum::<f64>()
        };
        let long: Vec<u8> = (0..3000u32).map(|i| b"aab0123456789xyz"[(i * 7 % 16) as usize] ^ (i % 3) as u8).collect();
        for s in [&b"x9Kq2LmP0vRt7YwZ"[..], b"aaaaaaaabbbbcc", b"0123456701234567012345670", &long] {
            assert!((entropy(s) - textbook(s)).abs() < ENTROPY_SLACK, "{:?}", String::from_utf8_lossy(s));
        }
        // Exactly at a floor of 3 bits: eight bytes, three times each.
        assert!(meets_entropy(b"abcdefghhgfedcbaabcdefgh", 3.0));
    }
}
