//! Regenerates `testdata/envelope/*.json`, the envelope known-answer vectors.
//!
//! Every input is fixed (data key, object id, KEK, wrap salts), so the output is
//! deterministic: rerunning this must not change the checked-in files unless the
//! format changed, and a format change is a new version, not an edit of these.
//!
//! `cargo run -p itarvault-keys --example gen_vectors [OUT_DIR]`

use std::path::PathBuf;

use itarvault_format::{stream, DataKey, HeaderParams, KeyWrap, ObjectIdentity, UnverifiedHeader};
use itarvault_keys::local_wrap;
use serde_json::json;

struct Case {
    name: &'static str,
    description: &'static str,
    /// The format version written (1: the first format, kept readable).
    version: u8,
    /// Bucket, key and version id bound into a format 2 header.
    identity: Option<(&'static str, &'static str, &'static str)>,
    label: &'static str,
    chunk_size: u32,
    plaintext_len: usize,
    keys: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "empty",
        description: "empty body: a single empty final chunk",
        version: 1,
        identity: None,
        label: "ITAR:XI",
        chunk_size: 1024,
        plaintext_len: 0,
        keys: &["kat-key"],
    },
    Case {
        name: "one-byte",
        description: "one byte of plaintext",
        version: 1,
        identity: None,
        label: "EAR99",
        chunk_size: 1024,
        plaintext_len: 1,
        keys: &["kat-key"],
    },
    Case {
        name: "exactly-one-chunk",
        description: "exactly one chunk: a full chunk then an empty final chunk",
        version: 1,
        identity: None,
        label: "ITAR:XV(e)",
        chunk_size: 1024,
        plaintext_len: 1024,
        keys: &["kat-key"],
    },
    Case {
        name: "two-and-a-half-chunks",
        description: "two full chunks and a partial final chunk",
        version: 1,
        identity: None,
        label: "EAR:3A001.a.1",
        chunk_size: 1024,
        plaintext_len: 2560,
        keys: &["kat-key"],
    },
    Case {
        name: "default-chunk-size",
        description: "default 64 KiB chunks, short body",
        version: 1,
        identity: None,
        label: "PUBLIC",
        chunk_size: 65536,
        plaintext_len: 100,
        keys: &["kat-key"],
    },
    Case {
        name: "modifiers-and-two-wraps",
        description: "label with every modifier; the data key wrapped for two keys",
        version: 1,
        identity: None,
        label: "ITAR:XI(a)(3)(i);CUI//SP-EXPT;DIST:D;program=f35",
        chunk_size: 1024,
        plaintext_len: 300,
        keys: &["kat-key", "escrow-key"],
    },
    Case {
        name: "v2-stored-object",
        description: "format 2: the object's bucket, key and version id bound into the header",
        version: 2,
        identity: Some(("designs", "engines/blade.step", "0123456789abcdef0123")),
        label: "ITAR:XIX;CUI//SP-EXPT",
        chunk_size: 1024,
        plaintext_len: 2500,
        keys: &["kat-key"],
    },
    Case {
        name: "v2-outside-a-vault",
        description: "format 2 with no identity (an envelope made by `itarvault encrypt`)",
        version: 2,
        identity: None,
        label: "EAR:9E003",
        chunk_size: 1024,
        plaintext_len: 10,
        keys: &["kat-key"],
    },
];

fn fixed(tag: &str, n: usize) -> Vec<u8> {
    // A transparent deterministic filler: SHA-256 in counter mode over a tag.
    let mut out = Vec::with_capacity(n + 32);
    let mut i = 0u32;
    while out.len() < n {
        let d =
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, format!("{tag}/{i}").as_bytes());
        out.extend_from_slice(d.as_ref());
        i += 1;
    }
    out.truncate(n);
    out
}

