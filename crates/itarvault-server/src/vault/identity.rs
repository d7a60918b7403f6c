//! Who a request authenticates as: an API token, an OIDC bearer JWT from a configured
//! issuer, or a client certificate verified in the TLS handshake. A failure is counted
//! and audited before the 401.

use axum::http::HeaderValue;
use itarvault_store::PrincipalRecord;
use time::OffsetDateTime;

use super::{bump, located_event, Caller, Vault};
use crate::error::Error;
use crate::location::Located;
use crate::oidc::JwtError;
use crate::token;

/// The credentials a request carried.
#[derive(Debug, Clone, Default)]
pub struct Presented {
    /// The `Authorization` header, if any.
    pub authorization: Option<HeaderValue>,
    /// The principal a verified client certificate names, if any.
    pub cert_principal: Option<String>,
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
    #[error("principal lookup failed: {0}")]
    Store(#[from] itarvault_store::StoreError),
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
        match self.identify(presented) {
            Ok(principal) => Ok(Caller {
                principal,
                located,
                request_id,
            }),
            Err(why) => {
                bump(&self.metrics.auth_failures, 1);
                let event = located_event("auth.failure", "deny", None, &located, &request_id)
                    .detail(why.to_string());
                self.record(vec![event]).await?;
                Err(match why {
                    CredentialError::Store(e) => e.into(),
                    other => Error::unauthenticated(other.to_string()),
                })
            }
        }
    }

    /// Where a request comes from: the peer address, or through trusted proxies the
    /// client's.
    pub fn locate(&self, peer: std::net::IpAddr, headers: &axum::http::HeaderMap) -> Located {
        let xff = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        self.locator.locate(self.locator.client_addr(peer, xff))
    }

    /// The principal a request authenticates as: a bearer credential (API token or
    /// OIDC JWT) if one is sent, else a verified client certificate.
    fn identify(&self, presented: &Presented) -> Result<PrincipalRecord, CredentialError> {
        let Some(raw) = &presented.authorization else {
            let id = presented
                .cert_principal
                .clone()
                .ok_or(CredentialError::Missing)?;
            return self.registered(&id, "the client certificate");
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
            // Only an issuer trusted for person facts may state them (config).
            if let Some(facts) = verified.facts {
                p.facts = facts;
            }
            return Ok(p);
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
        self.registered(&rec.principal, &format!("token `{}`", rec.id))
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
