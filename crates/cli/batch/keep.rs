//! What a scrubbed copy keeps of its original: mode and modification time
//! always; with `--in-place`, where the copy replaces the original, also
//! owner, group and extended attributes (POSIX ACLs, SELinux labels,
//! `user.*`), so that nothing but the masked bytes changes.

use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;

use anyhow::Context;
use xattr::FileExt;

/// An original file's metadata, read before it is scrubbed.
pub(crate) struct Kept {
    meta: Metadata,
    in_place: bool,
    /// Extended attributes by name; empty unless in place.
    xattrs: Vec<(OsString, Vec<u8>)>,
}

impl Kept {
    /// Reads what the copy of `file` must keep.
    pub(crate) fn of(file: &File, in_place: bool) -> anyhow::Result<Kept> {
        let meta = file.metadata().context("cannot read the file's metadata")?;
        let xattrs =
            if in_place { xattrs(file).context("cannot read the file's extended attributes")? } else { vec![] };
        Ok(Kept { meta, in_place, xattrs })
    }

    /// The original's metadata.
    pub(crate) fn meta(&self) -> &Metadata {
        &self.meta
    }

    /// Fails unless the file at `path` is still the original as it was
    /// read: the same file, size and modification time. A log written to
    /// while it was scrubbed (a live file) would lose what was appended
    /// under a rename, and its copy would miss it; one rotated meanwhile
    /// is no longer at `path`. (A write between this and the rename is not
    /// seen: scrub a log once it is rotated.)
    pub(crate) fn unchanged(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let (was, now) = (&self.meta, std::fs::metadata(path).context("cannot read the file's metadata again")?);
        let same = |m: &Metadata| (m.dev(), m.ino(), m.len(), m.mtime(), m.mtime_nsec());
        if same(was) != same(&now) {
            anyhow::bail!(
                "changed while it was scrubbed (is it still being written to?); the original is untouched and \
                 nothing was written: scrub it once it is rotated"
            );
        }
        Ok(())
    }

    /// Gives `copy` the original's metadata. In place, an attribute that
    /// cannot be kept fails the file (its original stays untouched) rather
    /// than quietly widen or drop an ACL or a label.
    pub(crate) fn give(&self, copy: &File) -> anyhow::Result<()> {
        let meta = &self.meta;
        if self.in_place {
            let made = copy.metadata()?;
            if (meta.uid(), meta.gid()) != (made.uid(), made.gid()) {
                // A run as root would otherwise hand every log to root.
                // Before the mode: a chown clears setuid.
                std::os::unix::fs::fchown(copy, Some(meta.uid()), Some(meta.gid())).context(
                    "cannot keep the file's owner and group (in place, run as a user who may); \
                     the original is untouched",
                )?;
            }
        }
        copy.set_permissions(meta.permissions())?;
        if self.in_place {
            self.give_xattrs(copy)?;
        }
        if let Ok(m) = meta.modified() {
            copy.set_modified(m)?;
        }
        Ok(())
    }

    /// Makes the copy's extended attributes the original's: after the mode,
    /// since an access ACL sets the group bits; only where they differ, so
    /// that a label the copy was already given needs no privilege.
    fn give_xattrs(&self, copy: &File) -> anyhow::Result<()> {
        let fail = |what: &str, name: &OsString| {
            format!("cannot {what} the extended attribute {name:?} (in place); the original is untouched")
        };
        // Attributes the copy has and the original has not: an ACL from the
        // directory's default ACL, given when the copy was created. Labels
        // (`security.*`, `trusted.*`) are the kernel's and its security
        // module's to give, and stay.
        for (name, _) in xattrs(copy).context("cannot read the copy's extended attributes")? {
            let ours = name.as_encoded_bytes().starts_with(b"user.")
                || name.as_encoded_bytes().starts_with(b"system.posix_acl_");
            if ours && !self.xattrs.iter().any(|(n, _)| *n == name) {
                copy.remove_xattr(&name).with_context(|| fail("remove", &name))?;
            }
        }
        for (name, value) in &self.xattrs {
            if copy.get_xattr(name).ok().flatten().as_ref() != Some(value) {
                copy.set_xattr(name, value).with_context(|| fail("keep", name))?;
            }
        }
        Ok(())
    }
}

/// A file's extended attributes; none where the file system has none.
fn xattrs(file: &File) -> std::io::Result<Vec<(OsString, Vec<u8>)>> {
    let names = match file.list_xattr() {
        Ok(names) => names,
        Err(e) if e.raw_os_error() == Some(libc::ENOTSUP) => return Ok(vec![]),
        Err(e) => return Err(e),
    };
    let mut all = Vec::new();
    for name in names {
        // An attribute removed since the listing is not there to keep.
        if let Some(value) = file.get_xattr(&name)? {
            all.push((name, value));
        }
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether this file system takes `user.*` attributes (tmpfs before
    /// Linux 6.6 does not).
    fn supported(f: &File) -> bool {
        f.set_xattr("user.logscrub.probe", b"1").is_ok()
    }

    #[test]
    fn the_copy_gets_the_originals_attributes_and_loses_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let original = File::create(dir.path().join("a")).unwrap();
        let copy = File::create(dir.path().join("b")).unwrap();
        if !supported(&original) {
            eprintln!("skipped: no user extended attributes here");
            return;
        }
        original.set_xattr("user.origin", b"pipeline-7").unwrap();
        copy.set_xattr("user.stray", b"x").unwrap();
        Kept::of(&original, true).unwrap().give(&copy).unwrap();
        let mut got = xattrs(&copy).unwrap();
        got.sort();
        let want: Vec<(OsString, Vec<u8>)> =
            vec![("user.logscrub.probe".into(), b"1".to_vec()), ("user.origin".into(), b"pipeline-7".to_vec())];
        assert_eq!(got, want);
        // Not in place (`--out`), the copy's attributes are its own.
        Kept::of(&original, false).unwrap().give(&copy).unwrap();
        copy.set_xattr("user.stray", b"x").unwrap();
        Kept::of(&original, false).unwrap().give(&copy).unwrap();
        assert_eq!(copy.get_xattr("user.stray").unwrap(), Some(b"x".to_vec()));
    }
}
