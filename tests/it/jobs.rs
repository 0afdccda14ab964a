//! Job execution with real processes, on every backend.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rowguard::jobs::{self, job_executions, JobError, JobStatus, JobsConfig, Runner};
use rowguard::testing::TestDatabase;
use rowguard::{store, Authorizer, Config, Error, Guard, Pool, PoolOptions, Subject};

rowguard::backend_tests!(
    policies_decide_who_runs_which_command,
    a_kill_needs_the_kill_columns,
    output_order_and_exit_codes,
    parameters_are_passed_literally,
    refused_starts_write_no_row,
    kill_escalates_to_sigkill,
    who_may_kill,
    a_kill_through_another_instance,
    a_dead_instance_is_noticed,
    a_timeout_ends_the_job,
    jobs_get_only_the_allowed_environment,
    a_kill_reaches_descendants_that_left_the_group,
    a_timeout_reaches_descendants_too,
    a_restarted_instance_fails_its_earlier_jobs,
    output_is_stored_losslessly_and_capped,
    job_reads_and_writes_go_through_the_guard,
    devops_kills_any_job,
    a_kill_ends_even_when_an_untracked_process_holds_the_output,
    two_live_runners_with_one_instance_id_leave_each_other_alone,
    a_program_that_cannot_start_fails_its_job,
    output_beyond_one_read_chunk_is_stored_whole_and_in_order,
    a_timeout_escalates_to_sigkill,
    shutdown_stops_the_watcher_and_running_jobs_still_finish,
    another_users_output_is_not_found,
);

const COMMANDS: &str = r#"{
  "greet":  {"program": "echo", "args": ["hello", "{name}"], "params": {"name": {"pattern": ".*"}}, "permission": "jobs.command.run"},
  "script": {"program": "sh", "args": ["-c", "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3"], "permission": "jobs.command.run"},
  "ok":     {"program": "sh", "args": ["-c", "echo fine"], "permission": "jobs.command.run"},
  "stubborn": {"program": "sh", "args": ["-c", "trap '' INT TERM; echo ready; while true; do sleep 0.05; done"], "permission": "jobs.command.run"},
  "sleeper": {"program": "sh", "args": ["-c", "echo up; exec sleep 30"], "permission": "jobs.command.run"},
  "slow":   {"program": "sh", "args": ["-c", "echo started; sleep 10"], "timeout_secs": 1, "permission": "jobs.command.run"},
  "ops":    {"program": "true", "permission": "jobs.ops"},
  "typo":   {"program": "true", "permission": "jobs.comand.run"},
  "env":    {"program": "env", "env": {"GREETING": "hi"}, "permission": "jobs.command.run"},
  "daemon": {"program": "sh", "args": ["-c", "setsid sleep 37 & echo ready"], "permission": "jobs.command.run"},
  "daemon_slow": {"program": "sh", "args": ["-c", "setsid sleep 38 & echo ready"], "timeout_secs": 1, "permission": "jobs.command.run"},
  "bytes":  {"program": "sh", "args": ["-c", "printf 'a\\000b\\377caf\\303'; sleep 0.2; printf '\\251!\\n'"], "permission": "jobs.command.run"},
  "escapee": {"program": "sh", "args": ["-c", "env -u RG_JOB_UUID setsid sleep {secs} & echo ready"], "params": {"secs": {"pattern": "[0-9.]+"}}, "permission": "jobs.command.run"},
  "flood":  {"program": "seq", "args": ["1", "200000"], "max_output_bytes": 1000, "permission": "jobs.command.run"},
  "missing": {"program": "/nonexistent/rowguard-no-such-program", "permission": "jobs.command.run"},
  "many":   {"program": "seq", "args": ["1", "60000"], "permission": "jobs.command.run"},
  "stubborn_slow": {"program": "sh", "args": ["-c", "trap '' INT TERM; echo ready; while true; do sleep 0.05; done"], "timeout_secs": 3, "permission": "jobs.command.run"},
  "brief":  {"program": "sh", "args": ["-c", "echo begun; sleep 3; echo done"], "permission": "jobs.command.run"}
}"#;

/// For the runner that should notice a dead instance (the other one is abandoned).
fn quick_to_notice() -> JobsConfig {
    JobsConfig {
        dead_after_ms: 700,
        ..config()
    }
}

