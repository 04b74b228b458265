//! A workflow definition as submitted (JSON or the YAML-free example files),
//! checked against the installed validators before anything is stored.

use serde::Deserialize;
use sha2::{Digest, Sha256};

use validibot_types::WorkflowSlug;

use super::graph::Graph;
use super::step_files::{self, Catalog, FileRef};
use super::{assertions, bindings, context::RunContext};
use crate::validators::images::ContainerValidator;
use validibot_engines::plugins::PluginRegistry;
pub use validibot_store::workflows::Definition;
use validibot_store::workflows::{Assertion, OnFailure, Step};

pub const MAX_STEPS: usize = 50;
pub const DEFAULT_TIMEOUT_SECONDS: i64 = 300;
/// Slugs that name actions under `…/workflows/` rather than workflows.
const RESERVED_SLUGS: &[&str] = &["import"];
/// The largest `constants` object, as JSON text.
pub const MAX_CONSTANTS_BYTES: usize = 64 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinitionInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub timeout_seconds: Option<i64>,
    pub content_types: Option<Vec<String>>,
    /// Days the workflow's runs are kept after they finish (overrides the instance).
    pub retention_days: Option<i64>,
    /// False: runs keep the document's hash and findings, never its bytes.
    #[serde(default = "yes")]
    pub store_submission: bool,
    /// The base memory cap of the workflow's WASM validator calls, in MiB (at most the
    /// instance's maximum).
    pub validator_memory_mib: Option<i64>,
    /// Values assertions (`consts.x`) and config bindings (`${consts.x}`) read.
    #[serde(default)]
    pub constants: serde_json::Map<String, serde_json::Value>,
    pub steps: Vec<StepInput>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepInput {
    pub key: String,
    pub name: Option<String>,
    pub validator: String,
    #[serde(default = "empty_object")]
    pub config: serde_json::Value,
    pub ruleset: Option<serde_json::Value>,
    #[serde(default)]
    pub assertions: Vec<Assertion>,
    /// Keys of earlier steps this one waits for (default: the previous step).
    pub depends_on: Option<Vec<String>>,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// CEL: the step runs only when this holds.
    pub when: Option<String>,
    /// Files handed to the validator with the document.
    #[serde(default)]
    pub files: Vec<FileRef>,
}

fn yes() -> bool {
    true
}

fn empty_object() -> serde_json::Value {
    serde_json::json!({})
}

/// Why a definition was refused; `errors` carries per-step detail (e.g. config findings).
#[derive(Debug)]
pub struct DefinitionError {
    pub code: &'static str,
    pub detail: String,
    pub errors: Vec<serde_json::Value>,
}

impl DefinitionError {
    fn new(code: &'static str, detail: impl Into<String>) -> Self {
        DefinitionError {
            code,
            detail: detail.into(),
            errors: vec![],
        }
    }
}

impl DefinitionInput {
    /// The sha256s the steps' files name (to look up in the workspace's uploads).
    pub fn named_files(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .flat_map(|s| s.files.iter().filter_map(|f| f.sha256.as_deref()))
    }

