//! Round trips at every interesting size and the attacks the body must detect:
//! every byte flipped, truncation at every position, reordered, duplicated and
//! swapped chunks, appended data; and the push interface against the batch one.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a failure should panic"
)]

use itarvault_format::stream::{self, BodyOpener, BodySealer};
use itarvault_format::{BodyError, DataKey, HeaderParams, KeyWrap, UnverifiedHeader};

const CS: u32 = 1024;
const SLOT: usize = CS as usize + 16;

fn params(id: u8) -> HeaderParams {
    HeaderParams {
        version: itarvault_format::header::VERSION,
        object_id: [id; 32],
        chunk_size: CS,
        label: "ITAR:XI".parse().unwrap(),
        identity: None,
    }
}

fn wrap() -> KeyWrap {
    KeyWrap {
        provider: "test".into(),
        key_id: "k".into(),
        key_version: 1,
        wrapped: vec![0xAA; 80],
    }
}

fn dek() -> DataKey {
    DataKey::from_bytes(&[0x11; 32])
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + i / 7) as u8).collect()
}

fn seal(p: &HeaderParams, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let w = stream::encrypt(p, &dek(), &[wrap()], data, &mut out, &mut |_| {}).unwrap();
    assert_eq!(w.envelope_bytes, out.len() as u64);
    assert_eq!(w.plaintext_bytes, data.len() as u64);
    out
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Plain(Vec<u8>),
    Header,
    Auth,
    Chunk(u64),
    Truncated,
}

fn open(env: &[u8]) -> Outcome {
    let mut r = env;
    let Ok(h) = UnverifiedHeader::read_from(&mut r) else {
        return Outcome::Header;
    };
    let Ok(h) = h.verify(&dek()) else {
        return Outcome::Auth;
    };
    let mut out = Vec::new();
    match stream::decrypt(&h, r, &mut out, &mut |_| {}) {
        Ok(n) => {
            assert_eq!(n, out.len() as u64);
            Outcome::Plain(out)
        }
        Err(BodyError::Chunk(i)) => Outcome::Chunk(i),
        Err(BodyError::Truncated) => Outcome::Truncated,
        Err(BodyError::Io(e)) => panic!("io error from memory: {e}"),
    }
}

fn sizes() -> Vec<usize> {
    let c = CS as usize;
    // Batches hold 64 chunks of 1 KiB, so 64*c and neighbours cross a batch boundary.
    vec![
        0,
        1,
        c - 1,
        c,
        c + 1,
        3 * c,
        3 * c + 5,
        64 * c - 1,
        64 * c,
        64 * c + 1,
        130 * c + 17,
    ]
}

#[test]
fn round_trip_at_boundary_sizes_and_size_formula() {
    for n in sizes() {
        let data = plaintext(n);
        let env = seal(&params(1), &data);
        let header_len = UnverifiedHeader::read_from(&mut env.as_slice())
            .unwrap()
            .len() as u64;
        assert_eq!(
            env.len() as u64,
            stream::envelope_len(header_len, CS, n as u64),
            "size {n}"
        );
        assert_eq!(open(&env), Outcome::Plain(data), "size {n}");
    }
}

