//! `rowguard serve` driven over loopback by a real HTTP client, on every backend: every
//! endpoint's success and refusal, the status codes, tokens (expiry, revocation, cookie and
//! CSRF), throttling, bad bodies, two server processes on one database, and the CLI's
//! `users`, `login`, `logout` and `--remote` commands.

use std::io::{BufRead, BufReader, Read};
use std::process::Command;
use std::time::Duration;

use rowguard::testing::TestDatabase;
use serde_json::{json, Value};

rowguard::backend_tests!(
    logins_tokens_and_status_codes,
    cookies_need_the_csrf_header,
    jobs_over_http,
    rules_and_permissions_over_http,
    two_instances_act_as_one,
    the_cli_logs_in_and_acts_remotely,
    the_readme_curl_session_runs,
    every_keyed_endpoint_refuses_without_its_key,
    stopping_the_server_stops_its_jobs,
    users_over_http,
    decisions_over_http,
    policies_over_http,
);

/// With `[decision_log]` on, the server records its guarded writes (a job start is a create
/// on `job_executions`) and shows them to `rules.read` holders; the CLI reads the same log.
fn decisions_over_http(db: &TestDatabase) {
    let env = Env::new(db);
    let config = env.dir.join("rowguard.toml");
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str("\n[decision_log]\nmode = \"all\"\nflush_ms = 20\n");
    std::fs::write(&config, text).expect("config");
    let server = Server::start(&env, "a");
    let ann = Client::login(&server, "ann");
    let root = Client::login(&server, "root");
    let a = ann.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "ann"}, "wait_ms": 10000}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let uuid = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    // Written off the request path: within a few flush intervals.
    let mut found = Value::Null;
    for _ in 0..200 {
        let a = root.get("/api/rules/decisions?model=job_executions");
        assert_eq!(a.status, 200, "{a:?}");
        if let Some(e) = a.body.as_array().and_then(|l| {
            l.iter()
                .find(|e| e["action"] == "create" && e["row_key"] == uuid.as_str())
        }) {
            found = e.clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(found["decision"], "allowed", "{found}");
    assert_eq!(found["kind"], "write");
    assert_eq!(found["subject"]["sets"]["roles"][0], "support", "{found}");
    assert!(
        !found["rules"].as_array().expect("rules").is_empty(),
        "{found}"
    );
    // Bob may not see ann's job: his kill is a 404 to him, a refused update in the log.
    let bob = Client::login(&server, "bob");
    let a = bob.post(&format!("/api/jobs/{uuid}/kill"), json!({}));
    assert_eq!(a.status, 404, "{a:?}");
    let mut hidden = Value::Null;
    for _ in 0..200 {
        let a = root.get("/api/rules/decisions?model=job_executions&denied=true");
        if let Some(e) = a.body.as_array().and_then(|l| {
            l.iter()
                .find(|e| e["action"] == "update" && e["row_key"] == uuid.as_str())
        }) {
            hidden = e.clone();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(hidden["decision"], "denied", "{hidden}");
    assert_eq!(
        hidden["reason"], "the read rule hides the row (the rules listed grant read)",
        "{hidden}"
    );
    let a = root.get("/api/rules/decisions?denied=true&model=job_executions");
    assert!(
        a.body
            .as_array()
            .expect("list")
            .iter()
            .all(|e| e["decision"] != "allowed"),
        "{a:?}"
    );
    assert_eq!(root.get("/api/rules/decisions?limit=0").status, 422);
    assert_eq!(root.get("/api/rules/decisions?since=yesterday").status, 422);
    let a = root.get("/api/rules/decisions?colour=red");
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.error().contains("colour"), "{a:?}");
    assert_eq!(ann.get("/api/rules/decisions").status, 403);
    // The CLI on the database shows the same entry.
    let out = ok(rowguard(
        &env,
        &["rules", "decisions", "--model", "job_executions", "--json"],
        "",
        &[],
    ));
    let list: Value = serde_json::from_str(&out).expect("JSON");
    assert!(
        list.as_array()
            .expect("list")
            .iter()
            .any(|e| e["row_key"] == uuid.as_str() && e["decision"] == "allowed"),
        "{out}"
    );
    let out = ok(rowguard(
        &env,
        &["rules", "decisions", "--limit", "1"],
        "",
        &[],
    ));
    assert!(
        out.contains("denied  write update job_executions") && out.contains("as {"),
        "{out}"
    );
}

mod support;
use support::*;

fn logins_tokens_and_status_codes(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let anon = Client::anonymous(&server);

    assert_eq!(anon.get("/api/health").status, 200);
    let ready = anon.get("/api/ready");
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (200, Some("ready"))
    );

    // 401 without a token, with a malformed header, with an unknown token.
    let a = anon.get("/api/me");
    assert_eq!(a.status, 401, "{a:?}");
    assert!(a
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    assert!(a.error().contains("log in"), "{a:?}");
    let a = answer(
        agent()
            .get(&anon.url("/api/me"))
            .header("Authorization", "Basic abc")
            .call(),
    );
    assert_eq!(a.status, 401);
    let forged = Client {
        token: Some("rgt_0000".into()),
        ..Client::anonymous(&server)
    };
    assert_eq!(forged.get("/api/me").status, 401);

    // One answer for an unknown user and a wrong password.
    let unknown = anon.post(
        "/api/login",
        json!({"name": "mallory", "password": PASSWORD}),
    );
    let wrong = anon.post(
        "/api/login",
        json!({"name": "bob", "password": "not the password"}),
    );
    assert_eq!((unknown.status, wrong.status), (401, 401));
    assert_eq!(unknown.body, wrong.body);

    // Bad input: 422 naming the field, and never echoing the password.
    let a = anon.post(
        "/api/login",
        json!({"name": "ann", "password": 12345678901u64}),
    );
    assert_eq!(a.status, 422);
    assert!(
        a.error().contains("\"password\" must be a string") && !a.error().contains("12345678901"),
        "{a:?}"
    );
    let a = anon.post(
        "/api/login",
        json!({"name": "ann", "password": PASSWORD, "expires_in": 7200}),
    );
    assert_eq!(a.status, 422, "beyond token_ttl_max_secs: {a:?}");
    assert!(a.error().contains("from 1 to 3600"), "{a:?}");
    let a = anon.post(
        "/api/login",
        json!({"name": "ann", "password": PASSWORD, "expires_in": 0}),
    );
    assert_eq!(a.status, 422);
    let a = anon.post(
        "/api/login",
        json!({"name": "ann", "password": PASSWORD, "remember": true}),
    );
    assert_eq!(a.status, 422);
    assert!(a.error().contains("unknown field \"remember\""), "{a:?}");
    let a = anon.post_raw("/api/login", "application/json", b"{\"name\": ");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("bad_request")),
        "{a:?}"
    );
    let a = anon.post_raw("/api/login", "text/plain", b"name=ann");
    assert_eq!(a.status, 415, "{a:?}");
    let big = format!(
        "{{\"name\": \"ann\", \"password\": \"{}\"}}",
        "x".repeat(10_000)
    );
    let a = anon.post_raw("/api/login", "application/json", big.as_bytes());
    assert_eq!(a.status, 413, "{a:?}");
    assert_eq!(anon.get("/api/nothing-here").status, 404);

    // A good login; the token works; /api/me.
    let ann = Client::login(&server, "ann");
    let token = ann.token.clone().expect("token");
    assert!(
        token.starts_with("rgt_") && token.len() >= 4 + 32,
        "{token}"
    );
    let me = ann.get("/api/me");
    assert_eq!(me.status, 200, "{me:?}");
    assert_eq!(me.body["user"], "ann");
    assert_eq!(me.body["roles"], json!(["support"]));
    let permissions = me.body["permissions"].as_array().expect("permissions");
    assert!(
        permissions.contains(&json!("jobs.read")) && !permissions.contains(&json!("rules.write"))
    );

    // 403: a valid token without the permission.
    let a = ann.get("/api/rules");
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.error().contains("rules.read"), "{a:?}");

    // Logout revokes exactly that token.
    let second = Client::login(&server, "ann");
    assert_eq!(ann.post("/api/logout", json!({})).status, 200);
    assert_eq!(ann.get("/api/me").status, 401);
    assert_eq!(
        second.get("/api/me").status,
        200,
        "another token of ann lives on"
    );

    // Expiry (2 s: MySQL keeps whole seconds, and a loaded machine may take most of a
    // second between the login and the next request).
    let mut short = Client::anonymous(&server);
    let a = short.post(
        "/api/login",
        json!({"name": "bob", "password": PASSWORD, "expires_in": 2}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    short.token = a.body["token"].as_str().map(str::to_owned);
    assert_eq!(short.get("/api/me").status, 200);
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(short.get("/api/me").status, 401, "expired");

    // Lock and password change revoke every token; a locked user cannot log in.
    let dev = Client::login(&server, "dev");
    ok(rowguard(&env, &["users", "lock", "dev"], "", &[]));
    assert_eq!(dev.get("/api/me").status, 401);
    let a = anon.post("/api/login", json!({"name": "dev", "password": PASSWORD}));
    assert_eq!((a.status, a.body.clone()), (401, unknown.body.clone()));
    ok(rowguard(&env, &["users", "unlock", "dev"], "", &[]));
    let dev = Client::login(&server, "dev");
    ok(rowguard(
        &env,
        &["users", "passwd", "dev"],
        "another long password\n",
        &[],
    ));
    assert_eq!(dev.get("/api/me").status, 401);
    assert_eq!(
        anon.post("/api/login", json!({"name": "dev", "password": PASSWORD}))
            .status,
        401
    );
    let a = anon.post(
        "/api/login",
        json!({"name": "dev", "password": "another long password"}),
    );
    assert_eq!(a.status, 200);

    // Parallel guesses cannot slip past the limit: of 10 at once, 3 are tried, 7 wait.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..10)
            .map(|i| {
                let anon = Client::anonymous(&server);
                scope.spawn(move || {
                    anon.post(
                        "/api/login",
                        json!({"name": "carl", "password": format!("guess {i}!!!")}),
                    )
                    .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("login thread"))
            .collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );

    // Every error is JSON; nothing is cached.
    let a = answer(agent().delete(&anon.url("/api/me")).call());
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (405, Some("method_not_allowed")),
        "{a:?}"
    );
    let a = ann_again(&server).get("/api/jobs/%FF");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("bad_path")),
        "{a:?}"
    );
    assert_eq!(a.header("cache-control"), Some("no-store"));
    let a = ann_again(&server).get("/api/jobs?offset=9223372036854775807");
    assert_eq!(a.status, 422, "{a:?}");

    // Names are unique ignoring case.
    let (code, _, err) = rowguard(&env, &["users", "add", "ANN"], "a long enough one\n", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("user \"ann\" exists already"), "{err}");

    // Throttling per name: after 3 failures even the right password waits (429).
    for _ in 0..3 {
        assert_eq!(
            anon.post(
                "/api/login",
                json!({"name": "bob", "password": "wrong one!!"})
            )
            .status,
            401
        );
    }
    let a = anon.post("/api/login", json!({"name": "bob", "password": PASSWORD}));
    assert_eq!(a.status, 429, "{a:?}");
    assert!(a
        .header("retry-after")
        .and_then(|s| s.parse::<u64>().ok())
        .is_some_and(|s| s >= 1));
    assert_eq!(
        Client::login(&server, "ann").get("/api/me").status,
        200,
        "other names are not throttled"
    );

    // A login loop cannot fill the token table: a user keeps the newest 100.
    let max = rowguard_server::tokens::MAX_TOKENS_PER_USER;
    let first = Client::login(&server, "root");
    for _ in 0..max {
        Client::login(&server, "root");
    }
    assert_eq!(first.get("/api/me").status, 401, "the oldest token is gone");
    let out = ok(rowguard(&env, &["users", "list", "--json"], "", &[]));
    let users: Value = serde_json::from_str(&out).expect("json");
    let root = users
        .as_array()
        .into_iter()
        .flatten()
        .find(|u| u["name"] == "root")
        .expect("root");
    assert_eq!(root["active_tokens"], max);

    // Nothing secret in the log.
    let log = server.log();
    assert!(log.contains("failed login"), "{log}");
    for secret in [PASSWORD, "another long password", token.as_str()] {
        assert!(!log.contains(secret), "the log shows a secret: {log}");
    }
}

