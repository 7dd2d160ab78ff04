//! The status update form for stakeholders (issue 17): `ctrl-p` marks an update public; on
//! a SEV1 the executive briefing's three fields are there and required, the form saying
//! which is missing without losing anything typed.

use super::*;
use warroom::model::Briefing;

#[test]
fn a_sev1_update_asks_for_the_briefing_and_may_be_public() {
    let mut h = History::new();
    h.declare("priya", "Checkout returns 500s", 1, "payments");
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    let r = IncidentRef(1);
    palette(&mut app, "update");
    assert_eq!(app.mode, Mode::UpdateForm);
    assert_on(
        &screen(&app, 120, 44),
        &[
            "Briefing · business impact",
            "Briefing · ETA to resolution",
            "Briefing · commitments at risk",
            "to the stakeholders (ctrl-p: public)",
            "ctrl-p public",
        ],
    );
    typed(&mut app, "Checkout fails for some customers");
    app.update(ctrl('p'));
    assert_on(
        &screen(&app, 120, 44),
        &["PUBLIC: stakeholders and the status page"],
    );
    // Posting without the briefing: nothing is sent, the form stays with the first
    // missing part focused, and says what it needs.
    let fx = app.update(ctrl('s'));
    assert!(sent(&fx).is_empty());
    assert_eq!(app.mode, Mode::UpdateForm);
    let form = |app: &App| app.room(r).unwrap().update.clone().unwrap();
    assert_eq!(form(&app).focus, 4);
    assert_on(
        &screen(&app, 120, 44),
        &["a SEV1 update carries the briefing: give the business impact"],
    );
    typed(&mut app, "15% of card payments fail");
    app.update(code(KeyCode::Enter));
    typed(&mut app, "about 40 minutes");
    let fx = app.update(code(KeyCode::Enter));
    assert!(sent(&fx).is_empty(), "enter moves on to the last field");
    assert_eq!(form(&app).focus, 6);
    app.update(code(KeyCode::Tab));
    assert_eq!(form(&app).focus, 0, "tab wraps over all seven fields");
    app.update(code(KeyCode::BackTab));
    typed(&mut app, "none");
    assert_eq!(form(&app).value(0), "Checkout fails for some customers");
    let fx = app.update(code(KeyCode::Enter));
    let [
        Command::AddEntry {
            public, briefing, ..
        },
    ] = &sent(&fx)[..]
    else {
        panic!("one status update: {fx:?}")
    };
    assert!(*public);
    assert_eq!(
        briefing.as_ref(),
        Some(&Briefing {
            impact: "15% of card payments fail".into(),
            eta: "about 40 minutes".into(),
            at_risk: "none".into(),
        })
    );
}

#[test]
fn below_sev1_there_is_no_briefing_and_a_restricted_update_is_never_public() {
    let mut h = History::new();
    h.run(
        "priya",
        Command::Declare {
            title: "Leaked keys".into(),
            severity: Severity::Sev2,
            service: None,
            restricted: true,
            detected_by: None,
        },
    );
    let mut app = live_app(&h, h.now);
    app.update(code(KeyCode::Enter));
    palette(&mut app, "update");
    assert!(!screen(&app, 120, 44).contains("Briefing ·"));
    app.update(ctrl('p'));
    assert_on(
        &screen(&app, 120, 44),
        &["INC-1 is restricted (need to know): its updates never go to the status page"],
    );
    typed(&mut app, "Keys rotated");
    let fx = app.update(ctrl('s'));
    let [
        Command::AddEntry {
            public, briefing, ..
        },
    ] = &sent(&fx)[..]
    else {
        panic!("one status update: {fx:?}")
    };
    assert!(!*public && briefing.is_none());
}
