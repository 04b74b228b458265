//! Helpers for locating findings: JSON pointers and line/column positions.

/// Escapes one reference token for a JSON pointer (RFC 6901).
pub fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Builds a JSON pointer from reference tokens.
pub fn json_pointer<I, S>(tokens: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    tokens
        .into_iter()
        .map(|t| format!("/{}", escape_pointer_token(t.as_ref())))
        .collect()
}

/// 1-based line and column (in characters) of a byte offset in `text`.
pub fn line_col(text: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, col)
}

/// Adds `meta.line` / `meta.column` to each finding whose `path` is a JSON pointer into
/// the JSON `text` (where that value starts), so reports and SARIF point into the file,
/// not only at a pointer. Findings whose path is not in the document are left alone.
pub fn locate_json_findings(text: &[u8], findings: &mut [crate::Finding]) {
    if findings.is_empty() {
        return;
    }
    let pointers: Vec<&str> = findings.iter().map(|f| f.path.as_str()).collect();
    let found = json_pointer_positions(text, &pointers);
    for f in findings.iter_mut() {
        if let Some((line, column)) = found.get(&f.path) {
            let meta = f.meta.get_or_insert_with(|| serde_json::json!({}));
            if meta.is_object() {
                meta["line"] = serde_json::json!(line);
                meta["column"] = serde_json::json!(column);
            }
        }
    }
}

/// 1-based line and column of the value each JSON pointer in `pointers` names in the
/// JSON text `text`, in one pass that stops once all are found (so findings near the
/// top of a large document cost little). Pointers not in the document are left out.
/// `text` should be valid JSON; on malformed input the scan stops where it fails.
pub fn json_pointer_positions(
    text: &[u8],
    pointers: &[&str],
) -> std::collections::HashMap<String, (usize, usize)> {
    let wanted: std::collections::HashSet<&str> = pointers.iter().copied().collect();
    // Containers on the way to a wanted value; the scan walks into these only and skips
    // everything else with a byte loop that just counts lines.
    let ancestors: std::collections::HashSet<&str> = pointers
        .iter()
        .flat_map(|p| p.match_indices('/').map(move |(i, _)| &p[..i]))
        .collect();
    let mut scan = Scan {
        text,
        at: 0,
        line: 1,
        line_start: 0,
        wanted,
        ancestors,
        found: std::collections::HashMap::new(),
    };
    let mut path = String::new();
    let _ = scan.value(&mut path, 0);
    scan.found
}

/// The state of [`json_pointer_positions`]'s scan.
struct Scan<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
    wanted: std::collections::HashSet<&'a str>,
    ancestors: std::collections::HashSet<&'a str>,
    found: std::collections::HashMap<String, (usize, usize)>,
}

impl Scan<'_> {
    fn space(&mut self) {
        while let Some(&b) = self.text.get(self.at) {
            match b {
                b'\n' => {
                    self.line += 1;
                    self.line_start = self.at + 1;
                }
                b' ' | b'\t' | b'\r' => {}
                _ => return,
            }
            self.at += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// A string's end (after the closing quote); the text between the quotes.
    fn string(&mut self) -> Option<&[u8]> {
        let start = self.at + 1;
        let mut i = start;
        while i < self.text.len() {
            match self.text[i] {
                b'\\' => i += 2,
                b'"' => {
                    self.at = i + 1;
                    return Some(&self.text[start..i]);
                }
                _ => i += 1,
            }
        }
        None
    }

    /// Passes over one value no wanted pointer is inside, counting its lines only.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match *self.text.get(self.at)? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        b'\n' => {
                            self.line += 1;
                            self.line_start = self.at + 1;
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.at += 1;
                }
                Some(())
            }
        }
    }

    /// Scans one value at `path`; `None` stops the scan (everything found, or malformed).
    fn value(&mut self, path: &mut String, depth: usize) -> Option<()> {
        if depth > 512 {
            return None;
        }
        self.space();
        if self.wanted.contains(path.as_str()) && !self.found.contains_key(path.as_str()) {
            let column = String::from_utf8_lossy(&self.text[self.line_start..self.at])
                .chars()
                .count()
                + 1;
            self.found.insert(path.clone(), (self.line, column));
            if self.found.len() == self.wanted.len() {
                return None;
            }
        }
        if !self.ancestors.contains(path.as_str()) {
            return self.skip();
        }
        match self.peek()? {
            b'{' => {
                self.at += 1;
                self.space();
                if self.peek()? == b'}' {
                    self.at += 1;
                    return Some(());
                }
                loop {
                    self.space();
                    if self.peek()? != b'"' {
                        return None;
                    }
                    let raw = self.string()?;
                    let key: String = if raw.contains(&b'\\') {
                        let mut quoted = Vec::with_capacity(raw.len() + 2);
                        quoted.push(b'"');
                        quoted.extend_from_slice(raw);
                        quoted.push(b'"');
                        serde_json::from_slice(&quoted).ok()?
                    } else {
                        String::from_utf8_lossy(raw).into_owned()
                    };
                    self.space();
                    if self.peek()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    let len = path.len();
                    path.push('/');
                    path.push_str(&escape_pointer_token(&key));
                    self.value(path, depth + 1)?;
                    path.truncate(len);
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                self.space();
                if self.peek()? == b']' {
                    self.at += 1;
                    return Some(());
                }
                let mut index = 0usize;
                loop {
                    let len = path.len();
                    path.push('/');
                    path.push_str(&index.to_string());
                    self.value(path, depth + 1)?;
                    path.truncate(len);
                    index += 1;
                    self.space();
                    match self.peek()? {
                        b',' => self.at += 1,
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            // A string or scalar at a container's pointer: nothing inside to find.
            _ => self.skip(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pointers_are_located_in_one_pass() {
        let text = "{\n  \"id\": \"x\",\n  \"lines\": [\n    {\"qty\": 0},\n    {\"qty\": -1, \"a/b\": 2, \"\\u00e9\": 3}\n  ],\n  \"é\": [true]\n}";
        let found = json_pointer_positions(
            text.as_bytes(),
            &[
                "",
                "/id",
                "/lines/1/qty",
                "/lines/1/a~1b",
                "/lines/1/é",
                "/é/0",
                "/missing",
            ],
        );
        assert_eq!(found[""], (1, 1));
        assert_eq!(found["/id"], (2, 9));
        assert_eq!(found["/lines/1/qty"], (5, 13));
        assert_eq!(found["/lines/1/a~1b"], (5, 24));
        assert_eq!(found["/lines/1/é"], (5, 37));
        assert_eq!(found["/é/0"], (7, 9));
        assert!(!found.contains_key("/missing"));
        assert!(json_pointer_positions(b"{\"a\": [1,", &["/a/5"]).is_empty());
        // Values no pointer is inside are skipped, their lines still counted.
        let text = "{\"skip\": {\n \"x\": [1,\n {\"y\": \"}]\\\"\"}\n]},\n \"want\": [0,\n  7]}";
        assert_eq!(
            json_pointer_positions(text.as_bytes(), &["/want/1"])["/want/1"],
            (6, 3)
        );
    }

    #[test]
    fn pointer_escapes_tokens() {
        assert_eq!(json_pointer(["a/b", "c~d", "0"]), "/a~1b/c~0d/0");
        assert_eq!(json_pointer(Vec::<String>::new()), "");
    }

    #[test]
    fn line_col_counts_from_one() {
        let text = "ab\ncd\né".as_bytes();
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 4), (2, 2));
        assert_eq!(line_col(text, text.len()), (3, 2));
    }
}
