//! The regulatory floor: ITAR and EAR rules in Rust, each with its citation.
//! Organisation policies (Cedar) run only after the floor allowed, and can only narrow.
//!
//! Every rule id, citation and message is listed in `docs/rules.md`.

use itarvault_format::{Control, Label};
use time::Date;

use crate::data::{data, ymd, Country, Data};
use crate::decision::{Decision, Explanation, Reason};
use crate::model::{Action, AuthType, Authorization, LabelFact, PersonStatus, Request};

/// What the data is, for the rules.
#[derive(Clone, Copy)]
enum Juris<'a> {
    Itar(&'a Label),
    EarEccn(&'a Label),
    Ear99,
    Public,
}

impl Juris<'_> {
    fn describe(&self) -> String {
        match self {
            Self::Itar(l) => format!(
                "ITAR technical data (USML category {})",
                l.usml_category().map_or("?", |c| c.roman())
            ),
            Self::EarEccn(l) => format!(
                "EAR technology (ECCN {})",
                l.eccn().map_or("?", |e| e.as_str())
            ),
            Self::Ear99 => "EAR99 technology".into(),
            Self::Public => "public information".into(),
        }
    }
    /// What an authorization must cover, in words.
    fn coverage(&self) -> String {
        match self {
            Self::Itar(l) => format!(
                "USML category {}",
                l.usml_category().map_or("?", |c| c.roman())
            ),
            Self::EarEccn(l) => format!("ECCN {}", l.eccn().map_or("?", |e| e.as_str())),
            _ => String::new(),
        }
    }
}

fn list(cs: &[Country]) -> String {
    cs.iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Exemption sections the floor knows how to evaluate.
const KNOWN_EXEMPTIONS: [&str; 5] = ["125.4(b)(9)", "125.4(b)(2)", "126.18", "126.5", "126.7"];

fn auth_cite(a: &Authorization) -> String {
    match a.kind {
        AuthType::Dsp5 => "22 CFR 123.1(a)(1)".into(),
        AuthType::Dsp73 => "22 CFR 123.5".into(),
        AuthType::Dsp61 => "22 CFR 123.3".into(),
        AuthType::Dsp85 => "22 CFR 125.3".into(),
        AuthType::Taa | AuthType::Mla | AuthType::Wda => "22 CFR 124.1".into(),
        AuthType::Exemption => format!("22 CFR {}", a.exemption.as_deref().unwrap_or("125")),
        AuthType::EarLicense => "15 CFR 750.7".into(),
        AuthType::EarException => "15 CFR 740.2".into(),
    }
}

/// Why `a` does not authorize this release, or `Ok` if it does. `needed` are the
/// countries it must name; `us_person` and `in_us` select the exemptions that apply.
fn check_auth(
    a: &Authorization,
    juris: Juris<'_>,
    needed: &[Country],
    day: Date,
    us_person: bool,
    in_us: bool,
    d: &Data,
) -> Result<(), Vec<String>> {
    let mut why = Vec::new();
    let exemption = a.exemption.as_deref();
    match (juris, a.kind) {
        (Juris::Itar(_), AuthType::Dsp5 | AuthType::Dsp73 | AuthType::Taa | AuthType::Mla | AuthType::Wda) => {}
        (Juris::Itar(_), AuthType::Exemption) => match exemption {
            Some(s) if !KNOWN_EXEMPTIONS.contains(&s) => {
                why.push(format!("exemption `{s}` is not one the floor evaluates (it knows {})", KNOWN_EXEMPTIONS.join(", ")))
            }
            Some("125.4(b)(9)") if !us_person => {
                why.push("125.4(b)(9) covers only US-person employees abroad, not foreign persons".into())
            }
            Some("126.18") if in_us => why.push(
                "126.18 covers transfers by foreign licensees to their own employees abroad, not releases inside the US".into(),
            ),
            _ => {}
        },
        (Juris::Itar(_), AuthType::Dsp61) => why.push("a DSP-61 authorizes temporary imports, not a release of technical data".into()),
        (Juris::Itar(_), AuthType::Dsp85) => why.push("a DSP-85 covers classified data, and this data is unclassified".into()),
        (Juris::Itar(_), _) => why.push(format!("a {} does not authorize ITAR technical data", a.kind)),
        (Juris::EarEccn(_), AuthType::EarLicense | AuthType::EarException) => {}
        (Juris::EarEccn(_), _) => why.push(format!("a {} does not authorize EAR technology; an EAR license or license exception is needed", a.kind)),
        _ => {}
    }
    if a.valid_from.is_some_and(|f| day < f) {
        why.push(format!(
            "not valid until {}",
            ymd(a.valid_from.unwrap_or(day))
        ));
    }
    if day > a.expires {
        why.push(format!("expired on {}", ymd(a.expires)));
    }
    let category_agnostic = exemption == Some("125.4(b)(9)");
    match juris {
        Juris::Itar(l) if !category_agnostic => {
            if let Some(c) = l.usml_category() {
                if !a.usml_categories.contains(&c) {
                    why.push(format!("does not cover USML category {}", c.roman()));
                }
            }
        }
        Juris::EarEccn(l) => {
            if let Some(e) = l.eccn() {
                let covered = a.eccns.iter().any(|x| {
                    e.as_str() == x
                        || e.as_str()
                            .strip_prefix(x.as_str())
                            .is_some_and(|r| r.starts_with('.'))
                });
                if !covered {
                    why.push(format!("does not cover ECCN {}", e.as_str()));
                }
            }
        }
        _ => {}
    }
    let missing: Vec<_> = needed
        .iter()
        .copied()
        .filter(|c| !a.countries.contains(c))
        .collect();
    if !missing.is_empty() {
        why.push(format!("does not cover {}", list(&missing)));
    }
    if matches!(juris, Juris::Itar(_))
        && a.kind == AuthType::Exemption
        && exemption != Some("126.18")
    {
        let proscribed: Vec<_> = needed
            .iter()
            .copied()
            .filter(|c| d.proscribed_on(*c, day).is_some())
            .collect();
        if !proscribed.is_empty() {
            why.push(format!(
                "exemptions are unavailable for 126.1 countries (22 CFR 125.4(a)): {}",
                list(&proscribed)
            ));
        }
    }
    if why.is_empty() {
        Ok(())
    } else {
        Err(why)
    }
}

/// Finds the first authorization that covers the release, recording why each other
/// candidate failed.
fn find_auth<'a>(
    req: &'a Request,
    juris: Juris<'_>,
    needed: &[Country],
    day: Date,
    in_us: bool,
    d: &Data,
    ex: &mut Explanation,
) -> Option<&'a Authorization> {
    let us_person = req.principal.person_status.is_us_person();
    for a in &req.principal.authorizations {
        match check_auth(a, juris, needed, day, us_person, in_us, d) {
            Ok(()) => return Some(a),
            Err(why) => ex.candidates.push((a.id.clone(), why.join("; "))),
        }
    }
    None
}

