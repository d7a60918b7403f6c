//! The regulatory floor: ITAR and EAR rules in Rust, each with its citation.
//! Organisation policies (Cedar) run only after the floor allowed, and can only narrow.
//!
//! What each authorization type and exemption can authorize is data
//! (`data/authorization_scopes.json`, [`crate::scope`]); this module applies it. Every
//! rule id, citation and message is listed in `docs/rules.md`.

use std::borrow::Cow;

use itarvault_format::{Control, Label};
use time::Date;

use crate::data::{data, ymd, Country, Data};
use crate::decision::{Decision, Explanation, Reason};
use crate::model::{Action, Authorization, LabelFact, PersonStatus, Principal, Request};
use crate::scope::{Categories, ForeignPersons, Jurisdiction, Proscribed, UnrecognizedSection};

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
    /// The body of rules an authorization must be able to release for.
    fn jurisdiction(&self) -> Option<Jurisdiction> {
        match self {
            Self::Itar(_) => Some(Jurisdiction::Itar),
            Self::EarEccn(_) => Some(Jurisdiction::Ear),
            Self::Ear99 | Self::Public => None,
        }
    }
    fn is_itar(&self) -> bool {
        matches!(self, Self::Itar(_))
    }
}

fn list(countries: &[Country]) -> String {
    countries
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a country is attributed to a foreign person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Basis {
    Citizenship,
    PermanentResidence,
    FormerCitizenship,
}

impl Basis {
    fn describe(self) -> &'static str {
        match self {
            Self::Citizenship => "citizenship",
            Self::PermanentResidence => "permanent residence",
            Self::FormerCitizenship => "former citizenship",
        }
    }
}

/// The countries a release to a foreign person is an export to, each with its basis,
/// sorted by country.
///
/// ITAR: every current and former citizenship and the permanent residence (22 CFR
/// 120.50(b), 120.51(b)). EAR: the most recent citizenship or permanent residence
/// (15 CFR 734.13(b), 734.14(b)); the record does not say which is most recent, so every
/// current one is attributed (stricter, documented). Former citizenships count for the
/// EAR only when nothing current is recorded: the most recent is then among them.
fn attribution(principal: &Principal, itar: bool) -> Vec<(Country, Basis)> {
    let mut attributed: Vec<(Country, Basis)> = Vec::new();
    let mut add = |country: Country, basis: Basis| {
        if !attributed.iter().any(|(known, _)| *known == country) {
            attributed.push((country, basis));
        }
    };
    for country in &principal.citizenships {
        add(*country, Basis::Citizenship);
    }
    if let Some(country) = principal.permanent_residence {
        add(country, Basis::PermanentResidence);
    }
    let current_recorded =
        !principal.citizenships.is_empty() || principal.permanent_residence.is_some();
    if itar || !current_recorded {
        for country in &principal.former_citizenships {
            add(*country, Basis::FormerCitizenship);
        }
    }
    attributed.sort_by_key(|(country, _)| *country);
    attributed
}

/// `citizenship `GB`, `FR`; former citizenship `CN``
fn describe_attribution(attributed: &[(Country, Basis)]) -> String {
    [
        Basis::Citizenship,
        Basis::FormerCitizenship,
        Basis::PermanentResidence,
    ]
    .iter()
    .filter_map(|basis| {
        let countries: Vec<_> = attributed
            .iter()
            .filter(|(_, b)| b == basis)
            .map(|(c, _)| *c)
            .collect();
        (!countries.is_empty()).then(|| format!("{} {}", basis.describe(), list(&countries)))
    })
    .collect::<Vec<_>>()
    .join("; ")
}

/// What a release needs an authorization to cover.
struct Release<'a> {
    juris: Juris<'a>,
    /// Every attributed country, and the country the principal is in when not the US.
    needed: Vec<Country>,
    day: Date,
    us_person: bool,
    in_us: bool,
    data: &'a Data,
}

impl Release<'_> {
    /// The countries to cover for which `test` holds.
    fn needed_where(&self, test: impl Fn(Country) -> bool) -> Vec<Country> {
        self.needed.iter().copied().filter(|c| test(*c)).collect()
    }
}

/// One condition an authorization does not meet. `check` is the id docs/rules.md lists.
struct Unmet {
    check: &'static str,
    detail: String,
}

