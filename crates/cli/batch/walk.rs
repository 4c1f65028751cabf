//! The file list of `scrub` and `check`: files and directories walked
//! recursively, include/exclude globs, and a stable shard of the list.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use globset::{Glob, GlobSet, GlobSetBuilder};
use sha2::{Digest, Sha256};

/// Which files to take.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Select {
    /// Only files whose path (relative to the PATH given) matches GLOB.
    /// Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,

    /// Skip files whose relative path matches GLOB. Repeatable.
    #[arg(long, value_name = "GLOB")]
    pub exclude: Vec<String>,

    /// Take only shard I of N (0-based): a split by a hash of each file's
    /// relative path, the same on every machine, so N machines (a
    /// Kubernetes Indexed Job) share an archive with no coordination.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// Shard I of N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (i, n) = s.split_once('/').ok_or_else(|| format!("--shard {s:?}: expected I/N, such as 0/4"))?;
        let index: u64 = i.trim().parse().map_err(|_| format!("--shard {s:?}: I is not a number"))?;
        let count: u64 = n.trim().parse().map_err(|_| format!("--shard {s:?}: N is not a number"))?;
        if count == 0 || index >= count {
            return Err(format!("--shard {s:?}: need 0 <= I < N"));
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    /// Whether a relative path falls in this shard.
    pub fn holds(&self, rel: &Path) -> bool {
        let digest = Sha256::digest(rel.as_os_str().as_encoded_bytes());
        let n = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 32 bytes"));
        n % self.count == self.index
    }
}

/// A file to process: where it is, and its path relative to the PATH it
/// was found under (used for globs, shards and `--out`).
#[derive(Clone, Debug)]
pub struct Item {
    pub path: PathBuf,
    pub rel: PathBuf,
    /// It is a symbolic link: replacing it in place would replace the link,
    /// not its target. (A file in a linked directory is not: it is renamed
    /// over in its own directory.)
    pub link: bool,
    /// Why it cannot be read, when the walk already knows (a dangling
    /// link): the file fails with this, the rest go on.
    pub problem: Option<String>,
}

fn globs(patterns: &[String], flag: &str) -> anyhow::Result<Option<GlobSet>> {
    if patterns.is_empty() {
        return Ok(None);
    }
    let mut b = GlobSetBuilder::new();
    for p in patterns {
        b.add(Glob::new(p).with_context(|| format!("{flag} {p:?}: not a valid glob"))?);
    }
    Ok(Some(b.build()?))
}

