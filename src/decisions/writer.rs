//! The log's writer: a thread of its own with a connection of its own. The request path
//! appends a [`Pending`] record to its thread's buffer (registered with the log, so no record
//! waits on an idle thread); every `flush_ms` the writer takes every buffer's records, renders
//! them, inserts them a batch per statement, and applies the retention limit.
//!
//! Why buffers per thread rather than one queue: a shared queue costs every record a few
//! cache lines moved between cores and, when the writer waits on it, a wake-up; a thread's
//! own buffer is a lock nobody else takes between two of the writer's visits.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, NaiveDateTime, Timelike, Utc};
use diesel::prelude::*;

use super::read::authorization_decisions as decisions;
use super::record::{key_text, rules_json, subject_json, Pending, Reason};
use super::settings::{DecisionLogConfig, Mode};
use super::DecisionError;
use crate::db::{establish, on_backend, AnyConnection, DatabaseUrl};
use crate::rules::Right;

/// How often the retention limit is applied while decisions are written.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Rows deleted by one statement when pruning (short write locks on SQLite).
const PRUNE_CHUNK: i64 = 10_000;
/// How long a flush or the writer's end is waited for.
const FLUSH_WAIT: Duration = Duration::from_secs(30);

/// One thread's records, waiting for the writer.
type Buffer = Arc<Mutex<Vec<Pending>>>;

/// What the request path and the writer share.
struct Shared {
    /// Every thread's buffer (a buffer whose thread has ended is dropped once drained).
    buffers: Mutex<Vec<Buffer>>,
    /// Decisions not kept (a full buffer) or not written (a failed write).
    lost: AtomicU64,
    /// Most records a thread's buffer holds between two of the writer's visits.
    capacity: usize,
}

thread_local! {
    /// This thread's buffer for each log it has written to.
    static LOCAL: RefCell<Vec<(Weak<Shared>, Buffer)>> = const { RefCell::new(Vec::new()) };
}

/// What the writer is asked besides writing on its own schedule.
enum Message {
    /// Write what came before, then answer.
    Flush(mpsc::Sender<Result<(), String>>),
    /// Write what came before, apply the retention limit, then answer.
    Prune(mpsc::Sender<Result<(), String>>),
}

/// A running decision log: the modes per right, the threads' buffers, and the writer.
/// Started by [`crate::Authorizer::log_decisions`]; dropping it (with the last clone of its
/// authorizer) writes what is buffered and stops the writer.
pub struct DecisionLog {
    modes: [Mode; 4],
    sample: f64,
    shared: Arc<Shared>,
    control: Option<mpsc::Sender<Message>>,
    thread: Mutex<Option<JoinHandle<()>>>,
    /// Closed by the writer when it has stopped.
    stopped: Mutex<Option<mpsc::Receiver<()>>>,
}

impl std::fmt::Debug for DecisionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecisionLog")
            .field("modes", &self.modes)
            .field("sample", &self.sample)
            .finish_non_exhaustive()
    }
}

impl DecisionLog {
    /// Connects to `url` (a connection of the log's own), checks the table, starts the writer.
    pub(crate) fn start(
        url: &DatabaseUrl,
        settings: &DecisionLogConfig,
    ) -> Result<Self, DecisionError> {
        if let Some(problem) = settings.problem() {
            return Err(DecisionError::Settings(problem));
        }
        if url.is_in_memory() {
            return Err(DecisionError::InMemory);
        }
        let mut conn = establish(url)?;
        super::read::table_exists(&mut conn)?;
        let shared = Arc::new(Shared {
            buffers: Mutex::new(Vec::new()),
            lost: AtomicU64::new(0),
            capacity: settings.queue,
        });
        let (control, receiver) = mpsc::channel();
        let (done, stopped) = mpsc::channel::<()>();
        let mut writer = Writer::new(conn, url, settings, shared.clone());
        let thread = std::thread::Builder::new()
            .name("rowguard-decisions".into())
            .spawn(move || {
                writer.run(receiver);
                drop(done);
            })
            .map_err(|e| DecisionError::Writer(format!("cannot start the writer: {e}")))?;
        Ok(Self {
            modes: settings.modes(),
            sample: settings.sample,
            shared,
            control: Some(control),
            thread: Mutex::new(Some(thread)),
            stopped: Mutex::new(Some(stopped)),
        })
    }

