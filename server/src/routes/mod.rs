//! The HTTP API: one module per area, each endpoint guarded by one RBAC permission key.

mod health;
mod jobs;
mod policies;
mod rules;
mod session;
mod users;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::Router;

use serde_json::Value;

use crate::{console, ApiError, Service};

/// Every endpoint and the permission key it needs (`None`: any logged-in user, or public
/// where marked in the README). The README's table is checked against this list by a test.
pub const ENDPOINTS: &[(&str, &str, Option<&str>)] = &[
    ("GET", "/api/health", None),
    ("GET", "/api/ready", None),
    ("POST", "/api/login", None),
    ("POST", "/api/logout", None),
    ("GET", "/api/me", None),
    ("POST", "/api/me/password", None),
    ("GET", "/api/commands", Some(jobs::LIST_COMMANDS)),
    ("POST", "/api/jobs", Some(jobs::RUN)),
    ("GET", "/api/jobs", Some(jobs::READ)),
    ("GET", "/api/jobs/{uuid}", Some(jobs::READ)),
    ("GET", "/api/jobs/{uuid}/output", Some(jobs::OUTPUT)),
    ("GET", "/api/jobs/{uuid}/output.txt", Some(jobs::OUTPUT)),
    ("GET", "/api/jobs/{uuid}/events", Some(jobs::OUTPUT)),
    ("POST", "/api/jobs/{uuid}/kill", Some(jobs::KILL)),
    ("GET", "/api/rules", Some(rules::READ)),
    (
        "PUT",
        "/api/rules/{set_type}/{set_value}/{model}",
        Some(rules::WRITE),
    ),
    (
        "DELETE",
        "/api/rules/{set_type}/{set_value}/{model}",
        Some(rules::WRITE),
    ),
    ("GET", "/api/rules/check", Some(rules::CHECK)),
    ("POST", "/api/rules/check", Some(rules::CHECK)),
    ("POST", "/api/rules/explain", Some(rules::READ)),
    ("POST", "/api/rules/try", Some(rules::TRY)),
    ("GET", "/api/rules/grid", Some(rules::READ)),
    ("GET", "/api/rules/history", Some(rules::READ)),
    ("GET", "/api/rules/decisions", Some(rules::DECISIONS)),
    (
        "POST",
        "/api/rules/history/{id}/restore",
        Some(rules::WRITE),
    ),
    ("GET", "/api/set-types", Some(rules::READ)),
    ("POST", "/api/set-types", Some(rules::WRITE)),
    ("DELETE", "/api/set-types/{name}", Some(rules::WRITE)),
    ("GET", "/api/policies", Some(rules::READ)),
    ("GET", "/api/policies/check", Some(rules::CHECK)),
    ("POST", "/api/policies/check", Some(rules::CHECK)),
    ("POST", "/api/policies/explain", Some(rules::READ)),
    ("POST", "/api/policies/try", Some(rules::READ)),
    (
        "GET",
        "/api/policies/{set_type}/{set_value}",
        Some(rules::READ),
    ),
    (
        "PUT",
        "/api/policies/{set_type}/{set_value}",
        Some(policies::WRITE),
    ),
    (
        "DELETE",
        "/api/policies/{set_type}/{set_value}",
        Some(policies::WRITE),
    ),
    ("GET", "/api/models", Some(rules::READ)),
    ("GET", "/api/relations", Some(rules::READ)),
    ("GET", "/api/permissions", Some(rules::PERMISSIONS)),
    ("GET", "/api/users", Some(users::MANAGE)),
    ("POST", "/api/users", Some(users::MANAGE)),
    ("PUT", "/api/users/{name}/roles", Some(users::MANAGE)),
    ("POST", "/api/users/{name}/password", Some(users::MANAGE)),
    ("POST", "/api/users/{name}/lock", Some(users::MANAGE)),
    ("POST", "/api/users/{name}/unlock", Some(users::MANAGE)),
];

