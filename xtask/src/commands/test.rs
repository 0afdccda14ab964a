//! `cargo xtask test`: the project's test command. It decides which backends can run here,
//! then runs `cargo test` once over the workspace.
//!
//! - MySQL/MariaDB needs the system client library; with it the `mysql` feature is enabled.
//! - A server that does not accept TCP connections is skipped with a notice (its tests are
//!   filtered out with `--skip`, so they never show as passed) — unless `CI=true`, where any
//!   missing backend fails the run.
//! - The README's curl session needs curl and jq, the console's browser test Debian's
//!   `chromium` and `chromium-driver`: without them those tests are skipped the same way,
//!   and under `CI=true` the run fails.
//! - The differential property tests then run again with a random seed, printed first so
//!   that a failure can be replayed with `ROWGUARD_PROPTEST_SEED` (a replay skips this pass);
//!   the SQL = memory one with 10,000 cases per backend.

use std::net::{TcpStream, ToSocketAddrs};
use std::process::{Command, ExitCode};
use std::time::Duration;

use rowguard::testing::server_url;
use rowguard::Backend;

use super::CommandResult;

/// Arguments of `test`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Extra arguments for the test binaries (after `--`), e.g. a name filter.
    #[arg(last = true)]
    test_args: Vec<String>,
}