    /// Checks shape, slugs, validators, each step's config (by asking the validator)
    /// and files (against `files`, what the workspace uploaded).
    pub async fn validate(
        self,
        slug_from_path: Option<&str>,
        registry: &PluginRegistry,
        containers: &[ContainerValidator],
        files: &Catalog,
    ) -> Result<Definition, DefinitionError> {
        let slug = match (slug_from_path, self.slug.as_deref()) {
            (Some(p), Some(b)) if p != b => {
                return Err(DefinitionError::new(
                    "SLUG_MISMATCH",
                    format!("body slug {b:?} differs from the URL's {p:?}"),
                ))
            }
            (Some(p), _) => p.to_owned(),
            (None, Some(b)) => b.to_owned(),
            (None, None) => {
                return Err(DefinitionError::new("INVALID_WORKFLOW", "slug is required"))
            }
        };
        if let Err(e) = WorkflowSlug::parse(&slug) {
            return Err(DefinitionError::new("INVALID_WORKFLOW", e.to_string()));
        }
        if RESERVED_SLUGS.contains(&slug.as_str()) {
            return Err(DefinitionError::new(
                "INVALID_WORKFLOW",
                format!("{slug:?} is reserved (POST …/workflows/{slug} is an action)"),
            ));
        }
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(DefinitionError::new(
                "INVALID_WORKFLOW",
                format!("a workflow needs 1 to {MAX_STEPS} steps"),
            ));
        }
        let timeout_seconds = self.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
        if !(1..=86_400).contains(&timeout_seconds) {
            return Err(DefinitionError::new(
                "INVALID_WORKFLOW",
                "timeout_seconds must be between 1 and 86400",
            ));
        }
        if let Some(days) = self.retention_days {
            if !(1..=36_500).contains(&days) {
                return Err(DefinitionError::new(
                    "INVALID_WORKFLOW",
                    "retention_days must be between 1 and 36500",
                ));
            }
        }
        if let Some(mib) = self.validator_memory_mib {
            check_memory(mib, registry)?;
        }
        check_constants(&self.constants)?;
        let consts = self.constants;
        let keys: Vec<&str> = self.steps.iter().map(|s| s.key.as_str()).collect();
        let named: Vec<Option<&[String]>> =
            self.steps.iter().map(|s| s.depends_on.as_deref()).collect();
        let graph = Graph::new(&keys, &named).map_err(|(i, detail)| DefinitionError {
            code: "INVALID_WORKFLOW",
            detail: "the workflow has invalid steps".into(),
            errors: vec![serde_json::json!({"step": i, "key": keys[i], "detail": detail})],
        })?;
        // What each step's expressions may read of other steps: what it waits for.
        let upstream: Vec<Vec<String>> = graph
            .upstream
            .iter()
            .map(|up| up.iter().map(|&j| keys[j].to_owned()).collect())
            .collect();
        let mut steps = Vec::with_capacity(self.steps.len());
        let mut errors = Vec::new();
        let mut features: Vec<String> = Vec::new();
        let mut first_types = None;
        for (i, s) in self.steps.into_iter().enumerate() {
            if !WorkflowSlug::is_valid(&s.key) || steps.iter().any(|p: &Step| p.key == s.key) {
                errors.push(serde_json::json!({"step": i, "key": s.key, "detail": "step keys must be unique slugs"}));
                continue;
            }
            if s.assertions.len() > assertions::MAX_ASSERTIONS {
                errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!("a step may have {} assertions", assertions::MAX_ASSERTIONS)}));
                continue;
            }
            let earlier: Vec<&str> = upstream[i].iter().map(String::as_str).collect();
            let found = bindings::find(&s.config)
                .and_then(|b| bindings::check(&b, &earlier, &consts).map(|()| b));
            let bound = match found {
                Ok(b) => b,
                Err(detail) => {
                    errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!("config binding {detail}")}));
                    continue;
                }
            };
            let attached = match step_files::resolve(&s.files, files) {
                Ok(f) => f,
                Err(detail) => {
                    errors.push(serde_json::json!({"step": i, "key": s.key, "detail": detail}));
                    continue;
                }
            };
            if s.ruleset.is_some() && s.validator != RULES_VALIDATOR {
                errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!(
                    "a ruleset is only read by the {RULES_VALIDATOR:?} validator, not {:?}: write these checks as the step's assertions, or add a {RULES_VALIDATOR:?} step with these rules",
                    s.validator
                )}));
                continue;
            }
            let plugin = registry.get(&s.validator);
            // Latest registered version first (the list is newest first).
            let container = containers.iter().find(|c| c.slug == s.validator);
            if plugin.is_none() {
                if let Some(c) = container {
                    if !s.config.is_object() {
                        errors.push(serde_json::json!({"step": i, "key": s.key, "detail": "a container validator's config must be a JSON object"}));
                    }
                    if !features.contains(&c.feature) {
                        features.push(c.feature.clone());
                    }
                    first_types.get_or_insert_with(|| c.content_types.clone());
                    steps.push(Step {
                        position: i as i64,
                        name: s.name.unwrap_or_else(|| s.key.clone()),
                        key: s.key,
                        validator: s.validator,
                        validator_version: c.version.clone(),
                        config_text: s.config.to_string(),
                        config: s.config,
                        ruleset: s.ruleset,
                        assertions: s.assertions,
                        depends_on: s.depends_on,
                        on_failure: s.on_failure,
                        run_when: s.when,
                        files: attached,
                    });
                    continue;
                }
            }
            let Some(plugin) = plugin else {
                errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!("unknown validator {:?}", s.validator)}));
                continue;
            };
            first_types.get_or_insert_with(|| plugin.meta.content_types.clone());
            if !attached.is_empty() && plugin.meta.wit_version.starts_with("1.0.") {
                errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!(
                    "validator {:?} was built for validibot:validator@{}, which cannot receive step files (added in 1.1); rebuild it with a 1.1 plugin SDK or remove the step's files",
                    s.validator, plugin.meta.wit_version
                )}));
                continue;
            }
            let pinned = plugin.meta.version.clone();
            // A config with bindings is checked as it will run: with the constants in place
            // now, or — when it reads earlier steps or the metadata — by the validator when
            // the step runs.
            let to_check = if bound.is_empty() {
                Some(s.config.clone())
            } else if bindings::known_at_save(&bound) {
                let ctx = RunContext {
                    consts: consts.clone(),
                    ..RunContext::default()
                };
                bindings::resolve(&s.config, &ctx).ok()
            } else {
                None
            };
            // A rules step's ruleset is checked with its config, as the validator will read them.
            let (config_text, ruleset_at) = match (&s.ruleset, &to_check) {
                (_, None) => (String::new(), usize::MAX),
                (Some(ruleset), Some(config)) => match with_ruleset(config, ruleset) {
                    Ok(merged) => merged,
                    Err(detail) => {
                        errors.push(serde_json::json!({"step": i, "key": s.key, "detail": detail}));
                        continue;
                    }
                },
                (None, Some(config)) => (config.to_string(), usize::MAX),
            };
            let checked = match to_check {
                None => Ok(Ok(Ok(()))),
                Some(_) => {
                    tokio::task::spawn_blocking(move || plugin.validate_config(&config_text))
                        .await
                        .map(|r| r.map(|r| r.map_err(|f| ruleset_paths(f, ruleset_at))))
                }
            };
            match checked {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(findings))) => errors.push(serde_json::json!({"step": i, "key": s.key, "detail": "invalid step config", "findings": findings})),
                Ok(Err(call)) => errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!("validator could not check the config: {call}")})),
                Err(join) => errors.push(serde_json::json!({"step": i, "key": s.key, "detail": format!("config check crashed: {join}")})),
            }
            steps.push(Step {
                position: i as i64,
                name: s.name.unwrap_or_else(|| s.key.clone()),
                key: s.key,
                validator: s.validator,
                validator_version: pinned,
                config_text: s.config.to_string(),
                config: s.config,
                ruleset: s.ruleset,
                assertions: s.assertions,
                depends_on: s.depends_on,
                on_failure: s.on_failure,
                run_when: s.when,
                files: attached,
            });
        }
        let content_types = match self.content_types {
            Some(c) if !c.is_empty() => c,
            _ => first_types.unwrap_or_default(),
        };
        errors.extend(check_assertions(registry, &steps, &upstream, &content_types, &consts).await);
        if !errors.is_empty() {
            return Err(DefinitionError {
                code: "INVALID_WORKFLOW",
                detail: "the workflow has invalid steps".into(),
                errors,
            });
        }
        let digest = digest(
            timeout_seconds,
            &content_types,
            &steps,
            &consts,
            self.validator_memory_mib,
        );
        Ok(Definition {
            name: self.name.unwrap_or_else(|| slug.clone()),
            slug,
            description: self.description,
            timeout_seconds,
            content_types,
            steps,
            constants: consts,
            retention_days: self.retention_days,
            store_submission: self.store_submission,
            validator_memory_mib: self.validator_memory_mib,
            digest,
            features,
        })
    }
}

