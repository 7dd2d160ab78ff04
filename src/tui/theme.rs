//! Semantic theme slots. Widgets ask for a meaning (`sev1`, `timer_overdue`, `focus`), never
//! a colour; theme files fill the slots. A theme file is a partial override over the
//! default (dark) theme, so a team can change one colour without copying the rest.

use std::collections::BTreeMap;
use std::path::Path;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

use crate::model::{EntryKind, Severity};

/// The built-in themes, embedded so the console never depends on files next to the binary.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
];

/// Every slot the console draws with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Theme {
    pub sev1: Style,
    pub sev2: Style,
    pub sev3: Style,
    pub sev4: Style,
    pub status_active: Style,
    pub status_resolved: Style,
    pub timer_ok: Style,
    pub timer_due: Style,
    pub timer_overdue: Style,
    /// A missed response target on a SEV1 or SEV2: the loudest thing on screen.
    pub timer_critical: Style,
    pub focus: Style,
    pub border: Style,
    pub muted: Style,
    pub text: Style,
    pub title: Style,
    pub selected: Style,
    pub pinned: Style,
    pub banner_error: Style,
    pub banner_info: Style,
    pub key: Style,
    pub no_ic: Style,
    pub acked: Style,
    pub unacked: Style,
    pub presence: Style,
    pub input: Style,
    pub palette: Style,
    /// Restricted (need-to-know) incidents and what is withheld from this reader.
    pub restricted: Style,
    pub kind_note: Style,
    pub kind_decision: Style,
    pub kind_action: Style,
    pub kind_hypothesis: Style,
    pub kind_ruled_out: Style,
    pub kind_status_update: Style,
    pub kind_milestone: Style,
    pub kind_system: Style,
}

/// The theme file's groups and slots, in file order: (group, slot, field accessor).
type Slot = fn(&mut Theme) -> &mut Style;
const SLOTS: &[(&str, &str, Slot)] = &[
    ("severity", "sev1", |t| &mut t.sev1),
    ("severity", "sev2", |t| &mut t.sev2),
    ("severity", "sev3", |t| &mut t.sev3),
    ("severity", "sev4", |t| &mut t.sev4),
    ("status", "active", |t| &mut t.status_active),
    ("status", "resolved", |t| &mut t.status_resolved),
    ("timer", "ok", |t| &mut t.timer_ok),
    ("timer", "due", |t| &mut t.timer_due),
    ("timer", "overdue", |t| &mut t.timer_overdue),
    ("timer", "critical", |t| &mut t.timer_critical),
    ("ui", "focus", |t| &mut t.focus),
    ("ui", "border", |t| &mut t.border),
    ("ui", "muted", |t| &mut t.muted),
    ("ui", "text", |t| &mut t.text),
    ("ui", "title", |t| &mut t.title),
    ("ui", "selected", |t| &mut t.selected),
    ("ui", "pinned", |t| &mut t.pinned),
    ("ui", "banner_error", |t| &mut t.banner_error),
    ("ui", "banner_info", |t| &mut t.banner_info),
    ("ui", "key", |t| &mut t.key),
    ("ui", "no_ic", |t| &mut t.no_ic),
    ("ui", "acked", |t| &mut t.acked),
    ("ui", "unacked", |t| &mut t.unacked),
    ("ui", "presence", |t| &mut t.presence),
    ("ui", "input", |t| &mut t.input),
    ("ui", "palette", |t| &mut t.palette),
    ("ui", "restricted", |t| &mut t.restricted),
    ("kind", "note", |t| &mut t.kind_note),
    ("kind", "decision", |t| &mut t.kind_decision),
    ("kind", "action", |t| &mut t.kind_action),
    ("kind", "hypothesis", |t| &mut t.kind_hypothesis),
    ("kind", "ruled_out", |t| &mut t.kind_ruled_out),
    ("kind", "status_update", |t| &mut t.kind_status_update),
    ("kind", "milestone", |t| &mut t.kind_milestone),
    ("kind", "system", |t| &mut t.kind_system),
];

/// One slot as written in a theme file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StyleSpec {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    bold: bool,
    #[serde(default)]
    italic: bool,
    #[serde(default)]
    underline: bool,
    #[serde(default)]
    reversed: bool,
    #[serde(default)]
    dim: bool,
}

fn color(s: &str) -> Result<Color, String> {
    s.parse::<Color>().map_err(|_| {
        format!("'{s}' is not a colour (a name like red or lightblue, #rrggbb, or 0-255)")
    })
}