/// Runs the workspace tests on every backend available.
pub fn run(args: Args) -> CommandResult {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let mut features = Vec::new();
    let mut skips = Vec::new();
    let mut missing = Vec::new();

    if mysql_client_available() {
        features.push("rowguard/mysql");
        features.push("xtask/mysql");
        features.push("rowguard-cli/mysql");
        features.push("rowguard-fuzz/mysql");
    } else {
        missing.push(
            "MySQL/MariaDB client library not found (pkg-config mysqlclient/libmariadb); \
             install it with `apt-get install libmariadb-dev-compat libmariadb-dev`"
                .to_owned(),
        );
        skips.push("on_mysql");
    }
    for backend in [Backend::Postgres, Backend::Mysql] {
        if backend == Backend::Mysql && skips.contains(&"on_mysql") {
            continue;
        }
        if let Err(why) = probe(backend) {
            missing.push(why);
            skips.push(if backend == Backend::Postgres {
                "on_postgres"
            } else {
                "on_mysql"
            });
        }
    }

    // The README's curl session is a test; it needs curl and jq.
    let tools: Vec<&str> = ["curl", "jq"]
        .into_iter()
        .filter(|tool| {
            !Command::new(tool)
                .arg("--version")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
        .collect();
    if !tools.is_empty() {
        missing.push(format!(
            "{} not found: the README's curl session needs them (`apt-get install curl jq`)",
            tools.join(" and ")
        ));
        skips.push("the_readme_curl_session_runs");
    }

    // The console's browser test drives Debian's Chromium through chromedriver.
    let browser: Vec<&str> = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .into_iter()
        .filter(|path| !std::path::Path::new(path).exists())
        .collect();
    if !browser.is_empty() {
        missing.push(format!(
            "{} not found: the console's browser test needs them (`apt-get install chromium chromium-driver`)",
            browser.join(" and ")
        ));
        skips.push("the_console_in_a_browser");
    }

    for why in &missing {
        eprintln!("notice: {why}");
    }
    if ci && !missing.is_empty() {
        return Err(
            "CI=true requires every backend (SQLite, PostgreSQL, MySQL/MariaDB), curl and jq, chromium and chromedriver"
                .into(),
        );
    }
    if !skips.is_empty() {
        eprintln!("notice: skipping tests named {}", skips.join(", "));
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.args(["test", "--workspace"]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    cmd.arg("--");
    for skip in &skips {
        cmd.args(["--skip", skip]);
    }
    cmd.args(&args.test_args);
    eprintln!("running: {cmd:?}");
    let status = cmd.status()?;
    if !status.success() {
        return Ok(ExitCode::FAILURE);
    }
    // A name filter asks for a part of the suite: the extra passes run only for the whole
    // of it (the random seed also when the filter names the property tests), and never
    // when a seed is being replayed.
    let filtered = !args.test_args.is_empty();
    let replaying = std::env::var("ROWGUARD_PROPTEST_SEED").is_ok_and(|v| !v.is_empty());
    let props_asked = args.test_args.iter().any(|a| a.contains("_props"));
    if replaying {
        eprintln!("property tests ran with ROWGUARD_PROPTEST_SEED from the environment");
    } else if (!filtered || props_asked) && !random_seed_properties(&cargo, &features, &skips)? {
        return Ok(ExitCode::FAILURE);
    }
    if !features.is_empty() && !filtered {
        without_mysql(&cargo)?;
    }
    let ran: Vec<&str> = [
        ("SQLite", None),
        ("PostgreSQL", Some("on_postgres")),
        ("MySQL/MariaDB", Some("on_mysql")),
    ]
    .into_iter()
    .filter(|(_, skip)| skip.is_none_or(|s| !skips.contains(&s)))
    .map(|(name, _)| name)
    .collect();
    eprintln!("all tests passed, on {}", ran.join(", "));
    Ok(ExitCode::SUCCESS)
}

/// The property tests named `*_props::*` once more, with a seed no earlier run used.
fn random_seed_properties(
    cargo: &str,
    features: &[&str],
    skips: &[&str],
) -> Result<bool, Box<dyn std::error::Error>> {
    use std::hash::{BuildHasher, Hasher};
    // A process-random key is all the randomness this needs; no RNG crate for one number.
    let seed = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    eprintln!(
        "property tests with random seed {seed} (replay: ROWGUARD_PROPTEST_SEED={seed} \
         cargo xtask test -- _props::)"
    );
    // The same packages and features as the main run, so nothing is rebuilt.
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--workspace", "--test", "it"]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    cmd.env("ROWGUARD_PROPTEST_SEED", seed.to_string());
    // The SQL = memory differential at scale: about 30 s per backend, the backends in
    // parallel (BENCHMARKS.md has the measured cost).
    cmd.env(
        "ROWGUARD_DIFFERENTIAL_CASES",
        super::differential::CI_CASES.to_string(),
    );
    cmd.args(["--", "_props::", "--nocapture"]);
    for skip in skips {
        cmd.args(["--skip", skip]);
    }
    eprintln!("running: {cmd:?}");
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // A filter that matched nothing would pass without testing anything.
    let ran = stdout.contains("test result: ok") && !stdout.contains(" 0 passed");
    if !out.status.success() || !ran {
        eprintln!("property tests failed (or did not run) with random seed {seed}");
        return Ok(false);
    }
    Ok(true)
}

/// The one test that needs a build *without* the mysql feature (what a user without the
/// client library gets): run it that way, and fail unless it actually ran.
fn without_mysql(cargo: &str) -> Result<(), Box<dyn std::error::Error>> {
    const TEST: &str = "db::tests::mysql_url_without_the_feature_says_how_to_enable_it";
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "-p", "rowguard", "--lib", "--", "--exact", TEST]);
    eprintln!("running: {cmd:?}");
    let out = cmd.output()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    print!("{stdout}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() || !stdout.contains("1 passed") {
        return Err(format!("{TEST} did not pass in a build without the mysql feature").into());
    }
    Ok(())
}

fn mysql_client_available() -> bool {
    ["mysqlclient", "libmariadb"].iter().any(|lib| {
        Command::new("pkg-config")
            .args(["--exists", lib])
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// Checks that the backend's test server accepts a TCP connection.
fn probe(backend: Backend) -> Result<(), String> {
    let url = match server_url(backend) {
        Some(Ok(url)) => url,
        Some(Err(e)) => return Err(e.to_string()),
        None => return Ok(()),
    };
    let Some((host, port)) = url.server_address() else {
        return Ok(());
    };
    let reachable = (host.as_str(), port)
        .to_socket_addrs()
        .map(|mut addrs| {
            addrs.any(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2)).is_ok())
        })
        .unwrap_or(false);
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "{backend} test server {} is not reachable",
            url.redacted()
        ))
    }
}