fn ann_again(server: &Server) -> Client<'_> {
    Client::login(server, "ann")
}

fn cookies_need_the_csrf_header(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let anon = Client::anonymous(&server);
    let a = anon.post("/api/login", json!({"name": "ann", "password": PASSWORD}));
    let cookie = a.header("set-cookie").expect("a session cookie").to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    let session = cookie.split(';').next().expect("name=value").to_owned();
    let csrf = a.body["csrf_token"]
        .as_str()
        .expect("csrf token")
        .to_owned();
    let with_cookie =
        |r: ureq::RequestBuilder<ureq::typestate::WithBody>| r.header("Cookie", &session);

    // Reading with the cookie needs no CSRF header.
    let me = answer(
        agent()
            .get(&anon.url("/api/me"))
            .header("Cookie", &session)
            .call(),
    );
    assert_eq!(me.status, 200, "{me:?}");
    // After a reload the page has lost the CSRF token: /api/me gives it back.
    assert_eq!(me.body["csrf_token"].as_str(), Some(csrf.as_str()));
    // Two session cookies (one planted by a sibling site): refused, not guessed between.
    let a = answer(
        agent()
            .get(&anon.url("/api/me"))
            .header("Cookie", format!("rowguard_session=rgt_planted; {session}"))
            .call(),
    );
    assert_eq!(a.status, 401, "{a:?}");

    // A state-changing request with the cookie alone is refused, and nothing starts.
    let start = json!({"command": "greet", "params": {"name": "ann"}});
    let a = answer(with_cookie(agent().post(&anon.url("/api/jobs"))).send_json(&start));
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.error().contains("x-csrf-token"), "{a:?}");
    let a = answer(
        with_cookie(agent().post(&anon.url("/api/jobs")))
            .header("X-CSRF-Token", "0".repeat(64))
            .send_json(&start),
    );
    assert_eq!(a.status, 403, "a wrong CSRF token");
    let jobs = answer(
        agent()
            .get(&anon.url("/api/jobs"))
            .header("Cookie", &session)
            .call(),
    );
    assert_eq!(jobs.body["jobs"], json!([]), "nothing was started");

    // With the header it goes through; bearer requests need none.
    let a = answer(
        with_cookie(agent().post(&anon.url("/api/jobs")))
            .header("X-CSRF-Token", &csrf)
            .send_json(&start),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let bearer = Client::login(&server, "ann");
    assert_eq!(bearer.post("/api/jobs", start.clone()).status, 201);

    // Logout by cookie needs the header too, then clears the cookie.
    let a = answer(with_cookie(agent().post(&anon.url("/api/logout"))).send_json(json!({})));
    assert_eq!(a.status, 403);
    let a = answer(
        with_cookie(agent().post(&anon.url("/api/logout")))
            .header("X-CSRF-Token", &csrf)
            .send_json(json!({})),
    );
    assert_eq!(a.status, 200);
    assert!(a
        .header("set-cookie")
        .is_some_and(|c| c.contains("Max-Age=0")));
    let me = answer(
        agent()
            .get(&anon.url("/api/me"))
            .header("Cookie", &session)
            .call(),
    );
    assert_eq!(me.status, 401);
    // A revoked cookie on a change is 401 (log in again), not a CSRF complaint.
    let a = answer(with_cookie(agent().post(&anon.url("/api/jobs"))).send_json(&start));
    assert_eq!(a.status, 401, "{a:?}");
}

/// Reads server-sent events from `response` until `stop` says so; returns (event, id, data).
fn read_events(
    response: ureq::http::Response<ureq::Body>,
    mut stop: impl FnMut(&str, &Value) -> bool,
) -> Vec<(String, Option<i64>, Value)> {
    let mut reader = BufReader::new(response.into_body().into_reader());
    let mut events = Vec::new();
    let (mut name, mut id, mut data) = (String::new(), None, String::new());
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line).expect("read the stream") == 0 {
            return events;
        }
        let l = line.trim_end_matches(['\n', '\r']);
        if l.is_empty() {
            if !data.is_empty() {
                let value: Value = serde_json::from_str(&data).expect("event data is JSON");
                let done = stop(&name, &value);
                events.push((std::mem::take(&mut name), id.take(), value));
                data.clear();
                if done {
                    return events;
                }
            }
            continue;
        }
        if let Some(v) = l.strip_prefix("event:") {
            name = v.trim().to_owned();
        } else if let Some(v) = l.strip_prefix("id:") {
            id = v.trim().parse().ok();
        } else if let Some(v) = l.strip_prefix("data:") {
            data.push_str(v.strip_prefix(' ').unwrap_or(v));
        }
    }
}

