#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use itarvault_lockbox::*;
use proptest::prelude::*;
use time::{Duration, OffsetDateTime};

/// Operations as a server might define them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Operation {
    KeyDestroy { key: String, days: i64 },
    ResidencySet { mode: String },
}

impl QuorumOperation for Operation {
    fn effect(&self) -> String {
        match self {
            Self::KeyDestroy { key, days } => {
                format!("schedule `{key}` for destruction in {days} days")
            }
            Self::ResidencySet { mode } => format!("set residency to `{mode}`"),
        }
    }
    fn name(&self) -> &'static str {
        match self {
            Self::KeyDestroy { .. } => "key_destroy",
            Self::ResidencySet { .. } => "residency_set",
        }
    }
}

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn owners(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn ask(scope: Scope, hours: i64) -> NewAccess {
    NewAccess {
        scope,
        actions: vec![ContentAction::Read],
        justification: "INC-7: customer reports a corrupt drawing".into(),
        duration: Duration::hours(hours),
    }
}

fn request(required: u32) -> AccessRequest {
    AccessRequest::file(
        "req_1",
        "sam",
        ask(
            Scope::Prefix {
                bucket: "designs".into(),
                prefix: "wing/".into(),
            },
            2,
        ),
        &owners(&["olive", "oscar", "sam"]),
        required,
        t0(),
        &Limits::default(),
    )
    .unwrap()
}

#[test]
fn a_grant_covers_its_scope_actions_and_window_only() {
    let mut r = request(1);
    assert!(!r.permits("sam", "designs", "wing/a", ContentAction::Read, t0()));
    r.approve("olive", t0()).unwrap();
    assert_eq!(r.state, State::Approved);
    let t = t0() + Duration::minutes(30);
    assert!(r.permits("sam", "designs", "wing/a", ContentAction::Read, t));
    // Outside the prefix, bucket, actions, holder or window: nothing.
    assert!(!r.permits("sam", "designs", "tail/a", ContentAction::Read, t));
    assert!(!r.permits("sam", "other", "wing/a", ContentAction::Read, t));
    assert!(!r.permits("sam", "designs", "wing/a", ContentAction::Write, t));
    assert!(!r.permits("olive", "designs", "wing/a", ContentAction::Read, t));
    assert!(!r.permits(
        "sam",
        "designs",
        "wing/a",
        ContentAction::Read,
        t0() + Duration::hours(2)
    ));
    assert!(!r.permits(
        "sam",
        "designs",
        "wing/a",
        ContentAction::Read,
        t0() - Duration::seconds(1)
    ));
    r.record_use();
    assert_eq!((r.state, r.uses), (State::Used, 1));
    assert!(r.permits("sam", "designs", "wing/a", ContentAction::Read, t));
    assert!(r.settle(t0() + Duration::hours(2)));
    assert_eq!(r.state, State::Expired);
}

#[test]
fn the_requester_never_approves_their_own_request() {
    let mut r = request(1);
    let e = r.approve("sam", t0()).unwrap_err();
    assert!(matches!(e, LockboxError::SelfApproval(..)), "{e}");
    assert_eq!(r.state, State::Pending);
    assert!(r.deny("sam", "no", t0()).is_err());
}

#[test]
fn only_the_snapshotted_approvers_decide() {
    let mut r = request(1);
    let e = r.approve("mallory", t0()).unwrap_err();
    assert!(matches!(e, LockboxError::NotApprover { .. }), "{e}");
    assert!(e.to_string().contains("olive, oscar, sam"), "{e}");
    assert!(r.deny("mallory", "x", t0()).is_err());
    assert_eq!(r.state, State::Pending);
}

#[test]
fn approving_twice_counts_once() {
    let mut r = request(2);
    r.approve("olive", t0()).unwrap();
    let e = r.approve("olive", t0()).unwrap_err();
    assert!(matches!(e, LockboxError::AlreadyApproved { .. }), "{e}");
    assert_eq!(r.state, State::Pending);
    r.approve("oscar", t0()).unwrap();
    assert_eq!(r.state, State::Approved);
}

#[test]
fn terminal_states_are_final() {
    let mut denied = request(1);
    denied.deny("olive", "not justified", t0()).unwrap();
    assert_eq!(denied.state, State::Denied);
    assert!(matches!(
        denied.approve("oscar", t0()).unwrap_err(),
        LockboxError::NotPending {
            state: State::Denied,
            ..
        }
    ));
    assert!(denied.revoke("olive", "x", t0()).is_err());

    let mut revoked = request(1);
    revoked.approve("olive", t0()).unwrap();
    revoked.revoke("oscar", "incident closed", t0()).unwrap();
    assert!(!revoked.permits("sam", "designs", "wing/a", ContentAction::Read, t0()));
    assert!(revoked.approve("oscar", t0()).is_err());
    assert!(revoked.revoke("olive", "again", t0()).is_err());
}

#[test]
fn an_undecided_request_lapses_and_cannot_be_approved_late() {
    let mut r = request(1);
    let late = t0() + Limits::default().pending;
    let e = r.approve("olive", late).unwrap_err();
    assert!(
        matches!(
            e,
            LockboxError::NotPending {
                state: State::Expired,
                ..
            }
        ),
        "{e}"
    );
    assert_eq!(r.state, State::Expired);
}

#[test]
fn only_approvers_or_the_requester_revoke() {
    let mut r = request(1);
    r.approve("olive", t0()).unwrap();
    assert!(matches!(
        r.revoke("mallory", "x", t0()).unwrap_err(),
        LockboxError::NotRevoker { .. }
    ));
    r.revoke("sam", "done early", t0()).unwrap();
    assert_eq!(r.state, State::Revoked);
}

#[test]
fn filing_refuses_what_cannot_be_granted() {
    let l = Limits::default();
    let s = || Scope::Bucket { bucket: "b".into() };
    // Only the requester owns the bucket: nobody could approve.
    let e =
        AccessRequest::file("r", "sam", ask(s(), 1), &owners(&["sam"]), 1, t0(), &l).unwrap_err();
    assert!(
        matches!(e, LockboxError::Unreachable { available: 0, .. }),
        "{e}"
    );
    // Longer than the bound, zero, or without a justification or action.
    assert!(AccessRequest::file("r", "sam", ask(s(), 9), &owners(&["o"]), 1, t0(), &l).is_err());
    assert!(AccessRequest::file("r", "sam", ask(s(), 0), &owners(&["o"]), 1, t0(), &l).is_err());
    let mut a = ask(s(), 1);
    a.justification = "  ".into();
    assert!(AccessRequest::file("r", "sam", a, &owners(&["o"]), 1, t0(), &l).is_err());
    let mut a = ask(s(), 1);
    a.actions.clear();
    assert!(AccessRequest::file("r", "sam", a, &owners(&["o"]), 1, t0(), &l).is_err());
    assert!(AccessRequest::file("r", "sam", ask(s(), 1), &owners(&["o"]), 0, t0(), &l).is_err());
}

#[test]
fn a_quorum_needs_m_distinct_approvers_besides_the_proposer_within_the_window() {
    let op = Operation::KeyDestroy {
        key: "bucket/designs".into(),
        days: 7,
    };
    let quorum = owners(&["ann", "ben", "cat"]);
    let mut p = Proposal::propose(
        "prop_1",
        "ann",
        op.clone(),
        "retire program X",
        &Quorum {
            approvers: &quorum,
            required: 2,
            window: Duration::hours(24),
        },
        t0(),
    )
    .unwrap();
    assert!(p.effect.contains("destruction in 7 days"));
    assert!(
        p.approve("ann", t0()).is_err(),
        "the proposer is not one of the M"
    );
    p.approve("ben", t0()).unwrap();
    assert!(p.approve("ben", t0()).is_err());
    assert_eq!(p.state, State::Pending);
    p.approve("cat", t0()).unwrap();
    assert_eq!(p.state, State::Approved);
    p.finish(Outcome::Executed("scheduled".into()));
    assert_eq!(p.state, State::Executed);
    assert!(p.approve("cat", t0()).is_err());

    // Two approvers besides the proposer cannot make three.
    assert!(Proposal::propose(
        "p",
        "ann",
        op.clone(),
        "x",
        &Quorum {
            approvers: &quorum,
            required: 3,
            window: Duration::hours(1)
        },
        t0()
    )
    .is_err());

    let mut late = Proposal::propose(
        "p",
        "ann",
        op,
        "x",
        &Quorum {
            approvers: &quorum,
            required: 2,
            window: Duration::hours(24),
        },
        t0(),
    )
    .unwrap();
    late.approve("ben", t0()).unwrap();
    assert!(late.approve("cat", t0() + Duration::hours(24)).is_err());
    assert_eq!(late.state, State::Expired);
}

#[test]
fn records_round_trip_through_json() {
    let mut r = request(1);
    r.approve("olive", t0()).unwrap();
    let back: AccessRequest = serde_json::from_value(serde_json::to_value(&r).unwrap()).unwrap();
    assert_eq!(back, r);
    let p = Proposal::propose(
        "p",
        "ann",
        Operation::ResidencySet {
            mode: "us_only".into(),
        },
        "x",
        &Quorum {
            approvers: &owners(&["ben"]),
            required: 1,
            window: Duration::hours(1),
        },
        t0(),
    )
    .unwrap();
    let back: Proposal<Operation> =
        serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[derive(Debug, Clone)]
enum Step {
    Approve(usize),
    Deny(usize),
    Revoke(usize),
    Wait(i64),
}

const PEOPLE: [&str; 4] = ["sam", "olive", "oscar", "mallory"];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (0..4usize).prop_map(Step::Approve),
        (0..4usize).prop_map(Step::Deny),
        (0..4usize).prop_map(Step::Revoke),
        (0..200_000i64).prop_map(Step::Wait),
    ]
}

