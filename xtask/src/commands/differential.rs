//! `cargo xtask differential`: the SQL = memory differential property test at scale, on
//! demand (a million cases by default), on one backend or all: random rules and rows, the
//! rows each backend's SQL selects against those the in-memory evaluator accepts.

use std::process::{Command, ExitCode};
use std::time::Instant;

use super::CommandResult;

/// Cases per backend in `cargo xtask test` (and so in CI).
pub const CI_CASES: u32 = 10_000;

/// Arguments of `differential`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Cases per backend.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u32).range(1..))]
    cases: u32,
    /// The seed (a decimal number); a random one, printed, if not given.
    #[arg(long)]
    seed: Option<u64>,
    /// Only this backend: sqlite, postgres or mysql (default: all three).
    #[arg(long, value_parser = ["sqlite", "postgres", "mysql"])]
    backend: Option<String>,
}

/// Runs the differential test as asked, printing the seed first and the time taken last.
pub fn run(args: Args) -> CommandResult {
    use std::hash::{BuildHasher, Hasher};
    let seed = args.seed.unwrap_or_else(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    });
    let test = match &args.backend {
        Some(b) => format!("rules_props::sql_and_memory_agree_on_random_rules::on_{b}"),
        None => "rules_props::sql_and_memory_agree_on_random_rules".to_owned(),
    };
    eprintln!(
        "differential: {} cases per backend, seed {seed} (replay: cargo xtask differential \
         --cases {} --seed {seed})",
        args.cases, args.cases
    );
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--release", "-p", "rowguard", "--test", "it"]);
    if args.backend.as_deref() == Some("mysql") || args.backend.is_none() {
        cmd.args(["--features", "mysql"]);
    }
    cmd.env("ROWGUARD_PROPTEST_SEED", seed.to_string())
        .env("ROWGUARD_DIFFERENTIAL_CASES", args.cases.to_string())
        .args(["--", &test, "--nocapture"]);
    let started = Instant::now();
    let status = cmd.status()?;
    eprintln!(
        "differential: {} in {:.0} s",
        if status.success() { "passed" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