fn config() -> JobsConfig {
    JobsConfig {
        commands: serde_json::from_str(COMMANDS).expect("commands"),
        super_users: vec!["root".into()],
        sigterm_after_ms: 300,
        sigkill_after_ms: 300,
        poll_interval_ms: 50,
        // Long enough that two live runners never take each other for dead on a loaded
        // machine; tests about dead instances shorten it for the runner that notices.
        dead_after_ms: 3_000,
        ..JobsConfig::default()
    }
}

struct Jobs {
    pool: Pool,
    auth: Authorizer,
}

fn setup(db: &TestDatabase) -> Jobs {
    let pool = db
        .pool(PoolOptions {
            max_size: 16,
            ..PoolOptions::default()
        })
        .expect("pool");
    let auth = Authorizer::new(Config::default());
    let mut conn = pool.get().unwrap();
    auth.register::<jobs::JobExecution>(&mut conn).unwrap();
    let rules = [
        (
            "support",
            r#"{"create":"*","read":"*","update":{"search":{"user_identifier":"=$subject.id"}}}"#,
        ),
        ("devops", r#"{"create":"*","read":"*","update":"*"}"#),
        ("viewer", r#"{"read":"*"}"#),
        (
            "statusonly",
            r#"{"create":"*","read":"*","update":"*","columns":{"update":["status"]}}"#,
        ),
        (
            "self",
            r#"{"create":"*","read":{"search":{"user_identifier":"=$subject.id"}},"update":{"search":{"user_identifier":"=$subject.id"}}}"#,
        ),
    ];
    for (role, doc) in rules {
        store::put_rule(&mut conn, "roles", role, "job_executions", doc).unwrap();
    }
    // Who may run which command is RBAC's: every role here may run the default
    // permission's commands, devops also `ops`.
    let rbac = rowguard::seed::Seed::parse(vec![(
        "rbac.json".into(),
        r#"{"permissions": ["jobs.command.run", "jobs.ops"],
            "roles": [{"name": "support", "permissions": ["jobs.command.run"]},
                      {"name": "devops", "permissions": ["jobs.ops"], "inherits": ["support"]},
                      {"name": "viewer", "permissions": ["jobs.command.run"]},
                      {"name": "self", "permissions": ["jobs.command.run"]},
                      {"name": "statusonly", "permissions": ["jobs.command.run"]}]}"#
            .into(),
    )])
    .unwrap();
    rowguard::seed::apply(&mut conn, &rbac, Default::default(), &mut |_| {}).unwrap();
    auth.invalidate();
    Jobs { pool, auth }
}

impl Jobs {
    fn runner(&self, instance: &str) -> Runner {
        self.runner_with(instance, config())
    }
    fn runner_with(&self, instance: &str, config: JobsConfig) -> Runner {
        Runner::new(
            self.pool.clone(),
            self.auth.clone(),
            config,
            instance.into(),
        )
    }
    fn guard(&self, user: &str, role: &str) -> Guard {
        self.auth.guard(
            Subject::new()
                .with_set("roles", [role])
                .with_attribute("id", user),
        )
    }
    fn text(&self, guard: &Guard, uuid: &str) -> (String, Vec<String>) {
        let mut conn = self.pool.get().unwrap();
        let (_, chunks) = jobs::output(&mut conn, guard, uuid, 0).unwrap();
        let mut expected = 0;
        for c in &chunks {
            assert_eq!(c.byte_offset, expected, "offsets are contiguous");
            expected = c.end();
        }
        (
            jobs::OutputChunk::text(&chunks),
            chunks.iter().map(|c| c.stream.clone()).collect(),
        )
    }
    fn rows(&self) -> i64 {
        job_executions::table
            .count()
            .get_result(&mut self.pool.get().unwrap())
            .unwrap()
    }
}

fn no_params() -> BTreeMap<String, String> {
    BTreeMap::new()
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn output_order_and_exit_codes(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "script", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!((job.status, job.exit_code), (JobStatus::Failed, Some(3)));
    assert!(job.finished_at.is_some() && job.pid.is_some());
    // Each stream on its own: how the two pipes interleave depends on scheduling.
    let mut conn = j.pool.get().unwrap();
    let (_, chunks) = jobs::output(&mut conn, &alice, &job.uuid, 0).unwrap();
    let stream = |name: &str| -> String {
        let own: Vec<_> = chunks
            .iter()
            .filter(|c| c.stream == name)
            .cloned()
            .collect();
        jobs::OutputChunk::text(&own)
    };
    assert_eq!(stream("stdout"), "one\nthree\n");
    assert_eq!(stream("stderr"), "two\n");
    let all: Vec<u8> = chunks.iter().flat_map(|c| c.chunk.clone()).collect();
    assert_eq!(all.len(), "one\ntwo\nthree\n".len());
    let ok = runner
        .run(&alice, "ok", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!((ok.status, ok.exit_code), (JobStatus::Completed, Some(0)));
    assert_eq!(j.text(&alice, &ok.uuid).0, "fine\n");
    // Reading from an offset returns exactly what follows it.
    for from in [0, 1, 4, 9] {
        let (_, rest) = jobs::output(&mut conn, &alice, &job.uuid, from).unwrap();
        let bytes: Vec<u8> = rest.iter().flat_map(|c| c.chunk.clone()).collect();
        assert_eq!(bytes, &all[from as usize..], "from {from}");
    }
    assert_eq!(jobs::list(&mut conn, &alice).unwrap().len(), 2);
}

fn parameters_are_passed_literally(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let nasty = "; rm -rf / $(whoami) `id` && echo pwned | cat > /tmp/x";
    let params = BTreeMap::from([("name".to_string(), nasty.to_string())]);
    let job = runner
        .run(&alice, "greet", &params, Duration::from_secs(15))
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(j.text(&alice, &job.uuid).0, format!("hello {nasty}\n"));
    assert_eq!(job.parameters, serde_json::to_string(&params).unwrap());
}

fn refused_starts_write_no_row(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let err = runner
        .start(&alice, "reboot", &no_params())
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("command \"reboot\" is not allowed (allowed: brief, bytes, daemon, daemon_slow, env, escapee, flood, greet, many, missing, ok, ops, script, sleeper, slow, stubborn, stubborn_slow, typo)"), "{err}");
    let err = runner
        .start(&alice, "ops", &no_params())
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "command \"ops\" needs permission \"jobs.ops\", which roles [support] do not hold"
    );
    let err = runner
        .start(&alice, "typo", &no_params())
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(
            "command \"typo\" needs permission \"jobs.comand.run\", which is not defined"
        ),
        "{err}"
    );
    let err = runner
        .start(&alice, "greet", &no_params())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "command \"greet\": parameter \"name\" is required");
    let viewer = j.guard("vera", "viewer");
    assert!(matches!(
        runner.start(&viewer, "ok", &no_params()),
        Err(JobError::Guard(Error::Forbidden { .. }))
    ));
    let anonymous = j.auth.guard(Subject::new().with_set("roles", ["support"]));
    assert!(matches!(
        runner.start(&anonymous, "ok", &no_params()),
        Err(JobError::NoUserIdentifier)
    ));
    assert_eq!(j.rows(), 0, "no refused start wrote a row");
}

