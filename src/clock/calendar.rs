//! The business-hours calendar: weekly opening ranges in an IANA time zone,
//! minus holidays, and the arithmetic on instants built on it.
//!
//! The reference definition: the calendar is open at instant `t` iff the
//! local wall-clock time of `t` in the zone (date `d`, time of day) falls in
//! one of the ranges of `d`'s weekday and `d` is not a holiday. So the local
//! times skipped by a spring-forward gap never happen, and the hour repeated
//! by a fall-back fold is open twice when it is in range.
//!
//! Everything is computed on *segments*: stretches of UTC time with one
//! offset (between two transitions of the zone), cut at local midnights.
//! Within such a piece local time is `utc + offset`, so the open instants of
//! each range form one interval. The work is O(days spanned), never a walk
//! minute by minute, and every search is bounded (see [`SEARCH_GAP_DAYS`]
//! and [`HORIZON_YEARS`]) so nothing loops forever.

use std::collections::BTreeSet;
use std::fmt;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use crate::domain::Ts;

const MINUTE: i64 = 60_000;
const DAY: i64 = 86_400_000;
const DAY_MINUTES: u16 = 1440;

/// A search for open time gives up (None) after this many days in a row
/// without any: a calendar closed for three years is taken as never open.
pub const SEARCH_GAP_DAYS: i64 = 3 * 366;
/// No search looks further than this many years past its starting instant
/// (e.g. `add_business` of an absurd amount).
pub const HORIZON_YEARS: i64 = 100;

const SEARCH_GAP: i64 = SEARCH_GAP_DAYS * DAY;
const HORIZON: i64 = HORIZON_YEARS * 366 * DAY;

/// Instants the calendar can reason about: jiff's range with two days of
/// margin; outside it nothing is open.
fn lowest() -> i64 {
    Timestamp::MIN.as_millisecond() + 2 * DAY
}
fn highest() -> i64 {
    Timestamp::MAX.as_millisecond() - 2 * DAY
}

const WEEKDAYS_EN: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const WEEKDAYS_ES: [&str; 7] = [
    "lunes",
    "martes",
    "miércoles",
    "jueves",
    "viernes",
    "sábado",
    "domingo",
];
const MONTHS_EN: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_ES: [&str; 12] = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
];

/// Opening hours of one day, in minutes after local midnight: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    pub start: u16,
    pub end: u16,
}

impl Range {
    /// `"09:00-14:00"` (also `9:00-14:00`, spaces around the dash, an en
    /// dash; `24:00` only as the end). The error names the text.
    pub fn parse(s: &str) -> Result<Range, String> {
        let bad = || format!("{s:?} is not HH:MM-HH:MM");
        let t = s.trim();
        let (a, b) = t
            .split_once('-')
            .or_else(|| t.split_once('–'))
            .ok_or_else(bad)?;
        let start = parse_hhmm(a.trim()).ok_or_else(bad)?;
        let end = parse_hhmm(b.trim()).ok_or_else(bad)?;
        if end <= start {
            return Err(format!("{s:?} does not end after it starts"));
        }
        Ok(Range { start, end })
    }
}

/// `HH:MM` → minutes; `24:00` allowed (the caller rejects it as a start).
fn parse_hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    if !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: u16 = h.parse().ok()?;
    let m: u16 = m.parse().ok()?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// `9:00`, `24:00`: how times read in sentences.
fn h_mm(minutes: u16) -> String {
    format!("{}:{:02}", minutes / 60, minutes % 60)
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hhmm(self.start), hhmm(self.end))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date (year, month 1..=12, day 1..=31) of a day number.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    // Both in range by construction (1..=31, 1..=12).
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Monday = 0 .. Sunday = 6.
fn weekday(day: i64) -> usize {
    // 1970-01-01 was a Thursday; rem_euclid(7) is in 0..7.
    (day + 3).rem_euclid(7) as usize
}

/// A holiday: one date (as a day number) or a month-day every year.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Holiday {
    Date(i64),
    Yearly { month: u32, day: u32 },
}

/// `YYYY-MM-DD` or `MM-DD` (Feb 29 allowed every year).
fn parse_holiday(s: &str) -> Result<Holiday, String> {
    let bad = || format!("holiday {s:?} is not a valid date (YYYY-MM-DD, or MM-DD for every year)");
    let t = s.trim();
    let parts: Vec<&str> = t.split('-').collect();
    let num = |p: &str, len: usize| -> Option<u32> {
        if p.len() == len && p.bytes().all(|b| b.is_ascii_digit()) {
            p.parse().ok()
        } else {
            None
        }
    };
    match parts.as_slice() {
        [y, m, d] => {
            let y = i64::from(num(y, 4).ok_or_else(bad)?);
            let (m, d) = (num(m, 2).ok_or_else(bad)?, num(d, 2).ok_or_else(bad)?);
            if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
                return Err(bad());
            }
            Ok(Holiday::Date(days_from_civil(y, m, d)))
        }
        [m, d] => {
            let (m, d) = (num(m, 2).ok_or_else(bad)?, num(d, 2).ok_or_else(bad)?);
            // 2000 is a leap year: allows 02-29.
            if !(1..=12).contains(&m) || d == 0 || d > days_in_month(2000, m) {
                return Err(bad());
            }
            Ok(Holiday::Yearly { month: m, day: d })
        }
        _ => Err(bad()),
    }
}

/// A business calendar: weekly ranges in an IANA time zone, minus holidays.
#[derive(Clone, Debug)]
pub struct Calendar {
    tz_name: String,
    tz: TimeZone,
    /// Monday..Sunday, each sorted and without overlaps.
    week: [Vec<Range>; 7],
    /// Single-date holidays, as day numbers.
    dates: BTreeSet<i64>,
    /// Yearly holidays: bit `d` of `yearly[m]` for month `m`, day `d`.
    yearly: [u32; 13],
}

impl Calendar {
    /// Open around the clock (UTC); what an unconfigured business gets.
    pub fn always_open() -> Calendar {
        Calendar {
            tz_name: "UTC".into(),
            tz: TimeZone::UTC,
            week: std::array::from_fn(|_| {
                vec![Range {
                    start: 0,
                    end: DAY_MINUTES,
                }]
            }),
            dates: BTreeSet::new(),
            yearly: [0; 13],
        }
    }

    /// `week` is Monday..Sunday, each a list like `["09:00-14:00", "15:00-18:00"]`;
    /// `holidays` holds `YYYY-MM-DD` (one date) or `MM-DD` (every year).
    pub fn parse(tz: &str, week: [&[String]; 7], holidays: &[String]) -> Result<Calendar, String> {
        let tz_name = tz.trim();
        let zone =
            TimeZone::get(tz_name).map_err(|e| format!("unknown time zone {tz_name:?}: {e}"))?;
        let mut days: [Vec<Range>; 7] = Default::default();
        for (i, items) in week.iter().enumerate() {
            let name = WEEKDAYS_EN[i].to_lowercase();
            let mut ranges = Vec::with_capacity(items.len());
            for item in items.iter() {
                let r = Range::parse(item).map_err(|e| format!("{name}: {e}"))?;
                ranges.push((r, item.trim()));
            }
            ranges.sort_by_key(|(r, _)| (r.start, r.end));
            for pair in ranges.windows(2) {
                let ((a, a_text), (b, b_text)) = (pair[0], pair[1]);
                if b.start < a.end {
                    return Err(format!("{name}: {b_text:?} overlaps {a_text:?}"));
                }
            }
            days[i] = ranges.into_iter().map(|(r, _)| r).collect();
        }
        let mut cal = Calendar {
            // The zone database's spelling (`europe/madrid` → `Europe/Madrid`).
            tz_name: zone.iana_name().unwrap_or(tz_name).to_string(),
            tz: zone,
            week: days,
            dates: BTreeSet::new(),
            yearly: [0; 13],
        };
        for h in holidays {
            cal.insert_holiday(parse_holiday(h)?);
        }
        Ok(cal)
    }

