//! The one enforcement point. Every route declares what it does ([`Route`]: an audit
//! kind and a [`Permission`]); [`Vault::authorize`] runs, for every request that is not
//! on the short public list: standing access or a live lockbox grant, the export
//! decision where data is involved, and the audit record of the outcome (allow and
//! deny) — before the handler. What it hands the handler, an [`Authorized`] value, is
//! the only key to the service's operations, and only this module can make one.
//!
//! Metadata (names, labels, sizes, versions) is released under the same rules as
//! content: HEAD runs the read decision, and a listing shows only what the caller may
//! read from where they are.

use std::collections::HashMap;

use axum::http::Method;
use itarvault_audit::Event;
use itarvault_format::Label;
use itarvault_lockbox::{has_standing_access, AccessRequest, ContentAction, LockboxError};
use itarvault_policy::model::Action as ExportAction;
use itarvault_policy::Decision;
use itarvault_store::{
    BucketRecord, LockboxKind, LockboxRecord, ObjectRecord, Role, TokenPurpose, Version, VersionId,
};
use time::OffsetDateTime;

use super::lockbox::{lockbox_error, Ballots};
use super::{audit_reasons, Backend, Caller, Credential, Vault};
use crate::error::Error;

/// The audit kind of the route where principals mint their own tokens: the one route
/// (with [`WHOAMI_KIND`]) an enrollment token opens.
pub const MINT_KIND: &str = "admin.token.create";
/// The audit kind of `whoami`.
pub const WHOAMI_KIND: &str = "whoami";

/// What a route may be used by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// No credential needed: health, the API description. A short, explicit list.
    Public,
    /// Any authenticated, enabled principal.
    Authenticated,
    /// A principal holding one of these roles.
    Roles(&'static [Role]),
    /// The principal named by the path's `id`, or one holding one of these roles.
    SelfOr(&'static [Role]),
    /// The holder of the token named by the path's `id`, or one of these roles.
    TokenOwnerOr(&'static [Role]),
    /// An object's content or metadata: the lockbox and the export decision.
    Object(ObjectAction),
    /// A bucket's listing: each entry filtered by the read rules.
    List,
    /// A lockbox record: who may see it, decide it, or revoke it.
    Lockbox(LockboxKind, LockboxRole),
}

/// What a request does to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectAction {
    /// Release the content.
    Read,
    /// Release the metadata (label, size) only: decided and audited like a read.
    Head,
    /// Store a new version (an overwrite also needs the right to delete).
    Write,
    /// Delete the current version (a marker) or one version.
    Delete,
}

/// Who a lockbox route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockboxRole {
    /// Its requester, its approvers, admins and auditors may see it.
    Party,
    /// Its approvers (never its requester) approve or deny it.
    Approver,
    /// Its approvers or its requester end it.
    Revoker,
}

/// A route as the route table declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub method: Method,
    /// The path as the router and `docs/openapi.json` spell it.
    pub path: &'static str,
    /// The audit record kind of a request to it (`object.get`, `admin.principal.add`).
    pub kind: &'static str,
    pub permission: Permission,
}

/// What the HTTP layer knows about a request, for the gate.
#[derive(Debug, Default)]
pub struct Intent {
    /// Path parameters by name (`bucket`, `key`, `id`, ...).
    pub params: HashMap<String, String>,
    /// `?version=` for object routes.
    pub version: Option<String>,
    /// The label of an upload (header or `?label=`).
    pub label: Option<String>,
    /// `?versions=true` on a listing.
    pub list_versions: bool,
    /// Every query parameter, as sent.
    pub query: Vec<(String, String)>,
}

impl Intent {
    /// Refuses a path or query parameter holding a control or bidi character
    /// (`itarvault_api::text`): names, keys, ids and justifications are one line of
    /// text that displays as it is stored.
    fn check_text(&self) -> Result<(), Error> {
        use itarvault_api::text::{check, Lines};
        let mut params: Vec<_> = self.params.iter().collect();
        params.sort();
        for (name, value) in params {
            check(value, Lines::Single)
                .map_err(|r| Error::text(&format!("path parameter `{name}`"), r))?;
        }
        for (name, value) in &self.query {
            check(name, Lines::Single)
                .map_err(|r| Error::text("the name of a query parameter", r))?;
            check(value, Lines::Single)
                .map_err(|r| Error::text(&format!("query parameter `{name}`"), r))?;
        }
        Ok(())
    }

