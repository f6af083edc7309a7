//! STUB (being written): the business-hours calendar.

use crate::domain::Ts;

/// Opening hours of one day, in minutes after local midnight: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u16,
    pub end: u16,
}

/// A business calendar: weekly ranges in an IANA time zone, minus holidays.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz_name: String,
}

impl Calendar {
    /// Open around the clock (UTC); what an unconfigured business gets.
    pub fn always_open() -> Calendar {
        Calendar {
            tz_name: "UTC".into(),
        }
    }

    /// `week` is Monday..Sunday, each a list like `["09:00-14:00", "15:00-18:00"]`;
    /// `holidays` holds `YYYY-MM-DD` (one date) or `MM-DD` (every year).
    pub fn parse(tz: &str, week: [&[String]; 7], holidays: &[String]) -> Result<Calendar, String> {
        let _ = (week, holidays);
        Ok(Calendar { tz_name: tz.into() })
    }

    /// Add the all-day events of an iCalendar file as holidays (yearly when
    /// `RRULE:FREQ=YEARLY`). Returns how many were added.
    pub fn add_ical(&mut self, text: &str) -> Result<usize, String> {
        let _ = text;
        Ok(0)
    }

    pub fn timezone(&self) -> &str {
        &self.tz_name
    }
    pub fn is_always_open(&self) -> bool {
        true
    }
    pub fn is_open(&self, t: Ts) -> bool {
        let _ = t;
        true
    }
    /// `t` itself when open; None when the calendar never opens.
    pub fn next_opening(&self, t: Ts) -> Option<Ts> {
        Some(t)
    }
    pub fn next_closing(&self, t: Ts) -> Option<Ts> {
        let _ = t;
        None
    }
    /// The instant `ms` of open time after `t`.
    pub fn add_business(&self, t: Ts, ms: i64) -> Option<Ts> {
        Some(t.plus_ms(ms))
    }
    /// Open time in `[a, b)`, in ms (0 when `b <= a`).
    pub fn business_between(&self, a: Ts, b: Ts) -> i64 {
        (b.0 - a.0).max(0)
    }
    /// `days` open days later at the same local time (or the next opening).
    pub fn add_business_days(&self, t: Ts, days: u32) -> Option<Ts> {
        Some(t.plus_ms(i64::from(days) * 86_400_000))
    }
    /// Weekly hours in words, `lang` = `es` or `en`.
    pub fn describe_hours(&self, lang: &str) -> String {
        let _ = lang;
        String::new()
    }
    /// An instant in words in the calendar's zone: `el lunes 24 a las 9:00`.
    pub fn describe_instant(&self, t: Ts, lang: &str) -> String {
        let _ = lang;
        t.rfc3339()
    }
    /// Monday..Sunday ranges.
    pub fn week(&self) -> Vec<Vec<Range>> {
        vec![Vec::new(); 7]
    }
    /// Holidays as written (`YYYY-MM-DD`, `MM-DD`), sorted.
    pub fn holidays(&self) -> Vec<String> {
        Vec::new()
    }
}

/// A delay: wall-clock (`10s`, `2h`), business time (`4 business hours`)
/// or business days (`3 business days`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    Wall(i64),
    BusinessMs(i64),
    BusinessDays(u32),
}

impl Delay {
    pub fn parse(s: &str) -> Result<Delay, String> {
        let _ = s;
        Ok(Delay::Wall(0))
    }
    pub fn apply(&self, cal: &Calendar, from: Ts) -> Option<Ts> {
        match *self {
            Delay::Wall(ms) => Some(from.plus_ms(ms)),
            Delay::BusinessMs(ms) => cal.add_business(from, ms),
            Delay::BusinessDays(d) => cal.add_business_days(from, d),
        }
    }
}
