//! Reading jobs and asking for kills: every call goes through the job model's rules.

use std::io::Write;
use std::time::Duration;

use diesel::prelude::*;

use super::model::{job_executions as jobs, job_output, JobExecution, JobStatus, OutputChunk};
use super::runner::{now, user_of};
use super::JobError;
use crate::decisions::Kind;
use crate::rules::{Right, Value};
use crate::{AnyConnection, Error, Guard};

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
        match guard.find::<JobExecution>(conn, uuid.to_owned()) {
            Ok(job) => job,
            Err(e) => {
                // A kill of a job the subject cannot see is a refused update (if it exists).
                guard.note_outcome::<JobExecution>(
                    conn,
                    Kind::Write,
                    Right::Update,
                    Some(Value::from(uuid)),
                    None,
                    Err(&e),
                    None,
                );
                return Err(e.into());
            }
        }
    };
    if job.status != JobStatus::Running {
        return Err(JobError::NotRunning {
            uuid: job.uuid,
            status: job.status,
        });
    }
    if let Some(by) = job.kill_requested_by {
        return Err(JobError::KillInProgress { uuid: job.uuid, by });
    }
    if !is_super {
        if !guard.can(conn, Right::Update, &job)? {
            return Err(Error::Forbidden {
                action: Right::Update,
                model: "job_executions".into(),
            }
            .into());
        }
        // The write below sets exactly these; the rules' column list must allow them.
        guard.check_columns::<JobExecution>(conn, Right::Update, &super::model::KILL_COLUMNS)?;
    }
    let requested = diesel::update(
        jobs::table
            .find(uuid)
            .filter(jobs::status.eq(JobStatus::Running))
            .filter(jobs::kill_requested_by.is_null()),
    )
    .set((
        jobs::kill_requested_by.eq(Some(&user)),
        jobs::kill_requested_at.eq(Some(now())),
    ))
    .execute(conn)?;
    if requested == 1 {
        // The rules decided a non-super user's kill (the check above); a super user's, the
        // jobs configuration.
        let stated = is_super.then(|| {
            "a super user of the jobs ([jobs] super_users, or the service's jobs.kill.any) \
             may kill any job"
                .to_owned()
        });
        guard.note_outcome::<JobExecution>(
            conn,
            Kind::Write,
            Right::Update,
            Some(Value::from(uuid)),
            Some(&job),
            Ok(1),
            stated,
        );
    }
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
    output_page(conn, guard, uuid, from, None)
}

/// [`output`], at most `max_chunks` stored chunks of it (plus the part of the chunk that
/// holds `from`): what a follower reads per poll, so that a long output is not read whole
/// on every poll. Read on from the last chunk's [`OutputChunk::end`].
pub fn output_page(
    conn: &mut AnyConnection,
    guard: &Guard,
    uuid: &str,
    from: i64,
    max_chunks: Option<i64>,
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
    let rest = job_output::table
        .filter(job_output::job_uuid.eq(uuid))
        .filter(job_output::byte_offset.ge(from))
        .order(job_output::byte_offset)
        .select(columns);
    chunks.extend(match max_chunks {
        Some(n) => rest.limit(n).load::<OutputChunk>(conn)?,
        None => rest.load::<OutputChunk>(conn)?,
    });
    Ok((job, chunks))
}

/// Writes job `uuid`'s output from byte `from` to `out` as it arrives, polling every
/// `poll`, until the job has ended and everything is written; returns the final row. What
/// `cargo xtask jobs run --follow` and `jobs output --follow` print.
pub fn follow(
    conn: &mut AnyConnection,
    guard: &Guard,
    uuid: &str,
    mut from: i64,
    out: &mut impl Write,
    poll: Duration,
) -> Result<JobExecution, JobError> {
    loop {
        let (job, chunks) = output(conn, guard, uuid, from)?;
        for c in &chunks {
            out.write_all(&c.chunk).map_err(JobError::Output)?;
            from = c.end();
        }
        out.flush().map_err(JobError::Output)?;
        if job.status != JobStatus::Running && chunks.is_empty() {
            return Ok(job);
        }
        if chunks.is_empty() {
            std::thread::sleep(poll);
        }
    }
}
