#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! The rule file's own examples, the near-misses the issue names, captures, suggested
//! labels and the upload check.

use itarvault_format::Label;
use itarvault_scan::rules::{RuleFile, BUILTIN_RULES};
use itarvault_scan::{check, suggest, Conflict, Finding, Implies, Scanner, EXPORT_CONTROLLED};
use proptest::prelude::*;

fn scanner() -> Scanner {
    Scanner::builtin().expect("the shipped rules compile")
}

fn find(text: &str) -> Vec<Finding> {
    scanner().scan_bytes(text.as_bytes(), true)
}

#[test]
fn every_example_fires_its_rule_and_no_negative_example_does() {
    let file = RuleFile::parse(BUILTIN_RULES).unwrap();
    let s = scanner();
    let mut failures = Vec::new();
    for rule in &file.rules {
        for ex in &rule.examples {
            let got = s.scan_bytes(ex.as_bytes(), true);
            if !got.iter().any(|f| f.rule == rule.id) {
                failures.push(format!(
                    "{}: example did not fire: {ex:?} (got {got:?})",
                    rule.id
                ));
            }
        }
        for ex in &rule.negative_examples {
            let got = s.scan_bytes(ex.as_bytes(), true);
            if got.iter().any(|f| f.rule == rule.id) {
                failures.push(format!("{}: negative example fired: {ex:?}", rule.id));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_rule_set_covers_every_marking_family_the_issue_names() {
    let file = RuleFile::parse(BUILTIN_RULES).unwrap();
    let implied: Vec<Implies> = file.rules.iter().map(|r| r.implies).collect();
    for i in [
        Implies::Itar,
        Implies::Ear,
        Implies::Ear99,
        Implies::Cui,
        Implies::Distribution,
        Implies::Classified,
    ] {
        assert!(implied.contains(&i), "no rule implies {i:?}");
    }
    for r in &file.rules {
        assert!(!r.cite.is_empty() && !r.description.is_empty(), "{}", r.id);
    }
}

#[test]
fn near_misses_stay_silent() {
    for text in [
        // Roman numerals that are not categories.
        "World War II ended in 1945; see Chapter XI and Category II of the survey.",
        "Louis XIV and Super Bowl XXI",
        // ECCN-shaped tokens without export context.
        r#"ERROR:  database "x" does not exist (SQLSTATE 3D000)"#,
        r#"<path d="M69.6C560.4 3A001 12 9E003.5"/>"#,
        "Part number 3A001-7 rev B, bolt 9E003X",
        // The English word.
        "The ear, nose and throat clinic. Her EAR was sore.",
        // Prose about CUI.
        "CUI is Controlled Unclassified Information; contractors protect CUI per DFARS 252.204-7012.",
        // The open-source encryption notice.
        "This distribution includes cryptographic software. The BIS has classified this software as ECCN 5D002, publicly available under License Exception TSU (740.13(e)).",
        // Secrets in code.
        "let SECRET = env::var(\"CLIENT_SECRET\"); // SECRET handling",
        "Distribution Statement A: Approved for public release.",
    ] {
        assert!(find(text).is_empty(), "fired on {text:?}: {:?}", find(text));
    }
}

#[test]
fn wrapped_warning_blocks_match_across_comment_leaders() {
    for text in [
        "// WARNING - This document contains technical data whose export is restricted\n// by the Arms\n// Export Control Act (Title 22, U.S.C., Sec 2751, et seq.). Violations of these\n// export laws are subject to severe criminal penalties.\n",
        "/*\n * This file contains technical data whose export is restricted by the Arms Export\n * Control Act. Violation of these export laws is subject to severe penalties.\n */\n",
        "# WARNING: technical data restricted by the Arms\n#   Export Control\n#   Act; violations carry criminal penalties.\n",
        "WARNING - This document contains technical data whose export is restricted by the Arms Export\r\nControl Act. Violations are subject to severe criminal penalties.\r\n",
    ] {
        let f = find(text);
        let hit = f.iter().find(|f| f.rule == "itar-warning-statement");
        let hit = hit.unwrap_or_else(|| panic!("no warning found in {text:?}: {f:?}"));
        assert_eq!(hit.matched, "Arms Export Control Act", "{text:?}");
        assert_eq!(hit.implies, Implies::Itar);
    }
}

#[test]
fn captures_and_lines_are_reported() {
    let f = find("title\nrev A\nExport: USML Category XI(a)(3)(i) - see TCP\n");
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].line, Some(3));
    assert_eq!(f[0].usml_category.as_deref(), Some("XI"));
    assert_eq!(f[0].paragraph.as_deref(), Some("(a)(3)(i)"));
    assert_eq!(f[0].cite, "22 CFR 121.1");
    let f = find("ECCN: 3A001.a.1");
    assert_eq!(f[0].eccn.as_deref(), Some("3A001.a.1"));
    let f = find("CUI//SP-EXPT");
    assert_eq!(f[0].cui.as_deref(), Some("SP-EXPT"));
    let f = find("DISTRIBUTION STATEMENT E. Distribution authorized to DoD Components only.");
    assert_eq!(f[0].distribution.as_deref(), Some("E"));
}

#[test]
fn matched_text_never_exceeds_the_marking() {
    let text = format!(
        "Secret sauce: turbine blade alloy {} ITAR CONTROLLED. The cooling channel is 0.3 mm.",
        "x".repeat(50)
    );
    let f = find(&text);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].matched, "ITAR CONTROLLED");
}

