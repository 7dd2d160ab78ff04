//! Building the briefing: the shift (when it started, who hands over) from the default
//! on-call schedule, and from the state every active incident as the incoming person needs
//! it, what the shift resolved, the noisiest alert sources and who is on call. Data only;
//! the renderers are `text` and `markdown`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{
    ActiveIncident, AlertSource, Briefing, EntrySummary, FALLBACK_SHIFT_HOURS, LAST_ENTRIES,
    NextHandoff, OnCall, OnCallNow, OpenActionItem, PendingStep, ResolvedIncident, RoleHolder,
    ShiftChange, ShiftPages, StatusUpdate,
};
use crate::model::oncall::{Layer, Schedule, WorkingHours};
use crate::model::policy::Policy;
use crate::model::{Entry, EntryKind, Incident, Milestone, Role, State, StepAction};

/// A policy's schedules with its default schedule (the one `schedule_for(None)` names)
/// first, the others after it in file order: the order [`brief`] expects.
pub fn schedules_default_first(policy: &Policy) -> Vec<Schedule> {
    let all = policy.schedules();
    let default = policy.schedule_for(None).map(|s| s.name().to_string());
    let mut out: Vec<Schedule> = all
        .iter()
        .filter(|s| Some(s.name()) == default.as_deref())
        .cloned()
        .collect();
    out.extend(
        all.iter()
            .filter(|s| Some(s.name()) != default.as_deref())
            .cloned(),
    );
    out
}

/// When the outgoing shift started: the start of the default schedule's (`schedules[0]`)
/// current primary stretch (`on_call(Primary, now).from`: a rotation boundary, or the edge
/// of an override), else `now` − [`FALLBACK_SHIFT_HOURS`] hours.
pub fn shift_start(schedules: &[Schedule], now: DateTime<Utc>) -> DateTime<Utc> {
    schedules
        .first()
        .and_then(|s| s.on_call(Layer::Primary, now))
        .map(|shift| shift.from)
        .unwrap_or_else(|| now - Duration::hours(FALLBACK_SHIFT_HOURS))
}

/// The shift change a briefing is for, by the default schedule's primary: the nearer of the
/// last change and the next one. Run before a shift change (nearer the next), it is that
/// change: the person on call now hands over to the next. Run after one, it is the change
/// just made. `None` when there is no schedule or nobody is primary now.
pub fn shift_change(schedules: &[Schedule], now: DateTime<Utc>) -> Option<ShiftChange> {
    let s = schedules.first()?;
    let current = s.on_call(Layer::Primary, now)?;
    let next = s
        .handoffs(now, 8)
        .into_iter()
        .find(|h| h.layer == Layer::Primary);
    if let Some(n) = next
        && n.at - now < now - current.from
    {
        return Some(ShiftChange {
            at: n.at,
            outgoing: n.from,
            incoming: n.to,
        });
    }
    let before = current.from.checked_sub_signed(Duration::seconds(1))?;
    let previous = s.on_call(Layer::Primary, before).map(|p| p.person);
    Some(ShiftChange {
        at: current.from,
        outgoing: previous.filter(|p| *p != current.person),
        incoming: Some(current.person),
    })
}

/// Who hands over at the shift change being prepared ([`shift_change`]): the default
/// schedule's primary now when the next change is nearer than the last, else the one just
/// before the current primary stretch. `None` when there is no schedule, nobody was primary,
/// or the same person carries on.
pub fn outgoing(schedules: &[Schedule], now: DateTime<Utc>) -> Option<String> {
    shift_change(schedules, now)?.outgoing
}

