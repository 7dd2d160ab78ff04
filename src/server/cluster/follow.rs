//! The core of a replica on a shared log: it follows (reads the log by seq, publishes what
//! it reads, forwards what its clients send) until it can take the lead; then it decides as
//! a single feed's core does, with the commands forwarded to it, until it finds it no longer
//! leads. Every change of role happens on the core's thread, between two groups of inputs,
//! so nothing is published twice or decided by two.

use std::collections::BTreeMap;

use tokio::sync::oneshot;

use super::{Forwarded, IntakeAnswer};
use crate::model::{Command, Event, EventKind};
use crate::protocol::{Answer, ErrorCode};
use crate::server::core::{CommandRequest, Core, CoreInput, IntakeRequest};

/// A forwarded request's answer, as the core gives it.
enum Waiting {
    Command(oneshot::Receiver<Answer>),
    Intake(oneshot::Receiver<IntakeAnswer>),
}

/// Most forwarded commands taken into one group.
const FORWARDED_PER_GROUP: i64 = 256;

/// Events a follower reads from the log at a time.
const TAIL_CHUNK: usize = 1_000;

/// A command of this replica's own clients, held while the leader's core decides it, so it
/// can go to the new leader should this one turn out to have lost the lead.
struct Held {
    actor: String,
    sees_all: bool,
    id: String,
    command: Command,
    reply: oneshot::Sender<Answer>,
    answer: oneshot::Receiver<Answer>,
}

impl Core {
    /// Handles one group of inputs on a shared log, as the leader or as a follower.
    pub(in crate::server) fn replicated(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        batch: Vec<CoreInput>,
    ) {
        if self.leading {
            self.lead_group(now, batch);
        } else {
            self.follow_group(now, batch);
        }
    }

    fn follow_group(&mut self, now: chrono::DateTime<chrono::Utc>, batch: Vec<CoreInput>) {
        let mut ticks = Vec::new();
        let mut ticked = false;
        // The log is read here unless the group only brought events read for it, which
        // continued this replica's position and were all there was.
        let mut read_log = false;
        for input in batch {
            read_log |= !matches!(input, CoreInput::Read { .. });
            match input {
                CoreInput::Read { events, more } => {
                    read_log |= more || !self.fold_read(now, events);
                }
                CoreInput::Command(req) => self.forward(req),
                CoreInput::Intake(req) => match &self.link {
                    Some(link) => link.forwarder.forward_alerts(&req.alerts, req.reply),
                    None => {
                        let _ = req.reply.send(Err(
                            "this replica has no way to the leader; nothing was recorded, retry"
                                .into(),
                        ));
                    }
                },
                // Deliveries are the leader's; the new leader delivers what was not.
                CoreInput::Record { .. } => {}
                CoreInput::Tick(done) => {
                    ticked = true;
                    ticks.extend(done);
                }
                // Forwarded requests are the leader's.
                CoreInput::Tail | CoreInput::Forwarded | CoreInput::ForwardedRow(_) => {}
            }
        }
        if read_log {
            self.tail(now);
        }
        if ticked {
            self.campaign(now);
        }
        for t in ticks {
            let _ = t.send(());
        }
    }

    /// Sends a client's command to the leader through the database.
    fn forward(&self, req: CommandRequest) {
        match &self.link {
            Some(link) => {
                link.forwarder
                    .forward(req.actor, req.sees_all, req.id, req.command, req.reply)
            }
            None => {
                let _ = req.reply.send(Answer::Error {
                    code: ErrorCode::Unavailable,
                    message: "this replica has no way to the leader; retry".into(),
                });
            }
        }
    }

    /// Folds and publishes events the notification thread read: those this replica has
    /// are skipped. Says whether the rest continued its position (if not, the log must be
    /// read from it: nothing was folded).
    fn fold_read(&mut self, now: chrono::DateTime<chrono::Utc>, events: Vec<Event>) -> bool {
        let seq = self.state.seq;
        let new: Vec<Event> = events.into_iter().filter(|e| e.seq > seq).collect();
        match new.first() {
            None => true,
            Some(first) if first.seq == seq + 1 => self.fold(now, new),
            Some(_) => false,
        }
    }

