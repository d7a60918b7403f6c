//! The service in process, on the embedded conformance backends (SQLite, a local blob
//! directory): the gate and the operations without HTTP, so that what the vault does is
//! tested where it is decided.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::net::IpAddr;

use axum::http::{HeaderMap, HeaderValue, Method};
use bytes::Bytes;
use itarvault_server::api::table;
use itarvault_server::config::Config;
use itarvault_server::error::Error;
use itarvault_server::vault::gate::{Nothing, ObjectRead, ObjectWrite};
use itarvault_server::vault::{Authorized, Granted, Intent, Presented, Release, Vault};
use std::sync::Arc;

struct Cast {
    _dir: tempfile::TempDir,
    vault: Arc<Vault>,
    admin: String,
}

const US: &str = "127.0.0.1";
const CN: &str = "127.0.0.2";

/// Opens the vault in `dir`: in bootstrap mode, or governed by a quorum of alice and
/// olive (which ends bootstrap mode for good).
async fn open(dir: &std::path::Path, governed: bool) -> itarvault_server::Opened {
    std::fs::write(
        dir.join("ranges.csv"),
        "cidr,country\n127.0.0.1/32,US\n127.0.0.2/32,CN\n",
    )
    .unwrap();
    let quorum = if governed {
        "[quorum]\napprovers = [\"alice\", \"olive\"]\nrequired = 1\n"
    } else {
        ""
    };
    let cfg: Config = toml::from_str(&format!(
        "data_dir = {:?}\n[location]\nranges_file = {:?}\n{quorum}",
        dir.join("data"),
        dir.join("ranges.csv")
    ))
    .unwrap();
    itarvault_server::open_vault(cfg).await.unwrap()
}

impl Cast {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(dir.path(), false).await;
        Self {
            admin: opened.admin_token.unwrap().to_string(),
            vault: opened.vault,
            _dir: dir,
        }
    }

    /// Authenticates `token` from `addr` and runs the gate for `method path`.
    async fn gate(
        &self,
        token: &str,
        addr: &str,
        method: Method,
        path: &str,
        intent: Intent,
    ) -> Result<Granted, Error> {
        let route = table()
            .into_iter()
            .map(|(r, _)| r)
            .find(|r| r.method == method && r.path == path)
            .unwrap_or_else(|| panic!("no route {method} {path}"));
        let presented = Presented {
            authorization: Some(HeaderValue::from_str(&format!("Bearer {token}")).unwrap()),
            cert: None,
        };
        let located = self
            .vault
            .locate(addr.parse::<IpAddr>().unwrap(), &HeaderMap::new());
        let caller = self
            .vault
            .authenticate(&presented, located, "test".into())
            .await?;
        self.vault.authorize(caller, &route, &intent).await
    }

    async fn nothing(
        &self,
        token: &str,
        method: Method,
        path: &str,
        params: &[(&str, &str)],
    ) -> Authorized<Nothing> {
        match self
            .gate(token, US, method, path, intent(params))
            .await
            .unwrap()
        {
            Granted::Nothing(a) => a,
            other => panic!("{other:?}"),
        }
    }

    /// Registers a principal (as admin) and mints its token.
    async fn person(&self, json: serde_json::Value) -> String {
        let id = json["id"].as_str().unwrap().to_owned();
        let auth = self
            .nothing(&self.admin, Method::POST, "/v1/principals", &[])
            .await;
        self.vault
            .add_principal(&auth, serde_json::from_value(json).unwrap(), None)
            .await
            .unwrap();
        let auth = self
            .nothing(
                &self.admin,
                Method::POST,
                "/v1/principals/{id}/tokens",
                &[("id", &id)],
            )
            .await;
        self.vault
            .create_token(&auth, &id, 30)
            .await
            .unwrap()
            .text
            .to_string()
    }
}

fn intent(params: &[(&str, &str)]) -> Intent {
    Intent {
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        ..Intent::default()
    }
}

const OBJECT: &str = "/v1/buckets/{bucket}/objects/{*key}";

