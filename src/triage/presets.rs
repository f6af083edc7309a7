//! The built-in rule set every business starts from (editable): a
//! bilingual (Spanish/English) category tree with service targets, signals
//! that add or take points whatever the topic, and topic rules. See
//! `presets.toml` for the rules themselves.

use super::rules::RuleSet;

/// The presets as TOML (what the admin editor shows first).
pub const PRESETS_TOML: &str = include_str!("presets.toml");

pub fn presets() -> RuleSet {
    RuleSet::from_toml(PRESETS_TOML).expect("the built-in presets compile")
}
