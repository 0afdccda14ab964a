//! The web console in a real headless Chromium (Debian's `chromium` and `chromium-driver`,
//! driven over WebDriver), against `rowguard serve` on every backend: log in, run a job and
//! watch its output (through a reload and a server restart), kill a job that ignores SIGINT,
//! fix an invalid rule in the editor and save it, explain a decision with sample rows, the
//! grids, user management, a password change, and pages refused without their permission.
//! The SQLite run also takes the README's screenshots (`docs/console-*.png`).

mod support;

use std::time::Duration;

use rowguard::testing::TestDatabase;
use rowguard::Backend;
use serde_json::json;
use support::browser::{self, Browser};
use support::*;

rowguard::backend_tests!(the_console_in_a_browser, console_pages_and_their_api);

/// The pages' answers without a browser (status, headers, what a refused page holds), and
/// the API the pages use beyond the CLI's: the grid, explain's sample, the editor's check.
fn console_pages_and_their_api(db: &TestDatabase) {
    let env = Env::new(db);
    let server = Server::start(&env, "a");
    let anonymous = Client::anonymous(&server);
    let a = anonymous.get("/console/jobs");
    assert_eq!(a.status, 303);
    assert_eq!(
        a.header("location"),
        Some("/console/login?next=/console/jobs")
    );
    let a = anonymous.get("/console/login");
    assert_eq!(a.status, 200);
    assert!(a
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let csp = a.header("content-security-policy").unwrap_or_default();
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(!a.body.as_str().unwrap_or_default().contains("<script>"));
    assert_eq!(anonymous.get("/console/no-such-page").status, 404);
    assert_eq!(anonymous.get("/console/jobs/x/y").status, 404);
    let a = anonymous.get("/console/assets/console.js");
    assert_eq!(a.status, 200);
    assert_eq!(
        a.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(anonymous.get("/console/assets/other.js").status, 404);

    // A page without its permission: 403, the key named, no data and no script to fetch it.
    let ann = Client::login(&server, "ann");
    let a = ann.get("/console/rules");
    assert_eq!(a.status, 403);
    let page = a.body.as_str().unwrap_or_default();
    assert!(
        page.contains("rules.read") && !page.contains("data-page"),
        "{page}"
    );
    assert_eq!(ann.get("/console/jobs").status, 200);
    // A token that is revoked no longer opens pages.
    let gone = Client::login(&server, "ann");
    assert_eq!(gone.post("/api/logout", json!({})).status, 200);
    assert_eq!(gone.get("/console/jobs").status, 303);

    // The grid: one line per role, a word per right; unknown models are refused.
    let dev = Client::login(&server, "dev");
    let a = dev.get("/api/rules/grid?model=job_executions");
    assert_eq!(a.status, 200, "{a:?}");
    let line = |role: &str| {
        a.body["subjects"]
            .as_array()
            .expect("subjects")
            .iter()
            .find(|s| s["set_value"] == role)
            .cloned()
            .unwrap_or_else(|| panic!("no line for {role}: {a:?}"))
    };
    assert_eq!(line("admin")["rights"]["update"]["access"], "all");
    assert_eq!(line("support")["rights"]["read"]["access"], "some");
    assert!(line("support")["rights"]["read"]["filter"]
        .as_str()
        .is_some_and(|f| f.contains("user_identifier")));
    assert_eq!(line("runner")["rights"]["read"]["access"], "none");
    // Update needs the read too: both depend on the user, so "some", not "none".
    let update = &line("support")["rights"]["update"];
    assert_eq!(update["access"], "some", "{update}");
    assert_eq!(update["depends_on_subject"], true, "{update}");
    assert_eq!(ann.get("/api/rules/grid?model=job_executions").status, 403);
    assert!(dev.get("/api/rules/grid?model=nope").status >= 400);
    let a = dev.get("/api/rules/grid");
    assert_eq!(a.status, 422);
    assert!(a.error().starts_with("bad query string: "), "{a:?}");
    // Every API answer: no sniffing, no framing.
    assert_eq!(a.header("x-content-type-options"), Some("nosniff"));
    assert!(a
        .header("content-security-policy")
        .is_some_and(|c| c.contains("frame-ancestors 'none'")));

    // Explain: access, filter and SQL apart; a sample needs rules.try and is bounded.
    let ask = |sample: Option<u32>| {
        let mut body = json!({"subject": {"roles": ["support"]}, "attributes": {"id": "ann"},
                              "model": "job_executions", "action": "read"});
        if let Some(n) = sample {
            body["sample"] = json!(n);
        }
        body
    };
    let a = dev.post("/api/rules/explain", ask(None));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["access"], "some");
    // Without the attribute its rule needs, nothing: FALSE AND … is none, not some.
    let mut no_id = ask(None);
    no_id["attributes"] = json!({});
    no_id["action"] = json!("update");
    let a = dev.post("/api/rules/explain", no_id);
    assert_eq!(a.body["access"], "none", "{a:?}");
    assert!(a.body["sql"]
        .as_str()
        .is_some_and(|s| s.starts_with("WHERE")));
    assert!(a.body.get("sample").is_none());
    assert_eq!(dev.post("/api/rules/explain", ask(Some(5))).status, 403);
    let root = Client::login(&server, "root");
    assert_eq!(root.post("/api/rules/explain", ask(Some(101))).status, 422);
    for name in ["ann", "bob"] {
        let client = Client::login(&server, name);
        let started = client.post("/api/jobs", json!({"command": "ticker", "wait_ms": 5000}));
        assert_eq!(started.status, 201, "{started:?}");
    }
    let a = root.post("/api/rules/explain", ask(Some(5)));
    assert_eq!(a.status, 200, "{a:?}");
    let sample = a.body["sample"].as_array().expect("sample");
    assert_eq!(sample.len(), 2, "{a:?}");
    for row in sample {
        // The decision is the guard's: ann's job is allowed, bob's is not.
        assert_eq!(
            row["allowed"],
            row["row"]["user_identifier"] == "ann",
            "{row}"
        );
    }
    let a = root.post("/api/rules/explain", ask(Some(1)));
    assert_eq!(a.body["sample"].as_array().map(Vec::len), Some(1));

    // The editor's check takes text that may not be JSON yet: the validator's own error.
    let a = dev.post(
        "/api/rules/check",
        json!({"model": "job_executions", "rules": "{\"read\": "}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["valid"], false);
    assert!(a.body["error"].as_str().is_some_and(|e| !e.is_empty()));
    let a = dev.post(
        "/api/rules/check",
        json!({"model": "job_executions", "rules": "{\"read\": \"*\"}"}),
    );
    assert_eq!(a.body["valid"], true, "{a:?}");
    // The same text as `rules check` prints for the same document stored by a DBA.
    break_support_rule(db);
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_rowguard"))
        .args(["rules", "check"])
        .current_dir(&env.dir)
        .env("DATABASE_URL", &env.url)
        .output()
        .expect("rules check");
    let printed = String::from_utf8_lossy(&check.stdout).into_owned()
        + &String::from_utf8_lossy(&check.stderr);
    let a = dev.post(
        "/api/rules/check",
        json!({"model": "job_executions", "rules": BROKEN}),
    );
    let error = a.body["error"].as_str().expect("an error").to_owned();
    assert!(error.contains("bogus"), "{error}");
    assert!(
        printed.contains(&error),
        "rules check printed:\n{printed}\nthe API: {error}"
    );

    // The history shows the DBA's edit (no application user) after the seeder's insert;
    // the seeded version comes back in one call, recorded as root's.
    let a = dev.get("/api/rules/history?model=job_executions&limit=50");
    assert_eq!(a.status, 200, "{a:?}");
    let entries = a.body.as_array().expect("entries").clone();
    let support = |e: &&serde_json::Value| e["rule"]["set_value"] == "support";
    let edit = entries.iter().find(support).expect("the DBA's edit");
    assert_eq!(edit["operation"], "update");
    assert_eq!(edit["app_user"], serde_json::Value::Null);
    assert_eq!(edit["after"]["rules"]["read"]["search"]["bogus"], "=1");
    let seeded = entries
        .iter()
        .filter(support)
        .find(|e| e["operation"] == "insert")
        .expect("the seeder's insert");
    assert!(seeded["app_user"]
        .as_str()
        .is_some_and(|u| u.starts_with("cli:")));
    let id = seeded["id"].as_i64().expect("id");
    assert_eq!(
        dev.post(&format!("/api/rules/history/{id}/restore"), json!({}))
            .status,
        403
    );
    let a = root.post(&format!("/api/rules/history/{id}/restore"), json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body["rules"]["read"]["search"]["user_identifier"],
        "=$subject.id"
    );
    let latest = &dev.get("/api/rules/history?limit=1").body[0];
    assert_eq!(latest["app_user"], "root");
    // Restoring the broken version is refused by the validator; odd requests say why.
    let broken = edit["id"].as_i64().expect("id");
    let a = root.post(&format!("/api/rules/history/{broken}/restore"), json!({}));
    assert_eq!(a.status, 422, "{a:?}");
    assert_eq!(
        root.post("/api/rules/history/999999999/restore", json!({}))
            .status,
        404
    );
    let role_change = dev
        .get("/api/rules/history?limit=1000")
        .body
        .as_array()
        .and_then(|all| all.iter().find(|e| e["table"] == "roles").cloned())
        .expect("a role's insert");
    let a = root.post(
        &format!("/api/rules/history/{}/restore", role_change["id"]),
        json!({}),
    );
    assert_eq!(a.status, 409, "{a:?}");
    assert_eq!(dev.get("/api/rules/history?limit=0").status, 422);
    assert_eq!(dev.get("/api/rules/history?model=nope").status, 404);
    assert_eq!(dev.get("/api/rules/history?since=yesterday").status, 422);
    assert_eq!(ann.get("/api/rules/history").status, 403);
}

/// What a careless DBA stores for role support on the job table.
const BROKEN: &str = r#"{"read": {"search": {"bogus": "=1"}}}"#;

/// Stores [`BROKEN`] with SQL, past every validator.
fn break_support_rule(db: &TestDatabase) {
    use diesel::RunQueryDsl;
    let mut conn = db.connect().expect("connect");
    let changed = diesel::sql_query(format!(
        "UPDATE authorization_rules SET rules = '{BROKEN}' WHERE authorizable_set_value = 'support' \
         AND authorizable_model_id = (SELECT id FROM authorizable_models WHERE name = 'job_executions')"
    ))
    .execute(&mut conn)
    .expect("update");
    assert_eq!(changed, 1);
}

/// More commands for the browser: one that runs long enough to lose its stream in the
/// middle (40 numbered lines), one that prints bytes that are not UTF-8, one that prints
/// what looks like rowguard's own escalation lines.
const COMMANDS: &str = r#"
[jobs.commands.counter]
program = "sh"
args = ["-c", "for i in $(seq 1 40); do echo line $i; sleep 0.1; done"]
permission = "jobs.command.run"

[jobs.commands.latin1]
program = "sh"
args = ["-c", "printf 'caf\\351 \\377\\376\\n'; sleep 0.3; printf 'second line is complete\\n'"]
permission = "jobs.command.run"

[jobs.commands.forger]
program = "sh"
args = ["-c", "echo '[rowguard] sent SIGKILL (forged)'"]
permission = "jobs.command.run"
"#;

/// Takes a screenshot into `$ROWGUARD_SCREENSHOTS` (relative to the repository: `docs`
/// refreshes the README's pictures), else under the build directory, so that a test run
/// leaves the checkout as it was.
fn screenshot(db: &TestDatabase, browser: &Browser, name: &str) {
    // One backend takes the pictures: the three runs would race for the files.
    if db.backend() != Backend::Sqlite {
        return;
    }
    let dir = match std::env::var("ROWGUARD_SCREENSHOTS") {
        Ok(dir) if !dir.is_empty() => root().join(dir),
        _ => std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots"),
    };
    std::fs::create_dir_all(&dir).expect("screenshot directory");
    browser.screenshot(&dir.join(name));
}

fn log_in(b: &Browser, base: &str, name: &str, password: &str) {
    b.open(&format!("{base}/console/login"));
    b.replace_text("#name", name);
    b.replace_text("#password", password);
    b.click("#login button[type=submit]");
    b.wait_for(
        "the first page after login",
        "return !location.pathname.endsWith('/login') && document.body.dataset.page",
        json!([]),
    );
}

fn log_out(b: &Browser) {
    b.click("#logout");
    b.wait_text("#login");
}

/// The text of the job output shown once the stream says the job ended.
fn ended(b: &Browser, status: &str) -> String {
    let state = b.wait_for(
        "the job to end",
        "const s = document.querySelector('#stream-state'); \
         return s && s.innerText.startsWith('ended') ? s.innerText : null",
        json!([]),
    );
    assert_eq!(state, format!("ended: {status}"));
    b.text("#output").unwrap_or_default()
}

fn the_console_in_a_browser(db: &TestDatabase) {
    if let Err(why) = browser::available() {
        assert_ne!(
            std::env::var("CI").as_deref(),
            Ok("true"),
            "CI=true requires the browser tests: {why}"
        );
        eprintln!("notice: {why}; the console's browser test did not run");
        return;
    }
    let env = Env::new(db);
    let config = env.dir.join("rowguard.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}\n{COMMANDS}")).expect("config");
    let server = Server::start(&env, "a");
    let base = format!("http://{}", server.base);
    let b = Browser::start(1280, 900);

    // Not logged in: the login page, which returns to the page asked for.
    b.open(&format!("{base}/console/jobs"));
    b.wait_text("#login");
    assert!(
        b.url().ends_with("/console/login?next=/console/jobs"),
        "{}",
        b.url()
    );
    b.type_into("#name", "ann");
    b.type_into("#password", "wrong password");
    b.click("#login button[type=submit]");
    let error = b.wait_text("#login .error");
    assert_eq!(error, "invalid name or password");
    // From the keyboard: Enter in the password field logs in.
    b.replace_text("#password", &format!("{PASSWORD}\u{E007}"));
    b.wait_text("#history");
    assert!(b.url().ends_with("/console/jobs"), "{}", b.url());

    // A parameter is checked in the page (and again by the server).
    b.wait_text("form[data-command=greet]");
    b.replace_text("#p-greet-name", "Not Valid");
    let refused = b.run(
        "return [document.querySelector('form[data-command=greet] button').disabled, \
                 document.querySelector('#p-greet-name').getAttribute('aria-invalid')]",
        json!([]),
    );
    assert_eq!(refused, json!([true, "true"]));
    b.replace_text("#p-greet-name", "world");
    b.click("form[data-command=greet] button[type=submit]");
    assert_eq!(ended(&b, "completed"), "hello world\n");

    // A job's output arrives while it runs; a reload in the middle resumes it whole.
    b.open(&format!("{base}/console/jobs"));
    b.click("form[data-command=ticker] button[type=submit]");
    b.wait_for(
        "the first ticks",
        "const o = document.querySelector('#output'); return o && o.innerText.includes('tick 2')",
        json!([]),
    );
    let state = b.text("#stream-state").unwrap_or_default();
    assert!(
        state == "live" || state.starts_with("ended"),
        "stream state: {state}"
    );
    b.open(&b.url());
    let ticks: String = (1..=6).map(|i| format!("tick {i}\n")).collect();
    assert_eq!(ended(&b, "completed"), ticks);

    // Kill a job that ignores SIGINT: the escalation shows as it happens, then `killed`.
    b.open(&format!("{base}/console/jobs"));
    b.click("form[data-command=stubborn] button[type=submit]");
    b.wait_for(
        "the job to be ready",
        "const o = document.querySelector('#output'); return o && o.innerText.includes('ready')",
        json!([]),
    );
    b.click("#kill");
    let output = ended(&b, "killed");
    assert!(output.starts_with("ready\n"), "{output}");
    let sigint = output.find("[rowguard] sent SIGINT").expect("SIGINT shown");
    let sigterm = output
        .find("[rowguard] sent SIGTERM")
        .expect("SIGTERM shown");
    assert!(sigint < sigterm, "{output}");
    let steps = b.text("#escalation").unwrap_or_default();
    assert!(
        steps.contains("kill requested") && steps.contains("sent SIGTERM"),
        "{steps}"
    );
    assert!(b.text("#kill").is_none(), "no kill button once it ended");
    assert!(b
        .text("#job-facts")
        .unwrap_or_default()
        .contains("Killed by"));
    screenshot(db, &b, "console-job.png");
    // The download is the output as stored.
    let downloaded = b.run(
        "return fetch(document.querySelector('a[download]').href).then(r => r.text())",
        json!([]),
    );
    assert_eq!(downloaded, json!(output));

    // Bytes that are not UTF-8 show as U+FFFD; the next line still arrives whole.
    b.open(&format!("{base}/console/jobs"));
    b.click("form[data-command=latin1] button[type=submit]");
    assert_eq!(
        ended(&b, "completed"),
        "caf\u{fffd} \u{fffd}\u{fffd}\nsecond line is complete\n"
    );
    // A job printing rowguard's words is not an escalation step.
    b.open(&format!("{base}/console/jobs"));
    b.click("form[data-command=forger] button[type=submit]");
    assert_eq!(ended(&b, "completed"), "[rowguard] sent SIGKILL (forged)\n");
    assert_eq!(b.text("#escalation").as_deref(), Some(""));

    // The history: the jobs, filtered by status, each linking to its page.
    b.open(&format!("{base}/console/jobs?status=killed"));
    let history = b.wait_text("#jobs-table");
    assert!(history.contains("stubborn") && !history.contains("ticker"));
    b.open(&format!("{base}/console/jobs"));
    let history = b.wait_text("#jobs-table");
    for command in ["greet", "ticker", "stubborn"] {
        assert!(history.contains(command), "{history}");
    }
    let rows = b.run(
        "return document.querySelectorAll('#jobs-table tbody tr').length",
        json!([]),
    );
    assert_eq!(rows, json!(5));
    screenshot(db, &b, "console-jobs.png");

    // A dropped connection: the server dies mid-job and comes back on the same port;
    // the page reconnects with the last offset, nothing lost or repeated. A second instance
    // on the same database runs the job, so it outlives the first.
    let runner = Server::start(&env, "b");
    let api = Client::login(&runner, "ann");
    let started = api.post("/api/jobs", json!({"command": "counter"}));
    assert_eq!(started.status, 201, "{started:?}");
    let uuid = started.body["uuid"].as_str().expect("uuid").to_owned();
    b.open(&format!("{base}/console/jobs/{uuid}"));
    b.wait_for(
        "the first lines",
        "const o = document.querySelector('#output'); return o && o.innerText.includes('line 3')",
        json!([]),
    );
    let bind = server.base.clone();
    drop(server); // SIGKILL: a crash drops the connection at once
    b.wait_for(
        "the page to notice",
        "return document.querySelector('#stream-state').innerText.includes('reconnecting')",
        json!([]),
    );
    let server = Server::start_on(&env, "a", &bind);
    let lines: String = (1..=40).map(|i| format!("line {i}\n")).collect();
    assert_eq!(ended(&b, "completed"), lines);
    drop(runner);

    // A page the roles do not allow: neither the page nor its data.
    b.open(&format!("{base}/console/rules"));
    let refused = b.wait_text("main .error");
    assert!(refused.contains("needs permission rules.read"), "{refused}");
    assert!(b.text("#app").is_none() && b.text("table").is_none());
    let nav = b.text("header nav").unwrap_or_default();
    assert!(nav.contains("Jobs") && !nav.contains("Rules"), "{nav}");
    log_out(&b);
    // Logged out: back to the login page.
    b.open(&format!("{base}/console/jobs"));
    b.wait_text("#login");

    log_in(&b, &base, "runner", PASSWORD);
    b.open(&format!("{base}/console/jobs"));
    let refused = b.wait_text("main .error");
    assert!(refused.contains("needs permission jobs.read"), "{refused}");
    assert!(b.text("#jobs-table").is_none() && b.text("#app").is_none());
    log_out(&b);

    // The rule editor: validated while typing by the server, save refused while invalid.
    log_in(&b, &base, "root", PASSWORD);
    b.open(&format!("{base}/console/rules?model=job_executions"));
    b.wait_text("#rule-list table");
    b.click("#new-rule");
    b.replace_text("#e-set-value", "auditor");
    b.run(
        "const m = document.querySelector('#e-model'); m.value = 'job_executions'; \
         m.dispatchEvent(new Event('change'))",
        json!([]),
    );
    b.replace_text(
        "#rule-text",
        r#"{"read": {"search": {"no_such_column": "=1"}}}"#,
    );
    // While the text is replaced, the editor may check the emptied field first ("invalid
    // JSON: EOF…"); the answer for the typed rule follows.
    let error = b.wait_text_containing("#rule-error", "no_such_column");
    assert!(error.contains("unknown column"), "{error}");
    let disabled = b.run(
        "return document.querySelector('#save-rule').disabled",
        json!([]),
    );
    assert_eq!(disabled, json!(true));
    screenshot(db, &b, "console-rule-editor.png");
    b.replace_text(
        "#rule-text",
        r#"{"read": {"search": {"status": "=killed"}}}"#,
    );
    b.wait_for(
        "the rule to be valid",
        "const s = document.querySelector('#rule-state'); \
         return s && s.innerText.startsWith('Valid') && !document.querySelector('#save-rule').disabled",
        json!([]),
    );
    b.click("#save-rule");
    let saved = b.wait_text("#saved");
    assert_eq!(saved, "Saved (added).");
    b.wait_for(
        "the new rule in the list",
        "const t = document.querySelector('#rule-list table'); \
         return t && t.innerText.includes('auditor') && t.innerText.includes('killed')",
        json!([]),
    );

    // A rule a DBA broke with SQL: shown invalid, fixed in the editor, saved.
    break_support_rule(db);
    b.open(&format!(
        "{base}/console/rules?model=job_executions&set_value=support"
    ));
    let list = b.wait_text("#rule-list table");
    assert!(list.contains("invalid") && list.contains("bogus"), "{list}");
    b.click("#rule-list tbody tr button");
    let error = b.wait_text("#rule-error");
    assert!(error.contains("bogus"), "{error}");
    b.replace_text(
        "#rule-text",
        r#"{"create": "*", "read": {"search": {"user_identifier": "=$subject.id"}}}"#,
    );
    b.wait_for(
        "the fixed rule to be valid",
        "return !document.querySelector('#save-rule').disabled",
        json!([]),
    );
    b.click("#save-rule");
    assert_eq!(b.wait_text("#saved"), "Saved (changed).");
    b.wait_for(
        "the list to show the rule valid",
        "const t = document.querySelector('#rule-list table'); \
         return t && t.innerText.includes('valid') && !t.innerText.includes('invalid')",
        json!([]),
    );

    // The history of the job table's rules: the DBA's edit and root's fix; the seeded
    // version comes back with one button.
    b.open(&format!("{base}/console/history?model=job_executions"));
    let table = b.wait_text("#history-table");
    assert!(
        table.contains("direct SQL") || table.contains("db "),
        "{table}"
    );
    assert!(table.contains("root"), "{table}");
    let seeded = b.run(
        "const row = [...document.querySelectorAll('#history-table tbody tr')].find(r => \
           r.innerText.includes('rule roles \"support\" on job_executions') && r.cells[2].innerText === 'insert'); \
         return row ? row.dataset.entry : null",
        json!([]),
    );
    let seeded = seeded.as_str().expect("the seeded version").to_owned();
    b.click(&format!("button[data-restore='{seeded}']"));
    b.accept_dialog();
    let restored = b.wait_text("#restored");
    assert!(restored.contains("user_identifier"), "{restored}");

    // Policies: a key given twice is refused as you type (the text itself is checked), the
    // fixed policy is saved and listed, and it decides a try, naming its statement.
    b.open(&format!("{base}/console/policies"));
    b.wait_text("#policy-list");
    b.click("#new-policy");
    b.replace_text("#e-set-value", "support");
    b.replace_text(
        "#policy-text",
        r#"[{"Effect": "Deny", "Effect": "Allow", "Action": "server:*", "Resource": "*"}]"#,
    );
    let error = b.wait_text("#policy-error");
    assert!(error.contains(r#"key "Effect" appears twice"#), "{error}");
    assert_eq!(
        b.run(
            "return document.querySelector('#save-policy').disabled",
            json!([])
        ),
        json!(true)
    );
    b.replace_text(
        "#policy-text",
        r#"[{"Sid": "Servers", "Effect": "Allow", "Action": "server:*", "Resource": "arn:rowguard:default:local:123:server/*"}]"#,
    );
    b.wait_for(
        "the policy to be valid",
        "return !document.querySelector('#save-policy').disabled",
        json!([]),
    );
    b.click("#save-policy");
    assert_eq!(b.wait_text("#policy-saved"), "Saved (added).");
    let list = b.wait_text("#policy-table");
    assert!(list.contains("support") && list.contains("valid"), "{list}");
    b.replace_text("#p-sets", "roles=support");
    b.replace_text("#p-action", "server:Delete");
    b.replace_text("#p-resource", "arn:rowguard:default:local:123:server/1");
    b.click("#policy-try button[type=submit]");
    let decision = b.wait_text("#p-decision");
    assert!(
        decision.starts_with("allowed") && decision.contains("statement 0 (Servers)"),
        "{decision}"
    );

    // Explain: the merged filter, the SQL and which sample rows the rule allows.
    b.open(&format!("{base}/console/explain"));
    b.replace_text("#x-sets", "roles=auditor");
    b.run(
        "document.querySelector('#x-model').value = 'job_executions'",
        json!([]),
    );
    b.click("#explain-form button[type=submit]");
    let verdict = b.wait_text("#verdict");
    assert!(verdict.starts_with("some"), "{verdict}");
    assert!(b.text("#x-filter").unwrap_or_default().contains("killed"));
    assert!(b.text("#x-sql").unwrap_or_default().starts_with("WHERE"));
    let allowed = b.run(
        "return [...document.querySelectorAll('#sample tbody tr')].map(r => \
           [r.classList.contains('allowed'), r.innerText.includes('stubborn')])",
        json!([]),
    );
    let rows = allowed.as_array().expect("rows");
    assert_eq!(rows.len(), 6, "{allowed}");
    for row in rows {
        // Only the killed job (the stubborn one) is allowed.
        assert_eq!(row[0], row[1], "{allowed}");
    }

    // Who can do what on the job table, and the permission matrix with inheritance.
    b.open(&format!("{base}/console/grid?model=job_executions"));
    let grid = b.wait_text("#grid-table");
    assert!(grid.contains("auditor") && grid.contains("admin"), "{grid}");
    let cells = b.run(
        "return [...document.querySelectorAll('#grid-table tbody tr')].filter(r => \
           r.innerText.includes('auditor')).map(r => [...r.querySelectorAll('td')].slice(1).map(c => c.innerText))",
        json!([]),
    );
    assert_eq!(cells, json!([["none", "some", "none", "none"]]));
    b.open(&format!("{base}/console/permissions"));
    b.wait_text("#matrix");
    let devops_reads_jobs = b.run(
        "const t = document.querySelector('#matrix'); \
         const col = [...t.querySelectorAll('thead th')].findIndex(th => th.innerText === 'devops'); \
         const row = [...t.querySelectorAll('tbody tr')].find(r => r.cells[0].innerText === 'jobs.read'); \
         return row.cells[col].innerText",
        json!([]),
    );
    assert_eq!(devops_reads_jobs, "inherited");

    // Users: add one; they log in with the roles given.
    b.open(&format!("{base}/console/users"));
    b.wait_text("#user-list table");
    b.type_into("#u-name", "carol");
    b.type_into("#u-password", "carol's long password");
    b.type_into("#u-roles", "support");
    b.click("#add-user button[type=submit]");
    b.wait_for(
        "the new user",
        "return document.querySelector('tr[data-user=carol]')",
        json!([]),
    );
    log_out(&b);

    // After login only a page of the console opens, however `next` is spelled.
    for next in [
        "/console/..//evil.example",
        "/console/%2e%2e/api/me",
        "//evil.example",
    ] {
        b.open(&format!(
            "{base}/console/login?next={}",
            next.replace('%', "%25")
        ));
        b.replace_text("#name", "carol");
        b.replace_text("#password", "carol's long password");
        b.click("#login button[type=submit]");
        b.wait_for(
            "the page after login",
            "return !location.pathname.endsWith('/login') && document.body.dataset.page",
            json!([]),
        );
        assert!(b.url().ends_with("/console/jobs"), "{next}: {}", b.url());
        log_out(&b);
    }

    // One's own password; every session ends, and the new one logs in.
    log_in(&b, &base, "carol", "carol's long password");
    b.open(&format!("{base}/console/password"));
    b.type_into("#current", "carol's long password");
    b.type_into("#new", "a different long password");
    b.type_into("#again", "a different long password");
    b.click("#password-form button[type=submit]");
    let changed = b.wait_text("#login .success");
    assert!(changed.contains("password is changed"), "{changed}");
    log_in(&b, &base, "carol", "a different long password");
    assert!(b.url().ends_with("/console/jobs"), "{}", b.url());

    // On a phone: nothing wider than the screen.
    b.resize(390, 844);
    b.open(&format!("{base}/console/jobs"));
    b.wait_text("#history");
    std::thread::sleep(Duration::from_millis(200));
    let overflow = b.run(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
        json!([]),
    );
    assert_eq!(
        overflow,
        json!(0),
        "the jobs page scrolls sideways on a phone"
    );
    drop(server);
}
