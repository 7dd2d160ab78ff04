//! The command table's vocabulary: a row (a key, a palette command, or both), how a key
//! press acts, and the short constructors the table is written with.

use crate::tui::actions::Intent;
use crate::tui::keymap::{Action, Binding};
use crate::tui::screens::palette::complete as options;
use crate::tui::screens::palette::parse::Args;

/// A palette command: name, usage, what it does, and how its line is read and completed.
#[derive(Clone, Copy)]
pub struct PaletteEntry {
    pub name: &'static str,
    pub usage: &'static str,
    pub help: &'static str,
    /// The shortest prefix it answers to. Commands added after people learnt the short
    /// forms of older ones answer only to a longer prefix, so `:res` stays `resolve`, `:me`
    /// stays `metrics`, `:h` is help and `:ac` is ack (the commands a responder types
    /// most, under pressure).
    pub shortest: usize,
    /// Whether an incident may be named first (`:ack INC-3`).
    pub names_incident: bool,
    /// Reads the arguments.
    pub parse: fn(&Args<'_>) -> Result<Intent, String>,
    /// The options for the argument being typed (`arg` is everything after the name).
    pub complete: fn(arg: &str, known: &options::Known) -> Vec<String>,
}

/// How a key press acts.
#[derive(Clone, Copy)]
pub enum Press {
    /// Runs the row's palette command with no arguments on the incident in view (`a` is
    /// `:ack`). Without one the command cannot run: `Some(why)` says so, `None` does
    /// nothing.
    Command { no_incident: Option<&'static str> },
    /// Opens the palette with the command's name typed (`n` types `:declare `).
    Prefill,
    /// Something only a key does (its code is in [`crate::tui::actions`]).
    Own,
}

/// One row of the table: a key, a palette command, or both.
#[derive(Clone, Copy)]
pub struct Row {
    pub key: Option<Binding>,
    /// How the key acts (for a row with a key).
    pub press: Press,
    pub palette: Option<PaletteEntry>,
}

/// A palette command with no key.
pub(super) const fn palette(entry: PaletteEntry) -> Row {
    Row {
        key: None,
        press: Press::Own,
        palette: Some(entry),
    }
}

/// A key with no palette command.
pub(super) const fn key(binding: Binding) -> Row {
    Row {
        key: Some(binding),
        press: Press::Own,
        palette: None,
    }
}

/// A palette command and the key that does it too.
pub(super) const fn both(binding: Binding, press: Press, entry: PaletteEntry) -> Row {
    Row {
        key: Some(binding),
        press,
        palette: Some(entry),
    }
}

pub(super) const fn bind(
    action: Action,
    name: &'static str,
    defaults: &'static [&'static str],
    help: &'static str,
) -> Binding {
    Binding {
        action,
        name,
        defaults,
        help,
    }
}

/// A palette command that may name its incident first, answers to any prefix and
/// completes nothing; `with_*` change that.
pub(super) const fn cmd(
    name: &'static str,
    usage: &'static str,
    help: &'static str,
    parse: fn(&Args<'_>) -> Result<Intent, String>,
) -> PaletteEntry {
    PaletteEntry {
        name,
        usage,
        help,
        shortest: 1,
        names_incident: true,
        parse,
        complete: options::nothing,
    }
}

impl PaletteEntry {
    pub(super) const fn completing(
        mut self,
        complete: fn(&str, &options::Known) -> Vec<String>,
    ) -> Self {
        self.complete = complete;
        self
    }

    pub(super) const fn shortest(mut self, len: usize) -> Self {
        self.shortest = len;
        self
    }

    /// The arguments start at once: no incident is named first (`:declare`, `:open`).
    pub(super) const fn no_incident_first(mut self) -> Self {
        self.names_incident = false;
        self
    }
}

pub(super) const RUN: Press = Press::Command { no_incident: None };
