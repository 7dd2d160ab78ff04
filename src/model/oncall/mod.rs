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

mod hours;
pub use hours::{DEFAULT_WORKING_HOURS, WorkingHours};

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
    /// When the team is at work, in `time_zone`: `mon-fri 09:00-17:00` (the default when
    /// absent). Pages outside them are counted as off-hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_hours: Option<String>,
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
    hours: WorkingHours,
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
        let hours = match &spec.working_hours {
            Some(text) => WorkingHours::parse(text)
                .map_err(|e| errors.push(format!("{at}: {e}")))
                .unwrap_or_default(),
            None => WorkingHours::default(),
        };
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
                hours,
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
mod tests;
