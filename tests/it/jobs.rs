//! Job execution with real processes, on every backend.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use rowguard::jobs::{self, job_executions, status, JobError, JobsConfig, Runner};
use rowguard::testing::TestDatabase;
use rowguard::{store, Authorizer, Config, Error, Guard, Pool, PoolOptions, Subject};

rowguard::backend_tests!(
    output_order_and_exit_codes,
    parameters_are_passed_literally,
    refused_starts_write_no_row,
    kill_escalates_to_sigkill,
    who_may_kill,
    a_kill_through_another_instance,
    a_dead_instance_is_noticed,
    a_timeout_ends_the_job,
);

const COMMANDS: &str = r#"{
  "greet":  {"program": "echo", "args": ["hello", "{name}"], "params": {"name": {"pattern": ".*"}}, "roles": ["support", "devops"]},
  "script": {"program": "sh", "args": ["-c", "echo one; sleep 0.2; echo two >&2; sleep 0.2; echo three; exit 3"], "roles": ["*"]},
  "ok":     {"program": "sh", "args": ["-c", "echo fine"], "roles": ["*"]},
  "stubborn": {"program": "sh", "args": ["-c", "trap '' INT TERM; echo ready; while true; do sleep 0.05; done"], "roles": ["*"]},
  "sleeper": {"program": "sh", "args": ["-c", "echo up; exec sleep 30"], "roles": ["*"]},
  "slow":   {"program": "sh", "args": ["-c", "echo started; sleep 10"], "roles": ["*"], "timeout_secs": 1},
  "ops":    {"program": "true", "roles": ["devops"]}
}"#;

fn config() -> JobsConfig {
    JobsConfig {
        commands: serde_json::from_str(COMMANDS).expect("commands"),
        super_users: vec!["root".into()],
        sigterm_after_ms: 300,
        sigkill_after_ms: 300,
        poll_interval_ms: 50,
        dead_after_ms: 700,
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
    ];
    for (role, doc) in rules {
        store::put_rule(&mut conn, "roles", role, "job_executions", doc).unwrap();
    }
    auth.invalidate();
    Jobs { pool, auth }
}

impl Jobs {
    fn runner(&self, instance: &str) -> Runner {
        Runner::new(
            self.pool.clone(),
            self.auth.clone(),
            config(),
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
            expected += c.chunk.len() as i64;
        }
        (
            chunks.iter().map(|c| c.chunk.as_str()).collect(),
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
    assert_eq!(
        (job.status.as_str(), job.exit_code),
        (status::FAILED, Some(3))
    );
    assert!(job.finished_at.is_some() && job.pid.is_some());
    let (text, streams) = j.text(&alice, &job.uuid);
    assert_eq!(text, "one\ntwo\nthree\n");
    assert_eq!(streams, ["stdout", "stderr", "stdout"]);
    let ok = runner
        .run(&alice, "ok", &no_params(), Duration::from_secs(15))
        .unwrap();
    assert_eq!(
        (ok.status.as_str(), ok.exit_code),
        (status::COMPLETED, Some(0))
    );
    assert_eq!(j.text(&alice, &ok.uuid).0, "fine\n");
    // Reading from an offset returns what follows.
    let mut conn = j.pool.get().unwrap();
    let (_, rest) = jobs::output(&mut conn, &alice, &job.uuid, 4).unwrap();
    assert_eq!(
        rest.iter().map(|c| c.chunk.as_str()).collect::<String>(),
        "two\nthree\n"
    );
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
    assert_eq!(job.status, status::COMPLETED);
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
    assert!(err.starts_with("command \"reboot\" is not allowed (allowed: greet, ok, ops, script, sleeper, slow, stubborn)"), "{err}");
    let err = runner
        .start(&alice, "ops", &no_params())
        .unwrap_err()
        .to_string();
    assert_eq!(err, "command \"ops\" is not allowed for roles [support]");
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
    let job = runner.wait(&uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, status::KILLED);
    assert_eq!(job.killed_by.as_deref(), Some("alice"));
    assert!(
        asked.elapsed() >= Duration::from_millis(600),
        "SIGINT and SIGTERM were ignored, SIGKILL ended it"
    );
    let (text, streams) = j.text(&alice, &uuid);
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("PROCESS KILLED BY alice AT "), "{text}");
    assert_eq!(streams.last().map(String::as_str), Some("rowguard"));
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
        runner.wait(&uuid, Duration::from_secs(15)).unwrap().status,
        status::KILLED
    );
    let err = runner.request_kill(&alice, &uuid).unwrap_err().to_string();
    assert_eq!(err, format!("job {uuid} is not running (status killed)"));
    // A super user kills anyone's job, without an update rule.
    let other = started(&j, &runner, &bob, "sleeper", "up");
    runner.request_kill(&root, &other).unwrap();
    let job = runner.wait(&other, Duration::from_secs(15)).unwrap();
    assert_eq!(
        (job.status.as_str(), job.killed_by.as_deref()),
        (status::KILLED, Some("root"))
    );
}

fn a_kill_through_another_instance(db: &TestDatabase) {
    let j = setup(db);
    let a = j.runner("instance-a");
    let b = j.runner("instance-b");
    let alice = j.guard("alice", "support");
    let uuid = started(&j, &a, &alice, "sleeper", "up");
    b.request_kill(&alice, &uuid).unwrap();
    let job = b.wait(&uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(
        (job.status.as_str(), job.instance_id.as_str()),
        (status::KILLED, "instance-a")
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
    let b = j.runner("survivor");
    let job = b.wait(&uuid, Duration::from_secs(15)).unwrap();
    assert_eq!(job.status, status::FAILED);
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
    assert_eq!(job.status, status::TIMED_OUT);
    let text = j.text(&alice, &job.uuid).0;
    assert!(
        text.starts_with("started\n") && text.contains("TIMED OUT AT"),
        "{text}"
    );
}
