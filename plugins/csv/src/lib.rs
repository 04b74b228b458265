//! Built-in validator: tabular CSV against a Frictionless Table Schema subset.
//!
//! Types string, integer, number, boolean, date, datetime; constraints required,
//! unique, minimum, maximum, minLength, maxLength, pattern, enum; primary keys.
//! The delimiter is detected unless configured. Rows are read from the document a
//! chunk at a time through one reused record buffer, so memory stays bounded
//! (uniqueness keeps an 8-byte fingerprint per row and column, not the values, up to
//! `unique_limit`). Findings point at `line:column`; a check
//! failing on many rows reports `max_samples` rows individually and then one
//! summary finding with the count and sample line numbers.

mod config;
mod findings;
mod scan;
mod seen;
mod sniff;
mod types;

use validibot_plugin_api::{
    export_validator, Finding, Input, Metadata, Outcome, Request, Validator, ValidatorError,
};

use config::Config;

pub struct CsvValidator;

impl Validator for CsvValidator {
    fn describe() -> Metadata {
        Metadata {
            slug: "csv".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "Tabular CSV".into(),
            description: "Validates CSV files against a Frictionless Table Schema subset (types, constraints, primary key).".into(),
            content_types: vec!["text/csv".into(), "text/plain".into(), "text/tab-separated-values".into()],
            config_schema: config::config_schema(),
        }
    }

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {
        Config::parse(config).map(|_| ()).map_err(|f| vec![f])
    }

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {
        Self::validate_request(Request::from(input))
    }

    /// Rows are read from the document as they are checked: memory stays flat
    /// whatever the file's size.
    fn validate_request(request: Request<'_>) -> Result<Outcome, ValidatorError> {
        let config = Config::parse(&request.config_json()?)
            .map_err(|f| ValidatorError::new("config.invalid", f.message))?;
        scan::check(request.document, &config)
    }
}

export_validator!(CsvValidator);

#[cfg(test)]
mod tests {
    use super::*;

    fn run(csv: &str, config: serde_json::Value) -> Outcome {
        CsvValidator::validate(Input {
            content: csv.as_bytes(),
            content_type: "text/csv",
            config: &config.to_string(),
            ruleset: None,
            ..Input::default()
        })
        .unwrap()
    }

    fn schema() -> serde_json::Value {
        serde_json::json!({"schema": {"fields": [
            {"name": "id", "type": "integer", "constraints": {"required": true, "unique": true, "minimum": 1}},
            {"name": "email", "constraints": {"pattern": "[^@]+@[^@]+"}},
            {"name": "kind", "constraints": {"enum": ["a", "b"]}},
            {"name": "day", "type": "date", "constraints": {"maximum": "2030-12-31"}}
        ], "primaryKey": "id"}})
    }

    fn codes(o: &Outcome) -> Vec<(String, String)> {
        o.findings
            .iter()
            .map(|f| (f.code.clone(), f.path.clone()))
            .collect()
    }

    #[test]
    fn a_clean_file_passes_with_row_counts() {
        let o = run(
            "id,email,kind,day\n1,a@x.org,a,2024-01-01\n2,b@x.org,b,2024-02-29\n",
            schema(),
        );
        assert!(o.findings.is_empty(), "{:?}", o.findings);
        assert_eq!(o.outputs[0].value, serde_json::json!(2));
    }

    #[test]
    fn each_constraint_reports_line_and_column() {
        let o = run(
            "id;email;kind;day\n0;a@x.org;a;2024-01-01\nx;nope;c;2031-01-01\n;b@x.org;b;2024-13-01\n3;c@x.org;a;2024-01-01\n3;d@x.org;a;2024-01-01\n",
            schema(),
        );
        let got = codes(&o);
        for want in [
            ("csv.minimum", "2:1"),
            ("csv.type", "3:1"),
            ("csv.pattern", "3:2"),
            ("csv.enum", "3:3"),
            ("csv.maximum", "3:4"),
            ("csv.required", "4:1"),
            ("csv.type", "4:4"),
            ("csv.unique", "6:1"),
            ("csv.primary_key", "6:1"),
        ] {
            assert!(
                got.contains(&(want.0.into(), want.1.into())),
                "{want:?} not in {got:?}"
            );
        }
        assert_eq!(o.outputs[2].value, serde_json::json!(";"));
    }