#[test]
fn default_chunk_size_round_trip() {
    let p = HeaderParams::new("EAR:9E003".parse().unwrap()).unwrap();
    let data = plaintext(300_000);
    let mut env = Vec::new();
    stream::encrypt(
        &p,
        &dek(),
        &[wrap()],
        data.as_slice(),
        &mut env,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(open(&env), Outcome::Plain(data));
}

#[test]
fn every_byte_flip_is_detected() {
    let env = seal(&params(1), &plaintext(2 * CS as usize + 100));
    for pos in 0..env.len() {
        let mut bad = env.clone();
        bad[pos] ^= 0x40;
        let got = open(&bad);
        assert!(
            !matches!(got, Outcome::Plain(_)),
            "flip at {pos} went unnoticed"
        );
    }
}

#[test]
fn every_truncation_is_detected() {
    let env = seal(&params(1), &plaintext(3 * CS as usize));
    let header_len = UnverifiedHeader::read_from(&mut env.as_slice())
        .unwrap()
        .len();
    for cut in 0..env.len() {
        let got = open(&env[..cut]);
        assert!(
            !matches!(got, Outcome::Plain(_)),
            "cut at {cut} went unnoticed"
        );
        if cut >= header_len && (cut - header_len).is_multiple_of(SLOT) {
            assert_eq!(got, Outcome::Truncated, "cut at chunk boundary {cut}");
        }
    }
}

#[test]
fn exact_multiple_needs_its_empty_final_chunk() {
    let env = seal(&params(1), &plaintext(2 * CS as usize));
    // Dropping the empty final chunk (its 16-byte tag) leaves two valid non-final chunks.
    assert_eq!(open(&env[..env.len() - 16]), Outcome::Truncated);
}

#[test]
fn reordered_duplicated_and_appended_chunks_fail() {
    let env = seal(&params(1), &plaintext(3 * CS as usize + 10));
    let h = UnverifiedHeader::read_from(&mut env.as_slice())
        .unwrap()
        .len();
    let chunk = |i: usize| env[h + i * SLOT..h + (i + 1) * SLOT].to_vec();
    let tail = env[h + 3 * SLOT..].to_vec();

    let mut swapped = env[..h].to_vec();
    for i in [1, 0, 2] {
        swapped.extend(chunk(i));
    }
    swapped.extend(&tail);
    assert_eq!(open(&swapped), Outcome::Chunk(0));

    let mut dup = env[..h].to_vec();
    for i in [0, 0, 1, 2] {
        dup.extend(chunk(i));
    }
    dup.extend(&tail);
    assert_eq!(open(&dup), Outcome::Chunk(1));

    let mut appended = env.clone();
    appended.extend_from_slice(&[0u8; 40]);
    assert!(!matches!(open(&appended), Outcome::Plain(_)));
    let mut appended = env.clone();
    appended.extend(chunk(0));
    assert!(!matches!(open(&appended), Outcome::Plain(_)));
}

#[test]
fn chunks_swapped_between_objects_fail_even_under_the_same_dek() {
    let a = seal(&params(1), &plaintext(2 * CS as usize + 3));
    let b = seal(&params(2), &plaintext(2 * CS as usize + 3));
    let h = UnverifiedHeader::read_from(&mut a.as_slice())
        .unwrap()
        .len();
    let mut spliced = a[..h + SLOT].to_vec();
    spliced.extend_from_slice(&b[h + SLOT..]);
    assert_eq!(open(&spliced), Outcome::Chunk(1));
}

#[test]
fn wrong_key_fails_header_authentication() {
    let env = seal(&params(1), b"data");
    let h = UnverifiedHeader::read_from(&mut env.as_slice()).unwrap();
    assert!(h.verify(&DataKey::from_bytes(&[0x12; 32])).is_err());
}

#[test]
fn push_interface_matches_batch_interface() {
    for n in sizes() {
        let data = plaintext(n);
        let batch = seal(&params(3), &data);
        let (mut pushed, mut sealer) = BodySealer::start(&params(3), &dek(), &[wrap()]).unwrap();
        let mut chunks = data.chunks_exact(CS as usize);
        for c in &mut chunks {
            pushed.extend(sealer.seal(c).unwrap());
        }
        pushed.extend(sealer.finish(chunks.remainder()).unwrap());
        assert_eq!(pushed, batch, "size {n}");

        let mut r = batch.as_slice();
        let h = UnverifiedHeader::read_from(&mut r)
            .unwrap()
            .verify(&dek())
            .unwrap();
        let mut opener = BodyOpener::new(&h);
        let mut out = Vec::new();
        let mut body = r.to_vec();
        let full = body.len() / SLOT;
        let (head, last) = body.split_at_mut(full * SLOT);
        for c in head.chunks_exact_mut(SLOT) {
            out.extend_from_slice(opener.open(c).unwrap());
        }
        out.extend_from_slice(opener.finish(last).unwrap());
        assert_eq!(out, data);
    }
}

#[test]
fn push_interface_rejects_truncation_and_misuse() {
    let env = seal(&params(4), &plaintext(CS as usize));
    let mut r = env.as_slice();
    let h = UnverifiedHeader::read_from(&mut r)
        .unwrap()
        .verify(&dek())
        .unwrap();
    let mut body = r.to_vec();
    // A full chunk handed over as the final one fails, as does an empty final piece.
    assert!(BodyOpener::new(&h).finish(&mut body[..SLOT]).is_err());
    assert!(matches!(
        BodyOpener::new(&h).finish(&mut []),
        Err(BodyError::Truncated)
    ));
    let (_, mut s) = BodySealer::start(&params(4), &dek(), &[wrap()]).unwrap();
    assert!(s.seal(&[0; 10]).is_err());
}

#[test]
fn a_resumed_opener_opens_only_the_chunk_at_its_place() {
    let env = seal(&params(4), &plaintext(3 * CS as usize + 5));
    let mut r = env.as_slice();
    let h = UnverifiedHeader::read_from(&mut r)
        .unwrap()
        .verify(&dek())
        .unwrap();
    let body = r.to_vec();
    let chunk = |i: usize| body[i * SLOT..(i + 1) * SLOT].to_vec();
    // Chunk 2 under its own number opens; under any other number it does not.
    let mut c = chunk(2);
    assert!(BodyOpener::resume(&h, 2).open(&mut c).is_ok());
    for wrong in [0, 1, 3] {
        let mut c = chunk(2);
        assert!(
            BodyOpener::resume(&h, wrong).open(&mut c).is_err(),
            "index {wrong}"
        );
    }
    // The final piece opens as the end only at its place.
    let mut last = body[3 * SLOT..].to_vec();
    assert!(BodyOpener::resume(&h, 2).finish(&mut last.clone()).is_err());
    assert!(BodyOpener::resume(&h, 3).finish(&mut last).is_ok());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    #[test]
    fn random_sizes_round_trip(n in 0usize..20_000) {
        let data = plaintext(n);
        proptest::prop_assert_eq!(open(&seal(&params(5), &data)), Outcome::Plain(data));
    }
}
