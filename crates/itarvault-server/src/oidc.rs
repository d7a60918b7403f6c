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

use crate::config::OidcConfig;

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 60;
/// Longest token accepted, before any parsing.
const MAX_TOKEN: usize = 16 << 10;

#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("JWKS for issuer `{0}`: {1}")]
    Jwks(String, String),
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

fn b64(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| "is not base64url".to_owned())
}

/// Parses a JWKS document. Keys not for signatures, or of types we do not verify, are
/// skipped; a malformed key is an error.
fn parse_jwks(text: &str) -> Result<Vec<Key>, String> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Jwk>,
    }
    let set: Set = serde_json::from_str(text).map_err(|e| format!("not a JWKS document: {e}"))?;
    let mut out = Vec::new();
    for (i, k) in set.keys.into_iter().enumerate() {
        if k.use_.as_deref().is_some_and(|u| u != "sig") {
            continue;
        }
        let field = |v: &Option<String>, name: &str| {
            v.as_deref()
                .ok_or_else(|| format!("key {i} has no `{name}`"))
                .and_then(|s| b64(s).map_err(|e| format!("key {i} `{name}` {e}")))
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
                    return Err(format!("key {i} is not a P-256 point"));
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
        return Err("it holds no RSA or P-256 signing key".into());
    }
    Ok(out)
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub issuer: String,
    pub principal: String,
    /// Present only for an issuer trusted for person facts.
    pub person_status: Option<String>,
    pub citizenships: Option<Vec<String>>,
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
        let text = match (&cfg.jwks_file, &cfg.jwks_url) {
            (Some(f), None) => std::fs::read_to_string(f).map_err(|e| {
                OidcError::Jwks(
                    cfg.issuer.clone(),
                    format!("reading `{}`: {e}", f.display()),
                )
            })?,
            (None, Some(u)) => fetch(u)
                .await
                .map_err(|e| OidcError::Jwks(cfg.issuer.clone(), e))?,
            _ => {
                return Err(OidcError::Jwks(
                    cfg.issuer.clone(),
                    "give exactly one of `jwks_file` and `jwks_url`".into(),
                ))
            }
        };
        let keys = parse_jwks(&text).map_err(|e| OidcError::Jwks(cfg.issuer.clone(), e))?;
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
    ) -> Result<(), String> {
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
            return Err(format!(
                "no key of issuer `{}` matches kid {kid:?} and alg `{alg}`",
                self.cfg.issuer
            ));
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
            Err("the token's signature does not verify".into())
        }
    }
}

async fn fetch(url: &str) -> Result<String, String> {
    let parsed: reqwest::Url = url
        .parse()
        .map_err(|e| format!("`{url}` is not a URL: {e}"))?;
    let loopback = parsed
        .host_str()
        .and_then(|h| h.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.is_loopback());
    if parsed.scheme() != "https" && !loopback {
        return Err(format!("`{url}` is not https; a JWKS must come over TLS"));
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(parsed)
        .send()
        .await
        .map_err(|e| format!("fetching `{url}`: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("fetching `{url}`: HTTP {}", resp.status()));
    }
    resp.text()
        .await
        .map_err(|e| format!("reading `{url}`: {e}"))
}

/// Whether a bearer credential looks like a JWT (three base64url parts).
pub fn looks_like_jwt(s: &str) -> bool {
    s.split('.').count() == 3 && !s.starts_with("itv_")
}

fn part(s: &str, what: &str) -> Result<Value, String> {
    serde_json::from_slice(&b64(s).map_err(|e| format!("the {what} {e}"))?)
        .map_err(|_| format!("the {what} is not JSON"))
}

/// Verifies a JWT against the configured issuers.
pub fn verify(issuers: &[Issuer], token: &str, now: OffsetDateTime) -> Result<Verified, String> {
    if token.len() > MAX_TOKEN {
        return Err("the token is too long".into());
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("the token is not a JWT".into());
    };
    let header = part(h, "JWT header")?;
    let claims = part(p, "JWT payload")?;
    let alg = header["alg"].as_str().unwrap_or("");
    if !matches!(alg, "RS256" | "PS256" | "ES256") {
        return Err(format!(
            "JWT algorithm `{alg}` is not accepted (RS256, PS256, ES256 only)"
        ));
    }
    if header.get("crit").is_some() {
        return Err("the JWT has critical header extensions this server does not implement".into());
    }
    let iss = claims["iss"].as_str().ok_or("the JWT has no `iss`")?;
    let issuer = issuers
        .iter()
        .find(|i| i.cfg.issuer == iss)
        .ok_or_else(|| format!("issuer `{iss}` is not configured"))?;
    let sig = b64(s).map_err(|e| format!("the JWT signature {e}"))?;
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
        return Err(format!(
            "the JWT is not for audience `{}`",
            issuer.cfg.audience
        ));
    }
    let t = now.unix_timestamp();
    let exp = claims["exp"]
        .as_i64()
        .ok_or("the JWT has no numeric `exp`")?;
    if t > exp + LEEWAY_SECS {
        return Err("the JWT has expired".into());
    }
    if claims["nbf"]
        .as_i64()
        .is_some_and(|nbf| t + LEEWAY_SECS < nbf)
    {
        return Err("the JWT is not valid yet (`nbf`)".into());
    }
    let principal = claims[issuer.cfg.principal_claim.as_str()]
        .as_str()
        .ok_or_else(|| {
            format!(
                "the JWT has no string claim `{}` to name the principal",
                issuer.cfg.principal_claim
            )
        })?
        .to_owned();
    let (person_status, citizenships) = if issuer.cfg.trusted_for_person_facts {
        (
            claims["person_status"].as_str().map(str::to_owned),
            claims["citizenships"].as_array().map(|a| {
                a.iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect()
            }),
        )
    } else {
        (None, None)
    };
    Ok(Verified {
        issuer: iss.to_owned(),
        principal,
        person_status,
        citizenships,
    })
}
