//! Who a request authenticates as: an API token, an OIDC bearer JWT from a configured
//! issuer, or a client certificate verified in the TLS handshake. A failure is counted
//! and audited before the 401.

use axum::http::HeaderValue;
use itarvault_store::{CertificateBinding, OidcBinding, PrincipalRecord, TokenPurpose};
use time::OffsetDateTime;

use super::{bump, located_event, Caller, Vault};
use crate::error::Error;
use crate::limits::{self, Failure};
use crate::location::Located;
use crate::oidc::JwtError;
use crate::token;

/// The credentials a request carried.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    /// The `Authorization` header, if any.
    pub authorization: Option<HeaderValue>,
    /// A client certificate the handshake verified, if any.
    pub cert: Option<crate::tls::PeerCert>,
}

/// How a caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    Token { id: String, purpose: TokenPurpose },
    Oidc { issuer: String },
    Certificate { sha256: String },
}

/// Why a credential was not accepted. The text goes to the caller and the audit
/// record; it never says whether an unknown token id exists (no oracle).
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no credentials were presented")]
    Missing,
    #[error("the Authorization header is not ASCII")]
    NotAscii,
    #[error("the Authorization header is not a Bearer token")]
    NotBearer,
    #[error("the token is malformed")]
    MalformedToken,
    #[error("the token is not valid")]
    InvalidToken,
    #[error("token `{0}` was revoked")]
    RevokedToken(String),
    #[error("token `{0}` has expired")]
    ExpiredToken(String),
    #[error(transparent)]
    Jwt(#[from] JwtError),
    #[error("{by} names principal `{id}`, which is not registered")]
    Unregistered { by: String, id: String },
    #[error("principal `{0}` is disabled")]
    Disabled(String),
    #[error("issuer `{issuer}` subject `{subject}` is not bound to principal `{id}`: an OIDC token authenticates only the principal registered with that issuer and subject")]
    OidcNotBound {
        issuer: String,
        subject: String,
        id: String,
    },
    #[error("the client certificate (SHA-256 {sha256}) is not bound to principal `{id}`: a certificate authenticates only the principal registered with its fingerprint or e-mail name")]
    CertificateNotBound { sha256: String, id: String },
    #[error("the client certificate names no principal in the configured field (`tls.client_cert_principal`)")]
    CertificateUnnamed,
    #[error("principal lookup failed: {0}")]
    Store(#[from] itarvault_store::StoreError),
    #[error(
        "this address is over its limit of failed authentications; the credential was not checked"
    )]
    Throttled,
}

/// Longest failure detail an audit record keeps of what an unauthenticated caller sent.
const MAX_FAILURE_DETAIL: usize = 512;

fn throttled(addr: &str, limit: u32, wait: u32) -> Error {
    Error::too_many(
        "auth-throttled",
        format!("{addr} failed to authenticate more than {limit} times in a minute"),
    )
    .retry_after(wait)
    .hint("check the credential you send; requests from this address are refused for up to a minute (`limits.auth_failures_per_minute`)")
}

impl Vault {
    /// Authenticates a request. A failure is audited (and counted) before the 401.
    pub async fn authenticate(
        &self,
        presented: &Presented,
        located: Located,
        request_id: String,
    ) -> Result<Caller, Error> {
        bump(&self.metrics.requests, 1);
        // The client address, or the ones a chain that could not be believed claims.
        let addr = located
            .counted_as
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and ");
        // An address over its failure limit is refused before its credential is
        // checked: a forged JWT costs a signature verification.
        let why = match self.auth_failures.blocked_any(&located.counted_as) {
            Some(_) => CredentialError::Throttled,
            None => match self.identify(presented) {
                Ok((principal, credential)) => {
                    return Ok(Caller {
                        principal,
                        located,
                        request_id,
                        credential,
                    })
                }
                Err(why) => why,
            },
        };
        bump(&self.metrics.auth_failures, 1);
        // What the caller sent (an issuer, a token id) is in the message: bounded, so
        // a flood of huge tokens cannot grow the audit log by their size.
        let detail = limits::bounded(&why.to_string(), MAX_FAILURE_DETAIL);
        let limit = self.config.limits.auth_failures_per_minute;
        let event = |kind: &str, detail: String| {
            located_event(kind, "deny", None, &located, &request_id).detail(detail)
        };
        let wait = || {
            self.auth_failures
                .blocked_any(&located.counted_as)
                .unwrap_or(60)
        };
        match self.auth_failures.fail_all(&located.counted_as) {
            Failure::Record { suppressed } => {
                let detail = match suppressed {
                    0 => detail,
                    n => format!("{detail}; {n} earlier failure(s) from this address were counted, not recorded, while it was over its limit"),
                };
                self.record(vec![event("auth.failure", detail)]).await?;
                Err(match why {
                    CredentialError::Store(e) => e.into(),
                    other => Error::unauthenticated(other.to_string()),
                })
            }
            Failure::Throttled => {
                let detail = format!("{addr} failed to authenticate more than {limit} times in a minute; its further requests this minute are refused unchecked and counted, and the count is recorded with its next recorded failure (this one: {detail})");
                self.record(vec![event("auth.throttled", detail)]).await?;
                Err(throttled(&addr, limit, wait()))
            }
            Failure::Counted => Err(throttled(&addr, limit, wait())),
        }
    }

