//! One FMU from file to output envelope: archive safety, the model description's
//! rules, the platform binary, then (when all of that passed) the simulation.

use std::path::Path;
use std::time::Duration;

use validibot_plugin_api::container::{Metric, OutputEnvelope};

use crate::archive;
use crate::config::Config;
use crate::findings::Findings;
use crate::model::{self, FmiVersion, ModelDescription};
use crate::rules;
use crate::simulation::{self, Ended, Plan, Watched};

/// The platform folder this validator can run, per FMI version.
const PLATFORM_V2: &str = "linux64";
const PLATFORM_V3: &str = "x86_64-linux";
const MAX_DESCRIPTION_BYTES: u64 = 16 << 20;

pub fn run(fmu: &Path, config: &serde_json::Value) -> OutputEnvelope {
    let mut f = Findings::default();
    let mut metrics = Vec::new();
    match Config::from_json(config) {
        Ok(config) => validate(fmu, &config, &mut f, &mut metrics),
        Err(e) => f.error("fmi.config.invalid", e, None),
    }
    OutputEnvelope::from_messages(f.0, metrics)
}

fn metric(
    name: impl Into<String>,
    value: impl Into<serde_json::Value>,
    unit: Option<&str>,
) -> Metric {
    Metric {
        name: name.into(),
        value: value.into(),
        unit: unit.map(str::to_owned),
    }
}

fn validate(fmu: &Path, config: &Config, f: &mut Findings, metrics: &mut Vec<Metric>) {
    let size = std::fs::metadata(fmu).map(|m| m.len()).unwrap_or(0);
    if size > config.max_fmu_bytes {
        f.error(
            "fmi.archive.too_large",
            format!(
                "the FMU is {size} bytes; at most {} are accepted",
                config.max_fmu_bytes
            ),
            None,
        );
        return;
    }
    let work = match tempfile::Builder::new().prefix("validibot-fmi-").tempdir() {
        Ok(d) => d,
        Err(e) => {
            f.error(
                "fmi.runtime.workspace",
                format!("no scratch directory: {e}"),
                None,
            );
            return;
        }
    };
    let unpacked = work.path().join("fmu");
    let limits = archive::Limits {
        max_unpacked_bytes: config.max_unpacked_bytes,
        max_compression_ratio: config.max_compression_ratio,
        max_entries: 10_000,
    };
    let Some(contents) = archive::unpack(fmu, &unpacked, limits, f) else {
        return;
    };
    metrics.push(metric(
        "archive.unpacked_bytes",
        contents.unpacked_bytes,
        Some("B"),
    ));
    let description = unpacked.join("modelDescription.xml");
    if std::fs::metadata(&description)
        .map(|m| m.len())
        .unwrap_or(0)
        > MAX_DESCRIPTION_BYTES
    {
        f.error(
            "fmi.model.too_large",
            "modelDescription.xml is over 16 MiB",
            None,
        );
        return;
    }
    let xml = match std::fs::read(&description).map(String::from_utf8) {
        Ok(Ok(x)) => x,
        _ => {
            f.error(
                "fmi.model.encoding",
                "modelDescription.xml is not UTF-8 text",
                None,
            );
            return;
        }
    };
    let md = match model::parse(&xml) {
        Ok(md) => md,
        Err(e) => {
            f.error(
                "fmi.model.invalid",
                format!("modelDescription.xml: {e}"),
                Some("modelDescription.xml".into()),
            );
            return;
        }
    };
    metrics.push(metric("model.fmi_version", md.fmi_version.clone(), None));
    metrics.push(metric("model.variables", md.variables.len(), None));
    rules::check(&md, f);
    let Some(library) = platform_binary(&md, &unpacked, &contents.names, f) else {
        return;
    };
    if !config.simulate || f.has_errors() {
        return;
    }
    simulate(&md, &library, &unpacked, work.path(), config, f, metrics);
}

