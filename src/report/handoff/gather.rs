//! Building the briefing: the shift (when it started, who hands over) from the default
//! on-call schedule, and from the state every active incident as the incoming person needs
//! it, what the shift resolved, the noisiest alert sources and who is on call. Data only;
//! the renderers are `text` and `markdown`.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::{
    ActiveIncident, AlertSource, Briefing, EntrySummary, FALLBACK_SHIFT_HOURS, LAST_ENTRIES,
    NextHandoff, OnCall, OnCallNow, OpenActionItem, PendingStep, ResolvedIncident, RoleHolder,
    StatusUpdate,
};
use crate::model::oncall::{Layer, Schedule};
use crate::model::policy::Policy;
use crate::model::{Entry, EntryKind, Incident, Milestone, Role, State};

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

/// Who hands over: the default schedule's primary just before the current primary stretch
/// began. `None` when there is no schedule, nobody was primary then, or the same person
/// carries on.
pub fn outgoing(schedules: &[Schedule], now: DateTime<Utc>) -> Option<String> {
    let s = schedules.first()?;
    let current = s.on_call(Layer::Primary, now)?;
    let before = current.from.checked_sub_signed(Duration::seconds(1))?;
    let previous = s.on_call(Layer::Primary, before)?;
    (previous.person != current.person).then_some(previous.person)
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
    let active = state
        .board()
        .into_iter()
        .filter(|i| i.is_active())
        .map(|i| active_incident(i, now))
        .collect();
    let in_shift = |t: DateTime<Utc>| shift_start <= t && t <= now;
    let mut resolved: Vec<ResolvedIncident> = state
        .incidents
        .values()
        .filter(|i| !i.is_active())
        .filter_map(|i| {
            let at = *i.milestones.get(&Milestone::Resolved)?;
            let owed = i.postmortem_owed_by();
            in_shift(at).then(|| ResolvedIncident {
                reference: i.reference,
                title: i.title.clone(),
                service: i.service.clone(),
                severity: i.severity,
                status: i.status,
                declared_at: i.declared_at,
                resolved_at: at,
                postmortem_due_at: owed,
                postmortem_on_time: i.postmortem_on_time(),
            })
        })
        .collect();
    resolved.sort_by_key(|r| (r.resolved_at, r.reference));
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
    Briefing {
        generated_at: now,
        as_of_seq: state.seq,
        shift_start,
        shift_schedule,
        outgoing: outgoing(schedules, now),
        active,
        on_call: schedules.iter().map(|s| on_call(s, now)).collect(),
        resolved,
        noisiest,
        withheld: state.withheld.iter().copied().collect(),
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
