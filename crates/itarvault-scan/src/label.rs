//! From findings to a label: the suggestion for a file, the check of an upload's
//! declared label against what its content says, and the decision on an upload.

use crate::extract::Unchecked;
use crate::matcher::Finding;
use crate::rules::Implies;
use crate::upload::CheckOutcome;
use itarvault_format::{Control, Label};
use std::fmt;

/// How restrictive a control is: classified > ITAR > EAR (ECCN) > EAR99 > none.
///
/// `Export` sits between EAR and ITAR: export-controlled, but which regime is not said
/// (the destination control statement alone). A label satisfies it with either
/// regime: see [`Rank::satisfied_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    None,
    Ear99,
    Ear,
    Export,
    Itar,
    Classified,
}

/// The suggestion for content marked export-controlled without its regime. Not a label
/// the vault stores: a person picks ITAR and its category, or EAR and its ECCN.
pub const EXPORT_CONTROLLED: &str = "EXPORT-CONTROLLED";

impl Rank {
    pub fn of_label(label: &Label) -> Self {
        match label.control() {
            Control::Itar { .. } => Self::Itar,
            Control::Ear { .. } => Self::Ear,
            Control::Ear99 => Self::Ear99,
            Control::Public => Self::None,
        }
    }

    /// The rank the findings imply. A CUI export-controlled banner or a DoD
    /// distribution statement (B-F, its letter captured) without any jurisdiction
    /// marking counts as ITAR: the marking says the data is export-controlled and ITAR
    /// is the reading that cannot under-protect it. A destination control statement
    /// (a `DISTRIBUTION` marking without a letter: 15 CFR 758.6(a)(1) and 22 CFR
    /// 123.9(b)(1)(iv) are one text) says the data is export-controlled and not under
    /// which regime: `Export`, unless an ECCN or USML marking says which.
    pub fn of_findings(findings: &[Finding]) -> Self {
        let has = |i: Implies| findings.iter().any(|f| f.implies == i);
        let dod_statement = findings
            .iter()
            .any(|f| f.implies == Implies::Distribution && f.distribution.is_some());
        let destination_control = findings
            .iter()
            .any(|f| f.implies == Implies::Distribution && f.distribution.is_none());
        if has(Implies::Classified) {
            Self::Classified
        } else if has(Implies::Itar) {
            Self::Itar
        } else if has(Implies::Ear) {
            Self::Ear
        } else if has(Implies::Cui) || dod_statement {
            Self::Itar
        } else if destination_control {
            Self::Export
        } else if has(Implies::Ear99) {
            Self::Ear99
        } else {
            Self::None
        }
    }

    /// Whether a label of rank `declared` protects content of this rank: at least as
    /// restrictive, where `Export` is protected by an EAR (ECCN) or an ITAR label.
    pub fn satisfied_by(self, declared: Self) -> bool {
        match self {
            Self::Export => declared >= Self::Ear,
            implied => declared >= implied,
        }
    }
}

/// The label the findings suggest, in the vault's label syntax: `CLASSIFIED` for a
/// classification banner, `ITAR` (or `EAR`) when the jurisdiction is marked but no
/// category (or ECCN) is, [`EXPORT_CONTROLLED`] when the content is marked
/// export-controlled and nothing says under which regime, and `None` when nothing was
/// found.
pub fn suggest(findings: &[Finding]) -> Option<String> {
    let control = match Rank::of_findings(findings) {
        Rank::None => return None,
        Rank::Classified => return Some("CLASSIFIED".into()),
        Rank::Itar => findings
            .iter()
            .find_map(|f| {
                let cat = f.usml_category.as_deref()?;
                let with_para = format!("ITAR:{cat}{}", f.paragraph.as_deref().unwrap_or(""));
                Some(if with_para.parse::<Label>().is_ok() {
                    with_para
                } else {
                    format!("ITAR:{cat}")
                })
            })
            .unwrap_or_else(|| "ITAR".into()),
        Rank::Ear => findings
            .iter()
            .find_map(|f| f.eccn.as_deref())
            .map(|e| format!("EAR:{e}"))
            .filter(|l| l.parse::<Label>().is_ok())
            .unwrap_or_else(|| "EAR".into()),
        Rank::Export => EXPORT_CONTROLLED.into(),
        Rank::Ear99 => "EAR99".into(),
    };
    let mut label = control;
    if let Some(cui) = findings.iter().find_map(|f| f.cui.as_deref()) {
        label.push_str(&format!(";CUI//{cui}"));
    }
    if let Some(d) = findings
        .iter()
        .filter_map(|f| f.distribution.as_deref())
        .max()
    {
        label.push_str(&format!(";DIST:{d}"));
    }
    Some(label)
}

