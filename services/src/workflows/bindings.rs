//! Config bindings: a string in a step's config of the form `${steps.<key>.outputs.<name>}`,
//! `${steps.<key>.status}`, `${consts.<name>}` or `${meta.<name>}` (members by `.name`
//! or `["name"]`) is replaced before the step runs. A string that is exactly one binding
//! takes the bound value with its type (`"${steps.sim.outputs.peak_kw}"` → `41.5`);
//! bindings inside longer text are interpolated. `$${` is a literal `${`.
//!
//! Checked when the workflow is saved (earlier step keys, known constants); a binding
//! that cannot be resolved at run time is a finding that ends the run with an error.

use serde_json::{Map, Value};

use super::context::{outputs_object, RunContext};

/// Bindings per config (a guard against configs built to blow up).
const MAX_BINDINGS: usize = 200;

/// One parsed binding.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub text: String,
    pub root: Root,
    /// Members after the root (for steps: after the step key and `outputs`/`status`).
    pub path: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Root {
    StepOutput(String),
    StepStatus(String),
    Consts,
    Meta,
}

/// Every binding in `config`, or why one does not parse.
pub fn find(config: &Value) -> Result<Vec<Binding>, String> {
    let mut out = Vec::new();
    let mut err = None;
    walk_strings(config, &mut |s| {
        if err.is_some() {
            return;
        }
        match scan(s) {
            Ok(pieces) => out.extend(pieces.into_iter().filter_map(|p| match p {
                Piece::Binding(b) => Some(b),
                Piece::Text(_) => None,
            })),
            Err(e) => err = Some(e),
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    if out.len() > MAX_BINDINGS {
        return Err(format!(
            "{} bindings; a step's config may have {MAX_BINDINGS}",
            out.len()
        ));
    }
    Ok(out)
}

/// Save-time check: step keys among `earlier` (what the step waits for), constants
/// that exist.
pub fn check(
    bindings: &[Binding],
    earlier: &[&str],
    consts: &Map<String, Value>,
) -> Result<(), String> {
    for b in bindings {
        match &b.root {
            Root::StepOutput(key) | Root::StepStatus(key) if !earlier.contains(&key.as_str()) => {
                return Err(format!(
                    "{}: `{key}` is not a step this one waits for (it waits for: {})",
                    b.text,
                    if earlier.is_empty() {
                        "none".to_owned()
                    } else {
                        earlier.join(", ")
                    }
                ))
            }
            Root::Consts => {
                member(&Value::Object(consts.clone()), &b.path)
                    .ok_or_else(|| format!("{}: no such constant", b.text))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Whether every binding can be resolved when the workflow is saved (constants only).
pub fn known_at_save(bindings: &[Binding]) -> bool {
    bindings.iter().all(|b| b.root == Root::Consts)
}

/// `config` with every binding replaced, or the first that cannot be resolved.
pub fn resolve(config: &Value, ctx: &RunContext) -> Result<Value, String> {
    match config {
        Value::String(s) if s.contains("${") => {
            let pieces = scan(s)?;
            if let [Piece::Binding(b)] = pieces.as_slice() {
                return lookup(b, ctx);
            }
            let mut text = String::new();
            for p in pieces {
                match p {
                    Piece::Text(t) => text.push_str(&t),
                    Piece::Binding(b) => match lookup(&b, ctx)? {
                        Value::String(v) => text.push_str(&v),
                        other => text.push_str(&other.to_string()),
                    },
                }
            }
            Ok(Value::String(text))
        }
        Value::String(s) if s.contains("$${") => Ok(Value::String(s.replace("$${", "${"))),
        Value::Array(items) => items.iter().map(|v| resolve(v, ctx)).collect(),
        Value::Object(map) => map
            .iter()
            .map(|(k, v)| Ok((k.clone(), resolve(v, ctx)?)))
            .collect::<Result<Map<_, _>, String>>()
            .map(Value::Object),
        other => Ok(other.clone()),
    }
}

fn lookup(b: &Binding, ctx: &RunContext) -> Result<Value, String> {
    let found = match &b.root {
        Root::StepOutput(key) => {
            let step = ctx
                .step(key)
                .ok_or_else(|| format!("{}: step `{key}` has not run", b.text))?;
            let name = b.path.join(".");
            outputs_object(&step.outputs).remove(&name).ok_or_else(|| {
                let names: Vec<_> = step.outputs.iter().map(|o| o.name.as_str()).collect();
                format!(
                    "{}: step `{key}` has no output `{name}` (it has: {})",
                    b.text,
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                )
            })?
        }
        Root::StepStatus(key) => ctx
            .step(key)
            .map(|s| Value::String(s.status.as_str().to_owned()))
            .ok_or_else(|| format!("{}: step `{key}` has not run", b.text))?,
        Root::Consts => member(&Value::Object(ctx.consts.clone()), &b.path)
            .cloned()
            .ok_or_else(|| format!("{}: no such constant", b.text))?,
        Root::Meta => member(&ctx.meta, &b.path)
            .cloned()
            .ok_or_else(|| format!("{}: the submission's metadata has no such member", b.text))?,
    };
    Ok(found)
}

fn member<'v>(v: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(v, |v, name| v.get(name))
}

enum Piece {
    Text(String),
    Binding(Binding),
}

/// Splits a string into text and bindings.
fn scan(s: &str) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("${") {
        if rest[..at].ends_with('$') {
            text.push_str(&rest[..at - 1]);
            text.push_str("${");
            rest = &rest[at + 2..];
            continue;
        }
        text.push_str(&rest[..at]);
        let close = rest[at..]
            .find('}')
            .ok_or_else(|| format!("unclosed binding in {s:?}"))?;
        let inner = &rest[at + 2..at + close];
        if !text.is_empty() {
            pieces.push(Piece::Text(std::mem::take(&mut text)));
        }
        pieces.push(Piece::Binding(parse(inner)?));
        rest = &rest[at + close + 1..];
    }
    text.push_str(rest);
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

/// `steps.sim.outputs.peak_kw`, `steps.sim.outputs["final.T"]`, `consts.max`, `meta.building.id`.
fn parse(inner: &str) -> Result<Binding, String> {
    let text = format!("${{{inner}}}");
    let names = segments(inner.trim()).map_err(|e| format!("{text}: {e}"))?;
    let bad = || {
        format!("{text}: use ${{steps.<key>.outputs.<name>}}, ${{steps.<key>.status}}, ${{consts.<name>}} or ${{meta.<name>}}")
    };
    let (root, path) = match names.split_first() {
        Some((r, rest)) if r == "steps" => match rest {
            [key, kind, name @ ..] if kind == "outputs" && !name.is_empty() => {
                (Root::StepOutput(key.clone()), name.to_vec())
            }
            [key, kind] if kind == "status" => (Root::StepStatus(key.clone()), vec![]),
            _ => return Err(bad()),
        },
        Some((r, rest)) if r == "consts" && !rest.is_empty() => (Root::Consts, rest.to_vec()),
        Some((r, rest)) if r == "meta" && !rest.is_empty() => (Root::Meta, rest.to_vec()),
        _ => return Err(bad()),
    };
    Ok(Binding { text, root, path })
}

/// `a.b["c.d"]` → `[a, b, c.d]`.
fn segments(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]").ok_or("unclosed [\"…\"]")?;
            out.push(r[..end].to_owned());
            rest = &r[end + 2..];
        } else {
            let r = rest.strip_prefix('.').unwrap_or(rest);
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let name = &r[..end];
            let ok = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !ok {
                return Err(format!("bad member name {name:?}"));
            }
            out.push(name.to_owned());
            rest = &r[end..];
        }
        if rest.starts_with('.') && rest.len() == 1 {
            return Err("trailing dot".into());
        }
    }
    Ok(out)
}

/// Calls `f` on every string in `v`.
fn walk_strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(items) => items.iter().for_each(|i| walk_strings(i, f)),
        Value::Object(map) => map.values().for_each(|i| walk_strings(i, f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflows::context::StepFacts;
    use serde_json::json;
    use validibot_types::{Output, StepStatus};

    fn ctx() -> RunContext {
        RunContext {
            steps: vec![StepFacts {
                key: "sim".into(),
                status: StepStatus::Passed,
                outputs: vec![
                    Output {
                        name: "peak_kw".into(),
                        value: json!(41.5),
                        unit: None,
                    },
                    Output {
                        name: "final.T".into(),
                        value: json!(293.1),
                        unit: None,
                    },
                ],
            }],
            meta: json!({"building": {"id": "B-7"}}),
            consts: json!({"max": 3}).as_object().unwrap().clone(),
        }
    }

    #[test]
    fn whole_strings_keep_their_type_and_text_is_interpolated() {
        let config = json!({
            "max": "${steps.sim.outputs.peak_kw}",
            "t": "${steps.sim.outputs[\"final.T\"]}",
            "dotted": "${steps.sim.outputs.final.T}",
            "label": "B ${meta.building.id} peak ${steps.sim.outputs.peak_kw} (${steps.sim.status}), max ${consts.max}",
            "literal": "costs $${HOME}",
            "n": [1, "${consts.max}"],
        });
        let bindings = find(&config).unwrap();
        assert_eq!(bindings.len(), 8);
        check(&bindings, &["sim"], &ctx().consts).unwrap();
        let out = resolve(&config, &ctx()).unwrap();
        assert_eq!(
            out,
            json!({"max": 41.5, "t": 293.1, "dotted": 293.1,
                   "label": "B B-7 peak 41.5 (PASSED), max 3",
                   "literal": "costs ${HOME}", "n": [1, 3]})
        );
    }

    #[test]
    fn bad_and_unresolvable_bindings_say_why() {
        assert!(find(&json!("${steps.sim}"))
            .unwrap_err()
            .contains("use ${steps"));
        assert!(find(&json!("${nope.x}")).is_err());
        assert!(find(&json!("${consts.max"))
            .unwrap_err()
            .contains("unclosed"));
        let b = find(&json!("${steps.later.outputs.x}")).unwrap();
        assert!(check(&b, &["sim"], &Map::new())
            .unwrap_err()
            .contains("not a step this one waits for"));
        let b = find(&json!("${consts.min}")).unwrap();
        assert!(check(&b, &[], &ctx().consts)
            .unwrap_err()
            .contains("no such constant"));
        let e = resolve(&json!("${steps.sim.outputs.nope}"), &ctx()).unwrap_err();
        assert!(
            e.contains("has no output `nope` (it has: peak_kw, final.T)"),
            "{e}"
        );
        let e = resolve(&json!("${meta.site}"), &ctx()).unwrap_err();
        assert!(e.contains("metadata"), "{e}");
    }
}
