//! The injected clock. Everything that depends on "now" asks a `Clock`, so tests can freeze
//! or move time instead of sleeping.

use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, NaiveTime, Utc};

/// A source of the current time.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move; for tests and scripted demos.
#[derive(Debug)]
pub struct FakeClock(Mutex<DateTime<Utc>>);

impl FakeClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        FakeClock(Mutex::new(at))
    }

    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = at;
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The most recent moment a person means by a wall-clock time (`01:52`, `23:50:10`) in
/// their time zone: today, or yesterday when today's would be more than five minutes ahead
/// (logging at 00:10 what happened at 23:50). `None` when it is not such a time.
pub fn recent_local_time(hhmm: &str, now: DateTime<Utc>, tz: FixedOffset) -> Option<DateTime<Utc>> {
    let t = NaiveTime::parse_from_str(hhmm, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(hhmm, "%H:%M:%S"))
        .ok()?;
    let local_now = now.with_timezone(&tz);
    let today = local_now
        .date_naive()
        .and_time(t)
        .and_local_timezone(tz)
        .single()?;
    let at = if today > local_now + Duration::minutes(5) {
        today - Duration::days(1)
    } else {
        today
    };
    Some(at.with_timezone(&Utc))
}