/// `jobs:Run` on `arn:rowguard:jobs:<region>:<account>:command/<name>`: a statement grants a
/// command the subject's roles do not, and a `Deny` refuses one they do; where no statement
/// speaks, RBAC decides as before.
fn policies_decide_who_runs_which_command(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let mut conn = j.pool.get().unwrap();
    let alice = j.guard("alice", "support");
    store::put_policy(
        &mut conn,
        "roles",
        "support",
        r#"[{"Effect": "Allow", "Action": "jobs:Run", "Resource": "arn:rowguard:jobs:local:default:command/ops"},
            {"Sid": "NoEnv", "Effect": "Deny", "Action": "jobs:*", "Resource": "arn:rowguard:jobs:*:*:command/env"}]"#,
    )
    .unwrap();
    let rbac = rowguard::rbac::load(&mut conn).unwrap();
    let subject = alice.subject().clone();
    assert!(
        runner.may_run(&mut conn, &subject, &rbac, "ops").unwrap(),
        "granted by the statement"
    );
    assert!(
        !runner.may_run(&mut conn, &subject, &rbac, "env").unwrap(),
        "denied by the statement"
    );
    assert!(
        runner.may_run(&mut conn, &subject, &rbac, "ok").unwrap(),
        "RBAC's answer"
    );
    assert!(
        !runner.may_run(&mut conn, &subject, &rbac, "nope").unwrap(),
        "not configured"
    );
    let uuid = started(&j, &runner, &alice, "ops", "");
    assert!(!uuid.is_empty());
    let err = runner.start(&alice, "env", &no_params()).unwrap_err();
    assert!(matches!(err, JobError::PolicyDenied { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        r#"command "env" is refused by a policy: denied: statement 1 (NoEnv) of policy roles "support" denies jobs:Run on arn:rowguard:jobs:local:default:command/env"#
    );
    // The account and region are the subject's.
    let team = Subject::new()
        .with_set("roles", ["viewer"])
        .with_attribute("id", "tess")
        .with_attribute("account", 7);
    let decision = runner.run_decision(&mut conn, &team, "ops").unwrap();
    assert_eq!(
        decision.resource.as_str(),
        "arn:rowguard:jobs:local:7:command/ops"
    );
    assert!(!decision.allowed);
}

fn started(j: &Jobs, runner: &Runner, guard: &Guard, command: &str, marker: &str) -> String {
    let uuid = runner.start(guard, command, &no_params()).unwrap();
    wait_until("the job's first output", || {
        j.text(guard, &uuid).0.contains(marker)
    });
    uuid
}

fn kill_escalates_to_sigkill(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &runner, &alice, "stubborn", "ready");
    let asked = Instant::now();
    runner.request_kill(&alice, &uuid).unwrap();
    let job = runner.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, JobStatus::Killed);
    assert_eq!(job.killed_by.as_deref(), Some("alice"));
    assert!(
        asked.elapsed() >= Duration::from_millis(600),
        "SIGINT and SIGTERM were ignored, SIGKILL ended it"
    );
    let (text, streams) = j.text(&alice, &uuid);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("PROCESS KILLED BY alice AT "), "{text}");
    assert_eq!(streams.last().map(String::as_str), Some("rowguard"));
    // Each signal is said, in order, before the end.
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("{needle}: {text}"))
    };
    assert!(
        at("[rowguard] sent SIGINT\n") < at("[rowguard] sent SIGTERM (")
            && at("[rowguard] sent SIGTERM (") < at("[rowguard] sent SIGKILL (")
            && at("[rowguard] sent SIGKILL (") < at("PROCESS KILLED BY"),
        "{text}"
    );
}

