use serde::{Deserialize, Serialize};
use std::fmt;

/// A UTC instant in milliseconds since the Unix epoch.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
pub struct Ts(pub i64);

impl Ts {
    pub fn from_jiff(t: jiff::Timestamp) -> Ts {
        Ts(t.as_millisecond())
    }

    pub fn to_jiff(self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// RFC 3339 text, e.g. `2026-11-23T10:00:00Z`.
    pub fn rfc3339(self) -> String {
        self.to_jiff().to_string()
    }

    pub fn parse(s: &str) -> Option<Ts> {
        s.parse::<jiff::Timestamp>().ok().map(Ts::from_jiff)
    }

    pub fn plus_ms(self, ms: i64) -> Ts {
        Ts(self.0.saturating_add(ms))
    }
}

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Where the current time comes from. Injected everywhere (DESIGN invariant 6).
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Ts;
}

/// The wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Ts {
        Ts::from_jiff(jiff::Timestamp::now())
    }
}

/// A clock that only moves when told to: for tests in virtual time.
#[derive(Debug, Default)]
pub struct ManualClock(std::sync::atomic::AtomicI64);

impl ManualClock {
    pub fn new(start: Ts) -> ManualClock {
        ManualClock(std::sync::atomic::AtomicI64::new(start.0))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Ts {
        Ts(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