    /// Adds a holiday; false when it was already there.
    fn insert_holiday(&mut self, h: Holiday) -> bool {
        match h {
            Holiday::Date(day) => self.dates.insert(day),
            Holiday::Yearly { month, day } => {
                let slot = &mut self.yearly[month as usize];
                let bit = 1u32 << day;
                let new = *slot & bit == 0;
                *slot |= bit;
                new
            }
        }
    }

    /// Add the all-day events of an iCalendar file as holidays (yearly when
    /// `RRULE:FREQ=YEARLY`). Returns how many were added (holidays the
    /// calendar already had are not counted). On error nothing is added.
    pub fn add_ical(&mut self, text: &str) -> Result<usize, String> {
        let found = super::ical::parse_holidays(text)?;
        Ok(found
            .into_iter()
            .filter(|h| self.insert_holiday(*h))
            .count())
    }

    pub fn timezone(&self) -> &str {
        &self.tz_name
    }

    /// Open every minute of every day, with no holidays.
    pub fn is_always_open(&self) -> bool {
        self.dates.is_empty()
            && self.yearly.iter().all(|&m| m == 0)
            && self.week.iter().all(|day| {
                let mut covered = 0;
                for r in day {
                    if r.start != covered {
                        return false;
                    }
                    covered = r.end;
                }
                covered == DAY_MINUTES
            })
    }

    fn is_holiday(&self, day: i64) -> bool {
        if self.dates.contains(&day) {
            return true;
        }
        let (_, m, d) = civil_from_days(day);
        self.yearly[m as usize] & (1 << d) != 0
    }

    /// A date with some opening hours that is not a holiday.
    fn is_open_date(&self, day: i64) -> bool {
        !self.week[weekday(day)].is_empty() && !self.is_holiday(day)
    }

    /// The offset (ms) at `t` and the end of its constant-offset segment
    /// (the next transition; `i64::MAX` when there is none). `t` must be in
    /// `lowest()..highest()`.
    fn segment(&self, t: i64) -> (i64, i64) {
        let Ok(ts) = Timestamp::from_millisecond(t) else {
            return (0, i64::MAX);
        };
        let off = i64::from(self.tz.to_offset(ts).seconds()) * 1000;
        let end = self
            .tz
            .following(ts)
            .next()
            .map_or(i64::MAX, |tr| tr.timestamp().as_millisecond());
        (off, end.max(t + 1))
    }

    fn offset_at(&self, t: i64) -> i64 {
        Timestamp::from_millisecond(t)
            .map_or(0, |ts| i64::from(self.tz.to_offset(ts).seconds()) * 1000)
    }

    fn in_range(t: i64) -> bool {
        (lowest()..highest()).contains(&t)
    }

