//! What an expression may refer to: `doc` (unless the step's documents are not parsed),
//! `value`, the declared `variables`, and the names comprehensions bind; and where a
//! declared variable is an object (`steps`, `consts`), only its members. Checked when a
//! config is validated — when a workflow is saved — so a typo is refused there rather
//! than failing every run.

use cel_parser::{Atom, Expression, Member};
use serde_json::{Map, Value};

const COMPREHENSIONS: &[&str] = &["all", "exists", "exists_one", "map", "filter"];

/// The names an expression may use.
pub struct Scope<'a> {
    /// Whether `doc` is set (the document is parsed).
    pub doc: bool,
    /// Declared variables; a `null` value means "shape unknown until the run".
    pub variables: &'a Map<String, Value>,
    /// Every other name passes: only `doc` is looked for (see `reads_doc`).
    pub only_doc: bool,
}

/// Whether `text` reads `doc` (a comprehension variable of that name aside): rules
/// that do not can see a document a record at a time.
pub fn reads_doc(text: &str) -> bool {
    let none = Map::new();
    let probe = Scope {
        doc: false,
        variables: &none,
        only_doc: true,
    };
    probe.check(text).is_err()
}

impl Scope<'_> {
    /// Checks `text` (already compiled, so it parses).
    pub fn check(&self, text: &str) -> Result<(), String> {
        let expr = cel_parser::parse(text).map_err(|e| format!("invalid CEL expression: {e}"))?;
        self.walk(&expr, &mut Vec::new())
    }

    fn walk(&self, e: &Expression, bound: &mut Vec<String>) -> Result<(), String> {
        match e {
            Expression::Ident(name) => self.ident(name, bound),
            Expression::Member(base, member) => {
                match member.as_ref() {
                    Member::Attribute(name) => self.member(base, name, bound)?,
                    Member::Index(index) => {
                        if let Expression::Atom(Atom::String(name)) = index.as_ref() {
                            self.member(base, name, bound)?;
                        }
                        self.walk(index, bound)?;
                    }
                    Member::Fields(fields) => {
                        // `Type{field: …}`: the base is a type name, not a variable.
                        for (_, v) in fields {
                            self.walk(v, bound)?;
                        }
                        return Ok(());
                    }
                }
                self.walk(base, bound)
            }
            Expression::FunctionCall(name, target, args) => {
                let comprehension = matches!(name.as_ref(), Expression::Ident(n) if COMPREHENSIONS.contains(&n.as_str()));
                if let Some(t) = target {
                    self.walk(t, bound)?;
                }
                match (comprehension, args.split_first()) {
                    (true, Some((Expression::Ident(var), rest))) if target.is_some() => {
                        bound.push(var.to_string());
                        let checked = rest.iter().try_for_each(|a| self.walk(a, bound));
                        bound.pop();
                        checked
                    }
                    // A function's name is not a variable.
                    _ => args.iter().try_for_each(|a| self.walk(a, bound)),
                }
            }
            Expression::Arithmetic(a, _, b)
            | Expression::Relation(a, _, b)
            | Expression::Or(a, b)
            | Expression::And(a, b) => {
                self.walk(a, bound)?;
                self.walk(b, bound)
            }
            Expression::Ternary(a, b, c) => {
                self.walk(a, bound)?;
                self.walk(b, bound)?;
                self.walk(c, bound)
            }
            Expression::Unary(_, a) => self.walk(a, bound),
            Expression::List(items) => items.iter().try_for_each(|i| self.walk(i, bound)),
            Expression::Map(entries) => entries.iter().try_for_each(|(k, v)| {
                self.walk(k, bound)?;
                self.walk(v, bound)
            }),
            Expression::Atom(_) => Ok(()),
        }
    }

    fn ident(&self, name: &str, bound: &[String]) -> Result<(), String> {
        let other = self.only_doc && name != "doc";
        if other
            || bound.iter().any(|b| b == name)
            || name == "value"
            || self.variables.contains_key(name)
        {
            return Ok(());
        }
        if name == "doc" {
            return if self.doc {
                Ok(())
            } else {
                Err("`doc` is not available: this step's documents are not parsed (not JSON, XML or CSV)".into())
            };
        }
        let mut known: Vec<&str> = vec!["value"];
        if self.doc {
            known.push("doc");
        }
        known.extend(self.variables.keys().map(String::as_str));
        Err(format!(
            "unknown variable `{name}` (known: {})",
            known.join(", ")
        ))
    }

    /// `base.name` where `base` is a declared object: `name` must be one of its members.
    fn member(&self, base: &Expression, name: &str, bound: &[String]) -> Result<(), String> {
        let Some((path, Value::Object(members))) = self.declared(base, bound) else {
            return Ok(());
        };
        if members.contains_key(name) {
            return Ok(());
        }
        let mut known: Vec<&str> = members.keys().map(String::as_str).collect();
        known.sort_unstable();
        Err(format!(
            "`{path}` has no `{name}` (known: {})",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ))
    }

    /// The declared value `e` names (`steps`, `steps.sim`), unless a comprehension
    /// variable shadows it.
    fn declared<'v>(&'v self, e: &Expression, bound: &[String]) -> Option<(String, &'v Value)> {
        match e {
            Expression::Ident(n) if !bound.iter().any(|b| b == n.as_str()) => {
                self.variables.get(n.as_str()).map(|v| (n.to_string(), v))
            }
            Expression::Member(base, member) => {
                let (path, v) = self.declared(base, bound)?;
                let name = match member.as_ref() {
                    Member::Attribute(n) => n.to_string(),
                    Member::Index(i) => match i.as_ref() {
                        Expression::Atom(Atom::String(s)) => s.to_string(),
                        _ => return None,
                    },
                    Member::Fields(_) => return None,
                };
                v.get(&name).map(|inner| (format!("{path}.{name}"), inner))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(doc: bool, vars: Value, text: &str) -> Result<(), String> {
        let vars = vars.as_object().unwrap().clone();
        Scope {
            doc,
            variables: &vars,
            only_doc: false,
        }
        .check(text)
    }

    #[test]
    fn reading_doc_is_found_unless_a_comprehension_binds_the_name() {
        assert!(reads_doc("doc.total > 0"));
        assert!(reads_doc("value.qty <= size(doc)"));
        assert!(!reads_doc("value.qty * value.price < limit"));
        assert!(!reads_doc("value.lines.all(doc, doc.qty > 0)"));
        assert!(!reads_doc("value.document > 0"));
    }

    #[test]
    fn declared_names_and_members() {
        let vars = json!({"outputs": null, "meta": null, "consts": {"max": 3},
                          "steps": {"sim": null, "schema": null}});
        assert!(check(
            true,
            vars.clone(),
            "outputs.kwh < consts.max && doc.a == meta.x"
        )
        .is_ok());
        assert!(check(
            true,
            vars.clone(),
            "steps.sim.outputs.peak > 1 && steps['schema'].status == 'PASSED'"
        )
        .is_ok());
        assert!(check(true, vars.clone(), "doc.rows.all(r, r.kwh > consts.max)").is_ok());
        assert!(check(
            true,
            vars.clone(),
            "size(doc.rows.map(r, r.kwh)) > 0 && has(doc.x)"
        )
        .is_ok());
        let e = check(true, vars.clone(), "output.kwh > 1").unwrap_err();
        assert!(
            e.contains("unknown variable `output`") && e.contains("outputs"),
            "{e}"
        );
        let e = check(true, vars.clone(), "steps.simulation.outputs.x > 1").unwrap_err();
        assert!(
            e.contains("`steps` has no `simulation` (known: schema, sim)"),
            "{e}"
        );
        let e = check(true, vars.clone(), "consts.min > 1").unwrap_err();
        assert!(e.contains("`consts` has no `min`"), "{e}");
        let e = check(false, vars.clone(), "doc.a == 1").unwrap_err();
        assert!(e.contains("not parsed"), "{e}");
        // A comprehension variable shadows a declared one.
        assert!(check(true, vars, "doc.rows.all(consts, consts.anything > 0)").is_ok());
    }
}
