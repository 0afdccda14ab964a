//! The runner of one instance: checks and starts jobs (argv only, their own process group)
//! and waits for them. Each started job is supervised by `supervise`; the instance's
//! heartbeats, kill requests and dead-instance checks are the `watcher`'s.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use chrono::{NaiveDateTime, Utc};
use diesel::prelude::*;

use super::model::{job_executions as jobs, JobExecution, JobStatus};
use super::output_log::{OutputLog, OutputState};
use super::process;
use super::queries::{output, request_kill};
use super::supervise::{supervise, Finish, Running};
use super::watcher::watch;
use super::{JobError, JobsConfig};
use crate::guard::{with_rbac, PolicyDecision, PolicyReason, ServiceResource};
use crate::{Authorizer, Guard, Pool};

pub(super) fn now() -> NaiveDateTime {
    Utc::now().naive_utc()
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
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

pub(super) struct Inner {
    /// Ends that could not be recorded yet; the watcher retries them.
    pub(super) unfinished: Mutex<Vec<Finish>>,
    pub(super) pool: Pool,
    pub(super) config: JobsConfig,
    pub(super) instance_id: String,
    pub(super) running: Mutex<HashMap<String, Arc<Running>>>,
    pub(super) stopped: AtomicBool,
    pub(super) abandoned: AtomicBool,
}

/// The job runner of one instance. Dropping it stops its watcher; jobs it started keep
/// running and are recorded until they end.
pub struct Runner {
    inner: Arc<Inner>,
    auth: Authorizer,
    rbac: crate::rbac::Rbac,
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
            rbac: crate::rbac::Rbac::new(auth.config()),
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

    /// The policies' say on `subject` starting `command`: `jobs:Run` on
    /// `arn:rowguard:jobs:<region>:<account>:command/<name>` ([`ServiceResource`]).
    pub fn run_decision(
        &self,
        conn: &mut dyn crate::db::StoreConnection,
        subject: &crate::Subject,
        command: &str,
    ) -> Result<PolicyDecision, JobError> {
        let resource = ServiceResource::new("jobs", "command", Some(command));
        Ok(self
            .auth
            .statements_decision(conn, subject, "jobs:Run", &resource)?)
    }

    /// Whether `subject` may start `command` (one of the configured commands): a policy
    /// statement on `jobs:Run` (see [`Runner::run_decision`]) or, where none speaks, a role
    /// holding the command's permission (defined in `rbac`).
    pub fn may_run(
        &self,
        conn: &mut dyn crate::db::StoreConnection,
        subject: &crate::Subject,
        rbac: &crate::rbac::RbacGraph,
        command: &str,
    ) -> Result<bool, JobError> {
        if !self.inner.config.commands.contains_key(command) {
            return Ok(false);
        }
        let rbac_allows = self.inner.config.roles_allow(command, subject, rbac);
        match self.run_decision(conn, subject, command) {
            Ok(decision) => Ok(with_rbac(rbac_allows, &decision)),
            // A name or subject that makes no ARN: listed as not runnable (start says why).
            Err(JobError::Guard(crate::Error::Policy(e))) => {
                tracing::warn!(
                    "rowguard: command \"{command}\" is not listed for the subject: {e}"
                );
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Starts `command` for the guard's subject and returns the job's uuid at once. Checked:
    /// the allow list, the subject's policies (`jobs:Run`) and roles, the parameters, and the
    /// create rule of `job_executions`; a refused start writes no row.
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
        let mut conn = self.inner.pool.get()?;
        let rbac = self.rbac.graph(&mut conn)?;
        // `jobs:Run` on the command's ARN: a policy's Deny refuses, its Allow grants,
        // otherwise the command's RBAC permission decides.
        let decision = self.run_decision(&mut conn, guard.subject(), command)?;
        match decision.reason {
            PolicyReason::Denied(_) | PolicyReason::Broken(_) => {
                return Err(JobError::PolicyDenied {
                    command: command.to_owned(),
                    decision: decision.to_string(),
                })
            }
            PolicyReason::Allowed(_) => {}
            PolicyReason::NoMatch | PolicyReason::Bypass(_) | PolicyReason::Roles(_) => {
                if !rbac.permissions().contains_key(&allowed.permission) {
                    return Err(JobError::UndefinedPermission {
                        command: command.to_owned(),
                        permission: allowed.permission.clone(),
                    });
                }
                if !allowed.allows(&rbac, &roles) {
                    return Err(JobError::RoleNotAllowed {
                        command: command.to_owned(),
                        permission: allowed.permission.clone(),
                        roles: roles.join(", "),
                    });
                }
            }
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
            status: JobStatus::Running,
            exit_code: None,
            started_at: started,
            finished_at: None,
            kill_requested_by: None,
            kill_requested_at: None,
            killed_by: None,
            last_heartbeat: started,
        };
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
        let child = match spawned {
            Ok(child) => child,
            Err(source) => {
                // The note takes a connection of its own: none may be held meanwhile.
                drop(conn);
                log.note(&format!("CANNOT START {}: {source}", allowed.program));
                let mut conn = self.inner.pool.get()?;
                Finish {
                    uuid: uuid.clone(),
                    outcome: JobStatus::Failed,
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
            log: log.clone(),
            escalations: Mutex::new(Vec::new()),
        });
        lock(&self.inner.running).insert(uuid.clone(), running.clone());

        let timeout = allowed.timeout_secs.map(Duration::from_secs);
        supervise(self.inner.clone(), child, running, log, timeout);
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
            if row.status != JobStatus::Running || Instant::now() >= deadline {
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

    /// Asks every job this instance is running to stop, as a kill requested by `by` (SIGINT,
    /// then SIGTERM and SIGKILL as configured), and waits up to `wait` for them to end;
    /// returns how many were running. What a server does before it exits, so that its jobs
    /// do not outlive it.
    pub fn stop_jobs(&self, by: &str, wait: Duration) -> Result<usize, JobError> {
        let alive: Vec<String> = lock(&self.inner.running).keys().cloned().collect();
        if alive.is_empty() {
            return Ok(0);
        }
        let mut conn = self.inner.pool.get()?;
        diesel::update(
            jobs::table
                .filter(jobs::uuid.eq_any(&alive))
                .filter(jobs::status.eq(JobStatus::Running))
                .filter(jobs::kill_requested_by.is_null()),
        )
        .set((
            jobs::kill_requested_by.eq(Some(by)),
            jobs::kill_requested_at.eq(Some(now())),
        ))
        .execute(&mut conn)?;
        drop(conn);
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && !lock(&self.inner.running).is_empty() {
            thread::sleep(Duration::from_millis(50));
        }
        Ok(alive.len())
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

pub(super) fn user_of(guard: &Guard) -> Result<String, JobError> {
    guard
        .subject()
        .attributes()
        .get("id")
        .and_then(|v| v.first())
        .cloned()
        .ok_or(JobError::NoUserIdentifier)
}
