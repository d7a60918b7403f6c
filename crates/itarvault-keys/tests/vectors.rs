//! Known-answer vectors (`testdata/envelope/`): encryption from the recorded inputs
//! reproduces the recorded bytes, and decryption gives the plaintext or fails at the
//! recorded stage. Runs in the default and the `fips` build alike.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use std::path::PathBuf;
use std::sync::Arc;

use itarvault_format::{stream, DataKey, HeaderParams, KeyWrap};
use itarvault_keys::{local_wrap, DecryptError, KeyError, KeyInfo, KeyProvider, Keyring};
use serde_json::Value;

/// A provider holding fixed KEKs, as the vectors record them.
#[derive(Debug)]
struct FixedKeks(Vec<(String, [u8; 32])>);

impl KeyProvider for FixedKeks {
    fn provider_id(&self) -> &str {
        "local"
    }
    fn wrap(&self, _: &str, _: &DataKey, _: &[u8; 32]) -> Result<KeyWrap, KeyError> {
        Err(KeyError::Provider("vectors are read-only".into()))
    }
    fn unwrap(&self, w: &KeyWrap, ctx: &[u8; 32]) -> Result<DataKey, KeyError> {
        let (_, kek) = self
            .0
            .iter()
            .find(|(id, _)| *id == w.key_id)
            .ok_or_else(|| KeyError::UnknownKey(w.key_id.clone()))?;
        local_wrap::unwrap(kek, &w.key_id, w.key_version, &w.wrapped, ctx)
    }
    fn describe(&self, id: &str) -> Result<KeyInfo, KeyError> {
        Err(KeyError::UnknownKey(id.into()))
    }
}

fn h32(v: &Value) -> [u8; 32] {
    let mut a = [0u8; 32];
    hex::decode_to_slice(v.as_str().unwrap(), &mut a).unwrap();
    a
}

fn hexv(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn envelope_known_answer_vectors() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/envelope");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut ok, mut err) = (0, 0);
    for path in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let name = v["name"].as_str().unwrap();
        let keks: Vec<_> = v["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| (k["key_id"].as_str().unwrap().to_owned(), h32(&k["kek"])))
            .collect();
        let ring = Keyring::new(vec![Arc::new(FixedKeks(keks))]);
        let envelope = hexv(&v["envelope"]);
        let mut plain = Vec::new();
        let got = ring.decrypt(envelope.as_slice(), &mut plain, &mut |_| {});
        match v["expect"].as_str().unwrap() {
            "ok" => {
                got.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(plain, hexv(&v["plaintext"]), "{name}: plaintext");
                // Encryption direction: the recorded inputs reproduce the recorded bytes.
                let dek = DataKey::from_bytes(&h32(&v["dek"]));
                let params = HeaderParams {
                    version: v["version"].as_u64().unwrap() as u8,
                    object_id: h32(&v["object_id"]),
                    chunk_size: v["chunk_size"].as_u64().unwrap() as u32,
                    label: v["label"].as_str().unwrap().parse().unwrap(),
                    identity: v["identity"].as_object().map(|id| {
                        itarvault_format::ObjectIdentity {
                            bucket: id["bucket"].as_str().unwrap().into(),
                            key: id["key"].as_str().unwrap().into(),
                            version: id["version"].as_str().unwrap().into(),
                        }
                    }),
                };
                let ctx = params.wrap_context();
                assert_eq!(
                    hex::encode(ctx),
                    v["wrap_context"].as_str().unwrap(),
                    "{name}: wrap context"
                );
                let wraps: Vec<_> = v["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| {
                        let id = k["key_id"].as_str().unwrap();
                        KeyWrap {
                            provider: "local".into(),
                            key_id: id.into(),
                            key_version: 1,
                            wrapped: local_wrap::wrap_with_salt(
                                &h32(&k["kek"]),
                                id,
                                1,
                                &dek,
                                &ctx,
                                &h32(&k["wrap_salt"]),
                            )
                            .unwrap(),
                        }
                    })
                    .collect();
                let mut again = Vec::new();
                stream::encrypt(
                    &params,
                    &dek,
                    &wraps,
                    plain.as_slice(),
                    &mut again,
                    &mut |_| {},
                )
                .unwrap();
                assert!(
                    again == envelope,
                    "{name}: encryption does not reproduce the vector"
                );
                ok += 1;
            }
            "error" => {
                let stage = match got {
                    Ok(_) => panic!("{name}: decrypted but must fail"),
                    Err(DecryptError::Format(_)) => "format",
                    Err(DecryptError::Key(_) | DecryptError::NoMatchingKey(_)) => "key",
                    Err(DecryptError::HeaderAuth(_)) => "header_auth",
                    Err(DecryptError::Body(itarvault_format::BodyError::Chunk(_))) => "chunk",
                    Err(DecryptError::Body(itarvault_format::BodyError::Truncated)) => "truncated",
                    Err(e) => panic!("{name}: unexpected {e}"),
                };
                assert_eq!(stage, v["error_stage"].as_str().unwrap(), "{name}");
                err += 1;
            }
            other => panic!("{name}: unknown expectation {other}"),
        }
    }
    eprintln!("envelope vectors: {ok} valid, {err} invalid, 0 skipped");
    assert!(
        ok >= 6 && err >= 10,
        "vectors missing: {ok} valid, {err} invalid"
    );
}
