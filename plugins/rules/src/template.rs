//! Message templates: `{{ <CEL> }}` placeholders, evaluated over the same variables as
//! the rule's expression (`{{ outputs.site_energy_gj }}`, `{{ value }}`), between text
//! that may use the older `{id}`, `{path}`, `{value}` and `{expected}` names.

use serde_json::Value;

use crate::condition::{Doc, Expr};

/// Placeholders per message.
const MAX_PLACEHOLDERS: usize = 16;
/// Characters one placeholder renders to at most.
const MAX_RENDERED: usize = 200;

pub struct Template {
    parts: Vec<Part>,
}

enum Part {
    Text(String),
    Expr(Expr),
}

impl Template {
    /// Compiles every placeholder; the error says which one and why.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}") else {
                return Err(format!(
                    "unclosed placeholder at {:?}",
                    &rest[open..].chars().take(20).collect::<String>()
                ));
            };
            parts.push(Part::Text(rest[..open].to_owned()));
            let source = rest[open + 2..open + 2 + close].trim();
            let expr = Expr::compile(source)
                .map_err(|e| format!("placeholder {{{{ {source} }}}}: {e}"))?;
            parts.push(Part::Expr(expr));
            rest = &rest[open + 2 + close + 2..];
        }
        parts.push(Part::Text(rest.to_owned()));
        let placeholders = parts.iter().filter(|p| matches!(p, Part::Expr(_))).count();
        if placeholders > MAX_PLACEHOLDERS {
            return Err(format!(
                "{placeholders} placeholders; a message may have {MAX_PLACEHOLDERS}"
            ));
        }
        Ok(Template { parts })
    }

    /// The placeholders' expressions (to check what they refer to).
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        self.parts.iter().filter_map(|p| match p {
            Part::Expr(e) => Some(e),
            Part::Text(_) => None,
        })
    }

    /// The message: text parts through `text` (the older names), placeholders evaluated;
    /// one that cannot be evaluated renders as `<error: …>` rather than hiding the finding.
    pub fn render(&self, doc: &Doc<'_>, value: &Value, text: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(&text(t)),
                Part::Expr(e) => match e.eval(doc, value) {
                    Ok(v) => out.push_str(&shorten(display(&v))),
                    Err(err) => out.push_str(&format!("<error: {}>", shorten(err))),
                },
            }
        }
        out
    }
}

/// A CEL value as a person reads it: strings bare, numbers in their shortest form.
fn display(v: &cel_interpreter::Value) -> String {
    use cel_interpreter::Value as V;
    match v {
        V::String(s) => s.to_string(),
        V::Int(i) => i.to_string(),
        V::UInt(u) => u.to_string(),
        V::Float(f) => f.to_string(),
        V::Bool(b) => b.to_string(),
        V::Null => "null".into(),
        V::List(items) => format!(
            "[{}]",
            items.iter().map(display).collect::<Vec<_>>().join(", ")
        ),
        V::Map(m) => {
            let mut entries: Vec<String> = m
                .map
                .iter()
                .map(|(k, v)| format!("{}: {}", key(k), display(v)))
                .collect();
            entries.sort();
            format!("{{{}}}", entries.join(", "))
        }
        other => format!("{other:?}"),
    }
}

fn key(k: &cel_interpreter::objects::Key) -> String {
    use cel_interpreter::objects::Key;
    match k {
        Key::String(s) => s.to_string(),
        Key::Int(i) => i.to_string(),
        Key::Uint(u) => u.to_string(),
        Key::Bool(b) => b.to_string(),
    }
}

fn shorten(s: String) -> String {
    if s.chars().count() > MAX_RENDERED {
        format!("{}…", s.chars().take(MAX_RENDERED).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn placeholders_are_evaluated_and_text_kept() {
        let vars = vec![("outputs".to_owned(), json!({"gj": 412.5, "n": 3}))];
        let doc_json = json!({"name": "office"});
        let doc = Doc::new(Some(&doc_json), &vars);
        let t = Template::parse("{id}: {{ doc.name }} uses {{outputs.gj}} GJ over {{ outputs.n * 2 }} zones, {{ nope }}").unwrap();
        let s = t.render(&doc, &Value::Null, |t| t.replace("{id}", "r1"));
        assert!(
            s.starts_with("r1: office uses 412.5 GJ over 6 zones, <error:"),
            "{s}"
        );
    }

    #[test]
    fn bad_placeholders_are_refused() {
        assert!(Template::parse("{{ 1 + }}")
            .err()
            .unwrap()
            .contains("placeholder"));
        assert!(Template::parse("x {{ a")
            .err()
            .unwrap()
            .contains("unclosed"));
        let many = "{{1}}".repeat(MAX_PLACEHOLDERS + 1);
        assert!(Template::parse(&many).is_err());
    }
}
