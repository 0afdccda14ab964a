//! Liveness and readiness, for load balancers and orchestrators (no login).

use axum::extract::State;
use axum::Json;
use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use crate::{ApiError, Service};

/// `GET /api/health`: the process answers (no database access).
pub(crate) async fn health() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// `GET /api/ready`: a pooled connection runs a query; 503 when the database does not answer.
pub(crate) async fn ready(State(service): State<Service>) -> Result<Json<Value>, ApiError> {
    let backend = service
        .blocking(|_, conn| {
            conn.batch_execute("SELECT 1")
                .map_err(ApiError::unavailable)?;
            Ok(conn.backend().to_string())
        })
        .await?;
    Ok(Json(json!({"status": "ready", "database": backend})))
}
