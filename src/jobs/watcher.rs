//! The watcher of one instance: heartbeats for its running jobs, kill requests, retries of
//! ends not yet recorded, and failing the jobs of instances that stopped heartbeating.

use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use chrono::NaiveDateTime;
use diesel::prelude::*;
use nix::sys::signal::Signal;

use super::model::{job_executions as jobs, JobStatus};
use super::output_log::{append_on, end_offset};
use super::process;
use super::runner::{lock, now, Inner};
use super::supervise::{escalate, Finish};
use super::JobError;
use crate::AnyConnection;

pub(super) fn watch(inner: &Inner) {
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
pub(super) fn fail_unheartbeated_jobs_of_this_instance(
    conn: &mut AnyConnection,
    inner: &Inner,
    cutoff: NaiveDateTime,
) -> Result<(), JobError> {
    let me = &inner.instance_id;
    let stale: Vec<String> = jobs::table
        .filter(jobs::instance_id.eq(me))
        .filter(jobs::status.eq(JobStatus::Running))
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

pub(super) fn watch_once(inner: &Inner) -> Result<(), JobError> {
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
                .filter(jobs::status.eq(JobStatus::Running))
                .filter(jobs::uuid.eq_any(&alive)),
        )
        .set(jobs::last_heartbeat.eq(now()))
        .execute(&mut conn)?;
    }
    let kills: Vec<(String, Option<String>)> = jobs::table
        .filter(jobs::instance_id.eq(me))
        .filter(jobs::status.eq(JobStatus::Running))
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
        .filter(jobs::status.eq(JobStatus::Running))
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
pub(super) fn mark_failed_if_stale(
    conn: &mut AnyConnection,
    uuid: &str,
    cutoff: NaiveDateTime,
    reason: impl FnOnce() -> String,
) -> Result<bool, JobError> {
    conn.transaction(|conn| {
        let claimed = diesel::update(
            jobs::table
                .find(uuid)
                .filter(jobs::status.eq(JobStatus::Running))
                .filter(jobs::last_heartbeat.lt(cutoff)),
        )
        .set((
            jobs::status.eq(JobStatus::Failed),
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
