//! `cargo xtask load-test`: `rowguard serve` under a bounded load on loopback. Jobs print
//! timestamped lines; followers stream them (server-sent events) while readers hit the job
//! API; at the end every follower's bytes must equal the stored output and no request may
//! have failed. Prints p50/p99 per endpoint and of output delivery (a line's write by the job
//! to its arrival at a follower), and login times for a wrong password and an unknown user.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rowguard::jobs::JobsConfig;
use rowguard::testing::TestDatabase;
use rowguard::{Authorizer, Backend, Config, PoolOptions};
use rowguard_server::{ServerConfig, Service};
use serde_json::{json, Value};

use super::CommandResult;

/// Arguments of `load-test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// sqlite, postgres or mysql (a fresh database on the test server, dropped after).
    #[arg(long, default_value = "sqlite")]
    backend: String,
    /// How long the load runs (each job prints for this long).
    #[arg(long, default_value_t = 30)]
    secs: u64,
    /// Jobs started.
    #[arg(long, default_value_t = 20)]
    jobs: usize,
    /// Output followers (server-sent event streams), spread over the jobs.
    #[arg(long, default_value_t = 50)]
    followers: usize,
    /// Threads reading the job API in a loop.
    #[arg(long, default_value_t = 4)]
    readers: usize,
}

const PASSWORD: &str = "load test password";

/// Latencies by name, in microseconds, and the errors seen.
#[derive(Default)]
struct Record {
    times: BTreeMap<String, Vec<u64>>,
    errors: Vec<String>,
}

impl Record {
    fn add(record: &Mutex<Record>, name: &str, took: Duration) {
        let mut r = record.lock().unwrap_or_else(|p| p.into_inner());
        r.times
            .entry(name.to_owned())
            .or_default()
            .push(took.as_micros() as u64);
    }

