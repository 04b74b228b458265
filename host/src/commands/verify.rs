//! `validibot verify MANIFEST --key KEY…`: offline verification of an evidence
//! file. A KEY is `kid:base64` or a saved `/.well-known/validibot-keys.json`.

use std::path::Path;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;

use validibot_services::evidence::manifest;

fn parse_key(kid: &str, b64: &str) -> Result<(String, VerifyingKey)> {
    let bytes: [u8; 32] = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .with_context(|| format!("key {kid:?} is not 32 base64-encoded bytes"))?;
    Ok((
        kid.to_owned(),
        VerifyingKey::from_bytes(&bytes).with_context(|| format!("key {kid:?}"))?,
    ))
}

fn keys_from(arg: &str) -> Result<Vec<(String, VerifyingKey)>> {
    if Path::new(arg).is_file() {
        let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(arg)?)
            .with_context(|| format!("{arg} is not a keys document"))?;
        let keys = doc["keys"]
            .as_array()
            .with_context(|| format!("{arg} has no \"keys\""))?;
        return keys
            .iter()
            .map(|k| {
                parse_key(
                    k["kid"].as_str().unwrap_or_default(),
                    k["public_key"].as_str().unwrap_or_default(),
                )
            })
            .collect();
    }
    let (kid, b64) = arg
        .split_once(':')
        .with_context(|| format!("--key {arg:?} is neither a file nor kid:base64"))?;
    Ok(vec![parse_key(kid, b64)?])
}

pub fn run(file: &Path, key_args: &[String]) -> Result<()> {
    if key_args.is_empty() {
        bail!("give the instance's public key: --key kid:base64, or --key keys.json saved from /.well-known/validibot-keys.json");
    }
    let mut keys = Vec::new();
    for arg in key_args {
        keys.extend(keys_from(arg)?);
    }
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    match manifest::verify(&bytes, &keys) {
        Ok(m) => {
            println!(
                "valid: run {} of {} v{} → {} (submission sha256 {})",
                m["run"]["id"].as_str().unwrap_or("?"),
                m["workflow"]["slug"].as_str().unwrap_or("?"),
                m["workflow"]["version"],
                m["result"].as_str().unwrap_or("?"),
                m["submission"]["sha256"].as_str().unwrap_or("?"),
            );
            Ok(())
        }
        Err(e) => bail!("INVALID: {e}"),
    }
}