/// Killing writes the kill columns: a subject whose update columns leave them out may not
/// kill, even with an update rule on every row; the seeds' column list allows exactly them.
fn a_kill_needs_the_kill_columns(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let carol = j.guard("carol", "statusonly");
    let uuid = started(&j, &runner, &carol, "sleeper", "up");
    match runner.request_kill(&carol, &uuid) {
        Err(JobError::Guard(Error::ForbiddenColumn { column, .. })) => {
            assert_eq!(column, "kill_requested_by")
        }
        other => panic!("expected ForbiddenColumn, got {other:?}"),
    }
    let job: jobs::JobExecution = jobs::job_executions::table
        .find(&uuid)
        .first(&mut j.pool.get().unwrap())
        .unwrap();
    assert_eq!(
        (job.status, job.kill_requested_by),
        (JobStatus::Running, None)
    );
    let seeds = include_str!("../../seeds/20_jobs_rules.json");
    let support: serde_json::Value = serde_json::from_str(seeds).unwrap();
    let doc = support["rules"][0]["rules"].to_string();
    assert!(
        doc.contains(r#""columns":{"update":["kill_requested_by","kill_requested_at"]}"#),
        "{doc}"
    );
    store::put_rule(
        &mut j.pool.get().unwrap(),
        "roles",
        "statusonly",
        "job_executions",
        &doc,
    )
    .unwrap();
    j.auth.invalidate();
    runner.request_kill(&carol, &uuid).unwrap();
    assert_eq!(
        runner
            .wait(&carol, &uuid, Duration::from_secs(15))
            .unwrap()
            .status,
        JobStatus::Killed
    );
}

fn who_may_kill(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let bob = j.guard("bob", "support");
    let root = j.guard("root", "viewer");
    let uuid = started(&j, &runner, &alice, "sleeper", "up");
    assert!(
        matches!(
            runner.request_kill(&bob, &uuid),
            Err(JobError::Guard(Error::Forbidden { .. }))
        ),
        "not the owner"
    );
    runner.request_kill(&alice, &uuid).unwrap();
    let err = runner.request_kill(&root, &uuid).unwrap_err();
    assert!(
        matches!(err, JobError::KillInProgress { .. })
            || matches!(err, JobError::NotRunning { .. }),
        "{err}"
    );
    assert_eq!(
        runner
            .wait(&alice, &uuid, Duration::from_secs(15))
            .unwrap()
            .status,
        JobStatus::Killed
    );
    let err = runner.request_kill(&alice, &uuid).unwrap_err().to_string();
    assert_eq!(err, format!("job {uuid} is not running (status killed)"));
    // A super user kills anyone's job, without an update rule.
    let other = started(&j, &runner, &bob, "sleeper", "up");
    runner.request_kill(&root, &other).unwrap();
    let job = runner.wait(&root, &other, Duration::from_secs(15)).unwrap();
    assert_eq!(
        (job.status, job.killed_by.as_deref()),
        (JobStatus::Killed, Some("root"))
    );
}

fn a_kill_through_another_instance(db: &TestDatabase) {
    let j = setup(db);
    let a = j.runner("instance-a");
    let b = j.runner("instance-b");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &a, &alice, "sleeper", "up");
    b.request_kill(&alice, &uuid).unwrap();
    let job = b.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(
        (job.status, job.instance_id.as_str()),
        (JobStatus::Killed, "instance-a")
    );
    assert!(j
        .text(&alice, &uuid)
        .0
        .contains("PROCESS KILLED BY alice AT "));
}

