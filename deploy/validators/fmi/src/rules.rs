//! The static rules of the FMI standard a model description must follow: unique
//! names and value references, legal causality × variability × initial
//! combinations, start values where required (and only there) and within min/max.

use std::collections::HashMap;

use crate::findings::Findings;
use crate::model::{FmiVersion, ModelDescription, Variable};

const VARIABILITIES: [&str; 5] = ["constant", "fixed", "tunable", "discrete", "continuous"];

pub fn check(md: &ModelDescription, f: &mut Findings) {
    let here = Some("modelDescription.xml".to_owned());
    if md.model_name.trim().is_empty() {
        f.error("fmi.model.name", "modelName is missing", here.clone());
    }
    if md.token.trim().is_empty() {
        let what = if md.version == FmiVersion::V2 {
            "guid"
        } else {
            "instantiationToken"
        };
        f.error(
            "fmi.model.token",
            format!("{what} is missing"),
            here.clone(),
        );
    }
    if md.co_simulation.is_none() && md.model_exchange.is_none() {
        f.error(
            "fmi.model.interface",
            "neither <CoSimulation> nor <ModelExchange> is declared",
            here.clone(),
        );
    }
    for i in md.co_simulation.iter().chain(&md.model_exchange) {
        if i.model_identifier.trim().is_empty() || i.model_identifier.contains(['/', '\\', '.']) {
            f.error(
                "fmi.model.identifier",
                format!(
                    "modelIdentifier {:?} is not a plain file name",
                    i.model_identifier
                ),
                here.clone(),
            );
        }
    }
    let de = &md.default_experiment;
    if let (Some(a), Some(b)) = (de.start, de.stop) {
        if b <= a {
            f.error(
                "fmi.experiment.interval",
                format!("DefaultExperiment stopTime {b} is not after startTime {a}"),
                here.clone(),
            );
        }
    }
    if de.step.is_some_and(|h| h.is_nan() || h <= 0.0) {
        f.error(
            "fmi.experiment.step",
            "DefaultExperiment stepSize must be positive",
            here.clone(),
        );
    }
    if de.tolerance.is_some_and(|t| t.is_nan() || t <= 0.0) {
        f.warning(
            "fmi.experiment.tolerance",
            "DefaultExperiment tolerance should be positive",
            here,
        );
    }
    names_and_references(md, f);
    let mut independent = 0;
    for v in &md.variables {
        if v.causality == "independent" {
            independent += 1;
        }
        combination(md.version, v, f);
        start_value(v, f);
    }
    if independent > 1 {
        f.error(
            "fmi.variables.independent",
            format!("{independent} variables are independent; at most one may be"),
            None,
        );
    }
}

fn names_and_references(md: &ModelDescription, f: &mut Findings) {
    let mut names: HashMap<&str, &Variable> = HashMap::new();
    let mut refs: HashMap<(u32, &str), Vec<&Variable>> = HashMap::new();
    for v in &md.variables {
        if v.name.trim().is_empty() {
            f.error("fmi.variables.name", "a variable has no name", v.location());
        } else if let Some(first) = names.insert(&v.name, v) {
            f.error(
                "fmi.variables.duplicate_name",
                format!(
                    "{:?} is declared twice (first on line {})",
                    v.name, first.line
                ),
                v.location(),
            );
        }
        if v.value_reference == u32::MAX {
            f.error(
                "fmi.variables.value_reference",
                format!("{:?} has no valid valueReference", v.name),
                v.location(),
            );
            continue;
        }
        // 2.0: variables of one base type sharing a reference are aliases; 3.0: references are unique.
        let space = if md.version == FmiVersion::V2 {
            v.kind.as_str()
        } else {
            ""
        };
        refs.entry((v.value_reference, space)).or_default().push(v);
    }
    let mut groups: Vec<_> = refs.into_values().filter(|g| g.len() > 1).collect();
    groups.sort_by_key(|g| g[0].line);
    for group in groups {
        let names: Vec<&str> = group.iter().map(|v| v.name.as_str()).collect();
        if md.version == FmiVersion::V3 {
            f.error(
                "fmi.variables.duplicate_value_reference",
                format!(
                    "valueReference {} is used by {}",
                    group[0].value_reference,
                    names.join(", ")
                ),
                group[1].location(),
            );
            continue;
        }
        let with_start = group
            .iter()
            .filter(|v| v.start.is_some() && v.variability != "constant")
            .count();
        if with_start > 1 {
            f.error(
                "fmi.variables.alias_start",
                format!("aliases {} (valueReference {}) have {with_start} start values; at most one may", names.join(", "), group[0].value_reference),
                group[1].location(),
            );
        }
        if group.iter().filter(|v| v.causality == "input").count() > 1 {
            f.error(
                "fmi.variables.alias_inputs",
                format!("aliases {} are more than one input", names.join(", ")),
                group[1].location(),
            );
        }
    }
}