/// The Co-Simulation library for this platform, if the FMU can be run here.
fn platform_binary(
    md: &ModelDescription,
    dir: &Path,
    names: &[String],
    f: &mut Findings,
) -> Option<std::path::PathBuf> {
    let Some(cs) = &md.co_simulation else {
        f.warning(
            "fmi.simulation.model_exchange_only",
            "the FMU offers only Model Exchange; it was checked but not simulated (Co-Simulation is)",
            None,
        );
        return None;
    };
    if cs.needs_execution_tool {
        f.warning(
            "fmi.needs_execution_tool",
            "the FMU needs its authoring tool at run time (needsExecutionTool=true); it was checked but not simulated",
            None,
        );
        return None;
    }
    let platform = if md.version == FmiVersion::V2 {
        PLATFORM_V2
    } else {
        PLATFORM_V3
    };
    let rel = format!("binaries/{platform}/{}.so", cs.model_identifier);
    if names.contains(&rel) {
        return Some(dir.join(rel));
    }
    let mut present: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_prefix("binaries/")?.split('/').next())
        .filter(|p| !p.is_empty())
        .collect();
    present.sort();
    present.dedup();
    let has_sources = names.iter().any(|n| n.starts_with("sources/"));
    f.error(
        "fmi.binary.missing",
        format!(
            "{rel} is missing, so the FMU cannot run on this platform (binaries for: {}{})",
            if present.is_empty() {
                "none".into()
            } else {
                present.join(", ")
            },
            if has_sources {
                "; sources are included but are not compiled here"
            } else {
                ""
            }
        ),
        Some(rel),
    );
    None
}