fn a_dead_instance_is_noticed(db: &TestDatabase) {
    let j = setup(db);
    let a = j.runner("doomed");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &a, &alice, "sleeper", "up");
    a.abandon();
    let b = j.runner_with("survivor", quick_to_notice());
    let job = b.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    let text = j.text(&alice, &uuid).0;
    assert!(
        text.contains(
            "INSTANCE doomed STOPPED HEARTBEATING; JOB MARKED FAILED BY INSTANCE survivor AT"
        ),
        "{text}"
    );
    // The crashed instance's process is ours to clean up in this test.
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(job.pid.unwrap() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn a_timeout_ends_the_job(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "slow", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!(job.status, JobStatus::TimedOut);
    let text = j.text(&alice, &job.uuid).0;
    assert!(
        text.starts_with("started\n") && text.contains("TIMED OUT AT"),
        "{text}"
    );
}

/// Item 8: a job starts from an empty environment plus the allow-list and its command's own
/// variables; the test process's other variables (cargo's, CI's, any secret) never reach it.
fn jobs_get_only_the_allowed_environment(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "env", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let text = j.text(&alice, &job.uuid).0;
    let allowed = JobsConfig::default().env_allow;
    for line in text.lines() {
        let name = line.split('=').next().unwrap();
        assert!(
            allowed.iter().any(|a| a == name) || name == "GREETING" || name == "RG_JOB_UUID",
            "{name} reached the job: {text}"
        );
    }
    assert!(text.contains("GREETING=hi\n"), "{text}");
    assert!(
        text.contains(&format!("RG_JOB_UUID={}\n", job.uuid)),
        "{text}"
    );
    // The configuration refuses to pass secrets on.
    let mut bad = config();
    bad.env_allow.push("DATABASE_URL".into());
    assert!(bad.validate().unwrap_err().contains("DATABASE_URL"));
}

/// Item 9: a kill ends every process of the job, also one that left its process group and
/// outlives the main process while holding its output open.
fn a_kill_reaches_descendants_that_left_the_group(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &runner, &alice, "daemon", "ready");
    // The main process is gone; the setsid'd sleep keeps the job running.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        runner.wait(&alice, &uuid, Duration::ZERO).unwrap().status,
        JobStatus::Running
    );
    assert!(!jobs::process::marked_processes(&uuid).is_empty());
    runner.request_kill(&alice, &uuid).unwrap();
    let job = runner.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, JobStatus::Killed);
    assert!(
        jobs::process::marked_processes(&uuid).is_empty(),
        "no process of the job survives"
    );
}

/// Item 9, for a timeout.
fn a_timeout_reaches_descendants_too(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "daemon_slow", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!(job.status, JobStatus::TimedOut);
    assert!(jobs::process::marked_processes(&job.uuid).is_empty());
}

