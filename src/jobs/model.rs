//! The `job_executions` and `job_output` tables; `job_executions` is an authorizable model,
//! so who may start (create), see (read) and kill (update) a job is decided by rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

diesel::table! {
    /// One row per job.
    job_executions (uuid) {
        /// The job's id.
        uuid -> Text,
        /// The allowed command's name.
        command -> Text,
        /// The parameters given, JSON.
        parameters -> Text,
        /// Who started it (the subject's `id` attribute).
        user_identifier -> Text,
        /// The instance running it.
        instance_id -> Text,
        /// The process id (its process group id too).
        pid -> Nullable<BigInt>,
        /// running, completed, failed, killed, timed_out.
        status -> Text,
        /// The exit code, when it exited by itself.
        exit_code -> Nullable<Integer>,
        /// Start time (UTC).
        started_at -> Timestamp,
        /// End time (UTC).
        finished_at -> Nullable<Timestamp>,
        /// Who asked for a kill.
        kill_requested_by -> Nullable<Text>,
        /// When.
        kill_requested_at -> Nullable<Timestamp>,
        /// Who killed it (set when the kill is done).
        killed_by -> Nullable<Text>,
        /// Last sign of life from the running instance (UTC).
        last_heartbeat -> Timestamp,
    }
}

diesel::table! {
    /// Job output, in order, with byte offsets.
    job_output (id) {
        /// Row id.
        id -> BigInt,
        /// The job.
        job_uuid -> Text,
        /// Offset of the chunk's first byte in the job's output.
        byte_offset -> BigInt,
        /// stdout, stderr or rowguard (lines rowguard adds).
        stream -> Text,
        /// The bytes, as the program wrote them.
        chunk -> Binary,
    }
}

diesel::allow_tables_to_appear_in_same_query!(job_executions, job_output);

/// A job.
#[derive(Debug, Clone, PartialEq, Queryable, Insertable, AsChangeset)]
#[diesel(table_name = job_executions, primary_key(uuid), treat_none_as_null = true)]
pub struct JobExecution {
    /// The job's id.
    pub uuid: String,
    /// The allowed command's name.
    pub command: String,
    /// The parameters given, JSON.
    pub parameters: String,
    /// Who started it.
    pub user_identifier: String,
    /// The instance running it.
    pub instance_id: String,
    /// The process id.
    pub pid: Option<i64>,
    /// Running or how it ended.
    pub status: JobStatus,
    /// The exit code.
    pub exit_code: Option<i32>,
    /// Start time (UTC).
    pub started_at: NaiveDateTime,
    /// End time (UTC).
    pub finished_at: Option<NaiveDateTime>,
    /// Who asked for a kill.
    pub kill_requested_by: Option<String>,
    /// When.
    pub kill_requested_at: Option<NaiveDateTime>,
    /// Who killed it.
    pub killed_by: Option<String>,
    /// Last heartbeat (UTC).
    pub last_heartbeat: NaiveDateTime,
}

// Immutable through the guard: the runner alone writes a job's row after it starts; killing
// is its own operation (`request_kill`), which writes only the kill columns, and only when the
// subject's update columns include them. Every column is declared, so column lists can name
// any of them (and none escapes a list's checks).
crate::authorizable!(JobExecution => job_executions(uuid) {
    uuid, command, parameters, user_identifier, instance_id, pid, status, exit_code,
    started_at, finished_at, kill_requested_by, kill_requested_at, killed_by, last_heartbeat
} as "job_executions", immutable);

/// The columns killing a job writes (`request_kill`): the subject's `update` columns must
/// include both.
pub const KILL_COLUMNS: [&str; 2] = ["kill_requested_by", "kill_requested_at"];

/// A job's status, stored as text in `job_executions.status` (rules compare that text:
/// `{"status":"=running"}`).
///
/// ```
/// use rowguard::jobs::JobStatus;
/// assert_eq!(JobStatus::TimedOut.as_str(), "timed_out");
/// assert_eq!("killed".parse::<JobStatus>(), Ok(JobStatus::Killed));
/// assert!(JobStatus::Running.is_running() && !JobStatus::Failed.is_running());
/// assert!(JobStatus::Killed == "killed");
/// assert!("stopped".parse::<JobStatus>().unwrap_err().to_string().contains("stopped"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, diesel::AsExpression, diesel::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum JobStatus {
    /// Running on its instance.
    Running,
    /// Exited with code 0.
    Completed,
    /// Exited with another code, or its instance died.
    Failed,
    /// Killed on request.
    Killed,
    /// Ended by its timeout.
    TimedOut,
}

impl JobStatus {
    /// Every status.
    pub const ALL: [JobStatus; 5] = [
        JobStatus::Running,
        JobStatus::Completed,
        JobStatus::Failed,
        JobStatus::Killed,
        JobStatus::TimedOut,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Running => "running",
            JobStatus::Completed => "completed",
            JobStatus::Failed => "failed",
            JobStatus::Killed => "killed",
            JobStatus::TimedOut => "timed_out",
        }
    }

    /// Still running (every other status is final).
    pub fn is_running(self) -> bool {
        self == JobStatus::Running
    }
}

/// Compares with the stored text (`job.status == "running"`).
impl PartialEq<&str> for JobStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for JobStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A status text that is none of [`JobStatus`]'s (a row written by hand).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown job status {0:?} (expected running, completed, failed, killed or timed_out)")]
pub struct UnknownJobStatus(pub String);

impl std::str::FromStr for JobStatus {
    type Err = UnknownJobStatus;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        JobStatus::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| UnknownJobStatus(text.to_owned()))
    }
}

impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for JobStatus
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        self.as_str().to_sql(out)
    }
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for JobStatus
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        let text = String::from_sql(bytes)?;
        Ok(text.parse()?)
    }
}

impl crate::rules::AsValueRef for JobStatus {
    fn as_value_ref(&self) -> crate::rules::ValueRef<'_> {
        crate::rules::ValueRef::Text(self.as_str())
    }
}

/// A piece of a job's output.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct OutputChunk {
    /// Offset of the first byte in the job's raw output.
    pub byte_offset: i64,
    /// stdout, stderr or rowguard.
    pub stream: String,
    /// The bytes, as written (not necessarily UTF-8, and a character may be split between
    /// two chunks: decode the concatenation).
    pub chunk: Vec<u8>,
}

impl OutputChunk {
    /// The chunks' bytes, concatenated and decoded as UTF-8 (invalid sequences become
    /// U+FFFD): decoding the whole keeps a character split between chunks intact.
    pub fn text(chunks: &[OutputChunk]) -> String {
        let bytes: Vec<u8> = chunks
            .iter()
            .flat_map(|c| c.chunk.iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The offset just past this chunk: where the next read starts.
    pub fn end(&self) -> i64 {
        self.byte_offset + self.chunk.len() as i64
    }
}
