//! Embeds the plugin SDK's sources (`plugin-api/` and `wit/`) so `validibot plugin new`
//! works from any copy of the binary: the scaffold writes them into the new crate as a
//! vendored path dependency. `plugin-api/Cargo.toml` inherits from this workspace; its
//! vendored copy gets the inherited values written out, so it stands alone.

use std::env;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap())
        .parent()
        .unwrap()
        .to_path_buf();
    let out = PathBuf::from(env::var("OUT_DIR").unwrap());
    for p in ["plugin-api", "wit", "Cargo.toml"] {
        println!("cargo:rerun-if-changed={}", root.join(p).display());
    }
    let mut files = Vec::new();
    collect(&root, &root.join("plugin-api"), &mut files);
    collect(&root, &root.join("wit"), &mut files);
    files.sort();
    let manifest = out.join("plugin-api-Cargo.toml");
    std::fs::write(&manifest, standalone_manifest(&root)).unwrap();

    let mut code = String::from("/// The SDK's files: (path under the vendor dir, bytes).\npub const SDK_FILES: &[(&str, &[u8])] = &[\n");
    for (rel, abs) in &files {
        let abs = if rel == "plugin-api/Cargo.toml" {
            &manifest
        } else {
            abs
        };
        writeln!(
            code,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(out.join("sdk_files.rs"), code).unwrap();
}

/// Source files only: no build output, no editor leftovers.
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('.') || name == "target" || name == "Cargo.lock" {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            files.push((rel, path));
        }
    }
}

/// `plugin-api/Cargo.toml` with every `workspace = true` replaced by the workspace's value.
fn standalone_manifest(root: &Path) -> String {
    let read = |p: &Path| -> toml::Table {
        std::fs::read_to_string(p)
            .unwrap()
            .parse()
            .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    };
    let workspace = read(&root.join("Cargo.toml"));
    let ws = workspace["workspace"].as_table().unwrap();
    let ws_package = ws["package"].as_table().unwrap();
    let ws_deps = ws["dependencies"].as_table().unwrap();
    let mut manifest = read(&root.join("plugin-api/Cargo.toml"));
    let package = manifest.get_mut("package").unwrap().as_table_mut().unwrap();
    for (key, value) in package.iter_mut() {
        if inherits(value) {
            *value = ws_package[key.as_str()].clone();
        }
    }
    resolve_deps(&mut manifest, ws_deps);
    for (_, target) in manifest
        .get_mut("target")
        .and_then(|t| t.as_table_mut())
        .into_iter()
        .flatten()
    {
        if let Some(t) = target.as_table_mut() {
            resolve_deps(t, ws_deps);
        }
    }
    format!(
        "# Vendored by `validibot plugin new` from the Validibot that made this crate.\n{}",
        toml::to_string(&manifest).unwrap()
    )
}

fn inherits(value: &toml::Value) -> bool {
    value
        .as_table()
        .is_some_and(|t| t.get("workspace").and_then(|w| w.as_bool()) == Some(true))
}

fn resolve_deps(table: &mut toml::Table, ws_deps: &toml::Table) {
    for section in ["dependencies", "build-dependencies", "dev-dependencies"] {
        let Some(deps) = table.get_mut(section).and_then(|d| d.as_table_mut()) else {
            continue;
        };
        for (name, dep) in deps.iter_mut() {
            if !inherits(dep) {
                continue;
            }
            let mut resolved = match &ws_deps[name.as_str()] {
                toml::Value::String(version) => {
                    let mut t = toml::Table::new();
                    t.insert("version".into(), toml::Value::String(version.clone()));
                    t
                }
                toml::Value::Table(t) => t.clone(),
                other => panic!("workspace dependency {name}: unexpected {other:?}"),
            };
            for (k, v) in dep.as_table().unwrap() {
                if k != "workspace" {
                    resolved.insert(k.clone(), v.clone());
                }
            }
            *dep = toml::Value::Table(resolved);
        }
    }
}
