//! Writes the audit-format known-answer vectors to `testdata/audit/`: one scenario per
//! file, each a log, its head (or null), what its witness holds, the verifying key and
//! the expected outcome.
//!
//!     cargo run -p itarvault-audit --example gen_vectors
//!
//! Signatures are randomized (ECDSA), so regenerating changes the bytes but not the
//! outcomes; the vectors are consumed as data by `tests/vectors.rs`.

use itarvault_audit::{line_hash, Chain, Event, Reason, Signer};
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
    let witnessed_4 = chain.head(&signer, at)?;
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

    // A backup taken at seq 3, restored after the witness saw seq 6: a restore epoch
    // that a quorum approves, and one still waiting.
    let backup = &lines[..3];
    let mut restored = Chain::resume(3, line_hash(backup[2].strip_suffix(b"\n").unwrap_or(&[])));
    let mut epoch = backup.to_vec();
    epoch.push(restored.begin_restore(
        &signer,
        head.anchor(),
        Event::new("restore", "pending").detail("disk replaced; backup of the night before"),
        at,
    )?);
    let pending_head = restored.head(&signer, at)?;
    let unapproved = epoch.clone();
    epoch.push(
        restored.append(
            Event::new("quorum.propose", "ok")
                .principal("admin")
                .grant("prop_1"),
            at,
        ),
    );
    epoch.push(
        restored.append(
            Event::new("quorum.approve", "ok")
                .principal("olive")
                .grant("prop_1"),
            at,
        ),
    );
    let statement = itarvault_audit::Restore {
        restored: itarvault_audit::Anchor {
            seq: 3,
            hash: line_hash(backup[2].strip_suffix(b"\n").unwrap_or(&[])),
        },
        witnessed: head.anchor(),
    };
    epoch.push(restored.approve_restore(
        &signer,
        statement,
        Event::new("restore", "ok").grant("prop_1"),
        at,
    )?);
    epoch.push(restored.checkpoint(&signer, at)?);
    let epoch_head = restored.head(&signer, at)?;
    // The same epoch, but claiming the witness saw less than it did (seq 5 instead of
    // 6): the jump lands on a witnessed sequence number, and the witness disagrees.
    let mut short = Chain::resume(3, line_hash(backup[2].strip_suffix(b"\n").unwrap_or(&[])));
    let mut understated = backup.to_vec();
    let mut claimed = head.anchor();
    claimed.seq = 5;
    understated.push(short.begin_restore(
        &signer,
        claimed,
        Event::new("restore", "pending"),
        at,
    )?);
    let understated_head = short.head(&signer, at)?;

    let key = signer.public_key().to_hex();
    let witness_all = json!([witnessed_4, head]);
    let rolled_back = lines[..4].to_vec();
    let specials = [
        (
            "head-missing",
            text(&lines),
            serde_json::Value::Null,
            json!([]),
            "not-intact",
            "head is missing",
        ),
        (
            "rolled-back-with-head",
            text(&rolled_back),
            json!(witnessed_4),
            witness_all.clone(),
            "not-intact",
            "rolled back",
        ),
        (
            "restore-approved",
            text(&epoch),
            json!(epoch_head),
            json!([witnessed_4, head, pending_head, epoch_head]),
            "intact",
            "",
        ),
        (
            "restore-unapproved",
            text(&unapproved),
            json!(pending_head),
            witness_all.clone(),
            "not-intact",
            "no quorum has approved",
        ),
        (
            "restore-understates-the-witness",
            text(&understated),
            json!(understated_head),
            witness_all,
            "not-intact",
            "differs from the one the witness saw",
        ),
    ];
    for (name, log, head, witnessed, expect, problem) in specials {
        let v = json!({
            "scenario": name,
            "public_key": key,
            "head": head,
            "witnessed": witnessed,
            "log": log,
            "expect": expect,
            "problem_contains": problem,
        });
        std::fs::write(
            format!("testdata/audit/{name}.json"),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
    }
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
