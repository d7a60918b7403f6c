//! The rule file: its model, its validation, and its compilation into matchers.
//!
//! Rules are data (`rules/markings.toml`) so that a compliance officer can read what
//! the scanner looks for, and so that every rule carries the examples that prove it
//! fires and the near-misses that prove it does not.

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// The rule set shipped with itarvault.
pub const BUILTIN_RULES: &str = include_str!("../rules/markings.toml");

/// How many bytes either side of a hit a rule may ask to see. Bounds the overlap the
/// streaming matcher keeps between chunks.
pub const MAX_WINDOW: usize = 1000;

/// What a marking says about the data it sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Implies {
    /// Subject to the ITAR (22 CFR 120-130).
    Itar,
    /// Subject to the EAR with an ECCN (15 CFR 730-774).
    Ear,
    /// Subject to the EAR, designated EAR99.
    Ear99,
    /// A CUI banner with an export-controlled category.
    Cui,
    /// A DoD distribution statement B-F.
    Distribution,
    /// Classified national security information: never belongs here.
    Classified,
}

impl Implies {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Itar => "ITAR",
            Self::Ear => "EAR",
            Self::Ear99 => "EAR99",
            Self::Cui => "CUI",
            Self::Distribution => "DISTRIBUTION",
            Self::Classified => "CLASSIFIED",
        }
    }
}

/// How sure a rule is; drives tag-versus-block decisions downstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub meta: Meta,
    #[serde(rename = "rule")]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub version: u32,
    pub effective: String,
    pub source: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub id: String,
    pub description: String,
    pub pattern: String,
    pub implies: Implies,
    pub confidence: Confidence,
    pub cite: String,
    #[serde(default)]
    pub window: usize,
    #[serde(default)]
    pub context: Vec<String>,
    #[serde(default)]
    pub negative: Vec<String>,
    #[serde(default)]
    pub whole_line: bool,
    pub examples: Vec<String>,
    pub negative_examples: Vec<String>,
}

/// A rule file that cannot be used, and why. Every problem is listed, not just the first.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("the rule file does not parse: {0}")]
    Parse(String),
    #[error("the rule file has {} problem(s):\n  {}", .0.len(), .0.join("\n  "))]
    Invalid(Vec<String>),
}

/// The capture names a pattern may use, and the only ones the scanner reads.
/// `mark`, when present, is the part reported as `matched` (the rest is context).
const CAPTURES: [&str; 6] = ["usml", "para", "eccn", "dist", "cui", "mark"];

/// A rule ready to run: its own regex (for captures) and its window checks.
#[derive(Debug)]
pub(crate) struct Compiled {
    pub rule: Rule,
    pub primary: Regex,
    pub context: Vec<Regex>,
    pub negative: Vec<Regex>,
}

/// The separator a literal space in a pattern stands for: whitespace and the comment
/// leaders that wrap a warning block across lines.
const SEPARATOR: &str = r"[\s*#/;!%>|\-]+";

/// Replaces each literal space outside a character class with [`SEPARATOR`].
pub(crate) fn expand_spaces(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() * 2);
    let mut in_class = false;
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => {
                escaped = false;
                out.push(c);
            }
            '\\' => {
                escaped = true;
                out.push(c);
            }
            '[' => {
                in_class = true;
                out.push(c);
            }
            ']' => {
                in_class = false;
                out.push(c);
            }
            ' ' if !in_class => out.push_str(SEPARATOR),
            _ => out.push(c),
        }
    }
    out
}

/// Turns named groups into plain groups, so that many rules can share one automaton.
pub(crate) fn strip_names(pattern: &str) -> String {
    let mut out = pattern.to_string();
    for name in CAPTURES {
        out = out.replace(&format!("(?P<{name}>"), "(?:");
        out = out.replace(&format!("(?<{name}>"), "(?:");
    }
    out
}

pub(crate) fn build(pattern: &str) -> Result<Regex, regex::Error> {
    // ASCII mode: Unicode `\b` drops the regex crate off its fast DFA on non-ASCII
    // input (compliance-tools.md 5.7), and markings are ASCII.
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(64 << 20)
        .dfa_size_limit(64 << 20)
        .build()
}

