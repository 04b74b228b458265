//! The evidence manifest of a finished run and its signature.
//!
//! Document: `{"manifest": {...}, "signature": {"alg": "ed25519", "kid", "value"}}`
//! in canonical JSON; the signature covers `"validibot-evidence/v1\n"` followed by
//! the canonical manifest. Verification insists the file is in canonical form,
//! so no byte can change without failing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::canonical;
use super::key::InstanceKey;
use validibot_store::runs::view::RunView;
use validibot_store::workflows::Step;
use validibot_types::clock::rfc3339;

pub const SCHEMA: &str = "validibot.evidence.v1";
const DOMAIN: &[u8] = b"validibot-evidence/v1\n";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The manifest of a finished run (deterministic: built again, it is the same bytes).
/// `steps` are the workflow version's steps: each step's files are listed with their
/// digests (a step without files lists none, so older manifests are unchanged).
pub fn build(run: &RunView, workflow_steps: &[Step]) -> Value {
    let steps = run.steps.as_deref().unwrap_or_default();
    let step_findings = |s: &validibot_store::runs::view::StepView| {
        serde_json::to_value(&s.findings).unwrap_or(Value::Null)
    };
    let all_findings: Vec<Value> = steps
        .iter()
        .map(|s| json!({"step": s.key, "findings": step_findings(s)}))
        .collect();
    json!({
        "schema": SCHEMA,
        "run": {
            "id": run.id,
            "workspace": run.workspace,
            "status": run.status,
            "result": run.result,
            "error_category": run.error_category,
            "created_at": rfc3339(run.created_at),
            "started_at": run.started_at.map(rfc3339),
            "finished_at": run.finished_at.map(rfc3339),
        },
        "submission": {
            "sha256": run.submission.sha256,
            "size": run.submission.size,
            "content_type": run.submission.content_type,
            "filename": run.submission.filename,
        },
        "workflow": {
            "slug": run.workflow.slug,
            "version": run.workflow.version,
            "digest": run.workflow.digest,
        },
        "steps": steps.iter().map(|s| {
            let mut step = json!({
                "key": s.key,
                "validator": {"slug": s.validator, "version": s.validator_version, "digest": s.validator_digest},
                "status": s.status,
                "started_at": s.started_at.map(rfc3339),
                "finished_at": s.finished_at.map(rfc3339),
                "finding_count": s.findings.len(),
                "findings_digest": sha256_hex(&canonical::to_vec(&step_findings(s))),
            });
            let files = workflow_steps
                .iter()
                .find(|w| w.key == s.key)
                .map(|w| w.files.as_slice())
                .unwrap_or_default();
            if !files.is_empty() {
                step["files"] = json!(files
                    .iter()
                    .map(|f| json!({"name": f.name, "sha256": f.sha256, "size": f.size, "media_type": f.media_type}))
                    .collect::<Vec<_>>());
            }
            step
        }).collect::<Vec<_>>(),
        "findings_digest": sha256_hex(&canonical::to_vec(&Value::Array(all_findings))),
        "result": run.result,
    })
}

/// The signed document, canonical bytes.
pub fn sign(manifest: Value, key: &InstanceKey) -> Vec<u8> {
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&canonical::to_vec(&manifest));
    let signature = key.sign(&message);
    canonical::to_vec(&json!({
        "manifest": manifest,
        "signature": {"alg": "ed25519", "kid": key.kid, "value": STANDARD.encode(signature)},
    }))
}

/// Checks a signed document against `keys` (`(kid, key)`); returns the manifest.
pub fn verify(bytes: &[u8], keys: &[(String, VerifyingKey)]) -> Result<Value, String> {
    let body = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    if canonical::to_vec(&doc) != body {
        return Err("not in canonical form: the file was altered after signing".into());
    }
    let obj = doc.as_object().ok_or("not an evidence document")?;
    if obj.len() != 2 {
        return Err("unexpected fields beside manifest and signature".into());
    }
    let manifest = obj.get("manifest").ok_or("no manifest")?;
    let sig = obj.get("signature").ok_or("no signature")?;
    if sig["alg"] != "ed25519" || sig.as_object().map(|o| o.len()) != Some(3) {
        return Err("the signature must be {alg: ed25519, kid, value}".into());
    }
    if manifest["schema"] != SCHEMA {
        return Err(format!("unknown manifest schema {}", manifest["schema"]));
    }
    let kid = sig["kid"].as_str().ok_or("no kid")?;
    let key = keys
        .iter()
        .find(|(k, _)| k == kid)
        .map(|(_, key)| key)
        .ok_or_else(|| format!("signed by key {kid:?}, which is not among the keys given"))?;
    let value: [u8; 64] = sig["value"]
        .as_str()
        .and_then(|v| STANDARD.decode(v).ok())
        .and_then(|v| v.try_into().ok())
        .ok_or("the signature value is not 64 base64-encoded bytes")?;
    let mut message = DOMAIN.to_vec();
    message.extend_from_slice(&canonical::to_vec(manifest));
    key.verify_strict(&message, &Signature::from_bytes(&value))
        .map_err(|_| {
            "the signature does not match: the manifest was altered or signed by another key"
                .to_string()
        })?;
    Ok(manifest.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> (InstanceKey, Vec<(String, VerifyingKey)>) {
        let dir = tempfile::tempdir().unwrap();
        let key = InstanceKey::load_or_create(dir.path()).unwrap();
        let again = InstanceKey::load_or_create(dir.path()).unwrap();
        assert_eq!(key.kid, again.kid, "the key is kept");
        let public: [u8; 32] = STANDARD
            .decode(key.public_base64())
            .unwrap()
            .try_into()
            .unwrap();
        let keys = vec![(key.kid.clone(), VerifyingKey::from_bytes(&public).unwrap())];
        (key, keys)
    }

    #[test]
    fn any_altered_byte_fails() {
        let (key, keys) = key();
        let manifest = json!({"schema": SCHEMA, "run": {"id": "r1", "result": "PASS"}, "findings_digest": "ab"});
        let doc = sign(manifest.clone(), &key);
        assert_eq!(verify(&doc, &keys).unwrap(), manifest);
        let mut with_newline = doc.clone();
        with_newline.push(b'\n');
        assert!(verify(&with_newline, &keys).is_ok());
        for i in 0..doc.len() {
            for mask in [0x01u8, 0x20, 0x80] {
                let mut bad = doc.clone();
                bad[i] ^= mask;
                assert!(
                    verify(&bad, &keys).is_err(),
                    "byte {i} ^ {mask:#x} still verifies"
                );
            }
        }
        let (_, other_keys) = super::tests::key();
        assert!(verify(&doc, &other_keys).is_err());
    }
}
