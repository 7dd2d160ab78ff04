//! Keys → actions. The bindings are the key parts of the command table
//! ([`super::commands`]), which also makes the palette and help, so none of them drift from
//! the others; the config file's `[keys]` overrides the default keys.

use std::collections::BTreeMap;
use std::fmt;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Everything a single key can do. Names are the config file's action names; the actions
/// are declared in the order help lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Palette,
    Help,
    Open,
    Back,
    FollowNews,
    DismissNews,
    Scribe,
    Declare,
    Ack,
    TakeIc,
    HandRole,
    SeverityUp,
    SeverityDown,
    NextStatus,
    Resolve,
    Runbook,
    Pin,
    History,
    ToggleSystem,
    Filter,
    ToggleResolved,
    Handoff,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Declared last: [`Action::COUNT`] counts on it.
    Quit,
}

/// A key binding: the action, its config name, its default keys, and what it does. Each
/// is the key part of a row of the command table ([`super::commands`]).
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub action: Action,
    pub name: &'static str,
    pub defaults: &'static [&'static str],
    pub help: &'static str,
}

/// The default keymap, from the command table; the order is the order help shows.
pub const BINDINGS: &[Binding] = super::commands::BINDINGS;

impl Action {
    /// How many actions there are.
    pub const COUNT: usize = Action::Quit as usize + 1;

    pub fn binding(self) -> &'static Binding {
        BINDINGS
            .iter()
            .find(|b| b.action == self)
            .unwrap_or(&BINDINGS[0])
    }

    pub fn from_name(name: &str) -> Option<Action> {
        BINDINGS.iter().find(|b| b.name == name).map(|b| b.action)
    }
}

/// A key with its modifiers, as written in the config (`ctrl-c`, `alt-enter`, `G`, `?`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub code: KeyCodeOrd,
    pub ctrl: bool,
    pub alt: bool,
}

/// `KeyCode` restricted to what bindings use, orderable for the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyCodeOrd {
    Char(char),
    F(u8),
    Enter,
    Esc,
    Tab,
    BackTab,
    Backspace,
    Delete,
    Up,
    Down,
    Left,
    Right,
    Home,
    End,
    PageUp,
    PageDown,
}

impl Key {
    /// The key as crossterm reports it; `None` for keys no binding can name.
    pub fn from_event(ev: &KeyEvent) -> Option<Key> {
        let code = match ev.code {
            KeyCode::Char(c) => KeyCodeOrd::Char(c),
            KeyCode::F(n) => KeyCodeOrd::F(n),
            KeyCode::Enter => KeyCodeOrd::Enter,
            KeyCode::Esc => KeyCodeOrd::Esc,
            KeyCode::Tab => KeyCodeOrd::Tab,
            KeyCode::BackTab => KeyCodeOrd::BackTab,
            KeyCode::Backspace => KeyCodeOrd::Backspace,
            KeyCode::Delete => KeyCodeOrd::Delete,
            KeyCode::Up => KeyCodeOrd::Up,
            KeyCode::Down => KeyCodeOrd::Down,
            KeyCode::Left => KeyCodeOrd::Left,
            KeyCode::Right => KeyCodeOrd::Right,
            KeyCode::Home => KeyCodeOrd::Home,
            KeyCode::End => KeyCodeOrd::End,
            KeyCode::PageUp => KeyCodeOrd::PageUp,
            KeyCode::PageDown => KeyCodeOrd::PageDown,
            _ => return None,
        };
        Some(Key {
            code,
            // Shift is part of the character itself ('G', '?'), so it is not tracked.
            ctrl: ev.modifiers.contains(KeyModifiers::CONTROL),
            alt: ev.modifiers.contains(KeyModifiers::ALT),
        })
    }

