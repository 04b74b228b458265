//! `modelDescription.xml` read into one shape for FMI 2.0 and 3.0: the interface
//! types, the default experiment and every variable with its causality,
//! variability, initial, start and declared (or type-defined) min/max.

use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FmiVersion {
    V2,
    V3,
}

#[derive(Debug, Clone, Default)]
pub struct Interface {
    pub model_identifier: String,
    pub needs_execution_tool: bool,
    pub can_handle_variable_step: bool,
}

#[derive(Debug, Clone, Default)]
pub struct DefaultExperiment {
    pub start: Option<f64>,
    pub stop: Option<f64>,
    pub tolerance: Option<f64>,
    pub step: Option<f64>,
}

#[derive(Debug, Clone)]
pub struct Variable {
    pub name: String,
    pub value_reference: u32,
    /// The type element: `Real`/`Integer`/… (2.0) or `Float64`/`Int32`/… (3.0).
    pub kind: String,
    pub causality: String,
    /// Explicit, or the version's default for the type.
    pub variability: String,
    pub initial: Option<String>,
    pub start: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub unit: Option<String>,
    /// 3.0 arrays (a `<Dimension>` child): not sampled one by one.
    pub is_array: bool,
    pub line: u32,
}

impl Variable {
    /// A floating-point variable (the only kind that may be continuous).
    pub fn is_float(&self) -> bool {
        matches!(self.kind.as_str(), "Real" | "Float64" | "Float32")
    }
    pub fn is_numeric(&self) -> bool {
        self.is_float()
            || self.kind.starts_with("Int")
            || self.kind.starts_with("UInt")
            || self.kind == "Enumeration"
            || self.kind == "Integer"
    }
    pub fn location(&self) -> Option<String> {
        Some(format!(
            "modelDescription.xml:{} ({})",
            self.line, self.name
        ))
    }
}

#[derive(Debug, Clone)]
pub struct ModelDescription {
    pub version: FmiVersion,
    pub fmi_version: String,
    pub model_name: String,
    /// `guid` (2.0) or `instantiationToken` (3.0).
    pub token: String,
    pub co_simulation: Option<Interface>,
    pub model_exchange: Option<Interface>,
    pub default_experiment: DefaultExperiment,
    pub variables: Vec<Variable>,
}

/// Parses the document; an error is a reason the file cannot be read as an FMI model description.
pub fn parse(xml: &str) -> Result<ModelDescription, String> {
    let doc = roxmltree::Document::parse_with_options(
        xml,
        roxmltree::ParsingOptions {
            allow_dtd: false,
            nodes_limit: 5_000_000,
        },
    )
    .map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "fmiModelDescription" {
        return Err(format!(
            "the root element is <{}>, not <fmiModelDescription>",
            root.tag_name().name()
        ));
    }
    let fmi_version = root.attribute("fmiVersion").unwrap_or_default().to_owned();
    let version = if fmi_version == "2.0" || fmi_version.starts_with("2.0.") {
        FmiVersion::V2
    } else if fmi_version.starts_with("3.") {
        FmiVersion::V3
    } else {
        return Err(format!(
            "fmiVersion {fmi_version:?} is not supported (2.0 and 3.x are)"
        ));
    };
    let token_attr = match version {
        FmiVersion::V2 => "guid",
        FmiVersion::V3 => "instantiationToken",
    };
    let child = |name: &str| root.children().find(|n| n.has_tag_name(name));
    let interface = |name: &str| {
        child(name).map(|n| Interface {
            model_identifier: n
                .attribute("modelIdentifier")
                .unwrap_or_default()
                .to_owned(),
            needs_execution_tool: n.attribute("needsExecutionTool") == Some("true"),
            can_handle_variable_step: n.attribute("canHandleVariableCommunicationStepSize")
                == Some("true"),
        })
    };
    let number =
        |n: roxmltree::Node, a: &str| n.attribute(a).and_then(|v| v.trim().parse::<f64>().ok());
    let default_experiment = child("DefaultExperiment")
        .map(|n| DefaultExperiment {
            start: number(n, "startTime"),
            stop: number(n, "stopTime"),
            tolerance: number(n, "tolerance"),
            step: number(n, "stepSize"),
        })
        .unwrap_or_default();
    let types = type_definitions(child("TypeDefinitions"), version);
    let mut variables = Vec::new();
    if let Some(list) = child("ModelVariables") {
        for node in list.children().filter(|n| n.is_element()) {
            let (attrs, kind) = match version {
                FmiVersion::V2 => {
                    if !node.has_tag_name("ScalarVariable") {
                        continue;
                    }
                    match node.children().find(|n| n.is_element()) {
                        Some(t) => (t, t.tag_name().name().to_owned()),
                        None => (node, String::new()),
                    }
                }
                FmiVersion::V3 => (node, node.tag_name().name().to_owned()),
            };
            let declared = attrs.attribute("declaredType").and_then(|t| types.get(t));
            let start = attrs.attribute("start").map(str::to_owned).or_else(|| {
                // 3.0 String and Binary start values are <Start value="…"/> children.
                node.children()
                    .find(|n| n.has_tag_name("Start"))
                    .and_then(|n| n.attribute("value"))
                    .map(str::to_owned)
            });
            let is_float = matches!(kind.as_str(), "Real" | "Float64" | "Float32");
            let default_variability = if is_float { "continuous" } else { "discrete" };
            variables.push(Variable {
                name: node.attribute("name").unwrap_or_default().to_owned(),
                value_reference: node
                    .attribute("valueReference")
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(u32::MAX),
                causality: node.attribute("causality").unwrap_or("local").to_owned(),
                variability: node
                    .attribute("variability")
                    .unwrap_or(default_variability)
                    .to_owned(),
                initial: node.attribute("initial").map(str::to_owned),
                start,
                min: number(attrs, "min").or(declared.and_then(|d| d.min)),
                max: number(attrs, "max").or(declared.and_then(|d| d.max)),
                unit: attrs
                    .attribute("unit")
                    .map(str::to_owned)
                    .or_else(|| declared.and_then(|d| d.unit.clone())),
                is_array: node.children().any(|n| n.has_tag_name("Dimension")),
                kind,
                line: doc.text_pos_at(node.range().start).row,
            });
        }
    }
    Ok(ModelDescription {
        version,
        fmi_version,
        model_name: root.attribute("modelName").unwrap_or_default().to_owned(),
        token: root.attribute(token_attr).unwrap_or_default().to_owned(),
        co_simulation: interface("CoSimulation"),
        model_exchange: interface("ModelExchange"),
        default_experiment,
        variables,
    })
}

