//! SARIF 2.1.0: one SARIF run per Validibot run. Rule ids are finding codes; each
//! result points at the submitted document and names the finding's path as a
//! logical location (plus a line/column region when the validator gave one).

use serde_json::{json, Value};

use super::ReportRun;
use validibot_types::{Finding, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
        Severity::Success => "none",
    }
}

/// A `region` from `meta.line` / `meta.column` (1-based, as SARIF wants).
fn region(f: &Finding) -> Option<Value> {
    let meta = f.meta.as_ref()?;
    let line = meta.get("line")?.as_u64().filter(|l| *l >= 1)?;
    let mut region = json!({"startLine": line});
    if let Some(c) = meta
        .get("column")
        .and_then(Value::as_u64)
        .filter(|c| *c >= 1)
    {
        region["startColumn"] = json!(c);
    }
    Some(region)
}

/// Identifies a finding across runs, so code-scanning views keep one alert per problem
/// (the step, the code and the place; not the message, which may quote values).
fn fingerprint(step: &str, f: &Finding) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{step}\0{}\0{}", f.code, f.path));
    hex::encode(&digest[..16])
}

pub fn render(run: &ReportRun) -> Value {
    let mut rules: Vec<Value> = Vec::new();
    let mut rule_ids: Vec<&str> = Vec::new();
    let mut results = Vec::new();
    let uri = run.document_uri.as_deref().unwrap_or(run.document());
    for step in &run.steps {
        for f in &step.findings {
            let index = match rule_ids.iter().position(|id| *id == f.code) {
                Some(i) => i,
                None => {
                    rule_ids.push(&f.code);
                    let mut rule = json!({
                        "id": f.code,
                        "name": f.code,
                        "shortDescription": {"text": format!("{} finding of the {} validator", f.code, step.validator)},
                        "fullDescription": {"text": format!("Reported by the {:?} validator {} in step {:?} ({}); its guide lists what each code means.", step.validator, step.validator_version, step.key, step.name)},
                        "defaultConfiguration": {"level": level(f.severity)},
                        "properties": {"validator": step.validator},
                    });
                    if let Some(base) = &run.help_base {
                        rule["helpUri"] = json!(format!("{base}/{}", step.validator));
                    }
                    rules.push(rule);
                    rules.len() - 1
                }
            };
            let mut physical = json!({"artifactLocation": {"uri": uri, "index": 0}});
            if let Some(r) = region(f) {
                physical["region"] = r;
            }
            let mut location = json!({"physicalLocation": physical});
            if !f.path.is_empty() {
                location["logicalLocations"] = json!([{"fullyQualifiedName": f.path}]);
            }
            let mut result = json!({
                "partialFingerprints": {"validibot/v1": fingerprint(&step.key, f)},
                "ruleId": f.code,
                "ruleIndex": index,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [location],
                "properties": {
                    "step": step.key,
                    "validator": step.validator,
                    "validatorVersion": step.validator_version,
                },
            });
            if f.severity == Severity::Success {
                result["kind"] = json!("pass");
            }
            results.push(result);
        }
    }
    let notifications: Vec<Value> = run
        .steps
        .iter()
        .filter_map(|s| {
            s.error.as_ref().map(|e| {
                json!({"level": "error", "message": {"text": format!("step {:?}: {e}", s.key)}})
            })
        })
        .collect();
    let mut invocation = json!({
        "executionSuccessful": matches!(run.result.as_str(), "PASS" | "FAIL"),
        "properties": {"result": run.result, "status": run.status},
    });
    if !notifications.is_empty() {
        invocation["toolExecutionNotifications"] = json!(notifications);
    }
    let mut artifact = json!({"location": {"uri": uri}});
    if !run.submission.sha256.is_empty() {
        artifact["hashes"] = json!({"sha-256": run.submission.sha256});
        artifact["length"] = json!(run.submission.size);
    }
    let mut driver = json!({
        "name": "Validibot",
        "version": env!("CARGO_PKG_VERSION"),
        "rules": rules,
    });
    if let Some(base) = &run.help_base {
        driver["informationUri"] = json!(base);
    }
    json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": driver},
            "automationDetails": {"id": format!("{}/v{}/{}", run.workflow.slug, run.workflow.version, run.id)},
            "artifacts": [artifact],
            "invocations": [invocation],
            "results": results,
            "properties": {"workflowDigest": run.workflow.digest},
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::failed_run;

    #[test]
    fn findings_become_results_with_rules_and_locations() {
        let sarif = super::render(&failed_run());
        assert_eq!(sarif["version"], "2.1.0");
        let run = &sarif["runs"][0];
        let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 3);
        let results = run["results"].as_array().unwrap();
        assert_eq!(results.len(), 3);
        let first = &results[0];
        assert_eq!(first["ruleId"], "json_schema.required");
        assert_eq!(first["level"], "error");
        assert_eq!(
            rules[first["ruleIndex"].as_u64().unwrap() as usize]["id"],
            "json_schema.required"
        );
        let loc = &first["locations"][0];
        assert_eq!(
            loc["physicalLocation"]["artifactLocation"]["uri"],
            "inv<1>.json"
        );
        assert_eq!(
            loc["logicalLocations"][0]["fullyQualifiedName"],
            "$.items[0]"
        );
        assert!(loc["physicalLocation"].get("region").is_none());
        let second = &results[1];
        assert_eq!(second["level"], "warning");
        assert_eq!(
            second["locations"][0]["physicalLocation"]["region"]["startLine"],
            4
        );
        assert_eq!(
            second["locations"][0]["physicalLocation"]["region"]["startColumn"],
            9
        );
        assert_eq!(results[2]["level"], "note");
        assert!(results[2]["locations"][0].get("logicalLocations").is_none());
        assert_eq!(run["artifacts"][0]["hashes"]["sha-256"], "ff00");
        assert_eq!(run["invocations"][0]["executionSuccessful"], true);
        assert_eq!(run["automationDetails"]["id"], "invoices/v3/0192-run");
        let fp = first["partialFingerprints"]["validibot/v1"]
            .as_str()
            .unwrap();
        assert_eq!(fp.len(), 32);
        assert_ne!(fp, results[1]["partialFingerprints"]["validibot/v1"]);
        assert!(run["tool"]["driver"].get("informationUri").is_none());
        assert!(rules[0].get("helpUri").is_none());
        // With the server's address: the tool and each rule link to the validators' pages;
        // the artifact is the document as the user named it.
        let mut linked = failed_run();
        linked.help_base = Some("https://v.example/ui/validators".into());
        linked.document_uri = Some("data/inv%3C1%3E.json".into());
        let sarif = super::render(&linked);
        let driver = &sarif["runs"][0]["tool"]["driver"];
        assert_eq!(driver["informationUri"], "https://v.example/ui/validators");
        assert_eq!(
            driver["rules"][0]["helpUri"],
            "https://v.example/ui/validators/json-schema"
        );
        assert_eq!(
            sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
                ["uri"],
            "data/inv%3C1%3E.json"
        );
    }

    #[test]
    fn step_errors_are_tool_notifications() {
        let mut run = failed_run();
        run.result = "ERROR".into();
        run.steps[2].error = Some("container exited 137".into());
        let sarif = super::render(&run);
        let inv = &sarif["runs"][0]["invocations"][0];
        assert_eq!(inv["executionSuccessful"], false);
        let n = &inv["toolExecutionNotifications"][0];
        assert_eq!(n["message"]["text"], "step \"sim\": container exited 137");
    }
}
