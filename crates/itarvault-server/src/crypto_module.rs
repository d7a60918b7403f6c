//! Which cryptographic module this process runs, and what this release knows of its
//! CMVP status. `itarvault version`, the start banner and `GET /v1/posture` all say it
//! the same way, from here.
//!
//! Two facts are kept apart on purpose. Whether FIPS mode is active is asked of the
//! module at run time. Whether the module is validated is a fact about the world (a
//! CMVP certificate), recorded with its sources in `data/cmvp_modules.json`; and a
//! certificate covers the operational environments its security policy lists, which
//! only the operator can confirm, so nothing here claims that this machine is covered.

use serde::Deserialize;

const DATA: &str = include_str!("../data/cmvp_modules.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    meta: Meta,
    lines: Vec<Line>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code, reason = "the sources are for the reader of the data file")]
struct Meta {
    what: String,
    source: Vec<String>,
    effective: String,
    reviewed: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    line: u32,
    status: Status,
    standard: String,
    #[serde(default)]
    certificate: Option<String>,
    module: String,
    /// The first library version of the line the certificate names.
    #[serde(default)]
    from_version: Option<String>,
}

#[derive(Deserialize, PartialEq, Eq, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Status {
    Validated,
    InReview,
}

/// The module this process links, as reported to people and to the posture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoModule {
    /// FIPS mode, as the module reports it at run time.
    pub fips_mode: bool,
    /// `AWS-LC FIPS` or `AWS-LC`.
    pub name: &'static str,
    /// The library version, e.g. `3.6.0`.
    pub version: &'static str,
    /// Whether this release knows a CMVP certificate that covers this module version.
    pub validated: bool,
    /// One sentence on the validation: the certificate, or why there is none.
    pub validation: String,
}

impl CryptoModule {
    /// `AWS-LC FIPS 3.6.0`.
    pub fn title(&self) -> String {
        format!("{} {}", self.name, self.version)
    }

    /// The banner's line: mode, module and validation.
    pub fn summary(&self) -> String {
        if self.fips_mode {
            format!("active, {}: {}", self.title(), self.validation)
        } else {
            format!("not active, {}: {}", self.title(), self.validation)
        }
    }
}

/// The module of this process.
pub fn current() -> CryptoModule {
    describe(
        aws_lc_rs::try_fips_mode().is_ok(),
        aws_lc_rs::awslc_version(),
        aws_lc_rs::fips_version(),
    )
}

fn parse_version(v: &str) -> Option<(u32, u32, u32)> {
    let mut it = v.split('.').map(|p| p.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

fn describe(fips_mode: bool, version: &'static str, line: Option<u32>) -> CryptoModule {
    let name = if fips_mode { "AWS-LC FIPS" } else { "AWS-LC" };
    let (validated, validation) = if !fips_mode {
        (
            false,
            "a development build outside the FIPS boundary; release builds, the package and the quickstart use the FIPS module (--features fips)".to_owned(),
        )
    } else {
        match serde_json::from_str::<Table>(DATA) {
            Err(e) => (false, format!("the release's CMVP table does not parse ({e}): check the certificate on the CMVP list and record it as `fips_certificate`")),
            Ok(t) => judge(&t, version, line),
        }
    };
    CryptoModule {
        fips_mode,
        name,
        version,
        validated,
        validation,
    }
}

fn judge(t: &Table, version: &str, line: Option<u32>) -> (bool, String) {
    let reviewed = &t.meta.reviewed;
    let Some(l) = line.and_then(|n| t.lines.iter().find(|l| l.line == n)) else {
        return (
            false,
            format!("module line {} is not in this release's CMVP table (reviewed {reviewed}): check the CMVP list before relying on it", line.map_or("unknown".into(), |n| n.to_string())),
        );
    };
    let covers = match (&l.from_version, parse_version(version)) {
        (Some(from), Some(v)) => parse_version(from).is_some_and(|f| v >= f),
        (None, _) => true,
        (Some(_), None) => false,
    };
    match (l.status, &l.certificate) {
        (Status::Validated, Some(cert)) if covers => (
            true,
            format!(
                "{} CMVP certificate #{cert} ({}, {} and later of line {}); the operational environments it covers are in its security policy",
                l.standard,
                l.module,
                l.from_version.as_deref().unwrap_or("every version"),
                l.line
            ),
        ),
        (Status::Validated, _) => (
            false,
            format!("version {version} precedes the validated versions of line {} ({}): not a validated module", l.line, l.from_version.as_deref().unwrap_or("?")),
        ),
        (Status::InReview, _) => (
            false,
            format!("line {} was in CMVP review, not validated, when this release's table was reviewed ({reviewed}): check the CMVP list, and record a certificate as `fips_certificate` once issued", l.line),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_names_its_sources() {
        let t: Table = serde_json::from_str(DATA).unwrap_or_else(|e| panic!("{e}"));
        assert!(!t.meta.source.is_empty());
        let ymd = time::macros::format_description!("[year]-[month]-[day]");
        for d in [&t.meta.effective, &t.meta.reviewed] {
            assert!(time::Date::parse(d, ymd).is_ok(), "{d}");
        }
        for l in &t.lines {
            assert!(
                l.status != Status::Validated || l.certificate.is_some(),
                "a validated line names its certificate"
            );
        }
    }

    #[test]
    fn a_validated_line_names_its_certificate_and_never_claims_the_environment() {
        let m = describe(true, "3.6.0", Some(3));
        assert!(m.validated);
        assert!(m.validation.contains("#5314"), "{}", m.validation);
        assert!(m.validation.contains("security policy"));
        assert!(!m.validation.contains("this machine is validated"));
    }

    #[test]
    fn versions_before_the_certificate_lines_in_review_and_unknown_lines_are_not_validated() {
        assert!(!describe(true, "3.0.0", Some(3)).validated);
        let review = describe(true, "4.2.0", Some(4));
        assert!(!review.validated && review.validation.contains("CMVP review"));
        let unknown = describe(true, "9.0.0", Some(9));
        assert!(!unknown.validated && unknown.validation.contains("not in this release"));
        assert!(!describe(true, "garbage", Some(3)).validated);
    }

    #[test]
    fn a_development_build_says_so() {
        let m = describe(false, "5.1.0", Some(5));
        assert!(!m.validated);
        assert_eq!(m.name, "AWS-LC");
        assert!(m.summary().starts_with("not active"));
        assert!(m.validation.contains("development build"));
    }

    /// The `fips` build links a module line this release knows to be validated: moving
    /// aws-lc-rs to an unvalidated line fails here, not in a customer's assessment.
    #[cfg(feature = "fips")]
    #[test]
    fn the_fips_build_links_a_validated_module() {
        let m = current();
        assert!(m.fips_mode, "FIPS mode is not active in the fips build");
        assert!(m.validated, "{}", m.validation);
    }
}