/// Item 10: a runner restarted with the same instance id fails the jobs of its earlier life.
fn a_restarted_instance_fails_its_earlier_jobs(db: &TestDatabase) {
    let j = setup(db);
    let first = j.runner("same-id");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &first, &alice, "sleeper", "up");
    first.abandon();
    let pid = first
        .wait(&alice, &uuid, Duration::ZERO)
        .unwrap()
        .pid
        .unwrap();
    let second = j.runner_with("same-id", quick_to_notice());
    let fresh = started(&j, &second, &alice, "sleeper", "up");
    let old = second.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(old.status, JobStatus::Failed);
    assert!(j
        .text(&alice, &uuid)
        .0
        .contains("NO RUNNER OF INSTANCE same-id HEARTBEATS THIS JOB ANY MORE (AN EARLIER LIFE OF THE INSTANCE); MARKED FAILED AT"));
    // The new life's own job is untouched, and its heartbeats do not revive the old one.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        second.wait(&alice, &fresh, Duration::ZERO).unwrap().status,
        JobStatus::Running
    );
    second.request_kill(&alice, &fresh).unwrap();
    second
        .wait(&alice, &fresh, Duration::from_secs(15))
        .unwrap();
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// Item 11: output is stored as raw bytes with raw offsets (NUL, invalid UTF-8, a character
/// split across writes), capped with a clear line, and readable from any offset.
fn output_is_stored_losslessly_and_capped(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "bytes", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let mut conn = j.pool.get().unwrap();
    let (_, chunks) = jobs::output(&mut conn, &alice, &job.uuid, 0).unwrap();
    let bytes: Vec<u8> = chunks.iter().flat_map(|c| c.chunk.clone()).collect();
    assert_eq!(bytes, b"a\0b\xffcaf\xc3\xa9!\n");
    assert!(jobs::OutputChunk::text(&chunks).contains("café!"));
    // From an offset inside a chunk: exactly the rest.
    let (_, rest) = jobs::output(&mut conn, &alice, &job.uuid, 3).unwrap();
    assert_eq!(rest[0].byte_offset, 3);
    let tail: Vec<u8> = rest.iter().flat_map(|c| c.chunk.clone()).collect();
    assert_eq!(tail, &bytes[3..]);
    assert_eq!(rest.last().unwrap().end(), bytes.len() as i64);

    let flood = runner
        .run(&alice, "flood", &no_params(), Duration::from_secs(30))
        .unwrap();
    assert_eq!(
        flood.status,
        JobStatus::Completed,
        "the program ran to its end"
    );
    let (_, chunks) = jobs::output(&mut conn, &alice, &flood.uuid, 0).unwrap();
    let program: usize = chunks
        .iter()
        .filter(|c| c.stream == "stdout")
        .map(|c| c.chunk.len())
        .sum();
    assert_eq!(program, 1000);
    let text = jobs::OutputChunk::text(&chunks);
    assert!(text.starts_with("1\n2\n3\n"), "{text}");
    assert!(
        text.ends_with(
            "OUTPUT TRUNCATED: THE LIMIT OF 1000 BYTES IS REACHED; THE REST IS NOT STORED\n"
        ),
        "{text}"
    );
}

/// Item 12: every read of a job goes through the read rule, and no column of a job is
/// writable through the guard.
fn job_reads_and_writes_go_through_the_guard(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "self");
    let carol = j.guard("carol", "self");
    let job = runner
        .run(&alice, "ok", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert!(matches!(
        runner.wait(&carol, &job.uuid, Duration::ZERO),
        Err(JobError::Guard(Error::NotFound { .. }))
    ));
    assert!(matches!(
        runner.wait_for_output(&carol, &job.uuid, "fine", Duration::ZERO),
        Err(JobError::Guard(Error::NotFound { .. }))
    ));
    assert!(runner
        .wait_for_output(&alice, &job.uuid, "fine", Duration::from_secs(5))
        .unwrap());
    let mut conn = j.pool.get().unwrap();
    let mut forged = job.clone();
    forged.command = "something-else".into();
    forged.parameters = r#"{"x":"y"}"#.into();
    assert!(matches!(
        alice.update(&mut conn, &forged),
        Err(Error::Immutable { .. })
    ));
    assert!(matches!(
        alice.delete::<jobs::JobExecution>(&mut conn, job.uuid.clone()),
        Err(Error::Immutable { .. })
    ));
    let stored = runner.wait(&alice, &job.uuid, Duration::ZERO).unwrap();
    assert_eq!(stored, job, "the audit row is unchanged");
    // A status a DBA wrote by hand fails closed, and the error chain names the text.
    diesel::update(job_executions::table.find(&job.uuid))
        .set(job_executions::status.eq("stopped"))
        .execute(&mut conn)
        .unwrap();
    let err = jobs::list(&mut conn, &alice).unwrap_err();
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(&format!(" / {cause}"));
        source = cause.source();
    }
    assert!(chain.contains("unknown job status \"stopped\""), "{chain}");
}