    /// Open intervals from `from` on, in order, cut at `stop`; gives up
    /// after `max_gap` ms without open time.
    fn open_from(&self, from: i64, stop: i64, max_gap: i64) -> OpenIntervals<'_> {
        OpenIntervals {
            cal: self,
            pos: from,
            stop: stop.min(highest()),
            last: from,
            max_gap,
            off: 0,
            seg_end: from,
            buf: Vec::new(),
            next: 0,
        }
    }

    pub fn is_open(&self, t: Ts) -> bool {
        if self.is_always_open() {
            return true;
        }
        if !Self::in_range(t.0) {
            return false;
        }
        let local = t.0 + self.offset_at(t.0);
        let day = local.div_euclid(DAY);
        if !self.is_open_date(day) {
            return false;
        }
        let ms = local - day * DAY;
        self.week[weekday(day)]
            .iter()
            .any(|r| i64::from(r.start) * MINUTE <= ms && ms < i64::from(r.end) * MINUTE)
    }

    /// `t` itself when open; None when the calendar does not open within
    /// [`SEARCH_GAP_DAYS`].
    pub fn next_opening(&self, t: Ts) -> Option<Ts> {
        if self.is_always_open() {
            return Some(t);
        }
        if !Self::in_range(t.0) {
            return None;
        }
        self.open_from(t.0, t.0.saturating_add(HORIZON), SEARCH_GAP)
            .next()
            .map(|(start, _)| Ts(start))
    }

    /// The first instant at or after `t` when the calendar is closed: `t`
    /// itself when closed, else the end of the open stretch containing `t`.
    /// None when always open or open without a break for
    /// [`SEARCH_GAP_DAYS`].
    pub fn next_closing(&self, t: Ts) -> Option<Ts> {
        if self.is_always_open() {
            return None;
        }
        if !Self::in_range(t.0) || !self.is_open(t) {
            return Some(t);
        }
        let stop = t.0.saturating_add(SEARCH_GAP).min(highest());
        let mut end = t.0;
        for (s, e) in self.open_from(t.0, stop, i64::MAX) {
            if s != end {
                break;
            }
            end = e;
        }
        (end < stop).then_some(Ts(end))
    }

    /// The instant after exactly `ms` of open time counted from `t` (`t`
    /// when `ms <= 0`); when that lands on the end of an open stretch, that
    /// end. None when not reachable within the search bounds.
    pub fn add_business(&self, t: Ts, ms: i64) -> Option<Ts> {
        if ms <= 0 {
            return Some(t);
        }
        if self.is_always_open() {
            return t.0.checked_add(ms).map(Ts);
        }
        if !Self::in_range(t.0) {
            return None;
        }
        let mut left = ms;
        for (s, e) in self.open_from(t.0, t.0.saturating_add(HORIZON), SEARCH_GAP) {
            if left <= e - s {
                return Some(Ts(s + left));
            }
            left -= e - s;
        }
        None
    }

    /// Open time in `[a, b)`, in ms (0 when `b <= a`).
    pub fn business_between(&self, a: Ts, b: Ts) -> i64 {
        if b.0 <= a.0 {
            return 0;
        }
        if self.is_always_open() {
            return b.0.saturating_sub(a.0);
        }
        let (a, b) = (a.0.max(lowest()), b.0.min(highest()));
        if b <= a {
            return 0;
        }
        self.open_from(a, b, i64::MAX)
            .map(|(s, e)| e - s)
            .fold(0i64, i64::saturating_add)
    }

    /// `days` open dates after `t`'s local date, at `t`'s local time of day
    /// (the first instant at or after it, when a DST gap skips it); when
    /// closed then, the next opening. `days = 0` is `next_opening(t)`.
    /// An open date has some hours and is not a holiday.
    pub fn add_business_days(&self, t: Ts, days: u32) -> Option<Ts> {
        if days == 0 {
            return self.next_opening(t);
        }
        if !Self::in_range(t.0) {
            return None;
        }
        let local = t.0 + self.offset_at(t.0);
        let d0 = local.div_euclid(DAY);
        let time_of_day = local - d0 * DAY;
        let (mut day, mut last_open, mut count) = (d0, d0, 0u32);
        while count < days {
            day += 1;
            if self.is_open_date(day) {
                count += 1;
                last_open = day;
            } else if day - last_open > SEARCH_GAP_DAYS {
                return None;
            }
            if day - d0 > HORIZON_YEARS * 366 {
                return None;
            }
        }
        let target = day * DAY + time_of_day;
        let at = self.first_at_local(target)?;
        self.next_opening(Ts(at.max(t.0)))
    }

    /// The earliest instant whose local time is at or after `local`.
    fn first_at_local(&self, local: i64) -> Option<i64> {
        // Offsets are under 26 h: nothing before this reaches `local`.
        let mut p = local.checked_sub(26 * 3_600_000)?.max(lowest());
        for _ in 0..64 {
            if p >= highest() {
                return None;
            }
            let (off, end) = self.segment(p);
            if end.saturating_add(off) > local {
                return Some(p.max(local - off));
            }
            p = end;
        }
        None
    }

    /// Weekly hours in words, `lang` = `es` or `en` (anything else: `en`).
    /// Consecutive days with the same hours are grouped; "" when never open.
    pub fn describe_hours(&self, lang: &str) -> String {
        let es = lang == "es";
        let full = |d: &Vec<Range>| {
            d.len() == 1
                && d[0]
                    == Range {
                        start: 0,
                        end: DAY_MINUTES,
                    }
        };
        if self.week.iter().all(full) {
            return if es { "las 24 horas" } else { "24 hours a day" }.into();
        }
        let names = if es { WEEKDAYS_ES } else { WEEKDAYS_EN };
        let mut groups = Vec::new();
        let mut i = 0;
        while i < 7 {
            let mut j = i;
            while j + 1 < 7 && self.week[j + 1] == self.week[i] {
                j += 1;
            }
            let ranges = &self.week[i];
            if !ranges.is_empty() {
                let days = match j - i {
                    0 => names[i].to_string(),
                    1 if es => format!("{} y {}", names[i], names[j]),
                    1 => format!("{} and {}", names[i], names[j]),
                    _ if es => format!("{} a {}", names[i], names[j]),
                    _ => format!("{} to {}", names[i], names[j]),
                };
                let hours = if full(ranges) {
                    if es { "las 24 horas" } else { "24 hours" }.to_string()
                } else {
                    let parts: Vec<String> = ranges
                        .iter()
                        .map(|r| {
                            if es {
                                format!("de {} a {}", h_mm(r.start), h_mm(r.end))
                            } else {
                                format!("{}–{}", h_mm(r.start), h_mm(r.end))
                            }
                        })
                        .collect();
                    join_words(&parts, if es { "y" } else { "and" })
                };
                groups.push(format!("{days} {hours}"));
            }
            i = j + 1;
        }
        groups.join("; ")
    }

    /// An instant in words in the calendar's zone: es `el lunes 28 de
    /// diciembre a las 9:00`, en `Monday 28 December at 9:00`.
    pub fn describe_instant(&self, t: Ts, lang: &str) -> String {
        if !Self::in_range(t.0) {
            return t.rfc3339();
        }
        let local = t.0 + self.offset_at(t.0);
        let day = local.div_euclid(DAY);
        let minutes = ((local - day * DAY) / MINUTE) as u16;
        let (_, month, dom) = civil_from_days(day);
        let wd = weekday(day);
        let month = (month as usize).saturating_sub(1).min(11);
        if lang == "es" {
            let article = if minutes / 60 == 1 { "la" } else { "las" };
            format!(
                "el {} {dom} de {} a {article} {}",
                WEEKDAYS_ES[wd],
                MONTHS_ES[month],
                h_mm(minutes)
            )
        } else {
            format!(
                "{} {dom} {} at {}",
                WEEKDAYS_EN[wd],
                MONTHS_EN[month],
                h_mm(minutes)
            )
        }
    }

    /// Monday..Sunday ranges, sorted.
    pub fn week(&self) -> Vec<Vec<Range>> {
        self.week.to_vec()
    }

    /// Holidays (`YYYY-MM-DD`, then yearly `MM-DD`), sorted, including the
    /// ones from iCalendar files.
    pub fn holidays(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .dates
            .iter()
            .map(|&d| {
                let (y, m, d) = civil_from_days(d);
                format!("{y:04}-{m:02}-{d:02}")
            })
            .collect();
        for m in 1..=12u32 {
            for d in 1..=31u32 {
                if self.yearly[m as usize] & (1 << d) != 0 {
                    out.push(format!("{m:02}-{d:02}"));
                }
            }
        }
        out
    }
}

