//! The service: shared state, handlers that read and write through the guard, and a small
//! client that exercises them and measures what the guard costs per request.
//!
//! Diesel is synchronous, so every handler runs its database work on tokio's blocking pool
//! (`spawn_blocking`) with a connection from rowguard's r2d2 pool: the async workers never
//! wait on a query.

use std::error::Error;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use diesel::prelude::*;
use rowguard::rbac::Rbac;
use rowguard::{Authorizer, Config, DatabaseUrl, Pool, PoolOptions, PooledConnection, Subject};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

// The contacts example's models, declared at the crate root (by main.rs here, by the tests
// there) so that one file is one module.
use crate::app::{self, contacts, Contact, ContactType};

/// Errors of the example itself (set-up, the client).
pub type BoxError = Box<dyn Error + Send + Sync>;

/// What every handler shares: cheap to clone.
#[derive(Clone)]
struct AppState {
    pool: Pool,
    auth: Authorizer,
    rbac: Arc<Rbac>,
}

/// A refusal or failure as an HTTP status and a one-line body.
#[derive(Debug)]
struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.0 == StatusCode::INTERNAL_SERVER_ERROR {
            // The detail (SQL, driver messages) goes to the log, never to the client.
            eprintln!("internal error: {}", self.1);
            return (self.0, "internal error").into_response();
        }
        (self.0, self.1).into_response()
    }
}

impl From<rowguard::Error> for ApiError {
    fn from(e: rowguard::Error) -> Self {
        let status = match e {
            rowguard::Error::Forbidden { .. }
            | rowguard::Error::ForbiddenTarget { .. }
            | rowguard::Error::ForbiddenColumn { .. } => StatusCode::FORBIDDEN,
            // An unreadable row is reported exactly like a missing one.
            rowguard::Error::NotFound { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError(status, e.to_string())
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        internal(e)
    }
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

/// Who asks. EXAMPLE ONLY: read from `x-user-id` / `x-roles` headers so the example needs no
/// login. A real service takes the subject from a verified session or token, never from
/// what the client claims.
fn subject(headers: &HeaderMap) -> Result<Subject, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let user =
        header("x-user-id").ok_or_else(|| ApiError(StatusCode::UNAUTHORIZED, "no user".into()))?;
    let roles = header("x-roles").unwrap_or_default();
    Ok(Subject::new()
        .with_set("roles", roles.split(',').filter(|r| !r.is_empty()))
        .with_attribute("id", user))
}

/// Runs `work` on the blocking pool with a pooled connection and the guard of `subject` (as
/// RBAC sees it: inherited roles, absolute rights by permission).
async fn with_guard<T, F>(state: &AppState, subject: Subject, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut PooledConnection, &rowguard::Guard) -> Result<T, ApiError> + Send + 'static,
{
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = state.pool.get().map_err(internal)?;
        let subject = state.rbac.subject(&mut *conn, subject).map_err(internal)?;
        let guard = state.auth.guard(subject);
        work(&mut conn, &guard)
    })
    .await
    .map_err(internal)?
}

fn contact_json(c: &Contact) -> Value {
    json!({"id": c.id, "name": c.name, "status": c.status, "owner_id": c.owner_id})
}

/// `GET /contacts`: the contacts the subject may read.
async fn list(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let subject = subject(&headers)?;
    let rows = with_guard(&state, subject, |conn, guard| {
        Ok(guard.load_all::<Contact>(conn, None)?)
    })
    .await?;
    Ok(Json(rows.iter().map(contact_json).collect()))
}

/// `GET /contacts/{id}`: 404 for a row that is missing or unreadable alike.
async fn one(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let subject = subject(&headers)?;
    let row = with_guard(&state, subject, move |conn, guard| {
        Ok(guard.find::<Contact>(conn, id)?)
    })
    .await?;
    Ok(Json(contact_json(&row)))
}

/// `POST /contacts`: created if the create rule accepts the row; 403 and nothing written
/// otherwise. The server picks the id (a client-chosen key would let a duplicate-key error
/// reveal rows the subject may not read; a real table would use an identity column).
async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let subject = subject(&headers)?;
    let field = |name: &str| body.get(name).cloned().unwrap_or(Value::Null);
    let name = field("name").as_str().unwrap_or("").to_owned();
    let status = field("status").as_str().unwrap_or("open").to_owned();
    let owner_id = field("owner_id")
        .as_i64()
        .ok_or_else(|| ApiError(StatusCode::BAD_REQUEST, "owner_id: an integer".into()))?;
    let created = with_guard(&state, subject, move |conn, guard| {
        conn.transaction(|conn| {
            let last: Option<i64> = contacts::table
                .select(diesel::dsl::max(contacts::id))
                .first(conn)
                .map_err(internal)?;
            let contact = Contact {
                id: last.unwrap_or(0) + 1,
                name,
                email: None,
                status,
                contact_type_id: 1,
                owner_id,
                score: 0,
                created_at: chrono::Utc::now().naive_utc(),
            };
            guard.insert(conn, &contact)?;
            Ok(contact)
        })
    })
    .await?;
    Ok((StatusCode::CREATED, Json(contact_json(&created))))
}

/// `GET /baseline/contacts`: the same list, written by hand without the guard, only to
/// measure what the guard costs; mounted by `run` for the measurement, not by [`router`].
async fn baseline(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let owner: i64 = subject(&headers)?
        .attributes()
        .get("id")
        .and_then(|v| v.first())
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    let pool = state.pool.clone();
    let rows = tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(internal)?;
        contacts::table
            .filter(contacts::owner_id.eq(owner))
            .order(contacts::id)
            .load::<Contact>(&mut *conn)
            .map_err(internal)
    })
    .await
    .map_err(internal)??;
    Ok(Json(rows.iter().map(contact_json).collect()))
}

