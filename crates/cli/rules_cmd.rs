//! `logscrub rules list` and `logscrub rules test`.

use std::io::{self, Write};
use std::process::ExitCode;

use logscrub::{Redactor, TestFailureKind};

use crate::args::{Args, ListArgs, TestArgs};

pub fn list(args: &Args, list: &ListArgs) -> anyhow::Result<ExitCode> {
    let mut engine = args.engine.clone();
    if engine.packs.is_empty() {
        // List every pack, marking which run by default.
        engine.packs = vec!["default".into()];
    }
    let redactor = engine.redactor()?;
    let mut out = io::stdout().lock();
    if list.markdown {
        markdown(&redactor, &mut out)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(out, "{:<28} {:<20} {:<12} {:<4} {:<16} DESCRIPTION", "ID", "PACK", "CATEGORY", "ON", "MASK")?;
    for r in redactor.rules() {
        let on = if redactor.is_enabled(r.id()) { "yes" } else { "no" };
        writeln!(
            out,
            "{:<28} {:<20} {:<12} {:<4} {:<16} {}",
            r.id(),
            r.pack(),
            r.category(),
            on,
            mask_text(&r.mask().to_string(), r.is_generic()),
            r.description()
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A rule's mask, marked when the rule is generic: it takes any value after
/// its key, and a rule that knows the value labels a span both find.
fn mask_text(mask: &str, generic: bool) -> String {
    if generic {
        format!("{mask} (generic)")
    } else {
        mask.to_string()
    }
}

/// The reference table of patterns/README.md.
fn markdown(redactor: &Redactor, out: &mut impl Write) -> io::Result<()> {
    for pack in redactor.packs() {
        let default = if pack.is_default() { "on by default" } else { "opt-in" };
        writeln!(out, "## {} ({default})\n\n{}\n", pack.name(), pack.description())?;
        writeln!(out, "| id | catches | mask | example |")?;
        writeln!(out, "|---|---|---|---|")?;
        for r in redactor.rules().filter(|r| r.pack() == pack.name()) {
            let ex = r.positive().first().map(|e| e.output.replace('\n', "\\n")).unwrap_or_default();
            let ex = ex.replace('|', "\\|").replace('`', "'");
            writeln!(
                out,
                "| `{}` | {} | {} | `{}` |",
                r.id(),
                r.description().replace('|', "\\|"),
                mask_text(&format!("`{}`", r.default_mask()), r.is_generic()),
                ex
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}

pub fn test(args: &Args, test: &TestArgs) -> anyhow::Result<ExitCode> {
    let mut engine = args.engine.clone();
    engine.rule_files.extend(test.files.iter().cloned());
    if !test.files.is_empty() {
        engine.no_builtin = true;
    }
    engine.packs = vec!["all".into()];
    let redactor = engine.redactor()?;
    let failures = redactor.test_rules(None);
    let mut out = io::stdout().lock();
    for f in &failures {
        let what = match f.kind {
            TestFailureKind::Positive => "positive case not masked as expected",
            TestFailureKind::Negative => "negative case was changed",
            TestFailureKind::NotIdempotent => "masking the expected output again changed it",
            _ => "failed",
        };
        writeln!(out, "FAIL {} ({}): {what}", f.rule, f.location)?;
        writeln!(out, "  input:    {}", f.input)?;
        writeln!(out, "  expected: {}", f.expected)?;
        writeln!(out, "  actual:   {}", f.actual)?;
    }
    let rules = redactor.rules().count();
    let cases: usize = redactor.rules().map(|r| r.positive().len() + r.negative().len()).sum();
    writeln!(out, "{} rules, {} cases: {} passed, {} failed", rules, cases, cases - failures.len(), failures.len())?;
    Ok(if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
