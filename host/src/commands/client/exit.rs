//! Exit codes of `validate` and `check` (documented in the README and `--help`).

/// The run passed.
pub const PASS: i32 = 0;
/// The document failed validation.
pub const FAIL: i32 = 1;
/// The run ended in ERROR, TIMED_OUT or CANCELED, or the request itself failed.
pub const ERROR: i32 = 2;
/// `--wait` (or the server's wait budget) ran out before the run finished.
pub const WAIT_TIMED_OUT: i32 = 3;
/// Interrupted with Ctrl-C (128 + SIGINT); the run goes on on the server.
pub const INTERRUPTED: i32 = 130;

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
    }
}