/// Why an upload's content contradicts its declared label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    /// A classification banner: classified information is never stored here.
    Classified { rules: Vec<String> },
    /// The content implies a more restrictive control, or another USML category.
    Mislabelled {
        declared: String,
        suggested: String,
        rules: Vec<String>,
    },
}

impl Conflict {
    /// The rules behind the conflict, for the audit record.
    pub fn rules(&self) -> &[String] {
        match self {
            Self::Classified { rules } | Self::Mislabelled { rules, .. } => rules,
        }
    }

    /// Stable machine-readable code (API errors, audit records).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Classified { .. } => "content-classified",
            Self::Mislabelled { .. } => "content-mislabelled",
        }
    }

    /// What the person uploading should do.
    pub fn hint(&self) -> String {
        match self {
            Self::Classified { .. } => "do not retry: report the spill to your facility security officer (32 CFR 117.8)".into(),
            Self::Mislabelled { suggested, .. } if suggested.starts_with(EXPORT_CONTROLLED) => format!(
                "the content is marked export-controlled (`{suggested}`) without saying under which regime: upload with its ITAR label (USML category) or EAR label (ECCN), as its classification says; if the marking is stale, correct the document first"
            ),
            Self::Mislabelled { suggested, .. } => format!(
                "if the marking is right, upload with the label `{suggested}` (a person picks the category where it says only ITAR); if the marking is stale, correct the document first"
            ),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Classified { rules } => write!(
                f,
                "the content carries a classification banner ({}); classified information must never be stored in itarvault (E.O. 13526)",
                rules.join(", ")
            ),
            Self::Mislabelled {
                declared,
                suggested,
                rules,
            } => write!(
                f,
                "the content is marked `{suggested}` ({}) but was labelled `{declared}`",
                rules.join(", ")
            ),
        }
    }
}

/// Checks a declared label against the findings in the content. A classification
/// banner always conflicts; otherwise the content conflicts when it implies a more
/// restrictive control, or ITAR markings name categories of which the label's is none.
pub fn check(declared: &Label, findings: &[Finding]) -> Result<(), Conflict> {
    let rules_for = |pred: &dyn Fn(&Finding) -> bool| {
        let mut r: Vec<String> = Vec::new();
        for f in findings.iter().filter(|f| pred(f)) {
            if !r.contains(&f.rule) {
                r.push(f.rule.clone());
            }
        }
        r
    };
    let mislabelled = |rules| Conflict::Mislabelled {
        declared: declared.to_string(),
        suggested: suggest(findings).unwrap_or_default(),
        rules,
    };
    let declared_rank = Rank::of_label(declared);
    match Rank::of_findings(findings) {
        Rank::Classified => {
            return Err(Conflict::Classified {
                rules: rules_for(&|f| f.implies == Implies::Classified),
            })
        }
        implied if !implied.satisfied_by(declared_rank) => {
            let one = |f: &Finding| Rank::of_findings(std::slice::from_ref(f));
            return Err(mislabelled(rules_for(&|f| {
                !one(f).satisfied_by(declared_rank)
            })));
        }
        _ => {}
    }
    if let Some(cat) = declared.usml_category() {
        let named = rules_for(&|f| f.usml_category.is_some());
        let matches = findings
            .iter()
            .any(|f| f.usml_category.as_deref() == Some(cat.roman()));
        if !named.is_empty() && !matches {
            return Err(mislabelled(named));
        }
    }
    Ok(())
}

/// What to do with content that contradicts its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnMismatch {
    /// Refuse it.
    Refuse,
    /// Store it and flag the conflict in the audit record.
    Flag,
}

