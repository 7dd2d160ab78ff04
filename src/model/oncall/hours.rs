//! Working hours: when a schedule's team is at work, in the schedule's time zone (seed
//! guide: a SEV3 is investigated during business hours; off-hours pages are an on-call
//! burden of their own). A `[[schedule]]` writes them `working_hours = "mon-fri 09:00-17:00"`,
//! which is also the default.

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc};

use super::Schedule;

/// The working hours a schedule has when its file names none.
pub const DEFAULT_WORKING_HOURS: &str = "mon-fri 09:00-17:00";

const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Days of the week and a stretch of each (local time; it does not cross midnight).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkingHours {
    /// Monday first.
    days: [bool; 7],
    start: NaiveTime,
    /// After `start`; 24:00 is written as `24:00` and kept as the end of the day.
    end: Option<NaiveTime>,
}

impl WorkingHours {
    /// Reads `mon-fri 09:00-17:00`, `mon,wed,fri 08:30-12:00`, `mon-sun 00:00-24:00`.
    pub fn parse(text: &str) -> Result<WorkingHours, String> {
        let bad = |why: &str| {
            format!(
                "working_hours \"{text}\" {why} (write days and times like \"{DEFAULT_WORKING_HOURS}\")"
            )
        };
        let mut parts = text.split_whitespace();
        let (Some(days_text), Some(times), None) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("is not days and a time range"));
        };
        let day = |d: &str| DAYS.iter().position(|x| x.eq_ignore_ascii_case(d.trim()));
        let mut days = [false; 7];
        for piece in days_text.split(',') {
            match piece.split_once('-') {
                Some((a, b)) => {
                    let (Some(a), Some(b)) = (day(a), day(b)) else {
                        return Err(bad(&format!("has an unknown day in \"{piece}\"")));
                    };
                    if b < a {
                        return Err(bad(&format!(
                            "has a day range running backwards: \"{piece}\""
                        )));
                    }
                    for d in &mut days[a..=b] {
                        *d = true;
                    }
                }
                None => match day(piece) {
                    Some(d) => days[d] = true,
                    None => return Err(bad(&format!("has an unknown day \"{piece}\""))),
                },
            }
        }
        let Some((from, to)) = times.split_once('-') else {
            return Err(bad("has no time range"));
        };
        let time = |t: &str| NaiveTime::parse_from_str(t, "%H:%M").ok();
        let start = time(from).ok_or_else(|| bad(&format!("has a bad start time \"{from}\"")))?;
        let end = match to {
            "24:00" => None,
            t => Some(time(t).ok_or_else(|| bad(&format!("has a bad end time \"{t}\"")))?),
        };
        if end.is_some_and(|e| e <= start) {
            return Err(bad(
                "ends before it starts (working hours do not cross midnight)",
            ));
        }
        Ok(WorkingHours { days, start, end })
    }

    /// Whether a local wall-clock moment is within them.
    pub fn contains(&self, local: NaiveDateTime) -> bool {
        let day = local.weekday().num_days_from_monday() as usize;
        let t = local.time();
        self.days[day] && t >= self.start && self.end.is_none_or(|e| t < e)
    }
}

impl Default for WorkingHours {
    fn default() -> Self {
        WorkingHours {
            days: [true, true, true, true, true, false, false],
            start: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            end: NaiveTime::from_hms_opt(17, 0, 0),
        }
    }
}

impl Schedule {
    /// When this schedule's team is at work.
    pub fn working_hours(&self) -> &WorkingHours {
        &self.hours
    }

    /// Whether `at` falls within the working hours, in the schedule's time zone.
    pub fn is_working_time(&self, at: DateTime<Utc>) -> bool {
        self.hours
            .contains(at.with_timezone(&self.time_zone()).naive_local())
    }

    /// `at` itself when it is within the working hours, else when they next begin (within
    /// a week; `at` when no day is a working day).
    pub fn next_working_time(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_working_time(at) {
            return at;
        }
        let tz = self.time_zone();
        let today = at.with_timezone(&tz).date_naive();
        (0..=7)
            .filter_map(|d| today.checked_add_days(chrono::Days::new(d)))
            .filter(|day| self.hours.days[day.weekday().num_days_from_monday() as usize])
            .filter_map(|day| super::resolve(tz, day.and_time(self.hours.start)))
            .find(|start| *start > at)
            .unwrap_or(at)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveDate, TimeZone};

    use super::*;
    use crate::model::oncall::ScheduleSpec;

