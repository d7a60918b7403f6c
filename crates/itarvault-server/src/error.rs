//! Errors of the vault's operations, sorted by who is at fault: the caller (bad input,
//! a missing thing, a conflict), a rule (a refusal), the operator's configuration, the
//! infrastructure (audit log, database, key provider, disk), or a bug. The variant
//! decides the HTTP status; the detail carries a stable code, a message naming what
//! failed, and a hint saying what to do. Never key material or plaintext.

use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use itarvault_policy::{Decision, InputProblem};
use serde::Serialize;

/// The header that repeats an error answer's code (a HEAD answer has no body).
pub const ERROR_HEADER: &str = "x-itarvault-error";

/// What went wrong, for the caller and the operator.
#[derive(Debug, Default, Serialize)]
pub struct Detail {
    /// Stable machine-readable code (`label-missing`, `export-denied`, ...).
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For export denials: the decision, exactly as `POST /v1/decide` would return it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<Decision>>,
    /// For invalid input: each problem with its JSON path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<InputProblem>,
    /// For an overloaded server: seconds to wait before retrying.
    #[serde(skip)]
    pub retry_after: Option<u32>,
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Why an operation did not happen.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's request is malformed (400).
    #[error("{0}")]
    Invalid(Detail),
    /// What the caller named does not exist (404).
    #[error("{0}")]
    NotFound(Detail),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(Detail),
    /// The request exceeds a limit (413).
    #[error("{0}")]
    TooLarge(Detail),
    /// The content check refused what was sent (422).
    #[error("{0}")]
    Unprocessable(Detail),
    /// The client sent its body too slowly, or stopped sending (408).
    #[error("{0}")]
    TimedOut(Detail),
    /// The caller (a principal, or an address failing to authenticate) is over its
    /// share (429).
    #[error("{0}")]
    TooMany(Detail),
    /// No valid credential was presented (401).
    #[error("{0}")]
    Unauthenticated(Detail),
    /// A rule refuses: a role, the lockbox, the export decision, the quorum (403).
    #[error("{0}")]
    Forbidden(Detail),
    /// The operator's configuration prevents it (500).
    #[error("{0}")]
    Config(Detail),
    /// Stored data does not match its record: tampered or damaged (500). Nothing was
    /// released.
    #[error("{0}")]
    Integrity(Detail),
    /// A dependency failed: the audit log, the database, a key provider, the disk, or
    /// the server is saturated (503).
    #[error("{0}")]
    Unavailable(Detail),
    /// Our bug (500): please report it.
    #[error("{0}")]
    Bug(Detail),
}

fn detail(code: &'static str, message: impl Into<String>) -> Detail {
    Detail {
        error: code,
        message: message.into(),
        ..Detail::default()
    }
}

