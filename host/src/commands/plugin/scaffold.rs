//! `validibot plugin new`: a validator crate that builds, tests and passes its
//! fixtures out of the box, so an author starts from working code.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct NewArgs {
    /// Validator slug: lowercase letters, digits and dashes (e.g. `max-size`).
    pub name: String,
    /// Parent directory for the new crate.
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
    /// Use this `plugin-api` checkout instead of the SDK embedded in this binary (for
    /// working on the SDK itself).
    #[arg(long)]
    pub sdk_path: Option<PathBuf>,
}

// The SDK's sources, embedded by build.rs: `plugin new` needs no checkout.
include!(concat!(env!("OUT_DIR"), "/sdk_files.rs"));

/// Where the embedded SDK goes in a new crate.
const VENDOR_DIR: &str = "vendor/validibot-sdk";

/// The SDK's licenses, written into every new crate (the template is theirs too).
const LICENSE_APACHE: &str = include_str!("../../../../plugin-api/LICENSE-APACHE");
const LICENSE_MIT: &str = include_str!("../../../../plugin-api/LICENSE-MIT");

pub fn run(args: &NewArgs) -> Result<()> {
    let name = &args.name;
    if let Err(e) = validibot_types::ValidatorSlug::parse(name) {
        bail!("{e}");
    }
    let root = args.dir.join(name);
    if root.exists() {
        bail!("{} already exists", root.display());
    }
    let sdk = match &args.sdk_path {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("the plugin SDK is not at {}", p.display()))?
            .display()
            .to_string(),
        None => {
            for (path, bytes) in SDK_FILES {
                write(&root.join(VENDOR_DIR).join(path), bytes)?;
            }
            format!("{VENDOR_DIR}/plugin-api")
        }
    };
    let artifact = name.replace('-', "_");
    for (path, text) in files(name, &sdk) {
        write(&root.join(path), text.as_bytes())?;
    }
    println!("created {}", root.display());
    println!("next:\n  cd {}\n  cargo test\n  cargo build --release --target wasm32-wasip2\n  validibot plugin test target/wasm32-wasip2/release/{artifact}.wasm --fixtures fixtures", root.display());
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// The crate's own files; `sdk` is the path dependency on `plugin-api`.
fn files(name: &str, sdk: &str) -> Vec<(&'static str, String)> {
    let title: String = name
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    let ty: String = title.replace(' ', "");
    vec![
        (
            "Cargo.toml",
            format!(
                r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
# The SDK is Apache-2.0 OR MIT, so your validator may carry any license; this one is a
# starting point (LICENSE-APACHE and LICENSE-MIT were written beside it).
license = "Apache-2.0 OR MIT"
publish = false

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
# The SDK, vendored from the validibot binary that made this crate (Apache-2.0 OR MIT).
validibot-plugin-api = {{ path = {sdk:?} }}
serde_json = "1"

# A standalone crate, not part of any workspace.
[workspace]

[profile.release]
opt-level = "s"
strip = "debuginfo"
"#,
            ),
        ),
        (".gitignore", "target/\n".into()),
        ("LICENSE-APACHE", LICENSE_APACHE.into()),
        ("LICENSE-MIT", LICENSE_MIT.into()),
        (
            "src/lib.rs",
            format!(
                r##"//! {title}: a Validibot validator.
//!
//! Step config: `{{"max_bytes": 1000}}`. Flags documents that are empty or larger
//! than `max_bytes`, and reports the size as an output. Replace the checks with yours.

use validibot_plugin_api::{{
    export_validator, Finding, Input, Metadata, Outcome, Output, Validator, ValidatorError,
}};

pub struct {ty};

fn max_bytes(config: &serde_json::Value) -> Result<u64, Finding> {{
    config
        .get("max_bytes")
        .and_then(|v| v.as_u64())
        .filter(|v| *v > 0)
        .ok_or_else(|| Finding::error("config.max_bytes", "`max_bytes` must be a positive integer").at("/max_bytes"))
}}

impl Validator for {ty} {{
    fn describe() -> Metadata {{
        Metadata {{
            slug: "{name}".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            name: "{title}".into(),
            description: "Checks a document's size.".into(),
            content_types: vec!["*/*".into()],
            config_schema: serde_json::json!({{
                "type": "object",
                "required": ["max_bytes"],
                "properties": {{"max_bytes": {{"type": "integer", "minimum": 1}}}}
            }}),
        }}
    }}

    fn validate_config(config: &serde_json::Value) -> Result<(), Vec<Finding>> {{
        max_bytes(config).map(|_| ()).map_err(|f| vec![f])
    }}

    fn validate(input: Input<'_>) -> Result<Outcome, ValidatorError> {{
        let max = max_bytes(&input.config_json()?)
            .map_err(|f| ValidatorError::new("config.invalid", f.message))?;
        let size = input.content.len() as u64;
        let mut findings = Vec::new();
        if size == 0 {{
            findings.push(Finding::error("{name}.empty", "the document is empty"));
        }} else if size > max {{
            findings.push(Finding::error(
                "{name}.too_large",
                format!("the document is {{size}} bytes; the limit is {{max}}"),
            ));
        }}
        Ok(Outcome {{
            findings,
            outputs: vec![Output::new("bytes", size)],
        }})
    }}
}}

export_validator!({ty});

#[cfg(test)]
mod tests {{
    use super::*;

    fn run(content: &[u8]) -> Outcome {{
        {ty}::validate(Input {{
            content,
            content_type: "text/plain",
            config: r#"{{"max_bytes": 5}}"#,
            ruleset: None,
            ..Input::default()
        }})
        .unwrap()
    }}

    #[test]
    fn flags_empty_and_large_documents() {{
        assert!(run(b"abc").findings.is_empty());
        assert_eq!(run(b"").findings[0].code, "{name}.empty");
        assert_eq!(run(b"abcdefgh").findings[0].code, "{name}.too_large");
    }}

    #[test]
    fn rejects_a_bad_config() {{
        assert!({ty}::validate_config(&serde_json::json!({{"max_bytes": 0}})).is_err());
    }}
}}
"##
            ),
        ),
        ("fixtures/config.json", "{\"max_bytes\": 16}\n".into()),
        ("fixtures/small.txt", "hello\n".into()),
        (
            "fixtures/small.expected.json",
            "{\"findings\": [], \"outputs\": {\"bytes\": 6}}\n".into(),
        ),
        ("fixtures/large.txt", "this line is longer than sixteen bytes\n".into()),
        (
            "fixtures/large.expected.json",
            format!("{{\"findings\": [{{\"severity\": \"error\", \"code\": \"{name}.too_large\", \"path\": \"\"}}]}}\n"),
        ),
        (
            "README.md",
            format!(
                "# {title}\n\nA Validibot validator (WIT contract `validibot:validator@1`).\n\n```sh\ncargo test                                       # unit tests, native\ncargo build --release --target wasm32-wasip2     # the component\nvalidibot plugin test target/wasm32-wasip2/release/{artifact}.wasm --fixtures fixtures\nvalidibot plugin bench target/wasm32-wasip2/release/{artifact}.wasm --document fixtures/small.txt --config fixtures/config.json\n```\n\nFixtures: each `<case>.<ext>` document has a `<case>.expected.json` (`--update` records them).\n",
                artifact = name.replace('-', "_")
            ),
        ),
    ]
}
