//! The HTTP API (`docs/openapi.json`): one route table, one enforcement layer, and
//! handlers that only adapt HTTP to the vault's service calls.
//!
//! The router is built from [`table`] alone, and every route in it is wrapped in
//! [`enforce`] with the permission the table declares: a route cannot be added without
//! saying who may use it, and cannot be reached without passing the gate.

mod handlers;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{
    FromRequest, FromRequestParts, OptionalFromRequest, RawPathParams, Request, State,
};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{header, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use crate::error::Error;
use crate::vault::gate::{LockboxRole, ObjectAction, Permission, Route, MINT_KIND, WHOAMI_KIND};
use crate::vault::{new_request_id, Authorized, Granted, Intent, Presented, Vault};
use itarvault_store::{LockboxKind, Role};

/// The header that carries an upload's label.
pub const LABEL_HEADER: &str = "x-itarvault-label";
/// The header that names an object version in answers.
pub const VERSION_HEADER: &str = "x-itarvault-version";

/// The connection a request came on (set per connection): the peer address and, when
/// the client presented a certificate that verified, what it says.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: SocketAddr,
    pub cert: Option<crate::tls::PeerCert>,
}

/// Largest JSON body the admin and decision endpoints accept.
const MAX_JSON: usize = 4 << 20;

const ADMIN: &[Role] = &[Role::Admin];
const ADMIN_AUDITOR: &[Role] = &[Role::Admin, Role::Auditor];
const OPERATIONS: &[Role] = &[Role::Admin, Role::Auditor, Role::Operator];

fn filter(m: &Method) -> MethodFilter {
    match *m {
        Method::PUT => MethodFilter::PUT,
        Method::POST => MethodFilter::POST,
        Method::DELETE => MethodFilter::DELETE,
        Method::HEAD => MethodFilter::HEAD,
        _ => MethodFilter::GET,
    }
}

/// One entry of the table: the route's declaration and its handler, on its method.
fn entry<H, T>(
    method: Method,
    path: &'static str,
    kind: &'static str,
    permission: Permission,
    handler: H,
) -> (Route, MethodRouter<Arc<Vault>>)
where
    H: Handler<T, Arc<Vault>>,
    T: 'static,
{
    let router = on(filter(&method), handler);
    let route = Route {
        method,
        path,
        kind,
        permission,
    };
    (route, router)
}

