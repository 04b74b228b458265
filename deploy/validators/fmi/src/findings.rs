//! Findings as the output envelope carries them.

use validibot_plugin_api::container::Message;

#[derive(Debug, Default)]
pub struct Findings(pub Vec<Message>);

impl Findings {
    fn push(&mut self, severity: &str, code: &str, text: String, location: Option<String>) {
        self.0.push(Message {
            severity: severity.into(),
            code: code.into(),
            text,
            location,
        });
    }
    pub fn error(&mut self, code: &str, text: impl Into<String>, location: Option<String>) {
        self.push("ERROR", code, text.into(), location)
    }
    pub fn warning(&mut self, code: &str, text: impl Into<String>, location: Option<String>) {
        self.push("WARNING", code, text.into(), location)
    }
    pub fn info(&mut self, code: &str, text: impl Into<String>, location: Option<String>) {
        self.push("INFO", code, text.into(), location)
    }
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|m| m.severity == "ERROR")
    }
    #[cfg(test)]
    pub fn codes(&self) -> Vec<&str> {
        self.0.iter().map(|m| m.code.as_str()).collect()
    }
}
