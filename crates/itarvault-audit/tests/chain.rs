//! Every way of altering a log is detected, and says where.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use itarvault_audit::{verify, Chain, Event, Head, Signer};
use proptest::prelude::*;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap()
}

/// A log of `n` events with a checkpoint after every 4th, and its head.
fn build(n: usize, signer: &Signer) -> (Vec<Vec<u8>>, Head) {
    let mut chain = Chain::new();
    let mut lines = Vec::new();
    for i in 0..n {
        let ev = Event::new("object.get", "allow")
            .principal(format!("p{i}"))
            .object("b", format!("k{i}"));
        lines.push(chain.append(ev, now()));
        if i % 4 == 3 {
            lines.push(chain.checkpoint(signer, now()).unwrap());
        }
    }
    let head = chain.head(signer, now()).unwrap();
    (lines, head)
}

fn join(lines: &[Vec<u8>]) -> Vec<u8> {
    lines.concat()
}

#[test]
fn an_untouched_log_verifies() {
    let s = Signer::generate().unwrap();
    let (lines, head) = build(10, &s);
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(rep.is_intact(), "{:?}", rep.problems);
    assert_eq!(rep.records, 12);
    assert_eq!(rep.checkpoints, 2);
    assert_eq!(rep.last_seq, 12);
    assert_eq!(rep.last_signed_seq, 10);
    assert!(rep.head_checked);
}

#[test]
fn an_empty_log_with_no_head_verifies() {
    let rep = verify(&b""[..], &[], None);
    assert!(rep.is_intact());
    assert_eq!(rep.records, 0);
}

#[test]
fn an_edited_field_is_found_at_the_next_record() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(6, &s);
    let edited = String::from_utf8(lines[2].clone())
        .unwrap()
        .replace("\"allow\"", "\"deny\"");
    lines[2] = edited.into_bytes();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(!rep.is_intact());
    assert_eq!(rep.problems[0].line, 4, "{:?}", rep.problems);
    assert!(rep.problems[0].message.contains("does not chain"));
}

#[test]
fn editing_the_last_record_is_caught_by_the_head() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(3, &s);
    let last = lines.len() - 1;
    lines[last] = String::from_utf8(lines[last].clone())
        .unwrap()
        .replace("p2", "p9")
        .into_bytes();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(
        rep.problems
            .iter()
            .any(|p| p.message.contains("signed head names")),
        "{:?}",
        rep.problems
    );
}

#[test]
fn a_deleted_record_is_found() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(6, &s);
    lines.remove(1);
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(
        rep.problems[0].message.contains("missing"),
        "{:?}",
        rep.problems
    );
    assert_eq!(rep.problems[0].seq, Some(3));
}

#[test]
fn an_inserted_record_is_found() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(6, &s);
    let dup = lines[2].clone();
    lines.insert(3, dup);
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(
        rep.problems[0]
            .message
            .contains("inserted, duplicated or reordered"),
        "{:?}",
        rep.problems
    );
    assert_eq!(rep.problems[0].line, 4);
}

#[test]
fn reordered_records_are_found() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(6, &s);
    lines.swap(1, 2);
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(!rep.is_intact());
    assert_eq!(rep.problems[0].line, 1 + 1);
}

#[test]
fn truncation_is_found_through_the_head() {
    let s = Signer::generate().unwrap();
    let (mut lines, head) = build(9, &s);
    lines.truncate(lines.len() - 2);
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(
        rep.problems.iter().any(|p| p.message.contains("truncated")),
        "{:?}",
        rep.problems
    );
}

#[test]
fn a_forged_checkpoint_is_found() {
    let s = Signer::generate().unwrap();
    let mallory = Signer::generate().unwrap();
    let (lines, head) = build(4, &s);
    // Re-sign the whole log with another key but present the real key.
    let (forged, _) = build(4, &mallory);
    let rep = verify(join(&forged).as_slice(), &[s.public_key()], Some(&head));
    assert!(
        rep.problems
            .iter()
            .any(|p| p.message.contains("unknown key")),
        "{:?}",
        rep.problems
    );
    // A signature edited in place is invalid.
    let mut lines = lines;
    let cp = String::from_utf8(lines[4].clone()).unwrap();
    let sig_at = cp.find("\"sig\":\"").unwrap() + 7;
    let mut b = cp.into_bytes();
    b[sig_at + 10] = if b[sig_at + 10] == b'0' { b'1' } else { b'0' };
    lines[4] = b;
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], None);
    assert!(
        rep.problems
            .iter()
            .any(|p| p.message.contains("invalid signature")),
        "{:?}",
        rep.problems
    );
}