/// Why an upload is refused.
///
/// A type of its own rather than more [`Conflict`] variants: code that matches on a
/// conflict's kinds keeps compiling, and `code`, `rules`, `hint` and `Display` answer
/// for both kinds of refusal alike.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The content is classified, or contradicts its label.
    Content(Conflict),
    /// Part of the content could not be checked (an encrypted or oversized archive…),
    /// and the label (EAR99 or PUBLIC) claims it holds nothing ITAR- or
    /// ECCN-controlled; `cite` is where that claim is defined.
    Unchecked {
        declared: String,
        reason: Unchecked,
        cite: &'static str,
    },
}

impl Refusal {
    /// Stable machine-readable code: `content-classified`, `content-mislabelled`,
    /// `content-unchecked`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Content(c) => c.code(),
            Self::Unchecked { .. } => "content-unchecked",
        }
    }

    /// The marking rules behind the refusal (none when content could not be checked).
    pub fn rules(&self) -> &[String] {
        match self {
            Self::Content(c) => c.rules(),
            Self::Unchecked { .. } => &[],
        }
    }

    /// What the person uploading should do.
    pub fn hint(&self) -> String {
        match self {
            Self::Content(c) => c.hint(),
            Self::Unchecked { reason, .. } => reason.remedy(),
        }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Content(c) => c.fmt(f),
            Self::Unchecked {
                declared,
                reason,
                cite,
            } => write!(
                f,
                "the content could not be checked: {reason}; `{declared}` says none of it is on the USML or the CCL ({cite}), so it is stored only when all of it was checked"
            ),
        }
    }
}

/// What to do with an upload, from its declared label and what the check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadDecision {
    Store {
        /// A mislabelling let through by [`OnMismatch::Flag`].
        flagged: Option<Conflict>,
        /// Part of the content could not be checked; the ITAR or EAR label the upload
        /// carries already protects it as controlled.
        not_checked: Option<Unchecked>,
    },
    Refuse(Refusal),
}

impl UploadDecision {
    /// The audit note for a stored upload whose content was not all checked.
    pub fn note(&self) -> Option<String> {
        match self {
            Self::Store {
                not_checked: Some(reason),
                ..
            } => Some(format!("not checked: {reason}")),
            _ => None,
        }
    }
}

/// Decides an upload. In order:
/// - a classification banner anywhere (in the bytes or inside any container) is
///   refused under every label (E.O. 13526: classified information is never stored
///   here);
/// - content marked as more controlled than its label is refused (or, with
///   [`OnMismatch::Flag`], stored and flagged), as [`check`] says;
/// - content that could not all be checked is refused under EAR99 (subject to the EAR
///   but on no list, 15 CFR 774.1) and PUBLIC (public domain, 22 CFR 120.34; 15 CFR
///   734.7): those labels assert it holds nothing ITAR- or ECCN-controlled, which an
///   unopened container cannot support. Under an ITAR or EAR label it is stored (the
///   label already protects it as controlled) with the reason noted.
pub fn decide_upload(
    declared: &Label,
    outcome: &CheckOutcome,
    on_mismatch: OnMismatch,
) -> UploadDecision {
    let flagged = match check(declared, &outcome.findings) {
        Ok(()) => None,
        Err(c @ Conflict::Classified { .. }) => return UploadDecision::Refuse(Refusal::Content(c)),
        Err(c) if on_mismatch == OnMismatch::Refuse => {
            return UploadDecision::Refuse(Refusal::Content(c))
        }
        Err(c) => Some(c),
    };
    match &outcome.unchecked {
        Some(reason) if Rank::of_label(declared) <= Rank::Ear99 => {
            let cite = match declared.control() {
                Control::Public => "22 CFR 120.34; 15 CFR 734.7",
                _ => "15 CFR 774.1",
            };
            UploadDecision::Refuse(Refusal::Unchecked {
                declared: declared.to_string(),
                reason: reason.clone(),
                cite,
            })
        }
        not_checked => UploadDecision::Store {
            flagged,
            not_checked: not_checked.clone(),
        },
    }
}
