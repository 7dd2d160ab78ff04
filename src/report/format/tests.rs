//! Pins what each formatter prints. Where the console has its own copy today (`ui::clean`,
//! `ui::wrap`, `ui::fmt_age`, `timeline::wrap_plain`, `palette::kind_label`, the room
//! header's role names, the board's withheld line), the expected strings are what that
//! copy prints, so switching the console over cannot change the screen.

use chrono::TimeZone;

use super::*;

fn at(d: u32, h: u32, m: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, m, s).unwrap()
}

#[test]
fn age_reads_like_the_board() {
    // ui::fmt_age
    let cases = [
        (-5, "0s"),
        (0, "0s"),
        (42, "42s"),
        (59, "59s"),
        (60, "1m00s"),
        (79, "1m19s"),
        (845, "14m05s"),
        (3599, "59m59s"),
        (3600, "1h00m"),
        (11_040, "3h04m"),
        (86_399, "23h59m"),
        (86_400, "1d00h"),
        (183_600, "2d03h"),
        (40 * 86_400, "40d00h"),
    ];
    for (secs, want) in cases {
        assert_eq!(age(secs), want, "{secs}");
    }
}

#[test]
fn countdown_reads_like_a_clock() {
    // ui::span_secs over model::escalation::clock_span
    let cases = [
        (0, "0:00"),
        (23, "0:23"),
        (79, "1:19"),
        (252, "4:12"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3723, "1:02:03"),
        (90_000, "25:00:00"),
        (-79, "1:19"),
    ];
    for (secs, want) in cases {
        assert_eq!(countdown(secs), want, "{secs}");
    }
}

#[test]
fn span_is_coarse() {
    let cases = [
        (0, "0s"),
        (42, "42s"),
        (-42, "42s"),
        (60, "1m"),
        (899, "14m"),
        (3600, "1h00m"),
        (11_100, "3h05m"),
        (86_400, "1d00h"),
        (187_200, "2d04h"),
    ];
    for (secs, want) in cases {
        assert_eq!(span(secs), want, "{secs}");
    }
}

#[test]
fn table_clock_lines_up() {
    let cases = [
        (None, "-"),
        (Some(-3), "00:00"),
        (Some(0), "00:00"),
        (Some(23), "00:23"),
        (Some(252), "04:12"),
        (Some(3599), "59:59"),
        (Some(3723), "1:02:03"),
        (Some(90_000), "25:00:00"),
    ];
    for (secs, want) in cases {
        assert_eq!(table_clock(secs), want, "{secs:?}");
    }
}

#[test]
fn human_duration_is_written_out() {
    let cases = [
        (0, "0s"),
        (42, "42s"),
        (845, "14m 05s"),
        (4320, "1h 12m"),
        (183_840, "2d 3h 04m"),
        (-5, "-5s"),
        (-845, "-14m 05s"),
    ];
    for (secs, want) in cases {
        assert_eq!(human_duration(secs), want, "{secs}");
    }
}

#[test]
fn times() {
    let now = at(9, 14, 30, 0);
    assert_eq!(utc_stamp(at(9, 14, 5, 59)), "2026-03-09 14:05 UTC");
    assert_eq!(when(at(9, 14, 5, 0), now), "14:05 UTC");
    assert_eq!(when(at(8, 14, 5, 0), now), "2026-03-08 14:05 UTC");
    assert_eq!(relative(now, now), "now");
    assert_eq!(relative(at(9, 14, 42, 0), now), "in 12m");
    assert_eq!(relative(at(9, 14, 18, 0), now), "12m ago");
    assert_eq!(relative(at(12, 15, 0, 0), now), "in 3d00h");
    assert_eq!(log_time(at(14, 2, 14, 5), true), "02:14:05");
    assert_eq!(log_time(at(14, 2, 14, 5), false), "2026-03-14 02:14:05");
}

#[test]
fn clean_makes_network_text_inert() {
    // ui::clean
    let cases = [
        ("plain text", "plain text"),
        ("  kept  ", "  kept  "),
        ("a\nb", "a ⏎ b"),
        ("a\r\nb", "a\u{FFFD} ⏎ b"),
        ("a\tb", "a b"),
        ("\x1b[31mred\x07", "\u{FFFD}[31mred\u{FFFD}"),
        ("\u{9b}2J", "\u{FFFD}2J"),
        ("abc\u{202E}def", "abc\u{FFFD}def"),
        (
            "\u{2066}x\u{2069}\u{200E}\u{200F}",
            "\u{FFFD}x\u{FFFD}\u{FFFD}\u{FFFD}",
        ),
        ("héllo ünïcode ★", "héllo ünïcode ★"),
        ("", ""),
    ];
    for (s, want) in cases {
        assert_eq!(clean(s), want, "{s:?}");
    }
}

