//! The decision output (docs/rules.md) and its explanation.

use std::fmt::Write as _;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    Allow,
    Deny,
}

/// One rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// Stable rule id (docs/rules.md).
    pub rule: &'static str,
    /// The regulation (or organisation policy) the rule applies.
    pub cite: String,
    /// What a compliance officer can act on.
    pub message: String,
}

impl Reason {
    pub fn new(rule: &'static str, cite: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            rule,
            cite: cite.into(),
            message: message.into(),
        }
    }
}

/// The facts a decision used and why each candidate authorization failed; printed by
/// `--explain`, never part of the JSON contract.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Explanation {
    pub facts: Vec<(&'static str, String)>,
    pub candidates: Vec<(String, String)>,
}

impl Explanation {
    pub(crate) fn fact(&mut self, name: &'static str, value: &str) {
        self.facts.push((name, value.to_owned()));
    }
}

/// A decision. Deny overrides: once a rule denied, allow reasons are dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub decision: Effect,
    pub reasons: Vec<Reason>,
    pub authorization_used: Option<String>,
    #[serde(skip)]
    pub explanation: Explanation,
    #[serde(skip)]
    decided: bool,
}

impl Default for Decision {
    fn default() -> Self {
        Self::new()
    }
}

impl Decision {
    /// Starts undecided; an undecided decision reads as deny (fail closed).
    pub fn new() -> Self {
        Self {
            decision: Effect::Deny,
            reasons: Vec::new(),
            authorization_used: None,
            explanation: Explanation::default(),
            decided: false,
        }
    }

    pub fn is_undecided(&self) -> bool {
        !self.decided
    }

    pub fn is_allow(&self) -> bool {
        self.decided && self.decision == Effect::Allow
    }

    pub(crate) fn allow(&mut self, r: Reason) {
        if self.decided && self.decision == Effect::Deny {
            return;
        }
        self.decided = true;
        self.decision = Effect::Allow;
        self.reasons.push(r);
    }

    /// Adds a denying reason from outside the floor (an organisation rule such as a
    /// residency mode). Deny overrides, so this can only narrow a decision.
    pub fn narrow(&mut self, r: Reason) {
        self.deny(r);
    }

    pub(crate) fn deny(&mut self, r: Reason) {
        if self.decision == Effect::Allow {
            self.reasons.clear();
            self.authorization_used = None;
        }
        self.decided = true;
        self.decision = Effect::Deny;
        self.reasons.push(r);
    }

    /// A person-readable explanation: the outcome, each rule with its facts, the
    /// candidates that did not match, and what would change the outcome.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        let outcome = if self.is_allow() { "ALLOW" } else { "DENY" };
        let _ = writeln!(s, "decision: {outcome}");
        for r in &self.reasons {
            let _ = writeln!(s, "  rule {} ({})\n    {}", r.rule, r.cite, r.message);
        }
        if let Some(a) = &self.authorization_used {
            let _ = writeln!(s, "authorization used: {a}");
        }
        let _ = writeln!(s, "facts used:");
        for (k, v) in &self.explanation.facts {
            let _ = writeln!(s, "  {k}: {v}");
        }
        if !self.explanation.candidates.is_empty() {
            let _ = writeln!(s, "authorizations considered:");
            for (id, why) in &self.explanation.candidates {
                let _ = writeln!(s, "  {id}: {why}");
            }
        }
        if !self.is_allow() {
            let _ = writeln!(s, "what would change the outcome:");
            for r in &self.reasons {
                let _ = writeln!(s, "  {}", what_would_change(r.rule));
            }
        }
        s
    }
}

fn what_would_change(rule: &str) -> &'static str {
    match rule {
        "deemed-export-foreign-person" => {
            "an authorization (license, agreement or exemption) valid today, within its scope, naming every country listed and the data's category (each held one is listed with what it lacks)"
        }
        "proscribed-country-national" => {
            "a license or agreement (DSP-5, TAA, MLA, WDA; for EAR data a BIS license) naming the proscribed country explicitly; no exemption can cover it"
        }
        "us-person-abroad-unauthorized" => "an authorization covering the country the person is in (e.g. the 125.4(b)(9) exemption), or access from the US",
        "located-in-proscribed-country" | "write-from-proscribed-country" | "sent-from-proscribed-country" => {
            "nothing while the person or data is in a proscribed country: access only from elsewhere"
        }
        "unknown-location" => "a known source country: connect from a mapped network range",
        "unknown-person-status" => "screening the person and recording their US-person status",
        "label-missing" | "label-unparseable" => "a valid export-control label on the data",
        "store-abroad-not-end-to-end" => "end-to-end encryption with keys no third party holds, or storage in the US",
        "store-proscribed-country" => "a storage location outside the proscribed countries",
        "ear99-embargoed-country" => "no Country Group E:1/E:2 country involved",
        "org-policy" => "the organisation policy named in the reason (ask its owner)",
        _ => "see docs/rules.md for this rule",
    }
}
