//! The principal registry, authorizations, tokens and buckets. Each change is recorded
//! in the audit trail; what widens access (an admin, a license, a principal under
//! `quorum.principals`) goes to the quorum instead of happening.

use itarvault_lockbox::Proposal;
use itarvault_policy::data::Country;
use itarvault_policy::{Authorization, PersonStatus};
use itarvault_store::{
    AuthorizationRecord, Bindings, BucketRecord, CertificateBinding, OidcBinding, PersonFacts,
    PrincipalRecord, Role, TokenPurpose, TokenRecord, DEFAULT_VERSIONS_KEPT,
};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use super::gate::{Authorized, Nothing};
use super::quorum::Operation;
use super::Vault;
use crate::error::Error;
use crate::token;

fn valid_id(s: &str) -> bool {
    (1..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b))
}

fn bad_id(what: &str, s: &str) -> Error {
    Error::invalid("bad-id", format!("{what} `{s}` is not valid"))
        .hint("use 1 to 128 letters, digits and `._@-`")
}

/// A principal as the API registers it: the decision request's person facts, and roles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPrincipal {
    pub id: String,
    pub person_status: PersonStatus,
    #[serde(default)]
    pub citizenships: Vec<Country>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub former_citizenships: Vec<Country>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permanent_residence: Option<Country>,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// The OIDC issuer and subject whose tokens are this principal's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oidc: Option<OidcBinding>,
    /// The client certificate that is this principal's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateBinding>,
}

impl NewPrincipal {
    /// The registry record, checked.
    pub fn to_record(&self) -> Result<PrincipalRecord, Error> {
        if !valid_id(&self.id) {
            return Err(bad_id("principal id", &self.id));
        }
        let mut roles = self.roles.clone();
        roles.sort();
        roles.dedup();
        Ok(PrincipalRecord {
            id: self.id.clone(),
            facts: PersonFacts {
                person_status: self.person_status,
                citizenships: self.citizenships.clone(),
                former_citizenships: self.former_citizenships.clone(),
                permanent_residence: self.permanent_residence,
            },
            roles,
            bindings: Bindings {
                oidc: self.oidc.clone(),
                certificate: self.certificate.clone(),
            },
            disabled: false,
            created: OffsetDateTime::now_utc(),
        })
    }
}

/// A principal with their authorizations, as the API shows it.
#[derive(Debug, Serialize)]
pub struct PrincipalView {
    #[serde(flatten)]
    pub principal: PrincipalRecord,
    pub authorizations: Vec<AuthorizationRecord>,
}

/// What registering a principal did: registered, or sent to the quorum.
#[derive(Debug)]
pub enum Registered {
    Now(Box<PrincipalView>),
    Proposed(Box<Proposal<Operation>>),
}

/// A bucket as the API creates it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewBucket {
    name: String,
    backend: Option<String>,
    /// Who approves access requests to the bucket's content.
    #[serde(default)]
    owners: Vec<String>,
    /// Old versions of each object to keep (default 10).
    versions_kept: Option<u32>,
}

