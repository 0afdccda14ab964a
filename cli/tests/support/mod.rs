//! What the service's test suites share: a seeded database with users, `rowguard serve`
//! processes on free loopback ports, and a small HTTP client.
#![allow(dead_code)] // each test crate uses a part

pub mod browser;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use rowguard::testing::TestDatabase;
use serde_json::{json, Value};

pub const PASSWORD: &str = "correct horse battery";

pub const CONFIG_BASE: &str = r#"
refresh_interval_ms = 0

[server]
token_ttl_secs = 600
token_ttl_max_secs = 3600
login_max_failures_per_name = 3
login_max_failures_per_address = 50
max_body_bytes = 4096
long_poll_max_ms = 5000
output_poll_ms = 20
# Small: requests must never hold one connection while waiting for another.
pool_size = 4
max_streams = 3

[jobs]
sigterm_after_ms = 300
sigkill_after_ms = 300
poll_interval_ms = 50
super_users = ["root"]

[jobs.commands.deploy]
program = "true"
permission = "jobs.kill.any"
"#;

pub fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// The fenced block (of `lang`) that follows `marker` in the README.
pub fn readme_block(marker: &str, lang: &str) -> String {
    let text = readme();
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("README: no {marker}"));
    let open = format!("```{lang}\n");
    let from = at + text[at..].find(&open).expect("a fenced block") + open.len();
    let to = from + text[from..].find("```").expect("its end");
    text[from..to].to_owned()
}

/// The test configuration: the README's example commands, and one more.
pub fn config() -> String {
    let commands = readme_block(
        "First the commands jobs may run, in `rowguard.toml`",
        "toml",
    );
    format!("{CONFIG_BASE}\n{commands}")
}

/// A migrated database with models, seeds and users, and a directory for config and
/// instance ids.
pub struct Env {
    pub url: String,
    pub dir: PathBuf,
}

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the `rowguard` binary in `env`'s directory; `stdin` is what it reads.
pub fn rowguard(
    env: &Env,
    args: &[&str],
    stdin: &str,
    extra: &[(&str, &str)],
) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(args)
        .current_dir(&env.dir)
        .env("DATABASE_URL", &env.url)
        .env("ROWGUARD_CONFIG", env.dir.join("rowguard.toml"))
        .env("ROWGUARD_SESSION_FILE", env.dir.join("session.json"))
        .envs(extra.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rowguard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("rowguard ran");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub fn ok(result: (i32, String, String)) -> String {
    assert_eq!(result.0, 0, "stdout: {}\nstderr: {}", result.1, result.2);
    result.1
}

impl Env {
    pub fn new(db: &TestDatabase) -> Env {
        let dir = std::env::temp_dir().join(format!(
            "rowguard-serve-{}-{}",
            std::process::id(),
            db.url()
                .target()
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64))
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("rowguard.toml"), config()).expect("config");
        let env = Env {
            url: db.url().target().to_owned(),
            dir,
        };
        let sources = root();
        let sync = Command::new(env!("CARGO_BIN_EXE_rowguard"))
            .args(["sync-models"])
            .current_dir(&sources)
            .env("DATABASE_URL", &env.url)
            .env("ROWGUARD_CONFIG", env.dir.join("rowguard.toml"))
            .output()
            .expect("sync-models");
        assert!(
            sync.status.success(),
            "{}",
            String::from_utf8_lossy(&sync.stderr)
        );
        let seeds = sources.join("seeds");
        ok(rowguard(
            &env,
            &["seed", "--dir", seeds.to_str().expect("utf-8 path")],
            "",
            &[],
        ));
        // A role that may start jobs but neither read them nor their output.
        let extra = env.dir.join("seeds");
        std::fs::create_dir_all(&extra).expect("seed dir");
        std::fs::write(
            extra.join("runner.json"),
            r#"{"roles": [{"name": "runner", "permissions": ["jobs.command.list", "jobs.command.run"]},
                          {"name": "blind", "permissions": ["jobs.command.run", "jobs.output.read"]}],
                "rules": [{"set_type": "roles", "set_value": "runner", "model": "job_executions",
                           "rules": {"create": "*"}},
                          {"set_type": "roles", "set_value": "blind", "model": "job_executions",
                           "rules": {"create": "*"}}]}"#,
        )
        .expect("seed");
        ok(rowguard(&env, &["seed", "--dir", "seeds"], "", &[]));
        for (name, role) in [
            ("runner", Some("runner")),
            ("blind", Some("blind")),
            ("ann", Some("support")),
            ("bob", Some("support")),
            ("dev", Some("devops")),
            ("root", Some("admin")),
            ("nobody", None),
        ] {
            let mut args = vec!["users", "add", name];
            if let Some(role) = role {
                args.extend(["--role", role]);
            }
            ok(rowguard(&env, &args, &format!("{PASSWORD}\n"), &[]));
        }
        env
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A `rowguard serve` process on a free loopback port.
pub struct Server {
    pub child: Child,
    pub base: String,
    pub log: Arc<Mutex<String>>,
}