/// Every route: method, path, audit kind, who may use it, and its handler. The router
/// and the route-table test read this one list.
pub fn table() -> Vec<(Route, MethodRouter<Arc<Vault>>)> {
    use handlers as h;
    use Method as M;
    use Permission::*;
    let object = "/v1/buckets/{bucket}/objects/{*key}";
    let entries: Vec<(Route, MethodRouter<Arc<Vault>>)> = vec![
        entry(M::GET, "/healthz", "health", Public, h::healthz),
        entry(M::GET, "/openapi.json", "openapi", Public, h::openapi),
        entry(
            M::GET,
            "/metrics",
            "metrics.read",
            Roles(OPERATIONS),
            h::metrics,
        ),
        entry(M::GET, "/v1/whoami", WHOAMI_KIND, Authenticated, h::whoami),
        entry(
            M::POST,
            "/v1/decide",
            "decide.request",
            Authenticated,
            h::decide,
        ),
        entry(
            M::GET,
            "/v1/principals",
            "admin.principal.list",
            Roles(ADMIN_AUDITOR),
            h::list_principals,
        ),
        entry(
            M::POST,
            "/v1/principals",
            "admin.principal.add",
            Roles(ADMIN),
            h::add_principal,
        ),
        entry(
            M::GET,
            "/v1/principals/{id}",
            "admin.principal.show",
            SelfOr(ADMIN_AUDITOR),
            h::show_principal,
        ),
        entry(
            M::POST,
            "/v1/principals/{id}/disable",
            "admin.principal.disable",
            Roles(ADMIN),
            h::disable_principal,
        ),
        entry(
            M::POST,
            "/v1/principals/{id}/enable",
            "admin.principal.enable",
            Roles(ADMIN),
            h::enable_principal,
        ),
        entry(
            M::GET,
            "/v1/principals/{id}/authorizations",
            "admin.authorization.list",
            SelfOr(ADMIN_AUDITOR),
            h::list_authorizations,
        ),
        entry(
            M::POST,
            "/v1/principals/{id}/authorizations",
            "admin.authorization.add",
            Roles(ADMIN),
            h::add_authorization,
        ),
        entry(
            M::DELETE,
            "/v1/principals/{id}/authorizations/{auth}",
            "admin.authorization.revoke",
            Roles(ADMIN),
            h::revoke_authorization,
        ),
        entry(
            M::GET,
            "/v1/principals/{id}/tokens",
            "admin.token.list",
            SelfOr(ADMIN),
            h::list_tokens,
        ),
        entry(
            M::POST,
            "/v1/principals/{id}/tokens",
            MINT_KIND,
            SelfOr(ADMIN),
            h::create_token,
        ),
        entry(
            M::POST,
            "/v1/principals/{id}/enrollment",
            "admin.enrollment",
            Roles(ADMIN),
            h::enroll,
        ),
        entry(
            M::PUT,
            "/v1/principals/{id}/bindings",
            "admin.principal.bind",
            Roles(ADMIN),
            h::bind_principal,
        ),
        entry(
            M::DELETE,
            "/v1/tokens/{id}",
            "admin.token.revoke",
            TokenOwnerOr(ADMIN),
            h::revoke_token,
        ),
        entry(
            M::GET,
            "/v1/buckets",
            "bucket.list",
            Authenticated,
            h::list_buckets,
        ),
        entry(
            M::POST,
            "/v1/buckets",
            "admin.bucket.create",
            Roles(ADMIN),
            h::create_bucket,
        ),
        entry(
            M::GET,
            "/v1/buckets/{bucket}/objects",
            "object.list",
            List,
            h::list_objects,
        ),
        entry(
            M::PUT,
            object,
            "object.put",
            Object(ObjectAction::Write),
            h::put_object,
        ),
        entry(
            M::GET,
            object,
            "object.get",
            Object(ObjectAction::Read),
            h::get_object,
        ),
        entry(
            M::HEAD,
            object,
            "object.head",
            Object(ObjectAction::Head),
            h::head_object,
        ),
        entry(
            M::DELETE,
            object,
            "object.delete",
            Object(ObjectAction::Delete),
            h::delete_object,
        ),
        entry(
            M::GET,
            "/v1/lockbox",
            "lockbox.list",
            Authenticated,
            h::list_requests,
        ),
        entry(
            M::POST,
            "/v1/lockbox",
            "lockbox.request",
            Authenticated,
            h::file_request,
        ),
        entry(
            M::GET,
            "/v1/lockbox/{id}",
            "lockbox.show",
            Lockbox(LockboxKind::Access, LockboxRole::Party),
            h::show_request,
        ),
        entry(
            M::POST,
            "/v1/lockbox/{id}/approve",
            "lockbox.approve",
            Lockbox(LockboxKind::Access, LockboxRole::Approver),
            h::approve_request,
        ),
        entry(
            M::POST,
            "/v1/lockbox/{id}/deny",
            "lockbox.deny",
            Lockbox(LockboxKind::Access, LockboxRole::Approver),
            h::deny_request,
        ),
        entry(
            M::POST,
            "/v1/lockbox/{id}/revoke",
            "lockbox.revoke",
            Lockbox(LockboxKind::Access, LockboxRole::Revoker),
            h::revoke_request,
        ),
        entry(
            M::GET,
            "/v1/quorum",
            "quorum.list",
            Authenticated,
            h::list_proposals,
        ),
        entry(
            M::POST,
            "/v1/quorum",
            "quorum.propose",
            Roles(ADMIN),
            h::create_proposal,
        ),
        entry(
            M::GET,
            "/v1/quorum/{id}",
            "quorum.show",
            Lockbox(LockboxKind::Quorum, LockboxRole::Party),
            h::show_proposal,
        ),
        entry(
            M::POST,
            "/v1/quorum/{id}/approve",
            "quorum.approve",
            Lockbox(LockboxKind::Quorum, LockboxRole::Approver),
            h::approve_proposal,
        ),
        entry(
            M::POST,
            "/v1/quorum/{id}/deny",
            "quorum.deny",
            Lockbox(LockboxKind::Quorum, LockboxRole::Approver),
            h::deny_proposal,
        ),
        entry(
            M::GET,
            "/v1/audit",
            "audit.read",
            Roles(ADMIN_AUDITOR),
            h::audit_trail,
        ),
        entry(
            M::GET,
            "/v1/posture",
            "posture.read",
            Roles(ADMIN_AUDITOR),
            h::posture,
        ),
    ];
    entries
}

/// The router: each route of [`table`] behind [`enforce`] with its own declaration.
pub fn router(vault: Arc<Vault>) -> Router {
    let mut app = Router::new();
    for (route, handler) in table() {
        let path = route.path;
        let layered = handler.route_layer(middleware::from_fn_with_state(
            (vault.clone(), route),
            enforce,
        ));
        app = app.route(path, layered);
    }
    app.with_state(vault)
}