impl Error {
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(detail(code, message))
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::NotFound(detail("not-found", message))
    }
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::Conflict(detail(code, message))
    }
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::Forbidden(detail(code, message))
    }
    pub fn config(code: &'static str, message: impl Into<String>) -> Self {
        Self::Config(detail(code, message))
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::Integrity(detail("integrity", message)).hint(
            "nothing was released; treat this as a possible tampering: compare the data directory with a backup and check `itarvault audit verify`",
        )
    }
    pub fn timed_out(code: &'static str, message: impl Into<String>) -> Self {
        Self::TimedOut(detail(code, message))
    }
    pub fn too_many(code: &'static str, message: impl Into<String>) -> Self {
        Self::TooMany(detail(code, message))
    }
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unavailable(detail(code, message))
    }
    pub fn bug(message: impl Into<String>) -> Self {
        Self::Bug(Detail {
            hint: Some("this is a bug: please report it with the server log".into()),
            ..detail("internal", message)
        })
    }
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated(detail("unauthenticated", message)).hint(
            "send `Authorization: Bearer <token>` (a token you created with `itarvault tokens create`, or your organisation's OIDC token), or a client certificate",
        )
    }

    /// A text field holding a character the API refuses (`itarvault_api::text`): named
    /// by the field and the code point, never echoed.
    pub fn text(field: &str, refused: itarvault_api::text::Refused) -> Self {
        Self::invalid("bad-character", format!("{field} contains {refused}"))
            .hint(itarvault_api::text::RULE)
    }

    /// An export-control denial, with the decision's reasons.
    pub fn denied(what: &str, d: Decision) -> Self {
        let rules = d
            .reasons
            .iter()
            .map(|r| r.rule)
            .collect::<Vec<_>>()
            .join(", ");
        Self::Forbidden(Detail {
            decision: Some(Box::new(d)),
            hint: Some(
                "the reasons name the rule, its citation and the fact that failed; docs/rules.md explains each rule".into(),
            ),
            ..detail(
                "export-denied",
                format!("{what} denied by export rules ({rules})"),
            )
        })
    }

    /// The audit trail could not record the operation, so it did not happen.
    pub fn audit(e: &crate::audit_log::AuditError) -> Self {
        Self::unavailable("audit-unavailable", e.to_string())
    }

    pub fn detail(&self) -> &Detail {
        match self {
            Self::Invalid(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::TooLarge(d)
            | Self::Unprocessable(d)
            | Self::TimedOut(d)
            | Self::TooMany(d)
            | Self::Unauthenticated(d)
            | Self::Forbidden(d)
            | Self::Config(d)
            | Self::Integrity(d)
            | Self::Unavailable(d)
            | Self::Bug(d) => d,
        }
    }

    fn detail_mut(&mut self) -> &mut Detail {
        match self {
            Self::Invalid(d)
            | Self::NotFound(d)
            | Self::Conflict(d)
            | Self::TooLarge(d)
            | Self::Unprocessable(d)
            | Self::TimedOut(d)
            | Self::TooMany(d)
            | Self::Unauthenticated(d)
            | Self::Forbidden(d)
            | Self::Config(d)
            | Self::Integrity(d)
            | Self::Unavailable(d)
            | Self::Bug(d) => d,
        }
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.detail_mut().hint = Some(h.into());
        self
    }

    pub fn problems(mut self, p: Vec<InputProblem>) -> Self {
        self.detail_mut().problems = p;
        self
    }

    pub fn retry_after(mut self, secs: u32) -> Self {
        self.detail_mut().retry_after = Some(secs);
        self
    }

    pub fn code(&self) -> &'static str {
        self.detail().error
    }

    pub fn message(&self) -> &str {
        &self.detail().message
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Invalid(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TimedOut(_) => StatusCode::REQUEST_TIMEOUT,
            Self::TooMany(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Config(_) | Self::Integrity(_) | Self::Bug(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The audit outcome of an operation that failed this way: a refusal (by a rule or
    /// by the content check) is a `deny`, anything else an `error`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Forbidden(_) | Self::Unauthenticated(_) | Self::Unprocessable(_) => "deny",
            _ => "error",
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = self.status();
        let d = self.detail();
        let mut resp = (status, Json(d)).into_response();
        // A HEAD answer has no body: the code travels in a header too.
        resp.headers_mut()
            .insert(ERROR_HEADER, HeaderValue::from_static(d.error));
        if let Some(s) = d.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<itarvault_store::StoreError> for Error {
    fn from(e: itarvault_store::StoreError) -> Self {
        use itarvault_store::StoreError as S;
        match e {
            S::NotFound(what) => Self::not_found(format!("{what} does not exist")),
            S::Exists(what) => Self::conflict("exists", format!("{what} already exists")),
            S::Conflict(_) => Self::conflict("busy", e.to_string()),
            S::BadCursor(_) => Self::invalid("bad-cursor", e.to_string()),
            S::Corrupt(_) | S::BadBlobId(_) => Self::unavailable("metadata-damaged", e.to_string()),
            S::SchemaTooNew(..) => Self::config("schema-too-new", e.to_string()),
            S::Database(_) | S::Io(..) => Self::unavailable("storage-unavailable", e.to_string()),
        }
    }
}

impl From<crate::audit_log::AuditError> for Error {
    fn from(e: crate::audit_log::AuditError) -> Self {
        Self::audit(&e)
    }
}