    /// Whether a decision of `right` that came out `allowed` is recorded, and at what share
    /// (`None`: not recorded). The one question the request path asks when the log is on.
    #[inline]
    pub(crate) fn takes(&self, right: Right, allowed: bool) -> Option<f64> {
        match self.modes[right as usize] {
            Mode::Off => None,
            Mode::Denials => (!allowed).then_some(1.0),
            Mode::All => Some(1.0),
            Mode::Sampled if !allowed => Some(1.0),
            Mode::Sampled => (super::sample::draw() < self.sample).then_some(self.sample),
        }
    }

    /// Whether this thread's buffer has room for a record; if not, the record is counted as
    /// lost here, so that an overloaded log costs the request path as little as possible.
    pub(crate) fn has_room(&self) -> bool {
        let shared = &self.shared;
        // No room in a thread-local destructor (the buffers are gone): counted as lost.
        let room = LOCAL.try_with(|local| {
            let Ok(local) = local.try_borrow() else {
                return false;
            };
            let mine = local
                .iter()
                .find(|(log, _)| std::ptr::eq(log.as_ptr(), Arc::as_ptr(shared)));
            match mine {
                Some((_, buffer)) => {
                    let records = buffer.lock().unwrap_or_else(|e| e.into_inner());
                    records.len() < shared.capacity
                }
                None => true,
            }
        });
        let room = room.unwrap_or(false);
        if !room {
            shared.lost.fetch_add(1, Ordering::Relaxed);
        }
        room
    }

