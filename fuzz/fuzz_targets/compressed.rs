//! Arbitrary bytes as a compressed archive (gzip, zstd, bzip2 or xz), read
//! through the batch scrubber's decoder and formats: a clean error or a
//! scrubbed output; never a panic. The decoded size is capped, as a
//! decompression bomb must cost time, not memory.
#![no_main]

use std::io::Read;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use logscrub::Redactor;
use logscrub_cli::codec::Codec;
use logscrub_cli::format::{scrub_reader, Format};

fn redactor() -> &'static Redactor {
    static R: OnceLock<Redactor> = OnceLock::new();
    R.get_or_init(|| Redactor::builder().packs(["all"]).build().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, archive)) = data.split_first() else { return };
    let codec = [Codec::Gzip, Codec::Zstd, Codec::Bzip2, Codec::Xz][usize::from(pick % 4)];
    let format = [Format::Raw, Format::Json, Format::Cri, Format::Docker, Format::Auto][usize::from(pick / 4 % 5)];
    // A small decoder memory limit, so that frames asking for more take
    // the limit's error path.
    let Ok(reader) = codec.reader(archive, 16 << 20) else { return };
    let mut decoded = reader.take(1 << 20);
    let mut out = Vec::new();
    if let Ok(stats) = scrub_reader(redactor(), format, &mut decoded, &mut out) {
        assert_eq!(stats.internal_errors(), 0);
    }
});