async fn put(
    cast: &Cast,
    token: &str,
    addr: &str,
    key: &str,
    label: &str,
    body: &[u8],
) -> Result<(), Error> {
    let mut i = intent(&[("bucket", "designs"), ("key", key)]);
    i.label = Some(label.to_owned());
    let auth: Authorized<ObjectWrite> = match cast.gate(token, addr, Method::PUT, OBJECT, i).await?
    {
        Granted::Write(a) => a,
        other => panic!("{other:?}"),
    };
    let chunks =
        futures_util::stream::iter(vec![Ok::<_, std::io::Error>(Bytes::copy_from_slice(body))]);
    cast.vault.put_object(auth, chunks).await.map(drop)
}

async fn get(cast: &Cast, token: &str, addr: &str, key: &str) -> Result<Vec<u8>, Error> {
    let i = intent(&[("bucket", "designs"), ("key", key)]);
    let auth: Authorized<ObjectRead> = match cast.gate(token, addr, Method::GET, OBJECT, i).await? {
        Granted::Read(a) => a,
        other => panic!("{other:?}"),
    };
    match cast.vault.get_object(auth).await? {
        Release::Whole(_, b) => Ok(b.to_vec()),
        Release::Stream(..) => panic!("a small object is released whole"),
    }
}

#[tokio::test]
async fn the_registry_holds_typed_facts_and_the_gate_decides_with_them() {
    let cast = Cast::new().await;
    let auth = cast
        .nothing(&cast.admin, Method::POST, "/v1/buckets", &[])
        .await;
    cast.vault
        .create_bucket(
            &auth,
            serde_json::from_value(serde_json::json!({"name": "designs"})).unwrap(),
        )
        .await
        .unwrap();
    let alice = cast
        .person(serde_json::json!({"id": "alice", "person_status": "us_citizen", "citizenships": ["US"]}))
        .await;
    // A GB national who once held Chinese citizenship: ITAR attributes both.
    let gwen = cast
        .person(
            serde_json::json!({"id": "gwen", "person_status": "foreign_person",
            "citizenships": ["GB"], "former_citizenships": ["CN"], "permanent_residence": "DE"}),
        )
        .await;
    let auth = cast
        .nothing(
            &cast.admin,
            Method::GET,
            "/v1/principals/{id}",
            &[("id", "gwen")],
        )
        .await;
    let view = cast.vault.show_principal(&auth, "gwen").unwrap();
    assert_eq!(view.principal.facts.former_citizenships[0].as_str(), "CN");
    assert_eq!(
        view.principal.facts.permanent_residence.unwrap().as_str(),
        "DE"
    );

    put(
        &cast,
        &alice,
        US,
        "blade.step",
        "ITAR:XI",
        b"cooling passages",
    )
    .await
    .unwrap();
    assert_eq!(
        get(&cast, &alice, US, "blade.step").await.unwrap(),
        b"cooling passages"
    );
    // From a proscribed country, and for a foreign person: refused by the gate.
    for (who, from) in [(&alice, CN), (&gwen, US)] {
        let err = get(&cast, who, from, "blade.step").await.unwrap_err();
        assert_eq!(err.code(), "export-denied", "{err}");
    }
    // The overwrite and the deletion need the right to delete.
    let err = put(&cast, &gwen, US, "blade.step", "PUBLIC", b"nothing")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "overwrite-needs-delete");
    let err = cast
        .gate(
            &gwen,
            US,
            Method::DELETE,
            OBJECT,
            intent(&[("bucket", "designs"), ("key", "blade.step")]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not-owner");
    // The admin has no standing access, whatever the route asks.
    for method in [Method::GET, Method::HEAD, Method::DELETE] {
        let err = cast
            .gate(
                &cast.admin,
                US,
                method,
                OBJECT,
                intent(&[("bucket", "designs"), ("key", "blade.step")]),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "no-standing-access");
    }
}

#[tokio::test]
async fn a_typed_proposal_runs_once_the_quorum_agrees_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    // Olive gets her first token in bootstrap mode; the quorum is adopted after.
    let (olive, admin) = {
        let o = open(dir.path(), false).await;
        let cast = Cast {
            _dir: tempfile::tempdir().unwrap(),
            vault: o.vault,
            admin: o.admin_token.unwrap().to_string(),
        };
        let olive = cast
            .person(serde_json::json!({"id": "olive", "person_status": "us_citizen", "citizenships": ["US"]}))
            .await;
        (olive, cast.admin)
    };
    let cast = Cast {
        _dir: tempfile::tempdir().unwrap(),
        vault: open(dir.path(), true).await.vault,
        admin,
    };
    assert!(!cast.vault.controlled().bootstrap());
    let auth = cast
        .nothing(&cast.admin, Method::POST, "/v1/quorum", &[])
        .await;
    let op =
        serde_json::from_value(serde_json::json!({"op": "residency_set", "mode": "carve_out"}))
            .unwrap();
    let p = cast.vault.propose(&auth, op, "EU office").await.unwrap();
    assert_eq!(
        cast.vault.controlled().residency,
        itarvault_policy::ResidencyMode::UsOnly,
        "nothing changes before the quorum"
    );
    let auth = match cast
        .gate(
            &olive,
            US,
            Method::POST,
            "/v1/quorum/{id}/approve",
            intent(&[("id", &p.id)]),
        )
        .await
        .unwrap()
    {
        Granted::Lockbox(a) => a,
        other => panic!("{other:?}"),
    };
    let (done, _) = cast.vault.approve_proposal(&auth).await.unwrap();
    assert_eq!(done.state, itarvault_lockbox::State::Executed);
    assert_eq!(
        cast.vault.controlled().residency,
        itarvault_policy::ResidencyMode::CarveOut
    );
    // The approver cannot approve a second time; the proposer never.
    let err = cast
        .gate(
            &cast.admin,
            US,
            Method::POST,
            "/v1/quorum/{id}/approve",
            intent(&[("id", &p.id)]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), "self-approval");
    // The setting is what the store holds: a restart keeps it, whatever the config says.
    drop(cast);
    let again = open(dir.path(), true).await;
    assert_eq!(
        again.vault.controlled().residency,
        itarvault_policy::ResidencyMode::CarveOut
    );
}