/// A workflow's memory cap: at least 16 MiB, at most what the instance allows any call.
fn check_memory(mib: i64, registry: &PluginRegistry) -> Result<(), DefinitionError> {
    let max = registry
        .limits()
        .memory_max_bytes
        .max(registry.limits().memory_bytes)
        >> 20;
    if mib < 16 || mib as u64 > max as u64 {
        return Err(DefinitionError::new(
            "INVALID_WORKFLOW",
            format!(
                "validator_memory_mib must be between 16 and {max}, this instance's maximum \
                 (VALIDIBOT_VALIDATOR_MEMORY_MAX_MIB; `validibot check --validator-memory-max-mib`)"
            ),
        ));
    }
    Ok(())
}

/// `constants`: identifiers as names (CEL reads them as `consts.<name>`), bounded in size.
fn check_constants(
    consts: &serde_json::Map<String, serde_json::Value>,
) -> Result<(), DefinitionError> {
    for name in consts.keys() {
        let ident = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ident {
            return Err(DefinitionError::new(
                "INVALID_WORKFLOW",
                format!(
                    "constant {name:?}: names are letters, digits and _, not starting with a digit"
                ),
            ));
        }
    }
    let size = serde_json::Value::Object(consts.clone()).to_string().len();
    if size > MAX_CONSTANTS_BYTES {
        return Err(DefinitionError::new(
            "INVALID_WORKFLOW",
            format!("constants are {size} bytes of JSON; the limit is {MAX_CONSTANTS_BYTES}"),
        ));
    }
    Ok(())
}

