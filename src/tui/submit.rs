//! A change made from a key or the palette, on its way to the feed. What cannot be taken
//! back (resolving, closing, lowering a SEV1 or SEV2) asks first, in one key
//! ([`super::screens::confirm`]); every change is said in the status line when the feed
//! answers (`INC-2 → SEV2 (was SEV1)`), the message replacing the one before, so what the
//! line says is always about the last thing done.

use super::app::{App, Effect, Mode, Unsent};
use crate::model::{Command, Incident, Severity, Status};
use crate::report::format::{clean, kind_name, role_name};

/// A change waiting for its confirmation.
#[derive(Debug, Clone)]
pub struct Pending {
    pub command: Command,
    /// How the change is named in a refusal ("resolve INC-2").
    pub what: String,
    /// The palette line it came from, given back if the feed refuses it.
    pub(crate) unsent: Option<Unsent>,
    /// The question: `Resolve INC-2 (SEV1 Checkout 500s)?`.
    pub question: String,
    /// The key's word: `resolve`, `close`, `lower`.
    pub verb: &'static str,
    /// Where the keys go once it is answered.
    pub back_to: Mode,
    /// Resolving straight from investigating or identified: the question is whether
    /// recovery was verified, `y` (verified) or `s` (skip), and the answer is sent along.
    pub verify: bool,
}

/// The verb of the question that asks whether recovery was verified.
pub(crate) const VERIFY: &str = "verify";

/// `SEV1 Checkout 500s`: an incident as a question names it.
fn named(inc: &Incident) -> String {
    format!("{} {}", inc.severity, clean(&inc.title))
}

impl App {
    /// Sends a change made from a key or the palette (`unsent`: the line to give back if
    /// it is refused), asking first when it cannot be taken back.
    pub(crate) fn submit(
        &mut self,
        command: Command,
        what: String,
        unsent: Option<Unsent>,
        fx: &mut Vec<Effect>,
    ) {
        if let Some((question, verb)) = self.needs_confirmation(&command) {
            let verify = verb == VERIFY;
            self.pending = Some(Pending {
                command,
                what,
                unsent,
                question,
                verb,
                back_to: self.mode,
                verify,
            });
            self.mode = Mode::Confirm;
            return;
        }
        self.submit_now(command, what, unsent, fx);
    }

    /// Sends it now: the message before goes, the answer will say what was done.
    pub(crate) fn submit_now(
        &mut self,
        command: Command,
        what: String,
        unsent: Option<Unsent>,
        fx: &mut Vec<Effect>,
    ) {
        let done = self.change_said(&command);
        self.flash = None;
        let id = self.send(command, what, fx);
        if let Some(text) = done {
            self.done.insert(id.clone(), text);
        }
        if let Some(u) = unsent {
            self.unsent.insert(id, u);
        }
    }

    /// The question a change asks first, and its key's word; `None`: it goes at once.
    fn needs_confirmation(&self, command: &Command) -> Option<(String, &'static str)> {
        let inc = command
            .incident()
            .and_then(|r| self.replica.state.incident(r))?;
        let r = inc.reference;
        match command {
            // Straight from investigating or identified, nobody has watched it recover
            // (seed guide: closed only after verifying metrics, errors and users).
            Command::Resolve { .. }
            | Command::SetStatus {
                status: Status::Resolved,
                ..
            } if matches!(inc.status, Status::Investigating | Status::Identified) => Some((
                format!(
                    "Resolve {r} ({}) from {}: was recovery verified?",
                    named(inc),
                    inc.status
                ),
                VERIFY,
            )),
            Command::Resolve { .. }
            | Command::SetStatus {
                status: Status::Resolved,
                ..
            } if inc.is_active() => Some((format!("Resolve {r} ({})?", named(inc)), "resolve")),
            Command::SetStatus {
                status: Status::Closed,
                ..
            } if inc.status != Status::Closed => {
                Some((format!("Close {r} ({})?", named(inc)), "close"))
            }
            Command::SetSeverity { severity, .. }
                if *severity > inc.severity
                    && matches!(inc.severity, Severity::Sev1 | Severity::Sev2) =>
            {
                Some((
                    format!("Lower {r} ({}) to {severity}?", named(inc)),
                    "lower it",
                ))
            }
            _ => None,
        }
    }

    /// What the status line says when the feed takes `command`, worded from the state
    /// before it (`INC-2 → SEV2 (was SEV1)`); `None` where the answer has words of its own.
    fn change_said(&self, command: &Command) -> Option<String> {
        let r = command.incident()?;
        let inc = self.replica.state.incident(r)?;
        let me = self.replica.me.clone().unwrap_or_else(|| "you".into());
        Some(match command {
            Command::SetSeverity { severity, .. } => {
                format!("{r} → {severity} (was {})", inc.severity)
            }
            Command::SetStatus { status, .. } if *status != Status::Closed => {
                format!("{r} → {status} (was {})", inc.status)
            }
            Command::Resolve { .. } => format!("{r} resolved (was {})", inc.status),
            Command::ResolveChecked { verified, .. } => {
                let how = if *verified {
                    "recovery verified"
                } else {
                    "without verifying recovery"
                };
                format!("{r} resolved, {how} (was {})", inc.status)
            }
            Command::SetService { service, .. } => format!(
                "{r}: service {} (was {})",
                clean(service),
                inc.service.as_deref().map_or("none".to_string(), clean)
            ),
            Command::Retitle { title, .. } => {
                format!("{r} retitled: {} (was {})", clean(title), clean(&inc.title))
            }
            Command::AssignRole { role, person, .. } => {
                let who = if person.eq_ignore_ascii_case("me") {
                    me
                } else {
                    clean(person)
                };
                let was = inc
                    .roles
                    .get(role)
                    .map(|p| format!(" (was {})", clean(p)))
                    .unwrap_or_default();
                format!("{r}: {who} is {}{was}", role_name(*role))
            }
            Command::ReleaseRole { role, .. } => {
                let was = inc
                    .roles
                    .get(role)
                    .map(|p| format!(" (was {})", clean(p)))
                    .unwrap_or_default();
                format!("{r}: {} vacant{was}", role_name(*role))
            }
            Command::PinEntry { entry, pinned, .. } => {
                let word = if *pinned { "pinned" } else { "unpinned" };
                format!("{r}: entry {entry} {word}")
            }
            Command::CorrectEntry { entry, .. } => format!("{r}: entry {entry} corrected"),
            Command::AddEntry { entry_kind, .. } => {
                format!("{r}: {} recorded", kind_name(*entry_kind))
            }
            _ => return None,
        })
    }
}
