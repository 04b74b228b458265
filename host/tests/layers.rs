//! The architecture invariants that a machine can check (ARCHITECTURE.md, "Architecture
//! invariants"): the layer crates depend only downward, only the store depends on sqlx,
//! the engines know neither the database nor HTTP, and no source file imports a file
//! that imports it back.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[path = "common/metadata.rs"]
mod metadata;
use metadata::cargo_metadata;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Each Validibot crate and the Validibot crates it may depend on (normal and build
/// dependencies). Anything else is an upward or sideways dependency.
const LAYERS: &[(&str, &[&str])] = &[
    ("validibot-types", &[]),
    ("validibot-blobs", &[]),
    // Runs inside validator containers: the envelope types only.
    ("validibot-agent", &["validibot-plugin-api"]),
    ("validibot-store", &["validibot-types", "validibot-blobs"]),
    (
        "validibot-engines",
        &["validibot-types", "validibot-blobs", "validibot-plugin-api"],
    ),
    (
        "validibot-services",
        &[
            "validibot-types",
            "validibot-blobs",
            "validibot-store",
            "validibot-engines",
            "validibot-plugin-api",
        ],
    ),
    (
        "validibot-http",
        &[
            "validibot-types",
            "validibot-blobs",
            "validibot-store",
            "validibot-engines",
            "validibot-services",
            "validibot-plugin-api",
        ],
    ),
    (
        "validibot",
        &[
            "validibot-types",
            "validibot-blobs",
            "validibot-store",
            "validibot-engines",
            "validibot-services",
            "validibot-http",
            "validibot-plugin-api",
            "validibot-workspace-hack",
        ],
    ),
];

/// Every workspace package's declared dependencies: name → [(dependency, kind)].
fn declared() -> BTreeMap<String, Vec<(String, String)>> {
    let meta = cargo_metadata(&["--offline", "--no-deps"]);
    meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let kind = d["kind"].as_str().unwrap_or("normal").to_owned();
                    (d["name"].as_str().unwrap().to_owned(), kind)
                })
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

