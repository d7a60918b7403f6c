//! Writes the audit-format known-answer vectors to `testdata/audit/`: one scenario per
//! file, each a log, its head, the verifying key and the expected outcome.
//!
//!     cargo run -p itarvault-audit --example gen_vectors
//!
//! Signatures are randomized (ECDSA), so regenerating changes the bytes but not the
//! outcomes; the vectors are consumed as data by `tests/vectors.rs`.

use itarvault_audit::{Chain, Event, Reason, Signer};
use serde_json::json;
use time::OffsetDateTime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let signer = Signer::generate()?;
    let at = OffsetDateTime::from_unix_timestamp(1_795_000_000)?;
    let mut chain = Chain::new();
    let mut lines = Vec::new();
    lines.push(chain.append(Event::new("log.open", "ok"), at));
    let mut deny = Event::new("object.get", "deny")
        .principal("bob")
        .object("designs", "blade.step");
    deny.country = Some("US".into());
    deny.label = Some("ITAR:XI".into());
    deny.reasons = vec![Reason {
        rule: "deemed-export-foreign-person".into(),
        cite: "22 CFR 120.56(a)(2)".into(),
    }];
    lines.push(chain.append(deny, at));
    let mut allow = Event::new("object.get", "allow")
        .principal("alice")
        .object("designs", "blade.step");
    allow.key = Some("unwrap local:bucket/designs v1".into());
    lines.push(chain.append(allow, at));
    lines.push(chain.checkpoint(&signer, at)?);
    lines.push(
        chain.append(
            Event::new("object.put", "ok")
                .principal("alice")
                .object("designs", "b2"),
            at,
        ),
    );
    lines.push(chain.append(
        Event::new("auth.failure", "deny").detail("the token is not valid"),
        at,
    ));
    let head = chain.head(&signer, at)?;
    let text = |ls: &[Vec<u8>]| String::from_utf8(ls.concat()).unwrap_or_default();

    let mut edited = lines.clone();
    edited[1] = String::from_utf8(edited[1].clone())?
        .replace("\"deny\"", "\"allow\"")
        .into_bytes();
    let mut deleted = lines.clone();
    deleted.remove(1);
    let mut inserted = lines.clone();
    inserted.insert(2, lines[1].clone());
    let mut reordered = lines.clone();
    reordered.swap(1, 2);
    let truncated = lines[..lines.len() - 1].to_vec();
    let mut forged = lines.clone();
    let cp = String::from_utf8(forged[3].clone())?;
    let at_sig = cp.find("\"sig\":\"").map_or(0, |i| i + 7);
    let mut b = cp.into_bytes();
    b[at_sig + 4] = if b[at_sig + 4] == b'a' { b'b' } else { b'a' };
    forged[3] = b;
    let mut partial = text(&lines).into_bytes();
    partial.extend_from_slice(b"{\"v\":1,\"seq\":7,\"ti");

    let key = signer.public_key().to_hex();
    let scenarios = [
        ("intact", text(&lines), "intact", ""),
        (
            "edited-record",
            text(&edited),
            "not-intact",
            "does not chain",
        ),
        ("deleted-record", text(&deleted), "not-intact", "missing"),
        (
            "inserted-record",
            text(&inserted),
            "not-intact",
            "inserted, duplicated or reordered",
        ),
        ("reordered-records", text(&reordered), "not-intact", "seq"),
        ("truncated", text(&truncated), "not-intact", "truncated"),
        (
            "forged-checkpoint",
            text(&forged),
            "not-intact",
            "invalid signature",
        ),
        (
            "incomplete-last-line",
            String::from_utf8(partial)?,
            "intact",
            "",
        ),
    ];
    for (name, log, expect, problem) in scenarios {
        let v = json!({
            "scenario": name,
            "public_key": key,
            "head": head,
            "log": log,
            "expect": expect,
            "problem_contains": problem,
        });
        std::fs::write(
            format!("testdata/audit/{name}.json"),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
    }
    Ok(())
}
