//! The log's writer: a thread of its own with a connection of its own. The request path only
//! hands a [`Pending`] record to a bounded queue (or counts it as lost when the queue is
//! full); the writer renders records, inserts them a batch per statement, and applies the
//! retention limit.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
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

enum Message {
    Decision(Box<Pending>),
    /// Write what came before, apply the retention limit, then answer.
    Flush(mpsc::Sender<Result<(), String>>),
}

/// A running decision log: the modes per right, the queue to its writer, and the writer.
/// Started by [`crate::Authorizer::log_decisions`]; dropping it (with the last clone of its
/// authorizer) writes what is queued and stops the writer.
pub struct DecisionLog {
    modes: [Mode; 4],
    sample: f64,
    sender: Option<SyncSender<Message>>,
    lost: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
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
        let (sender, receiver) = mpsc::sync_channel(settings.queue);
        let lost = Arc::new(AtomicU64::new(0));
        let mut writer = Writer {
            conn: Some(conn),
            url: url.clone(),
            settings: settings.clone(),
            lost: lost.clone(),
            last_prune: None,
        };
        let thread = std::thread::Builder::new()
            .name("rowguard-decisions".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| DecisionError::Writer(format!("cannot start the writer: {e}")))?;
        Ok(Self {
            modes: settings.modes(),
            sample: settings.sample,
            sender: Some(sender),
            lost,
            thread: Mutex::new(Some(thread)),
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

    /// Hands a record to the writer; never waits (a full queue counts it as lost).
    pub(crate) fn push(&self, pending: Pending) {
        let Some(sender) = &self.sender else { return };
        match sender.try_send(Message::Decision(Box::new(pending))) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes every decision handed over before this call and applies the retention limit.
    pub(crate) fn flush(&self) -> Result<(), DecisionError> {
        let Some(sender) = &self.sender else {
            return Ok(());
        };
        let (answer, done) = mpsc::channel();
        sender
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
        // Closing the queue tells the writer to write what is left and stop.
        self.sender.take();
        let thread = self.thread.lock().map(|mut t| t.take()).unwrap_or(None);
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

struct Writer {
    /// `None` after a failed write: reconnected before the next one.
    conn: Option<AnyConnection>,
    url: DatabaseUrl,
    settings: DecisionLogConfig,
    lost: Arc<AtomicU64>,
    last_prune: Option<Instant>,
}

impl Writer {
    fn run(&mut self, receiver: mpsc::Receiver<Message>) {
        let flush_every = Duration::from_millis(self.settings.flush_ms);
        let mut batch: Vec<Pending> = Vec::with_capacity(self.settings.batch);
        let mut open = true;
        if let Err(e) = self.prune() {
            tracing::error!("rowguard: the decision log's retention failed: {e}");
        }
        while open {
            let mut answers = Vec::new();
            // The first record of a batch waits as long as it takes (a periodic wake-up writes
            // lost counts and prunes); the rest at most until the first's deadline.
            let mut deadline: Option<Instant> = None;
            loop {
                let wait = match deadline {
                    Some(d) => d.saturating_duration_since(Instant::now()),
                    None => flush_every,
                };
                match receiver.recv_timeout(wait) {
                    Ok(Message::Decision(pending)) => {
                        batch.push(*pending);
                        deadline.get_or_insert_with(|| Instant::now() + flush_every);
                        if batch.len() >= self.settings.batch {
                            break;
                        }
                    }
                    Ok(Message::Flush(answer)) => {
                        answers.push(answer);
                        break;
                    }
                    Err(RecvTimeoutError::Timeout) => break,
                    Err(RecvTimeoutError::Disconnected) => {
                        open = false;
                        break;
                    }
                }
            }
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
        let lost = self.lost.swap(0, Ordering::Relaxed);
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
            self.lost.fetch_add(count, Ordering::Relaxed);
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
            model: p.model.to_string(),
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
                "{count} decisions were not recorded: the queue was full or a write failed"
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