#[test]
fn one_line_trims_and_drops_carriage_returns() {
    // What handoff::one_line printed.
    let cases = [
        ("  bob  ", "bob"),
        ("a\r\nb", "a ⏎ b"),
        ("a\rb", "ab"),
        ("\n lead\n", "lead"),
        ("x\x1b[2Jy\u{202E}", "x\u{FFFD}[2Jy\u{FFFD}"),
        ("a\tb", "a b"),
    ];
    for (s, want) in cases {
        assert_eq!(one_line(s), want, "{s:?}");
    }
}

#[test]
fn wrap_flows_words_and_cuts_long_ones() {
    // ui::wrap
    let w = |s: &str, n: usize| wrap(s, n);
    assert_eq!(w("", 10), [""]);
    assert_eq!(w("   ", 10), [""]);
    assert_eq!(w("the quick brown fox", 10), ["the quick", "brown fox"]);
    assert_eq!(w("the  quick   brown", 80), ["the quick brown"]);
    assert_eq!(w("abcdefghijklmnop", 5), ["abcde", "fghij", "klmno", "p"]);
    assert_eq!(w("ab abcdefghij cd", 5), ["ab", "abcde", "fghij", "cd"]);
    assert_eq!(w("ab abcdefgh cd", 5), ["ab", "abcde", "fgh", "cd"]);
    assert_eq!(w("exactly five", 5), ["exact", "ly", "five"]);
    assert_eq!(w("a b c", 0), ["a", "b", "c"]);
    assert_eq!(w("ünï cödé", 3), ["ünï", "cöd", "é"]);
    assert_eq!(w(" lead trail ", 20), ["lead trail"]);
}

#[test]
fn wrap_as_typed_keeps_the_spaces() {
    // timeline::wrap_plain
    let w = |s: &str, n: usize| wrap_as_typed(s, n);
    assert_eq!(w("", 10), [""]);
    assert_eq!(w("the quick brown fox", 10), ["the quick", "brown fox"]);
    assert_eq!(w("the  quick   brown", 80), ["the  quick   brown"]);
    assert_eq!(w("  lead", 80), ["lead"]);
    assert_eq!(w("trail  ", 80), ["trail  "]);
    assert_eq!(
        w("abcdefghijklmnopqrst", 8),
        ["abcdefgh", "ijklmnop", "qrst"]
    );
    assert_eq!(w("ab abcdefghij cd", 8), ["ab", "abcdefgh", "ij cd"]);
    // Never narrower than 8.
    assert_eq!(w("one two three", 2), ["one two", "three"]);
    assert_eq!(w("abcdefgh  x", 8), ["abcdefgh", "x"]);
    assert_eq!(w("abcdefg  x", 8), ["abcdefg ", "x"]);
}

#[test]
fn kind_and_role_names() {
    let long: Vec<String> = EntryKind::ALL.iter().map(|&k| kind_name(k)).collect();
    assert_eq!(
        long,
        [
            "note",
            "decision",
            "action",
            "hypothesis",
            "ruled out",
            "status update",
            "milestone",
            "system"
        ]
    );
    // palette::kind_label
    let short: Vec<&str> = EntryKind::ALL.iter().map(|&k| kind_label(k)).collect();
    assert_eq!(
        short,
        [
            "note",
            "decision",
            "action",
            "hypothesis",
            "ruled out",
            "update",
            "milestone",
            "system"
        ]
    );
    let names: Vec<String> = Role::ALL.iter().map(|&r| role_name(r)).collect();
    assert_eq!(
        names,
        ["incident commander", "tech lead", "comms lead", "scribe"]
    );
    // The room header's names (ui.rs, render_room).
    let short: Vec<&str> = Role::ALL.iter().map(|&r| role_short(r)).collect();
    assert_eq!(short, ["IC", "Tech", "Comms", "Scribe"]);
}

#[test]
fn withheld_incidents_by_reference_only() {
    let refs: Vec<IncidentRef> = [3, 7, 9, 12, 15].map(IncidentRef).to_vec();
    assert_eq!(withheld_line(&[]), None);
    assert_eq!(
        withheld_line(&refs[..1]).as_deref(),
        Some("1 restricted incident you are not a member of: INC-3")
    );
    assert_eq!(
        withheld_line(&refs[..2]).as_deref(),
        Some("2 restricted incidents you are not a member of: INC-3, INC-7")
    );
    // The board's shortened forms (ui::withheld_line's `what` and `list`).
    assert_eq!(restricted_count(1), "1 restricted incident");
    assert_eq!(restricted_count(5), "5 restricted incidents");
    assert_eq!(ref_list(&refs, 5), "INC-3, INC-7, INC-9, INC-12, INC-15");
    assert_eq!(ref_list(&refs, 8), "INC-3, INC-7, INC-9, INC-12, INC-15");
    assert_eq!(ref_list(&refs, 2), "INC-3, INC-7, +3 more");
    assert_eq!(ref_list(&refs, 4), "INC-3, INC-7, INC-9, INC-12, +1 more");
}
