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
    match days {
        ..=0 => format!("{} {time}", ctx.t(today)),
        1 => format!("{} {time}", ctx.t(tomorrow)),
        2..=6 => {
            let wd = z.weekday().to_monday_zero_offset() as usize;
            format!("{} {} {time}", ctx.t(on), ctx.t(WEEKDAY_KEYS[wd]))
        }
        _ => format!("{} {} {time}", ctx.t(on), z.date()),
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