fn simulate(
    md: &ModelDescription,
    library: &Path,
    unpacked: &Path,
    work: &Path,
    config: &Config,
    f: &mut Findings,
    metrics: &mut Vec<Metric>,
) {
    let de = &md.default_experiment;
    let start = config.start_time.or(de.start).unwrap_or(0.0);
    let stop = config.stop_time.or(de.stop).unwrap_or(start + 1.0);
    if stop <= start {
        f.error(
            "fmi.config.interval",
            format!("stop time {stop} is not after start time {start}"),
            None,
        );
        return;
    }
    let step = config
        .step_size
        .or(de.step)
        .unwrap_or((stop - start) / 500.0);
    let steps = (stop - start) / step;
    let variable_step = md
        .co_simulation
        .as_ref()
        .is_some_and(|cs| cs.can_handle_variable_step);
    let stop = if !variable_step && (steps - steps.round()).abs() > 1e-9 && steps >= 1.0 {
        let whole = start + steps.floor() * step;
        f.warning(
            "fmi.simulation.step_alignment",
            format!("the FMU does not accept a shorter last step (canHandleVariableCommunicationStepSize is false): the run stops at t={whole}, not {stop}"),
            None,
        );
        whole
    } else {
        stop
    };
    let float = |v: &model::Variable| {
        v.is_float() && !v.is_array && (md.version == FmiVersion::V2 || v.kind == "Float64")
    };
    let mut watched: Vec<Watched> = md
        .variables
        .iter()
        .filter(|v| v.causality == "output" && float(v))
        .map(|v| Watched {
            name: v.name.clone(),
            vr: v.value_reference,
            min: v.min,
            max: v.max,
            unit: v.unit.clone(),
        })
        .collect();
    let unsampled = md
        .variables
        .iter()
        .filter(|v| v.causality == "output" && !float(v))
        .count();
    if unsampled > 0 {
        f.info(
            "fmi.simulation.unsampled",
            format!("{unsampled} non-float (or array) outputs are not sampled"),
            None,
        );
    }
    for (name, bounds) in &config.bounds {
        match md.variables.iter().find(|v| &v.name == name) {
            Some(v) if float(v) => {
                let w = match watched.iter_mut().find(|w| &w.name == name) {
                    Some(w) => w,
                    None => {
                        watched.push(Watched {
                            name: v.name.clone(),
                            vr: v.value_reference,
                            min: None,
                            max: None,
                            unit: v.unit.clone(),
                        });
                        watched.last_mut().unwrap()
                    }
                };
                w.min = bounds.min.or(w.min);
                w.max = bounds.max.or(w.max);
            }
            _ => f.error(
                "fmi.config.unknown_variable",
                format!("bounds name {name:?}, which is not a float variable of the model"),
                None,
            ),
        }
    }
    let mut parameters = Vec::new();
    for (name, value) in &config.parameters {
        match md.variables.iter().find(|v| &v.name == name) {
            Some(v) if float(v) && matches!(v.causality.as_str(), "parameter" | "input") => {
                parameters.push((v.value_reference, *value))
            }
            _ => f.error(
                "fmi.config.unknown_variable",
                format!("parameters name {name:?}, which is not a float parameter or input"),
                None,
            ),
        }
    }
    if f.has_errors() {
        return;
    }
    let plan = Plan {
        fmi3: md.version == FmiVersion::V3,
        library: library.to_owned(),
        resources: unpacked.join("resources"),
        token: md.token.clone(),
        start,
        stop,
        step,
        tolerance: de.tolerance,
        max_steps: config.max_steps,
        parameters,
        watched: watched.clone(),
        progress: work.join("progress"),
    };
    let limit = Duration::from_secs_f64(config.wall_clock_limit_s);
    let (ended, elapsed) = match simulation::simulate(&plan, work, limit) {
        Ok(r) => r,
        Err(e) => {
            f.error("fmi.runtime.simulation", e, None);
            return;
        }
    };
    metrics.push(metric(
        "simulation.wall_time_s",
        elapsed.as_secs_f64(),
        Some("s"),
    ));
    let outcome =
        match ended {
            Ended::Finished(o) => o,
            Ended::TimedOut(reached) => {
                f.error(
                    "fmi.simulation.timeout",
                    format!(
                    "the simulation did not reach t={stop} within the {}-second wall-clock limit{}",
                    config.wall_clock_limit_s,
                    reached.map(|t| format!(" (it reached t={t})")).unwrap_or_default()
                ),
                    None,
                );
                return;
            }
            Ended::Crashed(how) => {
                f.error(
                    "fmi.simulation.crashed",
                    format!("the FMU's code crashed the simulation: {how}"),
                    None,
                );
                return;
            }
        };
    metrics.push(metric("simulation.steps", outcome.steps, None));
    metrics.push(metric(
        "simulation.reached_time",
        outcome.reached,
        Some("s"),
    ));
    if let Some(e) = &outcome.failure {
        f.error("fmi.simulation.failed", e.clone(), None);
    }
    if let Some((name, t)) = &outcome.non_finite {
        f.error(
            "fmi.simulation.non_finite",
            format!("{name:?} is not finite (NaN or infinite) at t={t}"),
            Some(name.clone()),
        );
    }
    for v in &outcome.violations {
        f.error(
            "fmi.simulation.out_of_bounds",
            format!(
                "{:?} = {} at t={} is {} its {} {} ({} sample{} out of bounds)",
                v.name,
                v.value,
                v.time,
                if v.bound == "min" { "below" } else { "above" },
                v.bound,
                v.limit,
                v.count,
                if v.count == 1 { "" } else { "s" }
            ),
            Some(v.name.clone()),
        );
    }
    if outcome.max_steps_hit {
        f.error(
            "fmi.simulation.max_steps",
            format!(
                "stopped after {} steps (max_steps) at t={}",
                outcome.steps, outcome.reached
            ),
            None,
        );
    }
    if let Some(t) = outcome.terminated_at {
        f.warning(
            "fmi.simulation.terminated_early",
            format!("the FMU ended the simulation at t={t}, before t={stop}"),
            None,
        );
    }
    for (name, value) in &outcome.final_values {
        let unit = watched
            .iter()
            .find(|w| &w.name == name)
            .and_then(|w| w.unit.as_deref());
        metrics.push(metric(format!("final.{name}"), *value, unit));
    }
}
