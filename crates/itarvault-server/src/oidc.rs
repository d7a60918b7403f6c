//! OIDC bearer tokens (JWTs) from configured issuers.
//!
//! Only asymmetric algorithms are accepted (RS256, PS256, ES256): `none` and the HMAC
//! family are refused, so a public key can never be used as a shared secret. The key
//! comes from the issuer's JWKS (a file, or an HTTPS URL fetched at start and
//! refreshed), chosen by `kid` and required to match the algorithm. A claim names the
//! principal in the registry; the person's export-control facts come from the registry,
//! never from the token, unless the config says this issuer is trusted for them.

use std::time::Duration;

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use itarvault_store::PersonFacts;

use crate::config::OidcConfig;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 60;
/// Longest token accepted, before any parsing.
const MAX_TOKEN: usize = 16 << 10;

/// Why an issuer's keys could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("JWKS for issuer `{0}`: {1}")]
    Jwks(String, JwksError),
}

/// What is wrong with a JWKS document or its source.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("give exactly one of `jwks_file` and `jwks_url`")]
    Source,
    #[error("reading `{0}`: {1}")]
    Read(std::path::PathBuf, std::io::Error),
    #[error("`{0}` is not an https URL (a JWKS must come over TLS, or from loopback)")]
    NotHttps(String),
    #[error("`{0}` is not a URL")]
    BadUrl(String),
    #[error("fetching `{0}`: {1}")]
    Fetch(String, String),
    #[error("not a JWKS document: {0}")]
    NotJwks(serde_json::Error),
    #[error("key {0} has no `{1}`")]
    MissingField(usize, &'static str),
    #[error("key {0} `{1}` is not base64url")]
    NotBase64(usize, &'static str),
    #[error("key {0} is not a P-256 point")]
    NotP256(usize),
    #[error("it holds no RSA or P-256 signing key")]
    NoKeys,
}

#[derive(Debug, Clone)]
enum Key {
    Rsa {
        kid: Option<String>,
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed P-256 point.
    Ec { kid: Option<String>, point: Vec<u8> },
}

impl Key {
    fn kid(&self) -> Option<&str> {
        match self {
            Self::Rsa { kid, .. } | Self::Ec { kid, .. } => kid.as_deref(),
        }
    }
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// Parses a JWKS document. Keys not for signatures, or of types we do not verify, are
/// skipped; a malformed key is an error.
fn parse_jwks(text: &str) -> Result<Vec<Key>, JwksError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Jwk>,
    }
    let set: Set = serde_json::from_str(text).map_err(JwksError::NotJwks)?;
    let mut out = Vec::new();
    for (i, k) in set.keys.into_iter().enumerate() {
        if k.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let field = |v: &Option<String>, name: &'static str| {
            let text = v.as_deref().ok_or(JwksError::MissingField(i, name))?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| JwksError::NotBase64(i, name))
        };
        match k.kty.as_str() {
            "RSA" => out.push(Key::Rsa {
                kid: k.kid,
                n: field(&k.n, "n")?,
                e: field(&k.e, "e")?,
            }),
            "EC" if k.crv.as_deref() == Some("P-256") => {
                let (x, y) = (field(&k.x, "x")?, field(&k.y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JwksError::NotP256(i));
                }
                let mut point = vec![4u8];
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                out.push(Key::Ec { kid: k.kid, point });
            }
            _ => {}
        }
    }
    if out.is_empty() {
        return Err(JwksError::NoKeys);
    }
    Ok(out)
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    /// The token's `sub`: with the issuer, what a principal must be bound to.
    pub subject: String,
    pub principal: String,
    /// The person's export-control facts, only from an issuer trusted for them and only
    /// when the token states `person_status`.
    pub facts: Option<PersonFacts>,
}