/// Evaluates the regulatory floor.
pub fn evaluate(req: &Request) -> Decision {
    let mut dec = Decision::new();
    let Some(d) = data() else {
        dec.deny(Reason::new(
            "regulatory-data-unavailable",
            "22 CFR 126.1",
            "the embedded regulatory data did not load; every request is denied until this build is fixed (please report it)",
        ));
        return dec;
    };
    let day = req.context.time.to_offset(time::UtcOffset::UTC).date();
    let ex = &mut dec.explanation;
    ex.fact("action", req.action.as_str());
    ex.fact("date", &ymd(day));
    ex.fact("person_status", req.principal.person_status.as_str());
    ex.fact("citizenships", &list(&req.principal.citizenships));
    if let Some(r) = req.principal.permanent_residence {
        ex.fact("permanent_residence", r.as_str());
    }
    ex.fact(
        "source_country",
        &req.context
            .source_country
            .map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
    );

    let label = match &req.resource.label {
        LabelFact::Parsed(l) => l,
        LabelFact::Missing => {
            dec.deny(Reason::new(
                "label-missing",
                "22 CFR 120.33",
                "the data has no export-control label, so whether it is technical data cannot be decided; label it (ITAR:<category>, EAR:<eccn>, EAR99 or PUBLIC)",
            ));
            return dec;
        }
        LabelFact::Unparseable(e) => {
            dec.deny(Reason::new(
                "label-unparseable",
                "22 CFR 120.33",
                format!("the data's label does not parse ({e}); fix the label before anyone can access the data"),
            ));
            return dec;
        }
    };
    ex.fact("label", &label.to_string());
    let juris = match label.control() {
        Control::Itar { .. } => Juris::Itar(label),
        Control::Ear { .. } => Juris::EarEccn(label),
        Control::Ear99 => Juris::Ear99,
        Control::Public => Juris::Public,
    };

    if req.resource.classified {
        let (rule, cite, msg) = match req.action {
            Action::Store => (
                "classified-never-stored",
                "22 CFR 120.54(a)(5)(i)",
                "classified information is never stored in itarvault: the encryption carve-out covers unclassified data only",
            ),
            _ => (
                "classified-out-of-scope",
                "32 CFR 117",
                "classified information is handled under the NISPOM (32 CFR 117), never through itarvault",
            ),
        };
        dec.deny(Reason::new(rule, cite, msg));
        return dec;
    }
    if let Juris::Public = juris {
        dec.allow(Reason::new(
            "public-not-subject",
            "22 CFR 120.34; 15 CFR 734.3(b)(3)",
            "public-domain information is not subject to the ITAR or the EAR; organisation policy may still restrict it",
        ));
        return dec;
    }
    match req.action {
        Action::Store => store(req, juris, day, d, &mut dec),
        Action::Write => write(req, juris, day, d, &mut dec),
        Action::Read => read(req, juris, day, d, &mut dec),
    }
    dec
}

