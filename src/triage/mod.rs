//! Triage: the pure decision cores (DESIGN invariant 5) that score, classify
//! and route conversations. This version holds the sentiment scorer; rules,
//! priorities and routing build on it.

pub mod sentiment;