    /// Reads what the log holds after this replica's position, folds and publishes it.
    pub(in crate::server) fn tail(&mut self, now: chrono::DateTime<chrono::Utc>) {
        loop {
            let chunk = match self.store.read_since(self.state.seq, TAIL_CHUNK) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!("reading the shared log: {e}");
                    return;
                }
            };
            if chunk.is_empty() {
                return;
            }
            // A short chunk is the log's end as of the read: what is appended after it is
            // notified, and read then.
            let last = chunk.len() < TAIL_CHUNK;
            if !self.fold(now, chunk) || last {
                return;
            }
        }
    }

    /// Folds events that continue this replica's position into its live work (bringing
    /// back archived incidents they touch) and publishes them. Says whether every one
    /// folded.
    fn fold(&mut self, now: chrono::DateTime<chrono::Utc>, chunk: Vec<Event>) -> bool {
        let whole = chunk.len();
        let mut revived = BTreeMap::new();
        let mut floor = self.published.resume_floor();
        let mut events = Vec::with_capacity(chunk.len());
        for e in chunk {
            if let Some(r) = e.kind.incident()
                && !matches!(e.kind, EventKind::Declared { .. })
                && self.state.incident(r).is_none()
            {
                self.bring_back(r, &mut revived);
                if revived.contains_key(&r.0) {
                    floor = floor.max(e.seq);
                }
            }
            if let Err(err) = self.state.apply(&e) {
                tracing::error!("an event of the shared log did not fold: {err}");
                break;
            }
            events.push(e);
        }
        let folded = events.len();
        if folded == 0 {
            return false;
        }
        self.publish(events, revived, floor);
        self.evict(now);
        folded == whole
    }

    /// Tries to take the lead; on success catches up with the log, announces itself, hands
    /// the deliveries nobody made to the notifier, and runs the engine (steps that came due
    /// meanwhile fire now, marked late) with the commands waiting for a leader.
    fn campaign(&mut self, now: chrono::DateTime<chrono::Utc>) {
        let epoch = match self.store.lead() {
            Ok(Some(epoch)) => epoch,
            Ok(None) => {
                if let Some(link) = self.link.as_mut() {
                    match link.read_leader() {
                        Ok(says) => {
                            link.health.set_leader(says.leader.clone());
                            link.follow_policy(&says);
                        }
                        Err(e) => tracing::debug!("reading who leads: {e}"),
                    }
                }
                return;
            }
            Err(e) => {
                tracing::warn!("trying to take the lead: {e}");
                return;
            }
        };
        self.tail(now);
        if let Some(link) = self.link.as_mut()
            && let Err(e) = link.announce(epoch)
        {
            tracing::warn!("announcing the lead: {e}");
        }
        self.leading = true;
        if let Some(link) = self.link.as_ref() {
            // Even if announcing failed: the notifications a leader needs come to it now.
            link.health.set_leading(true);
        }
        // Commands sent to the old leader come again now, with their ids.
        self.ask_answers_until = std::time::Instant::now() + self.ask_answers_for;
        tracing::info!(
            epoch,
            seq = self.state.seq,
            "this replica leads the feed now"
        );
        for d in crate::server::notify::undelivered(&self.state, &self.rules, now) {
            let _ = self.deliveries.send(d);
        }
        self.lead_group(now, vec![CoreInput::Tick(None), CoreInput::Forwarded]);
    }

    fn lead_group(&mut self, now: chrono::DateTime<chrono::Utc>, batch: Vec<CoreInput>) {
        let ticked = batch.iter().any(|i| matches!(i, CoreInput::Tick(_)));
        if ticked && !matches!(self.store.leading(), Ok(true)) {
            self.step_down(now);
            self.follow_group(now, batch);
            return;
        }
        let wants_forwarded = ticked || batch.iter().any(|i| matches!(i, CoreInput::Forwarded));
        let mut inputs = Vec::with_capacity(batch.len());
        let mut held = Vec::new();
        // Forwarded requests: those the notifications carried, then those read.
        let mut requests = Vec::new();
        for input in batch {
            match input {
                CoreInput::ForwardedRow(f) => requests.push(f),
                CoreInput::Command(req) => {
                    let (tx, answer) = oneshot::channel();
                    held.push(Held {
                        actor: req.actor.clone(),
                        sees_all: req.sees_all,
                        id: req.id.clone(),
                        command: req.command.clone(),
                        reply: req.reply,
                        answer,
                    });
                    inputs.push(CoreInput::Command(CommandRequest { reply: tx, ..req }));
                }
                other => inputs.push(other),
            }
        }
        if wants_forwarded && let Some(link) = self.link.as_mut() {
            match link.take_forwarded(FORWARDED_PER_GROUP, ticked) {
                Ok(rows) => requests.extend(rows),
                Err(e) => tracing::warn!("reading forwarded commands: {e}"),
            }
        }
        // Oldest first, each once (a carried row may also have been read).
        requests.sort_by_key(Forwarded::row);
        requests.dedup_by_key(|f| f.row());
        let mut forwarded = Vec::new();
        for f in requests {
            match f {
                Forwarded::Command {
                    row,
                    actor,
                    sees_all,
                    id,
                    command,
                } => {
                    let (tx, answer) = oneshot::channel();
                    inputs.push(CoreInput::Command(CommandRequest {
                        actor,
                        sees_all,
                        id,
                        command,
                        reply: tx,
                    }));
                    forwarded.push((row, Waiting::Command(answer)));
                }
                Forwarded::Intake { row, alerts } => {
                    let (tx, answer) = oneshot::channel();
                    inputs.push(CoreInput::Intake(IntakeRequest { alerts, reply: tx }));
                    forwarded.push((row, Waiting::Intake(answer)));
                }
            }
        }
        self.process(now, inputs);
        if !self.leading {
            // The append found the lead gone: what this replica's clients sent goes to the
            // new leader, which answers it once; forwarded rows stay for it.
            self.step_down(now);
            for h in held {
                self.forward(CommandRequest {
                    actor: h.actor,
                    sees_all: h.sees_all,
                    id: h.id,
                    command: h.command,
                    reply: h.reply,
                });
            }
            return;
        }
        for mut h in held {
            if let Ok(a) = h.answer.try_recv() {
                let _ = h.reply.send(a);
            }
        }
        let answers: Vec<(i64, String)> = forwarded
            .into_iter()
            .filter_map(|(row, waiting)| {
                let body = match waiting {
                    Waiting::Command(mut rx) => serde_json::to_string(&rx.try_recv().ok()?),
                    Waiting::Intake(mut rx) => serde_json::to_string(&rx.try_recv().ok()?),
                };
                body.ok().map(|b| (row, b))
            })
            .collect();
        if let Some(link) = self.link.as_mut()
            && let Err(e) = link.answer_forwarded(&answers)
        {
            tracing::warn!("answering forwarded commands: {e}");
        }
    }

    /// Gives up the lead: the state goes back to what was published (durable), and the log
    /// is read from there, as a follower does.
    fn step_down(&mut self, now: chrono::DateTime<chrono::Utc>) {
        tracing::warn!(
            seq = self.state.seq,
            "this replica no longer leads the feed; following the new leader"
        );
        self.leading = false;
        if let Some(link) = self.link.as_mut() {
            link.epoch = 0;
            link.health.set_leading(false);
            link.health.set_leader(None);
        }
        self.state = self.published.read().clone();
        self.archive = Default::default();
        self.tail(now);
    }
}
