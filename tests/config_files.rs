//! The console's config surface: every shipped theme and the default config parse, and every
//! kind of mistake in a config or theme file gets a message naming the file and the problem,
//! with defaults standing in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier};
use warroom::tui::config::{self, Config};
use warroom::tui::keymap::Keymap;
use warroom::tui::theme::{self, Theme};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn every_shipped_theme_parses() {
    let mut seen = 0;
    for entry in std::fs::read_dir(root().join("themes")).unwrap() {
        let path = entry.unwrap().path();
        let (t, warnings) = theme::load(Some(path.to_str().unwrap()), false);
        assert!(warnings.is_empty(), "{}: {warnings:?}", path.display());
        assert_ne!(t, Theme::plain(), "{} sets slots", path.display());
        seen += 1;
    }
    assert!(seen >= 3);
    for name in ["dark", "light", "high-contrast"] {
        let (t, warnings) = theme::load(Some(name), false);
        assert!(warnings.is_empty(), "{name}: {warnings:?}");
        assert!(
            t.sev1.add_modifier.contains(Modifier::BOLD),
            "{name}: SEV1 is loud"
        );
    }
    // The built-ins are complete: each sets every slot the dark theme sets.
    let text = std::fs::read_to_string(root().join("themes/dark.toml")).unwrap();
    let slots = text.lines().filter(|l| l.contains(" = {")).count();
    for name in ["light.toml", "high-contrast.toml"] {
        let t = std::fs::read_to_string(root().join("themes").join(name)).unwrap();
        assert_eq!(
            t.lines().filter(|l| l.contains(" = {")).count(),
            slots,
            "{name}"
        );
    }
}

#[test]
fn the_default_config_parses_to_the_defaults() {
    let c = config::parse(config::DEFAULT_CONFIG).unwrap();
    assert_eq!(c, Config::default());
    // Every action in the keymap is shown in it, with its default keys.
    for b in warroom::tui::keymap::BINDINGS {
        assert!(
            config::DEFAULT_CONFIG.contains(&format!("# {} = ", b.name)),
            "{} missing",
            b.name
        );
    }
    // Uncommenting the examples gives the default bindings back.
    let keys_section = &config::DEFAULT_CONFIG[config::DEFAULT_CONFIG.find("[keys]").unwrap()..];
    let uncommented: String = keys_section
        .lines()
        .map(|l| {
            l.strip_prefix("# ")
                .filter(|r| r.split(' ').nth(1) == Some("="))
                .unwrap_or(l)
        })
        .collect::<Vec<_>>()
        .join("\n");
    let c = config::parse(&uncommented).unwrap();
    let (_, warnings) = Keymap::with_overrides(&c.keys);
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.keys.len(), warroom::tui::keymap::BINDINGS.len());
}

#[test]
fn a_missing_config_file_means_defaults_and_no_warning() {
    let (c, w) = config::load(Some(Path::new("/nonexistent/warroom/config.toml")));
    assert_eq!((c, w), (Config::default(), vec![]));
}

#[test]
fn a_partial_theme_overrides_only_what_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mine.toml");
    std::fs::write(&path, "[severity]\nsev2 = { fg = \"blue\" }\n").unwrap();
    let (t, w) = theme::load(Some(path.to_str().unwrap()), false);
    assert!(w.is_empty(), "{w:?}");
    let dark = Theme::dark();
    assert_eq!(t.sev2.fg, Some(Color::Blue));
    assert_eq!(t.sev1, dark.sev1);
    assert_eq!(t.timer_overdue, dark.timer_overdue);
}

#[test]
fn no_color_keeps_emphasis_but_no_colour() {
    let (t, _) = theme::load(None, true);
    let slots = [
        t.sev1,
        t.sev2,
        t.timer_overdue,
        t.no_ic,
        t.focus,
        t.banner_error,
        t.selected,
    ];
    for s in slots {
        assert_eq!((s.fg, s.bg), (None, None), "{s:?}");
    }
    assert!(t.sev1.add_modifier.contains(Modifier::BOLD));
    assert!(t.timer_overdue.add_modifier.contains(Modifier::REVERSED));
}