impl Server {
    pub fn start(env: &Env, instance: &str) -> Server {
        Server::start_on(env, instance, "127.0.0.1:0")
    }

    /// A server on `bind` (`127.0.0.1:0`: any free port).
    pub fn start_on(env: &Env, instance: &str, bind: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rowguard"))
            .args(["serve", "--bind", bind])
            .current_dir(&env.dir)
            .env("DATABASE_URL", &env.url)
            .env("ROWGUARD_CONFIG", env.dir.join("rowguard.toml"))
            .env(
                "ROWGUARD_INSTANCE_ID_FILE",
                env.dir.join(format!("instance-{instance}")),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start rowguard serve");
        let stderr = child.stderr.take().expect("stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or("");
                    let _ = tx.send(addr.trim_start_matches("http://").to_owned());
                }
                let mut log = kept.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let base = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => base,
            Err(_) => {
                let _ = child.kill();
                panic!("the server did not start: {}", log.lock().unwrap());
            }
        };
        Server { child, base, log }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Server {
    /// SIGTERM, as a service manager stops it; waits for the process to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill");
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        // A redirect (the console's to its login page) is an answer to look at.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// An answer: status, headers we look at, and the body as JSON (or a string).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }
}

pub fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("the server answers");
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Answer {
        status,
        headers,
        body,
    }
}

/// A client of one server, with or without a bearer token.
pub struct Client<'a> {
    pub server: &'a Server,
    pub token: Option<String>,
    pub agent: ureq::Agent,
}

impl<'a> Client<'a> {
    pub fn anonymous(server: &'a Server) -> Self {
        Client {
            server,
            token: None,
            agent: agent(),
        }
    }

    pub fn login(server: &'a Server, name: &str) -> Self {
        let mut client = Client::anonymous(server);
        let a = client.post("/api/login", json!({"name": name, "password": PASSWORD}));
        assert_eq!(a.status, 200, "{a:?}");
        client.token = Some(a.body["token"].as_str().expect("token").to_owned());
        client
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.base)
    }

    pub fn auth<B>(&self, r: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(t) => r.header("Authorization", format!("Bearer {t}")),
            None => r,
        }
    }

    pub fn get(&self, path: &str) -> Answer {
        answer(self.auth(self.agent.get(&self.url(path))).call())
    }

    pub fn post(&self, path: &str, body: Value) -> Answer {
        answer(self.auth(self.agent.post(&self.url(path))).send_json(&body))
    }

    pub fn put(&self, path: &str, body: Value) -> Answer {
        answer(self.auth(self.agent.put(&self.url(path))).send_json(&body))
    }

    pub fn delete(&self, path: &str) -> Answer {
        answer(self.auth(self.agent.delete(&self.url(path))).call())
    }

    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        answer(
            self.auth(self.agent.post(&self.url(path)))
                .header("Content-Type", content_type)
                .send(body),
        )
    }

    pub fn put_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Answer {
        answer(
            self.auth(self.agent.put(&self.url(path)))
                .header("Content-Type", content_type)
                .send(body),
        )
    }

    /// Waits until job `uuid` leaves `running`.
    pub fn wait_for_end(&self, uuid: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.get(&format!("/api/jobs/{uuid}"));
            assert_eq!(a.status, 200, "{a:?}");
            if a.body["status"] != "running" || Instant::now() > deadline {
                return a.body;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
