//! The runner of one instance: starts jobs (argv only, own process group), records their
//! output with byte offsets, heartbeats, executes kill requests with signal escalation, and
//! marks the jobs of instances that stopped heartbeating as failed.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;
use nix::sys::signal::Signal;

use super::model::{job_executions as jobs, job_output, status, JobExecution, OutputChunk};
use super::process;
use super::{JobError, JobsConfig};
use crate::rules::Right;
use crate::{AnyConnection, Authorizer, Error, Guard, Pool};

fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the instance id from `path`, creating it (a new UUID) the first time.
pub fn instance_id_from_file(path: &str) -> Result<String, JobError> {
    let fail = |source: std::io::Error| JobError::InstanceId {
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
        Ok(_) => Err(fail(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "empty file",
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(path, format!("{id}\n")).map_err(fail)?;
            Ok(id)
        }
        Err(e) => Err(fail(e)),
    }
}

/// A job this instance is running.
struct Running {
    uuid: String,
    pid: i32,
    /// The main process has exited (descendants may still run).
    exited: AtomicBool,
    kill_by: Mutex<Option<String>>,
    timed_out: AtomicBool,
}

impl Running {
    /// The job's process group, while its leader has not been reaped (after that the id
    /// may be reused by an unrelated group, so it is no longer signalled).
    fn group(&self) -> Option<i32> {
        (!self.exited.load(Ordering::Acquire) || process::group_exists(self.pid))
            .then_some(self.pid)
    }

    /// Whether any process of the job is still alive.
    fn alive(&self) -> bool {
        self.group().is_some() || !process::marked_processes(&self.uuid).is_empty()
    }
}

/// A job's output as it is stored: raw bytes with offsets in the raw stream, up to a cap.
struct OutputLog {
    pool: Pool,
    uuid: String,
    limit: u64,
    state: Mutex<OutputState>,
}

#[derive(Default)]
struct OutputState {
    /// Offset of the next byte in the job's combined output (stored or not).
    offset: i64,
    /// Bytes of the programs' output stored so far.
    stored: u64,
    truncated: bool,
    /// Bytes that could not be stored, and the last reason.
    lost: u64,
    last_error: Option<String>,
    /// The job has ended: late bytes (from a process that escaped the kill) are dropped.
    closed: bool,
}

/// How long, after the job's tracked processes are gone on a kill or timeout, the runner
/// waits for its output pipes to close before it stops reading them.
const PIPE_GRACE: Duration = Duration::from_secs(2);

/// Attempts per chunk before its bytes are counted as lost.
const STORE_ATTEMPTS: u32 = 5;

impl OutputLog {
    /// Appends the program's bytes from `stream`, up to the limit; past it, one line says
    /// so and the rest is dropped.
    fn program(&self, stream: &str, bytes: &[u8]) {
        let mut state = lock(&self.state);
        if state.truncated || state.closed {
            return;
        }
        let room = self.limit.saturating_sub(state.stored);
        let keep = &bytes[..bytes.len().min(usize::try_from(room).unwrap_or(usize::MAX))];
        if !keep.is_empty() {
            self.store(&mut state, stream, keep);
            state.stored += keep.len() as u64;
        }
        if keep.len() < bytes.len() {
            state.truncated = true;
            let line = format!(
                "\nOUTPUT TRUNCATED: THE LIMIT OF {} BYTES IS REACHED; THE REST IS NOT STORED\n",
                self.limit
            );
            self.store(&mut state, "rowguard", line.as_bytes());
        }
    }

    /// Appends a line of rowguard's own (never truncated).
    fn note(&self, line: &str) {
        let mut state = lock(&self.state);
        self.store(&mut state, "rowguard", line.as_bytes());
    }

    /// Stores one chunk, retrying; bytes that cannot be stored are counted, and reported at
    /// the end of the job ([`OutputLog::report_losses`]), never dropped silently.
    fn store(&self, state: &mut OutputState, stream: &str, bytes: &[u8]) {
        let mut delay = Duration::from_millis(20);
        for attempt in 1..=STORE_ATTEMPTS {
            let result = self
                .pool
                .get()
                .map_err(JobError::from)
                .and_then(|mut conn| append_on(&mut conn, &self.uuid, state.offset, stream, bytes));
            match result {
                Ok(()) => {
                    state.offset += bytes.len() as i64;
                    return;
                }
                Err(e) if attempt == STORE_ATTEMPTS => {
                    tracing::error!(
                        "rowguard jobs: {} bytes of output of {} could not be stored: {e}",
                        bytes.len(),
                        self.uuid
                    );
                    state.lost += bytes.len() as u64;
                    state.last_error = Some(e.to_string());
                    state.offset += bytes.len() as i64;
                }
                Err(_) => {
                    thread::sleep(delay);
                    delay *= 2;
                }
            }
        }
    }

    /// No more program output is stored (see [`OutputState::closed`]).
    fn close(&self) {
        lock(&self.state).closed = true;
    }

    fn report_losses(&self) {
        let mut state = lock(&self.state);
        if state.lost > 0 {
            let line = format!(
                "\nOUTPUT LOST: {} BYTES COULD NOT BE STORED ({})\n",
                state.lost,
                state.last_error.as_deref().unwrap_or("unknown error")
            );
            self.store(&mut state, "rowguard", line.as_bytes());
        }
    }
}

/// A job's end, as it is recorded (kept and retried by the watcher if the database refuses).
#[derive(Debug, Clone)]
struct Finish {
    uuid: String,
    outcome: &'static str,
    code: Option<i32>,
    killed_by: Option<String>,
}

struct Inner {
    /// Ends that could not be recorded yet; the watcher retries them.
    unfinished: Mutex<Vec<Finish>>,
    pool: Pool,
    config: JobsConfig,
    instance_id: String,
    running: Mutex<HashMap<String, Arc<Running>>>,
    stopped: AtomicBool,
    abandoned: AtomicBool,
}

/// The job runner of one instance. Dropping it stops its watcher; jobs it started keep
/// running and are recorded until they end.
pub struct Runner {
    inner: Arc<Inner>,
    auth: Authorizer,
    watcher: Mutex<Option<JoinHandle<()>>>,
}

impl Runner {
    /// A runner for `instance_id` (see [`instance_id_from_file`]); starts its watcher
    /// (heartbeats, kill requests, dead instances) every `poll_interval_ms`.
    pub fn new(pool: Pool, auth: Authorizer, config: JobsConfig, instance_id: String) -> Self {
        let inner = Arc::new(Inner {
            unfinished: Mutex::new(Vec::new()),
            pool,
            config,
            instance_id,
            running: Mutex::new(HashMap::new()),
            stopped: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
        });
        let watched = inner.clone();
        let watcher = thread::spawn(move || watch(&watched));
        Self {
            inner,
            auth,
            watcher: Mutex::new(Some(watcher)),
        }
    }

    /// This instance's id.
    pub fn instance_id(&self) -> &str {
        &self.inner.instance_id
    }

    /// The configuration.
    pub fn config(&self) -> &JobsConfig {
        &self.inner.config
    }

    /// The authorizer jobs are checked with.
    pub fn authorizer(&self) -> &Authorizer {
        &self.auth
    }

    /// Starts `command` for the guard's subject and returns the job's uuid at once. Checked:
    /// the allow list, the subject's roles, the parameters, and the create rule of
    /// `job_executions`; a refused start writes no row.
    pub fn start(
        &self,
        guard: &Guard,
        command: &str,
        params: &BTreeMap<String, String>,
    ) -> Result<String, JobError> {
        let config = &self.inner.config;
        let allowed = config
            .commands
            .get(command)
            .ok_or_else(|| JobError::UnknownCommand {
                command: command.to_owned(),
                allowed: config
                    .commands
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        let roles: Vec<&str> = guard.subject().set("roles").collect();
        if !allowed.allows(&roles) {
            return Err(JobError::RoleNotAllowed {
                command: command.to_owned(),
                roles: roles.join(", "),
            });
        }
        let argv = allowed.argv(command, params)?;
        let user = user_of(guard)?;
        let started = now();
        let row = JobExecution {
            uuid: uuid::Uuid::new_v4().to_string(),
            command: command.to_owned(),
            parameters: serde_json::to_string(params).unwrap_or_else(|_| "{}".into()),
            user_identifier: user,
            instance_id: self.inner.instance_id.clone(),
            pid: None,
            status: status::RUNNING.into(),
            exit_code: None,
            started_at: started,
            finished_at: None,
            kill_requested_by: None,
            kill_requested_at: None,
            killed_by: None,
            last_heartbeat: started,
        };
        let mut conn = self.inner.pool.get()?;
        guard.insert(&mut conn, &row)?;
        let uuid = row.uuid.clone();
        let log = Arc::new(OutputLog {
            pool: self.inner.pool.clone(),
            uuid: uuid.clone(),
            limit: allowed
                .max_output_bytes
                .unwrap_or(self.inner.config.max_output_bytes),
            state: Mutex::new(OutputState::default()),
        });
        let spawned = process::spawn(
            &allowed.program,
            &argv,
            &self.inner.config.env_allow,
            &allowed.env,
            &uuid,
        );
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                log.note(&format!("CANNOT START {}: {source}\n", allowed.program));
                Finish {
                    uuid: uuid.clone(),
                    outcome: status::FAILED,
                    code: None,
                    killed_by: None,
                }
                .record(&mut conn)?;
                return Err(JobError::Spawn {
                    program: allowed.program.clone(),
                    source,
                });
            }
        };
        let pid = child.id() as i32;
        diesel::update(jobs::table.find(&uuid))
            .set(jobs::pid.eq(Some(i64::from(pid))))
            .execute(&mut conn)?;
        drop(conn);
        let running = Arc::new(Running {
            uuid: uuid.clone(),
            pid,
            exited: AtomicBool::new(false),
            kill_by: Mutex::new(None),
            timed_out: AtomicBool::new(false),
        });
        lock(&self.inner.running).insert(uuid.clone(), running.clone());

        let readers: Vec<JoinHandle<()>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>)
                .map(|s| ("stdout", s)),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>)
                .map(|s| ("stderr", s)),
        ]
        .into_iter()
        .flatten()
        .map(|(stream, mut source)| {
            let log = log.clone();
            thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = source.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    log.program(stream, &buf[..n]);
                }
            })
        })
        .collect();

        let inner = self.inner.clone();
        let timeout = allowed.timeout_secs.map(Duration::from_secs);
        let job = uuid.clone();
        thread::spawn(move || {
            let begun = Instant::now();
            let mut exit = None;
            let mut gone_since: Option<Instant> = None;
            let mut pipes_abandoned = false;
            // Until the main process has exited and nothing holds its output open any more
            // (a descendant may, after the main process is gone): the timeout applies to all.
            loop {
                if !running.exited.load(Ordering::Acquire) {
                    match child.try_wait() {
                        Ok(None) => {}
                        Ok(Some(status)) => {
                            exit = Some(status);
                            running.exited.store(true, Ordering::Release);
                        }
                        Err(_) => running.exited.store(true, Ordering::Release),
                    }
                }
                let exited = running.exited.load(Ordering::Acquire);
                if exited && readers.iter().all(JoinHandle::is_finished) {
                    break;
                }
                // Killed or timed out, every tracked process gone, and still a pipe open: a
                // process outside the job's tracking (it dropped its mark) holds it. Stop
                // reading after a grace period rather than stay `running` forever.
                let ending =
                    running.timed_out.load(Ordering::Acquire) || lock(&running.kill_by).is_some();
                if ending && exited && !running.alive() {
                    if gone_since.get_or_insert_with(Instant::now).elapsed() >= PIPE_GRACE {
                        pipes_abandoned = true;
                        break;
                    }
                } else {
                    gone_since = None;
                }
                if timeout.is_some_and(|t| begun.elapsed() >= t)
                    && !running.timed_out.swap(true, Ordering::AcqRel)
                {
                    escalate(running.clone(), &inner.config);
                }
                thread::sleep(Duration::from_millis(20));
            }
            if pipes_abandoned {
                log.close();
                log.note(
                    "\nOUTPUT STILL HELD OPEN BY A PROCESS OUTSIDE THE JOB'S TRACKING; STOPPED READING\n",
                );
            } else {
                for reader in readers {
                    let _ = reader.join();
                }
            }
            lock(&inner.running).remove(&job);
            if inner.abandoned.load(Ordering::Acquire) {
                return;
            }
            let killed_by = lock(&running.kill_by).clone();
            log.report_losses();
            let end = if let Some(user) = killed_by {
                log.note(&format!(
                    "PROCESS KILLED BY {user} AT {}\n",
                    now().format("%Y-%m-%d %H:%M:%S")
                ));
                Finish {
                    uuid: job,
                    outcome: status::KILLED,
                    code: None,
                    killed_by: Some(user),
                }
            } else if running.timed_out.load(Ordering::Acquire) {
                log.note(&format!(
                    "TIMED OUT AT {}\n",
                    now().format("%Y-%m-%d %H:%M:%S")
                ));
                Finish {
                    uuid: job,
                    outcome: status::TIMED_OUT,
                    code: None,
                    killed_by: None,
                }
            } else {
                let code = exit.and_then(|e| e.code());
                Finish {
                    uuid: job,
                    outcome: if code == Some(0) {
                        status::COMPLETED
                    } else {
                        status::FAILED
                    },
                    code,
                    killed_by: None,
                }
            };
            log.close();
            let recorded = inner
                .pool
                .get()
                .map_err(JobError::from)
                .and_then(|mut conn| end.record(&mut conn));
            if let Err(e) = recorded {
                tracing::error!(
                    "rowguard jobs: cannot record the end of {} yet (retrying): {e}",
                    end.uuid
                );
                lock(&inner.unfinished).push(end);
            }
        });
        Ok(uuid)
    }

    /// Runs `command` and waits up to `wait` for it to end; returns the job's row (still
    /// `running` if it did not end in time).
    pub fn run(
        &self,
        guard: &Guard,
        command: &str,
        params: &BTreeMap<String, String>,
        wait: Duration,
    ) -> Result<JobExecution, JobError> {
        let uuid = self.start(guard, command, params)?;
        self.wait(guard, &uuid, wait)
    }

    /// Waits up to `wait` for job `uuid` to leave `running`; returns its row. The job is
    /// read through the guard: a job the subject may not read is `NotFound`.
    pub fn wait(
        &self,
        guard: &Guard,
        uuid: &str,
        wait: Duration,
    ) -> Result<JobExecution, JobError> {
        let deadline = Instant::now() + wait;
        loop {
            let mut conn = self.inner.pool.get()?;
            let row = guard.find::<JobExecution>(&mut conn, uuid.to_owned())?;
            if row.status != status::RUNNING || Instant::now() >= deadline {
                return Ok(row);
            }
            drop(conn);
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits up to `wait` until job `uuid`'s output contains `text` (compared as bytes), if
    /// the subject may read the job.
    pub fn wait_for_output(
        &self,
        guard: &Guard,
        uuid: &str,
        text: &str,
        wait: Duration,
    ) -> Result<bool, JobError> {
        let deadline = Instant::now() + wait;
        let needle = text.as_bytes();
        loop {
            let mut conn = self.inner.pool.get()?;
            let (_, chunks) = output(&mut conn, guard, uuid, 0)?;
            let bytes: Vec<u8> = chunks.into_iter().flat_map(|c| c.chunk).collect();
            if needle.is_empty() || bytes.windows(needle.len()).any(|w| w == needle) {
                return Ok(true);
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            drop(conn);
            thread::sleep(Duration::from_millis(25));
        }
    }

    /// Asks for job `uuid` to be killed (see [`request_kill`]).
    pub fn request_kill(&self, guard: &Guard, uuid: &str) -> Result<(), JobError> {
        let mut conn = self.inner.pool.get()?;
        request_kill(&mut conn, guard, uuid, &self.inner.config.super_users)
    }

    /// Stops the watcher (heartbeats and kill handling) and waits for it.
    pub fn shutdown(&self) {
        self.inner.stopped.store(true, Ordering::Release);
        if let Some(handle) = lock(&self.watcher).take() {
            let _ = handle.join();
        }
    }

    /// Testing: behave like a crashed instance (no heartbeats, no final statuses).
    #[doc(hidden)]
    pub fn abandon(&self) {
        self.inner.abandoned.store(true, Ordering::Release);
        self.shutdown();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn user_of(guard: &Guard) -> Result<String, JobError> {
    guard
        .subject()
        .attributes()
        .get("id")
        .and_then(|v| v.first())
        .cloned()
        .ok_or(JobError::NoUserIdentifier)
}

/// Stores one chunk of raw output at `offset`.
fn append_on(
    conn: &mut AnyConnection,
    uuid: &str,
    offset: i64,
    stream: &str,
    bytes: &[u8],
) -> Result<(), JobError> {
    diesel::insert_into(job_output::table)
        .values((
            job_output::job_uuid.eq(uuid),
            job_output::byte_offset.eq(offset),
            job_output::stream.eq(stream),
            job_output::chunk.eq(bytes),
        ))
        .execute(conn)?;
    Ok(())
}

impl Finish {
    /// Records the job's end. Only a row still `running` is changed: if another instance
    /// already marked the job failed (this one stopped heartbeating meanwhile), that verdict
    /// stands.
    fn record(&self, conn: &mut AnyConnection) -> Result<(), JobError> {
        diesel::update(
            jobs::table
                .find(&self.uuid)
                .filter(jobs::status.eq(status::RUNNING)),
        )
        .set((
            jobs::status.eq(self.outcome),
            jobs::exit_code.eq(self.code),
            jobs::finished_at.eq(Some(now())),
            jobs::killed_by.eq(self.killed_by.as_deref()),
        ))
        .execute(conn)?;
        Ok(())
    }
}

/// SIGINT, then SIGTERM, then SIGKILL to every process of the job (its group and every
/// marked descendant, wherever it went), each after the configured delay if any is still
/// alive. SIGKILL is repeated until none is left (a descendant may fork meanwhile).
fn escalate(job: Arc<Running>, config: &JobsConfig) {
    let delays = [0, config.sigterm_after_ms, config.sigkill_after_ms];
    thread::spawn(move || {
        for (signal, delay) in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGKILL]
            .into_iter()
            .zip(delays)
        {
            let until = Instant::now() + Duration::from_millis(delay);
            while Instant::now() < until && job.alive() {
                thread::sleep(Duration::from_millis(20));
            }
            if !job.alive() {
                return;
            }
            process::signal_all(job.group(), &job.uuid, signal);
        }
        while job.alive() {
            thread::sleep(Duration::from_millis(50));
            process::signal_all(job.group(), &job.uuid, Signal::SIGKILL);
        }
    });
}

fn watch(inner: &Inner) {
    let interval = Duration::from_millis(inner.config.poll_interval_ms.max(10));
    while !inner.stopped.load(Ordering::Acquire) {
        if let Err(e) = watch_once(inner) {
            tracing::warn!("rowguard jobs watcher: {e}");
        }
        let until = Instant::now() + interval;
        while Instant::now() < until && !inner.stopped.load(Ordering::Acquire) {
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Marks failed the jobs of this instance id that no runner heartbeats any more: an
/// earlier life's (a crash, a restart) or a runner's whose watcher stopped. A job another
/// live runner with the same id runs is heartbeated by it and left alone. Their processes
/// (found by their mark, on this machine) are ended first.
fn fail_unheartbeated_jobs_of_this_instance(
    conn: &mut AnyConnection,
    inner: &Inner,
    cutoff: NaiveDateTime,
) -> Result<(), JobError> {
    let me = &inner.instance_id;
    let stale: Vec<String> = jobs::table
        .filter(jobs::instance_id.eq(me))
        .filter(jobs::status.eq(status::RUNNING))
        .filter(jobs::last_heartbeat.lt(cutoff))
        .select(jobs::uuid)
        .load(conn)?;
    for uuid in stale {
        if lock(&inner.running).contains_key(&uuid) {
            continue;
        }
        // Claimed first, killed after: a runner that heartbeated the job meanwhile keeps it.
        let claimed = mark_failed_if_stale(conn, &uuid, cutoff, || {
            format!(
                "\nNO RUNNER OF INSTANCE {me} HEARTBEATS THIS JOB ANY MORE (AN EARLIER LIFE OF THE INSTANCE); MARKED FAILED AT {}\n",
                now().format("%Y-%m-%d %H:%M:%S")
            )
        })?;
        if claimed {
            process::signal_all(None, &uuid, Signal::SIGKILL);
        }
    }
    Ok(())
}

fn watch_once(inner: &Inner) -> Result<(), JobError> {
    let mut conn = inner.pool.get()?;
    let me = &inner.instance_id;
    let retry: Vec<Finish> = std::mem::take(&mut *lock(&inner.unfinished));
    for end in retry {
        if end.record(&mut conn).is_err() {
            lock(&inner.unfinished).push(end);
        }
    }
    // Only the jobs this runner is running: a row whose end could not be recorded stops
    // heartbeating, so another instance marks it failed if this one never can.
    let alive: Vec<String> = lock(&inner.running).keys().cloned().collect();
    if !alive.is_empty() {
        diesel::update(
            jobs::table
                .filter(jobs::instance_id.eq(me))
                .filter(jobs::status.eq(status::RUNNING))
                .filter(jobs::uuid.eq_any(&alive)),
        )
        .set(jobs::last_heartbeat.eq(now()))
        .execute(&mut conn)?;
    }
    let kills: Vec<(String, Option<String>)> = jobs::table
        .filter(jobs::instance_id.eq(me))
        .filter(jobs::status.eq(status::RUNNING))
        .filter(jobs::kill_requested_by.is_not_null())
        .select((jobs::uuid, jobs::kill_requested_by))
        .load(&mut conn)?;
    for (uuid, by) in kills {
        let Some(job) = lock(&inner.running).get(&uuid).cloned() else {
            continue;
        };
        let mut kill_by = lock(&job.kill_by);
        if kill_by.is_none() {
            *kill_by = Some(by.unwrap_or_default());
            escalate(job.clone(), &inner.config);
        }
    }
    let cutoff = now() - chrono::Duration::milliseconds(inner.config.dead_after_ms as i64);
    fail_unheartbeated_jobs_of_this_instance(&mut conn, inner, cutoff)?;
    let orphans: Vec<(String, String)> = jobs::table
        .filter(jobs::status.eq(status::RUNNING))
        .filter(jobs::instance_id.ne(me))
        .filter(jobs::last_heartbeat.lt(cutoff))
        .select((jobs::uuid, jobs::instance_id))
        .load(&mut conn)?;
    for (uuid, instance) in orphans {
        mark_failed_if_stale(&mut conn, &uuid, cutoff, || {
            format!(
                "INSTANCE {instance} STOPPED HEARTBEATING; JOB MARKED FAILED BY INSTANCE {me} AT {}\n",
                now().format("%Y-%m-%d %H:%M:%S")
            )
        })?;
    }
    Ok(())
}

/// Marks job `uuid` failed if it is still `running` without a heartbeat since `cutoff`, and
/// appends the reason, in one transaction: whoever sees `failed` also sees why, and two
/// instances noticing at once write the reason once. Returns whether this call claimed it.
fn mark_failed_if_stale(
    conn: &mut AnyConnection,
    uuid: &str,
    cutoff: NaiveDateTime,
    reason: impl FnOnce() -> String,
) -> Result<bool, JobError> {
    conn.transaction(|conn| {
        let claimed = diesel::update(
            jobs::table
                .find(uuid)
                .filter(jobs::status.eq(status::RUNNING))
                .filter(jobs::last_heartbeat.lt(cutoff)),
        )
        .set((
            jobs::status.eq(status::FAILED),
            jobs::finished_at.eq(Some(now())),
        ))
        .execute(conn)?;
        if claimed == 1 {
            let end = end_offset(conn, uuid)?;
            append_on(conn, uuid, end, "rowguard", reason().as_bytes())?;
        }
        Ok(claimed == 1)
    })
}

fn end_offset(conn: &mut AnyConnection, uuid: &str) -> Result<i64, JobError> {
    let last: Option<(i64, Vec<u8>)> = job_output::table
        .filter(job_output::job_uuid.eq(uuid))
        .order(job_output::byte_offset.desc())
        .select((job_output::byte_offset, job_output::chunk))
        .first(conn)
        .optional()?;
    Ok(last.map_or(0, |(o, c)| o + c.len() as i64))
}

/// Requests a kill of job `uuid`. Only running jobs, only once at a time. Killing is its own
/// operation: the subject needs the job's `update` rule (which for jobs means "may request a
/// kill"; no column of a job is writable through the guard), or must be a super user. The
/// instance running the job carries the kill out (it polls for requests).
pub fn request_kill(
    conn: &mut AnyConnection,
    guard: &Guard,
    uuid: &str,
    super_users: &[String],
) -> Result<(), JobError> {
    let user = user_of(guard)?;
    let is_super = super_users.contains(&user);
    let job: JobExecution = if is_super {
        jobs::table
            .find(uuid)
            .first(conn)
            .optional()?
            .ok_or_else(|| Error::NotFound {
                model: "job_executions".into(),
                key: uuid.to_owned(),
            })?
    } else {
        guard.find::<JobExecution>(conn, uuid.to_owned())?
    };
    if job.status != status::RUNNING {
        return Err(JobError::NotRunning {
            uuid: job.uuid,
            status: job.status,
        });
    }
    if let Some(by) = job.kill_requested_by {
        return Err(JobError::KillInProgress { uuid: job.uuid, by });
    }
    if !is_super && !guard.can(conn, Right::Update, &job)? {
        return Err(Error::Forbidden {
            action: Right::Update,
            model: "job_executions".into(),
        }
        .into());
    }
    let requested = diesel::update(
        jobs::table
            .find(uuid)
            .filter(jobs::status.eq(status::RUNNING))
            .filter(jobs::kill_requested_by.is_null()),
    )
    .set((
        jobs::kill_requested_by.eq(Some(&user)),
        jobs::kill_requested_at.eq(Some(now())),
    ))
    .execute(conn)?;
    if requested == 0 {
        let now_row: JobExecution = jobs::table.find(uuid).first(conn)?;
        return Err(match now_row.kill_requested_by {
            Some(by) => JobError::KillInProgress {
                uuid: now_row.uuid,
                by,
            },
            None => JobError::NotRunning {
                uuid: now_row.uuid,
                status: now_row.status,
            },
        });
    }
    Ok(())
}

/// The jobs the guard's subject may see, newest first.
pub fn list(conn: &mut AnyConnection, guard: &Guard) -> Result<Vec<JobExecution>, JobError> {
    let query = guard.read::<JobExecution>(conn)?;
    Ok(query.order(jobs::started_at.desc()).load(conn)?)
}

/// A job's output from byte `from` of its raw output (0 for the start; any offset, also
/// one inside a stored chunk), if the subject may read the job. The next offset is the last
/// chunk's offset plus its length ([`OutputChunk::end`]).
pub fn output(
    conn: &mut AnyConnection,
    guard: &Guard,
    uuid: &str,
    from: i64,
) -> Result<(JobExecution, Vec<OutputChunk>), JobError> {
    let job = guard.find::<JobExecution>(conn, uuid.to_owned())?;
    let columns = (
        job_output::byte_offset,
        job_output::stream,
        job_output::chunk,
    );
    // The chunk that contains `from`, if it starts before it.
    let straddling: Option<OutputChunk> = job_output::table
        .filter(job_output::job_uuid.eq(uuid))
        .filter(job_output::byte_offset.lt(from))
        .order(job_output::byte_offset.desc())
        .select(columns)
        .first(conn)
        .optional()?;
    let mut chunks: Vec<OutputChunk> = straddling
        .filter(|c| c.end() > from)
        .map(|mut c| {
            let skip = usize::try_from(from - c.byte_offset).unwrap_or(0);
            c.chunk.drain(..skip.min(c.chunk.len()));
            c.byte_offset = from;
            c
        })
        .into_iter()
        .collect();
    chunks.extend(
        job_output::table
            .filter(job_output::job_uuid.eq(uuid))
            .filter(job_output::byte_offset.ge(from))
            .order(job_output::byte_offset)
            .select(columns)
            .load::<OutputChunk>(conn)?,
    );
    Ok((job, chunks))
}