    fn param(&self, name: &str) -> Result<&str, Error> {
        self.params
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::bug(format!("the route has no `{name}` parameter")))
    }
}

/// Proof that a request passed the gate, with what the gate resolved for it. Only
/// [`Vault::authorize`] makes one (its fields are private to this module); a copy is
/// still proof of the same decision.
#[derive(Debug, Clone)]
pub struct Authorized<T> {
    caller: Caller,
    kind: &'static str,
    grant: Option<String>,
    target: T,
}

impl<T> Authorized<T> {
    pub fn caller(&self) -> &Caller {
        &self.caller
    }
    pub fn target(&self) -> &T {
        &self.target
    }
    /// The route's audit kind.
    pub fn kind(&self) -> &'static str {
        self.kind
    }
    /// The access request this acts under, if not standing access.
    pub fn grant(&self) -> Option<&str> {
        self.grant.as_deref()
    }
    /// An audit event for this request's outcome (who, where, what, under which grant).
    pub fn event(&self, outcome: &str) -> Event {
        let mut e = self.caller.event(self.kind, outcome);
        e.grant = self.grant.clone();
        e
    }
}

/// A request that passed with nothing to resolve (role and self routes).
#[derive(Debug, Clone)]
pub struct Nothing;

/// A read or HEAD of one object version, allowed.
#[derive(Debug, Clone)]
pub struct ObjectRead {
    pub bucket: BucketRecord,
    pub backend: Backend,
    pub object: ObjectRecord,
    pub decision: Decision,
}

/// An upload, allowed: where it goes and under which label.
#[derive(Debug, Clone)]
pub struct ObjectWrite {
    pub bucket: BucketRecord,
    pub backend: Backend,
    pub key: String,
    pub label: Label,
}

/// A deletion, allowed: of the current version (leaving a marker) or of one version.
#[derive(Debug, Clone)]
pub struct ObjectDelete {
    pub bucket: BucketRecord,
    pub key: String,
    /// `Some` to remove that version for good; `None` to add a delete marker.
    pub version: Option<VersionId>,
    pub target: Version,
}

/// A listing, allowed: entries still pass [`Vault::listable`] one by one.
#[derive(Debug, Clone)]
pub struct BucketList {
    pub bucket: BucketRecord,
    pub versions: bool,
    /// For a principal without standing access, the live grants that let them read
    /// in this bucket (a listing shows only what they cover).
    grants: Option<Vec<AccessRequest>>,
}

/// A lockbox record the caller may act on.
#[derive(Debug, Clone)]
pub struct LockboxTarget {
    pub record: LockboxRecord,
}

/// What the gate let through, by the kind of target it resolved.
#[derive(Debug)]
pub enum Granted {
    Nothing(Authorized<Nothing>),
    Read(Authorized<ObjectRead>),
    Write(Authorized<ObjectWrite>),
    Delete(Authorized<ObjectDelete>),
    List(Authorized<BucketList>),
    Lockbox(Authorized<LockboxTarget>),
}

/// How a content operation got past the lockbox.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Access {
    Standing,
    Grant(String),
}

impl Access {
    fn grant(self) -> Option<String> {
        match self {
            Self::Standing => None,
            Self::Grant(id) => Some(id),
        }
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(" or ")
}

fn role_required(roles: &[Role]) -> Error {
    Error::forbidden(
        "role-required",
        format!("this operation needs the {} role", roles_text(roles)),
    )
    .hint("ask an administrator")
}

/// Checks an object key: 1 to `max` bytes, no control or bidi character (a listing
/// must show the name that is stored), no empty, `.` or `..` segment. Keys are names, never paths, but a key that looks like a traversal is
/// refused so that no consumer can misread it.
pub fn check_key(key: &str, max: usize) -> Result<(), Error> {
    let bad = |why: &str| {
        Error::invalid("bad-key", format!("object key is invalid: {why}"))
            .hint("use 1 or more `/`-separated segments of printable characters, none `.` or `..`")
    };
    if key.is_empty() {
        return Err(bad("it is empty"));
    }
    if key.len() > max {
        return Err(bad(&format!(
            "it is {} bytes, the limit is {max}",
            key.len()
        )));
    }
    if let Err(r) = itarvault_api::text::check(key, itarvault_api::text::Lines::Single) {
        return Err(Error::text("the object key", r));
    }
    if key
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        return Err(bad("it has an empty, `.` or `..` segment"));
    }
    Ok(())
}

