//! The log against its witness: cutting the end (with or without the head), rolling
//! log and head back together, rewriting, and restore epochs.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use itarvault_audit::{
    line_hash, verify, verify_witnessed, Anchor, Chain, Event, Head, ProblemKind, Restore, Signer,
    VerifyReport,
};
use proptest::prelude::*;
use time::OffsetDateTime;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_795_000_000).unwrap()
}

/// A running log: its lines, the chain, and every head the witness was sent.
struct Log {
    signer: Signer,
    chain: Chain,
    lines: Vec<Vec<u8>>,
    witnessed: Vec<Head>,
}

impl Log {
    fn new() -> Self {
        Self {
            signer: Signer::generate().unwrap(),
            chain: Chain::new(),
            lines: Vec::new(),
            witnessed: Vec::new(),
        }
    }

    /// `n` records, a checkpoint, and its head sent to the witness.
    fn grow(&mut self, n: usize) -> Head {
        for i in 0..n {
            let ev = Event::new("object.get", "deny").principal(format!("p{i}"));
            self.lines.push(self.chain.append(ev, now()));
        }
        self.lines
            .push(self.chain.checkpoint(&self.signer, now()).unwrap());
        let h = self.head();
        self.witnessed.push(h.clone());
        h
    }

    fn head(&self) -> Head {
        self.chain.head(&self.signer, now()).unwrap()
    }

    fn text(&self) -> Vec<u8> {
        self.lines.concat()
    }

    fn check(&self, log: &[u8], head: Option<&Head>) -> VerifyReport {
        verify_witnessed(log, &[self.signer.public_key()], head, &self.witnessed)
    }

    /// The first `records` lines, as a backup taken then would hold them, with a
    /// chain that continues after them.
    fn backup(&self, records: usize) -> (Vec<Vec<u8>>, Chain) {
        let lines = self.lines[..records].to_vec();
        let last = lines.last().unwrap();
        let hash = line_hash(last.strip_suffix(b"\n").unwrap());
        (lines, Chain::resume(records as u64, hash))
    }
}

fn kinds(r: &VerifyReport) -> Vec<ProblemKind> {
    r.problems.iter().map(|p| p.kind).collect()
}

#[test]
fn a_log_that_matches_its_witness_is_intact() {
    let mut l = Log::new();
    l.grow(3);
    l.grow(5);
    let head = l.head();
    let r = l.check(&l.text(), Some(&head));
    assert!(r.is_intact(), "{:?}", r.problems);
    assert_eq!(r.witness_checked, 2);
    assert_eq!(r.witness_last_seq, Some(10));
}

/// Cut (a): delete the head and cut the last records off. Without the head the log is
/// not intact; with the witness, the cut shows as a rollback.
#[test]
fn cutting_the_log_and_deleting_its_head_is_detected() {
    let mut l = Log::new();
    l.grow(3);
    l.grow(5);
    let cut = &l.lines[..l.lines.len() - 5];
    let alone = verify(cut.concat().as_slice(), &[l.signer.public_key()], None);
    assert_eq!(kinds(&alone), vec![ProblemKind::HeadMissing]);
    let witnessed = l.check(&cut.concat(), None);
    assert!(witnessed.has(ProblemKind::RolledBack), "{witnessed:?}");
    assert!(witnessed.problems[0].message.contains("reach seq 10"));
    // An empty log with no head is a fresh one, and intact on its own.
    assert!(verify(&b""[..], &[l.signer.public_key()], None).is_intact());
    assert!(l.check(b"", None).has(ProblemKind::RolledBack));
}

/// Cut (b): keep an old signed head, later cut the log back to it and put the old head
/// back. The log and head agree; the witness saw further.
#[test]
fn rolling_log_and_head_back_together_is_caught_by_the_witness() {
    let mut l = Log::new();
    let old = l.grow(3);
    let kept = l.lines.clone();
    l.grow(2);
    l.grow(4);
    let alone = verify(
        kept.concat().as_slice(),
        &[l.signer.public_key()],
        Some(&old),
    );
    assert!(alone.is_intact(), "without a witness it cannot be seen");
    let r = l.check(&kept.concat(), Some(&old));
    assert_eq!(kinds(&r), vec![ProblemKind::RolledBack], "{r:?}");
    assert!(r.problems[0].message.contains("2 witnessed heads"), "{r:?}");
}

