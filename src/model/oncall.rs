//! On-call schedules: who is primary and who is secondary at any instant, and when that
//! changes. The seed guide's practice is a weekly rotation with a primary and a secondary
//! ("use a secondary on-call as backup, even if it means the same person covers two roles");
//! shorter rotations (3-4 days) are allowed too. Schedules are data, `[[schedule]]` tables in
//! a policy file; this module checks them and answers questions about them. Pure: no clock,
//! no I/O; every query takes the instant it is about.
//!
//! Shift boundaries are computed in the schedule's local time (start date and handoff time,
//! plus whole rotations, as wall-clock times) and only then converted to UTC, so a weekly
//! 09:00 handoff stays at 09:00 local across daylight-saving changes. A wall-clock time that
//! happens twice (clocks going back) means its earlier instant; one that never happens
//! (clocks going forward) means the first instant after the gap.

use std::fmt;
use std::time::Duration;

use chrono::offset::LocalResult;
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use super::types::Span;
use super::validate;

/// Shortest rotation a schedule may have.
pub const MIN_ROTATION: Span = Span(Duration::from_secs(3600));
/// Longest rotation a schedule may have.
pub const MAX_ROTATION: Span = Span(Duration::from_secs(52 * 7 * 86_400));

/// Which of a schedule's two on-call roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    /// Paged first.
    Primary,
    /// The backup, paged when the primary does not answer.
    Secondary,
}

impl Layer {
    const ALL: [Layer; 2] = [Layer::Primary, Layer::Secondary];
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::Primary => "primary",
            Layer::Secondary => "secondary",
        })
    }
}

fn default_time_zone() -> String {
    "UTC".into()
}

fn default_rotation() -> Span {
    Span(Duration::from_secs(7 * 86_400))
}

fn default_handoff() -> String {
    "09:00".into()
}

/// A schedule as a policy file writes it (a `[[schedule]]` table), unchecked. The feed
/// sends it to consoles in this form too (see [`super::policy::PublicPolicy`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub name: String,
    /// IANA time zone name; shift boundaries are wall-clock times here. Default `UTC`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// Length of one shift. Default `1w`.
    #[serde(default = "default_rotation")]
    pub rotation: Span,
    /// Local time of day (`HH:MM`) at which shifts change. Default `09:00`.
    #[serde(default = "default_handoff")]
    pub handoff: String,
    /// Local date (`YYYY-MM-DD`) on which `primary[0]`'s first shift starts at `handoff`.
    /// The rotation also runs backwards from it.
    pub start: String,
    /// Who takes the primary shifts, in turn. May be empty: nobody is on call.
    pub primary: Vec<String>,
    /// Who takes the secondary shifts, in turn. When absent, the secondary is the person
    /// after the current primary in `primary` (nobody if `primary` has fewer than two).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secondary: Option<Vec<String>>,
    /// Cover for part of a shift, written `[[schedule.override]]`.
    #[serde(default, rename = "override", skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<OverrideSpec>,
}

/// One person covering one layer for a while, in place of whoever the rotation says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverrideSpec {
    pub layer: Layer,
    pub person: String,
    /// `YYYY-MM-DD HH:MM` in the schedule's time zone, or RFC 3339.
    pub from: String,
    /// `YYYY-MM-DD HH:MM` in the schedule's time zone, or RFC 3339; must be after `from`.
    pub until: String,
}

/// A checked override.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Override {
    layer: Layer,
    person: String,
    from: DateTime<Utc>,
    until: DateTime<Utc>,
}

/// A checked schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    name: String,
    tz: Tz,
    rotation: Span,
    /// `rotation` in seconds, at least 3600.
    rotation_secs: i64,
    /// Local start of shift 0.
    start: NaiveDateTime,
    primary: Vec<String>,
    secondary: Option<Vec<String>>,
    /// In file order; where two overlap in a layer, the later one wins.
    overrides: Vec<Override>,
    /// What it was checked from, as written: what the feed tells consoles.
    spec: ScheduleSpec,
}

/// Someone on call: one rotation shift or one override, as seen from a given instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shift {
    pub person: String,
    pub layer: Layer,
    /// Start of this stretch: for a rotation shift, the shift's start or the end of an
    /// override that interrupted it, whichever is later; for an override, its start (or the
    /// end of a later-listed override that covered it).
    pub from: DateTime<Utc>,
    /// End of this stretch, bounded the same way: the shift's end or the start of the next
    /// override within it.
    pub until: DateTime<Utc>,
    /// Whether this person is on call by an override rather than the rotation.
    pub overridden: bool,
}

/// A moment at which the person on call in a layer changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handoff {
    pub at: DateTime<Utc>,
    pub layer: Layer,
    /// Who was on call until `at`; `None` when nobody was.
    pub from: Option<String>,
    /// Who is on call from `at`; `None` when nobody is.
    pub to: Option<String>,
}

/// The instant a wall-clock time in `tz` means: the earlier one when the clocks go back,
/// the first instant after the gap when they go forward. `None` only out of chrono's range.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => after_gap(tz, local),
    }
}

