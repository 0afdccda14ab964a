//! Users over HTTP: one's own password, and user management for holders of `users.manage`.
//! Passwords are read field by field (no error can echo one) and hashed before a connection
//! is taken; every change is logged with who made it.

use axum::extract::{OriginalUri, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use diesel::prelude::*;
use serde_json::{json, Value};

use super::session::{cleared_cookie, cookie_path, rfc3339, ClientAddr};
use super::{only, text, Body, PathArg};
use crate::auth::Caller;
use crate::users::{self, users as table, NewPassword};
use crate::{ApiError, Service};

/// Listing users, adding them, setting their roles and passwords, locking them.
pub(crate) const MANAGE: &str = "users.manage";

/// Hashes `password` on the blocking pool, a few at a time (as logins are), without a
/// connection.
async fn hashed(service: &Service, password: String) -> Result<NewPassword, ApiError> {
    service
        .password_work(move |_| Ok(NewPassword::new(&password)?))
        .await
}

/// `POST /api/me/password` `{"current_password", "new_password"}`: changes one's own
/// password after checking the current one (wrong: 403, counted like a failed login), then
/// revokes every token of the user, this one included, and clears the cookie.
pub(crate) async fn change_own(
    State(service): State<Service>,
    ClientAddr(address): ClientAddr,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    caller: Caller,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    only(&body, &["current_password", "new_password"])?;
    let current = text(&body, "current_password")?;
    let new = text(&body, "new_password")?;
    let user = caller.session.user.clone();
    if let Err(wait) = service.inner.throttle.attempt(&user, address) {
        return Err(ApiError::throttled("wrong passwords", wait));
    }
    let new = hashed(&service, new).await?;
    let checked = user.clone();
    let stored: String = service
        .blocking(move |_, conn| {
            Ok(table::table
                .find(&checked)
                .select(table::password_hash)
                .first(&mut **conn)?)
        })
        .await?;
    let matches = service
        .password_work(move |_| Ok(users::verify_password(&current, &stored)))
        .await?;
    if !matches {
        tracing::warn!(user = %user, %address, "wrong current password");
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "wrong_password",
            "the current password is wrong",
        ));
    }
    service.inner.throttle.succeeded(&user, address);
    let changed = user.clone();
    service
        .blocking(move |_, conn| Ok(users::set_password(conn, &changed, &new)?))
        .await?;
    tracing::info!(user = %user, "password changed; tokens revoked");
    let mut response = Json(json!({
        "password_changed": true,
        "note": "every token of this user is revoked; log in again",
    }))
    .into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        cleared_cookie(&cookie_path(&original, &uri))?,
    );
    Ok(response)
}

/// `GET /api/users`: every user, their roles, lock and active tokens.
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, MANAGE)?;
            let list: Vec<Value> = users::list(conn)?
                .into_iter()
                .map(|u| {
                    let missing: Vec<&String> = u
                        .roles
                        .iter()
                        .filter(|r| !graph.roles().contains_key(*r))
                        .collect();
                    json!({"name": u.name, "locked": u.locked, "roles": u.roles,
                        "missing_roles": missing, "active_tokens": u.active_tokens,
                        "created_at": rfc3339(u.created_at), "updated_at": rfc3339(u.updated_at)})
                })
                .collect();
            Ok(Json(Value::Array(list)))
        })
        .await
}

fn roles_of(body: &Value) -> Result<Vec<String>, ApiError> {
    match body.get("roles") {
        None => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|r| {
                r.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| ApiError::invalid("\"roles\" must be a list of role names"))
            })
            .collect(),
        Some(_) => Err(ApiError::invalid("\"roles\" must be a list of role names")),
    }
}

/// The permission check before anything is read or hashed.
async fn manager(service: &Service, caller: &Caller) -> Result<(), ApiError> {
    let caller = caller.clone();
    service
        .blocking(move |inner, conn| caller.require(inner, conn, MANAGE).map(|_| ()))
        .await
}

/// `POST /api/users` `{"name", "password", "roles"?}`: 201; 409 if the name is taken
/// (ignoring case), 422 for a bad name, password or role.
pub(crate) async fn add(
    State(service): State<Service>,
    caller: Caller,
    Body(body): Body<Value>,
) -> Result<Response, ApiError> {
    manager(&service, &caller).await?;
    only(&body, &["name", "password", "roles"])?;
    let name = text(&body, "name")?;
    let roles = roles_of(&body)?;
    users::validate_name(&name)?;
    let password = hashed(&service, text(&body, "password")?).await?;
    let added = name.clone();
    service
        .blocking(move |_, conn| Ok(users::add(conn, &added, &password, &roles)?))
        .await?;
    tracing::info!(by = %caller.session.user, user = %name, "user added");
    Ok((StatusCode::CREATED, Json(json!({"added": name}))).into_response())
}

/// `PUT /api/users/{name}/roles` `{"roles": […]}`: replaces the roles (in force at the
/// user's next request).
pub(crate) async fn set_roles(
    State(service): State<Service>,
    caller: Caller,
    PathArg(name): PathArg<String>,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    manager(&service, &caller).await?;
    only(&body, &["roles"])?;
    let roles = roles_of(&body)?;
    let (changed, set) = (name.clone(), roles.clone());
    service
        .blocking(move |_, conn| Ok(users::set_roles(conn, &changed, &set)?))
        .await?;
    tracing::info!(by = %caller.session.user, user = ?name, roles = ?roles, "roles set");
    Ok(Json(json!({"user": name, "roles": roles})))
}

/// `POST /api/users/{name}/password` `{"password"}`: sets the password and revokes every
/// token of the user.
pub(crate) async fn set_password(
    State(service): State<Service>,
    caller: Caller,
    PathArg(name): PathArg<String>,
    Body(body): Body<Value>,
) -> Result<Json<Value>, ApiError> {
    manager(&service, &caller).await?;
    only(&body, &["password"])?;
    let password = hashed(&service, text(&body, "password")?).await?;
    let changed = name.clone();
    service
        .blocking(move |_, conn| Ok(users::set_password(conn, &changed, &password)?))
        .await?;
    tracing::info!(by = %caller.session.user, user = ?name, "password set; tokens revoked");
    Ok(Json(json!({"user": name, "password_changed": true})))
}

/// `POST /api/users/{name}/lock`: no login, every token revoked at once.
pub(crate) async fn lock(
    State(service): State<Service>,
    caller: Caller,
    PathArg(name): PathArg<String>,
) -> Result<Json<Value>, ApiError> {
    set_locked(service, caller, name, true).await
}

/// `POST /api/users/{name}/unlock`.
pub(crate) async fn unlock(
    State(service): State<Service>,
    caller: Caller,
    PathArg(name): PathArg<String>,
) -> Result<Json<Value>, ApiError> {
    set_locked(service, caller, name, false).await
}

async fn set_locked(
    service: Service,
    caller: Caller,
    name: String,
    locked: bool,
) -> Result<Json<Value>, ApiError> {
    manager(&service, &caller).await?;
    let changed = name.clone();
    service
        .blocking(move |_, conn| Ok(users::set_locked(conn, &changed, locked)?))
        .await?;
    tracing::info!(by = %caller.session.user, user = ?name, locked, "lock set");
    Ok(Json(json!({"user": name, "locked": locked})))
}