/// The `initial` a variable has when none is given, per the standard's table.
fn default_initial(v: &Variable) -> Option<&'static str> {
    match (v.causality.as_str(), v.variability.as_str()) {
        ("input" | "independent", _) => None,
        ("parameter" | "structuralParameter", _) | (_, "constant") => Some("exact"),
        _ => Some("calculated"),
    }
}

fn allowed_initials(v: &Variable) -> &'static [&'static str] {
    match (v.causality.as_str(), v.variability.as_str()) {
        ("input" | "independent", _) => &[],
        ("parameter" | "structuralParameter", _) | (_, "constant") => &["exact"],
        ("calculatedParameter", _) | ("local", "fixed" | "tunable") => &["approx", "calculated"],
        _ => &["exact", "approx", "calculated"],
    }
}

fn combination(version: FmiVersion, v: &Variable, f: &mut Findings) {
    let causalities: &[&str] = match version {
        FmiVersion::V2 => &[
            "parameter",
            "calculatedParameter",
            "input",
            "output",
            "local",
            "independent",
        ],
        FmiVersion::V3 => &[
            "parameter",
            "calculatedParameter",
            "structuralParameter",
            "input",
            "output",
            "local",
            "independent",
        ],
    };
    if !causalities.contains(&v.causality.as_str()) {
        f.error(
            "fmi.variables.causality",
            format!("{:?}: causality {:?} does not exist", v.name, v.causality),
            v.location(),
        );
        return;
    }
    if !VARIABILITIES.contains(&v.variability.as_str()) {
        f.error(
            "fmi.variables.variability",
            format!(
                "{:?}: variability {:?} does not exist",
                v.name, v.variability
            ),
            v.location(),
        );
        return;
    }
    let legal = match v.variability.as_str() {
        "constant" => matches!(v.causality.as_str(), "output" | "local"),
        "fixed" | "tunable" => matches!(
            v.causality.as_str(),
            "parameter" | "calculatedParameter" | "structuralParameter" | "local"
        ),
        "discrete" => matches!(v.causality.as_str(), "input" | "output" | "local"),
        _ => matches!(
            v.causality.as_str(),
            "input" | "output" | "local" | "independent"
        ),
    };
    if !legal {
        f.error(
            "fmi.variables.illegal_combination",
            format!(
                "{:?}: causality {:?} cannot have variability {:?}",
                v.name, v.causality, v.variability
            ),
            v.location(),
        );
    }
    if v.variability == "continuous" && !v.is_float() {
        f.error(
            "fmi.variables.illegal_combination",
            format!(
                "{:?}: only float variables can be continuous, not {}",
                v.name, v.kind
            ),
            v.location(),
        );
    }
    if v.causality == "independent" && !v.is_float() {
        f.error(
            "fmi.variables.independent",
            format!("{:?}: the independent variable must be a float", v.name),
            v.location(),
        );
    }
    if let Some(initial) = &v.initial {
        if !allowed_initials(v).contains(&initial.as_str()) {
            f.error(
                "fmi.variables.initial",
                format!(
                    "{:?}: initial {initial:?} is not allowed for causality {:?} and variability {:?}",
                    v.name, v.causality, v.variability
                ),
                v.location(),
            );
        }
    }
}

fn start_value(v: &Variable, f: &mut Findings) {
    let initial = v.initial.as_deref().or(default_initial(v));
    let required = v.causality == "input" || matches!(initial, Some("exact" | "approx"));
    let forbidden = v.causality == "independent" || initial == Some("calculated");
    match (&v.start, required, forbidden) {
        (None, true, _) => f.error(
            "fmi.variables.missing_start",
            format!(
                "{:?} ({}, {}) needs a start value",
                v.name, v.causality, v.variability
            ),
            v.location(),
        ),
        (Some(_), _, true) => f.error(
            "fmi.variables.unexpected_start",
            format!(
                "{:?} must not have a start value (its initial is calculated)",
                v.name
            ),
            v.location(),
        ),
        _ => {}
    }
    if let (Some(lo), Some(hi)) = (v.min, v.max) {
        if lo > hi {
            f.error(
                "fmi.variables.bounds",
                format!("{:?}: min {lo} is above max {hi}", v.name),
                v.location(),
            );
        }
    }
    let Some(start) = v.start.as_deref().filter(|_| v.is_numeric() && !v.is_array) else {
        return;
    };
    let Ok(value) = start.trim().parse::<f64>() else {
        f.error(
            "fmi.variables.start",
            format!("{:?}: start {start:?} is not a number", v.name),
            v.location(),
        );
        return;
    };
    if !v.is_float() && value.fract() != 0.0 {
        f.error(
            "fmi.variables.start",
            format!("{:?}: start {start:?} is not an integer", v.name),
            v.location(),
        );
    }
    if v.min.is_some_and(|lo| value < lo) || v.max.is_some_and(|hi| value > hi) {
        f.error(
            "fmi.variables.start_out_of_range",
            format!(
                "{:?}: start {value} is outside [{}, {}]",
                v.name,
                fmt(v.min),
                fmt(v.max)
            ),
            v.location(),
        );
    }
}

