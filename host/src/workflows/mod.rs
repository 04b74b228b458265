//! Workflows: a slug, an integer version and ordered steps, each run by a validator.
//! A version that has runs is immutable; editing it creates the next version.

pub mod definition;
pub mod store;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub position: i64,
    pub key: String,
    pub name: String,
    pub validator: String,
    pub validator_version: String,
    pub config: serde_json::Value,
    /// `config` as stored (validators cache compiled configs by this text).
    #[serde(skip)]
    pub config_text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ruleset: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Workflow {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub workspace_id: String,
    pub slug: String,
    pub version: i64,
    pub name: String,
    pub description: String,
    pub timeout_seconds: i64,
    pub content_types: Vec<String>,
    pub digest: String,
    pub steps: Vec<Step>,
    #[serde(serialize_with = "crate::clock::serialize_us")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::clock::serialize_us")]
    pub updated_at: i64,
}

impl Workflow {
    pub fn accepts(&self, content_type: &str) -> bool {
        self.content_types
            .iter()
            .any(|p| crate::media_types::matches(p, content_type))
    }
}