/// A client that stops sending in the middle of an upload holds no thread: with one
/// blocking thread in all, a read still gets it while the upload waits, and the upload
/// completes when its client sends the rest.
#[test]
fn a_stalled_upload_holds_no_thread_while_reads_are_served() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let cast = Cast::new().await;
        let auth = cast
            .nothing(&cast.admin, Method::POST, "/v1/buckets", &[])
            .await;
        cast.vault
            .create_bucket(
                &auth,
                serde_json::from_value(serde_json::json!({"name": "designs"})).unwrap(),
            )
            .await
            .unwrap();
        let alice = cast
            .person(serde_json::json!({"id": "alice", "person_status": "us_citizen", "citizenships": ["US"]}))
            .await;
        put(&cast, &alice, US, "small", "EAR99", b"small").await.unwrap();

        let mut i = intent(&[("bucket", "designs"), ("key", "big")]);
        i.label = Some("EAR99".into());
        let auth: Authorized<ObjectWrite> =
            match cast.gate(&alice, US, Method::PUT, OBJECT, i).await.unwrap() {
                Granted::Write(a) => a,
                other => panic!("{other:?}"),
            };
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(1);
        let body = Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let vault = cast.vault.clone();
        let upload = tokio::spawn(async move { vault.put_object(auth, body).await });
        // Two batches arrive, then the client goes quiet.
        for _ in 0..2 {
            tx.send(Ok(Bytes::from(vec![b'x'; 1 << 20]))).await.unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            get(&cast, &alice, US, "small"),
        )
        .await
        .expect("a read waited for the thread a stalled upload holds");
        assert_eq!(read.unwrap(), b"small");
        assert!(!upload.is_finished());
        tx.send(Ok(Bytes::from_static(b"end"))).await.unwrap();
        drop(tx);
        let stored = upload.await.unwrap().unwrap();
        assert_eq!(stored.size, (2 << 20) + 3);
    });
}
