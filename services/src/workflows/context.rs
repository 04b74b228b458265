//! What a step's assertions and config bindings can read besides the document: the
//! steps that ran before it (status and outputs), the submission's metadata and the
//! workflow's constants. The step loop keeps it as the run goes.

use serde_json::{Map, Value};
use validibot_types::{Output, StepStatus};

/// An earlier step's result, as later steps see it.
#[derive(Debug, Clone)]
pub struct StepFacts {
    pub key: String,
    pub status: StepStatus,
    pub outputs: Vec<Output>,
}

/// Everything but the document and the step's own outputs.
#[derive(Debug, Clone, Default)]
pub struct RunContext {
    pub steps: Vec<StepFacts>,
    /// The submission's metadata (`X-Validibot-Metadata`, an envelope's `metadata`).
    pub meta: Value,
    /// The workflow's `constants`.
    pub consts: Map<String, Value>,
}

impl RunContext {
    pub fn step(&self, key: &str) -> Option<&StepFacts> {
        self.steps.iter().find(|s| s.key == key)
    }
}

/// Outputs as one object by name (`outputs.site_energy_gj`, `outputs["final.T"]`).
pub fn outputs_object(outputs: &[Output]) -> Map<String, Value> {
    outputs
        .iter()
        .map(|o| (o.name.clone(), o.value.clone()))
        .collect()
}