impl StyleSpec {
    fn style(&self) -> Result<Style, String> {
        let mut st = Style::default();
        if let Some(fg) = &self.fg {
            st = st.fg(color(fg)?);
        }
        if let Some(bg) = &self.bg {
            st = st.bg(color(bg)?);
        }
        for (on, m) in [
            (self.bold, Modifier::BOLD),
            (self.italic, Modifier::ITALIC),
            (self.underline, Modifier::UNDERLINED),
            (self.reversed, Modifier::REVERSED),
            (self.dim, Modifier::DIM),
        ] {
            if on {
                st = st.add_modifier(m);
            }
        }
        Ok(st)
    }
}

type ThemeFile = BTreeMap<String, BTreeMap<String, toml::Value>>;

impl Theme {
    /// No colours and no modifiers: for layout tests, where colour changes must not matter.
    pub fn plain() -> Theme {
        Theme::default()
    }

    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Sev1 => self.sev1,
            Severity::Sev2 => self.sev2,
            Severity::Sev3 => self.sev3,
            Severity::Sev4 => self.sev4,
        }
    }

    pub fn entry_kind(&self, k: EntryKind) -> Style {
        match k {
            EntryKind::Note => self.kind_note,
            EntryKind::Decision => self.kind_decision,
            EntryKind::Action => self.kind_action,
            EntryKind::Hypothesis => self.kind_hypothesis,
            EntryKind::RuledOut => self.kind_ruled_out,
            EntryKind::StatusUpdate => self.kind_status_update,
            EntryKind::Milestone => self.kind_milestone,
            EntryKind::System => self.kind_system,
        }
    }

    /// The default theme (dark).
    pub fn dark() -> Theme {
        let mut t = Theme::plain();
        // The built-in file is tested to parse; if it ever did not, plain is still usable.
        let _ = t.overlay(BUILTIN[0].1);
        t
    }

    /// Applies a theme file's slots over this theme. The error names the group, the slot
    /// and what is wrong; nothing is applied from a file with an error.
    pub fn overlay(&mut self, text: &str) -> Result<(), String> {
        let file: ThemeFile =
            toml::from_str(text).map_err(|e| super::config::toml_error(text, &e))?;
        let mut next = self.clone();
        for (group, slots) in &file {
            let known: Vec<&str> = SLOTS.iter().filter(|s| s.0 == group).map(|s| s.1).collect();
            if known.is_empty() {
                return Err(format!(
                    "[{group}]: unknown group (expected severity, status, timer, ui, kind)"
                ));
            }
            for (slot, value) in slots {
                let Some((_, _, field)) = SLOTS.iter().find(|s| s.0 == group && s.1 == slot) else {
                    return Err(format!(
                        "[{group}] {slot}: unknown slot (expected {})",
                        known.join(", ")
                    ));
                };
                let spec: StyleSpec = value
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| format!("[{group}] {slot}: {}", e.message()))?;
                *field(&mut next) = spec.style().map_err(|e| format!("[{group}] {slot}: {e}"))?;
            }
        }
        *self = next;
        Ok(())
    }

    /// Keeps only modifiers: `NO_COLOR` wants no colour, but SEV1 must still stand out.
    pub fn without_color(mut self) -> Theme {
        for (_, _, field) in SLOTS {
            let st = field(&mut self);
            *st = Style::default()
                .add_modifier(st.add_modifier)
                .remove_modifier(st.sub_modifier);
        }
        self
    }
}

/// Loads the theme named by `--theme` or the config: a built-in name or a theme file. A
/// problem is returned as a warning naming the file, and the default theme stands in.
pub fn load(selection: Option<&str>, no_color: bool) -> (Theme, Vec<String>) {
    let mut warnings = Vec::new();
    let mut theme = Theme::dark();
    match selection.map(str::trim).filter(|s| !s.is_empty()) {
        None | Some("dark") => {}
        Some(name) => {
            if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name) {
                if let Err(e) = theme.overlay(text) {
                    warnings.push(format!("built-in theme {name}: {e}"));
                }
            } else {
                let path = Path::new(name);
                match std::fs::read_to_string(path) {
                    Ok(text) => {
                        if let Err(e) = theme.overlay(&text) {
                            warnings.push(format!(
                                "theme {}: {e}; using the default theme",
                                path.display()
                            ));
                        }
                    }
                    Err(e) => warnings.push(format!(
                        "theme '{name}' is not a built-in theme (dark, light, high-contrast) and \
                         cannot be read as a file ({e}); using the default theme"
                    )),
                }
            }
        }
    }
    if no_color {
        theme = theme.without_color();
    }
    (theme, warnings)
}
