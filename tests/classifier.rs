//! The default policy reproduces the seed guide's classifier exactly: one test per rule, in
//! the seed's order, each with an alert that should stop at that rule and no earlier; the
//! seed's own example; the SLO burn-rate rules; and policy files with mistakes.

use std::time::Duration;

use warroom::model::Severity;
use warroom::model::policy::{AlertContext, Classification, Criticality, Policy, Span};

fn policy() -> Policy {
    Policy::parse(warroom::model::policy::DEFAULT_POLICY).expect("the default policy parses")
}

fn ctx(service: &str) -> AlertContext {
    AlertContext {
        service: Some(service.into()),
        ..Default::default()
    }
}

/// (severity, 0-based index of the rule that matched, what the timeline says)
fn verdict(c: &AlertContext) -> (Severity, Option<usize>, String) {
    match policy().classify(c) {
        Classification::Incident { severity, rule, .. } => {
            let summary = policy().classify(c).summary();
            (severity, rule, summary)
        }
        other => panic!("expected an incident, got {other:?}"),
    }
}

#[test]
fn services_have_the_seed_criticality() {
    let p = policy();
    for s in ["payments", "auth", "database-primary", "api-gateway"] {
        assert_eq!(p.criticality(s), Criticality::Critical, "{s}");
    }
    for s in ["search", "notifications", "user-profiles", "inventory"] {
        assert_eq!(p.criticality(s), Criticality::High, "{s}");
    }
    assert_eq!(p.criticality("blog"), Criticality::Normal);
}

#[test]
fn the_seed_example_is_sev1_by_the_revenue_rule() {
    let c = AlertContext {
        service: Some("payments".into()),
        error_rate: Some(62.5),
        latency_p99_ms: Some(12_000.0),
        affected_users_pct: Some(45.0),
        revenue_impacting: true,
        dependent_services: 3,
        ..Default::default()
    };
    let (sev, rule, summary) = verdict(&c);
    assert_eq!((sev, rule), (Severity::Sev1, Some(3)));
    assert_eq!(
        summary,
        "classified SEV1: error rate 62.5% on a revenue-impacting service"
    );
}

#[test]
fn sev1_rules_in_order() {
    // 1. data loss, anywhere
    let c = AlertContext {
        data_loss: true,
        ..ctx("blog")
    };
    assert_eq!(
        verdict(&c),
        (
            Severity::Sev1,
            Some(0),
            "classified SEV1: data loss on blog".into()
        )
    );
    // 2. security event on a critical service (elsewhere it is SEV3, below)
    let c = AlertContext {
        security_event: true,
        ..ctx("auth")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev1, Some(1)));
    // 3. >= 80% of users on a critical service
    let c = AlertContext {
        affected_users_pct: Some(80.0),
        ..ctx("payments")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev1, Some(2)));
    let c = AlertContext {
        affected_users_pct: Some(79.9),
        ..ctx("payments")
    };
    assert_eq!(verdict(&c).0, Severity::Sev2, "79.9% falls to the 30% rule");
    // 4. error rate >= 50% and revenue impacting, any service
    let c = AlertContext {
        error_rate: Some(50.0),
        revenue_impacting: true,
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev1, Some(3)));
}

#[test]
fn sev2_rules_in_order() {
    // 5. error rate >= 25% on a critical service
    let c = AlertContext {
        error_rate: Some(25.0),
        ..ctx("api-gateway")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev2, Some(4)));
    assert_eq!(
        verdict(&c).2,
        "classified SEV2: error rate 25% on critical service api-gateway"
    );
    // 6. >= 30% of users, any service
    let c = AlertContext {
        affected_users_pct: Some(30.0),
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev2, Some(5)));
    // 7. revenue impacting and error rate >= 10%
    let c = AlertContext {
        error_rate: Some(10.0),
        revenue_impacting: true,
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev2, Some(6)));
    // 8. >= 3 dependent services and error rate >= 15%
    let c = AlertContext {
        error_rate: Some(15.0),
        dependent_services: 3,
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev2, Some(7)));
    let c = AlertContext {
        error_rate: Some(15.0),
        dependent_services: 2,
        ..ctx("blog")
    };
    assert_eq!(verdict(&c).0, Severity::Sev3);
    // 9. p99 >= 5000 ms on a critical service
    let c = AlertContext {
        latency_p99_ms: Some(5000.0),
        ..ctx("database-primary")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev2, Some(8)));
}

#[test]
fn sev3_rules_in_order_and_sev4_otherwise() {
    // 12. error rate >= 5%
    let c = AlertContext {
        error_rate: Some(5.0),
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev3, Some(11)));
    // 13. >= 5% of users
    let c = AlertContext {
        affected_users_pct: Some(5.0),
        ..ctx("blog")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev3, Some(12)));
    // 14. p99 >= 2000 ms (a non-critical service at 5 s is here too)
    let c = AlertContext {
        latency_p99_ms: Some(5000.0),
        ..ctx("search")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev3, Some(13)));
    // 15. a security event on a service that is not critical
    let c = AlertContext {
        security_event: true,
        ..ctx("search")
    };
    assert_eq!((verdict(&c).0, verdict(&c).1), (Severity::Sev3, Some(14)));
    // otherwise SEV4
    let c = AlertContext {
        error_rate: Some(4.9),
        affected_users_pct: Some(4.9),
        latency_p99_ms: Some(1999.0),
        ..ctx("blog")
    };
    assert_eq!(
        verdict(&c),
        (
            Severity::Sev4,
            None,
            "classified SEV4: no rule matched (low impact)".into()
        )
    );
}