/// Bucket names as in S3: 3 to 63 lowercase letters, digits, `.` and `-`.
fn valid_bucket(s: &str) -> bool {
    (3..=63).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

/// Most old versions a bucket may keep per object.
const MAX_VERSIONS_KEPT: u32 = 1000;

/// How long an enrollment token lives, in days.
pub const ENROLLMENT_DAYS: u32 = 7;

/// What an enrollment did: a token now (bootstrap mode), or a proposal.
#[derive(Debug)]
pub enum Enrolled {
    Now(Minted),
    Proposed(Box<Proposal<Operation>>),
}

/// A freshly minted token: its record and the text, shown once.
#[derive(Debug)]
pub struct Minted {
    pub record: TokenRecord,
    pub text: zeroize::Zeroizing<String>,
}

impl Vault {
    pub(super) fn existing(&self, id: &str) -> Result<PrincipalRecord, Error> {
        self.registry
            .principal(id)?
            .ok_or_else(|| Error::not_found(format!("principal `{id}` does not exist")))
    }

    fn view(&self, principal: PrincipalRecord) -> Result<PrincipalView, Error> {
        let authorizations = self.registry.authorizations(&principal.id)?;
        Ok(PrincipalView {
            principal,
            authorizations,
        })
    }

    /// Who the caller is and where the server places them.
    pub fn whoami(&self, auth: &Authorized<Nothing>) -> Result<PrincipalView, Error> {
        self.view(auth.caller().principal.clone())
    }

    /// Registers a principal; an administrator (or anyone, under
    /// `quorum.principals`) only through the quorum, since whoever registers a person
    /// decides what they may read.
    pub async fn add_principal(
        &self,
        auth: &Authorized<Nothing>,
        new: NewPrincipal,
        justification: Option<String>,
    ) -> Result<Registered, Error> {
        let record = match new.to_record() {
            Ok(r) => r,
            Err(e) => return Err(self.fail(auth.event("error"), e).await),
        };
        if let Err(e) = check_bindings(&record.bindings) {
            return Err(self.fail(auth.event("error"), e).await);
        }
        let guarded = self.controlled().guarded()?.clone();
        // A binding is a way to authenticate as the new principal: once a quorum
        // governs, one admin does not create a principal bound to their own OIDC
        // identity or certificate.
        let bound = !record.bindings.is_empty() && !guarded.bootstrap();
        if record.has_role(Role::Admin) || guarded.quorum_principals || bound {
            let why = justification
                .filter(|j| !j.trim().is_empty())
                .unwrap_or_else(|| format!("register principal `{}`", record.id));
            let p = self
                .propose(auth, Operation::PrincipalAdd { principal: new }, &why)
                .await?;
            return Ok(Registered::Proposed(Box::new(p)));
        }
        let res = self
            .registry
            .add_principal(&record)
            .map_err(Error::from)
            .and_then(|()| self.view(record.clone()))
            .map(|v| {
                (
                    v,
                    format!("principal `{}` with {:?}", record.id, record.facts),
                )
            });
        Ok(Registered::Now(Box::new(
            self.finish(auth.event("ok"), res).await?,
        )))
    }

    pub fn list_principals(
        &self,
        _auth: &Authorized<Nothing>,
    ) -> Result<Vec<PrincipalRecord>, Error> {
        Ok(self.registry.principals()?)
    }

    pub fn show_principal(
        &self,
        _auth: &Authorized<Nothing>,
        id: &str,
    ) -> Result<PrincipalView, Error> {
        self.view(self.existing(id)?)
    }

    pub async fn set_disabled(
        &self,
        auth: &Authorized<Nothing>,
        id: &str,
        disabled: bool,
    ) -> Result<PrincipalView, Error> {
        let res = (|| {
            if disabled && auth.caller().id() == id {
                return Err(
                    Error::forbidden("self-disable", "an admin cannot disable themselves")
                        .hint("ask another admin, so that the service always keeps one"),
                );
            }
            self.registry.set_disabled(id, disabled)?;
            self.note_change();
            let state = if disabled { "disabled" } else { "enabled" };
            Ok((
                self.view(self.existing(id)?)?,
                format!("principal `{id}` {state}"),
            ))
        })();
        self.finish(auth.event("ok"), res).await
    }

    pub fn list_authorizations(
        &self,
        _auth: &Authorized<Nothing>,
        id: &str,
    ) -> Result<Vec<AuthorizationRecord>, Error> {
        self.existing(id)?;
        Ok(self.registry.authorizations(id)?)
    }

    /// Adding a license widens what someone may read: it goes to the quorum.
    pub async fn add_authorization(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        authorization: Authorization,
        justification: Option<String>,
    ) -> Result<Proposal<Operation>, Error> {
        let why = justification
            .filter(|j| !j.trim().is_empty())
            .unwrap_or_else(|| {
                format!("add authorization `{}` to `{principal}`", authorization.id)
            });
        let op = Operation::AuthorizationAdd {
            principal: principal.to_owned(),
            authorization,
        };
        self.propose(auth, op, &why).await
    }

    /// Revoking narrows access: one admin may do it.
    pub async fn revoke_authorization(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        id: &str,
    ) -> Result<(), Error> {
        let res = self
            .registry
            .revoke_authorization(principal, id)
            .map(|()| ((), format!("authorization `{id}` of `{principal}` revoked")))
            .map_err(Error::from);
        self.finish(auth.event("ok"), res).await
    }

    pub fn list_tokens(
        &self,
        _auth: &Authorized<Nothing>,
        principal: &str,
    ) -> Result<Vec<TokenRecord>, Error> {
        Ok(self.credentials.tokens(principal)?)
    }

    /// Mints an access token for `principal`. A principal mints their own, with their
    /// own credential (an enrollment token is used up by it). Nobody mints one for
    /// someone else, except the admin of a vault in bootstrap mode for a principal who
    /// holds no live token yet; once a quorum governs, a first credential for someone
    /// else is an enrollment the quorum approves ([`Self::enroll`]).
    pub async fn create_token(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        days: u32,
    ) -> Result<Minted, Error> {
        let res = self.mint_for(auth, principal, days).map(|m| {
            let detail = format!("token `{}` for `{principal}`, {days} days", m.record.id);
            (m, detail)
        });
        let minted = self.finish(auth.event("ok"), res).await?;
        // An enrollment token serves once.
        if let super::Credential::Token {
            id,
            purpose: TokenPurpose::Enrollment,
        } = &auth.caller().credential
        {
            self.credentials.revoke_token(id)?;
            let mut event = auth.event("ok");
            event.kind = "admin.token.revoke".into();
            event.detail = Some(format!("enrollment token `{id}` used up"));
            self.record(vec![event]).await?;
        }
        Ok(minted)
    }

    fn mint_for(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        days: u32,
    ) -> Result<Minted, Error> {
        let now = OffsetDateTime::now_utc();
        self.existing(principal)?;
        if auth.caller().id() != principal {
            if !self.controlled().bootstrap() {
                return Err(Error::forbidden(
                    "self-service-only",
                    format!("only `{principal}` mints tokens for `{principal}`: no administrator obtains a credential that authenticates as someone else"),
                )
                .hint(format!(
                    "for a first credential, propose an enrollment: `itarvault principals enroll {principal}`; a quorum approver hands the one-time enrollment token to the person"
                )));
            }
            if !auth.caller().has_role(Role::Admin) {
                return Err(Error::forbidden(
                    "role-required",
                    "only the principal themselves or, in bootstrap mode, an admin may mint a token for them",
                ));
            }
            if let Some(t) = self
                .credentials
                .tokens(principal)?
                .into_iter()
                .find(|t| t.is_live(now))
            {
                return Err(Error::forbidden(
                    "principal-has-token",
                    format!(
                        "`{principal}` already holds live token `{}`; an admin cannot mint another for them",
                        t.id
                    ),
                )
                .hint(format!(
                    "`{principal}` mints their own with `itarvault tokens create {principal}`"
                )));
            }
        }
        self.mint(principal, days, TokenPurpose::Access)
    }

    /// Mints and stores a token.
    pub(super) fn mint(
        &self,
        principal: &str,
        days: u32,
        purpose: TokenPurpose,
    ) -> Result<Minted, Error> {
        let now = OffsetDateTime::now_utc();
        let max = self.config.limits.max_token_days;
        let expires = now.checked_add(Duration::days(i64::from(days)));
        let (true, Some(expires)) = ((1..=max).contains(&days), expires) else {
            return Err(Error::invalid(
                "bad-lifetime",
                format!("`days` must be 1 to {max} (limits.max_token_days), not {days}"),
            ));
        };
        let t = token::mint()
            .map_err(|_| Error::unavailable("rng-failed", "the random number generator failed"))?;
        let record = TokenRecord {
            id: t.id.clone(),
            principal: principal.to_owned(),
            purpose,
            secret_hash: t.secret_hash,
            created: now,
            expires: Some(expires),
            revoked: false,
        };
        self.credentials.add_token(&record)?;
        Ok(Minted {
            record,
            text: t.text,
        })
    }

    /// A first credential for `principal`: a one-time enrollment token with which the
    /// person mints their own access token. In bootstrap mode the admin receives it; once
    /// a quorum governs, it is a proposal, and the approver whose approval completes
    /// the quorum receives it (never the proposer).
    pub async fn enroll(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        justification: Option<String>,
    ) -> Result<Enrolled, Error> {
        if let Err(e) = self.existing(principal) {
            return Err(self.fail(auth.event("error"), e).await);
        }
        if self.controlled().bootstrap() {
            let res = self
                .mint(principal, ENROLLMENT_DAYS, TokenPurpose::Enrollment)
                .map(|m| {
                    let detail = format!("bootstrap mode: enrollment token `{}` for `{principal}` handed to the admin", m.record.id);
                    (m, detail)
                });
            return Ok(Enrolled::Now(self.finish(auth.event("ok"), res).await?));
        }
        let why = justification
            .filter(|j| !j.trim().is_empty())
            .unwrap_or_else(|| format!("first credential for `{principal}`"));
        let p = self
            .propose(
                auth,
                Operation::EnrollmentIssue {
                    principal: principal.to_owned(),
                },
                &why,
            )
            .await?;
        Ok(Enrolled::Proposed(Box::new(p)))
    }

    /// Sets the outside credentials (OIDC identity, client certificate) that
    /// authenticate as `principal`. Removing a binding narrows access and one admin
    /// does it; adding or changing one is a new way in, so once a quorum governs it is
    /// a proposal.
    pub async fn bind_principal(
        &self,
        auth: &Authorized<Nothing>,
        principal: &str,
        bindings: Bindings,
        justification: Option<String>,
    ) -> Result<Registered, Error> {
        let old = match self
            .existing(principal)
            .and_then(|p| check_bindings(&bindings).map(|()| p))
        {
            Ok(p) => p.bindings,
            Err(e) => return Err(self.fail(auth.event("error"), e).await),
        };
        let narrows = (bindings.oidc.is_none() || bindings.oidc == old.oidc)
            && (bindings.certificate.is_none() || bindings.certificate == old.certificate);
        let op = Operation::PrincipalBind {
            principal: principal.to_owned(),
            bindings,
        };
        if !narrows && !self.controlled().bootstrap() {
            let why = justification
                .filter(|j| !j.trim().is_empty())
                .unwrap_or_else(|| format!("bind `{principal}` to new credentials"));
            let p = self.propose(auth, op, &why).await?;
            return Ok(Registered::Proposed(Box::new(p)));
        }
        let res = self
            .run(&op, true)
            .and_then(|detail| Ok((self.view(self.existing(principal)?)?, detail)));
        Ok(Registered::Now(Box::new(
            self.finish(auth.event("ok"), res).await?,
        )))
    }

    /// Revoking narrows access: the token's holder or an admin.
    pub async fn revoke_token(&self, auth: &Authorized<Nothing>, id: &str) -> Result<(), Error> {
        let res = self
            .credentials
            .revoke_token(id)
            .map(|()| ((), format!("token `{id}` revoked")))
            .map_err(Error::from);
        self.finish(auth.event("ok"), res).await
    }

    pub fn list_buckets(&self, _auth: &Authorized<Nothing>) -> Result<Vec<BucketRecord>, Error> {
        Ok(self.buckets.buckets()?)
    }

    pub async fn create_bucket(
        &self,
        auth: &Authorized<Nothing>,
        new: NewBucket,
    ) -> Result<BucketRecord, Error> {
        let mut event = auth.event("ok");
        event.bucket = Some(new.name.clone());
        let res = self.new_bucket(new);
        self.finish(event, res).await
    }

    fn new_bucket(&self, new: NewBucket) -> Result<(BucketRecord, String), Error> {
        let backend = new.backend.unwrap_or_else(|| "local".into());
        if !valid_bucket(&new.name) {
            return Err(Error::invalid("bad-bucket", format!("bucket name `{}` is not valid", new.name))
                .hint("use 3 to 63 lowercase letters, digits, `.` and `-`, starting with a letter or digit"));
        }
        if !self.backends.contains_key(&backend) {
            // What the request names does not exist, like an unknown owner: 404.
            return Err(Error::NotFound(crate::error::Detail {
                error: "unknown-backend",
                message: format!("backend `{backend}` is not configured"),
                ..Default::default()
            })
            .hint("declare it under [[backends]] in the config file"));
        }
        let versions_kept = new.versions_kept.unwrap_or(DEFAULT_VERSIONS_KEPT);
        if versions_kept > MAX_VERSIONS_KEPT {
            return Err(Error::invalid(
                "bad-versions-kept",
                format!("a bucket keeps 0 to {MAX_VERSIONS_KEPT} old versions per object, not {versions_kept}"),
            ));
        }
        for o in &new.owners {
            if self.existing(o)?.disabled {
                return Err(Error::invalid(
                    "bad-owner",
                    format!("owner `{o}` is disabled"),
                ));
            }
        }
        if self.buckets.bucket(&new.name)?.is_some() {
            return Err(Error::conflict(
                "exists",
                format!("bucket `{}` already exists", new.name),
            ));
        }
        let key_id = format!("bucket/{}", new.name);
        if itarvault_keys::KeyProvider::describe(self.keystore.as_ref(), &key_id).is_err() {
            self.keystore.create_key(&key_id).map_err(|e| {
                Error::unavailable("keystore", format!("creating the bucket key failed: {e}"))
            })?;
        }
        let rec = BucketRecord {
            name: new.name,
            key_id,
            backend,
            created: OffsetDateTime::now_utc(),
            owners: new.owners,
            versions_kept,
        };
        self.buckets.add_bucket(&rec)?;
        let detail = format!(
            "bucket `{}` on backend `{}`, owners [{}], keeps {} old versions",
            rec.name,
            rec.backend,
            rec.owners.join(", "),
            rec.versions_kept
        );
        Ok((rec, detail))
    }
}

/// An issuer URL as issuers spell them: `https://`, a host of letters, digits, `.` and
/// `-`, an optional port, an optional path of visible ASCII. A binding is compared as
/// text with the configured issuer; anything looser could never match and only
/// confuses whoever reads the binding.
fn https_url(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("https://") else {
        return false;
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        && port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
        && path.bytes().all(|b| b.is_ascii_graphic())
}

/// Refuses a binding that could not match or that is ambiguous.
pub(super) fn check_bindings(b: &Bindings) -> Result<(), Error> {
    let bad = |what: String| Error::invalid("bad-binding", what);
    if let Some(o) = &b.oidc {
        if !https_url(&o.issuer) || o.subject.is_empty() {
            return Err(bad(format!(
                "an OIDC binding needs the issuer's https:// URL and a non-empty subject, not `{}` / `{}`",
                o.issuer.escape_debug(),
                o.subject.escape_debug()
            )));
        }
    }
    match &b.certificate {
        Some(CertificateBinding::Sha256(h))
            if h.len() != 64 || !h.bytes().all(|c| c.is_ascii_hexdigit()) =>
        {
            Err(bad(format!(
                "a certificate fingerprint is 64 hex digits (SHA-256 of the DER certificate), not `{}`",
                h.escape_debug()
            )))
        }
        Some(CertificateBinding::San(e)) if !e.contains('@') || e.chars().any(char::is_control) => {
            Err(bad(format!(
                "a certificate binding by name is the e-mail address in the certificate's subject alternative name, not `{}`",
                e.escape_debug()
            )))
        }
        _ => Ok(()),
    }
}