proptest! {
    /// Whatever happens in whatever order, the request's holder may use it only when
    /// `required` distinct approvers other than the requester approved, nobody denied
    /// or revoked, and the clock is inside the window the last approval opened.
    #[test]
    fn no_sequence_grants_what_was_not_approved(required in 1u32..3, steps in proptest::collection::vec(step(), 0..20)) {
        let mut r = request(required);
        let mut now = t0();
        let mut approvals = std::collections::BTreeSet::new();
        let mut ended = false;
        let mut opened: Option<OffsetDateTime> = None;
        for s in steps {
            match s {
                Step::Approve(i) => {
                    let ok = r.approve(PEOPLE[i], now).is_ok();
                    if ok {
                        prop_assert!(PEOPLE[i] != "sam" && PEOPLE[i] != "mallory");
                        approvals.insert(PEOPLE[i]);
                        if approvals.len() == required as usize { opened = Some(now); }
                    }
                }
                Step::Deny(i) => { if r.deny(PEOPLE[i], "no", now).is_ok() { ended = true; } }
                Step::Revoke(i) => { if r.revoke(PEOPLE[i], "no", now).is_ok() { ended = true; } }
                Step::Wait(s) => now += Duration::seconds(s),
            }
            let may = r.permits("sam", "designs", "wing/x", ContentAction::Read, now);
            let expected = !ended
                && approvals.len() >= required as usize
                && opened.is_some_and(|o| now < o + Duration::hours(2));
            prop_assert_eq!(may, expected, "state {:?} approvals {:?}", r.state, approvals);
            prop_assert!(!r.permits("mallory", "designs", "wing/x", ContentAction::Read, now));
        }
    }
}
