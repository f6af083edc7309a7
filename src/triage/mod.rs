//! Triage: the pure decision cores (DESIGN invariant 5) that score, classify
//! and route conversations. Nothing here reads the clock or the store: the
//! app layer (`app::triage`) gathers a [`TriageInput`], calls
//! [`RuleSet::decide`] and [`routing::route`], and stores the decision with
//! its reasons.
//!
//! * `sentiment`: bilingual lexicon scorer, one input among others;
//! * `rules`: the rule language (conditions → effects), compiled once;
//! * `presets`: the built-in, editable rule set and category tree;
//! * `sla`: target durations and due times per category and priority;
//! * `routing`: round-robin, least-loaded and best-match assignment.

pub mod model;
pub mod presets;
pub mod routing;
pub mod rules;
pub mod sentiment;
pub mod sla;

pub use model::*;
pub use rules::{RuleError, RuleSet};
