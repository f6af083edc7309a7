//! The top bar's open/closed badge: "Open · closes 18:00", "Closed · opens
//! Monday 9:00", in the viewer's language and time zone.

use super::Ctx;
use crate::domain::Ts;
use crate::web::i18n::T;
use maud::{Markup, html};

/// The top bar's business-hours state: open or closed now and when that
/// changes (None: always open, not shown).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoursBadge {
    pub open: bool,
    /// The next closing when open, the next opening when closed.
    pub next: Option<Ts>,
}

impl HoursBadge {
    pub fn of(cal: &crate::clock::Calendar, now: Ts) -> Option<HoursBadge> {
        if cal.is_always_open() {
            return None;
        }
        let open = cal.is_open(now);
        let next = if open {
            cal.next_closing(now)
        } else {
            cal.next_opening(now)
        };
        Some(HoursBadge { open, next })
    }
}

const WEEKDAY_KEYS: [T; 7] = [
    T::OnMonday,
    T::OnTuesday,
    T::OnWednesday,
    T::OnThursday,
    T::OnFriday,
    T::OnSaturday,
    T::OnSunday,
];

/// "closes 18:00", "opens tomorrow 9:00", "opens Monday 9:00" in the
/// viewer's zone.
pub fn badge_when(ctx: &Ctx, open: bool, at: Ts) -> String {
    let tz = ctx.tz.clone();
    let now = ctx.now.to_jiff().to_zoned_datetime(tz.clone()).date();
    let z = at.to_jiff().to_zoned_datetime(tz);
    let time = format!("{}:{:02}", z.hour(), z.minute());
    let days = (z.date() - now).get_days();
    let (today, tomorrow, on) = if open {
        (T::ClosesToday, T::ClosesTomorrow, T::ClosesOn)
    } else {
        (T::OpensToday, T::OpensTomorrow, T::OpensOn)
    };
    let es = ctx.lang == crate::web::i18n::Lang::Es;
    let text = match days {
        ..=0 => format!("{} {time}", ctx.t(today)),
        1 => format!("{} {time}", ctx.t(tomorrow)),
        2..=6 => {
            let wd = z.weekday().to_monday_zero_offset() as usize;
            format!("{} {} {time}", ctx.t(on), ctx.t(WEEKDAY_KEYS[wd]))
        }
        // A week or more away: the date, as people write it.
        _ if es => format!("{} {} a las {time}", ctx.t(on), z.strftime("%-d/%-m")),
        _ => format!("{} {} {time}", ctx.t(on), z.strftime("%b %-d")),
    };
    // "a la 1:00", "a las 2:00".
    if es && z.hour() == 1 {
        text.replacen("a las 1:", "a la 1:", 1)
    } else {
        text
    }
}

/// "Open · closes 18:00" / "Closed · opens Monday 9:00".
pub fn hours_badge(ctx: &Ctx, b: HoursBadge) -> Markup {
    html! {
        span class=(if b.open { "badge open hours-badge" } else { "badge warn hours-badge" })
            id="hours-badge" role="status" {
            (ctx.t(if b.open { T::BadgeOpen } else { T::BadgeClosed }))
            @if let Some(at) = b.next { " · " (badge_when(ctx, b.open, at)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::web::i18n::Lang;

    fn when(lang: Lang, now: &str, at: &str) -> String {
        let tz = jiff::tz::TimeZone::get("Europe/Madrid").unwrap();
        let ts = |s: &str| {
            let dt: jiff::civil::DateTime = s.parse().unwrap();
            Ts::from_jiff(dt.to_zoned_datetime(tz.clone()).unwrap().timestamp())
        };
        let ctx = Ctx {
            lang,
            nonce: "",
            user: None,
            csrf: "",
            business: "",
            now: ts(now),
            tz: &tz,
            availability: None,
            hours: None,
        };
        badge_when(&ctx, false, ts(at))
    }

    #[test]
    fn spanish_says_a_la_una_and_far_openings_as_dates() {
        assert_eq!(
            when(Lang::Es, "2026-11-30T23:00", "2026-12-01T01:30"),
            "abre mañana a la 1:30"
        );
        assert_eq!(
            when(Lang::Es, "2026-11-30T23:00", "2026-12-01T09:00"),
            "abre mañana a las 9:00"
        );
        assert_eq!(
            when(Lang::Es, "2026-12-20T10:00", "2026-12-28T09:00"),
            "abre el 28/12 a las 9:00"
        );
        assert_eq!(
            when(Lang::En, "2026-12-20T10:00", "2026-12-28T09:00"),
            "opens Dec 28 9:00"
        );
    }
}