fn unknown_location(dec: &mut Decision, what: &str) {
    dec.deny(Reason::new(
        "unknown-location",
        "22 CFR 120.50(a)",
        format!("the country the request comes from is unknown, so whether {what} is an export cannot be decided; connect from a known network or add the address range to the organisation's ranges"),
    ));
}

fn store(req: &Request, juris: Juris<'_>, day: Date, d: &Data, dec: &mut Decision) {
    let Some(at) = req.resource.storage_country else {
        // The parser requires a storage country for `store`; fail closed regardless.
        dec.deny(Reason::new(
            "unknown-storage-country",
            "22 CFR 120.54(a)(5)(iv)",
            "the storage country is unknown",
        ));
        return;
    };
    dec.explanation.fact("storage_country", at.as_str());
    dec.explanation.fact(
        "end_to_end_encrypted",
        if req.resource.end_to_end_encrypted {
            "true"
        } else {
            "false"
        },
    );
    let itar = matches!(juris, Juris::Itar(_));
    if let Juris::Ear99 = juris {
        for (c, role) in [
            (Some(at), "storage"),
            (req.context.source_country, "source"),
        ] {
            if let Some(g) = c.and_then(|c| d.ear_embargoed(c)) {
                dec.deny(Reason::new(
                    "ear99-embargoed-country",
                    "15 CFR 746.1; 15 CFR 740 Supp. 1",
                    format!("EAR99 technology may not go to or come from an embargoed country: {role} country `{}` is in Country Group {g}", c.map_or_else(String::new, |c| c.to_string())),
                ));
            }
        }
        if req.context.source_country.is_none() {
            unknown_location(dec, "placing the data");
        }
        if dec.is_undecided() {
            dec.allow(Reason::new(
                "ear99-no-license-required",
                "15 CFR 734.3(c)",
                format!("EAR99 technology may be stored in `{at}`: no Country Group E:1/E:2 country is involved"),
            ));
        }
        return;
    }
    if at == Country::US {
        dec.allow(Reason::new(
            "store-in-us",
            "22 CFR 120.50(a)",
            "storing data in the United States is not an export",
        ));
        return;
    }
    let (c_e2e, c_country, c_from, c_ok) = if itar {
        (
            "22 CFR 120.54(a)(5)(ii)",
            "22 CFR 120.54(a)(5)(iv)",
            "22 CFR 120.54(a)(5)(v)",
            "22 CFR 120.54(a)(5)",
        )
    } else {
        (
            "15 CFR 734.18(a)(5)(ii)",
            "15 CFR 734.18(a)(5)(iv)",
            "15 CFR 734.18(a)(5)",
            "15 CFR 734.18(a)(5)",
        )
    };
    if !req.resource.end_to_end_encrypted {
        dec.deny(Reason::new(
            "store-abroad-not-end-to-end",
            c_e2e,
            format!("{} stored outside the US (`{at}`) must be end-to-end encrypted with FIPS 140 validated cryptography; this placement is not", juris.describe()),
        ));
    }
    if let Some(e) = d.proscribed_on(at, day) {
        dec.deny(Reason::new(
            "store-proscribed-country",
            format!("{c_country}; {}", e.cite()),
            format!(
                "{} may not be stored in `{at}` ({}), a proscribed country on {}, even encrypted",
                juris.describe(),
                e.name,
                ymd(day)
            ),
        ));
    }
    match req.context.source_country {
        None => unknown_location(dec, "placing the data"),
        Some(src) => {
            if let Some(e) = d.proscribed_on(src, day) {
                dec.deny(Reason::new(
                    "sent-from-proscribed-country",
                    format!("{c_from}; {}", e.cite()),
                    format!("data sent from `{src}` ({}), a proscribed country, does not qualify for the encryption carve-out", e.name),
                ));
            }
        }
    }
    if dec.is_undecided() {
        dec.allow(Reason::new(
            "store-abroad-carve-out",
            c_ok,
            format!("storing end-to-end encrypted, unclassified data in `{at}` is not an export: every condition of the carve-out holds"),
        ));
    }
}

