//! The manifest's checksums: SHA-256 by default, the digest every auditor
//! can check with `sha256sum`; BLAKE3 on request, about four times faster
//! (it hashes many 1 KiB chunks of a buffer at once with SIMD), for
//! archives where hashing every input and output byte would cost more than
//! scrubbing them.

use serde::{Deserialize, Serialize};
use sha2::Digest;

/// A checksum algorithm for the manifest and the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Checksum {
    /// SHA-256 (`sha256sum`).
    #[default]
    Sha256,
    /// BLAKE3 (`b3sum`).
    Blake3,
}

/// A running checksum.
#[derive(Clone)]
pub enum Hasher {
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    pub fn new(kind: Checksum) -> Hasher {
        match kind {
            Checksum::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Checksum::Blake3 => Hasher::Blake3(Box::default()),
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Blake3(h) => {
                h.update(bytes);
            }
        }
    }

    /// The digest, in lowercase hex as `sha256sum` and `b3sum` print it.
    pub fn hex(self) -> String {
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect();
        match self {
            Hasher::Sha256(h) => hex(&h.finalize()),
            Hasher::Blake3(h) => hex(h.finalize().as_bytes()),
        }
    }
}

/// Bytes written are hashed, for `io::copy`.
impl std::io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A file's checksum, with the field named after its algorithm, so that a
/// manifest line says how to check it (`"output_sha256": ...`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
pub enum Sums {
    Sha256 { input_sha256: String, output_sha256: String },
    Blake3 { input_blake3: String, output_blake3: String },
}

impl Sums {
    pub fn new(kind: Checksum, input: String, output: String) -> Sums {
        match kind {
            Checksum::Sha256 => Sums::Sha256 { input_sha256: input, output_sha256: output },
            Checksum::Blake3 => Sums::Blake3 { input_blake3: input, output_blake3: output },
        }
    }

    /// The output's checksum and its algorithm.
    pub fn output(&self) -> (Checksum, &str) {
        match self {
            Sums::Sha256 { output_sha256, .. } => (Checksum::Sha256, output_sha256),
            Sums::Blake3 { output_blake3, .. } => (Checksum::Blake3, output_blake3),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_match_the_command_line_tools() {
        // `printf abc | sha256sum` and `printf abc | b3sum`.
        let sum = |kind| {
            let mut h = Hasher::new(kind);
            h.update(b"a");
            h.update(b"bc");
            h.hex()
        };
        assert_eq!(sum(Checksum::Sha256), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(sum(Checksum::Blake3), "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85");
    }

    #[test]
    fn manifest_fields_are_named_after_the_algorithm() {
        let line = serde_json::to_string(&Sums::new(Checksum::Blake3, "a".into(), "b".into())).unwrap();
        assert_eq!(line, r#"{"input_blake3":"a","output_blake3":"b"}"#);
        let back: Sums = serde_json::from_str(r#"{"input_sha256":"a","output_sha256":"b"}"#).unwrap();
        assert_eq!(back.output(), (Checksum::Sha256, "b"));
    }
}