    fn error(record: &Mutex<Record>, what: String) {
        record
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .errors
            .push(what);
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// One timed request; a status other than `want` is an error.
fn call(
    record: &Mutex<Record>,
    name: &str,
    want: u16,
    request: impl FnOnce() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Option<Value> {
    let started = Instant::now();
    let result = request().and_then(|mut r| {
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string()?;
        Ok((status, text))
    });
    Record::add(record, name, started.elapsed());
    match result {
        Ok((status, text)) if status == want => {
            Some(serde_json::from_str(&text).unwrap_or(Value::String(text)))
        }
        Ok((status, text)) => {
            Record::error(record, format!("{name}: {status} {text}"));
            None
        }
        Err(e) => {
            Record::error(record, format!("{name}: {e}"));
            None
        }
    }
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// A fresh database with the RBAC and job rule seeds and one support user.
fn prepare(backend: Backend) -> Result<TestDatabase, Box<dyn std::error::Error>> {
    let db = TestDatabase::migrated(backend)?;
    let mut conn = db.connect()?;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |name: &str| -> Result<(String, String), std::io::Error> {
        Ok((
            name.to_owned(),
            std::fs::read_to_string(root.join("seeds").join(name))?,
        ))
    };
    let seed =
        rowguard::seed::Seed::parse(vec![read("00_rbac.json")?, read("20_jobs_rules.json")?])?;
    Authorizer::new(Config::default()).register::<rowguard::jobs::JobExecution>(&mut conn)?;
    rowguard::seed::apply(&mut conn, &seed, Default::default(), &mut |_| {})?;
    let password = rowguard_server::users::NewPassword::new(PASSWORD)?;
    rowguard_server::users::add(&mut conn, "ann", &password, &["support".to_owned()])?;
    Ok(db)
}

/// Starts the service in this process on a free loopback port.
fn start(db: &TestDatabase, args: &Args) -> Result<SocketAddr, Box<dyn std::error::Error>> {
    let lines = args.secs * 10;
    let commands = json!({"stamp": {"program": "sh", "args": ["-c",
        format!("i=0; while [ $i -lt {lines} ]; do i=$((i+1)); echo \"$i $(date +%s%N)\"; sleep 0.1; done")],
        "permission": "jobs.command.run"}});
    let mut jobs = JobsConfig::default();
    jobs.apply_env(|name| (name == "ROWGUARD_ALLOWED_COMMANDS").then(|| commands.to_string()))?;
    let dir = std::env::temp_dir().join(format!("rowguard-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    jobs.instance_id_file = dir.join("instance").display().to_string();
    let instance = rowguard::jobs::instance_id_from_file(&jobs.instance_id_file)?;
    let server = ServerConfig {
        pool_size: 16,
        page_size_max: 100,
        // The timing logins below all come from this one address.
        login_max_failures_per_address: 1000,
        ..ServerConfig::default()
    };
    let pool = db.pool(PoolOptions {
        max_size: server.pool_size,
        ..PoolOptions::default()
    })?;
    let auth = Authorizer::new(Config::default());
    let runner = rowguard::jobs::Runner::new(
        db.pool(PoolOptions {
            max_size: 4,
            ..PoolOptions::default()
        })?,
        auth.clone(),
        jobs,
        instance,
    );
    let service = Service::new(pool, auth, server, runner)?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
        {
            Ok(r) => r,
            Err(e) => return drop(tx.send(Err(e.to_string()))),
        };
        runtime.block_on(async move {
            let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                Ok(l) => l,
                Err(e) => return drop(tx.send(Err(e.to_string()))),
            };
            let _ = tx.send(listener.local_addr().map_err(|e| e.to_string()));
            let _ = rowguard_server::serve(listener, service, std::future::pending()).await;
        });
    });
    Ok(rx.recv_timeout(Duration::from_secs(30))??)
}

/// Follows job `uuid`'s events to the end; returns the text received.
fn follow(record: &Mutex<Record>, base: &str, token: &str, uuid: &str) -> String {
    let response = agent()
        .get(&format!("{base}/api/jobs/{uuid}/events"))
        .header("Authorization", format!("Bearer {token}"))
        .call();
    let response = match response {
        Ok(r) if r.status().as_u16() == 200 => r,
        Ok(r) => {
            Record::error(record, format!("events: {}", r.status()));
            return String::new();
        }
        Err(e) => {
            Record::error(record, format!("events: {e}"));
            return String::new();
        }
    };
    let mut reader = BufReader::new(response.into_body().into_reader());
    let (mut event, mut text, mut line) = (String::new(), String::new(), String::new());
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) => return text,
            Ok(_) => {}
            Err(e) => {
                Record::error(record, format!("events: {e}"));
                return text;
            }
        }
        let l = line.trim_end();
        if let Some(name) = l.strip_prefix("event:") {
            event = name.trim().to_owned();
        } else if let Some(data) = l.strip_prefix("data:") {
            if event == "end" {
                return text;
            }
            if event == "error" {
                Record::error(record, format!("events: {data}"));
                return text;
            }
            let Ok(value) = serde_json::from_str::<Value>(data.trim()) else {
                Record::error(record, format!("events: not JSON: {data}"));
                return text;
            };
            let piece = value["text"].as_str().unwrap_or("");
            let arrived = now_ns();
            for output in piece.lines() {
                if let Some(stamp) = output
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse::<u128>().ok())
                {
                    let took = arrived.saturating_sub(stamp);
                    Record::add(record, "output delivery", Duration::from_nanos(took as u64));
                }
            }
            text.push_str(piece);
        }
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// Runs the load test.
pub fn run(args: Args) -> CommandResult {
    let backend = match args.backend.as_str() {
        "sqlite" => Backend::Sqlite,
        "postgres" => Backend::Postgres,
        "mysql" => Backend::Mysql,
        other => {
            return Err(format!("--backend {other}: expected sqlite, postgres or mysql").into())
        }
    };
    let db = prepare(backend)?;
    let addr = start(&db, &args)?;
    let base = format!("http://{addr}");
    eprintln!(
        "load test on {backend}: {} jobs for {} s, {} followers, {} readers, at {base}",
        args.jobs, args.secs, args.followers, args.readers
    );
    let record = Arc::new(Mutex::new(Record::default()));
    let a = agent();
    let login = json!({"name": "ann", "password": PASSWORD});
    let token = call(&record, "POST /api/login", 200, || {
        a.post(&format!("{base}/api/login")).send_json(&login)
    })
    .and_then(|v| v["token"].as_str().map(str::to_owned))
    .ok_or("login failed")?;
    // Login timing: a wrong password and an unknown user take the same work.
    for i in 0..10 {
        let wrong = json!({"name": "ann", "password": format!("wrong {i}")});
        call(&record, "login: wrong password (401)", 401, || {
            a.post(&format!("{base}/api/login")).send_json(&wrong)
        });
        let unknown = json!({"name": format!("nobody{i}"), "password": PASSWORD});
        call(&record, "login: unknown user (401)", 401, || {
            a.post(&format!("{base}/api/login")).send_json(&unknown)
        });
        if i % 3 == 2 {
            // Stay under the per-name throttle.
            call(&record, "POST /api/login", 200, || {
                a.post(&format!("{base}/api/login")).send_json(&login)
            });
        }
    }
    let bearer = format!("Bearer {token}");
    let mut uuids = Vec::new();
    for _ in 0..args.jobs {
        let started = call(&record, "POST /api/jobs", 201, || {
            a.post(&format!("{base}/api/jobs"))
                .header("Authorization", &bearer)
                .send_json(json!({"command": "stamp"}))
        });
        uuids.push(
            started
                .and_then(|v| v["job"]["uuid"].as_str().map(str::to_owned))
                .ok_or("a job did not start")?,
        );
    }
    let followers: Vec<_> = (0..args.followers)
        .map(|i| {
            let (record, base, token) = (record.clone(), base.clone(), token.clone());
            let uuid = uuids[i % uuids.len()].clone();
            std::thread::spawn(move || {
                let text = follow(&record, &base, &token, &uuid);
                (uuid, text)
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.secs);
    let readers: Vec<_> = (0..args.readers)
        .map(|i| {
            let (record, base, bearer) = (record.clone(), base.clone(), bearer.clone());
            let uuid = uuids[i % uuids.len()].clone();
            std::thread::spawn(move || {
                let a = agent();
                let mut from = 0;
                while Instant::now() < deadline {
                    call(&record, "GET /api/jobs?limit=20", 200, || {
                        a.get(&format!("{base}/api/jobs?limit=20"))
                            .header("Authorization", &bearer)
                            .call()
                    });
                    call(&record, "GET /api/jobs/{uuid}", 200, || {
                        a.get(&format!("{base}/api/jobs/{uuid}"))
                            .header("Authorization", &bearer)
                            .call()
                    });
                    let piece = call(&record, "GET /api/jobs/{uuid}/output", 200, || {
                        a.get(&format!("{base}/api/jobs/{uuid}/output?from={from}"))
                            .header("Authorization", &bearer)
                            .call()
                    });
                    from = piece
                        .and_then(|p| p["next_offset"].as_i64())
                        .unwrap_or(from);
                    call(&record, "GET /api/me", 200, || {
                        a.get(&format!("{base}/api/me"))
                            .header("Authorization", &bearer)
                            .call()
                    });
                }
            })
        })
        .collect();
    for r in readers {
        r.join().map_err(|_| "a reader panicked")?;
    }
    let mut mismatches = 0;
    for f in followers {
        let (uuid, text) = f.join().map_err(|_| "a follower panicked")?;
        let stored = call(&record, "GET /api/jobs/{uuid}/output.txt", 200, || {
            a.get(&format!("{base}/api/jobs/{uuid}/output.txt"))
                .header("Authorization", &bearer)
                .call()
        });
        if stored != Some(Value::String(text.clone())) {
            mismatches += 1;
            Record::error(
                &record,
                format!(
                    "follower of {uuid}: received {} bytes that differ from the stored output",
                    text.len()
                ),
            );
        }
    }
    let record = record.lock().unwrap_or_else(|p| p.into_inner());
    println!("| what | requests | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (name, times) in &record.times {
        let mut sorted = times.clone();
        sorted.sort_unstable();
        let ms = |us: u64| format!("{:.1} ms", us as f64 / 1000.0);
        println!(
            "| {name} | {} | {} | {} | {} |",
            sorted.len(),
            ms(percentile(&sorted, 0.5)),
            ms(percentile(&sorted, 0.99)),
            ms(*sorted.last().unwrap_or(&0))
        );
    }
    println!(
        "{} followers, {} with exactly the stored bytes; {} error(s)",
        args.followers,
        args.followers - mismatches,
        record.errors.len()
    );
    for e in record.errors.iter().take(20) {
        eprintln!("error: {e}");
    }
    if record.errors.is_empty() {
        Ok(std::process::ExitCode::SUCCESS)
    } else {
        Err(format!("{} request(s) failed", record.errors.len()).into())
    }
}