/// The API as an axum router, to serve with [`crate::serve`] or to nest in an application's
/// own router (`Router::new().nest("/rowguard", router(service))` serves it under
/// `/rowguard/api/…`).
pub fn router(service: Service) -> Router {
    let limit = service.config().max_body_bytes;
    Router::new()
        .route("/api/health", get(health::health))
        .route("/api/ready", get(health::ready))
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/me/password", post(users::change_own))
        .route("/api/commands", get(jobs::commands))
        .route("/api/jobs", post(jobs::start).get(jobs::list))
        .route("/api/jobs/{uuid}", get(jobs::one))
        .route("/api/jobs/{uuid}/output", get(jobs::output))
        .route("/api/jobs/{uuid}/output.txt", get(jobs::output_text))
        .route("/api/jobs/{uuid}/events", get(jobs::events))
        .route("/api/jobs/{uuid}/kill", post(jobs::kill))
        .route("/api/rules", get(rules::list))
        .route(
            "/api/rules/{set_type}/{set_value}/{model}",
            put(rules::put).delete(rules::delete),
        )
        .route(
            "/api/rules/check",
            get(rules::check_stored).post(rules::check),
        )
        .route("/api/rules/explain", post(rules::explain))
        .route("/api/rules/try", post(rules::try_rows))
        .route("/api/rules/grid", get(rules::grid))
        .route("/api/rules/history", get(rules::history))
        .route("/api/rules/decisions", get(rules::decisions))
        .route("/api/rules/history/{id}/restore", post(rules::restore))
        .route(
            "/api/set-types",
            get(rules::set_types).post(rules::add_set_type),
        )
        .route(
            "/api/set-types/{name}",
            axum::routing::delete(rules::delete_set_type),
        )
        .route("/api/policies", get(policies::list))
        .route(
            "/api/policies/check",
            get(policies::check).post(policies::check_one),
        )
        .route("/api/policies/explain", post(policies::explain))
        .route("/api/policies/try", post(policies::try_one))
        .route(
            "/api/policies/{set_type}/{set_value}",
            get(policies::get)
                .put(policies::put)
                .delete(policies::delete),
        )
        .route("/api/models", get(rules::models))
        .route("/api/relations", get(rules::relations))
        .route("/api/permissions", get(rules::permissions))
        .route("/api/users", get(users::list).post(users::add))
        .route("/api/users/{name}/roles", put(users::set_roles))
        .route("/api/users/{name}/password", post(users::set_password))
        .route("/api/users/{name}/lock", post(users::lock))
        .route("/api/users/{name}/unlock", post(users::unlock))
        .route("/console", get(console::home))
        .route("/console/", get(console::home))
        .route("/console/assets/{name}", get(console::asset))
        .route("/console/jobs/{uuid}", get(console::job))
        .route("/console/{page}", get(console::named))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::map_response(no_store))
        .with_state(service)
}

/// A page under `/console/`, JSON elsewhere.
async fn not_found(original: OriginalUri, uri: axum::http::Uri) -> axum::response::Response {
    if uri.path() == "/console" || uri.path().starts_with("/console/") {
        return console::not_found(original, uri).await;
    }
    ApiError::not_found("no such endpoint").into_response()
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

/// Answers carry tokens, rules and job output: no cache may keep them, no browser may guess
/// their type (a job's output is never HTML), no page may frame them.
async fn no_store(mut response: axum::response::Response) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// Query parameter `name` as an RFC 3339 time (UTC), or 422 saying what is expected.
pub(crate) fn instant(name: &str, text: &str) -> Result<chrono::NaiveDateTime, ApiError> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.naive_utc())
        .map_err(|e| {
            ApiError::invalid(format!(
                "\"{name}\" must be an RFC 3339 time such as 2026-12-01T08:00:00Z: {e}"
            ))
        })
}

/// Where the router is mounted: `""` when served alone, `/rowguard` when an application
/// nests it there (what nesting stripped from the path).
pub(crate) fn base(original: &axum::http::Uri, uri: &axum::http::Uri) -> String {
    original
        .path()
        .strip_suffix(uri.path())
        .unwrap_or("")
        .to_owned()
}

