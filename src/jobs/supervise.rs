//! Supervising one started job: its output readers, its timeout and signal escalation, and
//! recording how it ended.

use std::io::Read;
use std::process::Child;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use nix::sys::signal::Signal;

use super::model::{job_executions as jobs, JobStatus};
use super::output_log::OutputLog;
use super::process;
use super::runner::{lock, now, Inner};
use super::{JobError, JobsConfig};
use crate::AnyConnection;

/// A job this instance is running.
pub(super) struct Running {
    pub(super) uuid: String,
    pub(super) pid: i32,
    /// The main process has exited (descendants may still run).
    pub(super) exited: AtomicBool,
    pub(super) kill_by: Mutex<Option<String>>,
    pub(super) timed_out: AtomicBool,
    /// Where the escalation's steps are written as they happen, for whoever follows the
    /// output.
    pub(super) log: Arc<OutputLog>,
    /// Escalations under way: the end is recorded after their steps are written.
    pub(super) escalations: Mutex<Vec<JoinHandle<()>>>,
}

impl Running {
    /// The job's process group, while its leader has not been reaped (after that the id
    /// may be reused by an unrelated group, so it is no longer signalled).
    pub(super) fn group(&self) -> Option<i32> {
        (!self.exited.load(Ordering::Acquire) || process::group_exists(self.pid))
            .then_some(self.pid)
    }

    /// Whether any process of the job is still alive.
    pub(super) fn alive(&self) -> bool {
        self.group().is_some() || !process::marked_processes(&self.uuid).is_empty()
    }
}

/// How long, after the job's tracked processes are gone on a kill or timeout, the runner
/// waits for its output pipes to close before it stops reading them.
pub(super) const PIPE_GRACE: Duration = Duration::from_secs(2);

/// A job's end, as it is recorded (kept and retried by the watcher if the database refuses).
#[derive(Debug, Clone)]
pub(super) struct Finish {
    pub(super) uuid: String,
    pub(super) outcome: JobStatus,
    pub(super) code: Option<i32>,
    pub(super) killed_by: Option<String>,
}

impl Finish {
    /// Records the job's end. Only a row still `running` is changed: if another instance
    /// already marked the job failed (this one stopped heartbeating meanwhile), that verdict
    /// stands.
    pub(super) fn record(&self, conn: &mut AnyConnection) -> Result<(), JobError> {
        diesel::update(
            jobs::table
                .find(&self.uuid)
                .filter(jobs::status.eq(JobStatus::Running)),
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
pub(super) fn escalate(job: Arc<Running>, config: &JobsConfig) {
    let delays = [0, config.sigterm_after_ms, config.sigkill_after_ms];
    let running = job.clone();
    let handle = thread::spawn(move || {
        // Each step is said after its signal, by a writer of its own: storing may wait for
        // the database, the next signal must not. The writer keeps their order, and this
        // thread ends only once they are stored (see `Running::escalations`).
        let (say, said) = std::sync::mpsc::channel::<String>();
        let log = job.log.clone();
        let writer = thread::spawn(move || {
            for line in said {
                log.note(&line);
            }
        });
        signal_in_turn(&job, delays, &say);
        drop(say);
        let _ = writer.join();
    });
    lock(&running.escalations).push(handle);
}

/// The escalation's signals, each after its delay while any process of the job lives (each
/// said on `say` once sent); then SIGKILL until none is left.
fn signal_in_turn(job: &Running, delays: [u64; 3], say: &std::sync::mpsc::Sender<String>) {
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
        let waited = if delay == 0 {
            String::new()
        } else {
            format!(" ({delay} ms later, the job still running)")
        };
        let _ = say.send(format!("[rowguard] sent {}{waited}", signal.as_str()));
    }
    while job.alive() {
        thread::sleep(Duration::from_millis(50));
        process::signal_all(job.group(), &job.uuid, Signal::SIGKILL);
    }
}

/// Reads `child`'s output into `log` and, on a thread of its own, waits for the job to end
/// (enforcing `timeout` with escalation), then records the end; an end that cannot be
/// recorded yet is left to the watcher to retry.
pub(super) fn supervise(
    inner: Arc<Inner>,
    mut child: Child,
    running: Arc<Running>,
    log: Arc<OutputLog>,
    timeout: Option<Duration>,
) {
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

    let job = running.uuid.clone();
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
                "OUTPUT STILL HELD OPEN BY A PROCESS OUTSIDE THE JOB'S TRACKING; STOPPED READING",
            );
        } else {
            for reader in readers {
                let _ = reader.join();
            }
        }
        // The escalation's steps come before the end in the output.
        let escalations: Vec<JoinHandle<()>> = lock(&running.escalations).drain(..).collect();
        for escalation in escalations {
            let _ = escalation.join();
        }
        lock(&inner.running).remove(&job);
        if inner.abandoned.load(Ordering::Acquire) {
            return;
        }
        let killed_by = lock(&running.kill_by).clone();
        log.report_losses();
        let at = now().format("%Y-%m-%d %H:%M:%S");
        let code = exit.and_then(|e| e.code());
        let (outcome, code, line) = match &killed_by {
            Some(user) => (
                JobStatus::Killed,
                None,
                Some(format!("PROCESS KILLED BY {user} AT {at}")),
            ),
            None if running.timed_out.load(Ordering::Acquire) => (
                JobStatus::TimedOut,
                None,
                Some(format!("TIMED OUT AT {at}")),
            ),
            None if code == Some(0) => (JobStatus::Completed, code, None),
            None => (JobStatus::Failed, code, None),
        };
        if let Some(line) = line {
            log.note(&line);
        }
        let end = Finish {
            uuid: job,
            outcome,
            code,
            killed_by,
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
}
