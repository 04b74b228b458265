//! Which values a `unique` column or the primary key has already had, as 8-byte
//! fingerprints in one open-addressing table: at most 12 bytes a value, not the values
//! themselves, so a column of long strings costs the same as one of small integers.
//! Past `limit` values the table stops growing: later rows are still compared with
//! everything stored, and the caller reports that the check was partial.

use std::hash::Hasher;

/// At most this share of the table in use before it doubles: linear probing stays at
/// a couple of probes, most in one cache line.
const LOAD: (usize, usize) = (2, 3);

pub struct Seen {
    /// 0 marks an empty slot (a fingerprint of 0 is stored as 1).
    slots: Vec<u64>,
    len: usize,
    limit: usize,
    /// Values that arrived once the table was full and were not stored.
    pub overflowed: u64,
}

/// The fingerprint of a row's values (one cell, or the cells of a composite key):
/// SipHash of the texts, each closed by 0xFF (a byte UTF-8 never has, so `a|bc` and
/// `ab|c` differ) — written directly, without `Hash for [&str]`'s length prefix.
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for part in parts {
        h.write(part.as_bytes());
        h.write_u8(0xff);
    }
    h.finish().max(1)
}

impl Seen {
    /// A table sized for `expected` values (an estimate: it grows past it, never past
    /// `limit`), so a large file is not rehashed at every doubling.
    pub fn new(limit: usize, expected: usize) -> Seen {
        Seen {
            slots: vec![0; slots_for(expected.min(limit)).max(1024)],
            len: 0,
            limit,
            overflowed: 0,
        }
    }

    /// Records `fp`; true when it was already there (a repeated value).
    pub fn insert(&mut self, fp: u64) -> bool {
        let at = self.find(fp);
        if self.slots[at] == fp {
            return true;
        }
        if self.len >= self.limit {
            self.overflowed += 1;
            return false;
        }
        self.slots[at] = fp;
        self.len += 1;
        if self.len * LOAD.1 > self.slots.len() * LOAD.0 {
            self.grow();
        }
        false
    }

    /// Reads the slot where `fp`'s search starts, so that a batch of such reads —
    /// independent of each other — miss the cache together instead of one by one.
    pub fn touch(&self, fp: u64) -> u64 {
        self.slots[self.home(fp)]
    }

    /// Where `fp`'s search starts: the fingerprint is already a good hash, so its high
    /// half scaled to the table's length (any length: no rounding to a power of two).
    fn home(&self, fp: u64) -> usize {
        (((fp >> 32) * self.slots.len() as u64) >> 32) as usize
    }

    /// The slot holding `fp`, or the empty one where it would go.
    fn find(&self, fp: u64) -> usize {
        let len = self.slots.len();
        let mut at = self.home(fp);
        loop {
            let s = self.slots[at];
            if s == fp || s == 0 {
                return at;
            }
            at += 1;
            if at == len {
                at = 0;
            }
        }
    }

    fn grow(&mut self) {
        let doubled = vec![0; (self.slots.len() * 2).min(slots_for(self.limit).max(1024))];
        let old = std::mem::replace(&mut self.slots, doubled);
        for fp in old.into_iter().filter(|&f| f != 0) {
            let at = self.find(fp);
            self.slots[at] = fp;
        }
    }
}

/// Slots for `n` values at the table's most load.
fn slots_for(n: usize) -> usize {
    n.saturating_mul(LOAD.1) / LOAD.0 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_found_and_the_limit_holds() {
        let mut s = Seen::new(5000, 10);
        for i in 0..5000 {
            assert!(!s.insert(fingerprint(&[&i.to_string()])));
        }
        for i in 0..5000 {
            assert!(s.insert(fingerprint(&[&i.to_string()])), "{i}");
        }
        assert!(!s.insert(fingerprint(&["new"])));
        assert!(
            !s.insert(fingerprint(&["new"])),
            "past the limit nothing is stored"
        );
        assert_eq!(s.overflowed, 2);
        assert!(s.slots.len() <= 7501, "{}", s.slots.len());
        assert_eq!(
            Seen::new(100, 1 << 30).slots.len(),
            1024,
            "sized for the limit at most"
        );
        assert_ne!(fingerprint(&["a", "bc"]), fingerprint(&["ab", "c"]));
    }
}