#[test]
fn layer_crates_depend_only_downward() {
    let declared = declared();
    let mut wrong = Vec::new();
    for (name, allowed) in LAYERS {
        let deps = declared
            .get(*name)
            .unwrap_or_else(|| panic!("{name} is not a workspace member"));
        for (dep, kind) in deps {
            let ours = dep.starts_with("validibot");
            if ours && kind != "dev" && !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layers: {wrong:#?}"
    );
}

#[test]
fn only_the_store_depends_on_sqlx_and_engines_know_no_database_or_http() {
    let declared = declared();
    let mut wrong = Vec::new();
    for (name, deps) in &declared {
        for (dep, kind) in deps {
            // The host's tests create databases and tamper with rows directly.
            let test_only = name == "validibot" && kind == "dev";
            if dep == "sqlx" && name != "validibot-store" && !test_only {
                wrong.push(format!("{name} depends on sqlx ({kind})"));
            }
            let web = ["axum", "tower-http", "maud", "reqwest"];
            if name == "validibot-engines" && web.contains(&dep.as_str()) {
                wrong.push(format!("validibot-engines depends on {dep}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A crate's source files as modules: `a/b.rs` and `a/b/mod.rs` are `a::b`.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if path.file_name().is_some_and(|f| f == "main.rs") {
                continue; // a binary's root beside the library's: it only calls in
            }
            if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
                parts.pop();
            }
            found.insert(parts.join("::"), path);
        }
    }
    found
}

/// The modules a file names in `crate::…`, `super::…` and `self::…` paths and in `use`
/// paths that start with a child module (the longest known module prefix of each),
/// itself excluded. Code after `#[cfg(test)]` (the unit tests) is left out.
fn imports(module: &str, text: &str, known: &BTreeSet<String>) -> BTreeSet<String> {
    let here: Vec<String> = if module.is_empty() {
        vec![]
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = text
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let bytes = code.as_bytes();
    let mut out = BTreeSet::new();
    let resolve = |mut base: Vec<String>, rest: &str, out: &mut BTreeSet<String>| {
        // `super::Item` names the parent module itself; the crate root is left out (it
        // only declares modules and re-exports).
        let start = base.join("::");
        let mut best = (!start.is_empty() && known.contains(&start)).then_some(start);
        for seg in rest.split("::").filter(|s| !s.is_empty()) {
            if seg == "super" {
                base.pop();
                continue;
            }
            base.push(seg.to_owned());
            let candidate = base.join("::");
            if known.contains(&candidate) {
                best = Some(candidate);
            }
        }
        if let Some(m) = best.filter(|m| m != module) {
            out.insert(m);
        }
    };
    let path_at = |i: usize| -> &str {
        code[i..]
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
            .next()
            .unwrap_or("")
    };
    for start in ["crate::", "super::", "self::", "use "] {
        let mut from = 0;
        while let Some(i) = code[from..].find(start) {
            let at = from + i;
            from = at + start.len();
            // Inside a longer path (`a::super::`, `x_use `) is not a start.
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric() || matches!(bytes[at - 1], b'_' | b':'))
            {
                continue;
            }
            let rest = path_at(at + start.len());
            match start {
                "crate::" => resolve(vec![], rest, &mut out),
                // `super` is the parent module, whether the file is `a/b.rs` or `a/b/mod.rs`.
                "super::" => resolve(
                    here[..here.len().saturating_sub(1)].to_vec(),
                    rest,
                    &mut out,
                ),
                "self::" => resolve(here.clone(), rest, &mut out),
                // `use child::…` (uniform paths): only when `child` is a module below this one.
                _ => {
                    let first = rest.split("::").next().unwrap_or("");
                    let mut child = here.clone();
                    child.push(first.to_owned());
                    if known.contains(&child.join("::")) {
                        resolve(here.clone(), rest, &mut out);
                    }
                }
            }
        }
    }
    out
}

/// Every module that reaches itself by following imports, with the way round.
fn circles_in(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = graph[start]
            .iter()
            .map(|n| (n.clone(), vec![start.clone(), n.clone()]))
            .collect();
        while let Some((node, trail)) = stack.pop() {
            if &node == start {
                circles.push(trail.join(" -> "));
                break;
            }
            if !seen.insert(node.clone()) {
                continue;
            }
            for next in graph.get(&node).into_iter().flatten() {
                let mut t = trail.clone();
                t.push(next.clone());
                stack.push((next.clone(), t));
            }
        }
    }
    circles
}

#[test]
fn no_file_imports_a_file_that_imports_it_back() {
    let mut circles = Vec::new();
    for krate in [
        "types", "blobs", "store", "engines", "services", "http", "host",
    ] {
        let src = root().join(krate).join("src");
        let mods = modules(&src);
        let known: BTreeSet<String> = mods.keys().cloned().collect();
        let graph: BTreeMap<String, BTreeSet<String>> = mods
            .iter()
            .map(|(m, path)| {
                let text = std::fs::read_to_string(path).unwrap();
                (m.clone(), imports(m, &text, &known))
            })
            .collect();
        circles.extend(
            circles_in(&graph)
                .into_iter()
                .map(|c| format!("{krate}: {c}")),
        );
    }
    assert!(circles.is_empty(), "import circles: {circles:#?}");
}

#[test]
fn the_import_reader_resolves_each_kind_of_path() {
    let known: BTreeSet<String> = ["a", "b", "b::c", "b::d"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(
        imports("a", "use crate::b::c::Thing;\n// use crate::b::d;", &known),
        set(&["b::c"])
    );
    assert_eq!(
        imports(
            "b::c",
            "use super::super::a::X; fn f() { self::g() }",
            &known
        ),
        set(&["a"])
    );
    assert_eq!(imports("b::c", "use super::Y;", &known), set(&["b"]));
    assert_eq!(
        imports("b", "pub use d::Z; use c;", &known),
        set(&["b::c", "b::d"])
    );
    assert_eq!(
        imports(
            "b",
            "use crate::a::X;\n#[cfg(test)]\nmod tests { use crate::b::c::Y; }",
            &known
        ),
        set(&["a"])
    );
}

#[test]
fn the_circle_finder_finds_a_circle_through_three_files() {
    let edge = |a: &str, b: &[&str]| (a.to_owned(), b.iter().map(|s| s.to_string()).collect());
    let graph: BTreeMap<String, BTreeSet<String>> = [
        edge("a", &["b"]),
        edge("b", &["c"]),
        edge("c", &["a"]),
        edge("d", &["a"]),
    ]
    .into();
    let found = circles_in(&graph);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found.contains(&"a -> b -> c -> a".to_owned()));
    let acyclic: BTreeMap<String, BTreeSet<String>> = [edge("a", &["b"]), edge("b", &[])].into();
    assert!(circles_in(&acyclic).is_empty());
}