fn jobs_over_http(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let ann = Client::login(&server, "ann");
    let bob = Client::login(&server, "bob");
    let dev = Client::login(&server, "dev");
    let nobody = Client::login(&server, "nobody");

    // The commands a user may run: deploy needs jobs.kill.any, which support lacks.
    let a = ann.get("/api/commands");
    assert_eq!(a.status, 200, "{a:?}");
    let names: Vec<&str> = a
        .body
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(names, ["greet", "stubborn", "ticker"]);
    assert_eq!(a.body[0]["params"]["name"]["pattern"], "^[a-z]+$");
    assert!(a.body[0].get("program").is_none(), "programs are not shown");
    let a = dev.get("/api/commands");
    assert!(a
        .body
        .as_array()
        .expect("list")
        .iter()
        .any(|c| c["name"] == "deploy"));
    assert_eq!(nobody.get("/api/commands").status, 403);

    // Start and wait: output and exit code.
    let a = ann.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "ann"}, "wait_ms": 10000}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["job"]["status"], "completed");
    assert_eq!(a.body["job"]["exit_code"], 0);
    assert_eq!(a.body["output"], "hello ann\n");
    let greeted = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    assert_eq!(
        a.header("location"),
        Some(format!("/api/jobs/{greeted}").as_str())
    );

    // Refusals: 422 for bad input, 403 for a command the roles lack; nothing written.
    let a = ann.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "Robert'); DROP TABLE users;--"}}),
    );
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.error().contains("parameter \"name\""), "{a:?}");
    let a = ann.post("/api/jobs", json!({"command": "rm", "params": {}}));
    assert_eq!(a.status, 422);
    assert!(
        a.error().contains("greet, stubborn, ticker") && !a.error().contains("deploy"),
        "{a:?}"
    );
    assert_eq!(
        ann.post("/api/jobs", json!({"command": "deploy"})).status,
        403
    );
    assert_eq!(
        ann.post("/api/jobs", json!({"command": "greet", "wait_ms": 999999}))
            .status,
        422
    );
    assert_eq!(
        ann.post("/api/jobs", json!({"commnd": "greet"})).status,
        422
    );
    assert_eq!(
        nobody.post("/api/jobs", json!({"command": "greet"})).status,
        403
    );
    let a = ann.get("/api/jobs");
    assert_eq!(
        a.body["jobs"].as_array().map(Vec::len),
        Some(1),
        "only the one job: {a:?}"
    );

    // A role that may start jobs but not read them: the start is 201 without a row, and
    // waiting for the output needs the output key.
    let runner = Client::login(&server, "runner");
    let a = runner.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "r"}, "wait_ms": 1000}),
    );
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.error().contains("jobs.output.read"), "{a:?}");
    let a = runner.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "r"}}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert!(
        a.body["uuid"].as_str().is_some() && a.body["job"].is_null(),
        "{a:?}"
    );
    // With the output key, waiting for a job the rules hide is 201 too (not 404: a client
    // that retried would start it twice), with neither row nor output.
    let blind = Client::login(&server, "blind");
    let a = blind.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "b"}, "wait_ms": 5000}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert!(
        a.body["job"].is_null() && a.body.get("output").is_none(),
        "{a:?}"
    );

    // Requests never hold a connection while waiting for another: more starts that wait at
    // once than the pool has connections (4) all succeed.
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let dev = Client {
                    token: dev.token.clone(),
                    ..Client::anonymous(&server)
                };
                scope.spawn(move || {
                    dev.post(
                        "/api/jobs",
                        json!({"command": "greet", "params": {"name": "x"}, "wait_ms": 10000}),
                    )
                    .status
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start thread"))
            .collect()
    });
    assert_eq!(statuses, [201; 8]);

    // Rows the rules hide are 404, like missing ones; devops reads every job.
    assert_eq!(bob.get(&format!("/api/jobs/{greeted}")).status, 404);
    assert_eq!(bob.get(&format!("/api/jobs/{greeted}/output")).status, 404);
    assert_eq!(ann.get("/api/jobs/no-such-job").status, 404);
    assert_eq!(dev.get(&format!("/api/jobs/{greeted}")).status, 200);
    assert_eq!(nobody.get("/api/jobs").status, 403);

    // History: filters and paging.
    for name in ["b", "c", "d"] {
        assert_eq!(
            bob.post(
                "/api/jobs",
                json!({"command": "greet", "params": {"name": name}, "wait_ms": 10000})
            )
            .status,
            201
        );
    }
    let a = dev.get("/api/jobs?limit=2&user=bob");
    assert_eq!(a.body["jobs"].as_array().map(Vec::len), Some(2));
    assert_eq!(a.body["next_offset"], 2);
    let b = dev.get("/api/jobs?limit=2&offset=2&user=bob");
    assert_eq!(b.body["jobs"].as_array().map(Vec::len), Some(1));
    assert_eq!(b.body["next_offset"], Value::Null);
    let all: Vec<&Value> = a.body["jobs"]
        .as_array()
        .into_iter()
        .chain(b.body["jobs"].as_array())
        .flatten()
        .collect();
    let mut uuids: Vec<&str> = all.iter().filter_map(|j| j["uuid"].as_str()).collect();
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 3, "pages do not overlap");
    assert_eq!(
        dev.get("/api/jobs?user=ann").body["jobs"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(
        dev.get("/api/jobs?user=ann&status=failed").body["jobs"],
        json!([])
    );
    assert_eq!(dev.get("/api/jobs?command=ticker").body["jobs"], json!([]));
    assert_eq!(
        dev.get("/api/jobs?since=2000-01-01T00:00:00Z&user=bob")
            .body["jobs"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(
        dev.get("/api/jobs?until=2000-01-01T00:00:00Z").body["jobs"],
        json!([])
    );
    assert_eq!(
        bob.get("/api/jobs").body["jobs"].as_array().map(Vec::len),
        Some(3),
        "bob sees his own"
    );
    for bad in [
        "status=stopped",
        "since=yesterday",
        "limit=0",
        "limit=100000",
        "offset=-1",
        "colour=red",
    ] {
        let a = dev.get(&format!("/api/jobs?{bad}"));
        assert_eq!(a.status, 422, "{bad}: {a:?}");
    }

    // Output: long poll from an offset, the download, the event stream with resume.
    let a = ann.post("/api/jobs", json!({"command": "ticker"}));
    assert_eq!(a.status, 201);
    let ticker = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let a = ann.get(&format!("/api/jobs/{ticker}/output?from=0&wait_ms=5000"));
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("tick 1")),
        "{a:?}"
    );
    let response = agent()
        .get(&ann.url(&format!("/api/jobs/{ticker}/events")))
        .header(
            "Authorization",
            format!("Bearer {}", ann.token.as_deref().unwrap_or("")),
        )
        .call()
        .expect("stream");
    assert_eq!(response.status().as_u16(), 200);
    // Read two output events, then drop the connection and resume from the last id.
    let mut seen = 0;
    let first = read_events(response, |name, _| {
        seen += usize::from(name == "output");
        seen == 2 || name == "end"
    });
    let last_id = first
        .iter()
        .rev()
        .find_map(|(_, id, _)| *id)
        .expect("an id");
    let response = agent()
        .get(&ann.url(&format!("/api/jobs/{ticker}/events?from=0")))
        .header(
            "Authorization",
            format!("Bearer {}", ann.token.as_deref().unwrap_or("")),
        )
        .header("Last-Event-ID", last_id.to_string())
        .call()
        .expect("stream");
    let rest = read_events(response, |name, _| name == "end");
    let (end_name, _, end_job) = rest.last().expect("an end event");
    assert_eq!(
        (end_name.as_str(), end_job["status"].as_str()),
        ("end", Some("completed"))
    );
    let streamed: String = first
        .iter()
        .chain(&rest)
        .filter(|(n, _, _)| n == "output")
        .map(|(_, _, d)| d["text"].as_str().unwrap_or(""))
        .collect();
    let stored = answer(
        agent()
            .get(&ann.url(&format!("/api/jobs/{ticker}/output.txt")))
            .header(
                "Authorization",
                format!("Bearer {}", ann.token.as_deref().unwrap_or("")),
            )
            .call(),
    );
    assert_eq!(
        stored.header("content-disposition"),
        Some(format!("attachment; filename=\"job-{ticker}.txt\"").as_str())
    );
    assert_eq!(
        Value::String(streamed.clone()),
        stored.body,
        "exactly the bytes stored, none twice"
    );
    assert_eq!(streamed.lines().count(), 6);
    assert_eq!(bob.get(&format!("/api/jobs/{ticker}/events")).status, 404);
    assert_eq!(
        ann.get(&format!("/api/jobs/{ticker}/output?from=-1"))
            .status,
        422
    );

    // A stream follows the user's current roles: when ann loses hers, her stream ends with an
    // error event within about a second.
    let a = bob.post("/api/jobs", json!({"command": "stubborn"}));
    let bobs = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let response = agent()
        .get(&bob.url(&format!("/api/jobs/{bobs}/events")))
        .header(
            "Authorization",
            format!("Bearer {}", bob.token.as_deref().unwrap_or("")),
        )
        .call()
        .expect("stream");
    let mut demoted = false;
    let events = read_events(response, |name, _| {
        if name == "output" && !demoted {
            demoted = true;
            ok(rowguard(&env, &["users", "roles", "bob"], "", &[]));
        }
        name != "output"
    });
    let (last, _, data) = events.last().expect("events");
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(data["code"], "forbidden", "{data}");
    assert_eq!(
        dev.post(&format!("/api/jobs/{bobs}/kill"), json!({}))
            .status,
        202
    );
    ok(rowguard(
        &env,
        &["users", "roles", "bob", "support"],
        "",
        &[],
    ));

    // Kill: 202, then 409 while the kill is in progress, then the job ends killed.
    let a = ann.post("/api/jobs", json!({"command": "stubborn"}));
    let stubborn = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let a = ann.get(&format!("/api/jobs/{stubborn}/output?wait_ms=5000"));
    assert!(
        a.body["text"].as_str().is_some_and(|t| t.contains("ready")),
        "{a:?}"
    );
    let a = bob.post(&format!("/api/jobs/{stubborn}/kill"), json!({}));
    assert_eq!(a.status, 404, "bob cannot see it: {a:?}");
    let a = ann.post(&format!("/api/jobs/{stubborn}/kill"), json!({}));
    assert_eq!(a.status, 202, "{a:?}");
    let a = ann.post(&format!("/api/jobs/{stubborn}/kill"), json!({}));
    assert_eq!(a.status, 409, "{a:?}");
    let job = ann.wait_for_end(&stubborn);
    assert_eq!(
        (job["status"].as_str(), job["killed_by"].as_str()),
        (Some("killed"), Some("ann")),
        "{job}"
    );
    let a = ann.post(&format!("/api/jobs/{stubborn}/kill"), json!({}));
    assert_eq!(a.status, 409, "not running: {a:?}");
    assert_eq!(
        nobody
            .post(&format!("/api/jobs/{stubborn}/kill"), json!({}))
            .status,
        403
    );
    // Open streams are bounded (max_streams = 3 here): the fourth is 503, in JSON.
    let a = ann.post("/api/jobs", json!({"command": "stubborn"}));
    let long = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let open: Vec<_> = (0..3)
        .map(|_| {
            agent()
                .get(&ann.url(&format!("/api/jobs/{long}/events")))
                .header(
                    "Authorization",
                    format!("Bearer {}", ann.token.as_deref().unwrap_or("")),
                )
                .call()
                .expect("stream")
        })
        .collect();
    assert!(open.iter().all(|r| r.status().as_u16() == 200));
    let a = ann.get(&format!("/api/jobs/{long}/events"));
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (503, Some("busy")),
        "{a:?}"
    );
    drop(open);
    assert_eq!(
        ann.post(&format!("/api/jobs/{long}/kill"), json!({}))
            .status,
        202
    );
    ann.wait_for_end(&long);
}