#[test]
fn suggested_labels_take_the_most_restrictive_control() {
    let label = |t: &str| suggest(&find(t));
    assert_eq!(label("nothing here"), None);
    assert_eq!(label("EAR99"), Some("EAR99".into()));
    assert_eq!(label("EAR99 and ECCN 9E003"), Some("EAR:9E003".into()));
    assert_eq!(
        label("ECCN 9E003; USML Category XIX(f)"),
        Some("ITAR:XIX(f)".into())
    );
    assert_eq!(label("ITAR CONTROLLED"), Some("ITAR".into()));
    assert_eq!(
        label("CUI//SP-EXPT\nUSML Category XI\nDISTRIBUTION STATEMENT D. Distribution authorized to DoD and U.S. DoD contractors only."),
        Some("ITAR:XI;CUI//SP-EXPT;DIST:D".into())
    );
    assert_eq!(
        label("USML Category XI\nSECRET//NOFORN"),
        Some("CLASSIFIED".into())
    );
    // Each suggestion with a category or ECCN is a label the vault accepts.
    for l in ["ITAR:XIX(f)", "ITAR:XI;CUI//SP-EXPT;DIST:D", "EAR:9E003"] {
        l.parse::<Label>().unwrap();
    }
}

#[test]
fn uploads_are_checked_against_their_content() {
    let lab = |s: &str| s.parse::<Label>().unwrap();
    let cat_xi = find("Export: USML Category XI(a)(3)");
    assert!(check(&lab("ITAR:XI"), &cat_xi).is_ok());
    assert!(check(&lab("ITAR:XI(a)(3)"), &cat_xi).is_ok());
    let Err(Conflict::Mislabelled {
        suggested, rules, ..
    }) = check(&lab("EAR99"), &cat_xi)
    else {
        panic!("an EAR99 label on Category XI content passed")
    };
    assert_eq!(suggested, "ITAR:XI(a)(3)");
    assert_eq!(rules, ["usml-category"]);
    assert!(check(&lab("ITAR:XV"), &cat_xi).is_err(), "another category");
    assert!(check(&lab("PUBLIC"), &find("EAR99")).is_err());
    assert!(check(&lab("EAR:9E003"), &find("ECCN 9E003")).is_ok());
    assert!(
        check(&lab("ITAR:XI"), &find("ECCN 9E003")).is_ok(),
        "more restrictive is fine"
    );
    assert!(check(&lab("PUBLIC"), &find("plain text")).is_ok());
    let banner = find("TOP SECRET//SI//NOFORN");
    for l in ["ITAR:XI", "PUBLIC", "EAR99"] {
        assert!(matches!(
            check(&lab(l), &banner),
            Err(Conflict::Classified { .. })
        ));
    }
}

