//! Literal value spaces: whether a literal is well-formed for its XSD datatype
//! (`sh:datatype`), and how two terms compare (`sh:minInclusive` …, `sh:lessThan`).

use std::cmp::Ordering;
use std::str::FromStr;

use oxrdf::{Literal, Term};
use oxsdatatypes::{
    Date, DateTime, Decimal, Double, Duration, Float, GDay, GMonth, GMonthDay, GYear, GYearMonth,
    Time,
};

use crate::vocab::XSD;

/// Whether `literal` lies in its datatype's lexical space. Datatypes outside XSD's
/// built-ins are taken as written.
pub fn well_formed(literal: &Literal) -> bool {
    let value = literal.value();
    let Some(local) = literal.datatype().as_str().strip_prefix(XSD) else {
        return true;
    };
    match local {
        "string" | "anyURI" => true,
        "normalizedString" => !value.contains(['\n', '\r', '\t']),
        "token" | "language" | "Name" | "NCName" | "NMTOKEN" => {
            !value.contains(['\n', '\r', '\t'])
                && !value.starts_with(' ')
                && !value.ends_with(' ')
                && !value.contains("  ")
                && (local != "language" || language_tag(value))
        }
        "boolean" => matches!(value, "true" | "false" | "1" | "0"),
        "decimal" => Decimal::from_str(value).is_ok(),
        "float" => Float::from_str(value).is_ok(),
        "double" => Double::from_str(value).is_ok(),
        "dateTime" | "dateTimeStamp" => {
            DateTime::from_str(value).is_ok_and(|d| local == "dateTime" || d.timezone().is_some())
        }
        "date" => Date::from_str(value).is_ok(),
        "time" => Time::from_str(value).is_ok(),
        "duration" | "dayTimeDuration" | "yearMonthDuration" => Duration::from_str(value).is_ok(),
        "gYear" => GYear::from_str(value).is_ok(),
        "gYearMonth" => GYearMonth::from_str(value).is_ok(),
        "gMonth" => GMonth::from_str(value).is_ok(),
        "gMonthDay" => GMonthDay::from_str(value).is_ok(),
        "gDay" => GDay::from_str(value).is_ok(),
        integer => match integer_range(integer) {
            Some((min, max)) => integer_in(value, min, max),
            None => true,
        },
    }
}

/// `[+-]?[0-9]+` within the bounds; beyond i128 only an unbounded side accepts it.
fn integer_in(value: &str, min: Option<i128>, max: Option<i128>) -> bool {
    let digits = value.strip_prefix(['+', '-']).unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    match value.parse::<i128>() {
        Ok(i) => min.is_none_or(|m| i >= m) && max.is_none_or(|m| i <= m),
        Err(_) if value.starts_with('-') => min.is_none(),
        Err(_) => max.is_none(),
    }
}

/// The bounds of XSD's integer types (`None` = unbounded on that side, within i64).
fn integer_range(local: &str) -> Option<(Option<i128>, Option<i128>)> {
    Some(match local {
        "integer" => (None, None),
        "long" => (Some(i64::MIN.into()), Some(i64::MAX.into())),
        "int" => (Some(i32::MIN.into()), Some(i32::MAX.into())),
        "short" => (Some(i16::MIN.into()), Some(i16::MAX.into())),
        "byte" => (Some(i8::MIN.into()), Some(i8::MAX.into())),
        "nonNegativeInteger" => (Some(0), None),
        "unsignedLong" => (Some(0), Some(u64::MAX.into())),
        "positiveInteger" => (Some(1), None),
        "nonPositiveInteger" => (None, Some(0)),
        "negativeInteger" => (None, Some(-1)),
        "unsignedInt" => (Some(0), Some(u32::MAX.into())),
        "unsignedShort" => (Some(0), Some(u16::MAX.into())),
        "unsignedByte" => (Some(0), Some(u8::MAX.into())),
        _ => return None,
    })
}

