//! Typed CSV cells: with a Frictionless Table Schema (the step config's `schema`, or the
//! one the host passes on from an earlier `csv` step), cells of `integer` and `number`
//! fields become JSON numbers, `boolean` fields booleans and missing values `null`, so
//! rules compare numbers as numbers (`gt 100`, `value > 100.0`). Without a schema every
//! cell is a string. A cell that does not parse as its type stays a string (the `csv`
//! validator is the one that reports it).

use std::collections::HashMap;

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    Text,
}

/// Column name → type, and the texts that mean "no value".
#[derive(Debug, Default)]
pub struct TableSchema {
    kinds: HashMap<String, Kind>,
    missing: Vec<String>,
}

impl TableSchema {
    /// Reads `{"fields": [{"name", "type"?}], "missingValues"?: [...]}`; unknown field
    /// types are strings, as in the Table Schema spec's `any`.
    pub fn parse(v: &Value) -> Result<TableSchema, String> {
        let fields = v
            .get("fields")
            .and_then(Value::as_array)
            .ok_or("schema.fields must be a list of {\"name\", \"type\"}")?;
        let mut kinds = HashMap::new();
        for (i, f) in fields.iter().enumerate() {
            let name = f
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(|| format!("schema.fields[{i}] needs a name"))?;
            let kind = match f.get("type").and_then(Value::as_str).unwrap_or("string") {
                "integer" => Kind::Integer,
                "number" => Kind::Number,
                "boolean" => Kind::Boolean,
                _ => Kind::Text,
            };
            kinds.insert(name.to_owned(), kind);
        }
        let missing = match v.get("missingValues") {
            None => vec![String::new()],
            Some(m) => m
                .as_array()
                .ok_or("schema.missingValues must be a list of strings")?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .ok_or("schema.missingValues must be a list of strings")?,
        };
        Ok(TableSchema { kinds, missing })
    }

    /// The JSON value of one cell of `column`.
    pub fn cell(&self, column: &str, text: &str) -> Value {
        let Some(kind) = self.kinds.get(column) else {
            return Value::String(text.to_owned());
        };
        if self.missing.iter().any(|m| m == text) {
            return Value::Null;
        }
        let trimmed = text.trim();
        let typed = match kind {
            Kind::Integer | Kind::Number => number(trimmed, *kind == Kind::Integer),
            Kind::Boolean => match trimmed {
                "true" | "True" | "TRUE" | "1" => Some(Value::Bool(true)),
                "false" | "False" | "FALSE" | "0" => Some(Value::Bool(false)),
                _ => None,
            },
            Kind::Text => None,
        };
        typed.unwrap_or_else(|| Value::String(text.to_owned()))
    }
}

/// A JSON number with the cell's digits (serde_json keeps them exactly).
fn number(text: &str, integer: bool) -> Option<Value> {
    let plain = text.strip_prefix('+').unwrap_or(text);
    let ok = if integer {
        let digits = plain.strip_prefix('-').unwrap_or(plain);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    } else {
        plain.parse::<f64>().is_ok_and(f64::is_finite)
    };
    if !ok {
        return None;
    }
    // JSON's grammar is stricter than Rust's float syntax ("1.", ".5", "1e5" forms).
    serde_json::from_str::<serde_json::Number>(plain)
        .ok()
        .or_else(|| {
            plain
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
        })
        .map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_take_their_fields_types() {
        let s = TableSchema::parse(&json!({"fields": [
            {"name": "id", "type": "integer"}, {"name": "kwh", "type": "number"},
            {"name": "ok", "type": "boolean"}, {"name": "note"}
        ]}))
        .unwrap();
        assert_eq!(s.cell("id", "42"), json!(42));
        assert_eq!(
            s.cell("id", "18446744073709551617").to_string(),
            "18446744073709551617"
        );
        assert_eq!(s.cell("kwh", "1.5"), json!(1.5));
        assert_eq!(s.cell("kwh", ".5"), json!(0.5));
        assert_eq!(s.cell("kwh", "abc"), json!("abc"), "unparseable stays text");
        assert_eq!(s.cell("kwh", ""), Value::Null, "missing value");
        assert_eq!(s.cell("ok", "TRUE"), json!(true));
        assert_eq!(s.cell("note", "12"), json!("12"));
        assert_eq!(s.cell("unlisted", "12"), json!("12"));
        assert_eq!(s.cell("kwh", "NaN"), json!("NaN"));
    }
}