    /// Appends a record to this thread's buffer; never waits on the writer (a full buffer
    /// counts the record as lost).
    pub(crate) fn push(&self, pending: Pending) {
        let shared = &self.shared;
        let pushed = LOCAL.try_with(|local| {
            let Ok(mut local) = local.try_borrow_mut() else {
                return false;
            };
            // By address: the weak reference keeps the allocation, so no other log can have
            // it (and comparing costs no reference count).
            let found = local
                .iter()
                .position(|(log, _)| std::ptr::eq(log.as_ptr(), Arc::as_ptr(shared)));
            let index = match found {
                Some(i) => i,
                None => {
                    // Buffers of logs since stopped go; this log learns of the new one.
                    local.retain(|(log, _)| log.strong_count() > 0);
                    let buffer: Buffer = Arc::new(Mutex::new(Vec::new()));
                    let mut all = shared.buffers.lock().unwrap_or_else(|e| e.into_inner());
                    all.push(buffer.clone());
                    drop(all);
                    local.push((Arc::downgrade(shared), buffer));
                    local.len() - 1
                }
            };
            let mut records = local[index].1.lock().unwrap_or_else(|e| e.into_inner());
            if records.len() < shared.capacity {
                records.push(pending);
                true
            } else {
                false
            }
        });
        if !pushed.unwrap_or(false) {
            shared.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Writes every decision recorded before this call; the result is this write's.
    pub(crate) fn flush(&self) -> Result<(), DecisionError> {
        self.ask(Message::Flush)
    }

    /// [`DecisionLog::flush`], then the retention limit.
    pub(crate) fn prune(&self) -> Result<(), DecisionError> {
        self.ask(Message::Prune)
    }

    fn ask(
        &self,
        message: impl FnOnce(mpsc::Sender<Result<(), String>>) -> Message,
    ) -> Result<(), DecisionError> {
        let Some(control) = &self.control else {
            return Ok(());
        };
        let (answer, done) = mpsc::channel();
        control
            .send(message(answer))
            .map_err(|_| DecisionError::Writer("the writer has stopped".into()))?;
        match done.recv_timeout(FLUSH_WAIT) {
            Ok(result) => result.map_err(DecisionError::Writer),
            Err(_) => Err(DecisionError::Writer(format!(
                "the writer did not finish within {} s",
                FLUSH_WAIT.as_secs()
            ))),
        }
    }
}

impl Drop for DecisionLog {
    fn drop(&mut self) {
        // Closing the control channel tells the writer to write what is left and stop. A
        // database that does not answer must not hold the application's shutdown: after
        // FLUSH_WAIT the writer is left to finish or die with the process.
        self.control.take();
        let stopped = self.stopped.lock().map(|mut s| s.take()).unwrap_or(None);
        let ended = stopped.is_none_or(|s| {
            matches!(
                s.recv_timeout(FLUSH_WAIT),
                Err(RecvTimeoutError::Disconnected)
            )
        });
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        match thread {
            Some(thread) if ended => {
                let _ = thread.join();
            }
            Some(_) => tracing::error!(
                "rowguard: the decision log's writer did not stop within {} s; its last \
                 decisions may not be written",
                FLUSH_WAIT.as_secs()
            ),
            None => {}
        }
    }
}

struct Writer {
    /// `None` after a failed write: reconnected before the next one.
    conn: Option<AnyConnection>,
    url: DatabaseUrl,
    settings: DecisionLogConfig,
    shared: Arc<Shared>,
    started: Instant,
    last_prune: Option<Instant>,
    /// Decisions writes failed to store since the last `lost` row about them, when the first
    /// was made, and the last error.
    failed: u64,
    failed_since: Option<SystemTime>,
    failure: String,
    /// The error last logged and when: a lasting failure is logged once a minute, not once
    /// per flush.
    logged: Option<(String, Instant)>,
}

impl Writer {
    fn new(
        conn: AnyConnection,
        url: &DatabaseUrl,
        settings: &DecisionLogConfig,
        shared: Arc<Shared>,
    ) -> Self {
        Self {
            conn: Some(conn),
            url: url.clone(),
            settings: settings.clone(),
            shared,
            started: Instant::now(),
            last_prune: None,
            failed: 0,
            failed_since: None,
            failure: String::new(),
            logged: None,
        }
    }

    fn run(&mut self, receiver: mpsc::Receiver<Message>) {
        let every = Duration::from_millis(self.settings.flush_ms);
        let mut open = true;
        while open {
            let (mut flushes, mut prunes) = (Vec::new(), Vec::new());
            match receiver.recv_timeout(every) {
                Ok(Message::Flush(answer)) => flushes.push(answer),
                Ok(Message::Prune(answer)) => prunes.push(answer),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            let prune = !prunes.is_empty() || self.prune_due();
            let batch = self.take_buffered();
            let (taken, first) = (batch.len() as u64, batch.first().map(|p| p.at));
            let full = self.shared.lost.swap(0, Ordering::Relaxed);
            // A bug here must not stop the log for good: the iteration fails (what it held is
            // counted as lost), the next runs.
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let written = self.write(batch, full);
                let pruned = if prune { self.prune() } else { Ok(()) };
                (written, pruned)
            }));
            let (written, pruned) = outcome.unwrap_or_else(|_| {
                let why = "the decision log's writer panicked".to_owned();
                self.failed += taken;
                self.shared.lost.fetch_add(full, Ordering::Relaxed);
                self.failed_since = self.failed_since.or(first);
                self.failure = why.clone();
                self.conn = None;
                (Err(why), Ok(()))
            });
            self.report(written.clone().and(pruned.clone()));
            for answer in flushes {
                let _ = answer.send(written.clone());
            }
            for answer in prunes {
                let _ = answer.send(written.clone().and(pruned.clone()));
            }
        }
        // No later write will carry these counts: say them where someone may see them.
        let unrecorded = self.shared.lost.load(Ordering::Relaxed) + self.failed;
        if unrecorded > 0 {
            let why = if self.failure.is_empty() {
                "a thread's buffer was full".to_owned()
            } else {
                self.failure.clone()
            };
            let text = format!(
                "rowguard: {unrecorded} decision(s) could not be recorded in \
                 authorization_decisions: {why}"
            );
            tracing::error!("{text}");
            eprintln!("{text}");
        }
    }

    /// Logs a failure once a minute while it lasts, and its end.
    fn report(&mut self, result: Result<(), String>) {
        match (result, &self.logged) {
            (Ok(()), Some(_)) => {
                tracing::info!("rowguard: the decision log writes again");
                self.logged = None;
            }
            (Ok(()), None) => {}
            (Err(e), Some((last, at))) if *last == e && at.elapsed() < PRUNE_EVERY => {}
            (Err(e), _) => {
                tracing::error!("rowguard: the decision log could not write: {e}");
                self.logged = Some((e, Instant::now()));
            }
        }
    }

    /// Every thread's records, in the order they were made; buffers of threads that have
    /// ended are dropped once empty.
    fn take_buffered(&self) -> Vec<Pending> {
        let mut batch = Vec::new();
        let mut all = self
            .shared
            .buffers
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        for buffer in all.iter() {
            let mut records = buffer.lock().unwrap_or_else(|e| e.into_inner());
            batch.append(&mut records);
        }
        all.retain(|b| Arc::strong_count(b) > 1);
        drop(all);
        batch.sort_by_key(|p| p.at);
        batch
    }

