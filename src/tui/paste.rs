//! Pasted text, made fit for the field it lands in. Terminals send a bracketed paste's line
//! breaks as CR, and a paste of a log can carry escape sequences and other control
//! characters: drawn raw, they move the cursor and write over the screen, and the feed
//! refuses them in an entry. Every text field of the console takes a paste through here.

use tui_textarea::TextArea;

/// How a field takes line breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// The scribe pane, post-mortem sections, the 5 whys: a line break stays one.
    Many,
    /// The palette, search and filter lines, form fields: a line break (and a tab, which
    /// the feed refuses in one-line text) becomes a space.
    One,
}

/// What a paste becomes in a field: CR, LF and CRLF are one line break each (a space in a
/// one-line field), tabs are kept where lines are, and every other control character
/// (escape, bell, NUL, DEL, the C1 range) becomes U+FFFD, visibly.
pub fn sanitize(text: &str, lines: Lines) -> String {
    let many = lines == Lines::Many;
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' | '\n' => {
                if c == '\r' && chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push(if many { '\n' } else { ' ' });
            }
            '\t' => out.push(if many { '\t' } else { ' ' }),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Why a paste is refused: the field (with what it already holds) would exceed `max`
/// characters. `holds` names what the field holds, as in "an entry holds at most 4,000".
pub fn too_long(pasted: usize, total: usize, max: usize, holds: &str) -> Option<String> {
    if total <= max {
        return None;
    }
    let onto = if total > pasted {
        format!(" onto {} already written", thousands(total - pasted))
    } else {
        String::new()
    };
    Some(format!(
        "paste too long: {} characters{onto}; {holds} at most {} · nothing was pasted, \
         what you wrote is as it was",
        thousands(pasted),
        thousands(max)
    ))
}

/// Pastes `text` into a multi- or one-line text area at its cursor, unless the result
/// would be longer than `max` characters as `measure` counts them (the scribe pane counts
/// the entry's text without its prefixes). On refusal the area is untouched.
pub fn into_area(
    area: &mut TextArea<'static>,
    text: &str,
    lines: Lines,
    max: usize,
    holds: &str,
    measure: impl Fn(&str) -> usize,
) -> Result<(), String> {
    let clean = sanitize(text, lines);
    let pasted = clean.chars().count();
    // A paste far over the limit is refused before it is copied into anything.
    if let Some(why) = too_long(pasted, pasted, max, holds) {
        return Err(why);
    }
    let mut next = area.clone();
    next.insert_str(&clean);
    let total = measure(&next.lines().join("\n"));
    if let Some(why) = too_long(pasted, total.max(pasted), max, holds) {
        return Err(why);
    }
    *area = next;
    Ok(())
}

/// Pastes `text` at the end of a one-line field held as a string (the palette, the search
/// and filter lines), unless it would then be longer than `max` characters.
pub fn onto_line(line: &mut String, text: &str, max: usize, holds: &str) -> Result<(), String> {
    let clean = sanitize(text, Lines::One);
    let pasted = clean.chars().count();
    let total = pasted.saturating_add(line.chars().count());
    if let Some(why) = too_long(pasted, total, max, holds) {
        return Err(why);
    }
    line.push_str(&clean);
    Ok(())
}

/// The trimmed length of a field's text, in characters: what the feed counts.
pub fn trimmed_len(text: &str) -> usize {
    text.trim().chars().count()
}

/// `1048576` as `1,048,576`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_breaks_tabs_and_control_characters() {
        let pasted = "one\rtwo\r\nthree\nfour\tcol\x1b[31mred\x07\u{0}\u{7f}\u{85}\u{9b}end";
        assert_eq!(
            sanitize(pasted, Lines::Many),
            "one\ntwo\nthree\nfour\tcol\u{FFFD}[31mred\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}end"
        );
        assert_eq!(
            sanitize(pasted, Lines::One),
            "one two three four col\u{FFFD}[31mred\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}end"
        );
        // Blank lines stay blank lines; a trailing CR is one break, not two.
        assert_eq!(sanitize("a\r\r\nb\r", Lines::Many), "a\n\nb\n");
        assert_eq!(sanitize("naïve ✓ 日本", Lines::One), "naïve ✓ 日本");
    }

    #[test]
    fn limits_are_named_and_nothing_changes_on_refusal() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(4000), "4,000");
        assert_eq!(thousands(1_048_576), "1,048,576");
        let mut area = TextArea::default();
        area.insert_str("draft ");
        let big = "x".repeat(1_048_576);
        let err = into_area(
            &mut area,
            &big,
            Lines::Many,
            4000,
            "an entry holds",
            trimmed_len,
        )
        .unwrap_err();
        assert!(
            err.starts_with("paste too long: 1,048,576 characters; an entry holds at most 4,000"),
            "{err}"
        );
        assert_eq!(area.lines(), ["draft "]);
        // Fits alone, not with what is already written.
        let err = into_area(
            &mut area,
            &"y".repeat(3998),
            Lines::Many,
            4000,
            "an entry holds",
            trimmed_len,
        )
        .unwrap_err();
        assert!(
            err.contains("3,998 characters onto 6 already written"),
            "{err}"
        );
        assert_eq!(area.lines(), ["draft "]);
        into_area(
            &mut area,
            "a\rb",
            Lines::Many,
            4000,
            "an entry holds",
            trimmed_len,
        )
        .unwrap();
        assert_eq!(area.lines(), ["draft a", "b"]);
        let mut line = "note ".to_string();
        onto_line(&mut line, "x\r\ny", 10, "a line holds").unwrap();
        assert_eq!(line, "note x y");
        assert!(onto_line(&mut line, "abc", 10, "a line holds").is_err());
        assert_eq!(line, "note x y");
    }
}