    /// Where a request comes from: the peer address, or through trusted proxies the
    /// client's.
    pub fn locate(&self, peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> Located {
        self.locator
            .place(peer, &crate::location::Forwarding::from_headers(headers))
    }

    /// The principal a request authenticates as: a bearer credential (API token or
    /// OIDC JWT) if one is sent, else a verified client certificate. An outside
    /// credential (OIDC, certificate) authenticates only the principal bound to it.
    fn identify(
        &self,
        presented: &Presented,
    ) -> Result<(PrincipalRecord, Credential), CredentialError> {
        let Some(raw) = &presented.authorization else {
            let cert = presented.cert.as_ref().ok_or(CredentialError::Missing)?;
            let id = cert
                .name
                .as_deref()
                .ok_or(CredentialError::CertificateUnnamed)?;
            let p = self.registered(id, "the client certificate")?;
            let bound = match &p.bindings.certificate {
                Some(CertificateBinding::Sha256(h)) => h.eq_ignore_ascii_case(&cert.sha256),
                Some(CertificateBinding::San(e)) => {
                    cert.emails.iter().any(|x| x.eq_ignore_ascii_case(e))
                }
                None => false,
            };
            if !bound {
                return Err(CredentialError::CertificateNotBound {
                    sha256: cert.sha256.clone(),
                    id: p.id,
                });
            }
            let sha256 = cert.sha256.clone();
            return Ok((p, Credential::Certificate { sha256 }));
        };
        let raw = raw.to_str().map_err(|_| CredentialError::NotAscii)?;
        let bearer = raw
            .strip_prefix("Bearer ")
            .ok_or(CredentialError::NotBearer)?
            .trim();
        if crate::oidc::looks_like_jwt(bearer) {
            let verified = crate::oidc::verify(&self.issuers, bearer, OffsetDateTime::now_utc())?;
            let source = format!("issuer `{}`", verified.issuer);
            let mut p = self.registered(&verified.principal, &source)?;
            let binding = OidcBinding {
                issuer: verified.issuer.clone(),
                subject: verified.subject.clone(),
            };
            if p.bindings.oidc.as_ref() != Some(&binding) {
                return Err(CredentialError::OidcNotBound {
                    issuer: binding.issuer,
                    subject: binding.subject,
                    id: p.id,
                });
            }
            // Only an issuer trusted for person facts may state them (config).
            if let Some(facts) = verified.facts {
                p.facts = facts;
            }
            return Ok((
                p,
                Credential::Oidc {
                    issuer: verified.issuer,
                },
            ));
        }
        let (id, secret) = token::parse(bearer).ok_or(CredentialError::MalformedToken)?;
        // Same answer for unknown and wrong: no oracle for token ids.
        let rec = self
            .credentials
            .token(id)?
            .ok_or(CredentialError::InvalidToken)?;
        if !token::matches(&rec.secret_hash, &secret) {
            return Err(CredentialError::InvalidToken);
        }
        if rec.revoked {
            return Err(CredentialError::RevokedToken(rec.id));
        }
        if !rec.is_live(OffsetDateTime::now_utc()) {
            return Err(CredentialError::ExpiredToken(rec.id));
        }
        let p = self.registered(&rec.principal, &format!("token `{}`", rec.id))?;
        Ok((
            p,
            Credential::Token {
                id: rec.id,
                purpose: rec.purpose,
            },
        ))
    }

    /// An enabled principal of the registry that `source` named.
    fn registered(&self, id: &str, source: &str) -> Result<PrincipalRecord, CredentialError> {
        let p = self
            .registry
            .principal(id)?
            .ok_or_else(|| CredentialError::Unregistered {
                by: source.to_owned(),
                id: id.to_owned(),
            })?;
        if p.disabled {
            return Err(CredentialError::Disabled(p.id));
        }
        Ok(p)
    }
}
