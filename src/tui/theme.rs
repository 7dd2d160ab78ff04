// PROVISIONAL stand-in so the tree builds until the full module lands; replace this whole file.
use crate::model::{EntryKind, Severity};
use ratatui::style::{Color, Modifier, Style};
#[derive(Debug, Clone, Default)]
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
    pub kind_decision: Style,
    pub kind_action: Style,
    pub kind_hypothesis: Style,
    pub kind_ruled_out: Style,
    pub kind_status_update: Style,
    pub kind_milestone: Style,
    pub kind_system: Style,
    pub kind_note: Style,
    pub presence: Style,
    pub input: Style,
    pub palette: Style,
}
impl Theme {
    pub fn severity(&self, s: Severity) -> Style {
        match s {
            Severity::Sev1 => self.sev1,
            Severity::Sev2 => self.sev2,
            Severity::Sev3 => self.sev3,
            Severity::Sev4 => self.sev4,
        }
    }
    pub fn entry_kind(&self, _k: EntryKind) -> Style {
        self.kind_note
    }
    pub fn plain() -> Theme {
        Theme::default()
    }
}
pub fn load(_s: Option<&str>, _n: bool) -> (Theme, Vec<String>) {
    let mut t = Theme::default();
    t.sev1 = Style::default()
        .fg(Color::White)
        .bg(Color::Red)
        .add_modifier(Modifier::BOLD);
    t.timer_overdue = Style::default().fg(Color::Red);
    (t, vec![])
}