/// Item 14: the update rule decides who kills: devops (update "*") kills anyone's job.
fn devops_kills_any_job(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let dave = j.guard("dave", "devops");
    let uuid = started(&j, &runner, &alice, "sleeper", "up");
    runner.request_kill(&dave, &uuid).unwrap();
    let job = runner.wait(&dave, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(
        (job.status, job.killed_by.as_deref()),
        (JobStatus::Killed, Some("dave"))
    );
}

/// A hostile job drops its mark and leaves the group while holding the output open: the kill
/// still ends the job (`killed`, with a line saying reading stopped) instead of leaving it
/// `running` forever.
fn a_kill_ends_even_when_an_untracked_process_holds_the_output(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    // A duration per backend, so each test can clean up its own escapee.
    let secs = match db.backend() {
        rowguard::Backend::Sqlite => "41.1",
        rowguard::Backend::Postgres => "41.2",
        rowguard::Backend::Mysql => "41.3",
    };
    let params = BTreeMap::from([("secs".to_string(), secs.to_string())]);
    let uuid = runner.start(&alice, "escapee", &params).unwrap();
    wait_until("ready", || j.text(&alice, &uuid).0.contains("ready"));
    runner.request_kill(&alice, &uuid).unwrap();
    let job = runner.wait(&alice, &uuid, Duration::from_secs(20)).unwrap();
    assert_eq!(job.status, JobStatus::Killed);
    assert!(j.text(&alice, &uuid).0.contains(
        "OUTPUT STILL HELD OPEN BY A PROCESS OUTSIDE THE JOB'S TRACKING; STOPPED READING"
    ));
    // Clean up the escapee.
    let needle = format!("sleep\0{secs}\0");
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// Two live runners that share an instance id (two `jobs run` on one machine) each heartbeat
/// their own jobs: neither takes the other's for an earlier life.
fn two_live_runners_with_one_instance_id_leave_each_other_alone(db: &TestDatabase) {
    let j = setup(db);
    // dead_after well above a loaded machine's scheduling hiccups, heartbeats every 50 ms.
    let patient = JobsConfig {
        dead_after_ms: 1_500,
        ..config()
    };
    let first = j.runner_with("shared-id", patient.clone());
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &first, &alice, "sleeper", "up");
    let second = j.runner_with("shared-id", patient);
    // Over twice dead_after_ms, both watchers running.
    std::thread::sleep(Duration::from_millis(3_500));
    assert_eq!(
        second.wait(&alice, &uuid, Duration::ZERO).unwrap().status,
        JobStatus::Running
    );
    assert!(!jobs::process::marked_processes(&uuid).is_empty());
    first.request_kill(&alice, &uuid).unwrap();
    let job = first.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, JobStatus::Killed);
}

/// A program that does not exist: `start` names it, and the audit row records a failed job
/// whose output says why.
fn a_program_that_cannot_start_fails_its_job(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let err = runner.start(&alice, "missing", &no_params()).unwrap_err();
    assert!(
        matches!(&err, JobError::Spawn { program, .. } if program == "/nonexistent/rowguard-no-such-program"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("/nonexistent/rowguard-no-such-program"),
        "{err}"
    );
    let mut conn = j.pool.get().unwrap();
    let rows = jobs::list(&mut conn, &alice).unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, JobStatus::Failed);
    assert_eq!(rows[0].pid, None);
    assert!(rows[0].finished_at.is_some());
    let text = j.text(&alice, &rows[0].uuid).0;
    assert!(
        text.starts_with("CANNOT START /nonexistent/rowguard-no-such-program: "),
        "{text}"
    );
}

/// `seq 1 60000` writes 348,894 bytes, dozens of read chunks: every byte is stored, in order.
fn output_beyond_one_read_chunk_is_stored_whole_and_in_order(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let job = runner
        .run(&alice, "many", &no_params(), Duration::from_secs(30))
        .unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    let expected: String = (1..=60000).map(|n| format!("{n}\n")).collect();
    let (text, _) = j.text(&alice, &job.uuid);
    assert_eq!(text.len(), expected.len());
    assert!(text == expected, "the output differs from seq's");
    let mut conn = j.pool.get().unwrap();
    let (_, chunks) = jobs::output(&mut conn, &alice, &job.uuid, 0).unwrap();
    assert!(chunks.len() > 1, "stored in {} chunk(s)", chunks.len());
}

