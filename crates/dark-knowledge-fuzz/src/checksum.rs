//! CRC-32 (the IEEE polynomial of zlib, gzip and `crc32fast`) and a minimal gzip writer,
//! for the fix-ups and seeds of the targets.

/// The lookup table of the reflected IEEE polynomial `0xEDB88320`.
const TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// CRC-32 of `bytes`, as `crc32fast::hash` computes it.
pub fn crc32(bytes: &[u8]) -> u32 {
    !bytes.iter().fold(!0u32, |c, &b| {
        TABLE[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Writes the CRC-32 of `input[range]` little-endian at `at`, when both fit.
pub fn put_crc(input: &mut [u8], range: std::ops::Range<usize>, at: usize) {
    if range.start > range.end || range.end > input.len() || at + 4 > input.len() {
        return;
    }
    let crc = crc32(&input[range]);
    input[at..at + 4].copy_from_slice(&crc.to_le_bytes());
}

/// A gzip member holding `data` in stored (uncompressed) deflate blocks, with the
/// optional file name field set when `name` is given.
pub fn gzip_stored(data: &[u8], name: Option<&str>) -> Vec<u8> {
    let flags = if name.is_some() { 0x08 } else { 0 };
    let mut out = vec![0x1f, 0x8b, 8, flags, 0, 0, 0, 0, 0, 0xff];
    if let Some(name) = name {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
    }
    let mut blocks = data.chunks(u16::MAX as usize).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(block) = blocks.next() {
        out.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }
}
