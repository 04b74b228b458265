//! Exit codes of the client commands (documented in the README and each command's
//! `--help`). A run's own outcome (0–2) is kept apart from the command's failure to
//! get one (3, 4), so a pipeline can tell "the document is bad" from "the server is down".

/// The run passed.
pub const PASS: i32 = 0;
/// The document failed validation.
pub const FAIL: i32 = 1;
/// The run ended in ERROR, TIMED_OUT or CANCELED (a validator or the platform could
/// not judge the document).
pub const ERROR: i32 = 2;
/// The run had not finished when the command returned (`--no-wait`, or `--timeout`
/// ran out); it goes on on the server.
pub const NOT_FINISHED: i32 = 3;
/// The command failed before there was a result: the server could not be reached,
/// refused the key or the request, or a local file could not be read.
pub const REQUEST_FAILED: i32 = 4;
/// Interrupted with Ctrl-C (128 + SIGINT); the run goes on on the server.
pub const INTERRUPTED: i32 = 130;

/// The table shown after `validate --help` and `check --help`.
pub const TABLE: &str = "\
Exit codes:
  0    PASS
  1    FAIL: the document failed validation
  2    ERROR, TIMED_OUT or CANCELED: the run could not judge the document
  3    not finished yet (--no-wait, or --timeout ran out); the run goes on
  4    no result: the server was unreachable or refused the request or key,
       or a local file could not be read
  130  interrupted (Ctrl-C); a submitted run goes on";

/// The exit code for a finished run's `result`.
pub fn for_result(result: &str) -> i32 {
    match result {
        "PASS" => PASS,
        "FAIL" => FAIL,
        _ => ERROR,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_map_to_documented_codes() {
        assert_eq!(super::for_result("PASS"), 0);
        assert_eq!(super::for_result("FAIL"), 1);
        for r in ["ERROR", "TIMED_OUT", "CANCELED", "UNKNOWN"] {
            assert_eq!(super::for_result(r), 2);
        }
        for (code, line) in [(0, "  0 "), (2, "  2 "), (4, "  4 "), (130, "  130 ")] {
            assert!(super::TABLE.contains(line), "{code} is not in the table");
        }
    }
}