/// The subject a request describes: its sets (`{"roles": ["agent"]}`) and its attributes
/// for `$subject.NAME`, before RBAC adds inherited roles.
pub(crate) fn subject_of(
    sets: &std::collections::BTreeMap<String, Vec<String>>,
    attributes: &std::collections::BTreeMap<String, String>,
) -> rowguard::Subject {
    let mut subject = rowguard::Subject::new();
    for (set_type, values) in sets {
        subject.add_set(set_type, values);
    }
    attributes
        .iter()
        .fold(subject, |s, (k, v)| s.with_attribute(k, v))
}

/// Fields of bodies that may hold a password are read one by one with these, so that no
/// deserializer message can ever echo a value.
/// A string field of a body that may hold a password: the error names the field only.
pub(crate) fn text(body: &Value, name: &str) -> Result<String, ApiError> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| ApiError::invalid(format!("\"{name}\" must be a string")))
}

/// Refuses fields other than `allowed`, naming the first (never its value).
pub(crate) fn only(body: &Value, allowed: &[&str]) -> Result<(), ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::invalid("the body must be a JSON object"));
    };
    match object.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(ApiError::invalid(format!(
            "unknown field \"{unknown}\" (expected {})",
            allowed.join(", ")
        ))),
        None => Ok(()),
    }
}

/// Path parameters whose rejections (a segment that is not UTF-8, say) are JSON errors.
pub(crate) struct PathArg<T>(pub T);

impl<T, S> FromRequestParts<S> for PathArg<T>
where
    axum::extract::Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| PathArg(v))
            .map_err(|r| ApiError::new(r.status(), "bad_path", r.body_text()))
    }
}

/// A JSON body whose rejections are JSON errors: 400 for broken JSON, 413 for a body over
/// the limit, 415 without `Content-Type: application/json`, 422 for the wrong shape.
pub(crate) struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Body(value)),
            Err(rejection) => {
                let status = rejection.status();
                let code = match status {
                    StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    StatusCode::UNPROCESSABLE_ENTITY => "invalid",
                    _ => "bad_request",
                };
                Err(ApiError::new(status, code, rejection.body_text()))
            }
        }
    }
}

/// A JSON body as its text, for documents whose own parser is stricter than `Json` (a key
/// given twice is an error there, not the last one kept): 415 without `Content-Type:
/// application/json`, 413 over the limit, 400 when it is not JSON at all.
pub(crate) struct JsonText(pub String);

impl<S> FromRequest<S> for JsonText
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let text = String::from_request(req, state).await.map_err(|r| {
            let status = r.status();
            let code = if status == StatusCode::PAYLOAD_TOO_LARGE {
                "too_large"
            } else {
                "bad_request"
            };
            ApiError::new(status, code, r.body_text())
        })?;
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body is not JSON: {e}"),
            )
        })?;
        Ok(JsonText(text))
    }
}

/// A check request's body read strictly (a key given twice is an error, in the document
/// too): the request, or the JSON error's text for the check to answer `valid: false` with; a
/// body of the wrong shape is 422.
pub(crate) fn strict_request<T: serde::de::DeserializeOwned>(
    body: &str,
) -> Result<Result<T, String>, ApiError> {
    match rowguard::rules::strict_json(body) {
        Ok(json) => serde_json::from_value(json)
            .map(Ok)
            .map_err(|e| ApiError::invalid(e.to_string())),
        Err(e) => Ok(Err(e.to_string())),
    }
}

/// A document a check takes as JSON or as its text in a JSON string (an editor's text, which
/// may not even be JSON yet): its text.
pub(crate) fn document_text(document: Value) -> String {
    match document {
        Value::String(text) => text,
        document => document.to_string(),
    }
}

/// A query string whose rejections are 422 with a JSON body naming the parameter.
pub(crate) struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Params(v))
            .map_err(|rejection| {
                let text = rejection.body_text();
                let why = text
                    .strip_prefix("Failed to deserialize query string: ")
                    .unwrap_or(&text);
                ApiError::invalid(format!("bad query string: {why}"))
            })
    }
}
