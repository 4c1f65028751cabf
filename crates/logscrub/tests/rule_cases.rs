//! Runs every test case of every embedded rule: positives must give their
//! exact expected output (and stay put when masked again), negatives must
//! come back unchanged.

use logscrub::Redactor;

fn all() -> Redactor {
    Redactor::builder().packs(["all"]).build().unwrap_or_else(|e| panic!("embedded packs refused: {e}"))
}

#[test]
fn every_rule_passes_its_own_cases() {
    let failures = all().test_rules(None);
    for f in &failures {
        eprintln!(
            "{} {} ({:?})\n   input:    {}\n   expected: {}\n   actual:   {}",
            f.location, f.rule, f.kind, f.input, f.expected, f.actual
        );
    }
    assert!(failures.is_empty(), "{} rule test cases failed", failures.len());
}

#[test]
fn every_default_rule_has_three_cases_each_way() {
    for rule in all().rules() {
        assert!(rule.positive().len() >= 3, "{}: {} positive cases", rule.location(), rule.positive().len());
        assert!(rule.negative().len() >= 3, "{}: {} negative cases", rule.location(), rule.negative().len());
    }
}

#[test]
fn positives_are_realistic_lines_not_bare_values() {
    for rule in all().rules() {
        for ex in rule.positive() {
            let bare = ex.input.len() < 24 || ex.output.starts_with('[') || ex.output.starts_with('*');
            assert!(!bare, "{}: {:?} is a bare value, not a log line", rule.location(), ex.input);
        }
    }
}
