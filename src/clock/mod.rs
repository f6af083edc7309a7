//! Business-hours calendars and holidays: pure arithmetic on instants
//! (DESIGN invariant 5). No clock reads; the current time is an argument.

pub mod calendar;
pub mod ical;

pub use calendar::{Calendar, Delay, Range};
