//! Embeds the public keys that license files may be signed with: every
//! `keys/*.pub` (the vendor's keys; their private halves never enter the repo),
//! plus the `kid:base64` lines of the file named by `VALIDIBOT_LICENSE_EXTRA_KEYS`
//! (self-built installs and tests, which make their own key pairs).

use std::fmt::Write;
use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=keys");
    println!("cargo:rerun-if-env-changed=VALIDIBOT_LICENSE_EXTRA_KEYS");
    let mut lines = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("keys")
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "pub"));
    files.sort();
    if let Ok(extra) = std::env::var("VALIDIBOT_LICENSE_EXTRA_KEYS") {
        if !extra.is_empty() {
            println!("cargo:rerun-if-changed={extra}");
            files.push(Path::new(&extra).to_path_buf());
        }
    }
    for file in files {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        for line in text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            let (kid, key) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}: expected kid:base64, got {line:?}", file.display()));
            lines.push((kid.to_owned(), key.to_owned()));
        }
    }
    let mut out = String::from("/// (kid, base64 ed25519 public key), embedded at build time.\npub const EMBEDDED_KEYS: &[(&str, &str)] = &[\n");
    for (kid, key) in lines {
        writeln!(out, "    ({kid:?}, {key:?}),").unwrap();
    }
    out.push_str("];\n");
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("keys.rs");
    std::fs::write(dest, out).unwrap();
}