fn rules_and_permissions_over_http(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let root = Client::login(&server, "root");
    let dev = Client::login(&server, "dev");
    let ann = Client::login(&server, "ann");

    // Reading: devops may (rules.read), support may not.
    let a = dev.get("/api/rules?model=job_executions");
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body
            .as_array()
            .is_some_and(|r| r.len() == 4 && r.iter().all(|r| r["valid"] == true)),
        "{a:?}"
    );
    assert_eq!(ann.get("/api/rules").status, 403);
    assert_eq!(dev.get("/api/models").status, 200);
    let models = dev.get("/api/models");
    assert!(models
        .body
        .as_array()
        .expect("models")
        .iter()
        .any(|m| m["name"] == "contacts" && m["table"] == "contacts"));
    let rel = dev.get("/api/relations");
    assert!(rel.body["relations"]
        .as_array()
        .expect("relations")
        .iter()
        .any(|r| r["name"] == "contact_type"));
    assert!(dev
        .get("/api/set-types")
        .body
        .as_array()
        .expect("names")
        .contains(&json!("roles")));

    // Writing needs rules.write (admin's "*"): 403 for devops, nothing stored.
    let rule = json!({"read": {"search": {"owner_id": "=7"}}});
    assert_eq!(
        dev.put("/api/rules/roles/auditor/contacts", rule.clone())
            .status,
        403
    );

    // An invalid rule: 422 with the text `rules check` prints for it; nothing stored.
    let bad = json!({"read": {"search": {"owner": "=7"}}});
    let a = root.put("/api/rules/roles/auditor/contacts", bad.clone());
    assert_eq!(a.status, 422, "{a:?}");
    let checked = root.post(
        "/api/rules/check",
        json!({"model": "contacts", "rules": bad}),
    );
    assert_eq!(checked.body["valid"], false);
    assert_eq!(a.error(), checked.body["error"].as_str().expect("error"));
    assert!(a.error().contains("unknown column \"owner\""), "{a:?}");
    // The same text the CLI's `rules check` prints once such a row is stored by SQL.
    ok(rowguard(
        &env,
        &["rules", "set", "roles", "auditor", "contacts", "-"],
        "{\"read\":\"*\"}",
        &[],
    ));
    {
        let mut conn = rowguard::establish(&rowguard::DatabaseUrl::parse(&env.url).expect("url"))
            .expect("connect");
        rowguard::store::put_rule(&mut conn, "roles", "auditor", "contacts", &bad.to_string())
            .expect("raw write");
    }
    let (_, cli_check, _) = rowguard(&env, &["rules", "check"], "", &[]);
    assert!(
        cli_check.contains(a.error()),
        "CLI: {cli_check}\nAPI: {}",
        a.error()
    );
    let stored = dev.get("/api/rules/check");
    assert_eq!(stored.body["invalid"][0]["error"].as_str(), Some(a.error()));
    assert_eq!(ann.get("/api/rules/check").status, 403);
    // Replace, then the same again, then delete twice.
    let a = root.put("/api/rules/roles/auditor/contacts", rule.clone());
    assert_eq!(
        (a.status, a.body["result"].as_str()),
        (200, Some("changed")),
        "{a:?}"
    );
    let a = root.put("/api/rules/roles/auditor/contacts", rule.clone());
    assert_eq!(
        (a.status, a.body["result"].as_str()),
        (200, Some("unchanged"))
    );
    let a = root.put("/api/rules/roles/helpdesk/contacts", rule.clone());
    assert_eq!((a.status, a.body["result"].as_str()), (201, Some("added")));
    let a = root.put("/api/rules/teams/x/contacts", rule.clone());
    assert_eq!(a.status, 422, "unknown set type: {a:?}");
    let a = root.put("/api/rules/roles/x/nothing", rule.clone());
    assert_eq!(a.status, 422, "unknown model: {a:?}");
    assert_eq!(
        root.put("/api/rules/roles/x/contacts", json!(["read"]))
            .status,
        422
    );
    assert_eq!(
        root.delete("/api/rules/roles/helpdesk/contacts").status,
        204
    );
    assert_eq!(
        root.delete("/api/rules/roles/helpdesk/contacts").status,
        404
    );

    // Explain and try for any subject.
    let a = dev.post(
        "/api/rules/explain",
        json!({"subject": {"roles": ["auditor"]}, "model": "contacts", "action": "read"}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(
        a.body["text"]
            .as_str()
            .is_some_and(|t| t.contains("owner_id")),
        "{a:?}"
    );
    let a = dev.post(
        "/api/rules/explain",
        json!({"subject": {}, "model": "contacts", "action": "fly"}),
    );
    assert_eq!(a.status, 422);
    // try reads data as any subject (admin's absolute rights too): its own key, admin's only.
    let admin_view = json!({"subject": {"roles": ["admin"]}, "model": "job_executions",
        "action": "read", "columns": true});
    let a = dev.post("/api/rules/try", admin_view.clone());
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.error().contains("rules.try"), "{a:?}");
    assert_eq!(root.post("/api/rules/try", admin_view).status, 200);
    let a = root.post(
        "/api/rules/try",
        json!({"subject": {"roles": ["support"]}, "attributes": {"id": "ann"},
        "model": "job_executions", "action": "read"}),
    );
    assert_eq!(
        (a.status, a.body["keys"].clone()),
        (200, json!([])),
        "{a:?}"
    );
    assert_eq!(
        ann.post(
            "/api/rules/try",
            json!({"subject": {}, "model": "contacts", "action": "read"})
        )
        .status,
        403
    );

    // Set types: add, refuse to delete a used or built-in one, delete.
    assert_eq!(
        root.post("/api/set-types", json!({"name": "teams"})).status,
        201
    );
    assert_eq!(
        root.post("/api/set-types", json!({"name": "teams"})).status,
        200
    );
    assert_eq!(
        root.post("/api/set-types", json!({"name": "bad name"}))
            .status,
        422
    );
    assert_eq!(
        root.put("/api/rules/teams/red/contacts", rule.clone())
            .status,
        201
    );
    assert_eq!(root.delete("/api/set-types/teams").status, 409);
    assert_eq!(root.delete("/api/set-types/roles").status, 409);
    assert_eq!(
        root.delete("/api/set-types/ROLES").status,
        409,
        "built in, whatever the case"
    );
    assert_eq!(root.delete("/api/set-types/ro%20les").status, 422);
    assert_eq!(root.delete("/api/rules/teams/red/contacts").status, 204);
    assert_eq!(root.delete("/api/set-types/teams").status, 204);
    assert_eq!(root.delete("/api/set-types/teams").status, 404);

    // The permission matrix (inheritance applied).
    let a = dev.get("/api/permissions");
    assert_eq!(a.status, 200, "{a:?}");
    let holders = a.body["matrix"]["jobs.read"].as_array().expect("holders");
    for role in ["admin", "devops", "support"] {
        assert!(holders.contains(&json!(role)), "{role}: {a:?}");
    }
    assert_eq!(ann.get("/api/permissions").status, 403);
}

