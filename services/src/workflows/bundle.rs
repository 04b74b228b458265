//! A workflow as one self-contained file, to move it to another workspace or instance:
//! its definition (everything a run depends on, in the shape `POST …/workflows` takes)
//! and the validators its steps pin — slug, version and the digest of what runs (a
//! component's sha256, an image's ID) — so an import can tell when the other side would
//! run something else — and the steps' files, so the bundle is all another instance needs.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use validibot_blobs::BlobStore;
use validibot_engines::plugins::PluginRegistry;
use validibot_store::workflows::{Step, Workflow};

use crate::validators::images::ContainerValidator;

/// The bundle format this instance writes and reads.
pub const FORMAT: &str = "validibot.workflow-bundle.v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    pub format: String,
    /// Where it came from (informational): slug, version and digest.
    pub source: Source,
    /// The definition, as `POST …/workflows` takes it.
    pub definition: Value,
    /// What each step ran on the exporting instance.
    pub validators: Vec<Pinned>,
    /// The bytes of every file the steps name, once each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<BundledFile>,
}

/// A step file's bytes in a bundle.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BundledFile {
    pub sha256: String,
    pub name: String,
    pub media_type: String,
    pub content_base64: String,
}

impl BundledFile {
    /// The bytes, checked against the sha256 the bundle gives.
    pub fn bytes(&self) -> Result<Vec<u8>, String> {
        use sha2::Digest;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.content_base64)
            .map_err(|e| format!("file {:?}: not base64: {e}", self.name))?;
        let actual = hex::encode(sha2::Sha256::digest(&bytes));
        if actual != self.sha256 {
            return Err(format!(
                "file {:?}: its content's sha256 is {actual}, not {}",
                self.name, self.sha256
            ));
        }
        Ok(bytes)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub slug: String,
    pub version: i64,
    pub digest: String,
}

/// A step's validator as the exporting instance pinned it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Pinned {
    pub step: String,
    pub slug: String,
    pub version: String,
    /// sha256 of the WASM component, or the image ID; `None` when unknown here.
    pub digest: Option<String>,
}

/// The bundle of a stored workflow version, with its steps' files read from `blobs`.
pub async fn export(
    wf: &Workflow,
    registry: &PluginRegistry,
    containers: &[ContainerValidator],
    blobs: &BlobStore,
) -> anyhow::Result<Bundle> {
    let mut files: Vec<BundledFile> = Vec::new();
    for f in wf.steps.iter().flat_map(|s| &s.files) {
        if files.iter().any(|b| b.sha256 == f.sha256) {
            continue;
        }
        let bytes = blobs.read(&f.sha256).await?;
        files.push(BundledFile {
            sha256: f.sha256.clone(),
            name: f.name.clone(),
            media_type: f.media_type.clone(),
            content_base64: base64::engine::general_purpose::STANDARD.encode(bytes),
        });
    }
    Ok(Bundle {
        format: FORMAT.into(),
        source: Source {
            slug: wf.slug.clone(),
            version: wf.version,
            digest: wf.digest.clone(),
        },
        definition: definition_of(wf),
        validators: wf
            .steps
            .iter()
            .map(|s| Pinned {
                step: s.key.clone(),
                slug: s.validator.clone(),
                version: s.validator_version.clone(),
                digest: digest_of(s, registry, containers),
            })
            .collect(),
        files,
    })
}

/// What runs for `step` on this instance.
fn digest_of(
    step: &Step,
    registry: &PluginRegistry,
    containers: &[ContainerValidator],
) -> Option<String> {
    match registry.get_version(&step.validator, &step.validator_version) {
        Some(p) => Some(p.meta.sha256.clone()),
        None => containers
            .iter()
            .find(|c| c.slug == step.validator && c.version == step.validator_version)
            .map(|c| c.image_id.clone()),
    }
}

/// A stored version back as a definition (the input shape; defaults left out).
pub fn definition_of(wf: &Workflow) -> Value {
    let steps: Vec<Value> = wf
        .steps
        .iter()
        .map(|s| {
            let mut step =
                json!({"key": s.key, "name": s.name, "validator": s.validator, "config": s.config});
            if let Some(r) = &s.ruleset {
                step["ruleset"] = r.clone();
            }
            if !s.assertions.is_empty() {
                step["assertions"] = json!(s.assertions);
            }
            if let Some(d) = &s.depends_on {
                step["depends_on"] = json!(d);
            }
            if !s.on_failure.is_stop() {
                step["on_failure"] = json!(s.on_failure.as_str());
            }
            if let Some(w) = &s.run_when {
                step["when"] = json!(w);
            }
            if !s.files.is_empty() {
                let files: Vec<Value> = s
                    .files
                    .iter()
                    .map(
                        |f| json!({"name": f.name, "sha256": f.sha256, "media_type": f.media_type}),
                    )
                    .collect();
                step["files"] = json!(files);
            }
            step
        })
        .collect();
    let mut def = json!({
        "slug": wf.slug, "name": wf.name, "description": wf.description,
        "timeout_seconds": wf.timeout_seconds, "content_types": wf.content_types,
        "steps": steps,
    });
    if !wf.constants.is_empty() {
        def["constants"] = Value::Object(wf.constants.clone());
    }
    if let Some(mib) = wf.validator_memory_mib {
        def["validator_memory_mib"] = json!(mib);
    }
    if let Some(days) = wf.retention_days {
        def["retention_days"] = json!(days);
    }
    if !wf.store_submission {
        def["store_submission"] = json!(false);
    }
    def
}

/// Where the importing side would run something other than what the bundle pinned:
/// one entry per step (`step`, `validator`, what was pinned, what would run here).
pub fn mismatches(
    bundle: &Bundle,
    imported: &[Step],
    registry: &PluginRegistry,
    containers: &[ContainerValidator],
) -> Vec<Value> {
    imported
        .iter()
        .filter_map(|s| {
            let pinned = bundle.validators.iter().find(|p| p.step == s.key);
            let here = (
                s.validator_version.clone(),
                digest_of(s, registry, containers),
            );
            let same = pinned.is_some_and(|p| {
                p.slug == s.validator
                    && p.version == here.0
                    && (p.digest.is_none() || p.digest == here.1)
            });
            (!same).then(|| {
                json!({"step": s.key, "validator": s.validator,
                       "pinned": pinned.map(|p| json!({"version": p.version, "digest": p.digest})),
                       "here": {"version": here.0, "digest": here.1}})
            })
        })
        .collect()
}
