//! `validibot plugin keygen` and `plugin sign`: an author's signing key and the detached
//! signature (`<file>.sig`, the `validibot_plugin_api::signature::PLUGIN` scheme) that
//! an operator's `VALIDIBOT_PLUGIN_TRUSTED_KEYS` accepts. The key file has the same
//! JSON shape as the vendor tool's (`{"kid", "alg": "ed25519", "secret"}`), mode 0600.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::Args;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use validibot_plugin_api::signature::PLUGIN;

#[derive(Debug, Clone, Args)]
pub struct KeygenArgs {
    /// The key's id, as operators will list it (letters, digits, `.`, `_`, `-`).
    #[arg(long)]
    pub kid: String,
    /// Where to write the private key (default: `<kid>.key`); never overwritten.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct SignArgs {
    /// The component file (`.wasm`).
    pub file: PathBuf,
    /// Your private key file (`plugin keygen`).
    #[arg(long)]
    pub key: PathBuf,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    kid: String,
    alg: String,
    secret: String,
}

pub fn keygen(args: &KeygenArgs) -> Result<()> {
    let kid = &args.kid;
    if kid.is_empty()
        || kid.len() > 64
        || !kid
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    {
        bail!("invalid key id {kid:?}: use 1-64 letters, digits, . _ -");
    }
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let key = SigningKey::from_bytes(&secret);
    let file = KeyFile {
        kid: kid.clone(),
        alg: "ed25519".into(),
        secret: STANDARD.encode(secret),
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{kid}.key")));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&out).with_context(|| {
        format!(
            "creating {} (an existing key is never overwritten)",
            out.display()
        )
    })?;
    f.write_all(serde_json::to_string_pretty(&file)?.as_bytes())?;
    println!("private key written to {} (keep it secret)", out.display());
    println!("public key, for operators' VALIDIBOT_PLUGIN_TRUSTED_KEYS:");
    println!("{kid}:{}", STANDARD.encode(key.verifying_key().as_bytes()));
    Ok(())
}

pub fn sign(args: &SignArgs) -> Result<()> {
    let text = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading {}", args.key.display()))?;
    let file: KeyFile = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a Validibot key file", args.key.display()))?;
    if file.alg != "ed25519" {
        bail!("unsupported key algorithm {:?}", file.alg);
    }
    let secret: [u8; 32] = STANDARD
        .decode(&file.secret)
        .ok()
        .and_then(|b| b.try_into().ok())
        .context("the key's secret is not 32 base64-encoded bytes")?;
    let key = SigningKey::from_bytes(&secret);
    let bytes =
        std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let signature = key.sign(&PLUGIN.message(&bytes)).to_bytes();
    let mut out = args.file.as_os_str().to_owned();
    out.push(".sig");
    let out = PathBuf::from(out);
    std::fs::write(&out, PLUGIN.line(&file.kid, &signature))
        .with_context(|| format!("writing {}", out.display()))?;
    println!(
        "signed {} with {}: {}",
        args.file.display(),
        file.kid,
        out.display()
    );
    Ok(())
}