impl Unmet {
    fn new(check: &'static str, detail: impl Into<String>) -> Self {
        Self {
            check,
            detail: detail.into(),
        }
    }
}

/// The citation of `auth` if it authorizes `release`, or every condition it does not
/// meet. Its scope comes from the data table: what it releases, for whom, where.
fn check<'d>(auth: &Authorization, release: &Release<'d>) -> Result<Cow<'d, str>, Vec<Unmet>> {
    let governing = release.data.scopes.governing(auth).map_err(|UnrecognizedSection(claimed)| {
        let detail = if claimed.trim().is_empty() {
            "the exemption record claims no section (write the section claimed, e.g. `125.4(b)(9)`), so it authorizes nothing".to_owned()
        } else {
            format!("`{claimed}` is not a section of 22 CFR parts 120 to 129 (write it as e.g. `125.4(b)(9)`), so the exemption authorizes nothing")
        };
        vec![Unmet::new("exemption-not-recognized", detail)]
    })?;
    let scope = governing.scope;
    let Some(jurisdiction) = release.juris.jurisdiction() else {
        return Ok(governing.cite);
    };
    if !scope.releases.contains(&jurisdiction) {
        let detail = if scope.releases.is_empty() {
            format!("{} ({})", scope.serves, governing.cite)
        } else {
            let releases: Vec<_> = scope.releases.iter().map(|j| j.as_str()).collect();
            format!(
                "{} authorizations release {} data only, not {}",
                auth.kind,
                releases.join(" and "),
                release.juris.describe()
            )
        };
        return Err(vec![Unmet::new("out-of-scope-data", detail)]);
    }
    let person = if release.us_person {
        (!scope.us_persons_abroad)
            .then_some("it does not cover a US person outside the United States")
    } else {
        match scope.foreign_persons {
            ForeignPersons::Covered => None,
            ForeignPersons::NotCovered => Some("it does not cover a foreign person"),
            ForeignPersons::SeparatelyAuthorized => Some(
                "it covers a foreign person only where a separate authorization covers that person and the data, and that one is then used",
            ),
        }
    };
    if let Some(why) = person {
        return Err(vec![Unmet::new(
            "out-of-scope-person",
            format!("{why}: {} ({})", scope.serves, governing.cite),
        )]);
    }

    let mut unmet = Vec::new();
    if !release.us_person && release.in_us && !scope.release_in_us {
        unmet.push(Unmet::new(
            "out-of-scope-location",
            format!(
                "it does not cover a release inside the United States: {} ({})",
                scope.serves, governing.cite
            ),
        ));
    }
    if let Some(from) = auth.valid_from.filter(|from| release.day < *from) {
        unmet.push(Unmet::new(
            "not-yet-valid",
            format!("not valid until {}", ymd(from)),
        ));
    }
    if release.day > auth.expires {
        unmet.push(Unmet::new(
            "expired",
            format!("expired on {}", ymd(auth.expires)),
        ));
    }
    if let Some(missing) = category_not_covered(auth, release.juris, scope.categories) {
        unmet.push(Unmet::new(
            "category-not-covered",
            format!("it does not name {missing}"),
        ));
    }
    let not_named = release.needed_where(|c| !auth.countries.contains(&c));
    if !not_named.is_empty() {
        unmet.push(Unmet::new(
            "country-not-named",
            format!("it does not name {}", list(&not_named)),
        ));
    }
    if let Some(within) = &scope.countries_within {
        let outside = release.needed_where(|c| !within.contains(&c));
        if !outside.is_empty() {
            unmet.push(Unmet::new(
                "out-of-scope-country",
                format!(
                    "{} outside its countries ({}): {} ({})",
                    list(&outside),
                    list(within),
                    scope.serves,
                    governing.cite
                ),
            ));
        }
    }
    if scope.proscribed == Proscribed::Never {
        let proscribed =
            release.needed_where(|c| release.data.proscribed_on(c, release.day).is_some());
        if !proscribed.is_empty() {
            let rule = if release.juris.is_itar() {
                "no exemption is available for a 126.1 country or a person attributed one (22 CFR 126.1(a); 22 CFR 125.4(a))"
            } else {
                "no license exception is used for a Country Group D:5 country (15 CFR 740.2(a)(12))"
            };
            unmet.push(Unmet::new(
                "proscribed-country-excluded",
                format!("{rule}: {}", list(&proscribed)),
            ));
        }
    }
    if unmet.is_empty() {
        Ok(governing.cite)
    } else {
        Err(unmet)
    }
}