    /// Parses `ctrl-c`, `alt-enter`, `f5`, `pagedown`, `G`, `?`, `space`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let mut ctrl = false;
        let mut alt = false;
        let mut rest = s;
        loop {
            let lower = rest.to_ascii_lowercase();
            if rest.len() > 1 && (lower.starts_with("ctrl-") || lower.starts_with("ctrl+")) {
                ctrl = true;
                rest = &rest[5..];
            } else if rest.len() > 1 && (lower.starts_with("alt-") || lower.starts_with("alt+")) {
                alt = true;
                rest = &rest[4..];
            } else {
                break;
            }
        }
        let mut chars = rest.chars();
        let code = match (chars.next(), chars.next()) {
            (Some(c), None) => KeyCodeOrd::Char(c),
            _ => match rest.to_ascii_lowercase().as_str() {
                "enter" | "return" => KeyCodeOrd::Enter,
                "esc" | "escape" => KeyCodeOrd::Esc,
                "tab" => KeyCodeOrd::Tab,
                "backtab" | "shift-tab" => KeyCodeOrd::BackTab,
                "backspace" => KeyCodeOrd::Backspace,
                "delete" | "del" => KeyCodeOrd::Delete,
                "up" => KeyCodeOrd::Up,
                "down" => KeyCodeOrd::Down,
                "left" => KeyCodeOrd::Left,
                "right" => KeyCodeOrd::Right,
                "home" => KeyCodeOrd::Home,
                "end" => KeyCodeOrd::End,
                "pageup" | "pgup" => KeyCodeOrd::PageUp,
                "pagedown" | "pgdn" => KeyCodeOrd::PageDown,
                "space" => KeyCodeOrd::Char(' '),
                f if f.starts_with('f')
                    && f[1..].parse::<u8>().is_ok_and(|n| (1..=12).contains(&n)) =>
                {
                    KeyCodeOrd::F(f[1..].parse().unwrap_or(1))
                }
                _ => {
                    return Err(format!(
                        "'{s}' is not a key (examples: q, G, ?, enter, esc, tab, up, pagedown, f5, ctrl-c, alt-x)"
                    ));
                }
            },
        };
        Ok(Key { code, ctrl, alt })
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.ctrl {
            f.write_str("ctrl-")?;
        }
        if self.alt {
            f.write_str("alt-")?;
        }
        match self.code {
            KeyCodeOrd::Char(' ') => f.write_str("space"),
            KeyCodeOrd::Char(c) => write!(f, "{c}"),
            KeyCodeOrd::F(n) => write!(f, "f{n}"),
            KeyCodeOrd::Enter => f.write_str("enter"),
            KeyCodeOrd::Esc => f.write_str("esc"),
            KeyCodeOrd::Tab => f.write_str("tab"),
            KeyCodeOrd::BackTab => f.write_str("shift-tab"),
            KeyCodeOrd::Backspace => f.write_str("backspace"),
            KeyCodeOrd::Delete => f.write_str("delete"),
            KeyCodeOrd::Up => f.write_str("↑"),
            KeyCodeOrd::Down => f.write_str("↓"),
            KeyCodeOrd::Left => f.write_str("←"),
            KeyCodeOrd::Right => f.write_str("→"),
            KeyCodeOrd::Home => f.write_str("home"),
            KeyCodeOrd::End => f.write_str("end"),
            KeyCodeOrd::PageUp => f.write_str("pageup"),
            KeyCodeOrd::PageDown => f.write_str("pagedown"),
        }
    }
}

/// The effective bindings: defaults with the config's overrides applied.
#[derive(Debug, Clone)]
pub struct Keymap {
    by_key: BTreeMap<Key, Action>,
    by_action: BTreeMap<Action, Vec<Key>>,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::with_overrides(&BTreeMap::new()).0
    }
}

