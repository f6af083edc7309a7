//! Recurring jobs: cron expressions (croner) evaluated in an IANA time zone
//! (chrono-tz), so that `0 9 * * *` means 9:00 on the wall clock of that
//! zone on both sides of a DST change. Pure: the current time is an
//! argument.

use crate::domain::Ts;
use chrono::TimeZone;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// A parsed `[[scheduler.cron]]` entry. Its stored job has the key
/// `cron:<name>` and runs `task`.
#[derive(Clone, Debug)]
pub struct CronSpec {
    pub name: String,
    /// What the app does when it fires (`digest`, `sla_sweep`, ...);
    /// [`parse_cron`] sets it to the name, set it with [`CronSpec::with_task`].
    pub task: String,
    /// The expression as written.
    pub expr: String,
    /// The IANA zone it is evaluated in.
    pub tz: String,
    cron: Cron,
    zone: chrono_tz::Tz,
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, &self.task, &self.expr, &self.tz)
            == (&other.name, &other.task, &other.expr, &other.tz)
    }
}

/// Parse a cron expression: five fields (`min hour day month weekday`) or
/// six with seconds first; `@daily`-style nicknames too. `tz` is an IANA
/// zone (`Europe/Madrid`, `UTC`). The error names the bad expression or zone.
pub fn parse_cron(name: &str, expr: &str, tz: &str) -> Result<CronSpec, String> {
    if name.trim().is_empty() {
        return Err(format!("cron job for \"{expr}\" has an empty name"));
    }
    let fields = expr.split_whitespace().count();
    if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!(
            "invalid cron expression \"{expr}\" for {name}: expected 5 fields \
             (minute hour day-of-month month day-of-week) or 6 with seconds first, found {fields}"
        ));
    }
    let cron = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| format!("invalid cron expression \"{expr}\" for {name}: {e}"))?;
    let zone: chrono_tz::Tz = tz
        .parse()
        .map_err(|_| format!("unknown time zone \"{tz}\" for cron job {name}"))?;
    Ok(CronSpec {
        name: name.to_string(),
        task: name.to_string(),
        expr: expr.to_string(),
        tz: tz.to_string(),
        cron,
        zone,
    })
}

impl CronSpec {
    pub fn with_task(mut self, task: impl Into<String>) -> CronSpec {
        self.task = task.into();
        self
    }

    /// The first occurrence strictly after `t`, on the wall clock of the
    /// spec's zone: a fixed time skipped by a DST change (02:30 on the
    /// spring-forward day) runs at the end of the gap, and one repeated by
    /// it runs once; intervals (`*/15`) follow real time. `None` if there is
    /// none within croner's search horizon (e.g. `0 0 30 2 *`).
    pub fn next_after(&self, t: Ts) -> Option<Ts> {
        let start = self.zone.timestamp_millis_opt(t.0).single()?;
        let next = self.cron.find_next_occurrence(&start, false).ok()?;
        let next = Ts(next.timestamp_millis());
        (next > t).then_some(next)
    }
}