fn parse_label(text: Option<&str>) -> Result<Label, Error> {
    let text = text.ok_or_else(|| {
        Error::invalid("label-missing", "the upload has no export-control label").hint(
            "send `X-Itarvault-Label: ITAR:XI` (or EAR:9E003, EAR99, PUBLIC; docs/labels.md has the grammar)",
        )
    })?;
    text.parse().map_err(|e| {
        Error::invalid(
            "label-unparseable",
            format!("label `{text}` does not parse: {e}"),
        )
        .hint("docs/labels.md has the label grammar")
    })
}

fn parse_version(v: Option<&str>) -> Result<Option<VersionId>, Error> {
    v.map(|s| {
        VersionId::parse(s).ok_or_else(|| {
            Error::invalid("bad-version", format!("`{s}` is not a version id"))
                .hint("version ids are the 20 hex digits listings and uploads return")
        })
    })
    .transpose()
}

impl Vault {
    /// The enforcement point: decides whether `caller` may do what `route` does with
    /// what `intent` names, records the outcome (allow and deny) in the audit trail,
    /// and hands back the proof the handler needs.
    pub async fn authorize(
        &self,
        caller: Caller,
        route: &Route,
        intent: &Intent,
    ) -> Result<Granted, Error> {
        let mut event = caller.event(route.kind, "deny");
        let outcome = self.check(&caller, route, intent, &mut event);
        match outcome {
            Ok(target) => {
                event.outcome = "allow".into();
                let grant = event.grant.clone();
                self.record(vec![event]).await?;
                let kind = route.kind;
                Ok(match target {
                    Target::Nothing => Granted::Nothing(wrap(caller, kind, grant, Nothing)),
                    Target::Read(t) => Granted::Read(wrap(caller, kind, grant, t)),
                    Target::Write(t) => Granted::Write(wrap(caller, kind, grant, t)),
                    Target::Delete(t) => Granted::Delete(wrap(caller, kind, grant, t)),
                    Target::List(t) => Granted::List(wrap(caller, kind, grant, t)),
                    Target::Lockbox(t) => Granted::Lockbox(wrap(caller, kind, grant, t)),
                })
            }
            // A refusal is recorded as a `deny`; a missing thing or bad input as an
            // `error`.
            Err(err) => Err(self.fail(event, err).await),
        }
    }