    fn connection(&mut self) -> Result<&mut AnyConnection, String> {
        if self.conn.is_none() {
            self.conn = Some(establish(&self.url).map_err(|e| e.to_string())?);
        }
        self.conn
            .as_mut()
            .ok_or_else(|| "no connection".to_string())
    }

    /// Inserts `rows` in one statement.
    fn insert_rows(&mut self, rows: &[NewDecision]) -> Result<(), String> {
        let conn = self.connection()?;
        insert(conn, rows).map_err(|e| one_line(&e.to_string()))
    }

    /// Whether the connection still answers (else it is dropped, to reconnect next time).
    fn alive(&mut self) -> bool {
        let alive = self
            .connection()
            .is_ok_and(|c| diesel::sql_query("SELECT 1").execute(c).is_ok());
        if !alive {
            self.conn = None;
        }
        alive
    }

    /// Writes `batch` a chunk per statement, rendered chunk by chunk. A chunk that fails is
    /// written row by row (one bad record must not take the others with it); what still
    /// fails is counted, with why, and written as a `lost` row with the next write that
    /// succeeds, like decisions a full buffer refused.
    fn write(&mut self, batch: Vec<Pending>, full: u64) -> Result<(), String> {
        let mut error: Option<String> = None;
        for chunk in batch.chunks(self.settings.batch) {
            let rows: Vec<NewDecision> = chunk.iter().map(NewDecision::of).collect();
            let Err(e) = self.insert_rows(&rows) else {
                continue;
            };
            let mut failed: Vec<&Pending> = Vec::new();
            // Row by row only where a row may be at fault: a lock or a timeout would make
            // each row wait as long as the chunk did.
            if !transient(&e) && self.alive() {
                for (row, pending) in rows.iter().zip(chunk) {
                    if self.insert_rows(std::slice::from_ref(row)).is_err() {
                        failed.push(pending);
                    }
                }
            } else {
                failed.extend(chunk);
            }
            if let Some(first) = failed.first() {
                self.failed += failed.len() as u64;
                self.failed_since = self.failed_since.min(Some(first.at)).or(Some(first.at));
                self.failure = format!("writing them failed: {e}");
                error.get_or_insert(e);
            }
        }
        let mut lost = Vec::new();
        if full > 0 {
            lost.push(NewDecision::lost(
                full,
                SystemTime::now(),
                "a thread's buffer was full",
            ));
        }
        if self.failed > 0 {
            let since = self.failed_since.unwrap_or_else(SystemTime::now);
            lost.push(NewDecision::lost(self.failed, since, &self.failure));
        }
        if !lost.is_empty() {
            match self.insert_rows(&lost) {
                Ok(()) => {
                    self.failed = 0;
                    self.failed_since = None;
                }
                Err(e) => {
                    self.shared.lost.fetch_add(full, Ordering::Relaxed);
                    self.conn = None;
                    error.get_or_insert(e);
                }
            }
        }
        error.map_or(Ok(()), Err)
    }

    /// The periodic retention runs once a minute in a process that has logged for a minute;
    /// a short command (one `jobs run`) never prunes what a long-running service keeps.
    fn prune_due(&self) -> bool {
        self.started.elapsed() >= PRUNE_EVERY
            && self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY)
    }

    /// Deletes decisions past the retention limit, a chunk per statement, by the limit's own
    /// test (never by an id range an odd row could widen).
    fn prune(&mut self) -> Result<(), String> {
        self.last_prune = Some(Instant::now());
        let (days, max_rows) = (self.settings.retention_days, self.settings.max_rows);
        if days > 0 {
            let oldest_kept = Utc::now()
                .naive_utc()
                .checked_sub_signed(chrono::Duration::days(days as i64));
            if let Some(oldest_kept) = oldest_kept {
                // In the time index's order, so that the index finds them (by id, SQLite
                // read the whole table).
                self.delete_while(|conn| {
                    decisions::table
                        .filter(decisions::decided_at.lt(oldest_kept))
                        .select(decisions::id)
                        .order(decisions::decided_at)
                        .limit(PRUNE_CHUNK)
                        .load::<i64>(conn)
                })?;
            }
        }
        let max_rows = i64::try_from(max_rows).unwrap_or(i64::MAX);
        if max_rows > 0 {
            let conn = self.connection()?;
            // Ids span no more than the limit: nothing to count (the offset below reads
            // that many index entries).
            let (low, high): (Option<i64>, Option<i64>) = decisions::table
                .select((
                    diesel::dsl::min(decisions::id),
                    diesel::dsl::max(decisions::id),
                ))
                .first(conn)
                .map_err(|e| e.to_string())?;
            if let (Some(low), Some(high)) = (low, high) {
                if high.saturating_sub(low) < max_rows {
                    return Ok(());
                }
            }
            // The newest row beyond the limit: it and everything older go.
            let beyond: Option<i64> = decisions::table
                .select(decisions::id)
                .order(decisions::id.desc())
                .offset(max_rows)
                .limit(1)
                .first(conn)
                .optional()
                .map_err(|e| e.to_string())?;
            if let Some(beyond) = beyond {
                self.delete_while(|conn| {
                    decisions::table
                        .filter(decisions::id.le(beyond))
                        .select(decisions::id)
                        .order(decisions::id)
                        .limit(PRUNE_CHUNK)
                        .load::<i64>(conn)
                })?;
            }
        }
        Ok(())
    }

    /// Deletes the rows `ids` selects, a chunk at a time, until it selects none.
    fn delete_while(
        &mut self,
        ids: impl Fn(&mut AnyConnection) -> diesel::QueryResult<Vec<i64>>,
    ) -> Result<(), String> {
        let conn = self.connection()?;
        loop {
            let chunk = ids(conn).map_err(|e| e.to_string())?;
            if chunk.is_empty() {
                return Ok(());
            }
            diesel::delete(decisions::table.filter(decisions::id.eq_any(&chunk)))
                .execute(conn)
                .map_err(|e| e.to_string())?;
            if (chunk.len() as i64) < PRUNE_CHUNK {
                return Ok(());
            }
        }
    }
}

