//! Jobs over HTTP: the commands a user may run, start (optionally waiting), history, one
//! job, its output (long poll, download, server-sent events) and kill. Every read and write
//! of a job goes through the guard of the caller's subject.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rowguard::db::MultiBackend;
use rowguard::jobs::{self, job_executions, JobExecution, JobStatus};
use rowguard::{Guard, PooledConnection};
use serde::Deserialize;
use serde_json::{json, Value};

use super::session::rfc3339;
use super::{instant, Body, Params, PathArg};
use crate::auth::Caller;
use crate::state::Inner;
use crate::{ApiError, Service};

/// `GET /api/commands`.
pub(crate) const LIST_COMMANDS: &str = "jobs.command.list";
/// `POST /api/jobs` (each command also needs its own permission).
pub(crate) const RUN: &str = "jobs.command.run";
/// `GET /api/jobs`, `GET /api/jobs/{uuid}`.
pub(crate) const READ: &str = "jobs.read";
/// A job's output.
pub(crate) const OUTPUT: &str = "jobs.output.read";
/// `POST /api/jobs/{uuid}/kill` (which jobs: the job rules' `update`, or a super user).
pub(crate) const KILL: &str = "jobs.kill.own";
/// Holders may kill any running job, as `[jobs] super_users` may.
pub(crate) const KILL_ANY: &str = "jobs.kill.any";

/// The guard of the caller, once the caller holds `permission`.
fn guard(
    inner: &Inner,
    conn: &mut PooledConnection,
    caller: &Caller,
    permission: &str,
) -> Result<Guard, ApiError> {
    let graph = caller.require(inner, conn, permission)?;
    Ok(inner.auth.guard(caller.subject(&graph)))
}

fn time(at: Option<NaiveDateTime>) -> Value {
    at.map_or(Value::Null, |t| Value::String(rfc3339(t)))
}

/// A job as the API shows it.
pub(crate) fn job_json(job: &JobExecution) -> Value {
    json!({
        "uuid": job.uuid,
        "command": job.command,
        "parameters": serde_json::from_str::<Value>(&job.parameters).unwrap_or(Value::Null),
        "user": job.user_identifier,
        "status": job.status.as_str(),
        "exit_code": job.exit_code,
        "started_at": rfc3339(job.started_at),
        "finished_at": time(job.finished_at),
        "kill_requested_by": job.kill_requested_by,
        "kill_requested_at": time(job.kill_requested_at),
        "killed_by": job.killed_by,
        "instance_id": job.instance_id,
    })
}

/// `GET /api/commands`: the commands this user's roles may run, with their parameters.
pub(crate) async fn commands(
    State(service): State<Service>,
    caller: Caller,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, LIST_COMMANDS)?;
            let subject = caller.subject(&graph);
            let mut mine = Vec::new();
            for (name, c) in &inner.runner.config().commands {
                if inner.runner.may_run(&mut **conn, &subject, &graph, name)? {
                    mine.push((name, c));
                }
            }
            let list: Vec<Value> = mine
                .into_iter()
                .map(|(name, c)| {
                    let params: serde_json::Map<String, Value> = c
                        .params
                        .iter()
                        .map(|(p, s)| {
                            (
                                p.clone(),
                                json!({"pattern": s.pattern, "default": s.default}),
                            )
                        })
                        .collect();
                    json!({"name": name, "description": c.description, "params": params,
                           "timeout_secs": c.timeout_secs})
                })
                .collect();
            Ok(Json(Value::Array(list)))
        })
        .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartRequest {
    command: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    wait_ms: Option<u64>,
}

