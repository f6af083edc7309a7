//! Service targets: durations per category, tightened for VIPs and P1,
//! and due times.
//!
//! Each [`Category`] carries two target durations as text
//! (`first_response = "1h"`, `resolution = "1d"`), parsed by
//! [`parse_duration`]. [`due`] turns them into due times from a start
//! instant: a P1 conversation halves both targets, a VIP contact halves
//! both, and the two together leave a quarter ([`TIGHTEN`] per factor).
//!
//! Targets count business time: `due` is the instant when `target` of the
//! calendar's open time has passed since `from` (a 24/7 calendar gives
//! `from + target`). Like the rest of `triage`, this is pure: no clock
//! reads, no I/O.

use super::model::Category;
use crate::domain::{Priority, Ts};

const MS: i64 = 1;
const SEC: i64 = 1000 * MS;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;

/// The longest target accepted: 365 days, in milliseconds.
pub const MAX_DURATION_MS: i64 = 365 * DAY;

/// What P1 and VIP each divide the targets by: one of them halves the
/// targets, both together leave a quarter.
pub const TIGHTEN: i64 = 2;

/// The accepted forms, shown in every parse error.
const FORMS: &str = "accepted: 90s, 30m, 4h, 2d, 1h30m, 1d 4h, 45 min, 2 hours, 3 days, \
                     1 day, 2 horas, 3 días, 30 minutos; more than zero, at most 365 days";

/// Unit words (lowercase) and their length in milliseconds.
const UNITS: &[(&[&str], i64)] = &[
    (
        &[
            "ms",
            "msec",
            "msecs",
            "millisecond",
            "milliseconds",
            "milisegundo",
            "milisegundos",
        ],
        MS,
    ),
    (
        &[
            "s", "sec", "secs", "second", "seconds", "seg", "segs", "segundo", "segundos",
        ],
        SEC,
    ),
    (
        &["m", "min", "mins", "minute", "minutes", "minuto", "minutos"],
        MIN,
    ),
    (&["h", "hr", "hrs", "hour", "hours", "hora", "horas"], HOUR),
    (&["d", "day", "days", "dia", "dias", "día", "días"], DAY),
    (
        &["w", "wk", "wks", "week", "weeks", "semana", "semanas"],
        WEEK,
    ),
];

fn unit(word: &str) -> Option<i64> {
    UNITS
        .iter()
        .find(|(words, _)| words.contains(&word))
        .map(|&(_, ms)| ms)
}

