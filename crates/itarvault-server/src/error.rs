//! API errors: an HTTP status, a stable code, a message naming what failed and a hint
//! saying what to do. Never key material or plaintext.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use itarvault_policy::Decision;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: StatusCode,
    /// Stable machine-readable code (`forbidden`, `label-missing`, ...).
    pub error: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// For export denials: the decision, exactly as `POST /v1/decide` would return it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Box<Decision>>,
    /// For invalid input: each problem with its JSON path.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<itarvault_policy::InputProblem>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            error,
            message: message.into(),
            hint: None,
            decision: None,
            problems: Vec::new(),
        }
    }

    pub fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }

    pub fn bad_request(error: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, error, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", message).hint(
            "send `Authorization: Bearer <token>`; an admin issues tokens with `itarvault tokens create`",
        )
    }

    pub fn forbidden_role(role: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "role-required",
            format!("this operation needs the `{role}` role"),
        )
        .hint("ask an administrator")
    }

    /// An export-control denial: 403 with the decision's reasons.
    pub fn denied(what: &str, d: Decision) -> Self {
        let rules = d
            .reasons
            .iter()
            .map(|r| r.rule)
            .collect::<Vec<_>>()
            .join(", ");
        Self {
            decision: Some(Box::new(d)),
            ..Self::new(
                StatusCode::FORBIDDEN,
                "export-denied",
                format!("{what} denied by export rules ({rules})"),
            )
        }
        .hint("the reasons name the rule and the fact that failed; see docs/rules.md")
    }

    /// Our fault or a provider's: the message is for the operator's log as much as the
    /// client, so it never includes secrets.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    pub fn audit_unavailable(e: &crate::audit_log::AuditError) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "audit-unavailable",
            e.to_string(),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(&self)).into_response()
    }
}

impl From<itarvault_store::StoreError> for ApiError {
    fn from(e: itarvault_store::StoreError) -> Self {
        use itarvault_store::StoreError as S;
        match e {
            S::NotFound(what) => Self::not_found(format!("{what} does not exist")),
            S::Exists(what) => Self::new(
                StatusCode::CONFLICT,
                "exists",
                format!("{what} already exists"),
            ),
            other => Self::internal(other.to_string()),
        }
    }
}