    /// The checks of [`Self::authorize`], filling in the audit event as facts are
    /// established (so that a denial records what was known when it was made).
    fn check(
        &self,
        caller: &Caller,
        route: &Route,
        intent: &Intent,
        event: &mut Event,
    ) -> Result<Target, Error> {
        // First, before any of it is copied into the audit record or a message.
        intent.check_text()?;
        self.check_epoch(route)?;
        if let Credential::Token {
            purpose: TokenPurpose::Enrollment,
            ..
        } = &caller.credential
        {
            let own_token = route.kind == MINT_KIND && intent.param("id")? == caller.id();
            if !own_token && route.kind != WHOAMI_KIND {
                return Err(Error::forbidden(
                    "enrollment-token",
                    "an enrollment token serves only to mint your own access token",
                )
                .hint(format!(
                    "run `itarvault tokens create {}` with it, then use the token that prints",
                    caller.id()
                )));
            }
        }
        match route.permission {
            Permission::Public | Permission::Authenticated => Ok(Target::Nothing),
            Permission::Roles(roles) => {
                if roles.iter().any(|r| caller.has_role(*r)) {
                    Ok(Target::Nothing)
                } else {
                    Err(role_required(roles))
                }
            }
            Permission::SelfOr(roles) => {
                let id = intent.param("id")?;
                event.detail = Some(format!("principal `{id}`"));
                if caller.id() == id || roles.iter().any(|r| caller.has_role(*r)) {
                    Ok(Target::Nothing)
                } else {
                    Err(role_required(roles).hint(format!(
                        "only `{id}` themselves or a principal with that role may do this"
                    )))
                }
            }
            Permission::TokenOwnerOr(roles) => {
                let id = intent.param("id")?;
                event.detail = Some(format!("token `{id}`"));
                if roles.iter().any(|r| caller.has_role(*r)) {
                    return Ok(Target::Nothing);
                }
                match self.credentials.token(id)? {
                    Some(t) if t.principal == caller.id() => Ok(Target::Nothing),
                    // Someone else's token and an unknown one look alike (no oracle).
                    _ => Err(role_required(roles).hint("you may revoke only your own tokens")),
                }
            }
            Permission::Object(action) => self.check_object(caller, action, intent, event),
            Permission::List => self.check_list(caller, intent, event),
            Permission::Lockbox(kind, role) => {
                let id = intent.param("id")?;
                event.grant = Some(id.to_owned());
                let record = self
                    .lockbox
                    .lockbox(id)?
                    .filter(|r| r.kind == kind)
                    .ok_or_else(|| {
                        Error::not_found(format!("{} `{id}` does not exist", kind.as_str()))
                    })?;
                let ballot = Ballots::of(&record)?;
                let me = caller.id();
                let allowed = match role {
                    LockboxRole::Party => {
                        caller.has_role(Role::Admin)
                            || caller.has_role(Role::Auditor)
                            || ballot.requester == me
                            || ballot.approvers.iter().any(|a| a == me)
                    }
                    LockboxRole::Approver => {
                        ballot.requester != me && ballot.approvers.iter().any(|a| a == me)
                    }
                    LockboxRole::Revoker => {
                        ballot.requester == me || ballot.approvers.iter().any(|a| a == me)
                    }
                };
                if allowed {
                    return Ok(Target::Lockbox(LockboxTarget { record }));
                }
                let id = id.to_owned();
                let by = me.to_owned();
                Err(match role {
                    // Not one's business: it does not exist as far as they can tell.
                    LockboxRole::Party => {
                        Error::not_found(format!("{} `{id}` does not exist", kind.as_str()))
                    }
                    LockboxRole::Approver if ballot.requester == me => {
                        lockbox_error(LockboxError::SelfApproval(by, id))
                    }
                    LockboxRole::Approver => lockbox_error(LockboxError::NotApprover {
                        by,
                        id,
                        approvers: ballot.approvers.join(", "),
                    }),
                    LockboxRole::Revoker => lockbox_error(LockboxError::NotRevoker { by, id }),
                })
            }
        }
    }

    fn bucket_and_backend(&self, name: &str) -> Result<(BucketRecord, Backend), Error> {
        let bucket = self.buckets.bucket(name)?.ok_or_else(|| {
            Error::not_found(format!("bucket `{name}` does not exist"))
                .hint("list buckets with `itarvault buckets list`")
        })?;
        let backend = self.backend(&bucket.backend)?.clone();
        Ok((bucket, backend))
    }

