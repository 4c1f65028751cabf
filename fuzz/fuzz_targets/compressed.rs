//! Arbitrary bytes as a compressed archive (gzip, zstd, bzip2 or xz), read
//! through the batch scrubber's decoder and formats: a clean error or a
//! scrubbed output; never a panic. The decoded size is capped, as a
//! decompression bomb must cost time, not memory.
//!
//! Where the archive decodes whole, its copy as `scrub` writes it (see
//! `codec::Later`: compressed only from where the content first differs)
//! decodes to what was written, both for the content as it was and with a
//! byte changed; and the copy is the archive itself only when the content
//! came out unchanged, and the archive holds nothing but content: by
//! flate2's and libzstd's own walks, no gzip member's header with a comment
//! or an extra field, no zstd frame but frames of content.
#![no_main]

use std::io::{Read, Write};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;
use logscrub_cli::codec::{Codec, GzipHeader, Later, Seen};
use logscrub_cli::format::{scrub_reader, Format};

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap())
}

/// Decoded size past which an archive is not decoded further.
const CAP: u64 = 1 << 20;

/// A small decoder memory limit, so that frames asking for more take the
/// limit's error path.
const MEMORY: u64 = 16 << 20;

fn decode(codec: Codec, archive: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    codec.reader(archive, MEMORY).ok()?.take(CAP + 1).read_to_end(&mut out).ok()?;
    (out.len() as u64 <= CAP).then_some(out)
}

/// The copy of `archive` (a file at `path`) whose content is `content`,
/// each write after the archive's reader has yielded as many bytes, as a
/// scrub's does.
fn copy(codec: Codec, path: &std::path::Path, archive: &[u8], content: &[u8]) -> Vec<u8> {
    let header = GzipHeader::of(&archive[..archive.len().min(64 * 1024)]);
    let (file, seen) = (std::fs::File::open(path).unwrap(), Seen::default());
    let mut enc = Later::encoder(codec, Vec::new(), Some(1), header.as_ref(), file, MEMORY, &seen).unwrap();
    let mut reader = codec.reader_seen(archive, MEMORY, &seen).unwrap();
    for piece in content.chunks(4093) {
        (&mut reader).take(piece.len() as u64).read_to_end(&mut Vec::new()).unwrap();
        enc.write_all(piece).unwrap();
    }
    // The content decoded whole before (`decode`), within the cap.
    std::io::copy(&mut reader, &mut std::io::sink()).unwrap();
    enc.finish().unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, archive)) = data.split_first() else { return };
    let codec = [Codec::Gzip, Codec::Zstd, Codec::Bzip2, Codec::Xz][usize::from(pick % 4)];
    let format = [Format::Raw, Format::Json, Format::Cri, Format::Docker, Format::Auto][usize::from(pick / 4 % 5)];
    let Ok(reader) = codec.reader(archive, MEMORY) else { return };
    let mut decoded = reader.take(CAP);
    let mut out = Vec::new();
    if let Ok(stats) = scrub_reader(redactor(), format, &mut decoded, &mut out) {
        assert_eq!(stats.internal_errors(), 0);
    }
    let Some(content) = decode(codec, archive) else { return };
    static PATH: OnceLock<std::path::PathBuf> = OnceLock::new();
    let path = PATH.get_or_init(|| std::env::temp_dir().join(format!("logscrub-fuzz-{}", std::process::id())));
    std::fs::write(path, archive).unwrap();
    let same = copy(codec, path, archive, &content);
    assert_eq!(decode(codec, &same).as_deref(), Some(&content[..]), "the copy of unchanged content");
    if same == archive {
        assert!(nothing_but_content(codec, archive), "an archive with more than content was copied");
    }
    let mut changed = content.clone();
    match changed.get_mut(content.len() / 2) {
        Some(b) => *b ^= 1,
        None => changed.push(b'x'),
    }
    let other = copy(codec, path, archive, &changed);
    assert_eq!(decode(codec, &other).as_deref(), Some(&changed[..]), "the copy of changed content");
    assert!(other != archive, "a copy of other content is the archive");
});

/// Whether `archive` holds nothing but content, walked with the codecs' own
/// libraries rather than the walks under test.
fn nothing_but_content(codec: Codec, archive: &[u8]) -> bool {
    let mut rest = archive;
    match codec {
        Codec::Gzip => {
            while rest.first().is_some_and(|&b| b != 0) {
                let mut member = flate2::bufread::GzDecoder::new(rest);
                if member.read_to_end(&mut Vec::new()).is_err() {
                    return false;
                }
                if member.header().is_none_or(|h| h.comment().is_some() || h.extra().is_some()) {
                    return false;
                }
                rest = member.into_inner();
            }
            rest.iter().all(|&b| b == 0)
        }
        Codec::Zstd => {
            while !rest.is_empty() {
                if !rest.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
                    return false;
                }
                match zstd::zstd_safe::find_frame_compressed_size(rest) {
                    Ok(n) if n > 0 && n <= rest.len() => rest = &rest[n..],
                    _ => return false,
                }
            }
            true
        }
        _ => true,
    }
}
