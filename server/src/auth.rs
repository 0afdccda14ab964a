//! Who is calling: a bearer token (scripts) or the session cookie (browsers, with a CSRF
//! header on every state-changing request), checked against the database on every request.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use rowguard::rbac::RbacGraph;
use rowguard::{PooledConnection, Subject};

use crate::state::Inner;
use crate::tokens::{authenticate, constant_time_eq, Session, Token};
use crate::{ApiError, Service};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "rowguard_session";
/// Header that must carry the CSRF token when the session cookie authenticates a request
/// that is not `GET`/`HEAD`/`OPTIONS`.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the token arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `Authorization: Bearer …`.
    Bearer,
    /// The session cookie.
    Cookie,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's session (user, direct roles, expiry).
    pub session: Session,
    /// The token, for logout.
    pub token: Token,
    /// How it arrived.
    pub via: Via,
}

impl Caller {
    /// The user's subject with RBAC applied (inherited roles, absolute rights).
    pub(crate) fn subject(&self, graph: &RbacGraph) -> Subject {
        graph.subject(crate::users::subject(
            &self.session.user,
            &self.session.roles,
        ))
    }

    /// Whether the user holds `permission` (its roles and policy statements together, as
    /// [`Caller::require`] asks), for what a key only widens or narrows.
    pub(crate) fn holds(
        &self,
        inner: &Inner,
        conn: &mut dyn rowguard::StoreConnection,
        graph: &RbacGraph,
        permission: &str,
    ) -> Result<bool, ApiError> {
        let by_roles = graph.role_can(&self.session.roles, permission);
        let subject = self.subject(graph);
        Ok(inner
            .auth
            .has_permission(conn, &subject, permission, by_roles)?)
    }

    /// Refuses (403) unless the user holds `permission`: through its roles, or a policy
    /// statement allowing `rowguard:<permission>`, and no policy statement denying it
    /// ([`Authorizer::has_permission`](rowguard::Authorizer::has_permission)); returns the
    /// RBAC model.
    pub(crate) fn require(
        &self,
        inner: &Inner,
        conn: &mut PooledConnection,
        permission: &str,
    ) -> Result<Arc<RbacGraph>, ApiError> {
        let graph = inner.rbac.graph(&mut **conn)?;
        let by_roles = graph.role_can(&self.session.roles, permission);
        let subject = self.subject(&graph);
        if !inner
            .auth
            .has_permission(&mut **conn, &subject, permission, by_roles)?
        {
            let why = if by_roles {
                "its roles hold it, but a policy statement denies it"
            } else {
                "neither its roles nor a policy statement grant it"
            };
            return Err(ApiError::forbidden(format!(
                "this needs permission \"{permission}\", which user \"{}\" does not hold ({why})",
                self.session.user
            )));
        }
        Ok(graph)
    }
}

/// The token of a request and how it came: the bearer header wins over the cookie.
pub(crate) fn token_of(headers: &HeaderMap) -> Result<Option<(Token, Via)>, ApiError> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let text = value.to_str().unwrap_or_default();
        let token = text
            .strip_prefix("Bearer ")
            .or_else(|| text.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be \"Bearer <token>\"")
            })?;
        return Ok(Some((Token::from_client(token), Via::Bearer)));
    }
    let mut sessions = cookies(headers, SESSION_COOKIE);
    if sessions.len() > 1 {
        // A cookie planted by a sibling site would come along with ours: refuse to guess.
        return Err(ApiError::unauthorized(
            "more than one session cookie; clear this site's cookies and log in again",
        ));
    }
    Ok(sessions
        .pop()
        .map(|t| (Token::from_client(&t), Via::Cookie)))
}

/// The values of cookie `name` in the request's `Cookie` headers.
pub(crate) fn cookies(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, v)| *k == name && !v.trim().is_empty())
        .map(|(_, v)| v.trim().to_owned())
        .collect()
}

fn safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<Service> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Service) -> Result<Self, ApiError> {
        let (token, via) = token_of(&parts.headers)?.ok_or_else(|| {
            ApiError::unauthorized(
                "log in first: POST /api/login, then send \"Authorization: Bearer <token>\"",
            )
        })?;
        // Who first (an expired cookie is 401, and the browser learns to log in again), then
        // whether a cookie-borne change carries its CSRF token.
        let checked = token.clone();
        let session = state
            .blocking(move |_, conn| Ok(authenticate(conn, &checked)?))
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("the token is unknown, expired or revoked; log in again")
            })?;
        if via == Via::Cookie && !safe(&parts.method) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            if !constant_time_eq(sent, &token.csrf()) {
                return Err(ApiError::forbidden(format!(
                    "a request authenticated by the session cookie must send the {CSRF_HEADER} header that login (or GET /api/me) returned"
                )));
            }
        }
        Ok(Caller {
            session,
            token,
            via,
        })
    }
}