/// `POST /api/jobs` `{"command", "params"?, "wait_ms"?}`: 201 with the job; with `wait_ms`,
/// waits up to that long for it to end and adds its output.
pub(crate) async fn start(
    State(service): State<Service>,
    caller: Caller,
    Body(request): Body<StartRequest>,
) -> Result<Response, ApiError> {
    let max = service.config().job_wait_max_ms;
    if request.wait_ms.is_some_and(|w| w > max) {
        return Err(ApiError::invalid(format!(
            "\"wait_ms\" may be at most {max}"
        )));
    }
    let command = request.command.clone();
    let prepared = service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, RUN)?;
            if request.wait_ms.is_some() {
                // The output comes back too: it needs the output key as well.
                caller.require(inner, conn, OUTPUT)?;
            }
            let config = inner.runner.config();
            if config.commands.is_empty() {
                return Err(ApiError::invalid(format!(
                    "no command \"{command}\": this server has no commands configured ([jobs.commands] in rowguard.toml)"
                )));
            }
            if !config.commands.contains_key(&command) {
                let subject = caller.subject(&graph);
                let mut yours: Vec<&str> = Vec::new();
                for name in config.commands.keys() {
                    if inner.runner.may_run(&mut **conn, &subject, &graph, name)? {
                        yours.push(name);
                    }
                }
                return Err(ApiError::invalid(format!(
                    "command \"{command}\" is not allowed (commands you may run: {})",
                    if yours.is_empty() {
                        "none".into()
                    } else {
                        yours.join(", ")
                    }
                )));
            }
            let shows_rows = caller.holds(inner, conn, &graph, READ)?;
            Ok((inner.auth.guard(caller.subject(&graph)), caller, shows_rows))
        })
        .await?;
    let (mine, caller, shows_rows) = prepared;
    // The runner takes a connection of its own pool: none is held here meanwhile.
    let (command, params) = (request.command, request.params);
    let (mine, uuid) = service
        .blocking_alone(move |inner| {
            let uuid = inner.runner.start(&mine, &command, &params)?;
            Ok((mine, uuid))
        })
        .await?;
    let deadline = request
        .wait_ms
        .map(|w| Instant::now() + Duration::from_millis(w));
    let poll = Duration::from_millis(service.config().output_poll_ms.max(25));
    let mut mine = mine;
    let mut caller = Rechecked::new(caller);
    let (job, output) = loop {
        let (mut asking, found, current) = (caller, uuid.clone(), mine);
        let (step, asking, current) = service
            .blocking(move |inner, conn| {
                // While it waits, the caller's token and roles are looked at again, as a
                // stream's are.
                let current = if deadline.is_some() && asking.refresh(conn)? {
                    guard(inner, conn, &asking.caller, OUTPUT)?
                } else {
                    current
                };
                // The create rule may allow what the read rule hides: then no row is shown.
                let job = match current.find::<JobExecution>(conn, found.clone()) {
                    Ok(job) => job,
                    Err(rowguard::Error::NotFound { .. }) => {
                        return Ok((Some((None, None)), asking, current))
                    }
                    Err(e) => return Err(e.into()),
                };
                let Some(deadline) = deadline else {
                    return Ok((Some((Some(job), None)), asking, current));
                };
                if job.status.is_running() && Instant::now() < deadline {
                    return Ok((None, asking, current));
                }
                let (_, chunks) = jobs::output(conn, &current, &found, 0)?;
                let end = chunks.last().map_or(0, |c| c.end());
                let output = (jobs::OutputChunk::text(&chunks), end);
                Ok((Some((Some(job), Some(output))), asking, current))
            })
            .await?;
        (caller, mine) = (asking, current);
        match step {
            Some(done) => break done,
            // Waiting here, not on a blocking thread or a runner connection.
            None => tokio::time::sleep(poll).await,
        }
    };
    let shown = job.as_ref().filter(|_| shows_rows).map(job_json);
    let mut body = json!({"uuid": uuid, "job": shown});
    if let Some((text, end)) = output {
        body["output"] = Value::String(text);
        body["next_offset"] = json!(end);
    }
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/api/jobs/{uuid}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListQuery {
    command: Option<String>,
    status: Option<String>,
    user: Option<String>,
    since: Option<String>,
    until: Option<String>,
    limit: Option<i64>,
    offset: Option<i64>,
}

/// Deepest page offset of the history.
const MAX_OFFSET: i64 = 1_000_000_000;

type Predicate = Box<
    dyn BoxableExpression<job_executions::table, MultiBackend, SqlType = diesel::sql_types::Bool>,
>;

