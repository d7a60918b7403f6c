//! The lockbox state machines with every integer at any value: a requested duration,
//! the configured limits and the clock come from the input. Filing, approving and
//! proposing either work or refuse; no date arithmetic panics.
#![no_main]
use itarvault_lockbox::{
    AccessRequest, ContentAction, Limits, NewAccess, Proposal, Quorum, QuorumOperation, Scope,
};
use libfuzzer_sys::fuzz_target;
use time::{Duration, OffsetDateTime};

#[derive(Clone, serde::Serialize, serde::Deserialize)]
struct Op;
impl QuorumOperation for Op {
    fn effect(&self) -> String {
        "nothing".into()
    }
    fn name(&self) -> &'static str {
        "nothing"
    }
}

fn int(data: &[u8], i: usize) -> i64 {
    let mut b = [0u8; 8];
    for (j, x) in b.iter_mut().enumerate() {
        *x = data.get(i * 8 + j).copied().unwrap_or(0);
    }
    i64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let clock = |v: i64| {
        OffsetDateTime::from_unix_timestamp(v % 253_402_300_800).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    };
    let now = clock(int(data, 0));
    let later = clock(int(data, 4));
    let limits = Limits {
        max_grant: Duration::seconds(int(data, 1)),
        pending: Duration::seconds(int(data, 2)),
    };
    let ask = NewAccess {
        scope: Scope::Bucket { bucket: "b".into() },
        actions: vec![ContentAction::Read],
        justification: "ticket 1".into(),
        duration: Duration::seconds(int(data, 3)),
    };
    let approvers = ["a".to_owned(), "o".to_owned()];
    if let Ok(mut r) = AccessRequest::file("req_1", "r", ask, &approvers, 1, now, &limits) {
        let _ = r.approve("a", later);
        let _ = r.permits("r", "b", "k", ContentAction::Read, later);
        r.record_use();
        let _ = r.revoke("a", "done", later);
    }
    let quorum = Quorum {
        approvers: &approvers,
        required: 1,
        window: Duration::seconds(int(data, 5)),
    };
    if let Ok(mut p) = Proposal::propose("prop_1", "r", Op, "ticket 1", &quorum, now) {
        let _ = p.approve("a", later);
        p.settle(later);
    }
});
