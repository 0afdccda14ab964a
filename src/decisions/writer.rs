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

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::read::authorization_decisions as decisions;
use super::record::{key_text, rules_json, subject_json, Pending};
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
    /// Write what came before, apply the retention limit, then answer.
    Flush(mpsc::Sender<Result<(), String>>),
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
        let mut writer = Writer {
            conn: Some(conn),
            url: url.clone(),
            settings: settings.clone(),
            shared: shared.clone(),
            last_prune: None,
        };
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
        let room = LOCAL.with(|local| {
            let local = local.borrow();
            let mine = local
                .iter()
                .find(|(log, _)| std::ptr::eq(log.as_ptr(), Arc::as_ptr(shared)));
            match mine {
                Some((_, buffer)) => buffer.lock().is_ok_and(|r| r.len() < shared.capacity),
                None => true,
            }
        });
        if !room {
            shared.lost.fetch_add(1, Ordering::Relaxed);
        }
        room
    }

    /// Appends a record to this thread's buffer; never waits on the writer (a full buffer
    /// counts the record as lost).
    pub(crate) fn push(&self, pending: Pending) {
        let shared = &self.shared;
        LOCAL.with(|local| {
            let mut local = local.borrow_mut();
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
                    if let Ok(mut all) = shared.buffers.lock() {
                        all.push(buffer.clone());
                    }
                    local.push((Arc::downgrade(shared), buffer));
                    local.len() - 1
                }
            };
            let kept = match local[index].1.lock() {
                Ok(mut records) if records.len() < shared.capacity => {
                    records.push(pending);
                    true
                }
                _ => false,
            };
            if !kept {
                shared.lost.fetch_add(1, Ordering::Relaxed);
            }
        });
    }

    /// Writes every decision recorded before this call and applies the retention limit.
    pub(crate) fn flush(&self) -> Result<(), DecisionError> {
        let Some(control) = &self.control else {
            return Ok(());
        };
        let (answer, done) = mpsc::channel();
        control
            .send(Message::Flush(answer))
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
    last_prune: Option<Instant>,
}

impl Writer {
    fn run(&mut self, receiver: mpsc::Receiver<Message>) {
        let every = Duration::from_millis(self.settings.flush_ms);
        if let Err(e) = self.prune() {
            tracing::error!("rowguard: the decision log's retention failed: {e}");
        }
        let mut open = true;
        while open {
            let mut answers = Vec::new();
            match receiver.recv_timeout(every) {
                Ok(Message::Flush(answer)) => answers.push(answer),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            let mut batch = self.take_buffered();
            let written = self.write(&mut batch);
            let pruned = if !answers.is_empty() || self.prune_due() {
                self.prune()
            } else {
                Ok(())
            };
            let result = written.and(pruned);
            if let Err(e) = &result {
                tracing::error!("rowguard: the decision log could not write: {e}");
            }
            for answer in answers {
                let _ = answer.send(result.clone());
            }
        }
    }

    /// Every thread's records, in the order each thread made them; buffers of threads that
    /// have ended are dropped once empty.
    fn take_buffered(&self) -> Vec<Pending> {
        let mut batch = Vec::new();
        if let Ok(mut all) = self.shared.buffers.lock() {
            for buffer in all.iter() {
                if let Ok(mut records) = buffer.lock() {
                    batch.append(&mut records);
                }
            }
            all.retain(|b| Arc::strong_count(b) > 1);
        }
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

    /// Writes `batch` (emptied) and a `lost` row for decisions the queue had no room for. A
    /// failed write counts its decisions as lost, to be recorded with the next write.
    fn write(&mut self, batch: &mut Vec<Pending>) -> Result<(), String> {
        let lost = self.shared.lost.swap(0, Ordering::Relaxed);
        if batch.is_empty() && lost == 0 {
            return Ok(());
        }
        let mut rows: Vec<NewDecision> = batch.drain(..).map(|p| NewDecision::of(&p)).collect();
        if lost > 0 {
            rows.push(NewDecision::lost(lost));
        }
        let size = self.settings.batch;
        let result = self.connection().and_then(|conn| {
            conn.transaction(|conn| {
                for chunk in rows.chunks(size) {
                    insert(conn, chunk)?;
                }
                Ok::<_, diesel::result::Error>(())
            })
            .map_err(|e| e.to_string())
        });
        if result.is_err() {
            self.conn = None;
            let count = rows.iter().map(|r| r.count as u64).sum::<u64>();
            self.shared.lost.fetch_add(count, Ordering::Relaxed);
        }
        result
    }

    fn prune_due(&self) -> bool {
        self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY)
    }

    /// Deletes decisions past the retention limit, a chunk per statement.
    fn prune(&mut self) -> Result<(), String> {
        self.last_prune = Some(Instant::now());
        let (days, max_rows) = (self.settings.retention_days, self.settings.max_rows);
        if days == 0 && max_rows == 0 {
            return Ok(());
        }
        let conn = self.connection()?;
        let mut cut: Option<i64> = None;
        if days > 0 {
            let oldest_kept = Utc::now().naive_utc() - chrono::Duration::days(days as i64);
            let old: Option<i64> = decisions::table
                .filter(decisions::decided_at.lt(oldest_kept))
                .select(diesel::dsl::max(decisions::id))
                .first(conn)
                .map_err(|e| e.to_string())?;
            cut = cut.max(old);
        }
        if max_rows > 0 {
            let newest: Option<i64> = decisions::table
                .select(diesel::dsl::max(decisions::id))
                .first(conn)
                .map_err(|e| e.to_string())?;
            if let Some(newest) = newest {
                cut = cut.max(Some(newest - max_rows as i64)).filter(|c| *c > 0);
            }
        }
        let Some(cut) = cut else { return Ok(()) };
        loop {
            let first: Option<i64> = decisions::table
                .select(diesel::dsl::min(decisions::id))
                .first(conn)
                .map_err(|e| e.to_string())?;
            let Some(first) = first.filter(|f| *f <= cut) else {
                return Ok(());
            };
            let upto = cut.min(first + PRUNE_CHUNK - 1);
            diesel::delete(decisions::table.filter(decisions::id.le(upto)))
                .execute(conn)
                .map_err(|e| e.to_string())?;
        }
    }
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
            subject: subject_json(&p.subject),
            model: p.model_name().to_owned(),
            action: p.right.key().to_owned(),
            kind: p.kind.as_str().to_owned(),
            row_key: p.key.as_ref().filter(|k| !k.is_null()).map(key_text),
            decision: if p.allowed { "allowed" } else { "denied" }.to_owned(),
            reason: p.reason.text(p.right).into_owned(),
            rules: rules_json(&p.deciding),
            sampled: p.sampled,
            count: p.count as i64,
        }
    }

    fn lost(count: u64) -> Self {
        Self {
            decided_at: utc(SystemTime::now()),
            subject: "{}".into(),
            model: String::new(),
            action: String::new(),
            kind: "lost".into(),
            row_key: None,
            decision: "lost".into(),
            reason: format!(
                "{count} decisions were not recorded: a buffer was full or a write failed"
            ),
            rules: "[]".into(),
            sampled: 1.0,
            count: count as i64,
        }
    }
}

fn utc(at: SystemTime) -> NaiveDateTime {
    DateTime::<Utc>::from(at).naive_utc()
}