/// Compiles every step's assertions with the names they may use (the document unless
/// no accepted media type is parsed, earlier steps, the constants): one error per step.
/// A step's `when` is compiled the same way, without `outputs` (it is decided before
/// the step runs).
async fn check_assertions(
    registry: &PluginRegistry,
    steps: &[Step],
    upstream: &[Vec<String>],
    content_types: &[String],
    consts: &serde_json::Map<String, serde_json::Value>,
) -> Vec<serde_json::Value> {
    let mut errors = Vec::new();
    let parsed = content_types
        .iter()
        .any(|t| assertions::format_for(t) != "none");
    for step in steps {
        let i = step.position as usize;
        if step.assertions.is_empty() && step.run_when.is_none() {
            continue;
        }
        let Some(evaluator) = registry.get(assertions::EVALUATOR) else {
            errors.push(serde_json::json!({"step": i, "key": step.key, "detail": "the assertion evaluator (the built-in rules validator) is missing"}));
            continue;
        };
        let earlier: Vec<&str> = upstream[i].iter().map(String::as_str).collect();
        let variables = assertions::save_variables(&earlier, consts);
        let format = if parsed { "json" } else { "none" };
        let mut configs = Vec::new();
        if !step.assertions.is_empty() {
            configs.push((
                "assertion",
                assertions::config(step, format, variables.clone()),
            ));
        }
        if let Some(when) = &step.run_when {
            configs.push(("when", assertions::when_config(when, format, variables)));
        }
        for (what, config) in configs {
            if let Some(e) = check_one(&evaluator, i, step, what, config.to_string()).await {
                errors.push(e);
            }
        }
    }
    errors
}

/// One evaluator config checked; the error to report, if any.
async fn check_one(
    evaluator: &std::sync::Arc<validibot_engines::plugins::Plugin>,
    i: usize,
    step: &Step,
    what: &str,
    config: String,
) -> Option<serde_json::Value> {
    let evaluator = evaluator.clone();
    let checked = tokio::task::spawn_blocking(move || evaluator.validate_config(&config)).await;
    let detail = match checked {
        Ok(Ok(Ok(()))) => return None,
        Ok(Ok(Err(findings))) => {
            let findings = if what == "when" {
                assertions::when_findings(findings)
            } else {
                assertions::config_findings(findings)
            };
            return Some(serde_json::json!({"step": i, "key": step.key,
                    "detail": format!("invalid {what}"), "findings": findings}));
        }
        Ok(Err(call)) => format!("the {what} could not be checked: {call}"),
        Err(join) => format!("the {what} check crashed: {join}"),
    };
    Some(serde_json::json!({"step": i, "key": step.key, "detail": detail}))
}