/// The first instant whose wall-clock time in `tz` is at or after `local`, which falls in
/// a gap. Offsets are within a day of UTC, so the answer lies within a day of `local` read
/// as UTC; bisect on whole seconds (transitions fall on whole seconds).
fn after_gap(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let reads_at_least = |ts: i64| {
        DateTime::from_timestamp(ts, 0).is_some_and(|t| t.with_timezone(&tz).naive_local() >= local)
    };
    let mid = local.and_utc().timestamp();
    let (mut lo, mut hi) = (mid - 86_400, mid + 86_400);
    if reads_at_least(lo) || !reads_at_least(hi) {
        return None;
    }
    while hi - lo > 1 {
        let m = lo + (hi - lo) / 2;
        if reads_at_least(m) {
            hi = m;
        } else {
            lo = m;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

/// Parses an override bound: local `YYYY-MM-DD HH:MM` (seconds and a `T` separator are
/// accepted too) or RFC 3339.
fn parse_instant(tz: Tz, text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%dT%H:%M:%S",
    ]
    .iter()
    .find_map(|fmt| NaiveDateTime::parse_from_str(t, fmt).ok())
    .and_then(|local| resolve(tz, local))
}

/// How many different names a list holds.
fn distinct(names: &[String]) -> usize {
    let mut seen: Vec<&str> = names.iter().map(String::as_str).collect();
    seen.sort_unstable();
    seen.dedup();
    seen.len()
}

impl Schedule {
    /// Checks a schedule. Every problem found is reported, each naming the schedule and
    /// the field.
    pub fn from_spec(spec: &ScheduleSpec) -> Result<Schedule, Vec<String>> {
        let at = format!("schedule \"{}\"", spec.name);
        let mut errors = Vec::new();
        if spec.name.trim().is_empty() {
            errors.push(format!("{at}: name is empty"));
        }
        let tz = match spec.time_zone.trim().parse::<Tz>() {
            Ok(tz) => Some(tz),
            Err(_) => {
                errors.push(format!(
                    "{at}: unknown time zone \"{}\" (write an IANA name such as Europe/Berlin)",
                    spec.time_zone
                ));
                None
            }
        };
        let rotation = spec.rotation;
        if rotation < MIN_ROTATION {
            errors.push(format!(
                "{at}: rotation must be at least {MIN_ROTATION} (got {rotation})"
            ));
        } else if rotation > MAX_ROTATION {
            errors.push(format!(
                "{at}: rotation must be at most {MAX_ROTATION} (got {rotation})"
            ));
        }
        let handoff = NaiveTime::parse_from_str(spec.handoff.trim(), "%H:%M")
            .map_err(|_| {
                errors.push(format!(
                    "{at}: handoff \"{}\" is not a time (write HH:MM)",
                    spec.handoff
                ))
            })
            .ok();
        let start = NaiveDate::parse_from_str(spec.start.trim(), "%Y-%m-%d")
            .map_err(|_| {
                errors.push(format!(
                    "{at}: start \"{}\" is not a date (write YYYY-MM-DD)",
                    spec.start
                ))
            })
            .ok();
        let names = |field: &str, list: &[String], errors: &mut Vec<String>| {
            let mut out = Vec::new();
            for (i, n) in list.iter().enumerate() {
                let what = format!("{field} name {}", i + 1);
                match validate::text(&what, n, validate::MAX_NAME, false) {
                    Ok(n) => out.push(n),
                    Err(e) => errors.push(format!("{at}: {e}")),
                }
            }
            out
        };
        let primary = names("primary", &spec.primary, &mut errors);
        let secondary = spec
            .secondary
            .as_ref()
            .map(|list| names("secondary", list, &mut errors));
        let mut overrides = Vec::new();
        for (i, o) in spec.overrides.iter().enumerate() {
            let oat = format!("{at}: override {} ({})", i + 1, o.layer);
            let person = validate::text("person", &o.person, validate::MAX_NAME, false)
                .map_err(|e| errors.push(format!("{oat}: {e}")))
                .ok();
            let mut bound = |field: &str, text: &str| {
                let tz = tz?;
                let t = parse_instant(tz, text);
                if t.is_none() {
                    errors.push(format!(
                        "{oat}: {field} \"{text}\" is not a time (write YYYY-MM-DD HH:MM in {tz}, or RFC 3339)"
                    ));
                }
                t
            };
            let from = bound("from", &o.from);
            let until = bound("until", &o.until);
            if let (Some(from), Some(until)) = (from, until)
                && until <= from
            {
                errors.push(format!(
                    "{oat}: until \"{}\" is not after from \"{}\"",
                    o.until, o.from
                ));
            }
            if let (Some(person), Some(from), Some(until)) = (person, from, until) {
                overrides.push(Override {
                    layer: o.layer,
                    person,
                    from,
                    until,
                });
            }
        }
        match (tz, handoff, start) {
            (Some(tz), Some(handoff), Some(start)) if errors.is_empty() => Ok(Schedule {
                name: spec.name.trim().to_string(),
                tz,
                rotation,
                rotation_secs: i64::try_from(rotation.0.as_secs()).unwrap_or(i64::MAX),
                start: start.and_time(handoff),
                primary,
                secondary,
                overrides,
                spec: spec.clone(),
            }),
            _ => Err(errors),
        }
    }

    /// Checks every schedule of a policy, and that no two share a name.
    pub fn from_specs(specs: &[ScheduleSpec]) -> Result<Vec<Schedule>, Vec<String>> {
        let mut errors = Vec::new();
        let mut out = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            if specs[..i].iter().any(|s| s.name.trim() == spec.name.trim()) {
                errors.push(format!(
                    "schedule \"{}\": another schedule has the same name",
                    spec.name
                ));
            }
            match Schedule::from_spec(spec) {
                Ok(s) => out.push(s),
                Err(e) => errors.extend(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// The schedule as its policy file wrote it.
    pub fn spec(&self) -> &ScheduleSpec {
        &self.spec
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The zone the schedule's wall-clock times are in.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The length of one shift.
    pub fn rotation(&self) -> Span {
        self.rotation
    }

    /// Who is on call in `layer` at `at`, and for how long around it. `None` when nobody
    /// is: an empty rotation (or no secondary) and no override.
    pub fn on_call(&self, layer: Layer, at: DateTime<Utc>) -> Option<Shift> {
        if let Some(i) = self.active_override(layer, at) {
            let o = &self.overrides[i];
            let (from, until) = self.clip(layer, o.from, o.until, at, i + 1);
            return Some(Shift {
                person: o.person.clone(),
                layer,
                from,
                until,
                overridden: true,
            });
        }
        let k = self.shift_index(at)?;
        let person = self.rotation_person(layer, k)?;
        let (from, until) = (self.boundary(k)?, self.boundary(k + 1)?);
        let (from, until) = self.clip(layer, from, until, at, 0);
        Some(Shift {
            person: person.to_string(),
            layer,
            from,
            until,
            overridden: false,
        })
    }

    /// The next `count` changes of who is on call, strictly after `after`, in time order
    /// (primary before secondary at the same instant): rotation boundaries and override
    /// starts and ends, leaving out those where the same person carries on.
    pub fn handoffs(&self, after: DateTime<Utc>, count: usize) -> Vec<Handoff> {
        let mut out = Vec::new();
        // A rotation whose lists name one person each never hands off by itself; without
        // this, the search below would walk its boundaries for ever.
        let rotates =
            distinct(&self.primary) > 1 || self.secondary.as_ref().is_some_and(|s| distinct(s) > 1);
        let mut t = after;
        while out.len() < count {
            let next_boundary = if rotates {
                self.shift_index(t).and_then(|k| self.boundary(k + 1))
            } else {
                None
            };
            let next_override = self
                .overrides
                .iter()
                .flat_map(|o| [o.from, o.until])
                .filter(|&b| b > t)
                .min();
            let Some(c) = next_boundary.into_iter().chain(next_override).min() else {
                break;
            };
            let Some(before) = c.checked_sub_signed(TimeDelta::nanoseconds(1)) else {
                break;
            };
            for layer in Layer::ALL {
                let was = self.on_call(layer, before).map(|s| s.person);
                let now = self.on_call(layer, c).map(|s| s.person);
                if was != now && out.len() < count {
                    out.push(Handoff {
                        at: c,
                        layer,
                        from: was,
                        to: now,
                    });
                }
            }
            t = c;
        }
        out
    }

    /// Start of rotation shift `k` (0 starts on `start` at `handoff`; negative ones came
    /// before): a wall-clock time, then resolved in the zone.
    fn boundary(&self, k: i64) -> Option<DateTime<Utc>> {
        let offset = TimeDelta::try_seconds(k.checked_mul(self.rotation_secs)?)?;
        resolve(self.tz, self.start.checked_add_signed(offset)?)
    }

    /// The rotation shift containing `at`: `boundary(k) <= at < boundary(k + 1)`.
    fn shift_index(&self, at: DateTime<Utc>) -> Option<i64> {
        let local = at.with_timezone(&self.tz).naive_local();
        let elapsed = local.signed_duration_since(self.start).num_seconds();
        // A first guess from wall-clock time; off by at most a few shifts near a change of
        // offset, then corrected against the real boundaries (which never decrease).
        let mut k = elapsed.div_euclid(self.rotation_secs);
        while self.boundary(k)? > at {
            k -= 1;
        }
        while self.boundary(k + 1)? <= at {
            k += 1;
        }
        Some(k)
    }

    /// Whom the rotation puts in `layer` for shift `k`, overrides aside.
    fn rotation_person(&self, layer: Layer, k: i64) -> Option<&str> {
        fn pick(list: &[String], k: i64) -> Option<&str> {
            let n = i64::try_from(list.len()).ok().filter(|&n| n > 0)?;
            let i = usize::try_from(k.rem_euclid(n)).ok()?;
            list.get(i).map(String::as_str)
        }
        match (layer, &self.secondary) {
            (Layer::Primary, _) => pick(&self.primary, k),
            (Layer::Secondary, Some(list)) => pick(list, k),
            (Layer::Secondary, None) if self.primary.len() > 1 => pick(&self.primary, k + 1),
            (Layer::Secondary, None) => None,
        }
    }

    /// The override in force in `layer` at `at`, if any (the last listed, when several are).
    fn active_override(&self, layer: Layer, at: DateTime<Utc>) -> Option<usize> {
        self.overrides
            .iter()
            .rposition(|o| o.layer == layer && o.from <= at && at < o.until)
    }

    /// Narrows `[from, until)`, which contains `at`, to the stretch around `at` not covered
    /// by the overrides in `layer` listed from index `first` on.
    fn clip(
        &self,
        layer: Layer,
        from: DateTime<Utc>,
        until: DateTime<Utc>,
        at: DateTime<Utc>,
        first: usize,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let covering = self
            .overrides
            .iter()
            .skip(first)
            .filter(|o| o.layer == layer);
        let start = covering
            .clone()
            .map(|o| o.until)
            .filter(|&u| from < u && u <= at)
            .fold(from, std::cmp::max);
        let end = covering
            .map(|o| o.from)
            .filter(|&f| at < f && f < until)
            .fold(until, std::cmp::min);
        (start, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn spec(toml_text: &str) -> ScheduleSpec {
        toml::from_str(toml_text).unwrap()
    }

    fn schedule(toml_text: &str) -> Schedule {
        Schedule::from_spec(&spec(toml_text)).unwrap()
    }

    fn errors(toml_text: &str) -> Vec<String> {
        Schedule::from_spec(&spec(toml_text)).unwrap_err()
    }

    fn who(s: &Schedule, layer: Layer, at: &str) -> Option<String> {
        s.on_call(layer, utc(at)).map(|x| x.person)
    }

    fn some(p: &str) -> Option<String> {
        Some(p.to_string())
    }

    /// Weekly, UTC, Mondays 09:00 from 2026-11-02.
    const WEEKLY: &str = r#"
        name = "platform"
        start = "2026-11-02"
        primary = ["ana", "ben", "chen"]
    "#;

    #[test]
    fn weekly_rotation_of_three_across_weeks() {
        let s = schedule(WEEKLY);
        assert_eq!(s.name(), "platform");
        assert_eq!(s.rotation().to_string(), "1w");
        let expect = [
            ("2026-11-02T09:00:00Z", "ana"),
            ("2026-11-05T12:00:00Z", "ana"),
            ("2026-11-09T08:59:59Z", "ana"),
            ("2026-11-09T09:00:00Z", "ben"),
            ("2026-11-16T10:00:00Z", "chen"),
            ("2026-11-23T09:00:00Z", "ana"),
            ("2026-12-01T00:00:00Z", "ben"),
            ("2026-12-07T09:00:00Z", "chen"),
        ];
        for (at, person) in expect {
            assert_eq!(who(&s, Layer::Primary, at), some(person), "at {at}");
        }
        let shift = s
            .on_call(Layer::Primary, utc("2026-11-18T00:00:00Z"))
            .unwrap();
        assert_eq!(
            shift,
            Shift {
                person: "chen".into(),
                layer: Layer::Primary,
                from: utc("2026-11-16T09:00:00Z"),
                until: utc("2026-11-23T09:00:00Z"),
                overridden: false,
            }
        );
    }

    #[test]
    fn at_the_boundary_the_new_person_is_on_call() {
        let s = schedule(WEEKLY);
        let b = utc("2026-11-09T09:00:00Z");
        let shift = s.on_call(Layer::Primary, b).unwrap();
        assert_eq!(shift.person, "ben");
        assert_eq!(shift.from, b);
        let just_before = b - TimeDelta::nanoseconds(1);
        assert_eq!(
            s.on_call(Layer::Primary, just_before).unwrap().person,
            "ana"
        );
    }

    #[test]
    fn before_start_the_rotation_runs_backwards() {
        let s = schedule(WEEKLY);
        // Shift -1 is the last of the list, -2 the one before it, -4 wraps round again.
        assert_eq!(
            who(&s, Layer::Primary, "2026-11-02T08:59:00Z"),
            some("chen")
        );
        assert_eq!(
            who(&s, Layer::Primary, "2026-10-26T09:00:00Z"),
            some("chen")
        );
        assert_eq!(who(&s, Layer::Primary, "2026-10-26T08:00:00Z"), some("ben"));
        assert_eq!(who(&s, Layer::Primary, "2026-10-12T09:00:00Z"), some("ana"));
        assert_eq!(
            who(&s, Layer::Primary, "2026-10-05T09:00:00Z"),
            some("chen")
        );
        let shift = s
            .on_call(Layer::Primary, utc("2026-10-20T00:00:00Z"))
            .unwrap();
        assert_eq!(shift.from, utc("2026-10-19T09:00:00Z"));
        assert_eq!(shift.until, utc("2026-10-26T09:00:00Z"));
        // Secondary follows the same backwards index.
        assert_eq!(
            who(&s, Layer::Secondary, "2026-10-30T00:00:00Z"),
            some("ana")
        );
    }

    #[test]
    fn default_secondary_is_the_next_primary() {
        let s = schedule(WEEKLY);
        for (at, p, sec) in [
            ("2026-11-03T00:00:00Z", "ana", "ben"),
            ("2026-11-10T00:00:00Z", "ben", "chen"),
            ("2026-11-17T00:00:00Z", "chen", "ana"),
        ] {
            assert_eq!(who(&s, Layer::Primary, at), some(p));
            assert_eq!(who(&s, Layer::Secondary, at), some(sec));
        }
        let shift = s
            .on_call(Layer::Secondary, utc("2026-11-03T00:00:00Z"))
            .unwrap();
        assert_eq!(shift.layer, Layer::Secondary);
        assert_eq!(shift.until, utc("2026-11-09T09:00:00Z"));
    }

    #[test]
    fn explicit_secondary_list_rotates_on_its_own() {
        let s = schedule(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]
        "#,
        );
        for (at, p, sec) in [
            ("2026-11-03T00:00:00Z", "ana", "dev"),
            ("2026-11-10T00:00:00Z", "ben", "eli"),
            ("2026-11-17T00:00:00Z", "chen", "dev"),
            ("2026-11-24T00:00:00Z", "ana", "eli"),
        ] {
            assert_eq!(who(&s, Layer::Primary, at), some(p), "{at}");
            assert_eq!(who(&s, Layer::Secondary, at), some(sec), "{at}");
        }
        // An explicit empty list means no secondary, even with several primaries.
        let s = schedule(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben"]
            secondary = []
        "#,
        );
        assert_eq!(who(&s, Layer::Secondary, "2026-11-03T00:00:00Z"), None);
    }

    #[test]
    fn one_primary_has_no_default_secondary() {
        let s = schedule(
            r#"
            name = "solo"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
        );
        assert_eq!(who(&s, Layer::Primary, "2027-05-01T00:00:00Z"), some("ana"));
        assert_eq!(who(&s, Layer::Secondary, "2027-05-01T00:00:00Z"), None);
        // Nobody ever changes, so there is nothing to hand off.
        assert!(s.handoffs(utc("2026-11-01T00:00:00Z"), 5).is_empty());
    }

    #[test]
    fn empty_primary_has_nobody_on_call() {
        let s = schedule(
            r#"
            name = "empty"
            start = "2026-11-02"
            primary = []
        "#,
        );
        assert_eq!(s.on_call(Layer::Primary, utc("2026-11-03T00:00:00Z")), None);
        assert_eq!(
            s.on_call(Layer::Secondary, utc("2026-11-03T00:00:00Z")),
            None
        );
        assert!(s.handoffs(utc("2026-11-01T00:00:00Z"), 5).is_empty());
    }

    const WITH_OVERRIDE: &str = r#"
        name = "platform"
        start = "2026-11-02"
        primary = ["ana", "ben", "chen"]

        [[override]]
        layer = "primary"
        person = "fay"
        from = "2026-11-24 18:00"
        until = "2026-11-25 09:00"
    "#;

    #[test]
    fn override_in_the_middle_of_a_shift_clips_it() {
        let s = schedule(WITH_OVERRIDE);
        // Ana's shift runs 2026-11-23 09:00 to 2026-11-30 09:00; Fay covers one night.
        let before = s
            .on_call(Layer::Primary, utc("2026-11-24T12:00:00Z"))
            .unwrap();
        assert_eq!(
            before,
            Shift {
                person: "ana".into(),
                layer: Layer::Primary,
                from: utc("2026-11-23T09:00:00Z"),
                until: utc("2026-11-24T18:00:00Z"),
                overridden: false,
            }
        );
        let during = s
            .on_call(Layer::Primary, utc("2026-11-24T18:00:00Z"))
            .unwrap();
        assert_eq!(
            during,
            Shift {
                person: "fay".into(),
                layer: Layer::Primary,
                from: utc("2026-11-24T18:00:00Z"),
                until: utc("2026-11-25T09:00:00Z"),
                overridden: true,
            }
        );
        let after = s
            .on_call(Layer::Primary, utc("2026-11-25T09:00:00Z"))
            .unwrap();
        assert_eq!(after.person, "ana");
        assert!(!after.overridden);
        assert_eq!(after.from, utc("2026-11-25T09:00:00Z"));
        assert_eq!(after.until, utc("2026-11-30T09:00:00Z"));
        // The default secondary follows the rotation, not the override.
        assert_eq!(
            who(&s, Layer::Secondary, "2026-11-24T20:00:00Z"),
            some("ben")
        );
    }

    #[test]
    fn later_override_wins_where_two_overlap() {
        let s = schedule(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]

            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 00:00"
            until = "2026-11-26 00:00"

            [[override]]
            layer = "primary"
            person = "gus"
            from = "2026-11-25 00:00"
            until = "2026-11-25 12:00"
        "#,
        );
        let fay = s
            .on_call(Layer::Primary, utc("2026-11-24T06:00:00Z"))
            .unwrap();
        assert_eq!(fay.person, "fay");
        assert_eq!(fay.until, utc("2026-11-25T00:00:00Z"));
        assert_eq!(who(&s, Layer::Primary, "2026-11-25T06:00:00Z"), some("gus"));
        let fay = s
            .on_call(Layer::Primary, utc("2026-11-25T13:00:00Z"))
            .unwrap();
        assert_eq!(fay.person, "fay");
        assert_eq!(fay.from, utc("2026-11-25T12:00:00Z"));
        assert_eq!(fay.until, utc("2026-11-26T00:00:00Z"));
    }

    #[test]
    fn handoffs_include_rotation_and_override_changes() {
        let s = schedule(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]

            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-25 09:00"

            [[override]]
            layer = "secondary"
            person = "eli"
            from = "2026-11-26 00:00"
            until = "2026-11-27 00:00"
        "#,
        );
        let h = |at: &str, layer, from: &str, to: &str| Handoff {
            at: utc(at),
            layer,
            from: some(from),
            to: some(to),
        };
        let got = s.handoffs(utc("2026-11-20T00:00:00Z"), 7);
        assert_eq!(
            got,
            vec![
                h("2026-11-23T09:00:00Z", Layer::Primary, "chen", "ana"),
                h("2026-11-23T09:00:00Z", Layer::Secondary, "dev", "eli"),
                h("2026-11-24T18:00:00Z", Layer::Primary, "ana", "fay"),
                h("2026-11-25T09:00:00Z", Layer::Primary, "fay", "ana"),
                // Eli's override covers his own shift: no change, no handoff.
                h("2026-11-30T09:00:00Z", Layer::Primary, "ana", "ben"),
                h("2026-11-30T09:00:00Z", Layer::Secondary, "eli", "dev"),
                h("2026-12-07T09:00:00Z", Layer::Primary, "ben", "chen"),
            ]
        );
        // Strictly after: a handoff exactly at `after` is not repeated.
        let next = s.handoffs(utc("2026-11-24T18:00:00Z"), 1);
        assert_eq!(
            next,
            vec![h("2026-11-25T09:00:00Z", Layer::Primary, "fay", "ana")]
        );
        assert!(s.handoffs(utc("2026-11-20T00:00:00Z"), 0).is_empty());
    }

    #[test]
    fn handoffs_to_and_from_nobody() {
        let s = schedule(
            r#"
            name = "empty"
            start = "2026-11-02"
            primary = []

            [[override]]
            layer = "secondary"
            person = "fay"
            from = "2026-11-24T18:00:00+01:00"
            until = "2026-11-25 09:00"
        "#,
        );
        assert_eq!(
            s.handoffs(utc("2026-01-01T00:00:00Z"), 10),
            vec![
                Handoff {
                    at: utc("2026-11-24T17:00:00Z"),
                    layer: Layer::Secondary,
                    from: None,
                    to: some("fay"),
                },
                Handoff {
                    at: utc("2026-11-25T09:00:00Z"),
                    layer: Layer::Secondary,
                    from: some("fay"),
                    to: None,
                },
            ]
        );
    }

    #[test]
    fn berlin_handoff_stays_at_nine_local_across_dst() {
        let s = schedule(
            r#"
            name = "platform"
            time_zone = "Europe/Berlin"
            start = "2026-10-19"
            primary = ["ana", "ben", "chen"]
        "#,
        );
        assert_eq!(s.time_zone(), chrono_tz::Europe::Berlin);
        // 2026-10-25 clocks go back: 09:00 is 07:00 UTC before, 08:00 UTC after.
        let ana = s
            .on_call(Layer::Primary, utc("2026-10-20T00:00:00Z"))
            .unwrap();
        assert_eq!(ana.from, utc("2026-10-19T07:00:00Z"));
        assert_eq!(ana.until, utc("2026-10-26T08:00:00Z"));
        assert_eq!(who(&s, Layer::Primary, "2026-10-26T07:30:00Z"), some("ana"));
        assert_eq!(who(&s, Layer::Primary, "2026-10-26T08:00:00Z"), some("ben"));
        // And forward again on 2027-03-28: 08:00 UTC on the 22nd, 07:00 UTC on the 29th.
        // Each boundary changes both layers (the default secondary is the next primary).
        let h = s.handoffs(utc("2027-03-20T00:00:00Z"), 4);
        let at: Vec<_> = h.iter().map(|x| (x.at, x.layer)).collect();
        assert_eq!(
            at,
            vec![
                (utc("2027-03-22T08:00:00Z"), Layer::Primary),
                (utc("2027-03-22T08:00:00Z"), Layer::Secondary),
                (utc("2027-03-29T07:00:00Z"), Layer::Primary),
                (utc("2027-03-29T07:00:00Z"), Layer::Secondary),
            ]
        );
        for x in &h {
            let local = x.at.with_timezone(&chrono_tz::Europe::Berlin);
            assert_eq!(local.format("%H:%M").to_string(), "09:00");
        }
    }

    #[test]
    fn skipped_and_repeated_local_times() {
        // Daily at 02:30 Berlin: on 2026-03-29 02:30 never happens (the first instant
        // after the gap, 03:00 CEST); on 2026-10-25 it happens twice (the first one).
        let s = schedule(
            r#"
            name = "night"
            time_zone = "Europe/Berlin"
            rotation = "1d"
            handoff = "02:30"
            start = "2026-03-01"
            primary = ["ana", "ben"]
        "#,
        );
        let gap = s
            .on_call(Layer::Primary, utc("2026-03-29T12:00:00Z"))
            .unwrap();
        assert_eq!(gap.from, utc("2026-03-29T01:00:00Z"));
        assert_eq!(gap.until, utc("2026-03-30T00:30:00Z"));
        let fold = s
            .on_call(Layer::Primary, utc("2026-10-25T12:00:00Z"))
            .unwrap();
        assert_eq!(fold.from, utc("2026-10-25T00:30:00Z"));
        assert_eq!(fold.until, utc("2026-10-26T01:30:00Z"));
    }

    #[test]
    fn hourly_rotation_through_the_fold() {
        // Berlin, hourly at :30. On 2026-10-25 local 02:30 means its first instant (00:30
        // UTC) and 03:30 CET is 02:30 UTC, so that shift lasts two hours. At 01:10 UTC the
        // wall clock reads 02:10 a second time, which on its own would suggest the 01:30 shift.
        let s = schedule(
            r#"
            name = "hourly"
            time_zone = "Europe/Berlin"
            rotation = "1h"
            handoff = "00:30"
            start = "2026-10-24"
            primary = ["a", "b", "c"]
        "#,
        );
        let c = s
            .on_call(Layer::Primary, utc("2026-10-25T01:10:00Z"))
            .unwrap();
        assert_eq!(c.person, "c");
        assert_eq!(c.from, utc("2026-10-25T00:30:00Z"));
        assert_eq!(c.until, utc("2026-10-25T02:30:00Z"));
        assert_eq!(who(&s, Layer::Primary, "2026-10-25T00:29:00Z"), some("b"));
        let primary: Vec<_> = s
            .handoffs(utc("2026-10-25T00:00:00Z"), 4)
            .into_iter()
            .filter(|h| h.layer == Layer::Primary)
            .map(|h| (h.at, h.to))
            .collect();
        assert_eq!(
            primary,
            vec![
                (utc("2026-10-25T00:30:00Z"), some("c")),
                (utc("2026-10-25T02:30:00Z"), some("a")),
            ]
        );
    }

    #[test]
    fn twelve_hour_rotation() {
        let s = schedule(
            r#"
            name = "follow-the-sun"
            time_zone = "America/New_York"
            rotation = "12h"
            handoff = "08:00"
            start = "2026-11-01"
            primary = ["ana", "ben"]
        "#,
        );
        // 2026-11-01 is the day New York falls back; 08:00 EST is 13:00 UTC.
        for (at, person) in [
            ("2026-11-01T13:00:00Z", "ana"),
            ("2026-11-02T00:59:59Z", "ana"),
            ("2026-11-02T01:00:00Z", "ben"),
            ("2026-11-02T13:00:00Z", "ana"),
            ("2026-11-01T12:59:59Z", "ben"),
            ("2026-11-01T00:00:00Z", "ben"),
            ("2026-10-31T23:59:59Z", "ana"),
        ] {
            assert_eq!(who(&s, Layer::Primary, at), some(person), "at {at}");
        }
        // Shift -1 ran from 20:00 EDT (00:00 UTC) to 08:00 EST: 13 hours that night.
        let ben = s
            .on_call(Layer::Primary, utc("2026-11-01T06:00:00Z"))
            .unwrap();
        assert_eq!(ben.from, utc("2026-11-01T00:00:00Z"));
        assert_eq!(ben.until, utc("2026-11-01T13:00:00Z"));
        assert_eq!(
            who(&s, Layer::Secondary, "2026-11-01T06:00:00Z"),
            some("ana")
        );
    }

    #[test]
    fn parse_errors_name_the_schedule_and_field() {
        let e = errors(
            r#"
            name = "platform"
            time_zone = "Europe/Berln"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
        );
        assert_eq!(
            e,
            vec![
                "schedule \"platform\": unknown time zone \"Europe/Berln\" (write an IANA name such as Europe/Berlin)"
            ]
        );
        let e = errors(
            r#"
            name = "platform"
            handoff = "9am"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
        );
        assert_eq!(
            e,
            vec!["schedule \"platform\": handoff \"9am\" is not a time (write HH:MM)"]
        );
        let e = errors(
            r#"
            name = "platform"
            start = "02.11.2026"
            primary = ["ana"]
        "#,
        );
        assert_eq!(
            e,
            vec!["schedule \"platform\": start \"02.11.2026\" is not a date (write YYYY-MM-DD)"]
        );
        let e = errors(
            r#"
            name = "platform"
            rotation = "30m"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
        );
        assert_eq!(
            e,
            vec!["schedule \"platform\": rotation must be at least 1h (got 30m)"]
        );
        let e = errors(
            r#"
            name = "platform"
            rotation = "53w"
            start = "2026-11-02"
            primary = ["ana"]
        "#,
        );
        assert_eq!(
            e,
            vec!["schedule \"platform\": rotation must be at most 52w (got 53w)"]
        );
        let e = errors(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana", " "]
            secondary = [""]
        "#,
        );
        assert_eq!(
            e,
            vec![
                "schedule \"platform\": primary name 2 is empty",
                "schedule \"platform\": secondary name 1 is empty",
            ]
        );
        let e = errors(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana"]

            [[override]]
            layer = "primary"
            person = ""
            from = "2026-11-25 09:00"
            until = "2026-11-24 18:00"

            [[override]]
            layer = "secondary"
            person = "fay"
            from = "tomorrow"
            until = "2026-11-24 18:00"
        "#,
        );
        assert_eq!(
            e,
            vec![
                "schedule \"platform\": override 1 (primary): person is empty",
                "schedule \"platform\": override 1 (primary): until \"2026-11-24 18:00\" is not after from \"2026-11-25 09:00\"",
                "schedule \"platform\": override 2 (secondary): from \"tomorrow\" is not a time (write YYYY-MM-DD HH:MM in UTC, or RFC 3339)",
            ]
        );
        // An override that ends when it starts is empty, so also an error.
        let e = errors(
            r#"
            name = "platform"
            start = "2026-11-02"
            primary = ["ana"]
            [[override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-24T18:00:00Z"
        "#,
        );
        assert_eq!(e.len(), 1);
        assert!(e[0].contains("is not after"), "{e:?}");
        // Several problems at once are all reported.
        let e = errors(
            r#"
            name = "platform"
            time_zone = "Mars/Olympus"
            handoff = "25:00"
            start = "2026-13-01"
            primary = ["ana"]
        "#,
        );
        assert_eq!(e.len(), 3, "{e:?}");
    }

    #[test]
    fn unknown_fields_and_layers_are_refused() {
        assert!(
            toml::from_str::<ScheduleSpec>(
                "name = \"p\"\nstart = \"2026-11-02\"\nprimary = []\nrotaton = \"1w\"\n"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<ScheduleSpec>(
                "name = \"p\"\nstart = \"2026-11-02\"\nprimary = []\n[[override]]\nlayer = \"tertiary\"\nperson = \"a\"\nfrom = \"2026-11-02 00:00\"\nuntil = \"2026-11-03 00:00\"\n"
            )
            .is_err()
        );
    }

    #[test]
    fn duplicate_schedule_names_are_refused() {
        let a = spec(WEEKLY);
        assert_eq!(
            Schedule::from_specs(std::slice::from_ref(&a))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            Schedule::from_specs(&[a.clone(), a]).unwrap_err(),
            vec!["schedule \"platform\": another schedule has the same name"]
        );
    }

    #[test]
    fn toml_schedule_tables_parse_with_defaults() {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            schedule: Vec<ScheduleSpec>,
        }
        let text = r#"
            [[schedule]]
            name = "platform"
            time_zone = "Europe/Berlin"
            rotation = "1w"
            handoff = "09:00"
            start = "2026-11-02"
            primary = ["ana", "ben", "chen"]
            secondary = ["dev", "eli"]

            [[schedule.override]]
            layer = "primary"
            person = "fay"
            from = "2026-11-24 18:00"
            until = "2026-11-25 09:00"

            [[schedule]]
            name = "db"
            start = "2026-11-02"
            primary = ["gus"]
        "#;
        let file: File = toml::from_str(text).unwrap();
        assert_eq!(file.schedule.len(), 2);
        let p = &file.schedule[0];
        assert_eq!(
            p.secondary,
            Some(vec!["dev".to_string(), "eli".to_string()])
        );
        assert_eq!(
            p.overrides,
            vec![OverrideSpec {
                layer: Layer::Primary,
                person: "fay".into(),
                from: "2026-11-24 18:00".into(),
                until: "2026-11-25 09:00".into(),
            }]
        );
        let db = &file.schedule[1];
        assert_eq!(db.time_zone, "UTC");
        assert_eq!(db.rotation.to_string(), "1w");
        assert_eq!(db.handoff, "09:00");
        assert_eq!(db.secondary, None);
        assert!(db.overrides.is_empty());

        let schedules = Schedule::from_specs(&file.schedule).unwrap();
        // Berlin 18:00 CET is 17:00 UTC.
        let fay = schedules[0]
            .on_call(Layer::Primary, utc("2026-11-24T17:00:00Z"))
            .unwrap();
        assert_eq!(fay.person, "fay");
        assert!(fay.overridden);
        assert_eq!(fay.until, utc("2026-11-25T08:00:00Z"));
        assert_eq!(Layer::Secondary.to_string(), "secondary");
    }
}
