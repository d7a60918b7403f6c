//! A test identity provider: an ES256 key, its JWKS, and the JWTs it signs.

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

pub fn b64(b: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(b)
}

pub fn key() -> EcdsaKeyPair {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .unwrap();
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).unwrap()
}

pub fn jwks(k: &EcdsaKeyPair) -> Value {
    let p = k.public_key().as_ref();
    json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "use": "sig", "x": b64(&p[1..33]), "y": b64(&p[33..65])}]})
}

pub fn jwt(k: &EcdsaKeyPair, header: Value, claims: Value) -> String {
    let signed = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let sig = k.sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
    format!("{signed}.{}", b64(sig.as_ref()))
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