#[test]
fn slo_burn_rates_per_the_seed_architecture() {
    let burn = |rate: f64, window: &str| AlertContext {
        burn_rate: Some(rate),
        burn_window: Some(window.parse().unwrap()),
        ..ctx("checkout")
    };
    let (sev, _, summary) = verdict(&burn(14.4, "5m"));
    assert_eq!(sev, Severity::Sev2);
    assert_eq!(
        summary,
        "classified SEV2: error budget burning 14.4x over 5m"
    );
    assert_eq!(verdict(&burn(6.0, "30m")).0, Severity::Sev2);
    assert_eq!(
        verdict(&burn(5.9, "30m")).0,
        Severity::Sev4,
        "below 6x over 30m: not a page"
    );
    let (sev, _, summary) = verdict(&burn(3.0, "6h"));
    assert_eq!(sev, Severity::Sev4);
    assert!(summary.ends_with(": ticket"), "{summary}");
    match policy().classify(&burn(1.0, "3d")) {
        Classification::Informational { why, .. } => {
            assert!(why.contains("informational only"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn durations_are_written_like_people_write_them() {
    assert_eq!(
        "30s".parse::<Span>().unwrap(),
        Span(Duration::from_secs(30))
    );
    assert_eq!(
        "5m".parse::<Span>().unwrap(),
        Span(Duration::from_secs(300))
    );
    assert_eq!(
        "4h".parse::<Span>().unwrap(),
        Span(Duration::from_secs(4 * 3600))
    );
    assert_eq!("3d".parse::<Span>().unwrap().to_string(), "3d");
    assert_eq!("2w".parse::<Span>().unwrap().to_string(), "2w");
    assert!(
        "99999999999999w"
            .parse::<Span>()
            .unwrap_err()
            .contains("longer than a hundred years")
    );
    for bad in ["5", "m", "5 minutes", "-5m", "5y"] {
        assert!(
            bad.parse::<Span>()
                .unwrap_err()
                .contains("write 30s, 5m, 4h, 3d or 1w"),
            "{bad}"
        );
    }
}

#[test]
fn policy_mistakes_are_reported_with_their_line() {
    let e = Policy::parse("[[rule]]\nseverity = 5\nerror_rate_gte = 5\nwhy = \"x\"\n").unwrap_err();
    assert!(e[0].contains("severity 5 does not exist"), "{e:?}");
    let e = Policy::parse("[[rule]]\nseverity = 1\nerror_rat_gte = 5\nwhy = \"x\"\n").unwrap_err();
    assert!(
        e[0].starts_with("line ") && e[0].contains("unknown field `error_rat_gte`"),
        "{e:?}"
    );
    let e = Policy::parse("[[rule]]\nseverity = 2\nburn_window_lte = \"5 minutes\"\nwhy = \"x\"\n")
        .unwrap_err();
    assert!(e[0].contains("'5 minutes' is not a duration"), "{e:?}");
    let text = "[[rule]]\nseverity = 2\nerror_rate_gte = 5\nwhy = \"a\"\n\n[[rule]]\nseverity = 1\ndata_loss = true\nwhy = \"b\"\n\n[[rule]]\nseverity = 3\nwhy = \"c\"\n\n[[rule]]\nseverity = 3\nerror_rate_gte = 500\nwhy = \"d\"\n";
    let e = Policy::parse(text).unwrap_err();
    assert_eq!(e.len(), 3, "{e:#?}");
    assert!(
        e[0].starts_with("line 6: rule 2: a SEV1 rule after a SEV2 rule (line 1)"),
        "{e:#?}"
    );
    assert!(e[1].starts_with("line 11: rule 3: no conditions"), "{e:#?}");
    assert!(
        e[2].starts_with("line 15: rule 4: error_rate_gte is a percentage"),
        "{e:#?}"
    );
    let e = Policy::parse("[services]\ncritical = [\"payments\"]\nhigh = [\"payments\"]\n")
        .unwrap_err();
    assert!(
        e[0].contains("payments is listed as both critical and high"),
        "{e:?}"
    );
}

#[test]
fn security_events_open_restricted_and_nothing_else_does() {
    let policy = Policy::default_policy();
    let restricted = |c: &AlertContext| match policy.classify(c) {
        Classification::Incident { restricted, .. } => restricted,
        Classification::Informational { .. } => panic!("informational"),
    };
    for service in ["auth", "search"] {
        let c = AlertContext {
            security_event: true,
            ..ctx(service)
        };
        assert!(restricted(&c), "a security event on {service}");
    }
    let c = AlertContext {
        data_loss: true,
        ..ctx("payments")
    };
    assert!(!restricted(&c), "data loss alone is not need-to-know");
    assert!(!restricted(&ctx("blog")));
}

#[test]
fn an_informational_rule_cannot_be_restricted() {
    let text = r#"
[[rule]]
outcome = "informational"
burn_rate_gte = 1
why = "slow burn"
restricted = true
"#;
    let errors = Policy::parse(text).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("line 2: rule 1: `restricted` needs a severity")),
        "{errors:?}"
    );
}
