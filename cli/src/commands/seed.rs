//! `rowguard seed`

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::seed::{self, SeedOptions};

use super::{outln, CommandResult};
use crate::context::Context;

/// Arguments of `seed`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Directory of the *.json seed files.
    #[arg(long, default_value = "seeds")]
    dir: PathBuf,
    /// Replace everything seeded before (roles, permissions, grants, inheritance, rules).
    #[arg(long)]
    fresh: bool,
}

/// Loads the seeds in one transaction, one report line per step.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    let seed = seed::load_dir(&args.dir)?;
    outln!(
        "seeding from {} file(s): {}",
        seed.files.len(),
        seed.files.join(", ")
    );
    let mut conn = ctx.connect()?;
    let options = SeedOptions {
        fresh: args.fresh,
        ..SeedOptions::default()
    };
    // A reader that went away must not stop (or panic) the seed midway: report lines it
    // cannot take are dropped, and the outcome below still decides the exit code.
    let mut out = std::io::stdout();
    let result = seed::apply(&mut conn, &seed, options, &mut |line| {
        use std::io::Write as _;
        let ms = line.duration.as_secs_f64() * 1000.0;
        let _ = match &line.outcome {
            Ok(c) => writeln!(
                out,
                "  {:<30} {ms:>9.1} ms  DONE  ({} added, {} changed, {} unchanged)",
                line.step.name(),
                c.added,
                c.changed,
                c.unchanged
            ),
            Err(_) => writeln!(out, "  {:<30} {ms:>9.1} ms  FAIL", line.step.name()),
        };
    });
    match result {
        Ok(_) => {
            outln!("SUCCESS");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("rolled back: the database is as it was before");
            Ok(ExitCode::FAILURE)
        }
    }
}