/// The enforcement layer: authenticate, then [`Vault::authorize`]; the handler runs
/// only with the proof it needs in the request's extensions.
async fn enforce(
    State((vault, route)): State<(Arc<Vault>, Route)>,
    request: Request,
    next: Next,
) -> Response {
    if route.permission == Permission::Public {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    let peer = parts.extensions.get::<Peer>().cloned();
    let addr = peer
        .as_ref()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |p| p.addr.ip());
    let located = vault.locate(addr, &parts.headers);
    let presented = Presented {
        authorization: parts.headers.get(header::AUTHORIZATION).cloned(),
        cert: peer.and_then(|p| p.cert),
    };
    let caller = match vault
        .authenticate(&presented, located, new_request_id())
        .await
    {
        Ok(c) => c,
        Err(e) => return refuse(body, e).await,
    };
    let intent = match intent(&mut parts).await {
        Ok(i) => i,
        Err(e) => return refuse(body, e).await,
    };
    match vault.authorize(caller, &route, &intent).await {
        Ok(granted) => {
            match granted {
                Granted::Nothing(a) => parts.extensions.insert(a).map(drop),
                Granted::Read(a) => parts.extensions.insert(a).map(drop),
                Granted::Write(a) => parts.extensions.insert(a).map(drop),
                Granted::Delete(a) => parts.extensions.insert(a).map(drop),
                Granted::List(a) => parts.extensions.insert(a).map(drop),
                Granted::Lockbox(a) => parts.extensions.insert(a).map(drop),
            };
            next.run(Request::from_parts(parts, body)).await
        }
        Err(e) => refuse(body, e).await,
    }
}

/// What the gate needs from the request: path parameters, `?version=`, the label
/// header, every query parameter.
async fn intent(parts: &mut Parts) -> Result<Intent, Error> {
    let params = RawPathParams::from_request_parts(parts, &())
        .await
        .map_err(|e| Error::invalid("bad-path", e.body_text()))?;
    let params: HashMap<String, String> = params
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    // Every pair as sent (a repeated name too), for the gate's text check.
    let pairs: Vec<(String, String)> = axum::extract::Query::try_from_uri(&parts.uri)
        .map(|axum::extract::Query(q)| q)
        .unwrap_or_default();
    let query: HashMap<String, String> = pairs.iter().cloned().collect();
    let label = parts
        .headers
        .get(LABEL_HEADER)
        .map(|h| {
            h.to_str()
                .map(str::to_owned)
                .map_err(|_| Error::invalid("label-unparseable", "the label header is not ASCII"))
        })
        .transpose()?;
    Ok(Intent {
        params,
        version: query.get("version").cloned(),
        label,
        list_versions: query.get("versions").is_some_and(|v| v == "true"),
        query: pairs,
    })
}

/// Answers a refusal. What the client is still sending is read and discarded first (a
/// bounded amount), so that a client busy sending its body reads the answer instead of
/// seeing the connection reset under it.
async fn refuse(body: Body, err: Error) -> Response {
    const MAX_DRAIN: usize = 16 << 20;
    let mut stream = body.into_data_stream();
    let mut n = 0usize;
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Some(Ok(piece)) = stream.next().await {
            n += piece.len();
            if n > MAX_DRAIN {
                break;
            }
        }
    })
    .await;
    err.into_response()
}

impl<T: Send + Sync + 'static> FromRequestParts<Arc<Vault>> for Authorized<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &Arc<Vault>) -> Result<Self, Error> {
        parts.extensions.remove::<Authorized<T>>().ok_or_else(|| {
            Error::bug(format!(
                "{} {}: the route table's permission does not give the handler what it needs",
                parts.method,
                parts.uri.path()
            ))
        })
    }
}

/// A JSON body, parsed into its type with the path of what does not fit, as a 400.
#[derive(Debug)]
pub struct Json<T>(pub T);

/// A type a JSON request body is read into. Every string in the body (and every field
/// name) is checked against the character rule of `itarvault_api::text` before the
/// type sees it; a string is one line unless its JSON path is in [`JsonBody::MULTI_LINE`].
/// A new request type must say which of its fields, if any, are source text.
pub trait JsonBody: DeserializeOwned {
    /// JSON paths (`$.operation.text`) of the strings that may hold line feeds and tabs.
    const MULTI_LINE: &'static [&'static str] = &[];
    /// Whether the body must be a JSON object. (serde also reads a struct from an
    /// array of its fields in order, which no client means and the API does not
    /// describe.)
    const OBJECT: bool = true;
}

