//! Media-type matching for what a workflow accepts, and guessing from file names.

/// Lower-cased `type/subtype` without parameters.
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Whether `content_type` matches `pattern` (`*/*`, `type/*`, `type/*+suffix` or exact).
pub fn matches(pattern: &str, content_type: &str) -> bool {
    let ct = essence(content_type);
    let pattern = essence(pattern);
    if pattern == "*/*" || pattern == ct {
        return true;
    }
    let (Some((pt, ps)), Some((ct_type, ct_sub))) = (pattern.split_once('/'), ct.split_once('/'))
    else {
        return false;
    };
    if pt != ct_type {
        return false;
    }
    if ps == "*" {
        return true;
    }
    match ps.strip_prefix("*+") {
        Some(suffix) => ct_sub.ends_with(&format!("+{suffix}")),
        None => false,
    }
}

/// A media type from a file name, for uploads sent as `application/octet-stream`.
pub fn guess_from_filename(filename: &str) -> Option<&'static str> {
    let ext = filename.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match ext.as_str() {
        "json" | "epjson" => "application/json",
        "xml" | "xsd" => "application/xml",
        "csv" => "text/csv",
        "idf" | "txt" => "text/plain",
        "fmu" | "zip" => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_rules() {
        assert!(matches(
            "application/json",
            "application/json; charset=utf-8"
        ));
        assert!(matches("application/*+json", "application/geo+json"));
        assert!(!matches("application/*+json", "application/json"));
        assert!(matches("*/*", "text/csv"));
        assert!(matches("text/*", "text/csv"));
        assert!(!matches("application/json", "text/csv"));
    }

    #[test]
    fn guesses() {
        assert_eq!(guess_from_filename("a.JSON"), Some("application/json"));
        assert_eq!(guess_from_filename("noext"), None);
    }
}