/// Whether a failed write failed for a reason no single row caused (a lock, a timeout).
fn transient(error: &str) -> bool {
    let e = error.to_ascii_lowercase();
    [
        "locked",
        "lock wait",
        "deadlock",
        "timeout",
        "timed out",
        "busy",
    ]
    .iter()
    .any(|w| e.contains(w))
}

/// The first line of an error, at most 300 characters.
fn one_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(300).collect()
}

fn insert(conn: &mut AnyConnection, rows: &[NewDecision]) -> diesel::QueryResult<()> {
    let query = diesel::insert_into(decisions::table).values(rows);
    on_backend!(conn, c => query.execute(c))?;
    Ok(())
}

/// A decision as inserted.
#[derive(Insertable)]
#[diesel(table_name = decisions)]
struct NewDecision {
    decided_at: NaiveDateTime,
    subject: String,
    model: String,
    action: String,
    kind: String,
    row_key: Option<String>,
    decision: String,
    reason: String,
    rules: String,
    sampled: f64,
    count: i64,
}

impl NewDecision {
    fn of(p: &Pending) -> Self {
        Self {
            decided_at: utc(p.at),
            subject: text(subject_json(&p.subject, p.reason == Reason::AbsoluteRights)),
            model: text(p.model_name().to_owned()),
            action: p.right.key().to_owned(),
            kind: p.kind.as_str().to_owned(),
            row_key: p
                .key
                .as_ref()
                .filter(|k| !k.is_null())
                .map(|k| text(key_text(k))),
            decision: if p.allowed { "allowed" } else { "denied" }.to_owned(),
            reason: text(p.reason.text(p.right).into_owned()),
            rules: rules_json(&p.deciding),
            sampled: p.sampled,
            count: p.count as i64,
        }
    }

    /// A row standing for `count` decisions that were not recorded, the first made at `at`.
    fn lost(count: u64, at: SystemTime, why: &str) -> Self {
        let what = if count == 1 {
            "1 decision was".to_owned()
        } else {
            format!("{count} decisions were")
        };
        Self {
            decided_at: utc(at),
            subject: "{}".into(),
            model: String::new(),
            action: String::new(),
            kind: "lost".into(),
            row_key: None,
            decision: "lost".into(),
            reason: text(format!("{what} not recorded: {why}")),
            rules: "[]".into(),
            sampled: 1.0,
            count: count as i64,
        }
    }
}

/// Text any backend stores: PostgreSQL's text cannot hold NUL, which a row key or an
/// attribute may contain.
fn text(s: String) -> String {
    if s.contains('\0') {
        s.replace('\0', "\u{fffd}")
    } else {
        s
    }
}

/// The time in UTC, to the microsecond (what PostgreSQL and MySQL keep; SQLite the same).
fn utc(at: SystemTime) -> NaiveDateTime {
    let t = DateTime::<Utc>::from(at).naive_utc();
    t.with_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t)
}
