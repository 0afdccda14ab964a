//! A job's output as stored: raw bytes at byte offsets, per stream, capped, with retries
//! and a report of anything that could not be stored.

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use diesel::prelude::*;

use super::model::job_output;
use super::runner::lock;
use super::JobError;
use crate::{AnyConnection, Pool};

/// A job's output as it is stored: raw bytes with offsets in the raw stream, up to a cap.
pub(super) struct OutputLog {
    pub(super) pool: Pool,
    pub(super) uuid: String,
    pub(super) limit: u64,
    pub(super) state: Mutex<OutputState>,
}

#[derive(Default)]
pub(super) struct OutputState {
    /// Offset of the next byte in the job's combined output (stored or not).
    pub(super) offset: i64,
    /// Bytes of the programs' output stored so far.
    pub(super) stored: u64,
    pub(super) truncated: bool,
    /// Bytes that could not be stored, and the last reason.
    pub(super) lost: u64,
    pub(super) last_error: Option<String>,
    /// The job has ended: late bytes (from a process that escaped the kill) are dropped.
    pub(super) closed: bool,
    /// The last byte stored was not a newline.
    pub(super) mid_line: bool,
}

/// Attempts per chunk before its bytes are counted as lost.
pub(super) const STORE_ATTEMPTS: u32 = 5;

impl OutputLog {
    /// Appends the program's bytes from `stream`, up to the limit; past it, one line says
    /// so and the rest is dropped.
    pub(super) fn program(&self, stream: &str, bytes: &[u8]) {
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

    /// Appends a line of rowguard's own (never truncated), on a line of its own.
    pub(super) fn note(&self, line: &str) {
        let mut state = lock(&self.state);
        let text = if state.mid_line {
            format!("\n{line}\n")
        } else {
            format!("{line}\n")
        };
        self.store(&mut state, "rowguard", text.as_bytes());
    }

    /// Stores one chunk, retrying; bytes that cannot be stored are counted, and reported at
    /// the end of the job ([`OutputLog::report_losses`]), never dropped silently.
    pub(super) fn store(&self, state: &mut OutputState, stream: &str, bytes: &[u8]) {
        if let Some(last) = bytes.last() {
            state.mid_line = *last != b'\n';
        }
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
    pub(super) fn close(&self) {
        lock(&self.state).closed = true;
    }

    pub(super) fn report_losses(&self) {
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

/// Stores one chunk of raw output at `offset`.
pub(super) fn append_on(
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

pub(super) fn end_offset(conn: &mut AnyConnection, uuid: &str) -> Result<i64, JobError> {
    let last: Option<(i64, Vec<u8>)> = job_output::table
        .filter(job_output::job_uuid.eq(uuid))
        .order(job_output::byte_offset.desc())
        .select((job_output::byte_offset, job_output::chunk))
        .first(conn)
        .optional()?;
    Ok(last.map_or(0, |(o, c)| o + c.len() as i64))
}
