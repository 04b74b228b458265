//! The attributes of a start tag, read in one pass over its text: each
//! `name = "value"` separated by white space, no name twice. Positions are byte
//! offsets into the tag's text, for error locations.

use std::collections::HashSet;
use std::ops::Range;

/// One attribute: where its name and its value (without quotes) are in the tag.
#[derive(Clone, Debug)]
pub struct Attribute {
    pub key: Range<usize>,
    pub value: Range<usize>,
    /// The value holds a reference (`&`), to be checked.
    pub references: bool,
}

/// Above this many attributes, repeats are found with a set instead of by comparing
/// every pair (a hostile tag may have thousands).
const PAIRWISE: usize = 16;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Reads the attributes of `raw` (a tag's text without `<` and `>` or `/>`) after
/// its name into `out`; an error names what is wrong and where.
pub fn attributes(raw: &str, out: &mut Vec<Attribute>) -> Result<(), (String, usize)> {
    out.clear();
    let b = raw.as_bytes();
    let mut i = b.iter().position(|&c| is_space(c)).unwrap_or(b.len());
    loop {
        let gap = i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if i == b.len() {
            break;
        }
        if i == gap {
            return Err(("attributes must be separated by white space".into(), i));
        }
        let key_start = i;
        while i < b.len() && !is_space(b[i]) && b[i] != b'=' {
            i += 1;
        }
        let key = key_start..i;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        if b.get(i) != Some(&b'=') {
            return Err((
                format!("attribute '{}' has no value", &raw[key.clone()]),
                key_start,
            ));
        }
        i += 1;
        while i < b.len() && is_space(b[i]) {
            i += 1;
        }
        let quote = match b.get(i) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => {
                return Err((
                    format!("the value of attribute '{}' must be quoted", &raw[key]),
                    i,
                ))
            }
        };
        let value_start = i + 1;
        // Values are short: one loop finds the closing quote, `<` and `&`.
        let mut references = false;
        let mut end = None;
        for (j, &c) in b.iter().enumerate().skip(value_start) {
            match c {
                _ if c == quote => {
                    end = Some(j);
                    break;
                }
                b'<' => return Err(("'<' is not allowed in an attribute value".into(), j)),
                b'&' => references = true,
                _ => {}
            }
        }
        let Some(end) = end else {
            return Err((
                format!("the value of attribute '{}' is not closed", &raw[key]),
                i,
            ));
        };
        out.push(Attribute {
            key,
            value: value_start..end,
            references,
        });
        i = end + 1;
    }
    repeated(raw, out).map_or(Ok(()), |a| {
        Err((
            format!("attribute '{}' appears twice", &raw[a.key.clone()]),
            a.key.start,
        ))
    })
}

/// The first attribute whose name an earlier one already had.
fn repeated<'a>(raw: &str, attrs: &'a [Attribute]) -> Option<&'a Attribute> {
    let name = |a: &Attribute| &raw[a.key.clone()];
    if attrs.len() <= PAIRWISE {
        return attrs
            .iter()
            .enumerate()
            .find(|(n, a)| attrs[..*n].iter().any(|p| name(p) == name(a)))
            .map(|(_, a)| a);
    }
    let mut seen = HashSet::with_capacity(attrs.len());
    attrs.iter().find(|a| !seen.insert(name(a)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(raw: &str) -> Result<Vec<(String, String)>, (String, usize)> {
        let mut out = Vec::new();
        attributes(raw, &mut out)?;
        Ok(out
            .iter()
            .map(|a| {
                (
                    raw[a.key.clone()].to_owned(),
                    raw[a.value.clone()].to_owned(),
                )
            })
            .collect())
    }

    #[test]
    fn reads_names_and_values() {
        assert_eq!(
            read("a x=\"1\" y = '2>' \n z=\"\" ").unwrap(),
            vec![
                ("x".into(), "1".into()),
                ("y".into(), "2>".into()),
                ("z".into(), "".into())
            ]
        );
        assert!(read("a").unwrap().is_empty());
    }

    #[test]
    fn refuses_what_is_not_an_attribute_list() {
        assert_eq!(read("a x=\"1\"y=\"2\"").unwrap_err().1, 7);
        assert!(read("a x").is_err());
        assert!(read("a x=1").is_err());
        assert!(read("a x=\"1").is_err());
        assert_eq!(read("a x=\"1\" x='2'").unwrap_err().1, 8);
        let many: String = (0..100).map(|n| format!(" k{n}=\"v\"")).collect();
        assert!(read(&format!("a{many}")).is_ok());
        assert!(read(&format!("a{many} k42=\"again\"")).is_err());
    }
}