/// The category or ECCN the record should name and does not, if any.
fn category_not_covered(
    auth: &Authorization,
    juris: Juris<'_>,
    rule: Categories,
) -> Option<String> {
    match juris {
        Juris::Itar(label) => {
            let category = label.usml_category()?;
            let limited = rule == Categories::Named || !auth.usml_categories.is_empty();
            (limited && !auth.usml_categories.contains(&category))
                .then(|| format!("USML category {}", category.roman()))
        }
        Juris::EarEccn(label) => {
            let eccn = label.eccn()?.as_str();
            let limited = rule == Categories::Named || !auth.eccns.is_empty();
            // `3A001` covers `3A001.a.1`; `3A001.a` does not cover `3A001.b`.
            let covered = auth.eccns.iter().any(|named| {
                eccn == named
                    || eccn
                        .strip_prefix(named.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
            (limited && !covered).then(|| format!("ECCN {eccn}"))
        }
        Juris::Ear99 | Juris::Public => None,
    }
}

enum Search<'r> {
    Covered {
        auth: &'r Authorization,
        cite: String,
    },
    /// One line per authorization held: its id and the checks it failed.
    NotCovered { held: Vec<String> },
}

/// The first authorization that covers the release, recording why each one before it
/// failed.
fn search<'r>(
    request: &'r Request,
    release: &Release<'_>,
    explanation: &mut Explanation,
) -> Search<'r> {
    let mut held = Vec::new();
    for auth in &request.principal.authorizations {
        match check(auth, release) {
            Ok(cite) => {
                return Search::Covered {
                    auth,
                    cite: cite.into_owned(),
                }
            }
            Err(unmet) => {
                let checks: Vec<_> = unmet.iter().map(|u| u.check).collect();
                held.push(format!("`{}` ({})", auth.id, checks.join(", ")));
                let why: Vec<_> = unmet
                    .iter()
                    .map(|u| format!("{}: {}", u.check, u.detail))
                    .collect();
                explanation
                    .candidates
                    .push((format!("{} ({})", auth.id, kind_name(auth)), why.join("; ")));
            }
        }
    }
    Search::NotCovered { held }
}

fn kind_name(auth: &Authorization) -> String {
    match &auth.exemption {
        Some(section) => format!("exemption {section}"),
        None => auth.kind.to_string(),
    }
}

/// `; held but not covering: `A` (expired)` or `; no authorization is recorded`.
fn held_summary(held: &[String]) -> String {
    if held.is_empty() {
        "; no authorization is recorded for this person".into()
    } else {
        format!("; held but not covering: {}", held.join(", "))
    }
}

/// Evaluates the regulatory floor with the embedded data.
pub fn evaluate(req: &Request) -> Decision {
    match data() {
        Some(d) => evaluate_with(req, d),
        None => {
            let mut dec = Decision::new();
            dec.deny(Reason::new(
                "regulatory-data-unavailable",
                "22 CFR 126.1",
                "the embedded regulatory data did not load; every request is denied until this build is fixed (please report it)",
            ));
            dec
        }
    }
}