    fn check_object(
        &self,
        caller: &Caller,
        action: ObjectAction,
        intent: &Intent,
        event: &mut Event,
    ) -> Result<Target, Error> {
        let (bucket_name, key) = (intent.param("bucket")?, intent.param("key")?);
        event.bucket = Some(bucket_name.to_owned());
        event.object = Some(key.to_owned());
        check_key(key, self.config.limits.max_key_bytes)?;
        let version = parse_version(intent.version.as_deref())?;
        let (bucket, backend) = self.bucket_and_backend(bucket_name)?;
        let content_action = match action {
            ObjectAction::Read | ObjectAction::Head => ContentAction::Read,
            ObjectAction::Write => ContentAction::Write,
            ObjectAction::Delete => ContentAction::Delete,
        };
        event.action = Some(content_action.to_string());
        // An upload's label is the caller's own input: checked before anything else.
        let label = match action {
            ObjectAction::Write => {
                let label = parse_label(intent.label.as_deref())?;
                event.label = Some(label.to_string());
                Some(label)
            }
            _ => None,
        };
        // Then the lockbox: someone without standing access or a grant learns nothing
        // about the object, not even whether it exists.
        let access = self.content_access(caller, bucket_name, key, content_action)?;
        event.grant = access.clone().grant();
        let current = self.objects.version(bucket_name, key, version.as_ref())?;
        match action {
            ObjectAction::Read | ObjectAction::Head => {
                let object = match current {
                    Some(Version::Object(o)) => o,
                    Some(Version::DeleteMarker(_)) | None => {
                        return Err(not_found(bucket_name, key, version.as_ref()))
                    }
                };
                event.label = Some(object.label.to_string());
                let decision = self.decide(caller, ExportAction::Read, &object.label, None)?;
                event.reasons = audit_reasons(&decision);
                event.authorization = decision.authorization_used.clone();
                if !decision.is_allow() {
                    return Err(Error::denied("read", decision));
                }
                Ok(Target::Read(ObjectRead {
                    bucket,
                    backend,
                    object,
                    decision,
                }))
            }
            ObjectAction::Write => {
                if version.is_some() {
                    return Err(Error::invalid(
                        "bad-version",
                        "an upload makes a new version; it cannot name one",
                    ));
                }
                let label = label.ok_or_else(|| Error::bug("an upload without its label"))?;
                // Replacing a version hides it: that needs the right to delete it.
                if let Some(Version::Object(old)) = &current {
                    self.delete_right(caller, &access, &bucket, old.created_by.as_str(), key)
                        .map_err(|e| match e {
                            Error::Forbidden(mut d) => {
                                d.error = "overwrite-needs-delete";
                                d.message = format!("{} (an overwrite replaces it)", d.message);
                                Error::Forbidden(d)
                            }
                            other => other,
                        })?;
                }
                // May this person send it in, and may it be placed in this backend?
                let write = self.decide(caller, ExportAction::Write, &label, None)?;
                let store = self.decide(caller, ExportAction::Store, &label, Some(&backend))?;
                event.reasons = audit_reasons(&write);
                event.reasons.extend(audit_reasons(&store));
                event.authorization = write.authorization_used.clone();
                if !write.is_allow() {
                    return Err(Error::denied("write", write));
                }
                if !store.is_allow() {
                    return Err(Error::denied(
                        &format!("storing in backend `{}`", backend.name),
                        store,
                    ));
                }
                Ok(Target::Write(ObjectWrite {
                    bucket,
                    backend,
                    key: key.to_owned(),
                    label,
                }))
            }
            ObjectAction::Delete => {
                let target = match (current, &version) {
                    (Some(v), Some(_)) => v,
                    (Some(Version::Object(o)), None) => Version::Object(o),
                    _ => return Err(not_found(bucket_name, key, version.as_ref())),
                };
                if let Version::Object(o) = &target {
                    event.label = Some(o.label.to_string());
                }
                self.delete_right(caller, &access, &bucket, target.created_by(), key)?;
                Ok(Target::Delete(ObjectDelete {
                    bucket,
                    key: key.to_owned(),
                    version,
                    target,
                }))
            }
        }
    }

    /// Destroying or replacing technical data is for who stored that version, the
    /// bucket's owners, or someone an owner granted `delete`; a role alone is not enough.
    fn delete_right(
        &self,
        caller: &Caller,
        access: &Access,
        bucket: &BucketRecord,
        created_by: &str,
        key: &str,
    ) -> Result<(), Error> {
        let me = caller.id();
        match access {
            Access::Grant(id) => {
                if self.grant_allows(caller, id, &bucket.name, key, ContentAction::Delete)? {
                    Ok(())
                } else {
                    Err(Error::forbidden(
                        "not-owner",
                        format!("grant {id} does not include delete for `{key}`"),
                    )
                    .hint("ask an owner of the bucket for a grant that includes `delete`"))
                }
            }
            Access::Standing if created_by == me || bucket.owners.iter().any(|o| o == me) => Ok(()),
            Access::Standing => Err(Error::forbidden(
                "not-owner",
                format!(
                    "only `{created_by}` (who stored it), an owner of `{}` or the holder of an approved delete grant may delete `{key}`",
                    bucket.name
                ),
            )),
        }
    }

