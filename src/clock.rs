//! The injected clock. Everything that depends on "now" asks a `Clock`, so tests can freeze
//! or move time instead of sleeping.

use std::sync::Mutex;

use chrono::{
    DateTime, Duration, FixedOffset, Local, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    TimeZone, Utc,
};

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

/// The time zone a person reads and types times in: the machine's own (`Local`, whose
/// offset changes with daylight saving), or a fixed offset (tests, and where a person asks
/// for one). Times are shown and read with the offset of the instant itself, so a console
/// left open across a daylight-saving change still says and takes the right times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Local,
    Fixed(FixedOffset),
}

impl From<FixedOffset> for Zone {
    fn from(o: FixedOffset) -> Zone {
        Zone::Fixed(o)
    }
}

impl Zone {
    /// The offset in force at `t`.
    pub fn offset_at(&self, t: DateTime<Utc>) -> FixedOffset {
        *t.with_timezone(self).offset()
    }
}

impl TimeZone for Zone {
    type Offset = FixedOffset;

    fn from_offset(offset: &FixedOffset) -> Zone {
        Zone::Fixed(*offset)
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<FixedOffset> {
        match self {
            Zone::Local => Local.offset_from_local_date(local),
            Zone::Fixed(o) => LocalResult::Single(*o),
        }
    }

    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<FixedOffset> {
        match self {
            Zone::Local => Local.offset_from_local_datetime(local),
            Zone::Fixed(o) => LocalResult::Single(*o),
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> FixedOffset {
        match self {
            Zone::Local => Local.offset_from_utc_date(utc),
            Zone::Fixed(o) => *o,
        }
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> FixedOffset {
        match self {
            Zone::Local => Local.offset_from_utc_datetime(utc),
            Zone::Fixed(o) => *o,
        }
    }
}

/// The most recent moment a person means by a wall-clock time (`01:52`, `23:50:10`) in
/// their time zone: today, or yesterday when today's would be more than five minutes ahead
/// (logging at 00:10 what happened at 23:50). The day's own offset counts, not today's: on
/// the morning the clocks went forward, `01:50` is before the change. A time the clocks
/// skipped that day is refused, saying so; one they went through twice is the later, unless
/// that is still ahead. `None` when it is not such a time.
pub fn recent_local_time<Tz: TimeZone>(
    hhmm: &str,
    now: DateTime<Utc>,
    tz: &Tz,
) -> Option<Result<DateTime<Utc>, String>> {
    let t = NaiveTime::parse_from_str(hhmm, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(hhmm, "%H:%M:%S"))
        .ok()?;
    let soon = now + Duration::minutes(5);
    let on = |day: NaiveDate| -> Result<DateTime<Utc>, String> {
        match tz.from_local_datetime(&day.and_time(t)) {
            LocalResult::Single(at) => Ok(at.with_timezone(&Utc)),
            LocalResult::Ambiguous(first, second) => {
                let (first, second) = (first.with_timezone(&Utc), second.with_timezone(&Utc));
                Ok(if second <= soon { second } else { first })
            }
            LocalResult::None => Err(format!(
                "{hhmm} did not happen on {day}: the clocks went forward over it"
            )),
        }
    };
    let today = now.with_timezone(tz).date_naive();
    Some(match on(today) {
        Ok(at) if at <= soon => Ok(at),
        Ok(_) => today
            .pred_opt()
            .map_or_else(|| Err(format!("{hhmm} is before any date")), on),
        Err(e) => Err(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::America::New_York;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    #[test]
    fn a_wall_clock_time_is_read_with_its_own_days_offset() {
        // 2027-03-14 in New York: 02:00 EST became 03:00 EDT (07:00 UTC).
        let just_after = utc("2027-03-14T07:00:15Z"); // 03:00:15 EDT
        let at = |hhmm: &str, now| recent_local_time(hhmm, now, &New_York).unwrap();
        // 01:50 that morning was still EST: 06:50 UTC, not 05:50.
        assert_eq!(at("01:50", just_after), Ok(utc("2027-03-14T06:50:00Z")));
        assert_eq!(at("03:00", just_after), Ok(utc("2027-03-14T07:00:00Z")));
        // 02:30 never happened that day.
        assert_eq!(
            at("02:30", utc("2027-03-14T12:00:00Z")),
            Err("02:30 did not happen on 2027-03-14: the clocks went forward over it".into())
        );
        // 2027-11-07: 01:00-02:00 happened twice (EDT, then EST from 06:00 UTC).
        let second_pass = utc("2027-11-07T06:40:00Z"); // 01:40 EST
        assert_eq!(at("01:30", second_pass), Ok(utc("2027-11-07T06:30:00Z")));
        let first_pass = utc("2027-11-07T05:40:00Z"); // 01:40 EDT
        assert_eq!(at("01:30", first_pass), Ok(utc("2027-11-07T05:30:00Z")));
        // Later than now (by more than five minutes): yesterday's.
        assert_eq!(at("23:50", just_after), Ok(utc("2027-03-14T04:50:00Z")));
        assert!(recent_local_time("1:5x", just_after, &New_York).is_none());
    }

    #[test]
    fn a_console_zone_follows_daylight_saving() {
        let z = Zone::Fixed(FixedOffset::west_opt(5 * 3600).unwrap());
        assert_eq!(
            z.offset_at(utc("2027-07-01T00:00:00Z")).local_minus_utc(),
            -5 * 3600
        );
        let t = utc("2027-03-14T06:50:00Z");
        assert_eq!(t.with_timezone(&z).format("%H:%M").to_string(), "01:50");
    }
}