fn language_tag(value: &str) -> bool {
    let mut parts = value.split('-');
    parts
        .next()
        .is_some_and(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// A literal's value, for ordering.
enum Value {
    Number(f64, Option<Decimal>),
    DateTime(DateTime),
    Date(Date),
    Time(Time),
    Text(String),
    Boolean(bool),
}

fn value(literal: &Literal) -> Option<Value> {
    let v = literal.value();
    if literal.language().is_some() {
        return Some(Value::Text(v.to_owned()));
    }
    let local = literal.datatype().as_str().strip_prefix(XSD)?;
    Some(match local {
        "string" => Value::Text(v.to_owned()),
        "boolean" => Value::Boolean(matches!(v, "true" | "1")),
        "float" | "double" => Value::Number(Double::from_str(v).ok()?.into(), None),
        "dateTime" | "dateTimeStamp" => Value::DateTime(DateTime::from_str(v).ok()?),
        "date" => Value::Date(Date::from_str(v).ok()?),
        "time" => Value::Time(Time::from_str(v).ok()?),
        other if other == "decimal" || integer_range(other).is_some() => {
            if !well_formed(literal) {
                return None;
            }
            let d = Decimal::from_str(v).ok()?;
            Value::Number(Double::from(d).into(), Some(d))
        }
        _ => return None,
    })
}

/// How `a` compares to `b` in SPARQL's `<` sense: `None` when they cannot be compared
/// (different kinds, a non-literal, an ill-formed literal, dates with and without zones).
pub fn compare(a: &Term, b: &Term) -> Option<Ordering> {
    let (Term::Literal(a), Term::Literal(b)) = (a, b) else {
        return None;
    };
    match (value(a)?, value(b)?) {
        (Value::Number(_, Some(x)), Value::Number(_, Some(y))) => x.partial_cmp(&y),
        (Value::Number(x, _), Value::Number(y, _)) => x.partial_cmp(&y),
        (Value::DateTime(x), Value::DateTime(y)) => x.partial_cmp(&y),
        (Value::Date(x), Value::Date(y)) => x.partial_cmp(&y),
        (Value::Time(x), Value::Time(y)) => x.partial_cmp(&y),
        (Value::Text(x), Value::Text(y)) => Some(x.cmp(&y)),
        (Value::Boolean(x), Value::Boolean(y)) => Some(x.cmp(&y)),
        _ => None,
    }
}

/// `str(term)` as SPARQL defines it (a blank node has none).
pub fn string_of(term: &Term) -> Option<&str> {
    match term {
        Term::NamedNode(n) => Some(n.as_str()),
        Term::Literal(l) => Some(l.value()),
        Term::BlankNode(_) => None,
    }
}

/// RFC 4647 basic filtering, as `sh:languageIn` (SPARQL `langMatches`) uses it.
pub fn lang_matches(tag: &str, range: &str) -> bool {
    if range == "*" {
        return !tag.is_empty();
    }
    let (tag, range) = (tag.to_ascii_lowercase(), range.to_ascii_lowercase());
    tag == range || tag.strip_prefix(&range).is_some_and(|r| r.starts_with('-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::NamedNode;

    fn typed(v: &str, t: &str) -> Literal {
        Literal::new_typed_literal(v, NamedNode::new_unchecked(format!("{XSD}{t}")))
    }

    #[test]
    fn well_formedness_follows_the_datatype() {
        assert!(well_formed(&typed("42", "integer")));
        assert!(!well_formed(&typed("4.2", "integer")));
        assert!(!well_formed(&typed("300", "byte")));
        assert!(well_formed(&typed("2024-02-29", "date")));
        assert!(!well_formed(&typed("2023-02-29", "date")));
        assert!(!well_formed(&typed("maybe", "boolean")));
        assert!(well_formed(&typed("anything", "http://example.org/own")));
    }

    #[test]
    fn numbers_compare_across_numeric_types() {
        let a: Term = typed("3", "integer").into();
        let b: Term = typed("3.5", "decimal").into();
        let c: Term = typed("abc", "string").into();
        assert_eq!(compare(&a, &b), Some(Ordering::Less));
        assert_eq!(compare(&a, &c), None);
        assert!(lang_matches("en-GB", "en"));
        assert!(!lang_matches("eng", "en"));
    }
}
