//! A group of inputs decided together: commands against the live work (with the answers
//! remembered for their ids), webhook alerts and the server's own observations; then the
//! escalation engine's pass, the group's one durable append, the deliveries it owes, and
//! every sender's answer.

use std::collections::{BTreeMap, HashMap};

use super::{Core, CoreInput, Delivery, SYSTEM_ACTOR};
use crate::model::{Event, EventKind, Incident, access, engine};
use crate::protocol::{Answer, ErrorCode};
use crate::server::alerts::{self, IntakeAnswer, record};
use crate::store::{Append, CommandRecord};

enum Reply {
    Answer(Answer),
    /// The same command id appeared earlier in this batch.
    SameAs(usize),
}

/// Most events one engine pass records (a guard against a policy that loops).
const MAX_ENGINE_EVENTS: usize = 10_000;

impl Core {
    /// The remembered answers to the group's commands, asked of the store at once (one
    /// query for the whole group on a shared log); an error is each command's answer.
    fn remembered(&self, batch: &[CoreInput]) -> Result<HashMap<(String, String), Answer>, String> {
        let keys: Vec<(String, String)> = batch
            .iter()
            .filter_map(|i| match i {
                CoreInput::Command(req) => Some((req.actor.clone(), req.id.clone())),
                _ => None,
            })
            .collect();
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        match self.store.answers(&keys) {
            Ok(found) => Ok(keys
                .into_iter()
                .zip(found)
                .filter_map(|(k, a)| Some((k, a?)))
                .collect()),
            Err(e) => {
                tracing::error!("reading command answers: {e}");
                Err(e.to_string())
            }
        }
    }

    /// Decides a group, appends it, publishes it and answers it. On a store that refuses an
    /// answer recorded twice, the group is decided without first asking which of its
    /// commands were answered before (one round trip less), except for a while after this
    /// core starts or takes the lead (when retries of commands sent to the replica before
    /// come) and after a refusal; a refused group is decided again from the log, asking.
    pub(in crate::server) fn process(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        batch: Vec<CoreInput>,
    ) {
        let ask = !self.store.refuses_answered_twice()
            || std::time::Instant::now() < self.ask_answers_until;
        let Err(batch) = self.decide_group(now, batch, ask) else {
            return;
        };
        tracing::info!("a command of the group was answered before: deciding it again, asking");
        self.ask_answers_until = std::time::Instant::now() + self.ask_answers_for;
        self.rebuild(now, &[]);
        // Asked first, a refusal is answered `unavailable` like any failed append: the
        // group is never given back.
        let _ = self.decide_group(now, batch, true);
    }