/// The files under `paths`, sorted, filtered and sharded. `skip` names
/// files never to take and directories never to walk (the manifest, the
/// report and the output tree being written). A path
/// that is not a directory is taken as it is, a pipe too, and `-` names
/// standard input; inside a directory only regular files are taken.
pub fn files(paths: &[PathBuf], select: &Select, skip: &[PathBuf]) -> anyhow::Result<Vec<Item>> {
    let include = globs(&select.include, "--include")?;
    let exclude = globs(&select.exclude, "--exclude")?;
    let skip: Vec<PathBuf> = skip.iter().filter_map(|p| std::fs::canonicalize(p).ok()).collect();
    let mut items = Vec::new();
    for root in paths {
        if root.as_os_str() == "-" {
            // Standard input, under the name `-` (which the globs see).
            items.push(Item { path: root.clone(), rel: root.clone(), link: false, problem: None });
            continue;
        }
        let meta = std::fs::metadata(root).with_context(|| format!("cannot read {}", root.display()))?;
        if !meta.is_dir() {
            // A file, or a pipe or device named on the command line
            // (`/dev/stdin`, `<(zcat ...)`): taken, never skipped unread.
            let rel = PathBuf::from(root.file_name().unwrap_or(root.as_os_str()));
            let link = std::fs::symlink_metadata(root).is_ok_and(|m| m.file_type().is_symlink());
            items.push(Item { path: root.clone(), rel, link, problem: None });
            continue;
        }
        // Links are followed: a file reached through one is read, never
        // skipped (a gate that skipped them would call a linked log clean).
        let walk = walkdir::WalkDir::new(root).follow_links(true).sort_by_file_name().into_iter();
        // A directory to skip (the output tree inside the input) is not
        // walked at all.
        let skipped = |e: &walkdir::DirEntry| {
            e.depth() > 0 && e.file_type().is_dir() && std::fs::canonicalize(e.path()).is_ok_and(|c| skip.contains(&c))
        };
        for entry in walk.filter_entry(|e| !skipped(e)) {
            let (path, problem, link) = match entry {
                Ok(e) if !e.file_type().is_file() => continue,
                Ok(e) => (e.path().to_path_buf(), None, e.path_is_symlink()),
                // A link back to a directory being walked: all it leads to
                // is walked already.
                Err(e) if e.loop_ancestor().is_some() => continue,
                // A dangling link: that path fails, the rest go on.
                Err(e) if e.depth() > 0 && e.path().is_some() => {
                    let problem = match e.io_error() {
                        Some(io) => format!("cannot follow the symbolic link: {io}"),
                        None => e.to_string(),
                    };
                    (e.path().expect("checked").to_path_buf(), Some(problem), true)
                }
                Err(e) => return Err(e).with_context(|| format!("cannot walk {}", root.display())),
            };
            let rel = path.strip_prefix(root).unwrap_or(&path).to_path_buf();
            if rel.file_name().is_some_and(|n| n.as_encoded_bytes().ends_with(b".logscrub-tmp")) {
                continue;
            }
            items.push(Item { path, rel, link, problem });
        }
    }
    items.retain(|it| {
        include.as_ref().is_none_or(|g| g.is_match(&it.rel)) && !exclude.as_ref().is_some_and(|g| g.is_match(&it.rel))
    });
    once_each(&mut items, &skip);
    items.retain(|it| select.shard.is_none_or(|s| s.holds(&it.rel)));
    let mut seen = HashSet::new();
    for it in &items {
        if !seen.insert(&it.rel) {
            bail!("two inputs map to the same relative path {}; scrub them in separate runs", it.rel.display());
        }
    }
    Ok(items)
}

/// Drops the files this run writes (`skip`), and keeps one path to each
/// file that links make reachable by several: its first path that is not
/// itself a link, else its first path. Done in place, two paths to one file
/// would race to replace it; in a report it would be listed twice. Before
/// sharding, so every machine keeps the same. Each path is resolved once.
fn once_each(items: &mut Vec<Item>, skip: &[PathBuf]) {
    let real: Vec<Option<PathBuf>> = items.iter().map(|it| std::fs::canonicalize(&it.path).ok()).collect();
    let targets: HashSet<&PathBuf> =
        items.iter().zip(&real).filter(|(it, _)| !it.link).filter_map(|(_, r)| r.as_ref()).collect();
    let mut seen = HashSet::new();
    let keep: Vec<bool> = items
        .iter()
        .zip(&real)
        .map(|(it, r)| match r {
            None => true,
            Some(c) if skip.contains(c) => false,
            Some(c) if it.link && targets.contains(c) => false,
            Some(c) => seen.insert(c),
        })
        .collect();
    let mut keep = keep.into_iter();
    items.retain(|_| keep.next().expect("one verdict an item"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_every_path_exactly_once() {
        let paths: Vec<PathBuf> = (0..1000).map(|i| PathBuf::from(format!("app/{i}.log.gz"))).collect();
        let n = 7;
        let mut hits = vec![0; paths.len()];
        for index in 0..n {
            let s = Shard { index, count: n };
            for (k, p) in paths.iter().enumerate() {
                hits[k] += usize::from(s.holds(p));
            }
        }
        assert!(hits.iter().all(|&h| h == 1));
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        assert!("4/4".parse::<Shard>().is_err());
    }
}
