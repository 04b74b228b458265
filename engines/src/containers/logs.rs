//! Bounded log capture: the first and the last `limit / 2` bytes of a container's
//! output, with the number of bytes dropped in between, so a flooding validator
//! costs the host a fixed amount of memory and the log still shows how it began
//! and how it ended.

use std::collections::VecDeque;

use serde::Serialize;

#[derive(Debug)]
pub struct BoundedLog {
    half: usize,
    head: Vec<u8>,
    tail: VecDeque<u8>,
    dropped: u64,
}

/// What is kept of a log.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CapturedLog {
    pub text: String,
    pub total_bytes: u64,
    pub truncated: bool,
}

impl BoundedLog {
    pub fn new(limit: usize) -> BoundedLog {
        BoundedLog {
            half: (limit / 2).max(1),
            head: Vec::new(),
            tail: VecDeque::new(),
            dropped: 0,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) {
        let room = self.half - self.head.len();
        if room > 0 {
            let n = room.min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
        }
        if bytes.len() >= self.half {
            self.dropped += (self.tail.len() + bytes.len() - self.half) as u64;
            self.tail.clear();
            self.tail.extend(&bytes[bytes.len() - self.half..]);
            return;
        }
        let overflow = (self.tail.len() + bytes.len()).saturating_sub(self.half);
        self.tail.drain(..overflow);
        self.dropped += overflow as u64;
        self.tail.extend(bytes);
    }

    pub fn finish(self) -> CapturedLog {
        let total = (self.head.len() + self.tail.len()) as u64 + self.dropped;
        let mut text = String::from_utf8_lossy(&self.head).into_owned();
        if self.dropped > 0 {
            text.push_str(&format!("\n[… {} bytes truncated …]\n", self.dropped));
        }
        text.push_str(&String::from_utf8_lossy(
            &self.tail.into_iter().collect::<Vec<_>>(),
        ));
        CapturedLog {
            text,
            total_bytes: total,
            truncated: self.dropped > 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_head_and_tail_and_counts_the_rest() {
        let mut log = BoundedLog::new(8);
        log.push(b"abcdefgh");
        log.push(b"ijkl");
        log.push(b"mnopqrstuvwxyz");
        let c = log.finish();
        assert_eq!(c.total_bytes, 26);
        assert!(c.truncated);
        assert!(
            c.text.starts_with("abcd") && c.text.ends_with("wxyz"),
            "{}",
            c.text
        );
        assert!(c.text.contains("18 bytes truncated"), "{}", c.text);
        let mut small = BoundedLog::new(100);
        small.push(b"hello");
        let c = small.finish();
        assert_eq!((c.text.as_str(), c.truncated), ("hello", false));
    }
}
