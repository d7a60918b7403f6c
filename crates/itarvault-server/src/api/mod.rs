//! The HTTP API (`docs/openapi.json`).

mod admin;
pub mod lockbox;
mod objects;
mod ops;

pub use objects::{check_key, LABEL_HEADER};

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequestParts};
use axum::http::request::Parts;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::error::ApiError;
use crate::state::{bump, new_request_id, AppState, Caller};

/// The connection a request came on (set per connection): the peer address and, when
/// the client presented a certificate that verified, the principal it names.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub cert_principal: Option<String>,
}

/// Every route, as `METHOD path`; the OpenAPI document must describe exactly these
/// (a test checks).
pub const ROUTES: &[&str] = &[
    "GET /healthz",
    "GET /metrics",
    "GET /openapi.json",
    "GET /v1/whoami",
    "POST /v1/decide",
    "GET /v1/principals",
    "POST /v1/principals",
    "GET /v1/principals/{id}",
    "POST /v1/principals/{id}/disable",
    "POST /v1/principals/{id}/enable",
    "GET /v1/principals/{id}/authorizations",
    "POST /v1/principals/{id}/authorizations",
    "DELETE /v1/principals/{id}/authorizations/{auth}",
    "GET /v1/principals/{id}/tokens",
    "POST /v1/principals/{id}/tokens",
    "DELETE /v1/tokens/{id}",
    "GET /v1/buckets",
    "POST /v1/buckets",
    "GET /v1/buckets/{bucket}/objects",
    "PUT /v1/buckets/{bucket}/objects/{key}",
    "GET /v1/buckets/{bucket}/objects/{key}",
    "HEAD /v1/buckets/{bucket}/objects/{key}",
    "DELETE /v1/buckets/{bucket}/objects/{key}",
    "GET /v1/lockbox",
    "POST /v1/lockbox",
    "GET /v1/lockbox/{id}",
    "POST /v1/lockbox/{id}/approve",
    "POST /v1/lockbox/{id}/deny",
    "POST /v1/lockbox/{id}/revoke",
    "GET /v1/quorum",
    "POST /v1/quorum",
    "GET /v1/quorum/{id}",
    "POST /v1/quorum/{id}/approve",
    "POST /v1/quorum/{id}/deny",
    "GET /v1/audit",
    "GET /v1/posture",
];

/// Largest JSON body the admin and decision endpoints accept.
const MAX_JSON: usize = 4 << 20;

pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(ops::openapi))
        .route("/v1/whoami", get(admin::whoami))
        .route("/v1/decide", post(ops::decide))
        .route(
            "/v1/principals",
            get(admin::list_principals).post(admin::add_principal),
        )
        .route("/v1/principals/{id}", get(admin::show_principal))
        .route(
            "/v1/principals/{id}/disable",
            post(admin::disable_principal),
        )
        .route("/v1/principals/{id}/enable", post(admin::enable_principal))
        .route(
            "/v1/principals/{id}/authorizations",
            get(admin::list_authorizations).post(admin::add_authorization),
        )
        .route(
            "/v1/principals/{id}/authorizations/{auth}",
            delete(admin::revoke_authorization),
        )
        .route(
            "/v1/principals/{id}/tokens",
            get(admin::list_tokens).post(admin::create_token),
        )
        .route("/v1/tokens/{id}", delete(admin::revoke_token))
        .route(
            "/v1/buckets",
            get(admin::list_buckets).post(admin::create_bucket),
        )
        .route("/v1/buckets/{bucket}/objects", get(objects::list))
        .route(
            "/v1/buckets/{bucket}/objects/{*key}",
            get(objects::get)
                .put(objects::put)
                .head(objects::head)
                .delete(objects::delete),
        )
        .route(
            "/v1/lockbox",
            get(lockbox::list_requests).post(lockbox::file_request),
        )
        .route("/v1/lockbox/{id}", get(lockbox::show_request))
        .route("/v1/lockbox/{id}/approve", post(lockbox::approve_request))
        .route("/v1/lockbox/{id}/deny", post(lockbox::deny_request))
        .route("/v1/lockbox/{id}/revoke", post(lockbox::revoke_request))
        .route(
            "/v1/quorum",
            get(lockbox::list_proposals).post(lockbox::create_proposal),
        )
        .route("/v1/quorum/{id}", get(lockbox::show_proposal))
        .route("/v1/quorum/{id}/approve", post(lockbox::approve_proposal))
        .route("/v1/quorum/{id}/deny", post(lockbox::deny_proposal))
        .route("/v1/audit", get(ops::audit_trail))
        .route("/v1/posture", get(ops::posture))
        .layer(DefaultBodyLimit::max(MAX_JSON))
        .with_state(state)
}

/// Appends one audit record; a failure to record fails the request.
async fn record(st: &AppState, ev: itarvault_audit::Event) -> Result<(), ApiError> {
    st.audit
        .record(ev)
        .await
        .map(|_| ())
        .map_err(|e| ApiError::audit_unavailable(&e))
}

/// The audit outcome of an administrative or lockbox action: a refusal (403) is a
/// `deny`, any other failure an `error`.
fn outcome<T>(res: &Result<T, ApiError>) -> &'static str {
    match res {
        Ok(_) => "ok",
        Err(e) if e.status == axum::http::StatusCode::FORBIDDEN => "deny",
        Err(_) => "error",
    }
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> Result<Self, ApiError> {
        bump(&st.metrics.requests, 1);
        let peer = parts.extensions.get::<Peer>();
        let addr = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.addr.ip());
        let cert = peer.and_then(|p| p.cert_principal.clone());
        let located = st.locate(addr, &parts.headers);
        st.authenticate(&parts.headers, cert, located, new_request_id())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_openapi_document_describes_exactly_the_routes() {
        let doc: serde_json::Value = serde_json::from_str(ops::OPENAPI).unwrap();
        let mut documented: Vec<String> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| format!("{} {path}", m.to_uppercase()))
            })
            .collect();
        documented.sort();
        let mut routes: Vec<String> = ROUTES.iter().map(ToString::to_string).collect();
        routes.sort();
        assert_eq!(documented, routes);
    }
}
