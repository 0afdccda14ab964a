//! `rowguard seed`

use std::path::PathBuf;
use std::process::ExitCode;

use rowguard::seed::{self, SeedOptions};

use super::CommandResult;
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
    println!(
        "seeding from {} file(s): {}",
        seed.files.len(),
        seed.files.join(", ")
    );
    let mut conn = ctx.connect()?;
    let options = SeedOptions {
        fresh: args.fresh,
        ..SeedOptions::default()
    };
    let result = seed::apply(&mut conn, &seed, options, &mut |line| {
        let ms = line.duration.as_secs_f64() * 1000.0;
        match &line.outcome {
            Ok(c) => println!(
                "  {:<30} {ms:>9.1} ms  DONE  ({} added, {} changed, {} unchanged)",
                line.step.name(),
                c.added,
                c.changed,
                c.unchanged
            ),
            Err(_) => println!("  {:<30} {ms:>9.1} ms  FAIL", line.step.name()),
        }
    });
    match result {
        Ok(_) => {
            println!("SUCCESS");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("rolled back: the database is as it was before");
            Ok(ExitCode::FAILURE)
        }
    }
}