impl JsonBody for serde_json::Value {
    const OBJECT: bool = false;
}
impl JsonBody for crate::vault::NewPrincipal {}
impl JsonBody for crate::vault::NewBucket {}
impl JsonBody for crate::vault::NewRequest {}
impl JsonBody for itarvault_store::Bindings {}
impl JsonBody for handlers::NewToken {}
impl JsonBody for handlers::Why {}
impl JsonBody for crate::vault::quorum::NewProposal {
    /// A `policies_set` proposal carries Cedar source text.
    const MULTI_LINE: &'static [&'static str] = &["$.operation.text"];
}

/// Finds the first string (or field name) in `value` that breaks the character rule.
/// On the way, a number with a zero fraction (`56.0`) becomes the integer it equals:
/// JSON Schema counts it as one, so an integer field takes it.
fn check_strings(
    value: &mut serde_json::Value,
    path: &mut String,
    multi: &[&str],
) -> Result<(), Error> {
    use itarvault_api::text::{check, Lines};
    use serde_json::Value;
    let refused = |path: &str, r| {
        Error::text(&format!("`{path}`"), r).problems(vec![itarvault_policy::InputProblem {
            path: path.to_owned(),
            message: format!("contains {r}"),
        }])
    };
    match value {
        Value::String(s) => {
            let lines = if multi.contains(&path.as_str()) {
                Lines::Multi
            } else {
                Lines::Single
            };
            check(s, lines).map_err(|r| refused(path, r))
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                check_strings(item, path, multi)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Object(fields) => {
            for (name, item) in fields.iter_mut() {
                check(name, Lines::Single).map_err(|r| {
                    refused(path, r).hint(format!(
                        "a field name of `{path}` is refused; {}",
                        itarvault_api::text::RULE
                    ))
                })?;
                let len = path.len();
                path.push('.');
                path.push_str(name);
                check_strings(item, path, multi)?;
                path.truncate(len);
            }
            Ok(())
        }
        Value::Number(n) => {
            // Exactly representable integers only (|f| < 2^53); others stay floats and
            // an integer field refuses them.
            if let Some(f) = n
                .as_f64()
                .filter(|f| n.is_f64() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
            {
                // Integral and below 2^53: the conversion is exact.
                let i = f as i64;
                *n = i.into();
            }
            Ok(())
        }
        Value::Null | Value::Bool(_) => Ok(()),
    }
}

/// A query string, parsed into its type; what does not fit is a 400 with the usual
/// error body (the gate has already checked its characters).
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        axum::extract::Query::try_from_uri(&parts.uri)
            .map(|axum::extract::Query(q)| Self(q))
            .map_err(|e| {
                Error::invalid("bad-query", e.body_text())
                    .hint("docs/openapi.json lists each route's query parameters and their types")
            })
    }
}

async fn body_bytes(req: Request) -> Result<bytes::Bytes, Error> {
    axum::body::to_bytes(req.into_body(), MAX_JSON)
        .await
        .map_err(|e| Error::invalid("bad-body", format!("reading the body: {e}")))
}

impl<T: JsonBody, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &S) -> Result<Self, Error> {
        parse_json(&body_bytes(req).await?)
    }
}

/// An optional JSON body: none when the request has no body.
impl<T: JsonBody, S: Send + Sync> OptionalFromRequest<S> for Json<T> {
    type Rejection = Error;

    async fn from_request(req: Request, _: &S) -> Result<Option<Self>, Error> {
        let bytes = body_bytes(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        parse_json(&bytes).map(Some)
    }
}

fn parse_json<T: JsonBody>(bytes: &[u8]) -> Result<Json<T>, Error> {
    let mut value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(
            "invalid-input",
            format!("the request body is not JSON: {e}"),
        )
        .problems(vec![itarvault_policy::InputProblem {
            path: "$".into(),
            message: e.to_string(),
        }])
    })?;
    if T::OBJECT && !value.is_object() {
        return Err(
            Error::invalid("invalid-input", "the request body must be a JSON object").problems(
                vec![itarvault_policy::InputProblem {
                    path: "$".into(),
                    message: "expected an object".into(),
                }],
            ),
        );
    }
    check_strings(&mut value, &mut "$".to_owned(), T::MULTI_LINE)?;
    serde_path_to_error::deserialize(value)
        .map(Json)
        .map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "$".to_owned()
            } else {
                format!("$.{path}")
            };
            Error::invalid(
                "invalid-input",
                format!("the request body is invalid at `{path}`: {}", e.inner()),
            )
            .problems(vec![itarvault_policy::InputProblem {
                path,
                message: e.inner().to_string(),
            }])
        })
}