/// Why a bearer JWT was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("the token is too long")]
    TooLong,
    #[error("the token is not a JWT")]
    NotJwt,
    #[error("the {0} is not base64url")]
    NotBase64(&'static str),
    #[error("the {0} is not JSON")]
    NotJson(&'static str),
    #[error("JWT algorithm `{0}` is not accepted (RS256, PS256, ES256 only)")]
    Algorithm(String),
    #[error("the JWT has critical header extensions this server does not implement")]
    Critical,
    #[error("the JWT has no `iss`")]
    NoIssuer,
    #[error("issuer `{0}` is not configured")]
    UnknownIssuer(String),
    #[error("no key of issuer `{issuer}` matches kid {kid:?} and alg `{alg}`")]
    NoKey {
        issuer: String,
        kid: Option<String>,
        alg: String,
    },
    #[error("the token's signature does not verify")]
    Signature,
    #[error("the JWT is not for audience `{0}`")]
    Audience(String),
    #[error("the JWT has no numeric `exp`")]
    NoExpiry,
    #[error("the JWT has expired")]
    Expired,
    #[error("the JWT is not valid yet (`nbf`)")]
    NotYetValid,
    #[error("the JWT has no string claim `{0}` to name the principal")]
    NoPrincipal(String),
    #[error("the JWT has no string `sub`")]
    NoSubject,
    #[error("the JWT's person facts are invalid: {0}")]
    Facts(String),
}

/// One configured issuer and its keys.
#[derive(Debug)]
pub struct Issuer {
    pub cfg: OidcConfig,
    keys: std::sync::RwLock<Vec<Key>>,
}

impl Issuer {
    /// Loads the issuer's keys (file, or URL fetched now).
    pub async fn load(cfg: OidcConfig) -> Result<Self, OidcError> {
        let failed = |e| OidcError::Jwks(cfg.issuer.clone(), e);
        let text = match (&cfg.jwks_file, &cfg.jwks_url) {
            (Some(f), None) => {
                std::fs::read_to_string(f).map_err(|e| failed(JwksError::Read(f.clone(), e)))?
            }
            (None, Some(u)) => fetch(u).await.map_err(failed)?,
            _ => return Err(failed(JwksError::Source)),
        };
        let keys = parse_jwks(&text).map_err(failed)?;
        Ok(Self {
            cfg,
            keys: std::sync::RwLock::new(keys),
        })
    }

    /// Refetches a URL-based JWKS (key rotation). Keeps the old keys on failure.
    pub async fn refresh(&self) {
        let Some(u) = &self.cfg.jwks_url else { return };
        match fetch(u).await.and_then(|t| parse_jwks(&t)) {
            Ok(keys) => {
                *self
                    .keys
                    .write()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = keys;
            }
            Err(e) => {
                tracing::warn!(issuer = %self.cfg.issuer, error = %e, "JWKS refresh failed; keeping the old keys")
            }
        }
    }

    fn verify_signature(
        &self,
        alg: &str,
        kid: Option<&str>,
        signed: &[u8],
        sig: &[u8],
    ) -> Result<(), JwtError> {
        let keys = self
            .keys
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let candidates: Vec<&Key> = keys
            .iter()
            .filter(|k| {
                matches!(
                    (alg, k),
                    ("RS256" | "PS256", Key::Rsa { .. }) | ("ES256", Key::Ec { .. })
                )
            })
            .filter(|k| kid.is_none() || k.kid() == kid)
            .collect();
        if candidates.is_empty() {
            return Err(JwtError::NoKey {
                issuer: self.cfg.issuer.clone(),
                kid: kid.map(str::to_owned),
                alg: alg.to_owned(),
            });
        }
        let ok = candidates.iter().any(|k| match k {
            Key::Rsa { n, e, .. } => {
                let alg: &signature::RsaParameters = if alg == "PS256" {
                    &signature::RSA_PSS_2048_8192_SHA256
                } else {
                    &signature::RSA_PKCS1_2048_8192_SHA256
                };
                RsaPublicKeyComponents {
                    n: n.as_slice(),
                    e: e.as_slice(),
                }
                .verify(alg, signed, sig)
                .is_ok()
            }
            Key::Ec { point, .. } => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(signed, sig)
                    .is_ok()
            }
        });
        if ok {
            Ok(())
        } else {
            Err(JwtError::Signature)
        }
    }
}

