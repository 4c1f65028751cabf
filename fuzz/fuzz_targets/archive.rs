//! Arbitrary bytes as a tar archive, rewritten as `scrub` rewrites one
//! (`archive::rewrite`): a clean error or an archive; never a panic.
//!
//! Where the rewrite succeeds with each member's bytes copied, it is the
//! input itself but for padding written as zeros (and unless a PAX header
//! holds a `comment`, which is left out), and rewriting it again changes
//! nothing. Where it succeeds with
//! each member changed (upper case, a line added), tar-rs reads the
//! rewrite as it reads the input, every regular member changed so.
#![no_main]

use std::io::{Read, Write};

use libfuzzer_sys::fuzz_target;
use logscrub_cli::archive::{self, Member, Spool};

/// A member's bytes, past which the input is not taken further.
const CAP: u64 = 1 << 20;

fn copy(_: &Member, content: &mut dyn Read, mut spool: Spool) -> anyhow::Result<(Spool, ())> {
    std::io::copy(&mut content.take(CAP), &mut spool)?;
    anyhow::ensure!(std::io::copy(content, &mut std::io::sink())? == 0, "over the cap");
    Ok((spool, ()))
}

fn changed(bytes: &[u8]) -> Vec<u8> {
    [&bytes.to_ascii_uppercase()[..], b"one more line\n"].concat()
}

fn change(m: &Member, content: &mut dyn Read, spool: Spool) -> anyhow::Result<(Spool, ())> {
    let (mut bytes, ()) = copy(m, content, Spool::new(usize::MAX))?;
    let mut all = Vec::new();
    std::io::Seek::rewind(&mut bytes)?;
    bytes.read_to_end(&mut all)?;
    let mut spool = spool;
    spool.write_all(&changed(&all))?;
    Ok((spool, ()))
}

fn rewrite(input: &[u8], f: fn(&Member, &mut dyn Read, Spool) -> anyhow::Result<(Spool, ())>) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    archive::rewrite(input, &mut out, &std::env::temp_dir(), f, |_, ()| {}).ok()?;
    Some(out)
}

/// The regular members tar-rs reads: path and bytes.
fn regular(archive: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut a = tar::Archive::new(archive);
    let mut out = Vec::new();
    for e in a.entries().ok()? {
        let mut e = e.ok()?;
        if !matches!(e.header().entry_type(), tar::EntryType::Regular | tar::EntryType::Continuous) {
            continue;
        }
        let mut data = Vec::new();
        (&mut e).take(CAP + 1).read_to_end(&mut data).ok()?;
        out.push((e.path_bytes().into_owned(), data));
    }
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let _ = archive::is_tar(data);
    if let Some(copied) = rewrite(data, copy) {
        if !data.windows(8).any(|w| w == b"comment=") {
            assert_eq!(copied.len(), data.len(), "a rewrite of unchanged members is as long as the archive");
            let zeroed = copied.iter().zip(data).all(|(&c, &d)| c == d || c == 0);
            assert!(zeroed, "a rewrite of unchanged members is the archive itself, but for zeroed padding");
        }
        assert!(rewrite(&copied, copy).is_some_and(|again| again == copied), "rewriting twice changes nothing");
    }
    if let (Some(out), Some(members)) = (rewrite(data, change), regular(data)) {
        let want: Vec<(Vec<u8>, Vec<u8>)> = members.into_iter().map(|(p, d)| (p, changed(&d))).collect();
        assert_eq!(regular(&out), Some(want), "each member changed, as tar-rs reads it");
    }
});