/// Parse a target duration into milliseconds.
///
/// Accepts one or more `<number><unit>` parts, with or without spaces,
/// optionally separated by commas or `and`/`y`: `90s`, `30m`, `4h`, `2d`,
/// `1h30m`, `1d 4h`, `45 min`, `2 hours`, `3 days`, `1 day`, `2 horas`,
/// `3 días` (or `dias`), `30 minutos`, `1 hora y 30 minutos`. Units are
/// case-insensitive, English or Spanish, from milliseconds to weeks; each
/// unit may appear once. Numbers are whole. Zero, negative and longer than
/// 365 days are errors; errors name the input and list the accepted forms.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let err = |why: String| format!("invalid duration {s:?}: {why} ({FORMS})");
    let text: Vec<char> = s.trim().to_lowercase().chars().collect();
    let rest = |i: usize| text[i..].iter().collect::<String>();
    let mut i = 0;
    let mut total: i64 = 0;
    let mut seen: Vec<i64> = Vec::new();
    // A connector ("and", "y") was read and another part must follow.
    let mut dangling = false;
    loop {
        while i < text.len() && (text[i].is_whitespace() || text[i] == ',') {
            i += 1;
        }
        if i == text.len() {
            break;
        }
        if text[i] == '-' {
            return Err(err("negative durations are not allowed".into()));
        }
        if text[i].is_alphabetic() && !seen.is_empty() && !dangling {
            let end = (i..text.len())
                .find(|&j| !text[j].is_alphabetic())
                .unwrap_or(text.len());
            let word: String = text[i..end].iter().collect();
            if matches!(word.as_str(), "and" | "y") {
                i = end;
                dangling = true;
                continue;
            }
        }
        let start = i;
        while i < text.len() && text[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(err(format!("expected a number at {:?}", rest(start))));
        }
        let digits: String = text[start..i].iter().collect();
        let Ok(n) = digits.parse::<i64>() else {
            return Err(err("longer than 365 days".into()));
        };
        if i < text.len()
            && (text[i] == '.' || text[i] == ',')
            && text.get(i + 1).is_some_and(|c| c.is_ascii_digit())
        {
            return Err(err("use whole numbers (1h30m, not 1.5h)".into()));
        }
        while i < text.len() && text[i].is_whitespace() {
            i += 1;
        }
        let word_start = i;
        while i < text.len() && text[i].is_alphabetic() {
            i += 1;
        }
        if i == word_start {
            return Err(err(format!("missing unit after {digits}")));
        }
        let word: String = text[word_start..i].iter().collect();
        let Some(size) = unit(&word) else {
            return Err(err(format!("unknown unit {word:?}")));
        };
        if seen.contains(&size) {
            return Err(err(format!("unit {word:?} given twice")));
        }
        seen.push(size);
        dangling = false;
        total = match n.checked_mul(size).and_then(|ms| total.checked_add(ms)) {
            Some(t) if t <= MAX_DURATION_MS => t,
            _ => return Err(err("longer than 365 days".into())),
        };
    }
    if seen.is_empty() {
        return Err(err("empty".into()));
    }
    if dangling {
        return Err(err("a part is missing after 'and'/'y'".into()));
    }
    if total == 0 {
        return Err(err("must be more than zero".into()));
    }
    Ok(total)
}

/// Milliseconds as the short form people read and [`parse_duration`]
/// accepts back: `1h`, `30m`, `1d 4h`, `1h 30m`, `22s 500ms`. Zero is
/// `0s`; negative durations get a leading `-`.
pub fn format_duration(ms: i64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    let sign = if ms < 0 { "-" } else { "" };
    let mut rest = ms.unsigned_abs();
    let mut parts = Vec::new();
    for (label, size) in [("d", DAY), ("h", HOUR), ("m", MIN), ("s", SEC), ("ms", MS)] {
        let size = size as u64;
        let n = rest / size;
        rest %= size;
        if n > 0 {
            parts.push(format!("{n}{label}"));
        }
    }
    format!("{sign}{}", parts.join(" "))
}

/// When the first response and the resolution are due.
#[derive(Clone, Debug, PartialEq)]
pub struct SlaDue {
    pub first_response: Ts,
    pub resolution: Ts,
    /// e.g. `billing/double-charge: first response 1h, resolution 1d`,
    /// `P1: targets halved`, `VIP: targets halved`,
    /// `tightened: first response 15m, resolution 6h`.
    pub reasons: Vec<String>,
}

