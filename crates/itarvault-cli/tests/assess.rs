#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]
//! `itarvault assess`: exit codes and gates, the JSON of docs/assess.md,
//! comparison with a previous report, OSCAL validated by NIST-model tooling
//! (compliance-trestle), and the HTML report rendered by headless Chromium.
//!
//! `scripts/test.sh` installs the tools: compliance-trestle in its own virtualenv
//! (`ITARVAULT_TRESTLE`, default /opt/itarvault-trestle/bin/trestle) and Debian's
//! Chromium (`ITARVAULT_CHROMIUM`, default /usr/bin/chromium).

use std::path::Path;
use std::process::{Command, Output};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");

fn assess(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_itarvault"))
        .arg("assess")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn example() -> String {
    format!("{ROOT}/examples/inventory.yaml")
}

const GAPS: &str = r#"
organization: { name: "Gaps & <Sons>", as_of: 2026-11-01 }
systems:
  - id: plm
    kind: application
    labels: ["ITAR:XI"]
    location_country: US
    encryption: { at_rest: non_fips, in_transit: tls, keys: customer_kms }
    audit_logging: true
people:
  - { id: fp, person_status: foreign_person, citizenships: [IN], work_country: US, access: [plm], screened: 2026-01-01, trained: 2026-01-01 }
exceptions:
  - { id: EX-1, rule: encryption-not-fips, subject: systems/plm, reason: "FIPS KMS migration <ticket 42>", approver: CISO, expires: 2026-12-31 }
"#;

fn gaps() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("inv.yaml"), GAPS).unwrap();
    d
}

#[test]
fn exit_status_follows_fail_on_and_invalid_inventories_exit_2_with_every_problem() {
    let d = gaps();
    assert_eq!(code(&assess(&[&example()], d.path())), 0);
    let o = assess(&["inv.yaml"], d.path());
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert_eq!(
        code(&assess(&["inv.yaml", "--fail-on", "critical"], d.path())),
        0
    );
    // The excepted medium finding does not trip a medium gate; the high ones do.
    assert_eq!(
        code(&assess(&["inv.yaml", "--fail-on", "medium"], d.path())),
        1
    );
    let o = assess(&["inv.yaml", "--fail-on", "severe"], d.path());
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a severity"));

    std::fs::write(
        d.path().join("bad.yaml"),
        "organization: { name: X, colour: blue }\npeople:\n  - { id: a, person_status: alien, access: [nowhere] }\n  - { id: a, person_status: unknown, work_country: XX }\nincidents:\n  - { id: i, discovered: 2026-02-30, voluntary_disclosure: none }\n",
    )
    .unwrap();
    let o = assess(&["bad.yaml"], d.path());
    assert_eq!(code(&o), 2);
    let err = String::from_utf8_lossy(&o.stderr);
    for want in [
        "organization.colour: unknown key",
        "people[0].person_status",
        "people[0].access[0]: `nowhere` is not the id",
        "people[1].id: duplicate id",
        "people[1].work_country: `XX`",
        "people[0].work_country: required key is missing",
        "incidents[0].discovered: `2026-02-30` is not a date",
    ] {
        assert!(err.contains(want), "missing `{want}` in:\n{err}");
    }
    std::fs::write(d.path().join("broken.yaml"), "people: [ {").unwrap();
    let o = assess(&["broken.yaml"], d.path());
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not valid YAML"));
}