fn two_instances_act_as_one(db: &TestDatabase) {
    let env = Env::new(db);
    let one = Server::start(&env, "one");
    let two = Server::start(&env, "two");

    // A token issued by one is accepted by the other; a logout on one is refused by the
    // other at once.
    let ann = Client::login(&one, "ann");
    let ann_two = Client {
        token: ann.token.clone(),
        ..Client::anonymous(&two)
    };
    assert_eq!(ann_two.get("/api/me").status, 200);
    assert_eq!(ann.post("/api/logout", json!({})).status, 200);
    assert_eq!(ann_two.get("/api/me").status, 401);

    // A password change (through the CLI) revokes on both.
    let bob = Client::login(&two, "bob");
    let bob_one = Client {
        token: bob.token.clone(),
        ..Client::anonymous(&one)
    };
    assert_eq!(bob_one.get("/api/me").status, 200);
    ok(rowguard(
        &env,
        &["users", "passwd", "bob"],
        "a brand new password\n",
        &[],
    ));
    assert_eq!(bob_one.get("/api/me").status, 401);
    assert_eq!(bob.get("/api/me").status, 401);

    // A kill requested through two stops a job run by one.
    let ann = Client::login(&one, "ann");
    let a = ann.post("/api/jobs", json!({"command": "stubborn"}));
    assert_eq!(a.status, 201);
    let uuid = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let ann_two = Client {
        token: ann.token.clone(),
        ..Client::anonymous(&two)
    };
    let a = ann_two.get(&format!("/api/jobs/{uuid}/output?wait_ms=5000"));
    assert!(
        a.body["text"].as_str().is_some_and(|t| t.contains("ready")),
        "{a:?}"
    );
    let a = ann_two.post(&format!("/api/jobs/{uuid}/kill"), json!({}));
    assert_eq!(a.status, 202, "{a:?}");
    let job = ann_two.wait_for_end(&uuid);
    assert_eq!(job["status"], "killed", "{job}");
    assert!(job["instance_id"].as_str().is_some_and(|i| !i.is_empty()));
    let other = Client::login(&two, "dev").get(&format!("/api/jobs/{uuid}"));
    assert_eq!(other.body["instance_id"], job["instance_id"]);
}

fn the_cli_logs_in_and_acts_remotely(db: &TestDatabase) {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let at = format!("http://{}", server.base);

    // Before login: a clear error.
    let (code, _, err) = rowguard(&env, &["jobs", "--remote", "list"], "", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("not logged in"), "{err}");

    // A URL without its scheme is named as such.
    let (code, _, err) = rowguard(
        &env,
        &["login", "--server", "127.0.0.1:8080", "--name", "ann"],
        "x\n",
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("with its scheme"), "{err}");

    // Plain HTTP to another machine is refused before anything is sent.
    let (code, _, err) = rowguard(
        &env,
        &[
            "login",
            "--server",
            "http://192.0.2.1:8080",
            "--name",
            "ann",
        ],
        "x\n",
        &[],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("unencrypted") && err.contains("--allow-http"),
        "{err}"
    );

    // A wrong password: an error, no session file.
    let (code, _, err) = rowguard(
        &env,
        &["login", "--server", &at, "--name", "ann"],
        "wrong password\n",
        &[],
    );
    assert_ne!(code, 0);
    assert!(
        err.contains("401") && err.contains("invalid name or password"),
        "{err}"
    );
    assert!(!env.dir.join("session.json").exists());

    let out = ok(rowguard(
        &env,
        &["login", "--server", &at, "--name", "ann"],
        &format!("{PASSWORD}\n"),
        &[],
    ));
    assert!(out.contains("logged in"), "{out}");
    let session = env.dir.join("session.json");
    let mode = std::fs::metadata(&session)
        .expect("session file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "readable by its owner only");
    let mut text = String::new();
    std::fs::File::open(&session)
        .and_then(|mut f| f.read_to_string(&mut text))
        .expect("read");
    assert!(!text.contains(PASSWORD));

    // Jobs as ann, against the server.
    let out = ok(rowguard(
        &env,
        &["jobs", "--remote", "run", "greet", "--param", "name=remote"],
        "",
        &[],
    ));
    assert_eq!(out, "hello remote\n");
    let out = ok(rowguard(
        &env,
        &["jobs", "--remote", "list", "--json"],
        "",
        &[],
    ));
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list[0]["user"], "ann");
    let (code, _, err) = rowguard(
        &env,
        &["jobs", "--remote", "list", "--as", "roles=admin"],
        "",
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("--as and --attr do not apply"), "{err}");
    // Rules: support lacks rules.read, and the server says so.
    let (code, _, err) = rowguard(&env, &["rules", "--remote", "list"], "", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("403") && err.contains("rules.read"), "{err}");

    // Logout revokes the token on the server and removes the file.
    let token = serde_json::from_str::<Value>(&text).expect("session")["token"]
        .as_str()
        .expect("token")
        .to_owned();
    ok(rowguard(&env, &["logout"], "", &[]));
    assert!(!session.exists());
    let revoked = Client {
        token: Some(token),
        ..Client::anonymous(&server)
    };
    assert_eq!(revoked.get("/api/me").status, 401);

    // users list shows the users and their roles.
    let out = ok(rowguard(&env, &["users", "list", "--json"], "", &[]));
    let users: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(users.as_array().map(Vec::len), Some(7));
    let (code, _, err) = rowguard(
        &env,
        &["users", "add", "eve", "--role", "superhero"],
        "a long enough one\n",
        &[],
    );
    assert_ne!(code, 0);
    assert!(err.contains("no role named \"superhero\""), "{err}");
    let (code, _, err) = rowguard(&env, &["users", "add", "eve"], "short\n", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("at least 10 characters"), "{err}");
    let (code, _, err) = rowguard(&env, &["users", "add", "ann"], "a long enough one\n", &[]);
    assert_ne!(code, 0);
    assert!(err.contains("exists already"), "{err}");

    // Logout while the server is down keeps the session file (the token is not revoked yet).
    ok(rowguard(
        &env,
        &["login", "--server", &at, "--name", "ann"],
        &format!("{PASSWORD}\n"),
        &[],
    ));
    drop(server);
    let (code, _, err) = rowguard(&env, &["logout"], "", &[]);
    assert_ne!(code, 0);
    assert!(
        err.contains("is `rowguard serve` running") && err.contains("the session file stays"),
        "{err}"
    );
    assert!(session.exists());
}

