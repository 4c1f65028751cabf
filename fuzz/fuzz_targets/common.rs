//! Helpers shared by the fuzz targets.

use logscrub::Redactor;

/// Whether a line of `input` opens a multi-line block (a key) that the
/// lines after it are masked in: then masking line by line differs.
pub fn opens_a_block(r: &Redactor, input: &[u8]) -> bool {
    input.split(|&b| b == b'\n').any(|line| {
        let mut stream = r.stream(std::io::sink());
        std::io::Write::write_all(&mut stream, line)
            .and_then(|()| std::io::Write::write_all(&mut stream, b"\n"))
            .is_ok()
            && !stream.at_rest()
    })
}
