//! All-day holidays from an iCalendar (RFC 5545) file.
//!
//! Only what a holiday calendar needs: each `VEVENT`'s `DTSTART` date (a
//! date-time uses its date as written), a date `DTEND` (exclusive) or a
//! `DURATION` in days or weeks for events spanning several days, and
//! `RRULE:FREQ=YEARLY` (every year on the same month and day; with `COUNT`
//! or `UNTIL`, those years only). Other recurrences (weekly, "fourth
//! Thursday of November"...) cannot be written as dates or month-days and
//! give their first occurrence only. Other properties and components
//! (`VTIMEZONE`, `VTODO`, `VALARM`...) are ignored.

use super::calendar::{Holiday, civil_from_days, days_from_civil, days_in_month};

/// Longest event taken as holidays.
const MAX_SPAN_DAYS: i64 = 366;
/// Most years a `COUNT`/`UNTIL` yearly rule is expanded to.
const MAX_YEARS: i64 = 200;

/// A logical (unfolded) line and the number of the physical line it starts on.
struct Line {
    no: usize,
    text: String,
}

/// Undo RFC 5545 folding: a line starting with a space or a tab continues
/// the previous one (CRLF or LF line ends).
fn unfold(text: &str) -> Vec<Line> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out: Vec<Line> = Vec::new();
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = out.last_mut()
        {
            last.text.push_str(rest);
            continue;
        }
        if !raw.trim().is_empty() {
            out.push(Line {
                no: i + 1,
                text: raw.to_string(),
            });
        }
    }
    out
}

/// A content line: `NAME;PARAM=V;PARAM="V:W":value`.
struct Prop<'a> {
    name: String,
    params: Vec<(String, &'a str)>,
    value: &'a str,
}

fn split_prop(line: &str) -> Option<Prop<'_>> {
    let name_end = line.find([';', ':'])?;
    let name = line[..name_end].trim().to_ascii_uppercase();
    let mut params = Vec::new();
    let mut rest = &line[name_end..];
    loop {
        if let Some(value) = rest.strip_prefix(':') {
            return Some(Prop {
                name,
                params,
                value: value.trim(),
            });
        }
        // `rest` starts with ';': one parameter up to an unquoted ';' or ':'.
        let body = &rest[1..];
        let mut quoted = false;
        let mut end = None;
        for (i, c) in body.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ';' | ':' if !quoted => {
                    end = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let end = end?;
        let param = &body[..end];
        let (k, v) = param.split_once('=').unwrap_or((param, ""));
        params.push((k.trim().to_ascii_uppercase(), v.trim().trim_matches('"')));
        rest = &body[end..];
    }
}

/// `YYYYMMDD` (a date) or `YYYYMMDDTHHMMSS[Z]` (a date-time): the day
/// number and whether it is a plain date.
fn parse_date(v: &str) -> Option<(i64, bool)> {
    let b = v.as_bytes();
    if b.len() < 8 || !b[..8].iter().all(u8::is_ascii_digit) {
        return None;
    }
    let y: i64 = v[..4].parse().ok()?;
    let m: u32 = v[4..6].parse().ok()?;
    let d: u32 = v[6..8].parse().ok()?;
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
        return None;
    }
    let rest = &v[8..];
    if !rest.is_empty() {
        let time = rest.strip_prefix(['T', 't'])?;
        let time = time.strip_suffix(['Z', 'z']).unwrap_or(time);
        if time.len() != 6 || !time.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let (h, mi, s) = (&time[..2], &time[2..4], &time[4..]);
        if h > "23" || mi > "59" || s > "60" {
            return None;
        }
    }
    Some((days_from_civil(y, m, d), rest.is_empty()))
}

/// `P3D`, `P2W`, `P1DT0H0M0S`: whole days, when it is that.
fn parse_days_duration(v: &str) -> Option<i64> {
    let v = v.strip_prefix('+').unwrap_or(v);
    let body = v.strip_prefix('P')?;
    let body = body
        .strip_suffix("T0H0M0S")
        .or_else(|| body.strip_suffix("T0S"))
        .unwrap_or(body);
    let (num, unit) = body.split_at(body.len().checked_sub(1)?);
    let n: i64 = num.parse().ok()?;
    match unit {
        "D" => Some(n),
        "W" => n.checked_mul(7),
        _ => None,
    }
}

#[derive(Default)]
struct Event {
    start: Option<(usize, i64, bool)>,
    end: Option<(usize, i64, bool)>,
    duration: Option<i64>,
    rrule: Option<String>,
}

/// How an event repeats, as far as holidays can say it.
enum Repeat {
    Once,
    Yearly,
    Years(i64),
}