/// Builds the briefing for the shift from `shift_start` to `now`. `schedules[0]` is taken
/// to be the default schedule (it names the outgoing person).
pub fn brief(
    state: &State,
    schedules: &[Schedule],
    shift_start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Briefing {
    let shift_schedule = schedules
        .first()
        .filter(|s| {
            s.on_call(Layer::Primary, now)
                .is_some_and(|p| p.from == shift_start)
        })
        .map(|s| s.name().to_string());
    let change = shift_change(schedules, now);
    let active = state
        .board()
        .into_iter()
        .filter(|i| i.is_active())
        .map(|i| active_incident(i, now))
        .collect();
    let in_shift = |t: DateTime<Utc>| shift_start <= t && t <= now;
    let ended: Vec<ResolvedIncident> = state
        .incidents
        .values()
        .filter(|i| !i.is_active())
        .filter_map(|i| {
            let at = *i.milestones.get(&Milestone::Resolved)?;
            Some(ResolvedIncident {
                reference: i.reference,
                title: i.title.clone(),
                service: i.service.clone(),
                severity: i.severity,
                status: i.status,
                declared_at: i.declared_at,
                resolved_at: at,
                postmortem_due_at: i.postmortem_owed_by(),
                postmortem_on_time: i.postmortem_on_time(),
            })
        })
        .collect();
    let (mut resolved, earlier): (Vec<_>, Vec<_>) =
        ended.into_iter().partition(|r| in_shift(r.resolved_at));
    resolved.sort_by_key(|r| (r.resolved_at, r.reference));
    let mut postmortems_owed: Vec<ResolvedIncident> = earlier
        .into_iter()
        .filter(|r| r.postmortem_due_at.is_some() && r.resolved_at < shift_start)
        .collect();
    postmortems_owed.sort_by_key(|r| (r.postmortem_due_at, r.reference));
    let mut by_service: BTreeMap<Option<String>, (u64, usize)> = BTreeMap::new();
    for i in state.incidents.values() {
        if in_shift(i.declared_at) && i.alert_count > 0 {
            let e = by_service.entry(i.service.clone()).or_default();
            e.0 += u64::from(i.alert_count);
            e.1 += 1;
        }
    }
    let mut noisiest: Vec<AlertSource> = by_service
        .into_iter()
        .map(|(service, (alerts, incidents))| AlertSource {
            service,
            alerts,
            incidents,
        })
        .collect();
    // Most alerts first; the map's order (by service) breaks ties.
    noisiest.sort_by_key(|a| std::cmp::Reverse(a.alerts));
    let pages = shift_pages(state, schedules.first(), &in_shift);
    Briefing {
        generated_at: now,
        as_of_seq: state.seq,
        shift_start,
        shift_schedule,
        outgoing: change.as_ref().and_then(|c| c.outgoing.clone()),
        incoming: change.as_ref().and_then(|c| c.incoming.clone()),
        shift_change_at: change.map(|c| c.at),
        active,
        on_call: schedules.iter().map(|s| on_call(s, now)).collect(),
        resolved,
        noisiest,
        pages,
        withheld: state.withheld.iter().copied().collect(),
        deploys: state
            .feed
            .deploys_between(shift_start, now + Duration::seconds(1))
            .into_iter()
            .cloned()
            .collect(),
        postmortems_owed,
        for_standup: state
            .feed
            .digest(now, Duration::days(super::STANDUP_DAYS))
            .into_iter()
            .cloned()
            .collect(),
    }
}

/// The pages of the shift (each incident's latest escalation run's fired steps that paged
/// a person), and how many fell outside the default schedule's working hours.
fn shift_pages(
    state: &State,
    schedule: Option<&Schedule>,
    in_shift: &dyn Fn(DateTime<Utc>) -> bool,
) -> ShiftPages {
    let times: Vec<DateTime<Utc>> = state
        .incidents
        .values()
        .filter_map(|i| i.escalation.as_ref())
        .flat_map(|e| &e.fired)
        .filter(|f| f.action == StepAction::Page && f.person.is_some() && in_shift(f.at))
        .map(|f| f.at)
        .collect();
    let hours = WorkingHours::default();
    let off_hours = times
        .iter()
        .filter(|t| match schedule {
            Some(s) => !s.is_working_time(**t),
            None => !hours.contains(t.naive_utc()),
        })
        .count();
    let pages = u32::try_from(times.len()).unwrap_or(u32::MAX);
    let target = crate::report::metrics::PAGES_PER_SHIFT_TARGET;
    ShiftPages {
        pages,
        off_hours: u32::try_from(off_hours).unwrap_or(u32::MAX),
        target,
        over_target: pages >= target,
    }
}

fn active_incident(inc: &Incident, now: DateTime<Utc>) -> ActiveIncident {
    let timeline: Vec<&Entry> = inc
        .timeline()
        .into_iter()
        .filter(|e| e.superseded_by.is_none())
        .collect();
    let of_kind = |k: EntryKind| -> Vec<EntrySummary> {
        timeline
            .iter()
            .filter(|e| e.kind == k)
            .map(|e| EntrySummary::from(*e))
            .collect()
    };
    // Pinned entries, and the last few a person (or a milestone) wrote, in timeline order.
    let recent: Vec<u64> = timeline
        .iter()
        .rev()
        .filter(|e| e.kind != EntryKind::System)
        .take(LAST_ENTRIES)
        .map(|e| e.id)
        .collect();
    let key_entries = timeline
        .iter()
        .filter(|e| e.pinned || recent.contains(&e.id))
        .map(|e| EntrySummary::from(*e))
        .collect();
    // The latest status update in recorded order (what the cadence counts from).
    let last_entry = inc
        .entries
        .iter()
        .rev()
        .find(|e| e.kind == EntryKind::StatusUpdate && e.superseded_by.is_none());
    let last_status_update = match (inc.last_status_update, last_entry) {
        (_, Some(e)) => Some(StatusUpdate {
            at: inc
                .last_status_update
                .unwrap_or(e.recorded_at)
                .max(e.recorded_at),
            author: Some(e.author.clone()),
            text: Some(e.text.clone()),
        }),
        (Some(at), None) => Some(StatusUpdate {
            at,
            author: None,
            text: None,
        }),
        (None, None) => None,
    };
    let pending_escalation = inc.live_escalation().and_then(|esc| {
        let p = esc.next()?;
        Some(PendingStep {
            step: p.step + 1,
            steps: esc.plan.steps.len(),
            round: p.round + 1,
            action: p.action,
            target: p.target,
            expected: p.expected,
            due_at: p.due_at,
        })
    });
    ActiveIncident {
        reference: inc.reference,
        title: inc.title.clone(),
        service: inc.service.clone(),
        severity: inc.severity,
        status: inc.status,
        restricted: inc.restricted,
        breach_notice_due: inc.breach_notice_due(),
        declared_at: inc.declared_at,
        declared_by: inc.declared_by.clone(),
        age_secs: (now - inc.declared_at).num_seconds().max(0),
        acknowledged_by: inc.acknowledged_by.clone(),
        roles: Role::ALL
            .iter()
            .filter_map(|r| {
                inc.roles.get(r).map(|p| RoleHolder {
                    role: *r,
                    person: p.clone(),
                })
            })
            .collect(),
        last_status_update,
        next_update_due: inc.next_update_due(),
        open_hypotheses: of_kind(EntryKind::Hypothesis),
        ruled_out: of_kind(EntryKind::RuledOut),
        open_action_items: inc
            .postmortem
            .action_items
            .iter()
            .filter(|a| !a.done)
            .map(|a| OpenActionItem {
                id: a.id,
                text: a.text.clone(),
                owner: a.owner.clone(),
                due: a.due,
            })
            .collect(),
        pending_escalation,
        key_entries,
    }
}

fn on_call(s: &Schedule, now: DateTime<Utc>) -> OnCall {
    let layer = |l| {
        s.on_call(l, now).map(|sh| OnCallNow {
            person: sh.person,
            until: sh.until,
            overridden: sh.overridden,
        })
    };
    // Both layers may change at the same instant; the next handoff is all of them.
    let upcoming = s.handoffs(now, 2);
    let first = upcoming.first().map(|h| h.at);
    OnCall {
        schedule: s.name().to_string(),
        time_zone: s.time_zone().name().to_string(),
        primary: layer(Layer::Primary),
        secondary: layer(Layer::Secondary),
        next: upcoming
            .into_iter()
            .filter(|h| Some(h.at) == first)
            .map(|h| NextHandoff {
                at: h.at,
                layer: h.layer,
                from: h.from,
                to: h.to,
            })
            .collect(),
    }
}