#[test]
fn json_is_the_spec_shape_and_as_of_moves_expiries() {
    let d = gaps();
    let v = json(&assess(&[&example(), "--format", "json"], d.path()));
    assert_eq!(v["organization"], "Acme Aerospace");
    assert_eq!(v["as_of"], "2026-11-01");
    assert!(v["score"].as_u64().unwrap() <= 100);
    assert!(v["findings"].as_array().unwrap().is_empty());
    for item in v["checklist"].as_array().unwrap() {
        assert!(item["item"].is_string() && item["findings"].is_u64());
        let s = item["status"].as_str().unwrap();
        assert!(
            ["pass", "fail", "manual", "not_applicable", "error"].contains(&s),
            "{s}"
        );
    }
    let v = json(&assess(&["inv.yaml", "--format", "json"], d.path()));
    let f = &v["findings"][0];
    for k in [
        "id",
        "rule",
        "severity",
        "subject",
        "title",
        "evidence",
        "remediation",
        "citations",
        "checklist",
    ] {
        assert!(!f[k].is_null(), "finding lacks {k}: {f}");
    }
    assert!(f["id"].as_str().unwrap().starts_with("F-"));
    let item = |v: &serde_json::Value, id: &str| {
        v["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(item(&v, "staff-us-persons")["status"], "fail");
    assert_eq!(item(&v, "staff-us-persons")["findings"], 1);
    // After the exception expires the encryption finding counts again.
    let later = json(&assess(
        &["inv.yaml", "--format", "json", "--as-of", "2027-01-01"],
        d.path(),
    ));
    assert_eq!(later["as_of"], "2027-01-01");
    assert_eq!(item(&v, "encryption")["status"], "pass");
    assert_eq!(item(&later, "encryption")["status"], "fail");
    assert_eq!(
        code(&assess(&["inv.yaml", "--as-of", "2027-02-30"], d.path())),
        2
    );
}

#[test]
fn previous_report_marks_new_unchanged_and_fixed() {
    let d = gaps();
    let before = assess(
        &["inv.yaml", "--format", "json", "-o", "before.json"],
        d.path(),
    );
    assert_eq!(code(&before), 1);
    let text = GAPS
        .replace(
            "{ id: fp, person_status: foreign_person, citizenships: [IN]",
            "{ id: fp, person_status: us_citizen, citizenships: [US]",
        )
        .replace(
            "people:\n",
            "people:\n  - { id: who, person_status: unknown, work_country: US, access: [plm] }\n",
        );
    std::fs::write(d.path().join("inv.yaml"), text).unwrap();
    let v = json(&assess(
        &["inv.yaml", "--format", "json", "--previous", "before.json"],
        d.path(),
    ));
    let fixed: Vec<&str> = v["fixed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert_eq!(fixed, vec!["deemed-export-foreign-person"]);
    let change = |rule: &str| {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .unwrap()["change"]
            .clone()
    };
    assert_eq!(change("unknown-person-status"), "new");
    assert_eq!(change("tcp-current"), "unchanged");
    let table = stdout(&assess(
        &["inv.yaml", "--previous", "before.json"],
        d.path(),
    ));
    assert!(
        table.contains("Fixed since the previous report (1)"),
        "{table}"
    );
    std::fs::write(d.path().join("junk.json"), "{\"x\": 1}").unwrap();
    let o = assess(&["inv.yaml", "--previous", "junk.json"], d.path());
    assert_eq!(code(&o), 2);
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("is not an `itarvault assess --format json` report"));
}

#[test]
fn markdown_and_poam_list_what_to_do() {
    let d = gaps();
    let md = stdout(&assess(&["inv.yaml", "--format", "markdown"], d.path()));
    assert!(md.starts_with("# Export-control posture: Gaps & <Sons>"));
    assert!(md.contains("| FAIL | `staff-us-persons` |"));
    assert!(md.contains("**Remediation:**"));
    assert!(md.contains("exception EX-1 until 2026-12-31"));
    let poam = stdout(&assess(
        &["inv.yaml", "--format", "poam-markdown"],
        d.path(),
    ));
    assert!(poam.contains("| 1 | `F-"));
    assert!(poam.contains("## Accepted by exception"));
    assert!(poam.contains("## Checklist items awaiting an attestation"));
    // The example has no open findings: no OSCAL POA&M, said plainly, exit 0.
    let o = assess(&[&example(), "--format", "poam-oscal"], d.path());
    assert_eq!(code(&o), 0);
    assert!(o.stdout.is_empty());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no open findings"));
}

fn tool(var: &str, default: &str) -> String {
    let path = std::env::var(var).unwrap_or_else(|_| default.to_string());
    assert!(
        Path::new(&path).exists(),
        "{path} is missing: scripts/test.sh installs it (or set {var})"
    );
    path
}

/// `trestle validate` in a scratch trestle workspace: VALID or not, with its output.
fn trestle_validate(model_dir: &str, file: &str, doc: &[u8]) -> (bool, String) {
    let trestle = tool("ITARVAULT_TRESTLE", "/opt/itarvault-trestle/bin/trestle");
    let ws = tempfile::tempdir().unwrap();
    let init = Command::new(&trestle)
        .arg("init")
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let dir = ws.path().join(model_dir).join("itarvault");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), doc).unwrap();
    let o = Command::new(&trestle)
        .args(["validate", "-f"])
        .arg(dir.join(file))
        .current_dir(ws.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    (o.status.success() && text.contains("VALID"), text)
}

#[test]
fn oscal_assessment_results_and_poam_validate_with_compliance_trestle() {
    let d = gaps();
    for inv in [example(), "inv.yaml".to_string()] {
        let o = assess(&[&inv, "--format", "oscal"], d.path());
        let (ok, why) =
            trestle_validate("assessment-results", "assessment-results.json", &o.stdout);
        assert!(ok, "{inv}: {why}");
        let v = json(&o);
        let result = &v["assessment-results"]["results"][0];
        assert!(result["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["target"]["type"] == "objective-id"));
    }
    let ar = json(&assess(&["inv.yaml", "--format", "oscal"], d.path()));
    let result = &ar["assessment-results"]["results"][0];
    assert_eq!(result["observations"].as_array().unwrap().len(), 4);
    let excepted = result["risks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "deviation-approved")
        .unwrap();
    assert!(excepted["description"].as_str().unwrap().contains("EX-1"));
    // Same assessment, same UUIDs: documents can reference each other across runs.
    let again = json(&assess(&["inv.yaml", "--format", "oscal"], d.path()));
    assert_eq!(
        ar["assessment-results"]["uuid"],
        again["assessment-results"]["uuid"]
    );

    let poam = assess(&["inv.yaml", "--format", "poam-oscal"], d.path());
    let (ok, why) = trestle_validate(
        "plan-of-action-and-milestones",
        "plan-of-action-and-milestones.json",
        &poam.stdout,
    );
    assert!(ok, "{why}");
    assert_eq!(
        json(&poam)["plan-of-action-and-milestones"]["poam-items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    // The validator is not vacuous: a result without its required start date fails.
    let mut broken = ar.clone();
    broken["assessment-results"]["results"][0]
        .as_object_mut()
        .unwrap()
        .remove("start");
    let (ok, _) = trestle_validate(
        "assessment-results",
        "assessment-results.json",
        &serde_json::to_vec(&broken).unwrap(),
    );
    assert!(!ok, "trestle accepted a result without `start`");
}

fn chromium(args: &[&str], profile: &Path) -> Output {
    Command::new(tool("ITARVAULT_CHROMIUM", "/usr/bin/chromium"))
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let d = gaps();
    let o = assess(
        &["inv.yaml", "--format", "html", "-o", "report.html"],
        d.path(),
    );
    assert_eq!(code(&o), 1);
    let html = std::fs::read_to_string(d.path().join("report.html")).unwrap();
    // Self-contained: nothing fetched from elsewhere, no script.
    assert!(!html.contains("<script") && !html.contains("http://") && !html.contains("src="));
    let page = d.path().join("report.html");
    let url = format!("file://{}", page.display());
    let profile = tempfile::tempdir().unwrap();
    let o = chromium(&["--dump-dom", &url], profile.path());
    let dom = String::from_utf8_lossy(&o.stdout);
    assert!(
        dom.contains("<title>Export-control posture: Gaps &amp; &lt;Sons&gt;</title>"),
        "{dom}"
    );
    for want in [
        "<b>36%</b><span>of the checklist met</span>",
        "SPRS-style score",
        "staff-us-persons",
        "physical-access",
        "A foreign person can reach export-controlled data that no authorization they hold covers",
        "22 CFR 120.50(a)(2)",
        "accepted by exception EX-1",
        "FIPS KMS migration &lt;ticket 42&gt;",
    ] {
        assert!(dom.contains(want), "the rendered page lacks `{want}`");
    }
    // A screenshot to look at (target/assess-report.png).
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("assess-report.png");
    let o = chromium(
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,2400",
            &url,
        ],
        profile.path(),
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a blank screenshot"
    );
}

/// The cases of the issue that made assess and decide agree, through the binary and its
/// JSON: the engine's rule ids and citations on people, cloud regions as places, the
/// checks an ITAR program is audited for, and corrected citations.
#[test]
fn assess_and_decide_agree_through_the_binary() {
    const CASES: &str = r#"
organization:
  name: MSP Inc
  as_of: 2026-11-01
  activities: [service_provider]
  ddtc_registered: false
  cmmc: { level_required: 2, status: none }
  tcp: { documented: false, data_classified: true }
authorizations:
  - { id: EX-CN, type: exemption, exemption: null, countries: [CN], usml_categories: [XI], expires: 2027-01-01 }
  - { id: D85, type: DSP-85, countries: [GB], usml_categories: [XI], expires: 2027-01-01 }
systems:
  - id: plm
    kind: application
    labels: ["ITAR:XI"]
    location_country: US
    provider: aws
    data_regions: [us-gov-west-1, ap-east-1, mars-north-1]
    encryption: { at_rest: fips_validated, in_transit: tls_fips, keys: customer_hsm, end_to_end: true, fips_standard: "140-2", fips_certificate: "3615" }
    audit_logging: true
people:
  - { id: us-cn, name: A B, person_status: us_citizen, citizenships: [US], work_country: CN, access: [plm], screened: 2026-01-01, trained: 2026-01-01 }
  - { id: cn, name: C D, person_status: foreign_person, citizenships: [CN], work_country: US, access: [plm], authorizations: [EX-CN], screened: 2026-01-01, trained: 2026-01-01 }
  - { id: gb, name: E F, person_status: foreign_person, citizenships: [GB], work_country: US, access: [plm], authorizations: [D85], screened: 2026-01-01, trained: 2026-01-01 }
incidents:
  - { id: INC-1, discovered: 2026-10-01, countries: [CN], voluntary_disclosure: none }
"#;
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("cases.yaml"), CASES).unwrap();
    let o = assess(&["cases.yaml", "--format", "json"], d.path());
    assert_eq!(code(&o), 1);
    let v = json(&o);
    let findings = v["findings"].as_array().unwrap();
    let find = |rule: &str, subject: &str| {
        findings
            .iter()
            .find(|f| f["rule"] == rule && f["subject"] == subject)
            .unwrap_or_else(|| panic!("no {rule} for {subject}"))
    };
    let cites = |f: &serde_json::Value| -> Vec<String> {
        f["citations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap().to_string())
            .collect()
    };
    let located = find("located-in-proscribed-country", "people/us-cn");
    assert!(cites(located).contains(&"22 CFR 126.1(a)".to_string()));
    find("proscribed-country-national", "people/cn");
    let gb = find("deemed-export-foreign-person", "people/gb");
    assert!(gb["evidence"].as_str().unwrap().contains("DSP-85"));
    let hk = find("proscribed-location", "systems/plm");
    assert!(hk["evidence"].as_str().unwrap().contains("ap-east-1"));
    let unknown = find("unknown-data-region", "systems/plm");
    assert!(unknown["evidence"]
        .as_str()
        .unwrap()
        .contains("mars-north-1"));
    find("fips-140-2-historical", "systems/plm");
    let inc = find("incident-mandatory-disclosure", "incidents/INC-1");
    assert!(cites(inc).contains(&"22 CFR 126.1(e)(2)".to_string()));
    let cmmc = cites(find("cmmc-status", "organization"));
    assert!(
        cmmc.contains(&"32 CFR 170.16".to_string()) && !cmmc.contains(&"32 CFR 170.18".to_string())
    );
    assert!(!cites(find("tcp-current", "organization"))
        .iter()
        .any(|c| c.contains("126.18")));
    assert!(
        !findings.iter().any(|f| f["rule"] == "ddtc-registration"),
        "an MSP needs no registration"
    );
    let item = |id: &str| {
        v["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["item"] == id)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(item("ddtc-registration"), "not_applicable");
    for failing in [
        "staff-us-persons",
        "storage-locations",
        "encryption",
        "incidents",
    ] {
        assert_eq!(item(failing), "fail", "{failing}");
    }
}