/// Evaluates the regulatory floor with one edition of the regulatory data.
pub fn evaluate_with(req: &Request, d: &Data) -> Decision {
    let mut dec = Decision::new();
    let day = req.context.time.to_offset(time::UtcOffset::UTC).date();
    let ex = &mut dec.explanation;
    ex.fact("action", req.action.as_str());
    ex.fact("date", &ymd(day));
    ex.fact("person_status", req.principal.person_status.as_str());
    ex.fact("citizenships", &list(&req.principal.citizenships));
    if !req.principal.former_citizenships.is_empty() {
        ex.fact(
            "former_citizenships",
            &list(&req.principal.former_citizenships),
        );
    }
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

const EAR99_EMBARGO_CITE: &str = "15 CFR 746.1; 15 CFR 740 Supp. 1";
const EAR99_ALLOWED_CITE: &str = "15 CFR 734.3(c); 15 CFR 774.1";

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
    let itar = juris.is_itar();
    if let Juris::Ear99 = juris {
        for (c, role) in [
            (Some(at), "storage"),
            (req.context.source_country, "source"),
        ] {
            if let Some(g) = c.and_then(|c| d.ear_embargoed(c)) {
                dec.deny(Reason::new(
                    "ear99-embargoed-country",
                    EAR99_EMBARGO_CITE,
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
                EAR99_ALLOWED_CITE,
                format!("EAR99 technology may be stored in `{at}`: no Country Group E:1/E:2 country is involved"),
            ));
        }
        return;
    }
    if at == Country::US {
        dec.allow(Reason::new(
            "store-in-us",
            if itar {
                "22 CFR 120.50(a)"
            } else {
                "15 CFR 734.13(a)"
            },
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
                EAR99_EMBARGO_CITE,
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

/// The citation for a release to a foreign person: a deemed export in the US, an export
/// (release by decryption outside the US) and a reexport to every attributed country
/// abroad.
fn foreign_release_cite(itar: bool, in_us: bool) -> &'static str {
    match (itar, in_us) {
        (true, true) => "22 CFR 120.50(a)(2); 22 CFR 120.50(b)",
        (true, false) => "22 CFR 120.50(a)(6); 22 CFR 120.56(a)(3); 22 CFR 120.51(b)",
        (false, true) => "15 CFR 734.13(a)(2); 15 CFR 734.13(b)",
        (false, false) => "15 CFR 734.13(a)(1); 15 CFR 734.14(b)",
    }
}

fn read(req: &Request, juris: Juris<'_>, day: Date, d: &Data, dec: &mut Decision) {
    let principal = &req.principal;
    if principal.person_status == PersonStatus::Unknown {
        unknown_status(dec);
    }
    let Some(src) = req.context.source_country else {
        unknown_location(dec, "releasing the data");
        return;
    };
    if !dec.is_undecided() {
        return;
    }
    let us_person = principal.person_status.is_us_person();
    let itar = juris.is_itar();
    let attributed = if us_person {
        Vec::new()
    } else {
        attribution(principal, itar)
    };
    if !attributed.is_empty() {
        dec.explanation
            .fact("attributed_countries", &describe_attribution(&attributed));
    }
    if !itar
        && !us_person
        && attributed
            .iter()
            .all(|(_, b)| *b != Basis::FormerCitizenship)
        && !principal.former_citizenships.is_empty()
    {
        dec.explanation.fact(
            "former_citizenships_not_attributed",
            "15 CFR 734.13(b) looks at the most recent citizenship or permanent residence",
        );
    }

    if let Juris::Ear99 = juris {
        let countries = attributed
            .iter()
            .map(|(c, _)| *c)
            .chain(std::iter::once(src));
        for country in countries {
            if let Some(group) = d.ear_embargoed(country) {
                let role = if country == src {
                    "the person is in"
                } else {
                    "the person is attributed"
                };
                dec.deny(Reason::new(
                    "ear99-embargoed-country",
                    EAR99_EMBARGO_CITE,
                    format!("EAR99 technology may not be released when {role} `{country}`, a Country Group {group} country"),
                ));
            }
        }
        if dec.is_undecided() {
            dec.allow(Reason::new(
                "ear99-no-license-required",
                EAR99_ALLOWED_CITE,
                "EAR99 technology needs no license here: no Country Group E:1/E:2 country is involved",
            ));
        }
        return;
    }
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
        us_person_read(req, juris, src, day, d, dec);
    } else {
        foreign_person_read(req, juris, &attributed, src, day, d, dec);
    }
}

fn us_person_read(
    req: &Request,
    juris: Juris<'_>,
    src: Country,
    day: Date,
    d: &Data,
    dec: &mut Decision,
) {
    let itar = juris.is_itar();
    let status = req.principal.person_status.as_str();
    if src == Country::US {
        let cite = if itar {
            "22 CFR 120.54(a)(2); 22 CFR 120.62"
        } else {
            "15 CFR 734.18(a)(2)"
        };
        dec.allow(Reason::new(
            "us-person-in-us",
            cite,
            format!(
                "transferring {} to a US person ({status}) in the United States is not an export",
                juris.describe(),
            ),
        ));
        return;
    }
    let release = Release {
        juris,
        needed: vec![src],
        day,
        us_person: true,
        in_us: false,
        data: d,
    };
    let base = if itar {
        "22 CFR 120.50(a)(6); 22 CFR 120.56(a)(4)"
    } else {
        "15 CFR 734.15(b)"
    };
    match search(req, &release, &mut dec.explanation) {
        Search::Covered { auth, cite } => {
            dec.authorization_used = Some(auth.id.clone());
            dec.allow(Reason::new(
                "us-person-abroad-authorized",
                format!("{base}; {cite}"),
                format!("decrypting {} in `{src}` is an export, authorized by {} `{}`", juris.describe(), kind_name(auth), auth.id),
            ));
        }
        Search::NotCovered { held } => dec.deny(Reason::new(
            "us-person-abroad-unauthorized",
            base,
            format!(
                "decrypting {} outside the United States (in `{src}`) is an export even for a US person; it needs an authorization covering `{src}` and {}{}{}",
                juris.describe(),
                juris.coverage(),
                if itar { ", such as the 125.4(b)(9) exemption" } else { "" },
                held_summary(&held)
            ),
        )),
    }
}

fn foreign_person_read(
    req: &Request,
    juris: Juris<'_>,
    attributed: &[(Country, Basis)],
    src: Country,
    day: Date,
    d: &Data,
    dec: &mut Decision,
) {
    let itar = juris.is_itar();
    let in_us = src == Country::US;
    let base = foreign_release_cite(itar, in_us);
    if attributed.is_empty() {
        dec.deny(Reason::new(
            "foreign-person-no-citizenship",
            if itar { "22 CFR 120.50(b)" } else { "15 CFR 734.13(b)" },
            "a foreign person with no recorded citizenship cannot be matched to an authorization; record every citizenship, former ones included",
        ));
        return;
    }
    let mut needed: Vec<Country> = attributed.iter().map(|(c, _)| *c).collect();
    if !in_us && !needed.contains(&src) {
        needed.push(src);
    }
    dec.explanation.fact("countries_to_cover", &list(&needed));
    let release = Release {
        juris,
        needed,
        day,
        us_person: false,
        in_us,
        data: d,
    };
    let who = describe_attribution(attributed);
    let location = if in_us {
        String::new()
    } else {
        format!(" in `{src}`")
    };
    match search(req, &release, &mut dec.explanation) {
        Search::Covered { auth, cite } => {
            dec.authorization_used = Some(auth.id.clone());
            dec.allow(Reason::new(
                "foreign-person-authorized",
                format!("{base}; {cite}"),
                format!(
                    "release of {} to a foreign person ({who}){location} is authorized by {} `{}`",
                    juris.describe(),
                    kind_name(auth),
                    auth.id
                ),
            ));
        }
        Search::NotCovered { held } => {
            if itar {
                let attribution_cite = if in_us {
                    "22 CFR 120.50(b)"
                } else {
                    "22 CFR 120.51(b)"
                };
                for (country, basis) in attributed {
                    if let Some(entry) = d.proscribed_on(*country, day) {
                        dec.deny(Reason::new(
                            "proscribed-country-national",
                            format!("22 CFR 126.1(a); {}; {attribution_cite}", entry.cite()),
                            format!("the person is attributed `{country}` ({}) by {}, a proscribed country: only a license or agreement naming `{country}` explicitly could cover the release; no exemption is available for it (22 CFR 125.4(a))", entry.name, basis.describe()),
                        ));
                    }
                }
            }
            let kind = if itar {
                "ITAR technical data"
            } else {
                "EAR technology"
            };
            dec.deny(Reason::new(
                "deemed-export-foreign-person",
                base,
                format!(
                    "release of {kind} to a foreign person ({who}){location} requires an authorization covering {} and {}{}",
                    juris.coverage(),
                    list(&release.needed),
                    held_summary(&held)
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{DataFiles, AUTHORIZATION_SCOPES_JSON};
    use serde_json::json;

    fn read_by(citizenship: &str, source: &str, auth: serde_json::Value) -> Request {
        let request = json!({
            "principal": { "id": "p", "person_status": "foreign_person", "citizenships": [citizenship],
                           "authorizations": [auth] },
            "action": "read",
            "context": { "source_country": source, "time": "2026-12-02T12:00:00Z" },
            "resource": { "label": { "jurisdiction": "ITAR", "usml_category": "XI" } }
        });
        Request::from_json(&request, time::OffsetDateTime::UNIX_EPOCH).unwrap()
    }

    /// The embedded edition with the scope row for `key` (a type or a section) edited.
    fn with_scope_row(key: &str, edit: impl Fn(&mut serde_json::Value)) -> Data {
        let mut table: serde_json::Value = serde_json::from_str(AUTHORIZATION_SCOPES_JSON).unwrap();
        for list in ["authorization_types", "exemptions"] {
            for row in table[list].as_array_mut().unwrap() {
                if row["type"] == key || row["section"] == key {
                    edit(row);
                }
            }
        }
        let scopes = table.to_string();
        Data::parse(&DataFiles {
            authorization_scopes: &scopes,
            ..DataFiles::EMBEDDED
        })
        .unwrap()
    }

    /// Scope decisions come from the table: an edition that widens a row widens the
    /// decision, and the embedded edition does not.
    #[test]
    fn scopes_come_from_the_data_table() {
        let german = read_by(
            "DE",
            "US",
            json!({ "id": "EX", "type": "exemption", "exemption": "126.5", "countries": ["DE"],
                    "usml_categories": ["XI"], "expires": "2027-01-01" }),
        );
        assert!(!evaluate(&german).is_allow());
        let wider = with_scope_row("126.5", |row| row["countries_within"] = json!(["CA", "DE"]));
        assert!(evaluate_with(&german, &wider).is_allow());

        let dsp73 = read_by(
            "GB",
            "US",
            json!({ "id": "T", "type": "DSP-73", "countries": ["GB"], "usml_categories": ["XI"],
                    "expires": "2027-01-01" }),
        );
        assert!(!evaluate(&dsp73).is_allow());
        let releasing = with_scope_row("DSP-73", |row| {
            row["releases"] = json!(["ITAR"]);
            row["foreign_persons"] = json!("covered");
            row["release_in_us"] = json!(true);
        });
        let decision = evaluate_with(&dsp73, &releasing);
        assert!(decision.is_allow(), "{}", decision.explain());
        assert!(decision.reasons[0]
            .cite
            .ends_with("22 CFR 123.1(a); 22 CFR 123.5"));
    }

    /// The citation of an allow comes from the table's row, resolved for the section
    /// claimed.
    #[test]
    fn citations_come_from_the_table() {
        let other = read_by(
            "GB",
            "US",
            json!({ "id": "EX", "type": "exemption", "exemption": "22 CFR 125.4(b)(3)", "countries": ["GB"],
                    "usml_categories": ["XI"], "expires": "2027-01-01" }),
        );
        let decision = evaluate(&other);
        assert!(decision.is_allow());
        assert_eq!(
            decision.reasons[0].cite,
            "22 CFR 120.50(a)(2); 22 CFR 120.50(b); 22 CFR 125.4(b)(3)"
        );
    }

    /// A record built without the parser (the assessor builds its requests from typed
    /// facts) may claim no section: it authorizes nothing, and says why.
    #[test]
    fn an_exemption_claiming_no_section_authorizes_nothing() {
        let mut request = read_by(
            "GB",
            "US",
            json!({ "id": "EX", "type": "exemption", "exemption": "126.7", "countries": ["GB"],
                    "usml_categories": ["XI"], "expires": "2027-01-01" }),
        );
        assert!(evaluate(&request).is_allow(), "126.7 covers a GB national");
        request.principal.authorizations[0].exemption = None;
        let decision = evaluate(&request);
        assert!(!decision.is_allow());
        assert!(
            decision.explain().contains("claims no section"),
            "{}",
            decision.explain()
        );
    }

    #[test]
    fn attribution_differs_between_itar_and_ear() {
        let mut principal = read_by(
            "GB",
            "US",
            json!({ "id": "x", "type": "DSP-5", "countries": [], "expires": "2027-01-01" }),
        )
        .principal;
        principal.former_citizenships =
            vec![Country::parse("CN").unwrap(), Country::parse("GB").unwrap()];
        let countries = |principal: &Principal, itar| -> Vec<(String, Basis)> {
            attribution(principal, itar)
                .into_iter()
                .map(|(c, b)| (c.to_string(), b))
                .collect()
        };
        assert_eq!(
            countries(&principal, true),
            [
                ("CN".to_owned(), Basis::FormerCitizenship),
                ("GB".to_owned(), Basis::Citizenship)
            ]
        );
        assert_eq!(
            countries(&principal, false),
            [("GB".to_owned(), Basis::Citizenship)]
        );
        principal.citizenships.clear();
        assert_eq!(
            countries(&principal, false).len(),
            2,
            "with nothing current, the most recent is a former one"
        );
    }
}