/// The README's curl session, run as written against a live server: what it prints is what
/// its comments say.
fn the_readme_curl_session_runs(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let script = readme_block("<!-- curl session: run by cli/tests/serve.rs -->", "sh");
    let expected: Vec<&str> = script
        .lines()
        .filter_map(|l| l.rsplit_once("  # ").map(|(_, c)| c.trim()))
        .collect();
    assert_eq!(expected.len(), 8, "{script}");
    let out = Command::new("bash")
        .args(["-c", &script])
        .env("SERVER", format!("http://{}", server.base))
        .output()
        .expect("bash");
    let printed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        printed.lines().collect::<Vec<_>>(),
        expected,
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A user whose roles hold none of the keys gets 403 from every keyed endpoint, with a valid
/// request, and nothing is written; the table below must name every endpoint of the router.
fn every_keyed_endpoint_refuses_without_its_key(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let nobody = Client::login(&server, "nobody");
    let subject = json!({"subject": {"roles": ["support"]}, "model": "contacts", "action": "read"});
    let question = json!({"subject": {"roles": ["support"]}, "action": "server:Delete",
                          "resource": "arn:rowguard:default:local:1:server/1"});
    let requests: Vec<(&str, &str, Value)> = vec![
        ("GET", "/api/commands", Value::Null),
        (
            "POST",
            "/api/jobs",
            json!({"command": "greet", "params": {"name": "x"}}),
        ),
        ("GET", "/api/jobs", Value::Null),
        ("GET", "/api/jobs/{uuid}", Value::Null),
        ("GET", "/api/jobs/{uuid}/output", Value::Null),
        ("GET", "/api/jobs/{uuid}/output.txt", Value::Null),
        ("GET", "/api/jobs/{uuid}/events", Value::Null),
        ("POST", "/api/jobs/{uuid}/kill", json!({})),
        ("GET", "/api/rules", Value::Null),
        (
            "PUT",
            "/api/rules/{set_type}/{set_value}/{model}",
            json!({"read": "*"}),
        ),
        (
            "DELETE",
            "/api/rules/{set_type}/{set_value}/{model}",
            Value::Null,
        ),
        ("GET", "/api/rules/check", Value::Null),
        (
            "POST",
            "/api/rules/check",
            json!({"model": "contacts", "rules": {"read": "*"}}),
        ),
        ("POST", "/api/rules/explain", subject.clone()),
        ("POST", "/api/rules/try", subject),
        ("GET", "/api/rules/grid?model=job_executions", Value::Null),
        ("GET", "/api/rules/history", Value::Null),
        ("GET", "/api/rules/decisions", Value::Null),
        ("POST", "/api/rules/history/{id}/restore", json!({})),
        ("GET", "/api/set-types", Value::Null),
        ("POST", "/api/set-types", json!({"name": "teams"})),
        ("DELETE", "/api/set-types/{name}", Value::Null),
        ("GET", "/api/policies", Value::Null),
        ("GET", "/api/policies/check", Value::Null),
        (
            "POST",
            "/api/policies/check",
            json!({"policy": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        ),
        ("POST", "/api/policies/explain", question.clone()),
        ("POST", "/api/policies/try", question),
        ("GET", "/api/policies/{set_type}/{set_value}", Value::Null),
        (
            "PUT",
            "/api/policies/{set_type}/{set_value}",
            json!([{"Effect": "Allow", "Action": "*", "Resource": "*"}]),
        ),
        (
            "DELETE",
            "/api/policies/{set_type}/{set_value}",
            Value::Null,
        ),
        ("GET", "/api/models", Value::Null),
        ("GET", "/api/relations", Value::Null),
        ("GET", "/api/permissions", Value::Null),
        ("GET", "/api/users", Value::Null),
        (
            "POST",
            "/api/users",
            json!({"name": "eve", "password": "a long enough one"}),
        ),
        (
            "PUT",
            "/api/users/{name}/roles",
            json!({"roles": ["admin"]}),
        ),
        (
            "POST",
            "/api/users/{name}/password",
            json!({"password": "a long enough one"}),
        ),
        ("POST", "/api/users/{name}/lock", json!({})),
        ("POST", "/api/users/{name}/unlock", json!({})),
    ];
    let keyed: Vec<(&str, &str)> = rowguard_server::ENDPOINTS
        .iter()
        .filter(|(_, _, key)| key.is_some())
        .map(|(m, p, _)| (*m, *p))
        .collect();
    let tried: Vec<(&str, &str)> = requests
        .iter()
        .map(|(m, p, _)| (*m, p.split('?').next().unwrap_or(p)))
        .collect();
    assert_eq!(tried, keyed, "every keyed endpoint, in the router's order");
    // A real job of ann's, so that the job paths name one that exists.
    let ann = Client::login(&server, "ann");
    let a = ann.post(
        "/api/jobs",
        json!({"command": "greet", "params": {"name": "ann"}, "wait_ms": 10000}),
    );
    let uuid = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    for (method, path, body) in requests {
        let concrete = path
            .replace("{uuid}", &uuid)
            .replace("{set_type}", "roles")
            .replace("{set_value}", "support")
            .replace("{model}", "job_executions")
            .replace("{id}", "1")
            .replace(
                "{name}",
                if path.starts_with("/api/users") {
                    "nobody"
                } else {
                    "groups"
                },
            );
        let a = match method {
            "GET" => nobody.get(&concrete),
            "POST" => nobody.post(&concrete, body),
            "PUT" => nobody.put(&concrete, body),
            _ => nobody.delete(&concrete),
        };
        assert_eq!(a.status, 403, "{method} {path}: {a:?}");
        assert_eq!(a.body["code"], "forbidden", "{method} {path}");
    }
    // Nothing was written: the rule and the set type are there, one job only.
    let root = Client::login(&server, "root");
    assert!(root
        .get("/api/rules?model=job_executions")
        .body
        .as_array()
        .is_some_and(|r| r.iter().any(|r| r["set_value"] == "support")));
    assert!(root
        .get("/api/set-types")
        .body
        .as_array()
        .is_some_and(|t| t.contains(&json!("groups"))));
    assert_eq!(
        root.get("/api/jobs").body["jobs"].as_array().map(Vec::len),
        Some(1)
    );
    let list = root.get("/api/users");
    assert!(
        list.body.as_array().is_some_and(|u| u.len() == 7),
        "no user was added: {list:?}"
    );
    assert_eq!(
        nobody.get("/api/me").status,
        200,
        "nobody was neither locked nor changed"
    );
    // Permission keys by policy: a statement grants nobody a key no role gives, and a Deny
    // takes one from ann that her role holds.
    ok(rowguard(
        &env,
        &[
            "policies",
            "set",
            "--set-type",
            "id",
            "--set-value",
            "nobody",
            "-",
        ],
        r#"[{"Effect": "Allow", "Action": "rowguard:rules.read", "Resource": "*"}]"#,
        &[],
    ));
    ok(rowguard(
        &env,
        &[
            "policies",
            "set",
            "--set-type",
            "id",
            "--set-value",
            "ann",
            "-",
        ],
        r#"[{"Effect": "Deny", "Action": "rowguard:jobs.read", "Resource": "arn:rowguard:rowguard:*:*:permission/jobs.read"}]"#,
        &[],
    ));
    let a = nobody.get("/api/models");
    assert_eq!(a.status, 200, "granted by the statement: {a:?}");
    // /api/me says so, as the endpoints decide (the console's menus follow it).
    let has = |who: &Client, key: &str| {
        who.get("/api/me").body["permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!(key)))
    };
    assert!(has(&nobody, "rules.read"));
    assert!(!has(&ann, "jobs.read"));
    assert!(has(&ann, "jobs.command.run"), "her other keys stay");
    let a = ann.get("/api/jobs");
    assert_eq!(a.status, 403, "denied by the statement: {a:?}");
    assert!(
        a.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("a policy statement denies it")),
        "{a:?}"
    );
}

/// Policies over HTTP and with `policies --remote`: `rules.read` lists, gets, explains and
/// tries them; `rules.write` stores them (validated first: a bad ARN or a key given twice is
/// 422 naming it, and nothing is stored) and deletes them; `rules.check` checks them, a DBA's
/// broken one included.
fn policies_over_http(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let root = Client::login(&server, "root");
    let dev = Client::login(&server, "dev");
    let ann = Client::login(&server, "ann");
    let servers = json!([{"Sid": "servers", "Effect": "Allow", "Action": "server:*",
                          "Resource": "arn:rowguard:default:local:123:server/*"}]);
    let path = "/api/policies/roles/support";

    // Writing needs rules.write (devops lacks it).
    let a = dev.put(path, servers.clone());
    assert_eq!(a.status, 403, "{a:?}");
    let a = root.put(path, servers.clone());
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["result"], "added");
    assert_eq!(a.body["statements"], 1);
    assert_eq!(a.body["warnings"], json!([]));
    let a = root.put(path, servers.clone());
    assert_eq!((a.status, &a.body["result"]), (200, &json!("unchanged")));

    // Refused before anything is stored: the error names the statement and field.
    let bad =
        json!([{"Effect": "Allow", "Action": "server:*", "Resource": "arn:rowguard:default"}]);
    let a = root.put(path, bad);
    assert_eq!(a.status, 422, "{a:?}");
    assert!(
        a.error()
            .starts_with(r#"policy roles "support": statement 0, field "Resource": invalid ARN"#),
        "{a:?}"
    );
    let twice =
        br#"[{"Effect": "Deny", "Effect": "Allow", "Action": "server:*", "Resource": "*"}]"#;
    let a = root.put_raw(path, "application/json", twice);
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.error().contains(r#"key "Effect" appears twice"#), "{a:?}");
    let a = root.put_raw(path, "application/json", b"[{");
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (400, Some("bad_request")),
        "{a:?}"
    );
    let a = root.put_raw(path, "text/plain", b"[]");
    assert_eq!(a.status, 415, "{a:?}");
    let a = root.put("/api/policies/rolez/support", servers.clone());
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.error().contains(r#"no set type named "rolez""#), "{a:?}");
    assert_eq!(
        dev.get(path).body["policy"],
        servers,
        "nothing of those was stored"
    );

    // A statement aimed at a model that names none of its rows is stored, with a warning.
    let typo = json!([{"Effect": "Deny", "Action": "contacts:Read",
                       "Resource": "arn:rowguard:defualt:local:*:contacts/3"}]);
    let a = root.put("/api/policies/roles/auditor", typo);
    assert_eq!(a.status, 201, "{a:?}");
    assert!(
        a.body["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("names no row of model contacts")),
        "{a:?}"
    );

    // Reading needs rules.read (support lacks it).
    assert_eq!(ann.get("/api/policies").status, 403);
    let list = dev.get("/api/policies");
    assert_eq!(list.status, 200, "{list:?}");
    let names: Vec<(&str, &str, bool)> = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|p| {
            (
                p["set_type"].as_str().unwrap_or("?"),
                p["set_value"].as_str().unwrap_or("?"),
                p["valid"] == true,
            )
        })
        .collect();
    assert_eq!(
        names,
        [("roles", "auditor", true), ("roles", "support", true)]
    );
    let a = dev.get("/api/policies/roles/nobody");
    assert_eq!(a.status, 404, "{a:?}");

    // Try and explain, for a subject as RBAC sees it; a wildcard in the question is 422.
    let arn = "arn:rowguard:default:local:123:server/1";
    let question =
        json!({"subject": {"roles": ["support"]}, "action": "server:Delete", "resource": arn});
    let a = dev.post("/api/policies/try", question.clone());
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["allowed"], true);
    assert_eq!(a.body["statement"]["sid"], "servers");
    let a = dev.post(
        "/api/policies/try",
        json!({"subject": {"roles": ["auditor"]}, "action": "server:Delete", "resource": arn}),
    );
    assert_eq!(a.body["allowed"], false, "{a:?}");
    assert_eq!(a.body["statement"], Value::Null);
    let a = dev.post(
        "/api/policies/try",
        json!({"subject": {"roles": ["support"]}, "action": "server:*", "resource": arn}),
    );
    assert_eq!(a.status, 422, "{a:?}");
    assert!(a.error().contains("wildcard"), "{a:?}");
    let a = dev.post("/api/policies/explain", question.clone());
    assert_eq!(a.status, 200, "{a:?}");
    let text = a.body["text"].as_str().expect("text");
    assert!(
        text.starts_with(r#"statement 0 (servers) of policy roles "support": Allow server:* on"#),
        "{text}"
    );
    assert!(text.ends_with("and no statement denies it"), "{text}");
    assert_eq!(ann.post("/api/policies/try", question).status, 403);
    // A permission key is tried as the service decides it: the statements (absolute rights
    // do not bypass a Deny), then the roles.
    let key_arn = "arn:rowguard:rowguard:local:default:permission/users.manage";
    let no_users = json!([{"Effect": "Deny", "Action": "rowguard:users.manage", "Resource": "*"}]);
    assert_eq!(root.put("/api/policies/groups/ops", no_users).status, 201);
    let try_key = |sets: Value| {
        dev.post(
            "/api/policies/try",
            json!({"subject": sets, "action": "rowguard:users.manage", "resource": key_arn}),
        )
        .body
    };
    let a = try_key(json!({"roles": ["admin"]}));
    assert_eq!(a["allowed"], true, "{a}");
    assert!(
        a["decision"]
            .as_str()
            .is_some_and(|d| d.ends_with("the subject's roles grant it")),
        "{a}"
    );
    let a = try_key(json!({"roles": ["admin"], "groups": ["ops"]}));
    assert_eq!(a["allowed"], false, "{a}");
    assert_eq!(a["statement"]["set_value"], "ops", "{a}");
    let a = try_key(json!({"roles": ["support"]}));
    assert_eq!(a["allowed"], false, "{a}");
    assert!(
        a["decision"]
            .as_str()
            .is_some_and(|d| d.ends_with("do not grant it")),
        "{a}"
    );
    assert_eq!(root.delete("/api/policies/groups/ops").status, 204);
    // jobs:Run too: where no statement speaks, the command's own permission decides.
    let try_run = |command: &str| {
        dev.post(
            "/api/policies/try",
            json!({"subject": {"roles": ["support"]}, "action": "jobs:Run",
                   "resource": format!("arn:rowguard:jobs:local:default:command/{command}")}),
        )
        .body
    };
    let a = try_run("greet");
    assert_eq!(a["allowed"], true, "{a}");
    assert!(
        a["decision"]
            .as_str()
            .is_some_and(|d| d.ends_with("the subject's roles grant it")),
        "{a}"
    );
    let a = try_run("no-such-command");
    assert_eq!(a["allowed"], false, "{a}");

    // A DBA's SQL stores one that does not parse: check and list say so.
    let mut conn = db.connect().expect("connect");
    diesel::connection::SimpleConnection::batch_execute(
        &mut conn,
        r#"INSERT INTO authorization_policies (set_type, set_value, policy)
           VALUES ('roles', 'viewer', '[{"Effect": "Deny"}]')"#,
    )
    .expect("dba's insert");
    let a = dev.get("/api/policies/check");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["checked"], 3);
    assert_eq!(a.body["invalid"][0]["set_value"], "viewer");
    assert_eq!(a.body["invalid"][0]["refuses_everything"], true);
    assert_eq!(a.body["warnings"].as_array().map(Vec::len), Some(1));
    let list = dev.get("/api/policies");
    assert!(
        list.body.as_array().is_some_and(|l| l
            .iter()
            .any(|p| p["set_value"] == "viewer" && p["valid"] == false)),
        "{list:?}"
    );

    // The CLI against the server, as root.
    let at = format!("http://{}", server.base);
    ok(rowguard(
        &env,
        &["login", "--server", &at, "--name", "root"],
        &format!("{PASSWORD}\n"),
        &[],
    ));
    let remote = |args: &[&str], stdin: &str| {
        let mut all = vec!["policies", "--remote"];
        all.extend_from_slice(args);
        rowguard(&env, &all, stdin, &[])
    };
    let name = ["--set-type", "roles", "--set-value", "support"];
    let out = ok(remote(&[&["get"][..], &name].concat(), ""));
    assert_eq!(serde_json::from_str::<Value>(&out).expect("json"), servers);
    let (code, out, err) = remote(&["check"], "");
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains(r#"policy roles "viewer": statement 0, field "Action""#),
        "{out}"
    );
    assert!(out.ends_with("1 of 3 policy(ies) invalid\n"), "{out}");
    assert!(err.contains("names no row of model contacts"), "{err}");
    // Under --strict a warning stops the write before it is sent (the server checks first).
    let typo = r#"[{"Effect": "Allow", "Action": "contacts:Read", "Resource": "arn:rowguard:defualt:local:*:contacts/*"}]"#;
    let strict = rowguard(
        &env,
        &[
            "--strict",
            "policies",
            "--remote",
            "set",
            "--set-type",
            "roles",
            "--set-value",
            "strict",
            "-",
        ],
        typo,
        &[],
    );
    assert_ne!(strict.0, 0, "{strict:?}");
    assert!(strict.2.contains("nothing written"), "{strict:?}");
    assert_eq!(
        dev.get("/api/policies/roles/strict").status,
        404,
        "nothing was written"
    );
    // The check reads its body strictly: a key given twice is found in the object form too.
    let a = dev.post_raw(
        "/api/policies/check",
        "application/json",
        br#"{"policy": [{"Effect": "Deny", "Effect": "Allow", "Action": "x:y", "Resource": "*"}]}"#,
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["valid"], false, "{a:?}");
    assert!(
        a.body["error"]
            .as_str()
            .is_some_and(|e| e.contains("appears twice")),
        "{a:?}"
    );
    let deny = r#"[{"Effect": "Deny", "Action": "server:Delete", "Resource": "*"}]"#;
    let out = ok(remote(
        &[&["set"][..], &name, &["-"]].concat(),
        &format!("[{},{}]", servers[0], &deny[1..deny.len() - 1]),
    ));
    assert_eq!(out, "changed: policy roles \"support\" (2 statement(s))\n");
    let (code, _, err) = remote(
        &[&["set"][..], &name, &["-"]].concat(),
        "[{\"Effect\": \"Allow\"}]",
    );
    assert_ne!(code, 0);
    assert!(
        err.contains(r#"statement 0, field "Action""#) && err.contains("nothing written"),
        "{err}"
    );
    let ask = [
        "--as",
        "roles=support",
        "--action",
        "server:Delete",
        "--resource",
        arn,
    ];
    let out = ok(remote(&[&["try"][..], &ask, &["--json"]].concat(), ""));
    let decision: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(decision["allowed"], false, "the Deny wins: {decision}");
    assert_eq!(decision["statement"]["index"], 1);
    let out = ok(remote(&[&["explain"][..], &ask].concat(), ""));
    assert!(
        out.contains("denied: statement 1 of policy roles \"support\" denies server:Delete"),
        "{out}"
    );
    // The history names policies, and restore puts one back (the first version: no Deny).
    let history = dev.get("/api/rules/history?limit=1000");
    let first = history
        .body
        .as_array()
        .and_then(|h| {
            h.iter()
                .rev()
                .find(|e| e["policy"]["set_value"] == "support" && e["operation"] == "insert")
        })
        .and_then(|e| e["id"].as_i64())
        .expect("the first put's entry");
    let out = ok(rowguard(
        &env,
        &["rules", "--remote", "restore", &first.to_string()],
        "",
        &[],
    ));
    assert!(
        out.starts_with(&format!(
            "restored policy roles \"support\" as history entry {first} recorded it: [{{"
        )),
        "{out}"
    );
    let out = ok(remote(&[&["try"][..], &ask].concat(), ""));
    assert_eq!(out, "allowed\n");
    let out = ok(rowguard(&env, &["rules", "--remote", "history"], "", &[]));
    assert!(out.contains("update policy roles \"support\"  by"), "{out}");
    let out = ok(remote(&[&["delete"][..], &name].concat(), ""));
    assert_eq!(out, "deleted policy roles \"support\"\n");
    let (code, _, err) = remote(&[&["delete"][..], &name].concat(), "");
    assert_ne!(code, 0);
    assert!(
        err.contains("404") && err.contains(r#"no policy roles "support""#),
        "{err}"
    );
    let out = ok(remote(&["list"], ""));
    assert!(
        out.contains("INVALID:") && out.ends_with("2 policy(ies)\n"),
        "{out}"
    );

    // rules.write is not policies.write: a statement can grant any key, so writing one (or
    // restoring one from the history) takes a key of its own.
    let rules_writer =
        json!([{"Effect": "Allow", "Action": "rowguard:rules.write", "Resource": "*"}]);
    assert_eq!(root.put("/api/policies/id/dev", rules_writer).status, 201);
    let escalate =
        json!([{"Effect": "Allow", "Action": ["rowguard:*", "jobs:Run"], "Resource": "*"}]);
    let a = dev.put("/api/policies/id/dev", escalate);
    assert_eq!(a.status, 403, "{a:?}");
    assert!(a.error().contains("policies.write"), "{a:?}");
    assert_eq!(dev.delete("/api/policies/roles/auditor").status, 403);
    let a = dev.put(
        "/api/rules/roles/auditor/contacts",
        json!({"read": {"search": {"owner_id": "=7"}}}),
    );
    assert_eq!(a.status, 201, "rules.write still writes rules: {a:?}");
    let a = dev.post(&format!("/api/rules/history/{first}/restore"), json!({}));
    assert_eq!(a.status, 403, "a policy's entry: {a:?}");
    let rule_entry = dev.get("/api/rules/history?limit=1").body[0]["id"]
        .as_i64()
        .expect("the rule's entry");
    let a = dev.post(
        &format!("/api/rules/history/{rule_entry}/restore"),
        json!({}),
    );
    assert_eq!(a.status, 200, "a rule's entry: {a:?}");
    assert_eq!(root.delete("/api/policies/id/dev").status, 204);

    // A change that would take policies.write from its writer is refused, nothing written:
    // only SQL could undo it.
    let lock_out = json!([{"Effect": "Deny", "Action": "rowguard:*", "Resource": "*"}]);
    let a = root.put("/api/policies/universal/rowguard-universal", lock_out);
    assert_eq!(a.status, 409, "{a:?}");
    assert!(
        a.error().contains("would take policies.write from you"),
        "{a:?}"
    );
    assert_eq!(
        dev.get("/api/policies/universal/rowguard-universal").status,
        404,
        "nothing was written"
    );
    assert_eq!(root.get("/api/policies").status, 200, "root still reads");

    // The grid lists a set that only a policy gives rights on the model.
    let own = json!([{"Effect": "Allow", "Action": "contacts:Read",
                      "Resource": "arn:rowguard:default:local:17:contacts/*"}]);
    assert_eq!(root.put("/api/policies/groups/sales", own).status, 201);
    let grid = dev.get("/api/rules/grid?model=contacts");
    assert_eq!(grid.status, 200, "{grid:?}");
    let sales = grid.body["subjects"]
        .as_array()
        .and_then(|l| {
            l.iter()
                .find(|l| l["set_type"] == "groups" && l["set_value"] == "sales")
        })
        .unwrap_or_else(|| panic!("no line for groups sales: {grid:?}"));
    assert_eq!(sales["rights"]["read"]["access"], "some", "{sales}");
    assert_eq!(sales["rights"]["update"]["access"], "none", "{sales}");
}

/// SIGTERM stops the server's jobs (as a kill, recorded so) before it exits: they do not
/// outlive it.
fn stopping_the_server_stops_its_jobs(db: &TestDatabase) {
    let env = Env::new(db);
    let mut one = Server::start(&env, "one");
    let ann = Client::login(&one, "ann");
    let a = ann.post("/api/jobs", json!({"command": "stubborn"}));
    let uuid = a.body["job"]["uuid"].as_str().expect("uuid").to_owned();
    let a = ann.get(&format!("/api/jobs/{uuid}/output?wait_ms=5000"));
    assert!(
        a.body["text"].as_str().is_some_and(|t| t.contains("ready")),
        "{a:?}"
    );
    let status = one.terminate();
    assert!(status.success(), "{status:?}: {}", one.log());
    assert!(
        one.log().contains("stopped 1 running job(s)"),
        "{}",
        one.log()
    );
    let two = Server::start(&env, "two");
    let job = Client::login(&two, "dev").get(&format!("/api/jobs/{uuid}"));
    assert_eq!(job.body["status"], "killed", "{job:?}");
    assert_eq!(
        job.body["killed_by"], "rowguard serve (shutdown)",
        "{job:?}"
    );
}

/// User management over HTTP (admin's `users.manage`) and one's own password.
fn users_over_http(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let root = Client::login(&server, "root");
    let anon = Client::anonymous(&server);

    let a = root.get("/api/users");
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.as_array().is_some_and(|u| u
        .iter()
        .any(|u| u["name"] == "ann" && u["roles"] == json!(["support"]))));

    // Add: 201; taken (ignoring case) 409; bad input 422, and a password never echoed.
    let a = root.post(
        "/api/users",
        json!({"name": "eve", "password": "eve's long password", "roles": ["support"]}),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(
        root.post(
            "/api/users",
            json!({"name": "EVE", "password": "another long one"})
        )
        .status,
        409
    );
    let a = root.post("/api/users", json!({"name": "frank", "password": "short!"}));
    assert_eq!(a.status, 422);
    assert!(
        a.error().contains("at least 10") && !a.error().contains("short!"),
        "{a:?}"
    );
    let a = root.post(
        "/api/users",
        json!({"name": "frank", "password": 1234567890123u64}),
    );
    assert_eq!(a.status, 422);
    assert!(!a.error().contains("1234567890123"), "{a:?}");
    assert_eq!(
        root.post(
            "/api/users",
            json!({"name": "bad name", "password": "long enough pw"})
        )
        .status,
        422
    );
    assert_eq!(
        root.post(
            "/api/users",
            json!({"name": "gil", "password": "long enough pw", "roles": ["wizard"]})
        )
        .status,
        422
    );
    assert_eq!(
        root.post(
            "/api/users",
            json!({"name": "gil", "password": "long enough pw", "admin": true})
        )
        .status,
        422
    );
    let eve = {
        let a = anon.post(
            "/api/login",
            json!({"name": "eve", "password": "eve's long password"}),
        );
        assert_eq!(a.status, 200, "{a:?}");
        Client {
            token: a.body["token"].as_str().map(str::to_owned),
            ..Client::anonymous(&server)
        }
    };
    assert_eq!(eve.get("/api/commands").status, 200);

    // Roles: in force at the next request; unknown user 404, unknown role 422.
    let a = root.put("/api/users/eve/roles", json!({"roles": []}));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(eve.get("/api/commands").status, 403);
    assert_eq!(
        root.put("/api/users/nobody-here/roles", json!({"roles": []}))
            .status,
        404
    );
    assert_eq!(
        root.put("/api/users/eve/roles", json!({"roles": ["wizard"]}))
            .status,
        422
    );
    assert_eq!(
        root.put("/api/users/eve/roles", json!({"roles": "support"}))
            .status,
        422
    );

    // Lock revokes at once; unlock lets her log in again.
    assert_eq!(root.post("/api/users/eve/lock", json!({})).status, 200);
    assert_eq!(eve.get("/api/me").status, 401);
    assert_eq!(
        anon.post(
            "/api/login",
            json!({"name": "eve", "password": "eve's long password"})
        )
        .status,
        401
    );
    assert_eq!(root.post("/api/users/eve/unlock", json!({})).status, 200);
    assert_eq!(
        anon.post(
            "/api/login",
            json!({"name": "eve", "password": "eve's long password"})
        )
        .status,
        200
    );
    assert_eq!(
        root.post("/api/users/nobody-here/lock", json!({})).status,
        404
    );

    // An admin sets a password: the user's tokens are revoked.
    let ann = Client::login(&server, "ann");
    assert_eq!(
        root.post(
            "/api/users/ann/password",
            json!({"password": "set by the admin"})
        )
        .status,
        200
    );
    assert_eq!(ann.get("/api/me").status, 401);
    let ann = {
        let a = anon.post(
            "/api/login",
            json!({"name": "ann", "password": "set by the admin"}),
        );
        assert_eq!(a.status, 200, "{a:?}");
        Client {
            token: a.body["token"].as_str().map(str::to_owned),
            ..Client::anonymous(&server)
        }
    };
    // A user without the key: 403.
    assert_eq!(ann.get("/api/users").status, 403);
    assert_eq!(
        ann.post(
            "/api/users/ann/password",
            json!({"password": "mine now, all mine"})
        )
        .status,
        403
    );

    // One's own password: the current one must be right (403, counted as a failure), the new
    // one valid (422); then every token of the user is revoked.
    let a = ann.post(
        "/api/me/password",
        json!({"current_password": "a wrong guess!", "new_password": "ann's own password"}),
    );
    assert_eq!(
        (a.status, a.body["code"].as_str()),
        (403, Some("wrong_password")),
        "{a:?}"
    );
    let a = ann.post(
        "/api/me/password",
        json!({"current_password": "set by the admin", "new_password": "short"}),
    );
    assert_eq!(a.status, 422, "{a:?}");
    let other = {
        let a = anon.post(
            "/api/login",
            json!({"name": "ann", "password": "set by the admin"}),
        );
        Client {
            token: a.body["token"].as_str().map(str::to_owned),
            ..Client::anonymous(&server)
        }
    };
    let a = ann.post(
        "/api/me/password",
        json!({"current_password": "set by the admin", "new_password": "ann's own password"}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(ann.get("/api/me").status, 401);
    assert_eq!(other.get("/api/me").status, 401);
    assert_eq!(
        anon.post(
            "/api/login",
            json!({"name": "ann", "password": "set by the admin"})
        )
        .status,
        401
    );
    assert_eq!(
        anon.post(
            "/api/login",
            json!({"name": "ann", "password": "ann's own password"})
        )
        .status,
        200
    );

    // Nothing secret in the log.
    let log = server.log();
    for secret in [
        "eve's long password",
        "set by the admin",
        "ann's own password",
        "a wrong guess!",
    ] {
        assert!(!log.contains(secret), "the log shows a password: {log}");
    }
    assert!(
        log.contains("user added") && log.contains("password changed"),
        "{log}"
    );
}