/// A job that ignores SIGTERM past its timeout is killed with SIGKILL after the grace.
fn a_timeout_escalates_to_sigkill(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let begun = Instant::now();
    let job = runner
        .run(
            &alice,
            "stubborn_slow",
            &no_params(),
            Duration::from_secs(20),
        )
        .unwrap();
    assert_eq!(job.status, JobStatus::TimedOut);
    // timeout 3 s (time for the shell to set its trap on a loaded machine), then SIGINT,
    // SIGTERM (300 ms each, both ignored), then SIGKILL.
    assert!(
        begun.elapsed() >= Duration::from_millis(3_600),
        "{:?}",
        begun.elapsed()
    );
    let text = j.text(&alice, &job.uuid).0;
    assert!(text.starts_with("ready\n"), "{text}");
    // The script ignores SIGINT and SIGTERM and loops forever: that it ended at all is
    // the SIGKILL.
    assert!(text.contains("TIMED OUT AT"), "{text}");
}

/// After `shutdown` the watcher no longer acts on kill requests, a second call returns at
/// once, and a job already running still finishes and records its status.
fn shutdown_stops_the_watcher_and_running_jobs_still_finish(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &runner, &alice, "brief", "begun");
    let asked = Instant::now();
    runner.shutdown();
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "{:?}",
        asked.elapsed()
    );
    let again = Instant::now();
    runner.shutdown();
    assert!(
        again.elapsed() < Duration::from_millis(500),
        "{:?}",
        again.elapsed()
    );
    let during = runner.wait(&alice, &uuid, Duration::ZERO).unwrap();
    assert_eq!(
        during.status,
        JobStatus::Running,
        "brief sleeps 3 s after `begun`"
    );
    let job = runner.wait(&alice, &uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, JobStatus::Completed);
    assert_eq!(job.exit_code, Some(0));
    assert_eq!(j.text(&alice, &uuid).0, "begun\ndone\n");
    // A kill asked for after shutdown is recorded but nobody acts on it.
    let sleeper = started(&j, &runner, &alice, "sleeper", "up");
    runner.request_kill(&alice, &sleeper).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let still = runner.wait(&alice, &sleeper, Duration::ZERO).unwrap();
    assert_eq!(still.status, JobStatus::Running);
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(still.pid.unwrap() as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
    let ended = runner
        .wait(&alice, &sleeper, Duration::from_secs(15))
        .unwrap();
    assert_ne!(ended.status, JobStatus::Running);
}

/// Output is read through the job's read rule: a user who may not read the job gets
/// `NotFound`, not an empty output.
fn another_users_output_is_not_found(db: &TestDatabase) {
    let j = setup(db);
    let runner = j.runner("a");
    let alice = j.guard("alice", "self");
    let carol = j.guard("carol", "self");
    let job = runner
        .run(&alice, "ok", &no_params(), Duration::from_secs(15))
        .unwrap();
    let mut conn = j.pool.get().unwrap();
    assert!(matches!(
        jobs::output(&mut conn, &carol, &job.uuid, 0),
        Err(JobError::Guard(Error::NotFound { .. }))
    ));
    assert!(jobs::list(&mut conn, &carol).unwrap().is_empty());
    assert_eq!(j.text(&alice, &job.uuid).0, "fine\n");
    // follow writes what arrives until the job has ended.
    let mut followed = Vec::new();
    let ended = jobs::follow(
        &mut conn,
        &alice,
        &job.uuid,
        0,
        &mut followed,
        Duration::from_millis(20),
    )
    .unwrap();
    assert_eq!(ended.status, JobStatus::Completed);
    assert_eq!(followed, b"fine\n");
    assert!(matches!(
        jobs::follow(
            &mut conn,
            &carol,
            &job.uuid,
            0,
            &mut Vec::new(),
            Duration::ZERO
        ),
        Err(JobError::Guard(Error::NotFound { .. }))
    ));
    // Waiting for text that never comes ends at the deadline with `false`.
    let asked = Instant::now();
    assert!(!runner
        .wait_for_output(
            &alice,
            &job.uuid,
            "never printed",
            Duration::from_millis(300)
        )
        .unwrap());
    assert!(asked.elapsed() >= Duration::from_millis(300));
}