    /// One try at a group (see [`Core::process`]); `ask`: ask the store first which
    /// commands were answered before. Gives the group back, undecided and unanswered, when
    /// the store refused it as answered before without having been asked; the state then
    /// holds what was decided and must be rebuilt.
    fn decide_group(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        batch: Vec<CoreInput>,
        ask: bool,
    ) -> Result<(), Vec<CoreInput>> {
        let before_seq = self.state.seq;
        let mut events: Vec<Event> = Vec::new();
        let mut records: Vec<CommandRecord> = Vec::new();
        // Each command's answer, in the group's order, and whether the metrics count it.
        let mut replies: Vec<(Reply, bool)> = Vec::with_capacity(batch.len());
        let mut in_batch: HashMap<(String, String), usize> = HashMap::new();
        let mut intake_replies: Vec<IntakeAnswer> = Vec::new();
        // Archived incidents brought back in this group, as they stood before it.
        let mut revived: BTreeMap<u32, Incident> = BTreeMap::new();
        let mut remembered = if ask {
            self.remembered(&batch)
        } else {
            Ok(HashMap::new())
        };
        for input in &batch {
            let req = match input {
                CoreInput::Command(req) => req,
                CoreInput::Tick(_)
                | CoreInput::Tail
                | CoreInput::Read { .. }
                | CoreInput::Forwarded
                | CoreInput::ForwardedRow(_) => continue,
                CoreInput::Intake(req) => {
                    // Folded straight into the state (a copy of a large state per alert
                    // would cost more than the alert); should one alert fail, the state is
                    // rebuilt from the log plus this group's earlier events, so none of it
                    // stays. (Alerts attach only to active incidents: never archived ones.)
                    let before = events.len();
                    let outcome =
                        alerts::decide(&mut self.state, &mut events, &self.rules, now, &req.alerts);
                    if outcome.is_err() {
                        events.truncate(before);
                        self.rebuild(now, &events);
                    }
                    intake_replies.push(outcome);
                    continue;
                }
                CoreInput::Record {
                    actor,
                    events: kinds,
                } => {
                    for kind in kinds {
                        if let Some(r) = kind.incident() {
                            self.bring_back(r, &mut revived);
                        }
                        if self.already_ticketed(kind) {
                            // An item that has a ticket is never ticketed again.
                            continue;
                        }
                        let mut scratch_events = Vec::new();
                        let kind = kind.clone();
                        match record(&mut self.state, &mut scratch_events, actor, now, kind) {
                            Ok(_) => events.extend(scratch_events),
                            Err(e) => tracing::warn!("a server observation did not fold: {e}"),
                        }
                    }
                    continue;
                }
            };
            let key = (req.actor.clone(), req.id.clone());
            if let Some(&i) = in_batch.get(&key) {
                replies.push((Reply::SameAs(i), false));
                continue;
            }
            if let Some(r) = req.command.incident() {
                self.bring_back(r, &mut revived);
            }
            if let Some(r) = req.command.incident()
                && let Some(inc) = self.state.incident(r)
                && !inc.visible_to(access::Viewer {
                    name: &req.actor,
                    sees_all: req.sees_all,
                })
            {
                // Not remembered: it may be allowed once an admin adds the sender.
                let message = format!(
                    "{r} is restricted (need to know): only its members and admins may see it \
                     or act on it; ask an admin to add you"
                );
                let answer = Answer::Error {
                    code: ErrorCode::Forbidden,
                    message,
                };
                replies.push((Reply::Answer(answer), true));
                continue;
            }
            match remembered.as_mut().map(|r| r.remove(&key)) {
                Ok(Some(previous)) => {
                    // A second copy in this group gets it too (it is no longer in the map).
                    in_batch.insert(key, replies.len());
                    replies.push((Reply::Answer(previous), false));
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    replies.push((Reply::Answer(unavailable(e)), false));
                    continue;
                }
            }
            // An action item given no due date gets the policy's default, if it has one.
            let filled = self.rules.with_defaults(&req.command, now);
            let command = filled.as_ref().unwrap_or(&req.command);
            let decided =
                self.state
                    .decide_with_policy(&req.actor, now, command, &self.rules.policy);
            let answer = match decided {
                Ok(kinds) => {
                    let mut seqs = Vec::with_capacity(kinds.len());
                    let mut incident = req.command.incident();
                    let mut failed = None;
                    let before = events.len();
                    for kind in kinds {
                        if let EventKind::Declared { incident: r, .. } = &kind {
                            incident = Some(*r);
                        }
                        match record(&mut self.state, &mut events, &req.actor, now, kind) {
                            Ok(seq) => seqs.push(seq),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    match failed {
                        Some(e) => {
                            // "Nothing was recorded, retry" must be true: this command's
                            // events that did fold leave the batch, and the state is rebuilt
                            // without them.
                            tracing::error!("a decided event did not fold: {e}");
                            events.truncate(before);
                            self.rebuild(now, &events);
                            unavailable(&e.to_string())
                        }
                        None => Answer::Ok { seqs, incident },
                    }
                }
                Err(rejection) => Answer::rejected(rejection),
            };
            in_batch.insert(key.clone(), replies.len());
            // Only definitive answers are remembered: "unavailable" must stay safe to retry.
            let definitive = !matches!(
                &answer,
                Answer::Error {
                    code: ErrorCode::Unavailable,
                    ..
                }
            );
            if definitive {
                records.push(CommandRecord {
                    actor: key.0,
                    id: key.1,
                    answer: answer.clone(),
                });
            }
            replies.push((Reply::Answer(answer), true));
        }

        // The engine: escalation steps, cadences and runbooks owed as of now, in the same
        // transaction as the commands that caused them.
        let mut fired: Vec<usize> = Vec::new();
        for _ in 0..MAX_ENGINE_EVENTS {
            let Some(kind) =
                engine::next_event(&self.state, &self.rules.policy, &self.rules.runbooks, now)
            else {
                break;
            };
            let is_step = matches!(
                kind,
                EventKind::StepFired {
                    person: Some(_),
                    ..
                }
            );
            match record(&mut self.state, &mut events, SYSTEM_ACTOR, now, kind) {
                Ok(_) if is_step => {
                    fired.push(events.len() - 1);
                    // Whoever is paged about a restricted incident may see it and acknowledge.
                    let member = events
                        .last()
                        .and_then(|e| access::let_in_paged(&self.state, &e.kind));
                    if let Some(member) = member
                        && let Err(e) =
                            record(&mut self.state, &mut events, SYSTEM_ACTOR, now, member)
                    {
                        tracing::error!("letting a paged person in did not fold: {e}");
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!("an escalation event did not fold: {e}");
                    break;
                }
            }
        }

        if events.is_empty() && records.is_empty() {
            // Nothing to record (a quiet tick, or only rejections of unremembered kinds).
            self.evict(now);
            finish(&self.metrics, batch, replies, intake_replies);
            return Ok(());
        }

        // An incident coming back: readers from before its first event here may lack it.
        let mut floor = self.published.resume_floor();
        let mut back = std::collections::BTreeSet::new();
        for e in &events {
            let Some(r) = e.kind.incident().map(|r| r.0) else {
                continue;
            };
            if revived.contains_key(&r) && back.insert(r) {
                floor = floor.max(e.seq);
            }
        }
        let checkpoint =
            self.state.seq / self.checkpoint_every > before_seq / self.checkpoint_every;
        let started = std::time::Instant::now();
        let appended = self.store.append(&Append {
            events: &events,
            commands: &records,
            state: &self.state,
            checkpoint,
            resume_floor: floor,
        });
        if let Err(e) = appended {
            if !ask && matches!(e, crate::store::StoreError::AnsweredBefore) {
                return Err(batch);
            }
            if self.link.is_some()
                && (matches!(e, crate::store::StoreError::NotLeader(_))
                    || !matches!(self.store.leading(), Ok(true)))
            {
                // Fenced: another replica leads. Nothing is answered here; the caller
                // hands the commands to the new leader.
                tracing::warn!("append refused, this replica no longer leads: {e}");
                self.leading = false;
                for input in batch {
                    if let CoreInput::Intake(req) = input {
                        let _ = req.reply.send(Err(format!(
                            "this replica lost the lead while recording the alert ({e}); \
                             nothing was recorded, retry"
                        )));
                    }
                }
                return Ok(());
            }
            tracing::error!("append failed, nothing of this batch was recorded: {e}");
            self.rebuild(now, &[]);
            let answer = unavailable(&e.to_string());
            for input in batch {
                match input {
                    CoreInput::Command(req) => {
                        let _ = req.reply.send(answer.clone());
                    }
                    CoreInput::Intake(req) => {
                        let _ = req.reply.send(Err(format!(
                            "the server could not record the alert ({e}); nothing was \
                             recorded, retry"
                        )));
                    }
                    _ => {}
                }
            }
            return Ok(());
        }

        // Pages on demand are delivered as fired steps are; status updates go to the
        // stakeholders (and the status page), and action items to the policy's tracker.
        let tracker = self.rules.policy.tracker().is_some();
        fired.extend(
            events
                .iter()
                .enumerate()
                .filter(|(_, e)| match e.kind {
                    EventKind::Paged { .. } => true,
                    EventKind::EntryAdded {
                        entry_kind: crate::model::EntryKind::StatusUpdate,
                        ..
                    } => true,
                    EventKind::ActionItemAdded { .. } => tracker,
                    _ => false,
                })
                .map(|(i, _)| i),
        );
        self.metrics.committed(events.len(), started.elapsed());
        self.metrics.appended(&self.state, &events);
        for i in fired {
            let ev = &events[i];
            if let Some(inc) = ev.kind.incident().and_then(|r| self.state.incident(r)) {
                let (title, service) = Delivery::shown(inc);
                let _ = self.deliveries.send(Delivery {
                    event: ev.clone(),
                    title,
                    severity: inc.severity,
                    service,
                    steps: inc.escalation.as_ref().map_or(0, |e| e.plan.steps.len()),
                    already: Vec::new(),
                    restricted: inc.restricted,
                    status: inc.status,
                    next_update_at: inc.next_update_due(),
                });
            }
        }

        self.publish(events, revived, floor);
        // What left the live work, before anyone hears this group is done (a tick's sender
        // then sees the live work as of its time).
        self.evict(now);
        finish(&self.metrics, batch, replies, intake_replies);
        Ok(())
    }
}

impl Core {
    /// A ticket recorded for an action item that already has one.
    fn already_ticketed(&self, kind: &EventKind) -> bool {
        let EventKind::ActionItemTicketed { incident, item, .. } = kind else {
            return false;
        };
        self.state
            .incident(*incident)
            .and_then(|i| i.postmortem.item(*item))
            .is_some_and(|a| a.ticket.is_some())
    }
}

/// Sends every answer of a group: each command's (in order, counted by the metrics where
/// said), each alert batch's, and each tick's word that the group is done.
fn finish(
    metrics: &crate::server::metrics::Metrics,
    batch: Vec<CoreInput>,
    replies: Vec<(Reply, bool)>,
    intake_replies: Vec<IntakeAnswer>,
) {
    let mut answers: Vec<(Answer, bool)> = Vec::with_capacity(replies.len());
    for (r, counted) in replies {
        let a = match r {
            Reply::Answer(a) => a,
            Reply::SameAs(i) => answers
                .get(i)
                .map(|(a, _)| a.clone())
                .unwrap_or_else(|| unavailable("duplicate command id in one batch")),
        };
        answers.push((a, counted));
    }
    let mut answers = answers.into_iter();
    let mut intake = intake_replies.into_iter();
    for input in batch {
        match input {
            CoreInput::Command(req) => {
                if let Some((a, counted)) = answers.next() {
                    if counted {
                        metrics.answered(&req.command, &req.actor, &req.id, &a);
                    }
                    let _ = req.reply.send(a);
                }
            }
            CoreInput::Intake(req) => {
                if let Some(a) = intake.next() {
                    let _ = req.reply.send(a);
                }
            }
            CoreInput::Tick(Some(done)) => {
                let _ = done.send(());
            }
            _ => {}
        }
    }
}

fn unavailable(reason: &str) -> Answer {
    Answer::Error {
        code: ErrorCode::Unavailable,
        message: format!(
            "the server could not record the command ({reason}); nothing was recorded, retry"
        ),
    }
}