#[test]
fn a_rewritten_history_differs_from_the_witness() {
    let mut l = Log::new();
    l.grow(3);
    let w = l.witnessed.clone();
    // Someone with the signing key writes a different history of the same length.
    let mut other = Log::new();
    other.signer = Signer::from_pkcs8(l.signer.pkcs8()).unwrap();
    for i in 0..3 {
        let ev = Event::new("object.get", "allow").principal(format!("p{i}"));
        other.lines.push(other.chain.append(ev, now()));
    }
    other
        .lines
        .push(other.chain.checkpoint(&other.signer, now()).unwrap());
    let head = other.head();
    let r = verify_witnessed(
        other.text().as_slice(),
        &[l.signer.public_key()],
        Some(&head),
        &w,
    );
    assert_eq!(kinds(&r), vec![ProblemKind::Diverged], "{r:?}");
}

#[test]
fn a_witness_entry_not_signed_by_the_log_key_or_a_split_view_is_a_problem() {
    let mut l = Log::new();
    l.grow(2);
    let head = l.head();
    let mut forged = head.clone();
    forged.seq += 1;
    l.witnessed.push(forged);
    let r = l.check(&l.text(), Some(&head));
    assert_eq!(kinds(&r), vec![ProblemKind::WitnessInvalid], "{r:?}");

    let mut l = Log::new();
    l.grow(2);
    let head = l.head();
    let mut other = Chain::resume(2, line_hash(b"something else"));
    other.append(Event::new("x", "ok"), now());
    l.witnessed.push(other.head(&l.signer, now()).unwrap());
    let r = l.check(&l.text(), Some(&head));
    assert!(r.has(ProblemKind::Diverged), "{r:?}");
}

/// A restore from backup is an epoch: it names the backup's end and the witness's
/// newest head, continues after the latter, and a quorum approves it.
#[test]
fn an_approved_restore_epoch_is_accepted_and_says_what_was_given_up() {
    let mut l = Log::new();
    l.grow(3);
    l.grow(4);
    let witnessed = l.witnessed.last().unwrap().clone();
    let (mut lines, mut chain) = l.backup(4);
    lines.push(
        chain
            .begin_restore(
                &l.signer,
                witnessed.anchor(),
                Event::new("restore", "pending"),
                now(),
            )
            .unwrap(),
    );
    assert_eq!(chain.last_seq(), witnessed.seq + 1);
    let pending_head = chain.head(&l.signer, now()).unwrap();
    let r = verify_witnessed(
        lines.concat().as_slice(),
        &[l.signer.public_key()],
        Some(&pending_head),
        &l.witnessed,
    );
    assert_eq!(kinds(&r), vec![ProblemKind::RestorePending], "{r:?}");
    assert_eq!(r.pending_restore().unwrap().seq, witnessed.seq + 1);

    lines.push(chain.append(Event::new("quorum.propose", "ok").grant("prop_1"), now()));
    let statement = Restore {
        restored: Anchor {
            seq: 4,
            hash: line_hash(l.lines[3].strip_suffix(b"\n").unwrap()),
        },
        witnessed: witnessed.anchor(),
    };
    lines.push(
        chain
            .approve_restore(
                &l.signer,
                statement.clone(),
                Event::new("restore", "ok").grant("prop_1"),
                now(),
            )
            .unwrap(),
    );
    lines.push(chain.append(Event::new("object.get", "allow"), now()));
    let head = chain.head(&l.signer, now()).unwrap();
    let mut witnessed_all = l.witnessed.clone();
    witnessed_all.push(pending_head);
    witnessed_all.push(head.clone());
    let r = verify_witnessed(
        lines.concat().as_slice(),
        &[l.signer.public_key()],
        Some(&head),
        &witnessed_all,
    );
    assert!(r.is_intact(), "{:?}", r.problems);
    let epoch = &r.restores[0];
    assert_eq!(epoch.grant.as_deref(), Some("prop_1"));
    assert_eq!(epoch.restored, statement.restored);
    assert_eq!(
        epoch.abandoned_witnessed, 1,
        "the head at seq 9 was given up"
    );

    // The same log without the witness verifies too: the jump is the signed restore.
    let alone = verify(
        lines.concat().as_slice(),
        &[l.signer.public_key()],
        Some(&head),
    );
    assert!(alone.is_intact(), "{:?}", alone.problems);

    // An approval must name its proposal.
    let mut no_grant = lines.clone();
    let mut c2 = Chain::resume(
        witnessed.seq + 2,
        line_hash(no_grant[5].strip_suffix(b"\n").unwrap()),
    );
    no_grant.truncate(6);
    no_grant.push(
        c2.approve_restore(&l.signer, statement, Event::new("restore", "ok"), now())
            .unwrap(),
    );
    let r = verify(no_grant.concat().as_slice(), &[l.signer.public_key()], None);
    assert!(
        r.problems
            .iter()
            .any(|p| p.message.contains("names no quorum proposal")),
        "{r:?}"
    );
}