/// `GET /api/jobs?command&status&user&since&until&limit&offset`: the jobs the rules let the
/// caller see, newest first, a page at a time.
pub(crate) async fn list(
    State(service): State<Service>,
    caller: Caller,
    Params(q): Params<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    use job_executions as j;
    let max = service.config().page_size_max;
    let limit = q.limit.unwrap_or(50.min(max));
    if !(1..=max).contains(&limit) {
        return Err(ApiError::invalid(format!(
            "\"limit\" must be from 1 to {max}"
        )));
    }
    let offset = q.offset.unwrap_or(0);
    if !(0..=MAX_OFFSET).contains(&offset) {
        return Err(ApiError::invalid(format!(
            "\"offset\" must be from 0 to {MAX_OFFSET}"
        )));
    }
    let mut predicate: Predicate = Box::new(j::uuid.is_not_null());
    if let Some(command) = q.command {
        predicate = Box::new(predicate.and(j::command.eq(command)));
    }
    if let Some(status) = q.status {
        let status: JobStatus = status
            .parse()
            .map_err(|e: rowguard::jobs::UnknownJobStatus| ApiError::invalid(e.to_string()))?;
        predicate = Box::new(predicate.and(j::status.eq(status)));
    }
    if let Some(user) = q.user {
        predicate = Box::new(predicate.and(j::user_identifier.eq(user)));
    }
    if let Some(since) = q.since {
        predicate = Box::new(predicate.and(j::started_at.ge(instant("since", &since)?)));
    }
    if let Some(until) = q.until {
        predicate = Box::new(predicate.and(j::started_at.lt(instant("until", &until)?)));
    }
    service
        .blocking(move |inner, conn| {
            let guard = guard(inner, conn, &caller, READ)?;
            let mut rows: Vec<JobExecution> = guard
                .read::<JobExecution>(conn)?
                .filter(predicate)
                .order((j::started_at.desc(), j::uuid))
                .limit(limit + 1)
                .offset(offset)
                .load(conn)?;
            let more = rows.len() as i64 > limit;
            rows.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(Json(json!({
                "jobs": rows.iter().map(job_json).collect::<Vec<_>>(),
                "limit": limit,
                "offset": offset,
                "next_offset": more.then(|| offset.saturating_add(limit)),
            })))
        })
        .await
}

/// `GET /api/jobs/{uuid}`: 404 for a job that is missing or that the rules hide alike.
pub(crate) async fn one(
    State(service): State<Service>,
    caller: Caller,
    PathArg(uuid): PathArg<String>,
) -> Result<Json<Value>, ApiError> {
    service
        .blocking(move |inner, conn| {
            let guard = guard(inner, conn, &caller, READ)?;
            Ok(Json(job_json(&guard.find::<JobExecution>(conn, uuid)?)))
        })
        .await
}

/// A place among the open streams and long polls, or 503 when they are all taken.
fn stream_slot(service: &Service) -> Result<tokio::sync::OwnedSemaphorePermit, ApiError> {
    service
        .inner
        .streams
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many output streams open; try again later",
            )
        })
}

/// Output from one offset: the text, where the next read starts, and whether there is no
/// more to come.
struct Piece {
    job: JobExecution,
    text: String,
    next: i64,
    done: bool,
    /// The lines rowguard itself wrote in this piece (its kill escalation, the end), told
    /// apart from the program's output by their stream: a job cannot forge one.
    notes: Vec<String>,
}

/// The longest prefix of `bytes` that does not end inside a UTF-8 character: while a job
/// runs, a character split between two writes waits for its second half, so every offset
/// handed out starts a character and no text is cut. Invalid bytes are passed on (and shown
/// as U+FFFD); only an incomplete sequence at the very end is held back.
fn complete_prefix(bytes: &[u8]) -> usize {
    let mut at = 0;
    loop {
        match std::str::from_utf8(&bytes[at..]) {
            Ok(_) => return bytes.len(),
            Err(e) => match e.error_len() {
                None => return at + e.valid_up_to(),
                Some(bad) => at += e.valid_up_to() + bad,
            },
        }
    }
}

/// Stored chunks (of at most 8 KiB each) one read returns: a follower of a long output reads
/// it a page at a time.
const PAGE_CHUNKS: i64 = 128;

fn read_piece(
    conn: &mut PooledConnection,
    guard: &Guard,
    uuid: &str,
    from: i64,
) -> Result<Piece, ApiError> {
    let (job, chunks) = jobs::output_page(conn, guard, uuid, from, Some(PAGE_CHUNKS))?;
    let more = chunks.len() as i64 >= PAGE_CHUNKS;
    let mut bytes = Vec::new();
    let mut notes = Vec::new();
    for chunk in chunks {
        if chunk.stream == "rowguard" {
            notes.push((bytes.len() + chunk.chunk.len(), chunk.chunk.clone()));
        }
        bytes.extend(chunk.chunk);
    }
    let running = job.status.is_running();
    let take = if running || more {
        complete_prefix(&bytes)
    } else {
        bytes.len()
    };
    Ok(Piece {
        text: String::from_utf8_lossy(&bytes[..take]).into_owned(),
        next: from + take as i64,
        done: !running && !more && take == bytes.len(),
        notes: notes
            .into_iter()
            .filter(|(end, _)| *end <= take)
            .map(|(_, note)| String::from_utf8_lossy(&note).trim().to_owned())
            .collect(),
        job,
    })
}