fn fmt(x: Option<f64>) -> String {
    x.map_or("…".into(), |x| x.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;

    fn codes(variables: &str, version: &str) -> Vec<String> {
        let token = if version == "2.0" {
            "guid"
        } else {
            "instantiationToken"
        };
        let xml = format!(
            r#"<fmiModelDescription fmiVersion="{version}" modelName="m" {token}="g"><CoSimulation modelIdentifier="m"/><ModelVariables>{variables}</ModelVariables></fmiModelDescription>"#
        );
        let mut f = Findings::default();
        check(&parse(&xml).unwrap(), &mut f);
        f.codes().iter().map(|s| s.to_string()).collect()
    }

    fn v2(name: &str, vr: u32, attrs: &str, ty: &str) -> String {
        format!(
            r#"<ScalarVariable name="{name}" valueReference="{vr}" {attrs}><{ty}/></ScalarVariable>"#
        )
    }

    #[test]
    fn a_sound_fmi2_description_passes() {
        let vars = [
            v2(
                "k",
                0,
                r#"causality="parameter" variability="fixed""#,
                r#"Real start="0.5" min="0""#,
            ),
            v2(
                "x",
                1,
                r#"causality="output" initial="exact""#,
                r#"Real start="1""#,
            ),
            v2("u", 2, r#"causality="input""#, r#"Real start="0""#),
            v2("x_alias", 1, r#"causality="local""#, "Real"),
            v2(
                "n",
                1,
                r#"causality="output" variability="discrete""#,
                "Integer",
            ),
        ];
        assert_eq!(codes(&vars.concat(), "2.0"), Vec::<String>::new());
    }

    #[test]
    fn each_rule_has_its_code() {
        let cases = [
            (
                v2(
                    "a",
                    0,
                    r#"causality="input" variability="fixed""#,
                    r#"Real start="1""#,
                ),
                "fmi.variables.illegal_combination",
            ),
            (
                v2(
                    "a",
                    0,
                    r#"causality="output" variability="continuous""#,
                    "Integer",
                ),
                "fmi.variables.illegal_combination",
            ),
            (
                v2(
                    "a",
                    0,
                    r#"causality="parameter" variability="fixed""#,
                    "Real",
                ),
                "fmi.variables.missing_start",
            ),
            (
                v2("a", 0, r#"causality="output""#, r#"Real start="1""#),
                "fmi.variables.unexpected_start",
            ),
            (
                v2(
                    "a",
                    0,
                    r#"causality="parameter" variability="fixed""#,
                    r#"Real start="5" max="2""#,
                ),
                "fmi.variables.start_out_of_range",
            ),
            (
                v2(
                    "a",
                    0,
                    r#"causality="input" initial="exact""#,
                    r#"Real start="1""#,
                ),
                "fmi.variables.initial",
            ),
            (
                v2("a", 0, r#"causality="sideways""#, "Real"),
                "fmi.variables.causality",
            ),
            (
                v2(
                    "a",
                    0,
                    r#"causality="parameter" variability="fixed""#,
                    r#"Integer start="1.5""#,
                ),
                "fmi.variables.start",
            ),
            (
                v2("a", 0, r#"causality="independent""#, r#"Real start="0""#),
                "fmi.variables.unexpected_start",
            ),
        ];
        for (var, code) in cases {
            assert_eq!(codes(&var, "2.0"), [code], "{var}");
        }
        let twice = [
            v2("a", 0, r#"causality="output""#, "Real"),
            v2("a", 1, r#"causality="output""#, "Real"),
        ]
        .concat();
        assert_eq!(codes(&twice, "2.0"), ["fmi.variables.duplicate_name"]);
        let aliases = [
            v2("a", 0, r#"causality="input""#, r#"Real start="1""#),
            v2("b", 0, r#"causality="input""#, r#"Real start="2""#),
        ]
        .concat();
        assert_eq!(
            codes(&aliases, "2.0"),
            ["fmi.variables.alias_start", "fmi.variables.alias_inputs"]
        );
    }

    #[test]
    fn fmi3_references_are_unique_and_structural_parameters_exist() {
        let vars = r#"<Float64 name="a" valueReference="1" causality="output"/><Int32 name="b" valueReference="1" causality="output"/>"#;
        assert_eq!(
            codes(vars, "3.0"),
            ["fmi.variables.duplicate_value_reference"]
        );
        let sp = r#"<UInt64 name="n" valueReference="1" causality="structuralParameter" variability="fixed" start="3"/>"#;
        assert_eq!(codes(sp, "3.0"), Vec::<String>::new());
    }
}
