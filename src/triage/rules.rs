//! The rule language: compile a [`RuleDoc`] once, then decide many inputs.

use super::model::*;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    /// TOML that does not parse or has unknown keys; names the line.
    #[error("{0}")]
    Syntax(String),
    /// A rule or category that parses but makes no sense.
    #[error("rule {rule}: {message}")]
    Invalid { rule: String, message: String },
}

/// A compiled rule set.
#[derive(Debug)]
pub struct RuleSet {
    doc: RuleDoc,
}

impl RuleSet {
    pub fn compile(doc: RuleDoc) -> Result<RuleSet, RuleError> {
        Ok(RuleSet { doc })
    }

    /// Parse TOML text and compile it.
    pub fn from_toml(text: &str) -> Result<RuleSet, RuleError> {
        let doc: RuleDoc = toml::from_str(text).map_err(|e| RuleError::Syntax(e.to_string()))?;
        RuleSet::compile(doc)
    }

    pub fn doc(&self) -> &RuleDoc {
        &self.doc
    }

    pub fn category(&self, id: &str) -> Option<&Category> {
        self.doc.categories.iter().find(|c| c.id == id)
    }

    pub fn decide(&self, _input: &TriageInput) -> Decision {
        Decision::default()
    }
}