async fn fetch(url: &str) -> Result<String, JwksError> {
    let parsed: reqwest::Url = url.parse().map_err(|_| JwksError::BadUrl(url.into()))?;
    let loopback = parsed
        .host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if parsed.scheme() != "https" && !loopback {
        return Err(JwksError::NotHttps(url.into()));
    }
    let failed = |e: String| JwksError::Fetch(url.into(), e);
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(e.to_string()))?;
    let resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !resp.status().is_success() {
        return Err(failed(format!("HTTP {}", resp.status())));
    }
    resp.text().await.map_err(|e| failed(e.to_string()))
}

/// Whether a bearer credential looks like a JWT (three base64url parts).
pub fn looks_like_jwt(s: &str) -> bool {
    s.split('.').count() == 3 && !s.starts_with("itv_")
}

fn part(s: &str, what: &'static str) -> Result<Value, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| JwtError::NotBase64(what))?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::NotJson(what))
}

/// The person facts a trusted issuer states, when it states `person_status`.
fn person_facts(claims: &Value) -> Result<Option<PersonFacts>, JwtError> {
    if claims.get("person_status").is_none() {
        return Ok(None);
    }
    let mut facts = serde_json::Map::new();
    for k in [
        "person_status",
        "citizenships",
        "former_citizenships",
        "permanent_residence",
    ] {
        if let Some(v) = claims.get(k) {
            facts.insert(k.into(), v.clone());
        }
    }
    serde_json::from_value(Value::Object(facts))
        .map(Some)
        .map_err(|e| JwtError::Facts(e.to_string()))
}

/// Verifies a JWT against the configured issuers.
pub fn verify(issuers: &[Issuer], token: &str, now: OffsetDateTime) -> Result<Verified, JwtError> {
    if token.len() > MAX_TOKEN {
        return Err(JwtError::TooLong);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::NotJwt);
    };
    let header = part(h, "JWT header")?;
    let claims = part(p, "JWT payload")?;
    let alg = header["alg"].as_str().unwrap_or("");
    if !matches!(alg, "RS256" | "PS256" | "ES256") {
        return Err(JwtError::Algorithm(alg.chars().take(32).collect()));
    }
    if header.get("crit").is_some() {
        return Err(JwtError::Critical);
    }
    let iss = claims["iss"].as_str().ok_or(JwtError::NoIssuer)?;
    let issuer = issuers
        .iter()
        .find(|i| i.cfg.issuer == iss)
        .ok_or_else(|| JwtError::UnknownIssuer(iss.chars().take(256).collect()))?;
    let sig = URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| JwtError::NotBase64("JWT signature"))?;
    let signed_len = h.len() + 1 + p.len();
    issuer.verify_signature(
        alg,
        header["kid"].as_str(),
        &token.as_bytes()[..signed_len],
        &sig,
    )?;

    let aud_ok = match &claims["aud"] {
        Value::String(a) => *a == issuer.cfg.audience,
        Value::Array(a) => a
            .iter()
            .any(|x| x.as_str() == Some(issuer.cfg.audience.as_str())),
        _ => false,
    };
    if !aud_ok {
        return Err(JwtError::Audience(issuer.cfg.audience.clone()));
    }
    let t = now.unix_timestamp();
    let exp = claims["exp"].as_i64().ok_or(JwtError::NoExpiry)?;
    if t > exp.saturating_add(LEEWAY_SECS) {
        return Err(JwtError::Expired);
    }
    if claims["nbf"]
        .as_i64()
        .is_some_and(|nbf| t.saturating_add(LEEWAY_SECS) < nbf)
    {
        return Err(JwtError::NotYetValid);
    }
    let subject = claims["sub"]
        .as_str()
        .ok_or(JwtError::NoSubject)?
        .to_owned();
    let principal = claims[issuer.cfg.principal_claim.as_str()]
        .as_str()
        .ok_or_else(|| JwtError::NoPrincipal(issuer.cfg.principal_claim.clone()))?
        .to_owned();
    let facts = if issuer.cfg.trusted_for_person_facts {
        person_facts(&claims)?
    } else {
        None
    };
    Ok(Verified {
        issuer: iss.to_owned(),
        subject,
        principal,
        facts,
    })
}