    #[test]
    fn repeats_name_the_line_they_repeat() {
        let o = run(
            "id,email,kind,day\n7,a@x.org,a,2024-01-01\n8,a@x.org,a,2024-01-01\n7,a@x.org,a,2024-01-01\n8,a@x.org,a,2024-01-01\n",
            schema(),
        );
        let messages: Vec<(&str, &str)> = o
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            messages,
            [
                ("csv.unique", "id = \"7\" repeats line 2"),
                ("csv.primary_key", "primary key (id) = (7) repeats line 2"),
                ("csv.unique", "id = \"8\" repeats line 3"),
                ("csv.primary_key", "primary key (id) = (8) repeats line 3"),
            ]
        );
    }

    #[test]
    fn a_composite_primary_key_repeat_names_its_first_line() {
        let config = serde_json::json!({"schema": {"fields": [{"name": "meter"}, {"name": "day"}],
            "primaryKey": ["meter", "day"]}});
        let o = run("meter,day\nA,1\nA,2\nB,1\nA,2\n", config);
        let got: Vec<(&str, &str)> = o
            .findings
            .iter()
            .map(|f| (f.code.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            got,
            [(
                "csv.primary_key",
                "primary key (meter, day) = (A, 2) repeats line 3"
            )]
        );
    }

    #[test]
    fn past_the_unique_limit_later_rows_are_compared_with_what_was_kept() {
        let mut config = schema();
        config["unique_limit"] = serde_json::json!(3);
        let mut csv = String::from("id,email,kind,day\n");
        for i in [1, 2, 3, 4, 5, 1, 5] {
            csv.push_str(&format!("{i},a@x.org,a,2024-01-01\n"));
        }
        let o = run(&csv, config);
        let unique: Vec<&Finding> = o
            .findings
            .iter()
            .filter(|f| f.code == "csv.unique")
            .collect();
        assert_eq!(unique.len(), 1, "{:?}", o.findings);
        assert_eq!(unique[0].path, "7:1", "1 was kept, so its repeat is caught");
        let limit = o
            .findings
            .iter()
            .find(|f| f.code == "csv.unique.limit")
            .unwrap();
        assert_eq!(limit.severity, validibot_plugin_api::Severity::Warning);
        assert!(
            limit
                .message
                .starts_with("id: only the first 3 distinct values"),
            "{}",
            limit.message
        );
        assert_eq!(limit.meta.as_ref().unwrap()["unchecked"], 3);
    }

    #[test]
    fn header_mismatches_and_ragged_rows() {
        let o = run(
            "id,mail,kind,day,extra\n1,x,a,2024-01-01,1\n2,x\n",
            schema(),
        );
        let got = codes(&o);
        assert!(
            got.contains(&("csv.header.missing".into(), "1:1".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("csv.header.extra".into(), "1:2".into())),
            "{got:?}"
        );
        assert!(
            got.contains(&("csv.row_length".into(), "3:1".into())),
            "{got:?}"
        );
    }

    #[test]
    fn repeated_failures_are_aggregated_with_samples() {
        let mut csv = String::from("id,email,kind,day\n");
        for i in 1..=1000 {
            csv.push_str(&format!("{i},bad,a,2024-01-01\n"));
        }
        let o = run(&csv, schema());
        let pattern: Vec<&Finding> = o
            .findings
            .iter()
            .filter(|f| f.code == "csv.pattern")
            .collect();
        assert_eq!(pattern.len(), 6, "5 samples + 1 summary");
        let summary = pattern.last().unwrap();
        assert!(
            summary
                .message
                .starts_with("995 more rows fail csv.pattern"),
            "{}",
            summary.message
        );
        assert_eq!(summary.meta.as_ref().unwrap()["count"], 1000);
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad = |c: serde_json::Value| {
            CsvValidator::validate_config(&c).unwrap_err()[0]
                .path
                .clone()
        };
        assert_eq!(
            bad(serde_json::json!({"schema": {"fields": [{"name": "a", "type": "money"}]}})),
            "/schema/fields/0/type"
        );
        assert_eq!(
            bad(
                serde_json::json!({"schema": {"fields": [{"name": "a", "constraints": {"pattern": "("}}]}})
            ),
            "/schema/fields/0/constraints/pattern"
        );
        assert_eq!(
            bad(serde_json::json!({"schema": {"fields": [{"name": "a"}], "primaryKey": "b"}})),
            "/schema/primaryKey"
        );
    }

    #[test]
    fn invalid_utf8_is_a_finding() {
        let o = CsvValidator::validate(Input {
            content: b"id,email,kind,day\n1,\xff\xfe,a,2024-01-01\n",
            content_type: "text/csv",
            config: &schema().to_string(),
            ruleset: None,
            ..Input::default()
        })
        .unwrap();
        assert_eq!(o.findings[0].code, "csv.encoding");
    }
}