#[test]
fn a_jump_in_sequence_numbers_is_accepted_only_as_a_signed_restore_that_matches() {
    let mut l = Log::new();
    l.grow(3);
    l.grow(4);
    let witnessed = l.witnessed.last().unwrap().clone();
    let keys = [l.signer.public_key()];

    // A restore signed by another key is not believed.
    let (mut lines, mut chain) = l.backup(4);
    let mallory = Signer::generate().unwrap();
    lines.push(
        chain
            .begin_restore(
                &mallory,
                witnessed.anchor(),
                Event::new("restore", "pending"),
                now(),
            )
            .unwrap(),
    );
    let r = verify(lines.concat().as_slice(), &keys, None);
    assert!(
        r.problems.iter().any(|p| p.message.contains("unknown key")),
        "{r:?}"
    );

    // An edited restore statement breaks its signature.
    let (mut lines, mut chain) = l.backup(4);
    let line = chain
        .begin_restore(
            &l.signer,
            witnessed.anchor(),
            Event::new("restore", "pending"),
            now(),
        )
        .unwrap();
    lines.push(
        String::from_utf8(line)
            .unwrap()
            .replace("\"outcome\":\"pending\"", "\"outcome\":\"ok\"")
            .into_bytes(),
    );
    let r = verify(lines.concat().as_slice(), &keys, None);
    assert!(!r.is_intact());

    // A restore that does not name the record before it (a record was removed under
    // it) is not a restore.
    let (mut lines, mut chain) = l.backup(4);
    lines.remove(3);
    lines.push(
        chain
            .begin_restore(
                &l.signer,
                witnessed.anchor(),
                Event::new("restore", "pending"),
                now(),
            )
            .unwrap(),
    );
    let r = verify(lines.concat().as_slice(), &keys, None);
    assert!(
        r.problems
            .iter()
            .any(|p| p.message.contains("does not follow")),
        "{r:?}"
    );

    // An ordinary record cannot skip.
    let mut lines = l.lines.clone();
    lines.remove(2);
    let r = verify(lines.concat().as_slice(), &keys, None);
    assert!(r.has(ProblemKind::Altered));

    // There is nothing to restore when the log is not behind its witness.
    let mut c = l.chain.clone();
    let e = c
        .begin_restore(
            &l.signer,
            witnessed.anchor(),
            Event::new("restore", "pending"),
            now(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("nothing to restore"), "{e}");
}

#[test]
fn an_approval_without_an_open_restore_is_refused() {
    let mut l = Log::new();
    l.grow(2);
    let statement = Restore {
        restored: Anchor {
            seq: 1,
            hash: "00".repeat(32),
        },
        witnessed: l.chain.anchor(),
    };
    let line = l
        .chain
        .approve_restore(
            &l.signer,
            statement,
            Event::new("restore", "ok").grant("prop_x"),
            now(),
        )
        .unwrap();
    l.lines.push(line);
    let head = l.head();
    let r = verify(l.text().as_slice(), &[l.signer.public_key()], Some(&head));
    assert!(
        r.problems
            .iter()
            .any(|p| p.message.contains("approves no restore")),
        "{r:?}"
    );
}

proptest! {
    /// Model check: for any log, any set of heads sent to the witness along the way and
    /// any cut of the log (with the head of that moment or none), verification against
    /// the witness is intact exactly when nothing witnessed was cut.
    #[test]
    fn any_cut_below_the_newest_witnessed_head_is_detected(
        sizes in prop::collection::vec(1usize..5, 1..6),
        cut in any::<prop::sample::Index>(),
        keep_head in any::<bool>(),
    ) {
        let mut l = Log::new();
        let mut heads = vec![(0usize, None::<Head>)];
        for n in sizes {
            l.grow(n);
            heads.push((l.lines.len(), Some(l.head())));
        }
        // Cut to any length; with the head as it was when the log had that length.
        let keep = cut.index(l.lines.len() + 1);
        let head = if keep_head {
            heads.iter().rev().find(|(len, _)| *len <= keep).and_then(|(_, h)| h.clone())
        } else {
            None
        };
        let log = l.lines[..keep].concat();
        let r = l.check(&log, head.as_ref());
        let newest = l.witnessed.last().unwrap().seq as usize;
        if keep >= newest && (head.is_some() || keep == 0) {
            prop_assert!(r.is_intact(), "{:?}", r.problems);
        } else {
            prop_assert!(!r.is_intact(), "cut to {keep} of newest witnessed {newest} undetected");
        }
    }
}
