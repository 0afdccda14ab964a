//! Errors as HTTP answers: a status that means what it says and a JSON body naming the
//! problem, `{"error": "…", "code": "…"}`. Internal failures are logged and answered with
//! "internal error" only (no SQL, no driver text).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rowguard::jobs::JobError;

/// A refusal or failure of a request.
#[derive(Debug)]
pub struct ApiError {
    /// The status.
    pub status: StatusCode,
    /// A stable, machine-readable code (`unauthorized`, `forbidden`, …).
    pub code: &'static str,
    /// What is wrong, for people.
    pub message: String,
    /// Seconds to wait (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// An error with `status`, `code` and `message`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 401: no valid token.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: the token's user lacks the right.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    /// 422: the input fails validation.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    /// 429 with `Retry-After`: too many failed `what` (logins, passwords); try after `wait`.
    pub fn throttled(what: &str, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs().max(1);
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled",
            format!("too many {what}; try again in {secs} s"),
        );
        e.retry_after = Some(secs);
        e
    }

    /// 500; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"error": self.message, "code": self.code});
        let mut response = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rowguard\""),
            );
        }
        response
    }
}

impl From<rowguard::Error> for ApiError {
    fn from(e: rowguard::Error) -> Self {
        use rowguard::Error as E;
        match e {
            E::Forbidden { .. } | E::ForbiddenTarget { .. } | E::ForbiddenColumn { .. } => {
                Self::forbidden(e.to_string())
            }
            // A row the rules hide is answered exactly like a missing one.
            E::NotFound { .. } => Self::not_found(e.to_string()),
            // A question with a wildcard, or a malformed action or ARN.
            E::InvalidSearch { .. } | E::UnknownModel { .. } | E::Policy(_) => {
                Self::invalid(e.to_string())
            }
            // Writes the model does not take.
            E::Immutable { .. } => Self::forbidden(e.to_string()),
            // The model's stored definition, its rules and its table disagree: a DBA's to fix,
            // and the message says how.
            E::HiddenColumnNotNull { .. }
            | E::UndeclaredColumn { .. }
            | E::ModelMismatch { .. } => Self::conflict(e.to_string()),
            E::Db(rowguard::DbError::Pool { message, .. }) => Self::unavailable(message),
            other => Self::internal(other),
        }
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::Guard(e) => e.into(),
            JobError::RoleNotAllowed { .. }
            | JobError::UndefinedPermission { .. }
            | JobError::PolicyDenied { .. } => Self::forbidden(e.to_string()),
            JobError::BadParameter { .. } => Self::invalid(e.to_string()),
            JobError::NotRunning { .. } | JobError::KillInProgress { .. } => {
                Self::conflict(e.to_string())
            }
            other => Self::internal(other),
        }
    }
}

impl From<rowguard::store::StoreError> for ApiError {
    fn from(e: rowguard::store::StoreError) -> Self {
        use rowguard::store::StoreError as S;
        match e {
            // The compile error's own text: what `rules check` prints for the row.
            S::InvalidRule { source, .. } => Self::invalid(source.to_string()),
            S::UnknownSetType { .. }
            | S::UnknownModel { .. }
            | S::BadSetTypeName(_)
            | S::InvalidPolicy { .. }
            | S::BadSetValue { .. } => Self::invalid(e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<crate::users::UserError> for ApiError {
    fn from(e: crate::users::UserError) -> Self {
        use crate::users::UserError as U;
        match e {
            U::BadName { .. } | U::BadPassword(_) | U::UnknownRole { .. } => {
                Self::invalid(e.to_string())
            }
            U::Exists(_) => Self::conflict(e.to_string()),
            U::Unknown(_) => Self::not_found(e.to_string()),
            other => Self::internal(other),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        Self::internal(e)
    }
}

impl From<rowguard::rbac::RbacLoadError> for ApiError {
    fn from(e: rowguard::rbac::RbacLoadError) -> Self {
        Self::internal(e)
    }
}

impl ApiError {
    /// 503; `detail` (which may name hosts and users) goes to the log only.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        tracing::error!("database unavailable: {detail}");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the database is unavailable; try again later",
        )
    }
}

impl From<r2d2::Error> for ApiError {
    fn from(e: r2d2::Error) -> Self {
        Self::unavailable(e)
    }
}