fn repeat(rrule: Option<&str>, start_day: i64) -> Repeat {
    let Some(rule) = rrule else {
        return Repeat::Once;
    };
    let (y, m, d) = civil_from_days(start_day);
    let mut yearly = false;
    let mut count = None;
    let mut until = None;
    for part in rule.split(';') {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (k.trim().to_ascii_uppercase(), v.trim());
        match k.as_str() {
            "FREQ" => yearly = v.eq_ignore_ascii_case("YEARLY"),
            "COUNT" => match v.parse::<i64>() {
                Ok(n) => count = Some(n),
                Err(_) => return Repeat::Once,
            },
            "UNTIL" => match parse_date(v) {
                Some((day, _)) => until = Some(civil_from_days(day).0),
                None => return Repeat::Once,
            },
            "INTERVAL" if v == "1" => {}
            "BYMONTH" if v.parse() == Ok(m) => {}
            "BYMONTHDAY" if v.parse() == Ok(d) => {}
            "WKST" => {}
            // Another interval, weekdays, week numbers...: not a month-day.
            _ => return Repeat::Once,
        }
    }
    if !yearly {
        return Repeat::Once;
    }
    match (count, until) {
        (Some(n), _) => Repeat::Years(n.clamp(1, MAX_YEARS)),
        (None, Some(last)) => Repeat::Years((last - y + 1).clamp(1, MAX_YEARS)),
        (None, None) => Repeat::Yearly,
    }
}