fn arr(v: Vec<u8>) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&v);
    a
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/envelope")
        });
    std::fs::create_dir_all(&out_dir)?;
    let mut valid = Vec::new();
    for c in CASES {
        let dek = DataKey::from_bytes(&arr(fixed(&format!("{}/dek", c.name), 32)));
        let identity = c.identity.map(|(bucket, key, version)| ObjectIdentity {
            bucket: bucket.into(),
            key: key.into(),
            version: version.into(),
        });
        let params = HeaderParams {
            version: c.version,
            object_id: arr(fixed(&format!("{}/object", c.name), 32)),
            chunk_size: c.chunk_size,
            label: c.label.parse()?,
            identity,
        };
        let ctx = params.wrap_context();
        let mut wraps = Vec::new();
        let mut keys = Vec::new();
        for k in c.keys {
            let kek = arr(fixed(&format!("kek/{k}"), 32));
            let salt = arr(fixed(&format!("{}/salt/{k}", c.name), 32));
            wraps.push(KeyWrap {
                provider: "local".into(),
                key_id: (*k).into(),
                key_version: 1,
                wrapped: local_wrap::wrap_with_salt(&kek, k, 1, &dek, &ctx, &salt)?,
            });
            keys.push(json!({ "key_id": k, "key_version": 1, "kek": hex::encode(kek), "wrap_salt": hex::encode(salt) }));
        }
        let plaintext = fixed(&format!("{}/plaintext", c.name), c.plaintext_len);
        let mut envelope = Vec::new();
        stream::encrypt(
            &params,
            &dek,
            &wraps,
            plaintext.as_slice(),
            &mut envelope,
            &mut |_| {},
        )?;
        let v = json!({
            "name": c.name, "description": c.description, "expect": "ok",
            "version": c.version,
            "identity": c.identity.map(|(b, k, v)| json!({ "bucket": b, "key": k, "version": v })),
            "label": c.label, "chunk_size": c.chunk_size,
            "dek": hex::encode(dek.expose()), "object_id": hex::encode(params.object_id),
            "keys": keys, "wrap_context": hex::encode(ctx),
            "plaintext": hex::encode(&plaintext), "envelope": hex::encode(&envelope),
        });
        std::fs::write(
            out_dir.join(format!("{}.json", c.name)),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
        valid.push((c.name, v, envelope));
    }

    // Negative scenarios, each a mutation of a valid envelope, with the stage that must fail.
    let base = &valid[3]; // two-and-a-half-chunks, chunk size 1024
    let env = &base.2;
    let hlen = UnverifiedHeader::read_from(&mut env.as_slice())?.len();
    let slot = 1024 + 16;
    let mut negatives: Vec<(&str, &str, &str, Vec<u8>)> = Vec::new();
    negatives.push((
        "neg-truncated-at-chunk-boundary",
        "the final chunk is missing",
        "truncated",
        env[..hlen + 2 * slot].to_vec(),
    ));
    negatives.push((
        "neg-truncated-mid-chunk",
        "cut inside the second chunk",
        "chunk",
        env[..hlen + slot + 100].to_vec(),
    ));
    let mut m = env.clone();
    m[hlen + slot + 5] ^= 1;
    negatives.push((
        "neg-body-bit-flip",
        "one bit flipped in chunk 1",
        "chunk",
        m,
    ));
    let mut m = env[..hlen].to_vec();
    m.extend_from_slice(&env[hlen + slot..hlen + 2 * slot]);
    m.extend_from_slice(&env[hlen..hlen + slot]);
    m.extend_from_slice(&env[hlen + 2 * slot..]);
    negatives.push(("neg-chunks-swapped", "chunks 0 and 1 swapped", "chunk", m));
    let mut m = env.clone();
    m.extend_from_slice(&[0u8; 16]);
    negatives.push((
        "neg-trailing-data",
        "16 bytes appended after the final chunk",
        "chunk",
        m,
    ));
    let mut m = env.clone();
    let pos = m.windows(5).position(|w| w == b"3A001").ok_or("label")?;
    m[pos] = b'4';
    negatives.push((
        "neg-label-edited",
        "label changed from EAR:3A001.a.1 to EAR:4A001.a.1 in place",
        "key",
        m,
    ));
    let mut m = env.clone();
    m[hlen - 1] ^= 1;
    negatives.push((
        "neg-header-mac",
        "last byte of the header MAC flipped",
        "header_auth",
        m,
    ));
    let mut m = env.clone();
    m[hlen - 40] ^= 1;
    negatives.push((
        "neg-commitment",
        "a byte of the key commitment flipped",
        "header_auth",
        m,
    ));
    let mut m = env.clone();
    m[8] = 3;
    negatives.push(("neg-unknown-version", "format version 3", "format", m));
    let mut m = env.clone();
    m[9..11].copy_from_slice(&[0, 2]);
    negatives.push(("neg-unknown-suite", "suite 0x0002", "format", m));
    let mut m = env.clone();
    m[11..15].copy_from_slice(&u32::MAX.to_be_bytes());
    negatives.push((
        "neg-oversized-header-len",
        "header_len 0xFFFFFFFF",
        "format",
        m,
    ));
    let mut m = env.clone();
    let cs_pos = 15 + 32;
    m[cs_pos..cs_pos + 4].copy_from_slice(&(1u32 << 30).to_be_bytes());
    negatives.push(("neg-oversized-chunk-size", "chunk_size 2^30", "format", m));

    let mut negatives: Vec<(&str, &str, &str, Vec<u8>, usize)> = negatives
        .into_iter()
        .map(|(n, d, s, e)| (n, d, s, e, 3))
        .collect();
    // Format 2: the identity is bound like the label.
    let stored = 6; // v2-stored-object
    let env2 = &valid[stored].2;
    let mut m = env2.clone();
    let pos = m.windows(5).position(|w| w == b"blade").ok_or("identity")?;
    m[pos] = b'B';
    negatives.push((
        "neg-identity-edited",
        "format 2: the object key in the header edited (engines/Blade.step)",
        "key",
        m,
        stored,
    ));
    let mut m = env2.clone();
    let pos = m
        .windows(20)
        .position(|w| w == b"0123456789abcdef0123")
        .ok_or("version id")?;
    m[pos + 19] = b'4';
    negatives.push((
        "neg-identity-version-edited",
        "format 2: the version id in the header edited",
        "key",
        m,
        stored,
    ));
    let mut m = env2.clone();
    m[8] = 1;
    negatives.push((
        "neg-v2-read-as-v1",
        "format 2 header relabelled as format 1 (the identity is then read as wraps)",
        "format",
        m,
        stored,
    ));

    for (name, description, stage, envelope, from) in negatives {
        let mut v = valid[from].1.clone();
        v["name"] = name.into();
        v["description"] = description.into();
        v["expect"] = "error".into();
        v["error_stage"] = stage.into();
        v["envelope"] = hex::encode(&envelope).into();
        std::fs::write(
            out_dir.join(format!("{name}.json")),
            serde_json::to_string_pretty(&v)? + "\n",
        )?;
    }
    eprintln!("wrote vectors to {}", out_dir.display());
    Ok(())
}