fn write(req: &Request, juris: Juris<'_>, day: Date, d: &Data, dec: &mut Decision) {
    if req.principal.person_status == PersonStatus::Unknown {
        unknown_status(dec);
    }
    let Some(src) = req.context.source_country else {
        unknown_location(dec, "sending the data");
        return;
    };
    if let Juris::Ear99 = juris {
        if let Some(g) = d.ear_embargoed(src) {
            dec.deny(Reason::new(
                "ear99-embargoed-country",
                "15 CFR 746.1; 15 CFR 740 Supp. 1",
                format!(
                    "EAR99 technology may not be sent from `{src}`, which is in Country Group {g}"
                ),
            ));
        }
    } else if let Some(e) = d.proscribed_on(src, day) {
        dec.deny(Reason::new(
            "write-from-proscribed-country",
            format!("22 CFR 120.54(a)(5)(v); {}", e.cite()),
            format!(
                "controlled data may not be sent from `{src}` ({}), a proscribed country on {}",
                e.name,
                ymd(day)
            ),
        ));
    }
    if dec.is_undecided() {
        dec.allow(Reason::new(
            "write-permitted",
            "22 CFR 120.54(a)(5)(v)",
            format!("sending {} into the vault from `{src}` is permitted: `{src}` is not a proscribed country", juris.describe()),
        ));
    }
}

fn unknown_status(dec: &mut Decision) {
    dec.deny(Reason::new(
        "unknown-person-status",
        "22 CFR 120.62",
        "the person's US-person status is unknown; record it (us_citizen, permanent_resident, foreign_person, ...) after screening",
    ));
}

