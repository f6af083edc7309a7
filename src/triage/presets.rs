//! The built-in rule set every business starts from (editable).

use super::rules::RuleSet;

/// The presets as TOML (what the admin editor shows first).
pub const PRESETS_TOML: &str = "";

pub fn presets() -> RuleSet {
    RuleSet::from_toml(PRESETS_TOML).expect("the built-in presets compile")
}