impl RuleFile {
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        toml::from_str(text).map_err(|e| RuleError::Parse(e.to_string()))
    }

    /// Checks every rule and compiles it, collecting all problems.
    pub(crate) fn compile(self) -> Result<(Meta, Vec<Compiled>), RuleError> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        if self.meta.version != 1 {
            problems.push(format!(
                "meta.version: {} is not supported (this build reads version 1)",
                self.meta.version
            ));
        }
        if self.rules.is_empty() {
            problems.push("the file has no [[rule]]".into());
        }
        for (i, rule) in self.rules.into_iter().enumerate() {
            let at = format!("rule[{i}] `{}`", rule.id);
            let mut bad = |what: String| problems.push(format!("{at}: {what}"));
            if rule.id.is_empty()
                || !rule
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                bad("id must be lowercase letters, digits and `-`".into());
            }
            if !seen.insert(rule.id.clone()) {
                bad("duplicate id".into());
            }
            if rule.window > MAX_WINDOW {
                bad(format!("window {} is over {MAX_WINDOW}", rule.window));
            }
            if rule.cite.trim().is_empty() {
                bad("cite is empty: every rule names the regulation behind it".into());
            }
            if rule.examples.is_empty() || rule.negative_examples.is_empty() {
                bad("needs at least one example and one negative example".into());
            }
            if (!rule.context.is_empty() || !rule.negative.is_empty()) && rule.window == 0 {
                bad("context or negative patterns need a window above 0".into());
            }
            let expanded = expand_spaces(&rule.pattern);
            let primary = match build(&expanded) {
                Ok(r) => Some(r),
                Err(e) => {
                    bad(format!("pattern does not compile: {e}"));
                    None
                }
            };
            if let Some(p) = &primary {
                for name in p.capture_names().flatten() {
                    if !CAPTURES.contains(&name) {
                        bad(format!(
                            "capture `{name}` is not one of {}",
                            CAPTURES.join(", ")
                        ));
                    }
                }
                if p.is_match(b"") {
                    bad("pattern matches the empty string".into());
                }
            }
            let mut window_res = |list: &[String], what: &str| {
                list.iter()
                    .filter_map(|p| match build(p) {
                        Ok(r) => Some(r),
                        Err(e) => {
                            problems.push(format!("{at}: {what} `{p}` does not compile: {e}"));
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            };
            let context = window_res(&rule.context, "context");
            let negative = window_res(&rule.negative, "negative");
            if let Some(primary) = primary {
                out.push(Compiled {
                    rule,
                    primary,
                    context,
                    negative,
                });
            }
        }
        if problems.is_empty() {
            Ok((self.meta, out))
        } else {
            Err(RuleError::Invalid(problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_outside_classes_become_separators() {
        assert_eq!(expand_spaces("a b"), format!("a{SEPARATOR}b"));
        assert_eq!(expand_spaces("[ -]x"), "[ -]x");
        assert_eq!(expand_spaces(r"\ [ ] y"), format!(r"\ [ ]{SEPARATOR}y"));
    }

    #[test]
    fn names_are_stripped_for_the_shared_automaton() {
        assert_eq!(strip_names("(?P<usml>X)(?P<para>y)"), "(?:X)(?:y)");
    }

    #[test]
    fn every_problem_is_listed() {
        let text = r#"
[meta]
version = 2
effective = "2026-01-01"
source = []
[[rule]]
id = "Bad Id"
description = ""
pattern = "(?P<nope>x"
implies = "ITAR"
confidence = "high"
cite = ""
window = 5000
examples = []
negative_examples = []
"#;
        let Err(RuleError::Invalid(problems)) = RuleFile::parse(text).and_then(|f| f.compile())
        else {
            panic!("accepted a broken rule file")
        };
        let all = problems.join("\n");
        for needle in [
            "meta.version",
            "id must be",
            "window 5000",
            "cite is empty",
            "example",
            "does not compile",
        ] {
            assert!(all.contains(needle), "{needle} missing from {all}");
        }
    }

    #[test]
    fn unknown_keys_are_refused() {
        let text = "[meta]\nversion = 1\neffective = \"x\"\nsource = []\nextra = 1\n";
        assert!(matches!(RuleFile::parse(text), Err(RuleError::Parse(m)) if m.contains("extra")));
    }
}