/// The service's routes: every one goes through the guard.
fn router(state: AppState) -> Router {
    Router::new()
        .route("/contacts", get(list).post(create))
        .route("/contacts/{id}", get(one))
        .with_state(state)
}

/// A new SQLite file in a new temporary directory.
pub fn fresh_sqlite_url() -> Result<DatabaseUrl, rowguard::DbError> {
    let dir = std::env::temp_dir().join(format!(
        "rowguard-axum-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    let _ = std::fs::create_dir_all(&dir);
    DatabaseUrl::parse(&dir.join("service.sqlite3").to_string_lossy())
}

/// Sets up `url` (an empty database), serves on 127.0.0.1, sends the requests, writes what
/// came back and the measured cost to `out`.
pub fn run(url: &DatabaseUrl, out: &mut dyn Write) -> Result<(), BoxError> {
    let pool = rowguard::connect_pool(
        url,
        PoolOptions {
            max_size: 4,
            ..Default::default()
        },
    )?;
    let auth = Authorizer::new(Config::default());
    {
        let mut conn = pool.get()?;
        rowguard::run_pending_migrations(&mut *conn)?;
        app::create_tables(&mut conn)?;
        app::insert_samples(&mut conn)?;
        auth.register::<ContactType>(&mut *conn)?;
        auth.register::<Contact>(&mut *conn)?;
        // Agents read and create their own contacts only.
        let own = r#"{"read":{"search":{"owner_id":"=$subject.id"}},"create":{"search":{"owner_id":"=$subject.id"}}}"#;
        rowguard::store::put_rule(&mut *conn, "roles", "agent", "contacts", own)?;
    }
    let state = AppState {
        pool,
        rbac: Arc::new(Rbac::new(auth.config())),
        auth,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        // The unguarded baseline is added here, for the measurement only.
        let app = router(state.clone()).merge(
            Router::new()
                .route("/baseline/contacts", get(baseline))
                .with_state(state),
        );
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        let result = exercise(addr, out).await;
        server.abort();
        result
    })
}

const AGENT_17: &[(&str, &str)] = &[("x-user-id", "17"), ("x-roles", "agent")];

async fn exercise(addr: SocketAddr, out: &mut dyn Write) -> Result<(), BoxError> {
    let (status, body) = request(addr, "GET", "/contacts", AGENT_17, None).await?;
    let ids: Vec<i64> = serde_json::from_str::<Value>(&body)?
        .as_array()
        .map(|rows| rows.iter().filter_map(|r| r["id"].as_i64()).collect())
        .unwrap_or_default();
    writeln!(
        out,
        "GET /contacts as agent 17: {status}, contacts {ids:?} (its own)"
    )?;
    let (status, _) = request(addr, "GET", "/contacts/2", AGENT_17, None).await?;
    writeln!(
        out,
        "GET /contacts/2 as agent 17: {status} (owned by 42: unreadable is not found)"
    )?;
    let mine = r#"{"name": "Hedy Lamarr", "owner_id": 17}"#;
    let (status, body) = request(addr, "POST", "/contacts", AGENT_17, Some(mine)).await?;
    let id = serde_json::from_str::<Value>(&body)?["id"]
        .as_i64()
        .unwrap_or(0);
    writeln!(
        out,
        "POST /contacts owner 17 as agent 17: {status}, id {id}"
    )?;
    let (status, _) = request(addr, "GET", &format!("/contacts/{id}"), AGENT_17, None).await?;
    writeln!(
        out,
        "GET /contacts/{id} as agent 17: {status} (its new contact)"
    )?;
    let theirs = r#"{"name": "Claude Shannon", "owner_id": 42}"#;
    let (status, body) = request(addr, "POST", "/contacts", AGENT_17, Some(theirs)).await?;
    writeln!(
        out,
        "POST /contacts owner 42 as agent 17: {status} ({body})"
    )?;
    let (_, body) = request(
        addr,
        "GET",
        "/contacts",
        &[("x-user-id", "42"), ("x-roles", "agent")],
        None,
    )
    .await?;
    let count = serde_json::from_str::<Value>(&body)?
        .as_array()
        .map_or(0, Vec::len);
    writeln!(
        out,
        "GET /contacts as agent 42: {count} contacts (the refused create wrote nothing)"
    )?;
    let (status, _) = request(addr, "GET", "/contacts", &[], None).await?;
    writeln!(out, "GET /contacts without a user: {status}")?;

    // The cost: the same list through the guard and by hand, one request at a time.
    const N: u32 = 200;
    let timing = |path: &'static str| async move {
        let start = Instant::now();
        for _ in 0..N {
            request(addr, "GET", path, AGENT_17, None).await?;
        }
        Ok::<Duration, BoxError>(start.elapsed() / N)
    };
    timing("/contacts").await?; // warm both paths (caches, pool) before measuring
    timing("/baseline/contacts").await?;
    let guarded = timing("/contacts").await?;
    let by_hand = timing("/baseline/contacts").await?;
    writeln!(
        out,
        "cost: {N} sequential GET /contacts: guarded {:.1} µs/request, by hand {:.1} µs/request",
        guarded.as_secs_f64() * 1e6,
        by_hand.as_secs_f64() * 1e6
    )?;
    Ok(())
}

/// One HTTP/1.1 request on a new connection; the status and the body (an error after 10 s).
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Result<(u16, String), BoxError> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        let body = body.unwrap_or("");
        head.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        ));
        stream.write_all(head.as_bytes()).await?;
        let mut response = String::new();
        stream.read_to_string(&mut response).await?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or("no HTTP status in the response")?;
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok::<_, BoxError>((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), exchange)
        .await
        .map_err(|_| format!("{method} {path}: no answer within 10 s"))?
}
