//! Arbitrary text as a rule file: loading either succeeds or returns an
//! error that names its origin; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Redactor::builder().builtin_packs(false).rules_toml("fuzz.toml", text).build() {
        Ok(r) => {
            let _ = r.test_rules(None);
        }
        Err(e) => assert!(e.to_string().starts_with("fuzz.toml") || e.origin().is_none()),
    }
});