/// Due times for a conversation of `category` that started (or whose clock
/// started) at `from`.
///
/// None without a category, or when the category's targets do not parse
/// (rule sets are validated when they are compiled, not here). P1 halves
/// both targets, VIP halves both, P1 and VIP together leave a quarter.
/// Counted in `cal`'s business time (see the module docs).
pub fn due(
    category: Option<&Category>,
    priority: Priority,
    vip: bool,
    from: Ts,
    cal: &crate::clock::Calendar,
) -> Option<SlaDue> {
    let category = category?;
    let first = parse_duration(&category.first_response).ok()?;
    let resolution = parse_duration(&category.resolution).ok()?;
    let mut reasons = vec![format!(
        "{}: first response {}, resolution {}",
        category.id,
        format_duration(first),
        format_duration(resolution)
    )];
    let mut divisor = 1;
    if priority == Priority::P1 {
        divisor *= TIGHTEN;
        reasons.push("P1: targets halved".into());
    }
    if vip {
        divisor *= TIGHTEN;
        reasons.push("VIP: targets halved".into());
    }
    let first = (first / divisor).max(1);
    let resolution = (resolution / divisor).max(1);
    if divisor > 1 {
        reasons.push(format!(
            "tightened: first response {}, resolution {}",
            format_duration(first),
            format_duration(resolution)
        ));
    }
    Some(SlaDue {
        first_response: cal.add_business(from, first).unwrap_or(from.plus_ms(first)),
        resolution: cal
            .add_business(from, resolution)
            .unwrap_or(from.plus_ms(resolution)),
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Calendar;
    use proptest::prelude::*;

    fn category(first: &str, resolution: &str) -> Category {
        Category {
            id: "billing/double-charge".into(),
            name_es: "Cobro doble".into(),
            name_en: "Double charge".into(),
            parent: Some("billing".into()),
            first_response: first.into(),
            resolution: resolution.into(),
            tier: 1,
        }
    }

    #[test]
    fn parses_the_accepted_forms() {
        let table: &[(&str, i64)] = &[
            ("90s", 90 * SEC),
            ("30m", 30 * MIN),
            ("4h", 4 * HOUR),
            ("2d", 2 * DAY),
            ("1h30m", HOUR + 30 * MIN),
            ("1h 30m", HOUR + 30 * MIN),
            ("1d 4h", DAY + 4 * HOUR),
            ("1d4h", DAY + 4 * HOUR),
            ("  1d   4h  ", DAY + 4 * HOUR),
            ("45 min", 45 * MIN),
            ("45min", 45 * MIN),
            ("2 hours", 2 * HOUR),
            ("1 hour", HOUR),
            ("3 days", 3 * DAY),
            ("1 day", DAY),
            ("2 horas", 2 * HOUR),
            ("3 días", 3 * DAY),
            ("3 dias", 3 * DAY),
            ("3 DÍAS", 3 * DAY),
            ("30 minutos", 30 * MIN),
            ("1 hora y 30 minutos", HOUR + 30 * MIN),
            ("1 hour and 30 minutes", HOUR + 30 * MIN),
            ("1d, 4h", DAY + 4 * HOUR),
            ("30M", 30 * MIN),
            ("2 weeks", 14 * DAY),
            ("1 semana", 7 * DAY),
            ("500ms", 500),
            ("10 segundos", 10 * SEC),
            ("0h30m", 30 * MIN),
            ("365d", MAX_DURATION_MS),
            ("364d 24h", MAX_DURATION_MS),
        ];
        for &(text, ms) in table {
            assert_eq!(parse_duration(text), Ok(ms), "{text:?}");
        }
    }

    #[test]
    fn rejects_bad_durations_naming_the_input() {
        let table: &[(&str, &str)] = &[
            ("", "empty"),
            ("   ", "empty"),
            (",", "empty"),
            ("90", "missing unit after 90"),
            ("h", "expected a number"),
            ("abc", "expected a number"),
            ("0m", "more than zero"),
            ("0", "missing unit"),
            ("0d 0h", "more than zero"),
            ("-5m", "negative"),
            ("1h -5m", "negative"),
            ("5 fortnights", "unknown unit \"fortnights\""),
            ("1.5h", "whole numbers"),
            ("1h 1h", "given twice"),
            ("366d", "365 days"),
            ("365d 1s", "365 days"),
            ("99999999999999999999999d", "365 days"),
            ("9223372036854775807d", "365 days"),
            ("1h and", "missing after"),
            ("and 1h", "expected a number"),
            ("1h30", "missing unit after 30"),
            ("1h+30m", "expected a number"),
        ];
        for &(text, why) in table {
            let e = parse_duration(text).expect_err(text);
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(e.contains(&format!("{text:?}")), "{text:?}: {e}");
            assert!(e.contains("accepted: 90s, 30m"), "{text:?}: {e}");
        }
    }

    #[test]
    fn formats_durations() {
        assert_eq!(format_duration(HOUR), "1h");
        assert_eq!(format_duration(30 * MIN), "30m");
        assert_eq!(format_duration(DAY + 4 * HOUR), "1d 4h");
        assert_eq!(format_duration(HOUR + 30 * MIN), "1h 30m");
        assert_eq!(format_duration(90 * SEC), "1m 30s");
        assert_eq!(format_duration(22 * SEC + 500), "22s 500ms");
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(-HOUR), "-1h");
        assert!(format_duration(i64::MIN).starts_with("-"));
    }

    #[test]
    fn due_from_category_targets() {
        let cat = category("1h", "1d");
        let from = Ts(1_000_000);
        let d = due(
            Some(&cat),
            Priority::P3,
            false,
            from,
            &Calendar::always_open(),
        )
        .unwrap();
        assert_eq!(d.first_response, Ts(1_000_000 + HOUR));
        assert_eq!(d.resolution, Ts(1_000_000 + DAY));
        assert_eq!(
            d.reasons,
            vec!["billing/double-charge: first response 1h, resolution 1d"]
        );
    }

    #[test]
    fn p1_and_vip_each_halve_and_together_quarter() {
        let cat = category("1h", "1d");
        let from = Ts(0);
        let p1 = due(
            Some(&cat),
            Priority::P1,
            false,
            from,
            &Calendar::always_open(),
        )
        .unwrap();
        assert_eq!(
            (p1.first_response, p1.resolution),
            (Ts(30 * MIN), Ts(12 * HOUR))
        );
        assert_eq!(
            p1.reasons,
            vec![
                "billing/double-charge: first response 1h, resolution 1d",
                "P1: targets halved",
                "tightened: first response 30m, resolution 12h",
            ]
        );
        let vip = due(
            Some(&cat),
            Priority::P2,
            true,
            from,
            &Calendar::always_open(),
        )
        .unwrap();
        assert_eq!(
            (vip.first_response, vip.resolution),
            (Ts(30 * MIN), Ts(12 * HOUR))
        );
        assert!(vip.reasons.contains(&"VIP: targets halved".to_string()));
        assert!(!vip.reasons.iter().any(|r| r.starts_with("P1")));
        let both = due(
            Some(&cat),
            Priority::P1,
            true,
            from,
            &Calendar::always_open(),
        )
        .unwrap();
        assert_eq!(
            (both.first_response, both.resolution),
            (Ts(15 * MIN), Ts(6 * HOUR))
        );
        assert_eq!(
            both.reasons,
            vec![
                "billing/double-charge: first response 1h, resolution 1d",
                "P1: targets halved",
                "VIP: targets halved",
                "tightened: first response 15m, resolution 6h",
            ]
        );
        for p in [Priority::P2, Priority::P3, Priority::P4] {
            let d = due(Some(&cat), p, false, from, &Calendar::always_open()).unwrap();
            assert_eq!((d.first_response, d.resolution), (Ts(HOUR), Ts(DAY)));
        }
    }

    #[test]
    fn due_needs_a_category_with_valid_targets() {
        assert_eq!(
            due(None, Priority::P1, true, Ts(0), &Calendar::always_open()),
            None
        );
        assert_eq!(
            due(
                Some(&category("soon", "1d")),
                Priority::P2,
                false,
                Ts(0),
                &Calendar::always_open()
            ),
            None
        );
        assert_eq!(
            due(
                Some(&category("1h", "0m")),
                Priority::P2,
                false,
                Ts(0),
                &Calendar::always_open()
            ),
            None
        );
        let d = due(
            Some(&category("2 horas", "3 días")),
            Priority::P4,
            false,
            Ts(5),
            &Calendar::always_open(),
        )
        .unwrap();
        assert_eq!(
            (d.first_response, d.resolution),
            (Ts(5 + 2 * HOUR), Ts(5 + 3 * DAY))
        );
        assert_eq!(
            d.reasons[0],
            "billing/double-charge: first response 2h, resolution 3d"
        );
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(ms in 1..=MAX_DURATION_MS) {
            prop_assert_eq!(parse_duration(&format_duration(ms)), Ok(ms));
        }

        #[test]
        fn parse_never_panics(s in ".{0,24}") {
            if let Ok(ms) = parse_duration(&s) {
                prop_assert!((1..=MAX_DURATION_MS).contains(&ms));
            }
        }
    }
}