    fn check_list(
        &self,
        caller: &Caller,
        intent: &Intent,
        event: &mut Event,
    ) -> Result<Target, Error> {
        let name = intent.param("bucket")?;
        event.bucket = Some(name.to_owned());
        event.action = Some("read".into());
        let (bucket, _) = self.bucket_and_backend(name)?;
        let grants = if has_standing_access(&caller.principal.roles) {
            None
        } else {
            let now = OffsetDateTime::now_utc();
            let live: Vec<AccessRequest> = self
                .access_requests_of(caller.id())?
                .into_iter()
                .filter(|r| {
                    r.scope.bucket() == name
                        && r.actions.contains(&ContentAction::Read)
                        && r.permits_at(caller.id(), now)
                })
                .collect();
            if live.is_empty() {
                return Err(no_standing_access(caller, name, None, ContentAction::Read));
            }
            event.grant = Some(
                live.iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            );
            Some(live)
        };
        Ok(Target::List(BucketList {
            bucket,
            versions: intent.list_versions,
            grants,
        }))
    }

    /// Whether a listed object may be shown to the caller: inside their grants (for a
    /// principal without standing access), and readable by them from where they are.
    pub(super) fn listable(
        &self,
        auth: &Authorized<BucketList>,
        object: &ObjectRecord,
    ) -> Result<bool, Error> {
        let list = auth.target();
        if let Some(grants) = &list.grants {
            if !grants
                .iter()
                .any(|g| g.scope.covers(&list.bucket.name, &object.key))
            {
                return Ok(false);
            }
        }
        Ok(self
            .decide(auth.caller(), ExportAction::Read, &object.label, None)?
            .is_allow())
    }

    /// Lets `caller` do `action` to content of `bucket`/`key` past the lockbox, or says
    /// why not. A use of a grant is counted. The export decision is separate and always
    /// runs as well.
    fn content_access(
        &self,
        caller: &Caller,
        bucket: &str,
        key: &str,
        action: ContentAction,
    ) -> Result<Access, Error> {
        if has_standing_access(&caller.principal.roles) {
            return Ok(Access::Standing);
        }
        if let Some(id) = self.use_grant(caller, bucket, key, action)? {
            return Ok(Access::Grant(id));
        }
        Err(no_standing_access(caller, bucket, Some(key), action))
    }
}

fn not_found(bucket: &str, key: &str, version: Option<&VersionId>) -> Error {
    match version {
        None => Error::not_found(format!(
            "object `{key}` does not exist in bucket `{bucket}`"
        )),
        Some(v) => Error::not_found(format!(
            "object `{key}` in bucket `{bucket}` has no version `{v}`"
        )),
    }
}

fn no_standing_access(
    caller: &Caller,
    bucket: &str,
    key: Option<&str>,
    action: ContentAction,
) -> Error {
    let roles = caller
        .principal
        .roles
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let what = match key {
        Some(k) => format!("{action} on `{k}` in bucket `{bucket}`"),
        None => format!("{action} in bucket `{bucket}`"),
    };
    Error::forbidden(
        "no-standing-access",
        format!(
            "`{}` holds the role {roles}, which gives no standing access to object content or metadata, and no approved, unexpired access request covers {what}",
            caller.id()
        ),
    )
    .hint(format!(
        "file one for an owner of `{bucket}` to approve: itarvault lockbox request --bucket {bucket} --action {action} --justification \"<ticket and reason>\""
    ))
}

/// The target [`Vault::check`] resolved, before it is wrapped.
enum Target {
    Nothing,
    Read(ObjectRead),
    Write(ObjectWrite),
    Delete(ObjectDelete),
    List(BucketList),
    Lockbox(LockboxTarget),
}

fn wrap<T>(caller: Caller, kind: &'static str, grant: Option<String>, target: T) -> Authorized<T> {
    Authorized {
        caller,
        kind,
        grant,
        target,
    }
}