/// `a`, `a y b`, `a, b y c`.
fn join_words(parts: &[String], and: &str) -> String {
    match parts {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// The open intervals of a calendar in UTC ms, in order and disjoint (two
/// may touch), produced one local day of one offset segment at a time.
struct OpenIntervals<'a> {
    cal: &'a Calendar,
    /// Everything before this is done.
    pos: i64,
    stop: i64,
    /// End of the last interval given (or the start): for the gap bound.
    last: i64,
    max_gap: i64,
    off: i64,
    seg_end: i64,
    buf: Vec<(i64, i64)>,
    next: usize,
}

impl Iterator for OpenIntervals<'_> {
    type Item = (i64, i64);

    fn next(&mut self) -> Option<(i64, i64)> {
        loop {
            if let Some(&iv) = self.buf.get(self.next) {
                self.next += 1;
                self.last = iv.1;
                return Some(iv);
            }
            if self.pos >= self.stop || self.pos.saturating_sub(self.last) > self.max_gap {
                return None;
            }
            if self.pos >= self.seg_end {
                (self.off, self.seg_end) = self.cal.segment(self.pos);
            }
            let off = self.off;
            let local = self.pos + off;
            let day = local.div_euclid(DAY);
            let day_start = day * DAY;
            let limit = (day_start + DAY)
                .min(self.seg_end.saturating_add(off))
                .min(self.stop + off);
            self.buf.clear();
            self.next = 0;
            if self.cal.is_open_date(day) {
                for r in &self.cal.week[weekday(day)] {
                    let a = (day_start + i64::from(r.start) * MINUTE).max(local);
                    let b = (day_start + i64::from(r.end) * MINUTE).min(limit);
                    if a < b {
                        self.buf.push((a - off, b - off));
                    }
                }
            }
            self.pos = limit - off;
        }
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
    /// `250ms`, `10s`, `5m`, `2h`, `7d` (wall clock, like the config's
    /// durations; `min`, `hours`, `days`... too), `N business days`,
    /// `N business hours`, `N business minutes` and in Spanish
    /// `N días hábiles`, `N horas hábiles`, `N minutos hábiles` (singular
    /// too, accents optional, any case).
    pub fn parse(s: &str) -> Result<Delay, String> {
        const HELP: &str =
            "expected e.g. \"30m\", \"2h\", \"7d\", \"4 business hours\" or \"3 business days\"";
        let t = s.trim().to_lowercase();
        let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        if num.is_empty() {
            return Err(format!("{s:?} is not a delay: {HELP}"));
        }
        let too_big = || format!("{s:?} is too long a delay");
        let n: i64 = num.parse().map_err(|_| too_big())?;
        let unit = unit.split_whitespace().collect::<Vec<_>>().join(" ");
        let times = |k: i64| n.checked_mul(k).ok_or_else(too_big);
        Ok(match unit.as_str() {
            "ms" | "millisecond" | "milliseconds" => Delay::Wall(n),
            "s" | "sec" | "secs" | "second" | "seconds" => Delay::Wall(times(1000)?),
            "m" | "min" | "mins" | "minute" | "minutes" => Delay::Wall(times(MINUTE)?),
            "h" | "hour" | "hours" => Delay::Wall(times(3_600_000)?),
            "d" | "day" | "days" => Delay::Wall(times(DAY)?),
            "business day" | "business days" | "día hábil" | "días hábiles" | "dia habil"
            | "dias habiles" => Delay::BusinessDays(u32::try_from(n).map_err(|_| too_big())?),
            "business hour" | "business hours" | "hora hábil" | "horas hábiles" | "hora habil"
            | "horas habiles" => Delay::BusinessMs(times(3_600_000)?),
            "business minute" | "business minutes" | "minuto hábil" | "minutos hábiles"
            | "minuto habil" | "minutos habiles" => Delay::BusinessMs(times(MINUTE)?),
            "" => return Err(format!("{s:?} has no unit: {HELP}")),
            _ => return Err(format!("{s:?}: unknown unit {unit:?}; {HELP}")),
        })
    }

    pub fn apply(&self, cal: &Calendar, from: Ts) -> Option<Ts> {
        match *self {
            Delay::Wall(ms) => Some(from.plus_ms(ms)),
            Delay::BusinessMs(ms) => cal.add_business(from, ms),
            Delay::BusinessDays(d) => cal.add_business_days(from, d),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::DateTime;
    use proptest::prelude::{ProptestConfig, prop_assert, prop_assert_eq, prop_oneof, proptest};
    use proptest::strategy::{Just, Strategy};

    // ---- helpers -------------------------------------------------------

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    /// Monday..Friday `weekdays`, Saturday `sat`, Sunday closed.
    fn cal(tz: &str, weekdays: &[&str], sat: &[&str], holidays: &[&str]) -> Calendar {
        let wd = strings(weekdays);
        let sat = strings(sat);
        let none: Vec<String> = Vec::new();
        Calendar::parse(
            tz,
            [&wd, &wd, &wd, &wd, &wd, &sat, &none],
            &strings(holidays),
        )
        .unwrap()
    }

    fn every_day(tz: &str, ranges: &[&str]) -> Calendar {
        let r = strings(ranges);
        Calendar::parse(tz, [&r, &r, &r, &r, &r, &r, &r], &[]).unwrap()
    }

    /// A UTC instant from `2026-03-30T07:00:00Z`.
    fn utc(s: &str) -> Ts {
        Ts::parse(s).unwrap()
    }

    /// A local wall-clock time in `tz` (the earlier one in a fold).
    fn local(tz: &str, s: &str) -> Ts {
        let dt: DateTime = s.parse().unwrap();
        let zone = TimeZone::get(tz).unwrap();
        Ts::from_jiff(zone.to_ambiguous_timestamp(dt).earlier().unwrap())
    }

    const H: i64 = 3_600_000;

    // ---- the reference definition, evaluated with jiff's civil time ----

    /// Calendar description as plain data, evaluated independently.
    #[derive(Clone, Debug)]
    struct Spec {
        tz: &'static str,
        week: [Vec<(u16, u16)>; 7],
        dates: Vec<(i16, i8, i8)>,
        yearly: Vec<(i8, i8)>,
    }

    impl Spec {
        fn calendar(&self) -> Calendar {
            let t = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
            let week: Vec<Vec<String>> = self
                .week
                .iter()
                .map(|d| {
                    d.iter()
                        .map(|&(a, b)| format!("{}-{}", t(a), t(b)))
                        .collect()
                })
                .collect();
            let mut holidays: Vec<String> = self
                .dates
                .iter()
                .map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
                .collect();
            holidays.extend(self.yearly.iter().map(|(m, d)| format!("{m:02}-{d:02}")));
            let w: [&[String]; 7] = std::array::from_fn(|i| week[i].as_slice());
            Calendar::parse(self.tz, w, &holidays).unwrap()
        }

        fn zone(&self) -> TimeZone {
            TimeZone::get(self.tz).unwrap()
        }

        fn open_date(&self, y: i16, m: i8, d: i8, wd: usize) -> bool {
            !self.week[wd].is_empty()
                && !self.dates.contains(&(y, m, d))
                && !self.yearly.contains(&(m, d))
        }

        fn open(&self, zone: &TimeZone, ms: i64) -> bool {
            let dt = zone.to_datetime(Timestamp::from_millisecond(ms).unwrap());
            let wd = dt.weekday().to_monday_zero_offset() as usize;
            if !self.open_date(dt.year(), dt.month(), dt.day(), wd) {
                return false;
            }
            let minute = dt.hour() as u16 * 60 + dt.minute() as u16;
            self.week[wd]
                .iter()
                .any(|&(a, b)| a <= minute && minute < b)
        }
    }

    const ZONES: [&str; 4] = [
        "Europe/Madrid",
        "America/Mexico_City",
        "UTC",
        "America/New_York",
    ];

    /// 0..=3 ranges on minute boundaries, sorted, not touching.
    fn arb_day() -> impl Strategy<Value = Vec<(u16, u16)>> {
        prop_oneof![
            1 => Just(Vec::new()),
            1 => Just(vec![(540, 1080)]),
            4 => proptest::collection::btree_set(0u16..=1440, 0..=6).prop_map(|s| {
                let v: Vec<u16> = s.into_iter().collect();
                v.chunks_exact(2).map(|c| (c[0], c[1])).collect()
            }),
        ]
    }

    fn arb_spec() -> impl Strategy<Value = Spec> {
        (
            proptest::sample::select(ZONES.to_vec()),
            proptest::collection::vec(arb_day(), 7),
            proptest::collection::vec((2021i16..=2027, 1i8..=12, 1i8..=28), 0..5),
            proptest::collection::vec((1i8..=12, 1i8..=28), 0..3),
        )
            .prop_map(|(tz, week, dates, yearly)| Spec {
                tz,
                week: std::array::from_fn(|i| week[i].clone()),
                dates,
                yearly,
            })
    }

    const FROM_2021: i64 = 1_609_459_200_000;
    const TO_2027: i64 = 1_830_297_600_000;

    /// A minute in 2021–2027, half of the time in the weeks around the DST
    /// changes (March/April and October/November).
    fn arb_minute() -> impl Strategy<Value = i64> {
        prop_oneof![
            (FROM_2021 / MINUTE..TO_2027 / MINUTE).prop_map(|m| m * MINUTE),
            (
                2021i16..=2027,
                prop_oneof![Just(3i8), Just(10i8)],
                0i64..40 * 1440
            )
                .prop_map(|(y, m, minutes)| {
                    let start = jiff::civil::date(y, m, 7).at(0, 0, 0, 0);
                    let ts = TimeZone::UTC.to_timestamp(start).unwrap();
                    ts.as_millisecond() + minutes * MINUTE
                }),
        ]
    }

    fn spec_one(tz: &'static str, week: [Vec<(u16, u16)>; 7]) -> Spec {
        Spec {
            tz,
            week,
            dates: vec![(2026, 12, 25), (2026, 3, 30)],
            yearly: vec![(1, 1), (5, 1)],
        }
    }

    // ---- brute force over whole years -----------------------------------

    fn brute(spec: &Spec, from: i64, to: i64, step: i64) {
        let cal = spec.calendar();
        let zone = spec.zone();
        let mut t = from;
        while t < to {
            assert_eq!(
                cal.is_open(Ts(t)),
                spec.open(&zone, t),
                "{} at {}",
                spec.tz,
                Ts(t)
            );
            t += step;
        }
    }

    #[test]
    fn brute_force_matches_the_definition() {
        let lunch = vec![(540, 840), (960, 1140)];
        let night = vec![(0, 90), (120, 180), (1380, 1440)];
        for tz in ZONES {
            let spec = spec_one(
                tz,
                [
                    lunch.clone(),
                    lunch.clone(),
                    night.clone(),
                    lunch.clone(),
                    vec![(60, 240)],
                    vec![(600, 840)],
                    vec![(90, 150)],
                ],
            );
            // Every 15 minutes for 2022 and 2026, every minute over March,
            // April, October and November 2022 (Mexico's last DST) and 2026.
            for y in ["2022", "2026"] {
                let start = utc(&format!("{y}-01-01T00:00:00Z")).0;
                brute(&spec, start, start + 366 * DAY, 15 * MINUTE);
                for (a, b) in [("03-01", "05-01"), ("10-01", "12-01")] {
                    let a = utc(&format!("{y}-{a}T00:00:00Z")).0;
                    let b = utc(&format!("{y}-{b}T00:00:00Z")).0;
                    brute(&spec, a, b, MINUTE);
                }
            }
        }
    }

    #[test]
    fn days_and_dates_agree_with_jiff() {
        for day in (-700_000..2_900_000i64).step_by(997).chain(-5..5) {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(y, m, d), day);
            let date = jiff::civil::Date::new(y as i16, m as i8, d as i8).unwrap();
            let ts = TimeZone::UTC.to_timestamp(date.at(0, 0, 0, 0)).unwrap();
            assert_eq!(ts.as_millisecond(), day * DAY);
            assert_eq!(
                weekday(day),
                date.weekday().to_monday_zero_offset() as usize
            );
        }
    }

    // ---- properties over random calendars ------------------------------

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn is_open_is_the_definition(spec in arb_spec(), t in arb_minute(), ms in 0i64..MINUTE) {
            let cal = spec.calendar();
            let zone = spec.zone();
            for probe in [t, t + ms, t + MINUTE - 1] {
                prop_assert_eq!(cal.is_open(Ts(probe)), spec.open(&zone, probe));
            }
        }

        #[test]
        fn next_opening_is_the_first_open_minute(spec in arb_spec(), t in arb_minute()) {
            let cal = spec.calendar();
            let zone = spec.zone();
            let got = cal.next_opening(Ts(t));
            // Step minute by minute for 16 days.
            let found = (0..16 * 1440i64)
                .map(|k| t + k * MINUTE)
                .find(|&u| spec.open(&zone, u));
            match found {
                Some(u) => prop_assert_eq!(got, Some(Ts(u))),
                None => prop_assert!(got.is_none_or(|g| g.0 >= t + 16 * DAY)),
            }
            if let Some(g) = got {
                prop_assert!(cal.is_open(g));
                prop_assert_eq!(cal.business_between(Ts(t), g), 0);
            }
        }

        #[test]
        fn business_between_counts_open_minutes(
            spec in arb_spec(),
            a in arb_minute(),
            len in 0i64..3 * 1440,
            c in 0i64..2 * 1440,
        ) {
            let cal = spec.calendar();
            let zone = spec.zone();
            let b = a + len * MINUTE;
            let open = (0..len).filter(|k| spec.open(&zone, a + k * MINUTE)).count() as i64;
            prop_assert_eq!(cal.business_between(Ts(a), Ts(b)), open * MINUTE);
            prop_assert_eq!(cal.business_between(Ts(b), Ts(a)), 0);
            // Additive.
            let c = b + c * MINUTE + 12_345;
            prop_assert_eq!(
                cal.business_between(Ts(a), Ts(b)) + cal.business_between(Ts(b), Ts(c)),
                cal.business_between(Ts(a), Ts(c))
            );
        }

        #[test]
        fn add_business_inverts_business_between(
            spec in arb_spec(),
            t in arb_minute(),
            jitter in 0i64..MINUTE,
            ms in 0i64..60 * H,
        ) {
            let cal = spec.calendar();
            let t = Ts(t + jitter);
            match cal.add_business(t, ms) {
                Some(r) => {
                    prop_assert!(r >= t);
                    prop_assert_eq!(cal.business_between(t, r), ms);
                    if ms > 0 {
                        // Open just before: nothing later would do.
                        prop_assert!(cal.is_open(Ts(r.0 - 1)));
                        prop_assert!(cal.is_open(r) || cal.next_closing(Ts(r.0 - 1)) == Some(r));
                    } else {
                        prop_assert_eq!(r, t);
                    }
                }
                // Only a calendar that is never open within the bound.
                None => prop_assert!(cal.next_opening(t).is_none()
                    || cal.business_between(t, Ts(t.0 + 4 * 366 * DAY)) < ms),
            }
        }

        #[test]
        fn add_business_lands_on_closing_edges(
            spec in arb_spec(),
            t in arb_minute(),
            jitter in 0i64..MINUTE,
            later in 0i64..4 * DAY,
        ) {
            // The open time up to a random later instant, often a closed one:
            // adding it back ends on the edge where that time ran out.
            let cal = spec.calendar();
            let (t, u) = (Ts(t + jitter), Ts(t + jitter + later));
            let ms = cal.business_between(t, u);
            let r = cal.add_business(t, ms);
            prop_assert!(r.is_some());
            let r = r.unwrap_or(t);
            prop_assert!(r <= u);
            prop_assert_eq!(cal.business_between(r, u), 0);
            prop_assert_eq!(cal.business_between(t, r), ms);
            if ms > 0 {
                prop_assert!(cal.is_open(Ts(r.0 - 1)));
            } else {
                prop_assert_eq!(r, t);
            }
        }

        #[test]
        fn next_closing_ends_the_open_stretch(spec in arb_spec(), t in arb_minute()) {
            let cal = spec.calendar();
            let zone = spec.zone();
            let got = cal.next_closing(Ts(t));
            let found = (0..16 * 1440i64)
                .map(|k| t + k * MINUTE)
                .find(|&u| !spec.open(&zone, u));
            match found {
                Some(u) => prop_assert_eq!(got, Some(Ts(u))),
                None => prop_assert!(got.is_none_or(|g| g.0 >= t + 16 * DAY)),
            }
        }

        #[test]
        fn add_business_days_follows_its_definition(
            spec in arb_spec(),
            t in arb_minute(),
            n in 0u32..6,
        ) {
            let cal = spec.calendar();
            let zone = spec.zone();
            let got = cal.add_business_days(Ts(t), n);
            if n == 0 {
                prop_assert_eq!(got, cal.next_opening(Ts(t)));
                return Ok(());
            }
            // The target date: n open dates after t's local date.
            let start = zone.to_datetime(Timestamp::from_millisecond(t).unwrap());
            let mut date = start.date();
            let mut left = n;
            let mut steps = 0;
            while left > 0 && steps < 60 {
                date = date.tomorrow().unwrap();
                steps += 1;
                let wd = date.weekday().to_monday_zero_offset() as usize;
                if spec.open_date(date.year(), date.month(), date.day(), wd) {
                    left -= 1;
                }
            }
            if left > 0 {
                return Ok(()); // an (almost) never open calendar
            }
            let target = date.to_datetime(start.time());
            // The first instant at or after the target local time, by stepping.
            let mut x = t + i64::from(steps as u32) * DAY - 3 * H;
            while zone.to_datetime(Timestamp::from_millisecond(x).unwrap()) < target {
                x += MINUTE;
            }
            prop_assert_eq!(got, cal.next_opening(Ts(x)));
            if let Some(g) = got {
                prop_assert!(cal.is_open(g));
                let local = zone.to_datetime(g.to_jiff());
                prop_assert!(local >= target);
                prop_assert!(g.0 > t);
            }
        }
    }

    // ---- DST ------------------------------------------------------------

    #[test]
    fn madrid_dst_days() {
        let c = every_day("Europe/Madrid", &["01:00-04:00"]);
        // Spring forward 2026-03-29 02:00 → 03:00: 01:00–02:00 and 03:00–04:00.
        let (a, b) = (
            local("Europe/Madrid", "2026-03-29T00:00"),
            local("Europe/Madrid", "2026-03-30T00:00"),
        );
        assert_eq!(c.business_between(a, b), 2 * H);
        assert_eq!(c.next_opening(a), Some(utc("2026-03-29T00:00:00Z")));
        assert_eq!(
            c.next_closing(utc("2026-03-29T00:30:00Z")),
            Some(utc("2026-03-29T02:00:00Z"))
        );
        // Fall back 2026-10-25 03:00 → 02:00: 02:00–03:00 happens twice.
        let (a, b) = (
            local("Europe/Madrid", "2026-10-25T00:00"),
            local("Europe/Madrid", "2026-10-26T00:00"),
        );
        assert_eq!(c.business_between(a, b), 4 * H);
        assert_eq!(c.next_opening(a), Some(utc("2026-10-24T23:00:00Z")));
        assert_eq!(
            c.next_closing(utc("2026-10-24T23:00:00Z")),
            Some(utc("2026-10-25T03:00:00Z"))
        );
        assert!(c.is_open(utc("2026-10-25T01:30:00Z"))); // the second 02:30
        assert_eq!(
            c.add_business(utc("2026-10-24T23:00:00Z"), 3 * H + 30 * MINUTE),
            Some(utc("2026-10-25T02:30:00Z"))
        );

        // Monday 9:00 after each change.
        let c = cal("Europe/Madrid", &["09:00-18:00"], &[], &[]);
        assert_eq!(
            c.next_opening(utc("2026-03-28T12:00:00Z")),
            Some(utc("2026-03-30T07:00:00Z"))
        );
        assert_eq!(
            c.next_opening(utc("2026-10-24T12:00:00Z")),
            Some(utc("2026-10-26T08:00:00Z"))
        );
        // Friday 17:00 + 2 business hours over the spring weekend.
        assert_eq!(
            c.add_business(local("Europe/Madrid", "2026-03-27T17:00"), 2 * H),
            Some(utc("2026-03-30T08:00:00Z"))
        );
        // One business day from Friday 10:00 is Monday 10:00, whatever the offset.
        assert_eq!(
            c.add_business_days(local("Europe/Madrid", "2026-10-23T10:00"), 1),
            Some(utc("2026-10-26T09:00:00Z"))
        );
    }

    #[test]
    fn add_business_days_in_a_gap_and_a_fold() {
        let c = every_day("Europe/Madrid", &["00:00-24:00"]);
        assert!(c.is_always_open());
        let closed: Vec<String> = Vec::new();
        let c = Calendar::parse("Europe/Madrid", [&closed; 7], &[]).unwrap();
        assert_eq!(c.next_opening(utc("2026-01-01T00:00:00Z")), None);
        assert_eq!(c.add_business_days(utc("2026-01-01T00:00:00Z"), 1), None);
        let all = strings(&["00:00-12:00", "12:00-24:00"]);
        let mut c = Calendar::parse("Europe/Madrid", [&all; 7], &[]).unwrap();
        assert!(c.is_always_open());
        c.insert_holiday(Holiday::Yearly { month: 8, day: 15 });
        assert!(!c.is_always_open());
        // 02:30 does not exist on 2026-03-29: the day starts over at 03:00.
        assert_eq!(
            c.add_business_days(local("Europe/Madrid", "2026-03-28T02:30"), 1),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // 02:30 happens twice on 2026-10-25: the first one.
        assert_eq!(
            c.add_business_days(local("Europe/Madrid", "2026-10-24T02:30"), 1),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // Open around the clock except a holiday: closes at its midnight.
        assert_eq!(
            c.next_closing(utc("2026-08-01T10:00:00Z")),
            Some(local("Europe/Madrid", "2026-08-15T00:00"))
        );
    }

    #[test]
    fn mexico_city_dst_until_2022() {
        let tz = "America/Mexico_City";
        let c = every_day(tz, &["01:00-04:00"]);
        // 2022-04-03 02:00 → 03:00 and 2022-10-30 02:00 → 01:00.
        let day = |d: &str, e: &str| c.business_between(local(tz, d), local(tz, e));
        assert_eq!(day("2022-04-03T00:00", "2022-04-04T00:00"), 2 * H);
        assert_eq!(day("2022-10-30T00:00", "2022-10-31T00:00"), 4 * H);
        assert_eq!(day("2023-04-02T00:00", "2023-04-03T00:00"), 3 * H);
        assert_eq!(day("2023-10-29T00:00", "2023-10-30T00:00"), 3 * H);

        let c = cal(tz, &["09:00-18:00"], &[], &[]);
        assert_eq!(
            c.next_opening(utc("2022-04-02T01:00:00Z")),
            Some(utc("2022-04-04T14:00:00Z"))
        );
        assert_eq!(
            c.next_opening(utc("2022-10-29T12:00:00Z")),
            Some(utc("2022-10-31T15:00:00Z"))
        );
        // No DST since: 9:00 is 15:00Z all year.
        for monday in [
            "2023-01-02",
            "2023-07-03",
            "2024-04-08",
            "2025-10-27",
            "2027-06-07",
        ] {
            assert_eq!(
                c.next_opening(utc(&format!("{monday}T00:00:00Z"))),
                Some(utc(&format!("{monday}T15:00:00Z"))),
                "{monday}"
            );
        }
    }

    // ---- named scenarios -----------------------------------------------

    #[test]
    fn holiday_friday_before_a_weekend() {
        let tz = "Europe/Madrid";
        let c = cal(tz, &["09:00-18:00"], &[], &["2026-12-25"]);
        let monday = local(tz, "2026-12-28T09:00");
        assert_eq!(monday, utc("2026-12-28T08:00:00Z"));
        assert_eq!(c.next_opening(local(tz, "2026-12-24T18:30")), Some(monday));
        assert_eq!(
            c.add_business(local(tz, "2026-12-24T17:00"), 2 * H),
            Some(local(tz, "2026-12-28T10:00"))
        );
        assert_eq!(
            c.describe_instant(monday, "es"),
            "el lunes 28 de diciembre a las 9:00"
        );
        assert_eq!(
            c.describe_instant(monday, "en"),
            "Monday 28 December at 9:00"
        );
        assert_eq!(
            c.describe_instant(local(tz, "2026-12-29T01:05"), "es"),
            "el martes 29 de diciembre a la 1:05"
        );
        assert_eq!(
            c.next_closing(local(tz, "2026-12-24T10:00")),
            Some(local(tz, "2026-12-24T18:00"))
        );
        assert_eq!(
            c.next_closing(local(tz, "2026-12-24T18:30")),
            Some(local(tz, "2026-12-24T18:30"))
        );
        assert_eq!(
            c.add_business_days(local(tz, "2026-12-24T10:00"), 1),
            Some(local(tz, "2026-12-28T10:00"))
        );
        assert_eq!(
            c.add_business_days(local(tz, "2026-12-24T18:30"), 1),
            Some(local(tz, "2026-12-29T09:00"))
        );
        assert_eq!(
            c.add_business_days(local(tz, "2026-12-26T12:00"), 0),
            Some(monday)
        );
        assert_eq!(
            c.business_between(local(tz, "2026-12-24T00:00"), local(tz, "2026-12-29T00:00")),
            18 * H
        );
    }

    #[test]
    fn lunch_split() {
        let tz = "America/Mexico_City";
        let c = cal(tz, &["16:00-19:00", "09:00-14:00"], &[], &[]);
        assert_eq!(
            c.week()[0],
            vec![
                Range {
                    start: 540,
                    end: 840
                },
                Range {
                    start: 960,
                    end: 1140
                }
            ]
        );
        let at = |s: &str| local(tz, &format!("2026-11-24T{s}"));
        assert_eq!(c.business_between(at("13:00"), at("17:00")), 2 * H);
        assert_eq!(c.add_business(at("13:30"), H), Some(at("16:30")));
        assert_eq!(c.add_business(at("13:30"), 30 * MINUTE), Some(at("14:00")));
        assert_eq!(c.next_closing(at("13:30")), Some(at("14:00")));
        assert_eq!(c.next_opening(at("14:00")), Some(at("16:00")));
        assert!(!c.is_open(at("14:00")) && c.is_open(at("13:59")));
        assert_eq!(c.add_business(at("13:30"), 0), Some(at("13:30")));
        assert_eq!(c.add_business(at("13:30"), -5), Some(at("13:30")));
    }

    #[test]
    fn ranges_touching_across_midnight_merge() {
        let late = strings(&["20:00-24:00"]);
        let early = strings(&["00:00-02:00"]);
        let none = Vec::new();
        let c = Calendar::parse(
            "UTC",
            [&late, &early, &none, &none, &none, &none, &none],
            &[],
        )
        .unwrap();
        assert_eq!(
            c.next_closing(utc("2026-11-23T21:00:00Z")),
            Some(utc("2026-11-24T02:00:00Z"))
        );
        assert_eq!(
            c.business_between(utc("2026-11-23T00:00:00Z"), utc("2026-11-30T00:00:00Z")),
            6 * H
        );
    }

    #[test]
    fn large_spans_are_fast() {
        let c = cal(
            "Europe/Madrid",
            &["09:00-14:00", "16:00-19:00"],
            &[],
            &["01-01", "05-01", "12-25", "2026-04-03"],
        );
        let t = utc("2026-01-05T10:00:00Z");
        let started = std::time::Instant::now();
        let r = c.add_business(t, 10_000 * H).unwrap();
        let spent = started.elapsed();
        assert_eq!(c.business_between(t, r), 10_000 * H);
        assert!(r > utc("2030-01-01T00:00:00Z") && r < utc("2031-01-01T00:00:00Z"));
        // Generous for a debug build; a release build takes well under 1 ms.
        assert!(spent.as_millis() < 50, "{spent:?}");
        assert!(c.add_business_days(t, 5000).is_some());
        // Absurd amounts end, with None.
        assert_eq!(c.add_business(t, i64::MAX), None);
        assert_eq!(c.add_business_days(t, u32::MAX), None);
        let always = Calendar::always_open();
        assert_eq!(always.add_business(t, i64::MAX), None);
        assert_eq!(always.add_business(t, H), Some(Ts(t.0 + H)));
        assert_eq!(
            always.business_between(Ts(i64::MIN), Ts(i64::MAX)),
            i64::MAX
        );
        // Instants outside jiff's range are closed, not a panic.
        for x in [i64::MIN, i64::MAX, -377_705_116_800_000 + 1] {
            assert!(!c.is_open(Ts(x)));
            let _ = (c.next_opening(Ts(x)), c.next_closing(Ts(x)));
            let _ = (c.add_business(Ts(x), H), c.add_business_days(Ts(x), 3));
            let _ = c.describe_instant(Ts(x), "es");
        }
        assert_eq!(c.business_between(Ts(i64::MIN), Ts(i64::MIN + 5)), 0);
    }

    #[test]
    fn never_open_calendars_give_up() {
        let c = cal("America/New_York", &[], &[], &[]);
        let t = utc("2026-01-05T10:00:00Z");
        assert_eq!(c.next_opening(t), None);
        assert_eq!(c.next_closing(t), Some(t));
        assert_eq!(c.add_business(t, 1), None);
        assert_eq!(c.add_business_days(t, 1), None);
        assert_eq!(c.business_between(t, Ts(t.0 + 1000 * DAY)), 0);
        assert_eq!(c.describe_hours("es"), "");
        // Every day of the year a holiday.
        let all: Vec<String> = (1..=12u32)
            .flat_map(|m| (1..=days_in_month(2000, m)).map(move |d| format!("{m:02}-{d:02}")))
            .collect();
        let w = strings(&["09:00-18:00"]);
        let c = Calendar::parse("UTC", [&w; 7], &all).unwrap();
        assert_eq!(c.holidays().len(), 366);
        assert_eq!(c.next_opening(t), None);
        assert_eq!(c.add_business_days(t, 2), None);
    }

    #[test]
    fn always_open() {
        let c = Calendar::always_open();
        let t = utc("2026-01-05T10:00:00Z");
        assert!(c.is_always_open() && c.is_open(t));
        assert_eq!(c.timezone(), "UTC");
        assert_eq!(c.next_opening(t), Some(t));
        assert_eq!(c.next_closing(t), None);
        assert_eq!(c.business_between(t, Ts(t.0 + 5)), 5);
        assert_eq!(c.add_business_days(t, 3), Some(Ts(t.0 + 3 * DAY)));
        assert_eq!(c.describe_hours("es"), "las 24 horas");
        assert_eq!(c.describe_hours("en"), "24 hours a day");
        assert_eq!(
            c.week(),
            vec![
                vec![Range {
                    start: 0,
                    end: 1440
                }];
                7
            ]
        );
        assert!(c.holidays().is_empty());
    }

    // ---- parsing and words ----------------------------------------------

    #[test]
    fn parse_errors_name_the_value() {
        let ok = strings(&["09:00-14:00"]);
        let none: Vec<String> = Vec::new();
        let try_day = |day: &[&str]| {
            let d = strings(day);
            Calendar::parse("Europe/Madrid", [&d, &ok, &ok, &ok, &ok, &none, &none], &[])
                .map(|_| ())
        };
        assert_eq!(
            try_day(&["9-14"]).unwrap_err(),
            r#"monday: "9-14" is not HH:MM-HH:MM"#
        );
        assert_eq!(
            try_day(&["14:00-09:00"]).unwrap_err(),
            r#"monday: "14:00-09:00" does not end after it starts"#
        );
        assert_eq!(
            try_day(&["13:00-15:00", "09:00-14:00"]).unwrap_err(),
            r#"monday: "13:00-15:00" overlaps "09:00-14:00""#
        );
        for bad in [
            "09:00-09:00",
            "24:00-24:00",
            "09:60-10:00",
            "09:00-24:01",
            "9:0-10:00",
            "x",
        ] {
            assert!(try_day(&[bad]).unwrap_err().contains(bad), "{bad}");
        }
        assert!(try_day(&["9:00 - 14:00", "14:00–24:00"]).is_ok());
        let e = Calendar::parse("Mars/Olympus", [&ok; 7], &[]).unwrap_err();
        assert!(e.contains("\"Mars/Olympus\""), "{e}");
        for bad in [
            "2026-02-29",
            "2026-13-01",
            "12-32",
            "2026/12/25",
            "25-12-2026",
            "",
            "1-1",
        ] {
            let e = Calendar::parse("UTC", [&ok; 7], &strings(&[bad])).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{e}");
        }
        let c = Calendar::parse(
            " America/New_York ",
            [&ok; 7],
            &strings(&["12-25", "2026-01-06", "02-29", "2024-02-29", "2026-01-06"]),
        )
        .unwrap();
        assert_eq!(c.timezone(), "America/New_York");
        let lower = Calendar::parse("america/mexico_city", [&ok; 7], &[]).unwrap();
        assert_eq!(lower.timezone(), "America/Mexico_City");
        assert_eq!(c.holidays(), ["2024-02-29", "2026-01-06", "02-29", "12-25"]);
        assert!(!c.is_open(utc("2028-02-29T15:00:00Z")));
        assert!(c.is_open(utc("2028-02-28T15:00:00Z")));
    }

    #[test]
    fn describe_hours_groups_days() {
        let c = cal("Europe/Madrid", &["09:00-18:00"], &["10:00-14:00"], &[]);
        assert_eq!(
            c.describe_hours("es"),
            "lunes a viernes de 9:00 a 18:00; sábado de 10:00 a 14:00"
        );
        assert_eq!(
            c.describe_hours("en"),
            "Monday to Friday 9:00–18:00; Saturday 10:00–14:00"
        );
        assert_eq!(c.describe_hours("fr"), c.describe_hours("en"));
        let c = cal("Europe/Madrid", &["09:00-14:00", "16:00-19:00"], &[], &[]);
        assert_eq!(
            c.describe_hours("es"),
            "lunes a viernes de 9:00 a 14:00 y de 16:00 a 19:00"
        );
        assert_eq!(
            c.describe_hours("en"),
            "Monday to Friday 9:00–14:00 and 16:00–19:00"
        );
        let a = strings(&["08:00-10:00", "11:00-12:00", "13:00-24:00"]);
        let b = strings(&["00:00-24:00"]);
        let none = Vec::new();
        let c = Calendar::parse("UTC", [&a, &none, &a, &a, &none, &b, &b], &[]).unwrap();
        assert_eq!(
            c.describe_hours("es"),
            "lunes de 8:00 a 10:00, de 11:00 a 12:00 y de 13:00 a 24:00; \
             miércoles y jueves de 8:00 a 10:00, de 11:00 a 12:00 y de 13:00 a 24:00; \
             sábado y domingo las 24 horas"
        );
        assert_eq!(
            c.describe_hours("en"),
            "Monday 8:00–10:00, 11:00–12:00 and 13:00–24:00; \
             Wednesday and Thursday 8:00–10:00, 11:00–12:00 and 13:00–24:00; \
             Saturday and Sunday 24 hours"
        );
    }

    #[test]
    fn describe_instant_in_the_zone() {
        let c = cal("America/Mexico_City", &["09:00-18:00"], &[], &[]);
        let t = utc("2026-11-24T15:07:59Z");
        assert_eq!(
            c.describe_instant(t, "es"),
            "el martes 24 de noviembre a las 9:07"
        );
        assert_eq!(c.describe_instant(t, "en"), "Tuesday 24 November at 9:07");
        let t = utc("2026-08-02T05:00:00Z");
        assert_eq!(
            c.describe_instant(t, "es"),
            "el sábado 1 de agosto a las 23:00"
        );
        assert_eq!(c.describe_instant(t, "xx"), "Saturday 1 August at 23:00");
    }

    #[test]
    fn delays_parse() {
        let table: &[(&str, Delay)] = &[
            ("10s", Delay::Wall(10_000)),
            ("250ms", Delay::Wall(250)),
            ("5m", Delay::Wall(5 * MINUTE)),
            ("2h", Delay::Wall(2 * H)),
            ("7d", Delay::Wall(7 * DAY)),
            (" 3 days ", Delay::Wall(3 * DAY)),
            ("90 min", Delay::Wall(90 * MINUTE)),
            ("0s", Delay::Wall(0)),
            ("3 business days", Delay::BusinessDays(3)),
            ("1 business day", Delay::BusinessDays(1)),
            ("0 business days", Delay::BusinessDays(0)),
            ("2 Días Hábiles", Delay::BusinessDays(2)),
            ("1 día hábil", Delay::BusinessDays(1)),
            ("5 dias habiles", Delay::BusinessDays(5)),
            ("4 business hours", Delay::BusinessMs(4 * H)),
            ("1 business hour", Delay::BusinessMs(H)),
            ("30 business minutes", Delay::BusinessMs(30 * MINUTE)),
            ("8 horas hábiles", Delay::BusinessMs(8 * H)),
            ("1 hora hábil", Delay::BusinessMs(H)),
            ("45 minutos hábiles", Delay::BusinessMs(45 * MINUTE)),
            ("2  business   hours", Delay::BusinessMs(2 * H)),
        ];
        for (text, want) in table {
            assert_eq!(Delay::parse(text), Ok(*want), "{text}");
        }
        let errors: &[(&str, &str)] = &[
            ("", "is not a delay"),
            ("h", "is not a delay"),
            ("-5m", "is not a delay"),
            ("1.5h", "unknown unit"),
            ("10", "has no unit"),
            ("3 parsecs", "unknown unit \"parsecs\""),
            ("3 business weeks", "unknown unit"),
            ("5000000000 business days", "too long"),
            ("99999999999999999999s", "too long"),
            ("9999999999999999 business hours", "too long"),
        ];
        for (text, want) in errors {
            let e = Delay::parse(text).unwrap_err();
            assert!(
                e.contains(want) && e.contains(&format!("{text:?}")),
                "{text}: {e}"
            );
        }
        let c = cal("UTC", &["09:00-17:00"], &[], &[]);
        let fri = utc("2026-11-27T16:00:00Z");
        assert_eq!(
            Delay::parse("2 business hours").unwrap().apply(&c, fri),
            Some(utc("2026-11-30T10:00:00Z"))
        );
        assert_eq!(
            Delay::parse("1 business day").unwrap().apply(&c, fri),
            Some(utc("2026-11-30T16:00:00Z"))
        );
        assert_eq!(
            Delay::parse("2h").unwrap().apply(&c, fri),
            Some(utc("2026-11-27T18:00:00Z"))
        );
    }

    #[test]
    fn ranges_display() {
        let r = Range::parse("9:00-24:00").unwrap();
        assert_eq!(
            r,
            Range {
                start: 540,
                end: 1440
            }
        );
        assert_eq!(r.to_string(), "09:00-24:00");
    }
}