#[test]
fn a_forged_head_is_found() {
    let s = Signer::generate().unwrap();
    let (lines, mut head) = build(4, &s);
    head.seq += 5;
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(rep
        .problems
        .iter()
        .any(|p| p.message.contains("head has an invalid signature")));
}

#[test]
fn a_reencoded_line_is_not_accepted() {
    let s = Signer::generate().unwrap();
    let (mut lines, _) = build(2, &s);
    let v: serde_json::Value =
        serde_json::from_slice(lines[0].strip_suffix(b"\n").unwrap()).unwrap();
    lines[0] = format!(
        "{}\n",
        serde_json::to_string_pretty(&v).unwrap().replace('\n', "")
    )
    .into_bytes();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], None);
    assert!(
        rep.problems[0].message.contains("canonical"),
        "{:?}",
        rep.problems
    );
}

#[test]
fn an_unknown_field_or_version_is_not_accepted() {
    let s = Signer::generate().unwrap();
    let (mut lines, _) = build(2, &s);
    lines[0] = String::from_utf8(lines[0].clone())
        .unwrap()
        .replacen("{\"v\":1", "{\"v\":2", 1)
        .into_bytes();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], None);
    assert!(
        rep.problems[0].message.contains("version"),
        "{:?}",
        rep.problems
    );
    let (mut lines, _) = build(2, &s);
    lines[0] = String::from_utf8(lines[0].clone())
        .unwrap()
        .replacen("\"kind\"", "\"x\":1,\"kind\"", 1)
        .into_bytes();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], None);
    assert!(!rep.is_intact());
}

#[test]
fn an_incomplete_last_line_is_a_note_not_a_problem() {
    let s = Signer::generate().unwrap();
    let (lines, head) = build(2, &s);
    let mut log = join(&lines);
    log.extend_from_slice(b"{\"v\":1,\"seq\":3");
    let rep = verify(log.as_slice(), &[s.public_key()], Some(&head));
    assert!(rep.is_intact());
    assert_eq!(rep.notes.len(), 1);
    assert_eq!(rep.records, 2);
}

#[test]
fn a_chain_resumes_where_the_log_ended() {
    let s = Signer::generate().unwrap();
    let (mut lines, _) = build(3, &s);
    let rep = verify(join(&lines).as_slice(), &[], None);
    let mut chain = Chain::resume(rep.last_seq, rep.last_hash);
    lines.push(chain.append(Event::new("log.start", "ok"), now()));
    let head = chain.head(&s, now()).unwrap();
    let rep = verify(join(&lines).as_slice(), &[s.public_key()], Some(&head));
    assert!(rep.is_intact(), "{:?}", rep.problems);
}

#[test]
fn signing_keys_round_trip_through_pkcs8_and_hex() {
    let s = Signer::generate().unwrap();
    let again = Signer::from_pkcs8(s.pkcs8()).unwrap();
    assert_eq!(again.key_id(), s.key_id());
    let pk = itarvault_audit::PublicKey::from_hex(&s.public_key().to_hex()).unwrap();
    assert_eq!(pk, s.public_key());
    assert!(Signer::from_pkcs8(b"not a key").is_err());
    assert!(!format!("{s:?}").contains(&hex::encode(s.pkcs8())));
}

proptest! {
    /// Flipping any single byte of any line is detected (or the line becomes
    /// unreadable): nothing can be altered silently.
    #[test]
    fn any_byte_flip_is_detected(n in 2usize..8, which in any::<prop::sample::Index>(), bit in 0u8..8) {
        let s = Signer::generate().unwrap();
        let (lines, head) = build(n, &s);
        let mut log = join(&lines);
        let i = which.index(log.len());
        log[i] ^= 1 << bit;
        let rep = verify(log.as_slice(), &[s.public_key()], Some(&head));
        prop_assert!(!rep.is_intact(), "flip at {} undetected", i);
    }
}