impl Keymap {
    /// Applies `[keys]` overrides (action name → keys). Returns the keymap and a warning for
    /// every entry that could not be used; those entries keep their defaults.
    pub fn with_overrides(overrides: &BTreeMap<String, Vec<String>>) -> (Keymap, Vec<String>) {
        let mut warnings = Vec::new();
        let mut by_action: BTreeMap<Action, Vec<Key>> = BTreeMap::new();
        for b in BINDINGS {
            let keys = b
                .defaults
                .iter()
                .filter_map(|k| Key::parse(k).ok())
                .collect();
            by_action.insert(b.action, keys);
        }
        for (name, keys) in overrides {
            let Some(action) = Action::from_name(name) else {
                let names: Vec<&str> = BINDINGS.iter().map(|b| b.name).collect();
                warnings.push(format!(
                    "[keys] {name}: unknown action (expected one of: {})",
                    names.join(", ")
                ));
                continue;
            };
            let parsed: Result<Vec<Key>, String> = keys.iter().map(|k| Key::parse(k)).collect();
            match parsed {
                Ok(ks) if !ks.is_empty() => {
                    // A key given to this action is taken from any default that had it.
                    for other in by_action.values_mut() {
                        other.retain(|k| !ks.contains(k));
                    }
                    by_action.insert(action, ks);
                }
                Ok(_) => warnings.push(format!("[keys] {name}: no keys given; default kept")),
                Err(e) => warnings.push(format!("[keys] {name}: {e}; default kept")),
            }
        }
        let mut by_key = BTreeMap::new();
        for (action, keys) in &by_action {
            for k in keys {
                by_key.insert(*k, *action);
            }
        }
        (Keymap { by_key, by_action }, warnings)
    }

    pub fn action(&self, ev: &KeyEvent) -> Option<Action> {
        Key::from_event(ev).and_then(|k| self.by_key.get(&k).copied())
    }

    /// The keys bound to `action`, for help and hints ("a", "↑ k").
    pub fn keys(&self, action: Action) -> String {
        self.by_action
            .get(&action)
            .map(|ks| ks.iter().map(Key::to_string).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    }

    /// Help rows: keys, description, in table order.
    pub fn help_rows(&self) -> Vec<(String, &'static str)> {
        BINDINGS
            .iter()
            .map(|b| (self.keys(b.action), b.help))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn defaults_and_overrides() {
        let km = Keymap::default();
        assert_eq!(
            km.action(&ev(KeyCode::Char('a'), KeyModifiers::NONE)),
            Some(Action::Ack)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('G'), KeyModifiers::SHIFT)),
            Some(Action::Bottom)
        );
        assert_eq!(
            km.action(&ev(KeyCode::Char('?'), KeyModifiers::SHIFT)),
            Some(Action::Help)
        );
        let mut o = BTreeMap::new();
        o.insert("ack".to_string(), vec!["ctrl-a".to_string()]);
        o.insert(
            "quit".to_string(),
            vec!["x".to_string(), "ctrl-q".to_string()],
        );
        o.insert("launch".to_string(), vec!["l".to_string()]);
        o.insert("pin".to_string(), vec!["ctrl-shift-hyper".to_string()]);
        let (km, warnings) = Keymap::with_overrides(&o);
        assert_eq!(
            km.action(&ev(KeyCode::Char('a'), KeyModifiers::CONTROL)),
            Some(Action::Ack)
        );
        assert_eq!(km.action(&ev(KeyCode::Char('a'), KeyModifiers::NONE)), None);
        assert_eq!(
            km.action(&ev(KeyCode::Char('x'), KeyModifiers::NONE)),
            Some(Action::Quit)
        );
        assert_eq!(km.keys(Action::Quit), "x ctrl-q");
        assert_eq!(
            km.action(&ev(KeyCode::Char('p'), KeyModifiers::NONE)),
            Some(Action::Pin)
        );
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].contains("launch: unknown action"));
        assert!(warnings[1].contains("pin: 'ctrl-shift-hyper' is not a key"));
    }

    #[test]
    fn every_binding_parses_and_help_lists_all() {
        for b in BINDINGS {
            for k in b.defaults {
                Key::parse(k).unwrap();
            }
        }
        assert_eq!(Keymap::default().help_rows().len(), BINDINGS.len());
    }
}
