//! Findings of a pass: the first `max_samples` per (check, column) individually, then
//! one summary with the count and sample lines — a file failing on every row still
//! gives a short report.

use std::collections::BTreeMap;

use validibot_plugin_api::Finding;

pub struct Findings {
    max_samples: usize,
    pub list: Vec<Finding>,
    /// (code, column) → (count, sample lines beyond the individual ones)
    counts: BTreeMap<(&'static str, String), (u64, Vec<u64>)>,
}

impl Findings {
    pub fn new(max_samples: usize) -> Findings {
        Findings {
            max_samples,
            list: vec![],
            counts: BTreeMap::new(),
        }
    }

    /// A failing cell or row; the index of its finding when it is reported individually.
    pub fn row(
        &mut self,
        code: &'static str,
        column: &str,
        line: u64,
        col: usize,
        message: String,
    ) -> Option<usize> {
        let entry = match self.counts.get_mut(&(code, column.to_owned())) {
            Some(e) => e,
            None => self.counts.entry((code, column.to_owned())).or_default(),
        };
        entry.0 += 1;
        if entry.0 as usize <= self.max_samples {
            self.list.push(
                Finding::error(code, message)
                    .at(format!("{line}:{col}"))
                    .with_meta(serde_json::json!({"column": column, "line": line})),
            );
            return Some(self.list.len() - 1);
        }
        if entry.1.len() < 20 {
            entry.1.push(line);
        }
        None
    }

    pub fn finish(mut self) -> Vec<Finding> {
        for ((code, column), (count, sample)) in self.counts {
            let more = count.saturating_sub(self.max_samples as u64);
            if more > 0 {
                let what = if column.is_empty() {
                    String::new()
                } else {
                    format!(" in column {column:?}")
                };
                self.list.push(
                    Finding::error(
                        code,
                        format!("{more} more rows fail {code}{what} ({count} in all)"),
                    )
                    .with_meta(
                        serde_json::json!({"column": column, "count": count, "more_lines": sample}),
                    ),
                );
            }
        }
        self.list
    }
}
