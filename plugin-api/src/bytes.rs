//! Byte-string comparison, eight bytes at a time: the body of the guest's
//! `memcmp` (see `guest_runtime`), kept here so it is tested natively too.
//!
//! It must not use slice equality or ordering on `[u8]`: in a guest those
//! call `memcmp`, which is this function.

/// Like C's `memcmp` over two equally long slices: negative, 0 or positive.
pub fn compare(a: &[u8], b: &[u8]) -> i32 {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = u64::from_be_bytes(word(a, i));
        let y = u64::from_be_bytes(word(b, i));
        if x != y {
            // Big-endian words compare like the bytes they hold.
            return if x < y { -1 } else { 1 };
        }
        i += 8;
    }
    while i < n {
        if a[i] != b[i] {
            return i32::from(a[i]) - i32::from(b[i]);
        }
        i += 1;
    }
    0
}

fn word(s: &[u8], at: usize) -> [u8; 8] {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    w
}

#[cfg(test)]
mod tests {
    use super::compare;

    #[test]
    fn agrees_with_slice_ordering() {
        let samples: [&[u8]; 9] = [
            b"",
            b"a",
            b"abcdefgh",
            b"abcdefgi",
            b"abcdefghijklmnopq",
            b"abcdefghijklmnopr",
            b"abcdefgh\xffjklmnop",
            b"\x00\x00\x00\x00\x00\x00\x00\x01z",
            b"\x01\x00\x00\x00\x00\x00\x00\x00z",
        ];
        for a in samples {
            for b in samples {
                let n = a.len().min(b.len());
                let want = a[..n].cmp(&b[..n]) as i32;
                assert_eq!(compare(&a[..n], &b[..n]).signum(), want, "{a:?} vs {b:?}");
            }
        }
    }
}