#[derive(Debug, Default)]
struct TypeDefinition {
    min: Option<f64>,
    max: Option<f64>,
    unit: Option<String>,
}

/// `declaredType` targets: 2.0 `<SimpleType name><Real min…/></SimpleType>`, 3.0 `<Float64Type name min…/>`.
fn type_definitions(
    node: Option<roxmltree::Node>,
    version: FmiVersion,
) -> HashMap<String, TypeDefinition> {
    let mut out = HashMap::new();
    let Some(node) = node else { return out };
    for t in node.children().filter(|n| n.is_element()) {
        let (name, attrs) = match version {
            FmiVersion::V2 => (
                t.attribute("name"),
                t.children().find(|n| n.is_element()).unwrap_or(t),
            ),
            FmiVersion::V3 => (t.attribute("name"), t),
        };
        let Some(name) = name else { continue };
        let number = |a: &str| {
            attrs
                .attribute(a)
                .and_then(|v| v.trim().parse::<f64>().ok())
        };
        out.insert(
            name.to_owned(),
            TypeDefinition {
                min: number("min"),
                max: number("max"),
                unit: attrs.attribute("unit").map(str::to_owned),
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fmi2_and_fmi3_read_into_one_shape() {
        let v2 = r#"<?xml version="1.0"?>
<fmiModelDescription fmiVersion="2.0" modelName="decay" guid="{g}">
  <CoSimulation modelIdentifier="decay" canHandleVariableCommunicationStepSize="true"/>
  <TypeDefinitions><SimpleType name="Temp"><Real unit="K" min="0"/></SimpleType></TypeDefinitions>
  <DefaultExperiment startTime="0" stopTime="2" stepSize="0.01"/>
  <ModelVariables>
    <ScalarVariable name="x" valueReference="0" causality="output"><Real declaredType="Temp" start="1"/></ScalarVariable>
    <ScalarVariable name="n" valueReference="1" causality="parameter" variability="fixed"><Integer start="3"/></ScalarVariable>
  </ModelVariables>
</fmiModelDescription>"#;
        let m = parse(v2).unwrap();
        assert_eq!(m.version, FmiVersion::V2);
        assert_eq!(m.token, "{g}");
        assert_eq!(m.co_simulation.as_ref().unwrap().model_identifier, "decay");
        assert_eq!(m.default_experiment.stop, Some(2.0));
        let x = &m.variables[0];
        assert_eq!(
            (
                x.kind.as_str(),
                x.variability.as_str(),
                x.min,
                x.unit.as_deref()
            ),
            ("Real", "continuous", Some(0.0), Some("K"))
        );
        assert_eq!(x.line, 7);
        assert_eq!(m.variables[1].kind, "Integer");

        let v3 = r#"<fmiModelDescription fmiVersion="3.0" modelName="m" instantiationToken="t">
  <CoSimulation modelIdentifier="m" needsExecutionTool="true"/>
  <ModelVariables>
    <Float64 name="time" valueReference="0" causality="independent"/>
    <Int32 name="k" valueReference="1" causality="parameter" variability="fixed" start="2"/>
    <String name="s" valueReference="2" causality="parameter" variability="fixed"><Start value="hi"/></String>
  </ModelVariables>
</fmiModelDescription>"#;
        let m = parse(v3).unwrap();
        assert_eq!(m.version, FmiVersion::V3);
        assert!(m.co_simulation.unwrap().needs_execution_tool);
        assert_eq!(m.variables[1].variability, "fixed");
        assert_eq!(m.variables[2].start.as_deref(), Some("hi"));
    }

    #[test]
    fn unreadable_descriptions_say_why() {
        assert!(parse("<a").unwrap_err().contains("well-formed"));
        assert!(parse("<foo/>").unwrap_err().contains("fmiModelDescription"));
        assert!(parse(r#"<fmiModelDescription fmiVersion="1.0"/>"#)
            .unwrap_err()
            .contains("1.0"));
        let dtd = r#"<!DOCTYPE x [<!ENTITY a "aaaa">]><fmiModelDescription fmiVersion="2.0"/>"#;
        assert!(parse(dtd).is_err(), "no DTDs (entity expansion)");
    }
}