/// The caller of a request that waits or streams: every [`RECHECK_TOKEN`] its token is
/// looked up again (a logout, lock or password change ends the request with 401 or an
/// `error` event) and its roles are read again (a change applies). Moved into each blocking
/// step and back out.
#[derive(Clone)]
struct Rechecked {
    caller: Caller,
    checked: Instant,
}

impl Rechecked {
    fn new(caller: Caller) -> Self {
        Rechecked {
            caller,
            checked: Instant::now(),
        }
    }

    /// Looks at the token again if it is due; whether it did.
    fn refresh(&mut self, conn: &mut PooledConnection) -> Result<bool, ApiError> {
        if self.checked.elapsed() < RECHECK_TOKEN {
            return Ok(false);
        }
        let session = crate::tokens::authenticate(conn, &self.caller.token)?
            .ok_or_else(|| ApiError::unauthorized("the token was revoked or expired"))?;
        self.caller.session = session;
        self.checked = Instant::now();
        Ok(true)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputQuery {
    #[serde(default)]
    from: i64,
    wait_ms: Option<u64>,
}

fn check_from(from: i64) -> Result<(), ApiError> {
    if from < 0 {
        return Err(ApiError::invalid("\"from\" may not be negative"));
    }
    Ok(())
}

/// `GET /api/jobs/{uuid}/output?from&wait_ms`: the output from byte `from`; with `wait_ms`,
/// a long poll that answers as soon as there is new output or the job ends.
pub(crate) async fn output(
    State(service): State<Service>,
    caller: Caller,
    PathArg(uuid): PathArg<String>,
    Params(q): Params<OutputQuery>,
) -> Result<Json<Value>, ApiError> {
    check_from(q.from)?;
    let config = service.config().clone();
    let wait = q.wait_ms.unwrap_or(0);
    if wait > config.long_poll_max_ms {
        return Err(ApiError::invalid(format!(
            "\"wait_ms\" may be at most {}",
            config.long_poll_max_ms
        )));
    }
    let deadline = Instant::now() + Duration::from_millis(wait);
    let _slot = if wait > 0 {
        Some(stream_slot(&service)?)
    } else {
        None
    };
    let mut caller = Rechecked::new(caller);
    loop {
        let (mut asking, uuid) = (caller, uuid.clone());
        let (piece, now) = service
            .blocking(move |inner, conn| {
                asking.refresh(conn)?;
                let guard = guard(inner, conn, &asking.caller, OUTPUT)?;
                Ok((read_piece(conn, &guard, &uuid, q.from)?, asking))
            })
            .await?;
        caller = now;
        if !piece.text.is_empty() || piece.done || Instant::now() >= deadline {
            return Ok(Json(json!({
                "job": job_json(&piece.job),
                "from": q.from,
                "text": piece.text,
                "next_offset": piece.next,
                "done": piece.done,
                "notes": piece.notes,
            })));
        }
        tokio::time::sleep(Duration::from_millis(config.output_poll_ms)).await;
    }
}

/// `GET /api/jobs/{uuid}/output.txt?from`: the output's bytes as stored, as a download.
pub(crate) async fn output_text(
    State(service): State<Service>,
    caller: Caller,
    PathArg(uuid): PathArg<String>,
    Params(q): Params<OutputQuery>,
) -> Result<Response, ApiError> {
    check_from(q.from)?;
    let name = uuid.clone();
    let bytes = service
        .blocking(move |inner, conn| {
            let guard = guard(inner, conn, &caller, OUTPUT)?;
            let (_, chunks) = jobs::output(conn, &guard, &uuid, q.from)?;
            Ok(chunks
                .into_iter()
                .flat_map(|c| c.chunk)
                .collect::<Vec<u8>>())
        })
        .await?;
    let disposition = format!("attachment; filename=\"job-{name}.txt\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// How often a live stream or a long poll looks at its token again: a logout, lock or password
/// change ends it within this time, and a change of the user's roles applies.
const RECHECK_TOKEN: Duration = Duration::from_secs(1);

/// `GET /api/jobs/{uuid}/events?from`: the output as server-sent events. Each `output`
/// event's id is the offset after it, so a reconnecting client (`Last-Event-ID`, which wins
/// over `from`) resumes exactly where it stopped; `end` carries the final job; `error` says
/// why the stream stopped early (the token was revoked, the job became hidden).
pub(crate) async fn events(
    State(service): State<Service>,
    caller: Caller,
    PathArg(uuid): PathArg<String>,
    Params(q): Params<OutputQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let from = match headers.get("last-event-id") {
        Some(v) => v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse::<i64>().ok())
            .ok_or_else(|| ApiError::invalid("Last-Event-ID must be a byte offset"))?,
        None => q.from,
    };
    check_from(from)?;
    // The first read decides the status (404, 403) before the stream starts.
    let (first_caller, first_uuid) = (caller.clone(), uuid.clone());
    service
        .blocking(move |inner, conn| {
            let guard = guard(inner, conn, &first_caller, OUTPUT)?;
            read_piece(conn, &guard, &first_uuid, from).map(|_| ())
        })
        .await?;
    let poll = Duration::from_millis(service.config().output_poll_ms);
    let slot = stream_slot(&service)?;
    struct Follow {
        _slot: tokio::sync::OwnedSemaphorePermit,
        service: Service,
        caller: Rechecked,
        uuid: String,
        from: i64,
        ended: bool,
    }
    let start = Follow {
        _slot: slot,
        service,
        caller: Rechecked::new(caller),
        uuid,
        from,
        ended: false,
    };
    let stream = futures_util::stream::unfold(start, move |mut f| async move {
        if f.ended {
            return None;
        }
        loop {
            // The stream ends on an error: the caller is only needed back on success.
            let (mut caller, uuid, from) = (f.caller.clone(), f.uuid.clone(), f.from);
            let read = f
                .service
                .blocking(move |inner, conn| {
                    caller.refresh(conn)?;
                    let guard = guard(inner, conn, &caller.caller, OUTPUT)?;
                    Ok((read_piece(conn, &guard, &uuid, from)?, caller))
                })
                .await;
            let read = read.map(|(piece, caller)| {
                f.caller = caller;
                piece
            });
            let event = match read {
                Err(e) => {
                    f.ended = true;
                    Event::default()
                        .event("error")
                        .data(json!({"error": e.message, "code": e.code}).to_string())
                }
                Ok(piece) if !piece.text.is_empty() => {
                    let event = Event::default()
                        .event("output")
                        .id(piece.next.to_string())
                        .data(
                            json!({"offset": f.from, "next": piece.next, "text": piece.text,
                                   "notes": piece.notes})
                            .to_string(),
                        );
                    f.from = piece.next;
                    event
                }
                Ok(piece) if piece.done => {
                    f.ended = true;
                    Event::default()
                        .event("end")
                        .id(piece.next.to_string())
                        .data(job_json(&piece.job).to_string())
                }
                Ok(_) => {
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            return Some((Ok::<_, Infallible>(event), f));
        }
    });
    Ok(Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// `POST /api/jobs/{uuid}/kill`: 202 once the kill is requested (the instance running the
/// job carries it out); 409 if the job is not running or a kill is already requested.
pub(crate) async fn kill(
    State(service): State<Service>,
    caller: Caller,
    PathArg(uuid): PathArg<String>,
) -> Result<Response, ApiError> {
    let job = service
        .blocking(move |inner, conn| {
            let graph = caller.require(inner, conn, KILL)?;
            let guard = inner.auth.guard(caller.subject(&graph));
            // Super users: the configured ones, and holders of jobs.kill.any.
            let mut supers = inner.runner.config().super_users.clone();
            if caller.holds(inner, conn, &graph, KILL_ANY)? {
                supers.push(caller.session.user.clone());
            }
            jobs::request_kill(conn, &guard, &uuid, &supers)?;
            // The row only for those who may read jobs, and only if the rules show it (a
            // super user may kill a job they cannot read).
            if !caller.holds(inner, conn, &graph, READ)? {
                return Ok(None);
            }
            Ok(guard.find::<JobExecution>(conn, uuid).ok())
        })
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"kill_requested": true, "job": job.as_ref().map(job_json)})),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::complete_prefix;

    #[test]
    fn a_split_character_waits_for_its_second_half() {
        let e_acute = "é".as_bytes(); // two bytes
        assert_eq!(complete_prefix(b"abc"), 3);
        assert_eq!(complete_prefix(&[b'a', e_acute[0]]), 1);
        assert_eq!(complete_prefix(&[b'a', e_acute[0], e_acute[1]]), 3);
        // An invalid byte is passed on; only a trailing incomplete sequence waits.
        assert_eq!(complete_prefix(&[0xff, b'a']), 2);
        assert_eq!(complete_prefix(&[0xff, b'a', e_acute[0]]), 2);
    }
}