fn read(req: &Request, juris: Juris<'_>, day: Date, d: &Data, dec: &mut Decision) {
    let p = &req.principal;
    if p.person_status == PersonStatus::Unknown {
        unknown_status(dec);
    }
    let Some(src) = req.context.source_country else {
        unknown_location(dec, "releasing the data");
        return;
    };
    if !dec.is_undecided() {
        return;
    }
    let us_person = p.person_status.is_us_person();
    let mut attributed: Vec<Country> = Vec::new();
    if !us_person {
        attributed.extend(&p.citizenships);
        attributed.extend(p.permanent_residence);
        attributed.sort();
        attributed.dedup();
    }

    if let Juris::Ear99 = juris {
        for c in attributed.iter().chain(std::iter::once(&src)) {
            if let Some(g) = d.ear_embargoed(*c) {
                let role = if *c == src {
                    "the person is in"
                } else {
                    "the person is attributed"
                };
                dec.deny(Reason::new(
                    "ear99-embargoed-country",
                    "15 CFR 746.1; 15 CFR 740 Supp. 1",
                    format!("EAR99 technology may not be released when {role} `{c}`, a Country Group {g} country"),
                ));
            }
        }
        if dec.is_undecided() {
            dec.allow(Reason::new(
                "ear99-no-license-required",
                "15 CFR 734.3(c)",
                "EAR99 technology needs no license here: no Country Group E:1/E:2 country is involved",
            ));
        }
        return;
    }
    let itar = matches!(juris, Juris::Itar(_));
    if itar {
        if let Some(e) = d.proscribed_on(src, day) {
            dec.deny(Reason::new(
                "located-in-proscribed-country",
                format!("22 CFR 126.1(a); 22 CFR 125.4(a); {}", e.cite()),
                format!("ITAR technical data may not be released to anyone in `{src}` ({}), a proscribed country: no license or exemption covers it", e.name),
            ));
            return;
        }
    }
    if us_person {
        if src == Country::US {
            let cite = if itar {
                "22 CFR 120.50(a); 22 CFR 120.62"
            } else {
                "15 CFR 734.13(b)"
            };
            dec.allow(Reason::new(
                "us-person-in-us",
                cite,
                format!(
                    "release of {} to a US person ({}) in the United States is not an export",
                    juris.describe(),
                    p.person_status.as_str()
                ),
            ));
            return;
        }
        let needed = [src];
        match find_auth(req, juris, &needed, day, false, d, &mut dec.explanation) {
            Some(a) => {
                dec.authorization_used = Some(a.id.clone());
                dec.allow(Reason::new(
                    "us-person-abroad-authorized",
                    format!("{}; {}", if itar { "22 CFR 120.56(a)(4)" } else { "15 CFR 734.15(b)" }, auth_cite(a)),
                    format!("decrypting {} in `{src}` is an export, authorized by {} `{}`", juris.describe(), a.kind, a.id),
                ));
            }
            None => dec.deny(Reason::new(
                "us-person-abroad-unauthorized",
                if itar { "22 CFR 120.50(a)(6); 22 CFR 120.56(a)(4)" } else { "15 CFR 734.15(b)" },
                format!(
                    "decrypting {} outside the United States (in `{src}`) is an export even for a US person; it needs an authorization covering `{src}` and {}{}",
                    juris.describe(),
                    juris.coverage(),
                    if itar { ", such as the 125.4(b)(9) exemption" } else { "" }
                ),
            )),
        }
        return;
    }

    // Foreign person, anywhere: a release in the US is a deemed export (22 CFR 120.50(b)).
    if attributed.is_empty() {
        dec.deny(Reason::new(
            "foreign-person-no-citizenship",
            "22 CFR 120.50(b)",
            "a foreign person with no recorded citizenship cannot be matched to an authorization; record every citizenship",
        ));
        return;
    }
    let mut needed = attributed.clone();
    if src != Country::US && !needed.contains(&src) {
        needed.push(src);
    }
    dec.explanation.fact("countries_to_cover", &list(&needed));
    match find_auth(
        req,
        juris,
        &needed,
        day,
        src == Country::US,
        d,
        &mut dec.explanation,
    ) {
        Some(a) => {
            dec.authorization_used = Some(a.id.clone());
            dec.allow(Reason::new(
                "foreign-person-authorized",
                format!(
                    "{}; {}",
                    if itar {
                        "22 CFR 120.56(a)(2)"
                    } else {
                        "15 CFR 734.13(b)"
                    },
                    auth_cite(a)
                ),
                format!(
                    "release of {} to a foreign person ({}) is authorized by {} `{}`",
                    juris.describe(),
                    list(&needed),
                    a.kind,
                    a.id
                ),
            ));
        }
        None => {
            if itar {
                for c in &attributed {
                    if let Some(e) = d.proscribed_on(*c, day) {
                        dec.deny(Reason::new(
                            "proscribed-country-national",
                            format!("22 CFR 126.1(a); {}", e.cite()),
                            format!("the person is attributed `{c}` ({}), a proscribed country: release needs an authorization that names `{c}` explicitly", e.name),
                        ));
                    }
                }
            }
            let who = if p.citizenships.is_empty() {
                String::new()
            } else {
                format!(" (citizenship {})", list(&p.citizenships))
            };
            let (cite, kind) = if itar {
                ("22 CFR 120.56(a)(2)", "ITAR technical data")
            } else {
                ("15 CFR 734.13(b)", "EAR technology")
            };
            let where_ = if src == Country::US {
                String::new()
            } else {
                format!(" in `{src}`")
            };
            dec.deny(Reason::new(
                "deemed-export-foreign-person",
                cite,
                format!(
                    "release of {kind} to a foreign person{who}{where_} requires an authorization covering {} and {}",
                    juris.coverage(),
                    list(&needed)
                ),
            ));
        }
    }
}
