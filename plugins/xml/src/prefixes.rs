//! Namespace prefixes in scope while streaming, with the declarations Namespaces in
//! XML 1.0 forbids. Only prefixes are tracked: well-formedness needs to know a
//! prefix is bound, not to what.

const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

#[derive(Default)]
pub struct Prefixes {
    /// Declared prefixes with the depth of the element that declared them.
    bound: Vec<(Box<str>, usize)>,
}

impl Prefixes {
    /// Declares `prefix` (`None`: the default namespace) as `uri` on an element at `depth`.
    pub fn declare(&mut self, prefix: Option<&str>, uri: &str, depth: usize) -> Result<(), String> {
        match prefix {
            None if uri == XML_NS || uri == XMLNS_NS => {
                Err(format!("the default namespace cannot be '{uri}'"))
            }
            None => Ok(()),
            Some("xml") if uri == XML_NS => Ok(()),
            Some("xml") => Err(format!(
                "the namespace prefix 'xml' cannot be bound to '{uri}'"
            )),
            Some("xmlns") => Err("the namespace prefix 'xmlns' cannot be declared".to_owned()),
            Some(p) if uri == XML_NS || uri == XMLNS_NS => Err(format!(
                "the namespace prefix '{p}' cannot be bound to '{uri}'"
            )),
            Some(p) if uri.is_empty() => Err(format!(
                "the namespace prefix '{p}' cannot be bound to an empty namespace name"
            )),
            Some(p) if !crate::chars::is_ncname(p) => {
                Err(format!("invalid namespace prefix '{p}'"))
            }
            Some(p) => {
                self.bound.push((p.into(), depth));
                Ok(())
            }
        }
    }

    pub fn is_bound(&self, prefix: &str) -> bool {
        prefix == "xml" || self.bound.iter().rev().any(|(p, _)| &**p == prefix)
    }

    /// Ends the scope of the element at `depth`.
    pub fn close(&mut self, depth: usize) {
        while self.bound.last().is_some_and(|&(_, d)| d >= depth) {
            self.bound.pop();
        }
    }
}