impl Event {
    fn holidays(&self, out: &mut Vec<Holiday>) -> Result<(), String> {
        let Some((start_line, start, start_is_date)) = self.start else {
            // No DTSTART: nothing to place on the calendar.
            return Ok(());
        };
        let days = match (self.end, self.duration) {
            (Some((_, end, true)), _) => end - start,
            (None, Some(n)) if start_is_date => n,
            _ => 1,
        }
        .max(1);
        if days > MAX_SPAN_DAYS {
            return Err(format!(
                "line {start_line}: event lasts {days} days (more than {MAX_SPAN_DAYS})"
            ));
        }
        match repeat(self.rrule.as_deref(), start) {
            Repeat::Once => out.extend((start..start + days).map(Holiday::Date)),
            Repeat::Yearly => out.extend((start..start + days).map(|day| {
                let (_, month, day) = civil_from_days(day);
                Holiday::Yearly { month, day }
            })),
            Repeat::Years(n) => {
                for day in start..start + days {
                    let (y, m, d) = civil_from_days(day);
                    for k in 0..n {
                        // Feb 29 only in leap years (RFC 5545: invalid dates are skipped).
                        if d <= days_in_month(y + k, m) {
                            out.push(Holiday::Date(days_from_civil(y + k, m, d)));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// The holidays of an iCalendar text. Errors name the line.
pub(crate) fn parse_holidays(text: &str) -> Result<Vec<Holiday>, String> {
    let lines = unfold(text);
    if !lines
        .iter()
        .any(|l| l.text.trim().eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err("not an iCalendar file: no BEGIN:VCALENDAR".into());
    }
    let mut out = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut event: Option<(usize, Event)> = None;
    for line in &lines {
        let Some(p) = split_prop(&line.text) else {
            continue;
        };
        match p.name.as_str() {
            "BEGIN" => {
                let what = p.value.to_ascii_uppercase();
                if what == "VEVENT" {
                    event = Some((line.no, Event::default()));
                }
                stack.push(what);
                continue;
            }
            "END" => {
                let what = p.value.to_ascii_uppercase();
                if let Some(at) = stack.iter().rposition(|c| *c == what) {
                    stack.truncate(at);
                }
                if what == "VEVENT"
                    && let Some((_, ev)) = event.take()
                {
                    ev.holidays(&mut out)?;
                }
                continue;
            }
            _ => {}
        }
        // Properties of the event itself, not of a VALARM inside it.
        if stack.last().map(String::as_str) != Some("VEVENT") {
            continue;
        }
        let Some((_, ev)) = event.as_mut() else {
            continue;
        };
        match p.name.as_str() {
            "DTSTART" | "DTEND" => {
                let (day, is_date) = parse_date(p.value).ok_or_else(|| {
                    format!(
                        "line {}: malformed {} {:?} (expected YYYYMMDD or YYYYMMDDTHHMMSS)",
                        line.no, p.name, p.value
                    )
                })?;
                let value_date = p
                    .params
                    .iter()
                    .any(|(k, v)| k == "VALUE" && v.eq_ignore_ascii_case("DATE"));
                let slot = (line.no, day, is_date || value_date);
                if p.name == "DTSTART" {
                    ev.start = Some(slot);
                } else {
                    ev.end = Some(slot);
                }
            }
            "DURATION" => ev.duration = parse_days_duration(p.value),
            "RRULE" => ev.rrule = Some(p.value.to_string()),
            _ => {}
        }
    }
    if let Some((begin, _)) = event {
        return Err(format!(
            "line {begin}: BEGIN:VEVENT is never closed (END:VEVENT)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Calendar;

    const SPAIN: &str = "BEGIN:VCALENDAR\r\n\
VERSION:2.0\r\n\
PRODID:-//Ayuntamiento//Festivos 2026//ES\r\n\
X-WR-CALNAME:Festivos Madrid\r\n\
BEGIN:VTIMEZONE\r\n\
TZID:Europe/Madrid\r\n\
BEGIN:DAYLIGHT\r\n\
TZOFFSETFROM:+0100\r\n\
TZOFFSETTO:+0200\r\n\
DTSTART:19700329T020000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n\
END:DAYLIGHT\r\n\
BEGIN:STANDARD\r\n\
TZOFFSETFROM:+0200\r\n\
TZOFFSETTO:+0100\r\n\
DTSTART:19701025T030000\r\n\
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\n\
END:STANDARD\r\n\
END:VTIMEZONE\r\n\
BEGIN:VEVENT\r\n\
UID:navidad@example.es\r\n\
DTSTAMP:20251201T120000Z\r\n\
DTSTART;VALUE=DATE:20261225\r\n\
DTEND;VALUE=DATE:20261226\r\n\
RRULE:FREQ=YEARLY\r\n\
SUMMARY:Navidad\r\n\
DESCRIPTION:Natividad del Señor. Una descripción larga que el \r\n\
\x20servidor parte en varias líneas\r\n\
\tcon espacio y tabulador.\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:cierre@example.es\r\n\
DTSTART;VALUE=DATE:2026\r\n\
\x200806\r\n\
DTEND;VALUE=DATE:20260809\r\n\
SUMMARY:Cierre por vacaciones\r\n\
BEGIN:VALARM\r\n\
ACTION:DISPLAY\r\n\
TRIGGER:-P1D\r\n\
DTSTART:bogus-but-inside-an-alarm\r\n\
END:VALARM\r\n\
END:VEVENT\r\n\
BEGIN:VEVENT\r\n\
UID:reyes@example.es\r\n\
DTSTART:20270106T000000Z\r\n\
SUMMARY;LANGUAGE=es:Reyes\r\n\
END:VEVENT\r\n\
BEGIN:VTODO\r\n\
DTSTART;VALUE=DATE:20260101\r\n\
SUMMARY:not a holiday\r\n\
END:VTODO\r\n\
END:VCALENDAR\r\n";

    fn text(h: &[Holiday]) -> Vec<String> {
        let mut out: Vec<String> = h
            .iter()
            .map(|h| match *h {
                Holiday::Date(d) => {
                    let (y, m, d) = civil_from_days(d);
                    format!("{y:04}-{m:02}-{d:02}")
                }
                Holiday::Yearly { month, day } => format!("{month:02}-{day:02}"),
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn a_real_looking_file() {
        let got = parse_holidays(SPAIN).unwrap();
        assert_eq!(
            text(&got),
            [
                "12-25",
                "2026-08-06",
                "2026-08-07",
                "2026-08-08",
                "2027-01-06"
            ]
        );
        // Into a calendar: counted once, listed with the configured ones.
        let w = vec!["09:00-18:00".to_string()];
        let mut c = Calendar::parse("Europe/Madrid", [&w; 7], &["2026-08-07".into()]).unwrap();
        assert_eq!(c.add_ical(SPAIN), Ok(4));
        assert_eq!(c.add_ical(SPAIN), Ok(0));
        assert_eq!(
            c.holidays(),
            [
                "2026-08-06",
                "2026-08-07",
                "2026-08-08",
                "2027-01-06",
                "12-25"
            ]
        );
        let t = crate::domain::Ts::parse("2030-12-25T10:00:00Z").unwrap();
        assert!(!c.is_open(t));
        assert!(c.is_open(crate::domain::Ts::parse("2030-12-26T10:00:00Z").unwrap()));
    }

    #[test]
    fn lf_only_and_other_forms() {
        let ics = "BEGIN:VCALENDAR\n\
BEGIN:VEVENT\n\
DTSTART:20260501\n\
RRULE:FREQ=YEARLY;INTERVAL=1;BYMONTH=5;BYMONTHDAY=1\n\
END:VEVENT\n\
BEGIN:VEVENT\n\
DTSTART;VALUE=DATE:20261224\n\
DURATION:P3D\n\
RRULE:FREQ=YEARLY;COUNT=2\n\
END:VEVENT\n\
BEGIN:VEVENT\n\
DTSTART;TZID=\"America/Mexico_City\":20261116T090000\n\
DTEND;TZID=\"America/Mexico_City\":20261116T180000\n\
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=3MO\n\
END:VEVENT\n\
BEGIN:VEVENT\n\
DTSTART;VALUE=DATE:20240229\n\
RRULE:FREQ=YEARLY;UNTIL=20320101\n\
END:VEVENT\n\
BEGIN:VEVENT\n\
SUMMARY:no date at all\n\
END:VEVENT\n\
END:VCALENDAR";
        assert_eq!(
            text(&parse_holidays(ics).unwrap()),
            [
                "05-01",
                "2024-02-29",
                "2026-11-16",
                "2026-12-24",
                "2026-12-25",
                "2026-12-26",
                "2027-12-24",
                "2027-12-25",
                "2027-12-26",
                "2028-02-29",
                "2032-02-29",
            ]
        );
        // A DTEND before DTSTART is one day; a yearly span is yearly days.
        let ics = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261231\nDTEND:20261230\n\
                   END:VEVENT\nBEGIN:VEVENT\nDTSTART:20261231\nDTEND:20270102\n\
                   RRULE:FREQ=YEARLY\nEND:VEVENT\nEND:VCALENDAR\n";
        assert_eq!(
            text(&parse_holidays(ics).unwrap()),
            ["01-01", "12-31", "2026-12-31"]
        );
        assert!(
            parse_holidays("BEGIN:VCALENDAR\nEND:VCALENDAR")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn errors_name_the_line() {
        let err = |s: &str| parse_holidays(s).unwrap_err();
        assert_eq!(err(""), "not an iCalendar file: no BEGIN:VCALENDAR");
        assert_eq!(err("BEGIN:VEVENT\nDTSTART:20261225\nEND:VEVENT"), err(""));
        assert_eq!(err("<html>holidays</html>"), err(""));
        let e = err("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-25\nEND:VEVENT\nEND:VCALENDAR");
        assert_eq!(
            e,
            "line 3: malformed DTSTART \"2026-12-25\" (expected YYYYMMDD or YYYYMMDDTHHMMSS)"
        );
        for bad in [
            "20261325",
            "20260230",
            "20261225T250000",
            "20261225X",
            "2026122",
            "",
        ] {
            let ics = format!(
                "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nSUMMARY:x\r\n  folded\r\nDTSTART:{bad}\r\n\
                 END:VEVENT\r\nEND:VCALENDAR\r\n"
            );
            assert!(err(&ics).starts_with("line 5: malformed DTSTART"), "{bad}");
            assert!(err(&ics).contains(&format!("{bad:?}")), "{bad}");
        }
        let e =
            err("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225\nDTEND:2026-12-27\nEND:VEVENT");
        assert!(e.starts_with("line 4: malformed DTEND"), "{e}");
        let e = err("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\nDTEND:20280101\nEND:VEVENT");
        assert!(e.starts_with("line 3: event lasts 730 days"), "{e}");
        let e = err("BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\n");
        assert!(e.starts_with("line 2: BEGIN:VEVENT is never closed"), "{e}");
        // A failed file adds nothing.
        let mut c = Calendar::always_open();
        assert!(
            c.add_ical(
                "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20260101\nEND:VEVENT\n\
                            BEGIN:VEVENT\nDTSTART:x\nEND:VEVENT\nEND:VCALENDAR"
            )
            .is_err()
        );
        assert!(c.holidays().is_empty() && c.is_always_open());
    }

    #[test]
    fn never_panics_on_junk() {
        let junk = [
            "BEGIN:VCALENDAR\n;;;:::\n\u{feff}\n:\nBEGIN\nEND:\nBEGIN:VEVENT\nDTSTART;X=\"unterminated:2026\n",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225\nRRULE:FREQ=YEARLY;COUNT=99999999999999999999\nEND:VEVENT",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:99991231\nRRULE:FREQ=YEARLY;COUNT=500\nEND:VEVENT",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225\nDURATION:P99999999999999999W\nEND:VEVENT",
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026ñ225\nEND:VEVENT",
            "BEGIN:VCALENDAR\n\x20BEGIN:VEVENT\n\tDTSTART:20261225\n",
        ];
        for j in junk {
            let _ = parse_holidays(j);
        }
    }
}
