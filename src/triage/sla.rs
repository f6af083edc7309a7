//! Service targets: durations per category, tightened for VIPs and P1,
//! and due times (24/7 until business-hours calendars exist).

use super::model::Category;
use crate::domain::{Priority, Ts};

/// Parse "90s", "30m", "4h", "2d", "1h30m" into milliseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    Err(format!("not a duration: {s}"))
}

/// When the first response and the resolution are due.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaDue {
    pub first_response: Ts,
    pub resolution: Ts,
    /// e.g. "billing: first response 1h, resolution 1d; P1 halves it".
    pub reasons: Vec<String>,
}

pub fn due(
    _category: Option<&Category>,
    _priority: Priority,
    _vip: bool,
    _from: Ts,
) -> Option<SlaDue> {
    None
}