const DCS: &str = "These items are controlled by the U.S. Government and authorized for export only to the country of ultimate destination for use by the ultimate consignee or end-user(s) herein identified. They may not be resold, transferred, or otherwise disposed of, to any other country or to any person other than the authorized ultimate consignee or end-user(s), either in their original form or after being incorporated into other items, without first obtaining approval from the U.S. government or as otherwise authorized by U.S. law and regulations.";

/// The destination control statement in force since 2016-09-01 is one text for the EAR
/// (15 CFR 758.6(a)(1)) and the ITAR (22 CFR 123.9(b)(1)(iv)): it marks the content
/// export-controlled, and the ECCN or USML entry beside it says under which regime.
#[test]
fn the_current_destination_control_statement_does_not_decide_the_regime() {
    let f = find(DCS);
    let dcs: Vec<&Finding> = f
        .iter()
        .filter(|x| x.rule == "export-destination-control")
        .collect();
    assert_eq!(dcs.len(), 1, "{f:?}");
    assert_eq!(dcs[0].implies, Implies::Distribution);
    assert_eq!(dcs[0].cite, "15 CFR 758.6(a)(1); 22 CFR 123.9(b)(1)(iv)");
    assert!(dcs[0].distribution.is_none());
    assert!(
        !f.iter().any(|x| x.rule == "ear-destination-control"),
        "the pre-2016 rule matches only the old wording"
    );
    let label = |t: &str| suggest(&find(t));
    assert_eq!(label(DCS), Some(EXPORT_CONTROLLED.into()));
    assert_eq!(
        label(&format!("{DCS}\nECCN 9E003")),
        Some("EAR:9E003".into())
    );
    assert_eq!(
        label(&format!("{DCS}\nUSML Category XIX(f)")),
        Some("ITAR:XIX(f)".into())
    );
    // A DoD distribution statement (with its letter) still reads as ITAR.
    assert_eq!(
        label(&format!("{DCS}\nDISTRIBUTION STATEMENT D. Distribution authorized to the Department of Defense and U.S. DoD contractors only.")),
        Some("ITAR;DIST:D".into())
    );
    // The old wording still reads as the EAR, as before.
    assert_eq!(
        label("These commodities were exported from the United States in accordance with the Export Administration Regulations. Diversion contrary to U.S. law prohibited."),
        Some("EAR".into())
    );
    // Upload check: either regime's label protects it; EAR99 and PUBLIC do not.
    let lab = |s: &str| s.parse::<Label>().unwrap();
    let content = find(DCS);
    assert!(check(&lab("EAR:9E003"), &content).is_ok());
    assert!(check(&lab("ITAR:XI"), &content).is_ok());
    for l in ["EAR99", "PUBLIC"] {
        let Err(Conflict::Mislabelled {
            suggested, rules, ..
        }) = check(&lab(l), &content)
        else {
            panic!("{l} passed content marked export-controlled")
        };
        assert_eq!(suggested, EXPORT_CONTROLLED);
        assert_eq!(rules, ["export-destination-control"]);
        let hint = check(&lab(l), &content).unwrap_err().hint();
        assert!(
            hint.contains("ITAR label") && hint.contains("EAR label"),
            "{hint}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// However the input is cut into chunks, a stream finds exactly what one pass over
    /// the whole buffer finds, lines included.
    #[test]
    fn streaming_equals_whole_buffer(
        parts in prop::collection::vec(
            prop_oneof![
                Just("filler words and numbers 3D000 ear\n".to_string()),
                Just("ECCN 9E003\n".to_string()),
                Just("USML Cat. XV(e)\n".to_string()),
                Just("// whose export is restricted by the Arms\n// Export Control Act; violations are penalised. This document\n".to_string()),
                Just("SECRET\n".to_string()),
                "[ -~\n]{0,200}",
            ],
            0..300,
        ),
        cut in 1usize..70_000,
    ) {
        let s = scanner();
        let text = parts.concat().into_bytes();
        let whole = s.scan_bytes(&text, true);
        let mut st = s.stream(true);
        for c in text.chunks(cut) {
            st.push(c);
        }
        prop_assert_eq!(st.finish(), whole);
    }
}