    fn local(d: u32, h: u32, m: u32) -> NaiveDateTime {
        // 2026-11-02 is a Monday.
        NaiveDate::from_ymd_opt(2026, 11, d)
            .unwrap()
            .and_hms_opt(h, m, 0)
            .unwrap()
    }

    #[test]
    fn the_default_is_weekdays_nine_to_five() {
        let w = WorkingHours::parse(DEFAULT_WORKING_HOURS).unwrap();
        assert_eq!(w, WorkingHours::default());
        assert!(w.contains(local(2, 9, 0)));
        assert!(w.contains(local(6, 16, 59)));
        assert!(!w.contains(local(6, 17, 0)), "Friday 17:00 is off hours");
        assert!(!w.contains(local(2, 8, 59)));
        assert!(!w.contains(local(7, 12, 0)), "Saturday");
    }

    #[test]
    fn lists_whole_days_and_mistakes_named() {
        let w = WorkingHours::parse("mon,wed,sat-sun 00:00-24:00").unwrap();
        assert!(w.contains(local(2, 0, 0)) && w.contains(local(8, 23, 59)));
        assert!(!w.contains(local(3, 12, 0)), "Tuesday");
        for (text, why) in [
            ("mon-fri", "is not days and a time range"),
            ("mon-fry 09:00-17:00", "unknown day in \"mon-fry\""),
            ("fri-mon 09:00-17:00", "running backwards"),
            ("mon-fri 9am-5pm", "bad start time \"9am\""),
            ("mon-fri 17:00-09:00", "ends before it starts"),
        ] {
            let e = WorkingHours::parse(text).unwrap_err();
            assert!(e.contains(why) && e.contains(text), "{text}: {e}");
        }
    }

    #[test]
    fn the_next_working_time_skips_evenings_and_weekends() {
        let spec = ScheduleSpec {
            name: "us".into(),
            time_zone: "America/New_York".into(),
            rotation: crate::model::types::Span(std::time::Duration::from_secs(7 * 86_400)),
            handoff: "09:00".into(),
            start: "2026-11-02".into(),
            primary: vec!["ana".into()],
            secondary: None,
            overrides: Vec::new(),
            working_hours: None,
        };
        let s = Schedule::from_spec(&spec).unwrap();
        let utc = |d, h, m| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
        // Within them: now. (New York is UTC-5 in November.)
        assert_eq!(s.next_working_time(utc(4, 15, 0)), utc(4, 15, 0));
        // Wednesday 18:00 local: Thursday 09:00 local.
        assert_eq!(s.next_working_time(utc(4, 23, 0)), utc(5, 14, 0));
        // Friday 17:30 local: Monday 09:00 local.
        assert_eq!(s.next_working_time(utc(6, 22, 30)), utc(9, 14, 0));
        // Monday 06:00 local: 09:00 the same day.
        assert_eq!(s.next_working_time(utc(9, 11, 0)), utc(9, 14, 0));
        // Saturday 31 October 2026, the night before the clocks go back: Monday 09:00 EST.
        let sat = Utc.with_ymd_and_hms(2026, 10, 31, 20, 0, 0).unwrap();
        assert_eq!(s.next_working_time(sat), utc(2, 14, 0));
    }

    #[test]
    fn a_schedule_judges_in_its_own_time_zone() {
        let spec = ScheduleSpec {
            name: "emea".into(),
            time_zone: "Europe/Berlin".into(),
            rotation: crate::model::types::Span(std::time::Duration::from_secs(7 * 86_400)),
            handoff: "09:00".into(),
            start: "2026-11-02".into(),
            primary: vec!["ana".into()],
            secondary: None,
            overrides: Vec::new(),
            working_hours: Some("mon-fri 08:00-18:00".into()),
        };
        let s = Schedule::from_spec(&spec).unwrap();
        // 07:30 UTC on a Monday in November is 08:30 in Berlin.
        assert!(s.is_working_time(Utc.with_ymd_and_hms(2026, 11, 2, 7, 30, 0).unwrap()));
        assert!(!s.is_working_time(Utc.with_ymd_and_hms(2026, 11, 2, 17, 30, 0).unwrap()));
        let mut bad = spec.clone();
        bad.working_hours = Some("weekdays".into());
        let e = Schedule::from_spec(&bad).unwrap_err();
        assert!(
            e.iter()
                .any(|e| e.starts_with("schedule \"emea\": working_hours")),
            "{e:?}"
        );
    }
}
