//! The licensing split (README, "Licensing"): the core is AGPL-3.0, the SDK that outsiders
//! link — `plugin-api`, `types` (and `wit/`) — is Apache-2.0 OR MIT, the commercial crate
//! is proprietary. A closed-source plugin or the commercial crate may only link crates
//! under permissive licenses, so this reads cargo's resolved dependency graph (for the
//! host and for the wasm32-wasip2 guest target, every feature on) and fails on any crate
//! they pull in whose license expression cannot be satisfied by a permissive license.

use std::collections::{BTreeMap, BTreeSet};

#[path = "common/metadata.rs"]
mod metadata;
use metadata::cargo_metadata;

/// Licenses that let a proprietary work link the crate.
const PERMISSIVE: &[&str] = &[
    "MIT",
    "MIT-0",
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "Unlicense",
    "CC0-1.0",
    "Unicode-3.0",
    "Unicode-DFS-2016",
    "BSL-1.0",
    // webpki-roots' certificate list (the agent's TLS roots): a permissive data license.
    "CDLA-Permissive-2.0",
];

/// The crates outsiders link, and whether their own license must be the SDK's.
const LINKED_BY_OUTSIDERS: &[(&str, bool)] = &[
    ("validibot-plugin-api", true),
    ("validibot-types", true),
    // Runs inside operators' and third parties' validator images.
    ("validibot-agent", true),
    // Its own license is proprietary (license-file); what it links must be permissive.
    ("validibot-commercial", false),
];

/// Whether an SPDX expression (`A OR B`, `A AND (B OR C)`, `A WITH E`, the old `A/B`)
/// can be met using permissive licenses only.
fn permissive(expr: &str) -> bool {
    let spaced = expr
        .replace('/', " OR ")
        .replace('(', " ( ")
        .replace(')', " ) ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let ok = or_expr(&tokens, &mut pos);
    ok && pos == tokens.len()
}

fn or_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = and_expr(t, pos);
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        ok |= and_expr(t, pos);
    }
    ok
}

fn and_expr(t: &[&str], pos: &mut usize) -> bool {
    let mut ok = atom(t, pos);
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        ok &= atom(t, pos);
    }
    ok
}

fn atom(t: &[&str], pos: &mut usize) -> bool {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let ok = or_expr(t, pos);
            if t.get(*pos) == Some(&")") {
                *pos += 1;
            }
            ok
        }
        Some(id) => {
            *pos += 1;
            let mut name = id.to_string();
            if t.get(*pos) == Some(&"WITH") {
                name = format!("{name} WITH {}", t.get(*pos + 1).unwrap_or(&""));
                *pos += 2;
            }
            PERMISSIVE.contains(&name.as_str())
        }
        None => false,
    }
}

/// Package id → (`name version`, license expression or `file:<path>`).
type Packages = BTreeMap<String, (String, String)>;
/// Package id → the ids it links (normal and build dependencies).
type Links = BTreeMap<String, Vec<String>>;

/// Every package and what it links, for one target platform.
fn graph(platform: &str) -> (Packages, Links) {
    // Not --offline: the wasm target's graph names crates no build here downloads
    // (crates.io is reachable; nothing is compiled).
    let meta = cargo_metadata(&["--all-features", "--filter-platform", platform]);
    let packages = meta["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let license = p["license"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("file:{}", p["license_file"]));
            let name = format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            );
            (p["id"].as_str().unwrap().to_owned(), (name, license))
        })
        .collect();
    let links = meta["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| {
                    d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|k| k["kind"].is_null() || k["kind"] == "build")
                })
                .map(|d| d["pkg"].as_str().unwrap().to_owned())
                .collect();
            (n["id"].as_str().unwrap().to_owned(), deps)
        })
        .collect();
    (packages, links)
}

#[test]
fn what_outsiders_link_is_permissively_licensed() {
    let mut wrong = BTreeSet::new();
    for platform in ["x86_64-unknown-linux-gnu", "wasm32-wasip2"] {
        let (packages, links) = graph(platform);
        for (root, sdk_licensed) in LINKED_BY_OUTSIDERS {
            let (id, (_, own)) = packages
                .iter()
                .find(|(_, (name, _))| name.split(' ').next() == Some(*root))
                .unwrap_or_else(|| panic!("{root} is not in the workspace"));
            if *sdk_licensed && own != "Apache-2.0 OR MIT" {
                wrong.insert(format!("{root} itself is {own}, not Apache-2.0 OR MIT"));
            }
            let mut seen = BTreeSet::new();
            let mut stack: Vec<String> = links[id].clone();
            while let Some(dep) = stack.pop() {
                if !seen.insert(dep.clone()) {
                    continue;
                }
                let (name, license) = &packages[&dep];
                if !permissive(license) {
                    wrong.insert(format!("{root} links {name} ({license}) on {platform}"));
                }
                stack.extend(links[&dep].iter().cloned());
            }
        }
    }
    assert!(wrong.is_empty(), "not permissive: {wrong:#?}");
}

#[test]
fn license_expressions_are_read_as_spdx_says() {
    assert!(permissive("MIT"));
    assert!(permissive("MIT OR Apache-2.0"));
    assert!(permissive("MIT/Apache-2.0"));
    assert!(permissive(
        "Apache-2.0 WITH LLVM-exception OR Apache-2.0 OR MIT"
    ));
    assert!(permissive("(MIT OR Apache-2.0) AND Unicode-3.0"));
    assert!(permissive("GPL-3.0-only OR MIT"));
    assert!(!permissive("AGPL-3.0-only"));
    assert!(!permissive("MIT AND GPL-2.0-only"));
    assert!(!permissive("(MIT OR Apache-2.0) AND LGPL-2.1-or-later"));
    assert!(!permissive("file:\"LICENSE\""));
    assert!(!permissive(""));
}