/// The one validator that reads a step's `ruleset` (other steps have assertions).
const RULES_VALIDATOR: &str = "rules";

/// A `rules` config with the step's ruleset appended to its `rules`, as the validator
/// merges them at run time, and the index where the ruleset's rules start.
fn with_ruleset(
    config: &serde_json::Value,
    ruleset: &serde_json::Value,
) -> Result<(String, usize), String> {
    let extra = ruleset
        .get("rules")
        .and_then(serde_json::Value::as_array)
        .or(ruleset.as_array())
        .ok_or("the step's ruleset must be a list of rules or {\"rules\": [...]}")?;
    let mut merged = config.clone();
    let Some(rules) = merged
        .get_mut("rules")
        .and_then(serde_json::Value::as_array_mut)
    else {
        // Let the validator explain the config itself.
        return Ok((config.to_string(), usize::MAX));
    };
    let at = rules.len();
    rules.extend(extra.iter().cloned());
    Ok((merged.to_string(), at))
}

/// Points findings about appended rules back at the ruleset (`/rules/7` → `/ruleset/2`).
fn ruleset_paths(
    mut findings: Vec<validibot_types::Finding>,
    at: usize,
) -> Vec<validibot_types::Finding> {
    for f in &mut findings {
        let Some(rest) = f.path.strip_prefix("/rules/") else {
            continue;
        };
        let (index, tail) = rest.split_once('/').map_or((rest, ""), |(i, t)| (i, t));
        if let Some(i) = index.parse::<usize>().ok().filter(|i| *i >= at) {
            let sep = if tail.is_empty() { "" } else { "/" };
            f.path = format!("/ruleset/{}{sep}{tail}", i - at);
        }
    }
    findings
}

/// sha256 of the canonical JSON of everything that decides a run's result.
/// Assertions, constants and a memory cap count only when present, so a workflow saved
/// before they existed keeps its digest.
pub fn digest(
    timeout_seconds: i64,
    content_types: &[String],
    steps: &[Step],
    constants: &serde_json::Map<String, serde_json::Value>,
    validator_memory_mib: Option<i64>,
) -> String {
    // serde_json's map is ordered by key, so `to_string` is canonical here.
    let mut canonical = serde_json::json!({
        "timeout_seconds": timeout_seconds,
        "content_types": content_types,
        "steps": steps.iter().map(|s| {
            let mut step = serde_json::json!({
                "key": s.key, "validator": s.validator, "validator_version": s.validator_version,
                "config": s.config, "ruleset": s.ruleset,
            });
            if !s.assertions.is_empty() {
                step["assertions"] = serde_json::json!(s.assertions);
            }
            if let Some(deps) = &s.depends_on {
                step["depends_on"] = serde_json::json!(deps);
            }
            if !s.on_failure.is_stop() {
                step["on_failure"] = serde_json::json!(s.on_failure.as_str());
            }
            if let Some(when) = &s.run_when {
                step["when"] = serde_json::json!(when);
            }
            if !s.files.is_empty() {
                let files: Vec<_> = s.files.iter().map(|f| serde_json::json!({"name": f.name, "sha256": f.sha256, "media_type": f.media_type})).collect();
                step["files"] = serde_json::json!(files);
            }
            step
        }).collect::<Vec<_>>(),
    });
    if !constants.is_empty() {
        canonical["constants"] = serde_json::Value::Object(constants.clone());
    }
    if let Some(mib) = validator_memory_mib {
        canonical["validator_memory_mib"] = serde_json::json!(mib);
    }
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
    )
}
