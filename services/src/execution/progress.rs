//! How far each running step's validator has read the run's document, written to the
//! job row about once a second (`queue::progress`), so the run page — served by any
//! process — can show it. Only documents of [`REPORTED_FROM`] bytes or more are
//! reported: a small one is read in a moment, and its run writes nothing more.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use validibot_engines::plugins::Document;
use validibot_store::db::Db;
use validibot_store::queue::{self, Lease};

/// The smallest document whose reading is reported.
pub const REPORTED_FROM: u64 = 1 << 20;

/// How often the reading is written while it changes.
const EVERY: Duration = Duration::from_secs(1);

/// The documents the run's running steps are reading, by step key.
#[derive(Clone, Default)]
pub struct Progress {
    reading: Arc<Mutex<BTreeMap<String, Document>>>,
}

/// A step's reading, counted while this lives.
pub struct Reading {
    progress: Progress,
    key: String,
    pub document: Document,
}

impl Drop for Reading {
    fn drop(&mut self) {
        self.progress.lock().remove(&self.key);
    }
}

impl Progress {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Document>> {
        self.reading.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The document for step `key`, with its own count of bytes read (a large one is
    /// reported until the returned reading is dropped).
    pub fn start(&self, key: &str, document: &Document) -> Reading {
        let document = document.tracked();
        if document.len() >= REPORTED_FROM {
            self.lock().insert(key.to_owned(), document.clone());
        }
        Reading {
            progress: self.clone(),
            key: key.to_owned(),
            document,
        }
    }

    /// Step key → bytes read, as JSON; `None` while no step reads a large document.
    pub fn snapshot(&self) -> Option<String> {
        let reading = self.lock();
        if reading.is_empty() {
            return None;
        }
        let read: BTreeMap<&str, u64> = reading
            .iter()
            .map(|(key, document)| (key.as_str(), document.reached()))
            .collect();
        serde_json::to_string(&read).ok()
    }

    /// Writes the reading to the job row while it changes, until the returned writer is
    /// dropped.
    pub fn spawn_writer(&self, db: Db, lease: Lease) -> Writer {
        let progress = self.clone();
        Writer(tokio::spawn(async move {
            let mut tick = tokio::time::interval(EVERY);
            tick.tick().await;
            let mut written: Option<String> = None;
            loop {
                tick.tick().await;
                let now = progress.snapshot();
                if now.is_none() || now == written {
                    continue;
                }
                let text = now.as_deref().unwrap_or_default();
                match queue::progress(&db, &lease, text).await {
                    Ok(true) => written = now,
                    // The lease is gone: the heartbeat stops the run.
                    Ok(false) => return,
                    Err(e) => {
                        tracing::warn!(run_id = %lease.run_id, "writing progress failed: {e:#}")
                    }
                }
            }
        }))
    }
}

/// The task writing a run's reading; stops when dropped (however the run's task ends).
pub struct Writer(tokio::task::JoinHandle<()>);

impl Drop for Writer {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_documents_are_reported_per_step_while_read() {
        let progress = Progress::default();
        let small = Document::from(vec![0u8; 10]);
        let _quiet = progress.start("small", &small);
        assert_eq!(progress.snapshot(), None);
        let large = Document::from(vec![0u8; REPORTED_FROM as usize]);
        let first = progress.start("a", &large);
        let second = progress.start("b", &large);
        first.document.read_at(0, 4096).unwrap();
        assert_eq!(progress.snapshot().unwrap(), r#"{"a":4096,"b":0}"#);
        drop(first);
        second.document.read_at(0, 7).unwrap();
        assert_eq!(progress.snapshot().unwrap(), r#"{"b":7}"#);
        drop(second);
        assert_eq!(progress.snapshot(), None);
    }
}