/// fixture file → what the warning must say.
const CASES: &[(&str, &str)] = &[
    ("config-unknown-key.toml", "unknown field `colour`"),
    (
        "config-wrong-type.toml",
        "invalid type: integer `5`, expected a string",
    ),
    ("config-syntax.toml", "line 1: invalid basic string"),
    (
        "config-key-wrong-type.toml",
        "data did not match any variant",
    ),
    (
        "config-bad-key.toml",
        "ack: 'ctrl-shift-hyper' is not a key",
    ),
    (
        "config-unknown-action.toml",
        "launch: unknown action (expected one of: palette, help",
    ),
    (
        "theme-unknown-slot.toml",
        "[timer] overdu: unknown slot (expected ok, due, overdue, critical)",
    ),
    (
        "theme-unknown-group.toml",
        "[colours]: unknown group (expected severity, status, timer, ui, kind)",
    ),
    (
        "theme-bad-colour.toml",
        "[severity] sev1: 'reddish' is not a colour",
    ),
    (
        "theme-unknown-field.toml",
        "[severity] sev1: unknown field `fgcolor`",
    ),
    ("theme-syntax.toml", "line 1: "),
    (
        "theme-wrong-type.toml",
        "[severity] sev1: invalid type: string \"red\"",
    ),
];

#[test]
fn every_mistake_names_the_file_and_the_problem_and_defaults_stand_in() {
    let dir = root().join("tests/invalid_configs");
    let mut fixtures: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // Policy files are `warroom policy check`'s (tests/policy.rs).
        .filter(|f| !f.starts_with("policy-"))
        .collect();
    fixtures.sort();
    let mut listed: Vec<String> = CASES.iter().map(|(f, _)| f.to_string()).collect();
    listed.sort();
    assert_eq!(fixtures, listed, "every fixture has an expected message");

    for (file, expected) in CASES {
        let path = dir.join(file);
        let shown = path.display().to_string();
        let warnings = if file.starts_with("theme-") {
            let (t, w) = theme::load(Some(&shown), false);
            assert_eq!(t, Theme::dark(), "{file}: the default theme stands in");
            w
        } else {
            let (c, mut w) = config::load(Some(&path));
            if w.is_empty() {
                // The file parsed; its key bindings are checked by the keymap, which the
                // console reports with the file's name.
                let (km, kw) = Keymap::with_overrides(&c.keys);
                assert_eq!(
                    km.keys(warroom::tui::keymap::Action::Ack),
                    "a",
                    "{file}: defaults kept"
                );
                w = kw.into_iter().map(|x| format!("{shown}: {x}")).collect();
            } else {
                assert_eq!(c, Config::default(), "{file}: defaults stand in");
            }
            w
        };
        assert_eq!(warnings.len(), 1, "{file}: {warnings:?}");
        let w = &warnings[0];
        assert!(
            w.contains(&shown),
            "{file}: the warning names the file: {w}"
        );
        assert!(w.contains(expected), "{file}: '{w}' lacks '{expected}'");
    }
}

#[test]
fn keys_accept_one_or_many() {
    let c = config::parse("[keys]\nack = \"ctrl-a\"\nquit = [\"x\", \"ctrl-q\"]\n").unwrap();
    let mut want = BTreeMap::new();
    want.insert("ack".to_string(), vec!["ctrl-a".to_string()]);
    want.insert(
        "quit".to_string(),
        vec!["x".to_string(), "ctrl-q".to_string()],
    );
    assert_eq!(c.keys, want);
}

#[test]
fn the_configs_server_is_one_address_or_the_feeds_replicas() {
    let one = config::parse("server = \"ws://127.0.0.1:7654\"\n").unwrap();
    assert_eq!(one.server.as_deref(), Some("ws://127.0.0.1:7654"));
    let many = config::parse("server = [\"127.0.0.1:7001\", \"127.0.0.1:7002\"]\n").unwrap();
    assert_eq!(
        many.server.as_deref(),
        Some("127.0.0.1:7001,127.0.0.1:7002")
    );
    assert_eq!(
        warroom::client::feed_urls(many.server.as_deref().unwrap()).unwrap(),
        ["ws://127.0.0.1:7001/feed", "ws://127.0.0.1:7002/feed"]
    );
    let bad = config::parse("server = 7\n").unwrap_err();
    assert!(bad.contains("server"), "{bad}");
}
