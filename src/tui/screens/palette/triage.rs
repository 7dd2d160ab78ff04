//! `:triage`: the triage answers as words, in any order, each optional but at least one —
//! who found it (`monitoring`, `customer`, `engineer`), whether the impact grows (`growing`,
//! `stable`), whether a workaround exists (`workaround`, `no-workaround`). Its parser and
//! its completion.

use super::complete::Known;
use super::parse::Args;
use crate::model::{Command, Detection};
use crate::tui::commands::Intent;

/// Every word `:triage` takes, in the order completion offers them.
pub const WORDS: [&str; 7] = [
    "monitoring",
    "customer",
    "engineer",
    "growing",
    "stable",
    "workaround",
    "no-workaround",
];

/// One answer a word gives.
enum Answer {
    Detected(Detection),
    Growing(bool),
    Workaround(bool),
}

fn answer(word: &str) -> Option<Answer> {
    Some(match word.to_ascii_lowercase().as_str() {
        "monitoring" => Answer::Detected(Detection::Monitoring),
        "customer" => Answer::Detected(Detection::Customer),
        "engineer" => Answer::Detected(Detection::Engineer),
        "growing" => Answer::Growing(true),
        "stable" => Answer::Growing(false),
        "workaround" => Answer::Workaround(true),
        "no-workaround" | "noworkaround" => Answer::Workaround(false),
        _ => return None,
    })
}

/// Keeps the first answer to a question; a second, different one is refused by name.
fn once<T: PartialEq + Copy>(
    slot: &mut Option<(T, String)>,
    value: T,
    word: &str,
) -> Result<(), String> {
    match slot {
        Some((v, first)) if *v != value => Err(format!(
            "'{first}' and '{word}' answer the same question: give one"
        )),
        _ => {
            *slot = Some((value, word.to_string()));
            Ok(())
        }
    }
}

pub fn parse(a: &Args) -> Result<Intent, String> {
    if a.rest.is_empty() {
        return Err(format!(
            "usage: :triage [monitoring|customer|engineer] [growing|stable] \
             [workaround|no-workaround] — give at least one ({})",
            WORDS.join(", ")
        ));
    }
    let (mut detected, mut growing, mut workaround) = (None, None, None);
    for word in a.rest.split_whitespace() {
        match answer(word) {
            Some(Answer::Detected(d)) => once(&mut detected, d, word)?,
            Some(Answer::Growing(g)) => once(&mut growing, g, word)?,
            Some(Answer::Workaround(w)) => once(&mut workaround, w, word)?,
            None => {
                return Err(format!(
                    "'{word}' is not a triage answer: say {}",
                    WORDS.join(", ")
                ));
            }
        }
    }
    Ok(Intent::Send(Command::Triage {
        incident: a.incident()?,
        detected_by: detected.map(|(d, _)| d),
        impact_growing: growing.map(|(g, _)| g),
        workaround: workaround.map(|(w, _)| w),
    }))
}

/// The words not answered yet on the line (a question answered is not offered again).
pub fn complete(arg: &str, _known: &Known) -> Vec<String> {
    let given: Vec<Answer> = arg.split(' ').rev().skip(1).filter_map(answer).collect();
    let taken = |w: &str| match answer(w) {
        Some(Answer::Detected(_)) => given.iter().any(|g| matches!(g, Answer::Detected(_))),
        Some(Answer::Growing(_)) => given.iter().any(|g| matches!(g, Answer::Growing(_))),
        Some(Answer::Workaround(_)) => given.iter().any(|g| matches!(g, Answer::Workaround(_))),
        None => true,
    };
    WORDS
        .iter()
        .filter(|w| !taken(w))
        .map(|w| w.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::super::complete::complete;
    use super::super::parse::{Context, parse};
    use crate::model::{Command, Detection, IncidentRef};
    use crate::tui::commands::Intent;

    fn ctx(incident: Option<u32>) -> Context {
        Context {
            incident: incident.map(IncidentRef),
            entry: None,
            now: Utc.with_ymd_and_hms(2026, 3, 10, 2, 10, 0).unwrap(),
            tz: chrono::FixedOffset::east_opt(0).unwrap().into(),
        }
    }

    fn triage(d: Option<Detection>, g: Option<bool>, w: Option<bool>) -> Intent {
        Intent::Send(Command::Triage {
            incident: IncidentRef(2),
            detected_by: d,
            impact_growing: g,
            workaround: w,
        })
    }

    #[test]
    fn words_in_any_order_each_optional() {
        let c = ctx(Some(2));
        let all = triage(Some(Detection::Customer), Some(true), Some(true));
        assert_eq!(
            parse(":triage customer growing workaround", &c),
            Ok(all.clone())
        );
        assert_eq!(parse(":triage workaround customer growing", &c), Ok(all));
        assert_eq!(
            parse(":triage monitoring stable no-workaround", &c),
            Ok(triage(
                Some(Detection::Monitoring),
                Some(false),
                Some(false)
            ))
        );
        assert_eq!(parse(":tr Stable", &c), Ok(triage(None, Some(false), None)));
        assert_eq!(
            parse(":triage engineer", &c),
            Ok(triage(Some(Detection::Engineer), None, None))
        );
        // Named first, another incident.
        assert_eq!(
            parse(":triage INC-5 no-workaround", &c),
            Ok(Intent::Send(Command::Triage {
                incident: IncidentRef(5),
                detected_by: None,
                impact_growing: None,
                workaround: Some(false),
            }))
        );
        // `t` stays `:take`.
        assert!(matches!(
            parse(":t", &c),
            Ok(Intent::Send(Command::AssignRole { .. }))
        ));
    }

    #[test]
    fn refusals_name_what_is_wrong() {
        let c = ctx(Some(2));
        let e = parse(":triage customer sideways", &c).unwrap_err();
        assert!(e.contains("'sideways' is not a triage answer"), "{e}");
        assert!(e.contains("no-workaround"), "{e}");
        let e = parse(":triage", &c).unwrap_err();
        assert!(e.contains("give at least one"), "{e}");
        let e = parse(":triage growing stable", &c).unwrap_err();
        assert!(e.contains("'growing' and 'stable'"), "{e}");
        let e = parse(":triage customer engineer", &c).unwrap_err();
        assert!(e.contains("'customer' and 'engineer'"), "{e}");
        let e = parse(":triage growing", &ctx(None)).unwrap_err();
        assert!(e.contains("open an incident first"), "{e}");
    }

    #[test]
    fn tab_completes_the_words_not_answered_yet() {
        assert_eq!(
            complete(":triage ", &[]),
            [
                "triage monitoring",
                "triage customer",
                "triage engineer",
                "triage growing",
                "triage stable",
                "triage workaround",
                "triage no-workaround"
            ]
        );
        assert_eq!(complete(":triage cu", &[]), ["triage customer"]);
        assert_eq!(
            complete(":triage customer ", &[]),
            [
                "triage customer growing",
                "triage customer stable",
                "triage customer workaround",
                "triage customer no-workaround"
            ]
        );
        assert_eq!(
            complete(":triage stable customer n", &[]),
            ["triage stable customer no-workaround"]
        );
        assert_eq!(complete(":tri", &[]), ["triage "]);
    }
}
