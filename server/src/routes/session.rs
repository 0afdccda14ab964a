//! `POST /api/login`, `POST /api/logout`, `GET /api/me`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, OriginalUri, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::{only, text, Body};
use crate::auth::{Caller, SESSION_COOKIE};
use crate::tokens::issue;
use crate::users::{users, validate_name, verify_password};
use crate::{ApiError, Service};

/// The client's address: the TCP peer (serve with connect info, as [`crate::serve`] does),
/// or with `trust_forwarded_for` the last address of `X-Forwarded-For` (the one the trusted
/// proxy in front appended). Without either, every client counts as `0.0.0.0` (said once in
/// the log).
pub(crate) struct ClientAddr(pub IpAddr);

static NO_ADDRESS_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

impl FromRequestParts<Service> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        service: &Service,
    ) -> Result<Self, Self::Rejection> {
        if service.config().trust_forwarded_for {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .last()
                .and_then(|a| {
                    let a = a.trim();
                    // Some balancers append `ip:port`.
                    a.parse::<IpAddr>()
                        .ok()
                        .or_else(|| a.parse::<SocketAddr>().ok().map(|s| s.ip()))
                });
            if let Some(address) = forwarded {
                return Ok(ClientAddr(address));
            }
        }
        match parts.extensions.get::<ConnectInfo<SocketAddr>>() {
            Some(info) => Ok(ClientAddr(info.0.ip())),
            None => {
                if !NO_ADDRESS_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        "no client address (serve with into_make_service_with_connect_info, or set trust_forwarded_for behind a proxy): every login counts against one address"
                    );
                }
                Ok(ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED)))
            }
        }
    }
}

/// The session cookie's path: the router's mount point, so that an application that nests the
/// service under `/rowguard` does not send the cookie to the rest of its site.
pub(crate) fn cookie_path(original: &Uri, uri: &Uri) -> String {
    format!("{}/", super::base(original, uri))
}

/// The `Set-Cookie` value that removes the session cookie of `path`.
pub(crate) fn cleared_cookie(path: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict"
    ))
    .map_err(ApiError::internal)
}

pub(crate) fn rfc3339(at: NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The one answer to every failed login, whatever failed (unknown name, wrong password,
/// locked user): nothing tells which.
fn invalid_login() -> ApiError {
    ApiError::unauthorized("invalid name or password")
}

/// `POST /api/login` `{"name", "password", "expires_in"?}`. The body is read field by field
/// so that no error message can ever echo the password.
pub(crate) async fn login(
    State(service): State<Service>,
    ClientAddr(address): ClientAddr,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    let path = cookie_path(&original, &uri);
    only(&body, &["name", "password", "expires_in"])?;
    let name = text(&body, "name")?;
    let password = text(&body, "password")?;
    let config = service.config().clone();
    let ttl = match body.get("expires_in").filter(|v| !v.is_null()) {
        None => config.token_ttl_secs,
        Some(v) => v
            .as_u64()
            .filter(|s| (1..=config.token_ttl_max_secs).contains(s))
            .ok_or_else(|| {
                ApiError::invalid(format!(
                    "\"expires_in\" must be a whole number of seconds from 1 to {}",
                    config.token_ttl_max_secs
                ))
            })?,
    };
    // Only a valid name is a key of the throttle or reaches the log: an invalid one (a
    // password typed into the name field, 200 KiB of text) is counted under one shared key.
    let valid = validate_name(&name).is_ok();
    let key = if valid { name.clone() } else { String::new() };
    if let Err(wait) = service.inner.throttle.attempt(&key, address) {
        return Err(ApiError::throttled("failed logins", wait));
    }
    let (token, expires_at) = service
        .password_work(move |inner| {
            let stored: Option<(String, bool, i64)> = if valid {
                let mut conn = inner.pool.get()?;
                users::table
                    .find(&name)
                    .select((users::password_hash, users::locked, users::token_epoch))
                    .first(&mut *conn)
                    .optional()?
            } else {
                None
            };
            // The same work for a missing user as for a wrong password.
            let hash = stored.as_ref().map_or(&inner.decoy_hash, |(h, _, _)| h);
            let matches = verify_password(&password, hash);
            let shown = if valid {
                name.as_str()
            } else {
                "<invalid name>"
            };
            match stored {
                Some((_, false, epoch)) if matches => {
                    inner.throttle.succeeded(&key, address);
                    tracing::info!(user = %shown, "login");
                    let mut conn = inner.pool.get()?;
                    issue(&mut conn, &name, epoch, ttl)
                }
                _ => {
                    tracing::warn!(user = %shown, %address, "failed login");
                    Err(invalid_login())
                }
            }
        })
        .await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path={path}; Max-Age={ttl}; HttpOnly; SameSite=Strict{}",
        token.expose(),
        if config.secure_cookie { "; Secure" } else { "" }
    );
    let mut response = Json(json!({
        "token": token.expose(),
        "expires_at": rfc3339(expires_at),
        "expires_in": ttl,
        "csrf_token": token.csrf(),
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `POST /api/logout`: revokes the token that authenticated the request (on every instance
/// at once: tokens are looked up in the database) and clears the cookie.
pub(crate) async fn logout(
    State(service): State<Service>,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    caller: Caller,
) -> Result<Response, ApiError> {
    let path = cookie_path(&original, &uri);
    let token = caller.token.clone();
    service
        .blocking(move |_, conn| Ok(crate::tokens::revoke(conn, &token)?))
        .await?;
    tracing::info!(user = %caller.session.user, "logout");
    let mut response = Json(json!({"logged_out": true})).into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, cleared_cookie(&path)?);
    Ok(response)
}

/// `GET /api/me`: the user, their roles (direct and inherited) and permissions.
pub(crate) async fn me(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    let session = caller.session.clone();
    // A page reloaded by the browser gets its CSRF token back here.
    let csrf = (caller.via == crate::auth::Via::Cookie).then(|| caller.token.csrf());
    service
        .blocking(move |inner, conn| {
            let graph = inner.rbac.graph(&mut **conn)?;
            let subject = caller.subject(&graph);
            // As every endpoint asks: the roles, and the policy statements on `rowguard:<key>`.
            let mut permissions = Vec::new();
            for key in graph.permissions().keys() {
                match caller.holds(inner, conn, &graph, key) {
                    Ok(true) => permissions.push(key),
                    Ok(false) => {}
                    // A key no check can name (a DBA's name too long for an action) is not
                    // held, as every endpoint asking for it answers; the others still list.
                    Err(e) if e.status == axum::http::StatusCode::UNPROCESSABLE_ENTITY => {
                        tracing::warn!(?key, "permission key cannot be checked: {}", e.message);
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Json(json!({
                "user": session.user,
                "roles": session.roles,
                "effective_roles": subject.set("roles").collect::<Vec<_>>(),
                "permissions": permissions,
                "absolute_rights": subject.has_absolute_rights(),
                "expires_at": rfc3339(session.expires_at),
                "csrf_token": csrf,
            })))
        })
        .await
}
