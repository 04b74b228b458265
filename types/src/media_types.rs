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
        "ndjson" | "jsonl" => "application/x-ndjson",
        "xml" | "xsd" | "sch" => "application/xml",
        "csv" => "text/csv",
        "idf" | "txt" => "text/plain",
        "fmu" | "zip" => "application/zip",
        "ttl" => "text/turtle",
        "nt" => "application/n-triples",
        "nq" => "application/n-quads",
        "trig" => "application/trig",
        "rdf" | "owl" => "application/rdf+xml",
        "jsonld" => "application/ld+json",
        _ => return None,
    })
}

/// Other names in use for the types workflows accept (Windows browsers label `.csv`
/// files `application/vnd.ms-excel`, older tools send `text/json`, …).
const ALIASES: &[(&str, &str)] = &[
    ("application/csv", "text/csv"),
    ("application/x-csv", "text/csv"),
    ("text/x-csv", "text/csv"),
    ("text/comma-separated-values", "text/csv"),
    ("text/x-comma-separated-values", "text/csv"),
    ("text/json", "application/json"),
    ("application/x-json", "application/json"),
    ("text/x-json", "application/json"),
    ("application/jsonl", "application/x-ndjson"),
    ("application/jsonlines", "application/x-ndjson"),
    ("application/x-jsonlines", "application/x-ndjson"),
    ("application/json-lines", "application/x-ndjson"),
    ("application/x-turtle", "text/turtle"),
    ("application/turtle", "text/turtle"),
    ("text/ntriples", "application/n-triples"),
];

/// Labels that say nothing reliable about the content, so the file's name decides.
const VAGUE: &[&str] = &[
    "",
    "application/octet-stream",
    "application/vnd.ms-excel",
    "binary/octet-stream",
    "application/x-www-form-urlencoded",
    "text/plain",
];

/// The media type an upload is judged by: an alias becomes its usual name, and a vague
/// label (octet-stream, `text/plain`, the Excel label Windows gives `.csv` files) gives
/// way to the file name's extension when that names a type.
pub fn canonical(declared: &str, filename: Option<&str>) -> String {
    let kind = essence(declared);
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == kind) {
        return (*to).to_owned();
    }
    if VAGUE.contains(&kind.as_str()) {
        if let Some(guess) = filename.and_then(guess_from_filename) {
            return guess.to_owned();
        }
    }
    kind
}

/// Whether a label says nothing reliable about the content (see [`canonical`]).
pub fn is_vague(content_type: &str) -> bool {
    VAGUE.contains(&essence(content_type).as_str())
}

/// The type the first bytes show, for a vague label with no telling file name: JSON
/// (an object or array) or XML. CSV and plain text show nothing certain.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = text.iter().find(|b| !b.is_ascii_whitespace())?;
    match first {
        b'{' | b'[' => Some("application/json"),
        b'<' => Some("application/xml"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing_sees_json_and_xml_only() {
        assert_eq!(
            sniff(b"\xEF\xBB\xBF \n {\"a\": 1}"),
            Some("application/json")
        );
        assert_eq!(
            sniff(b"<?xml version=\"1.0\"?><a/>"),
            Some("application/xml")
        );
        assert_eq!(sniff(b"a,b\n1,2\n"), None);
        assert!(is_vague("text/plain; charset=utf-8") && !is_vague("text/csv"));
    }

    #[test]
    fn aliases_and_vague_labels_are_resolved() {
        assert_eq!(
            canonical("application/vnd.ms-excel", Some("a.csv")),
            "text/csv"
        );
        assert_eq!(
            canonical("application/vnd.ms-excel", Some("a.xls")),
            "application/vnd.ms-excel"
        );
        assert_eq!(
            canonical("text/plain", Some("data.json")),
            "application/json"
        );
        assert_eq!(canonical("text/plain", Some("notes.txt")), "text/plain");
        assert_eq!(
            canonical("application/octet-stream", None),
            "application/octet-stream"
        );
        assert_eq!(
            canonical("Text/JSON; charset=utf-8", None),
            "application/json"
        );
        assert_eq!(canonical("application/x-csv", Some("a.txt")), "text/csv");
        assert_eq!(
            canonical("application/octet-stream", Some("events.jsonl")),
            "application/x-ndjson"
        );
        assert_eq!(canonical("application/jsonl", None), "application/x-ndjson");
        assert_eq!(
            canonical("application/xml", Some("a.csv")),
            "application/xml"
        );
    }

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
        assert_eq!(guess_from_filename("building.ttl"), Some("text/turtle"));
        assert_eq!(canonical("application/x-turtle", None), "text/turtle");
    }
}
