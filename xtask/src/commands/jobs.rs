//! `cargo xtask jobs commands|run|list|output|kill|worker`

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use rowguard::jobs::{self, instance_id_from_file, JobStatus, JobsConfig, Runner};
use rowguard::{connect_pool, Authorizer, Config, PoolOptions};

use super::{CommandResult, DatabaseArgs, SubjectSpec};

/// Arguments of `jobs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(flatten)]
    db: DatabaseArgs,
    #[command(flatten)]
    who: SubjectSpec,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum JobsCommand {
    /// List the allowed commands (those the subject's roles may run, with --as).
    Commands,
    /// Run an allowed command here, streaming its output until it ends.
    Run {
        /// The command's name.
        name: String,
        /// A parameter: NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
    },
    /// The jobs the subject may see, newest first.
    List,
    /// A job's output from a byte offset.
    Output {
        /// The job.
        uuid: String,
        /// Start at this byte offset.
        #[arg(long, default_value_t = 0)]
        from: i64,
        /// Keep printing until the job ends.
        #[arg(long)]
        follow: bool,
    },
    /// Ask for a running job to be killed (its instance escalates SIGINT, SIGTERM, SIGKILL).
    Kill {
        /// The job.
        uuid: String,
    },
    /// Run this instance's worker: heartbeats, kill requests, dead-instance detection.
    Worker,
}

/// Runs a `jobs` subcommand.
pub fn run(args: Args) -> CommandResult {
    let config = Config::load()?;
    let jobs_config = JobsConfig::from_config(&config)?;
    let url = args.db.url()?;
    let subject = args.who.subject()?;
    match args.command {
        JobsCommand::Commands => {
            let roles: Vec<&str> = subject.set("roles").collect();
            for (name, c) in &jobs_config.commands {
                if !args.who.sets.is_empty() && !c.allows(&roles) {
                    continue;
                }
                let params: Vec<String> = c
                    .params
                    .iter()
                    .map(|(p, s)| format!("{p}=/{}/", s.pattern))
                    .collect();
                println!(
                    "{name}: {} {}  params [{}]  roles [{}]{}",
                    c.program,
                    c.args.join(" "),
                    params.join(", "),
                    c.roles.join(", "),
                    c.timeout_secs
                        .map(|t| format!("  timeout {t}s"))
                        .unwrap_or_default()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Run { name, params } => {
            let mut values = BTreeMap::new();
            for p in &params {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--param {p}: expected NAME=VALUE"))?;
                values.insert(k.to_owned(), v.to_owned());
            }
            let runner = this_instance(&url, &config, &jobs_config)?;
            let guard = runner.authorizer().guard(subject);
            let uuid = runner.start(&guard, &name, &values)?;
            eprintln!("job {uuid} started on instance {}", runner.instance_id());
            let mut conn = rowguard::establish(&url)?;
            let job = follow(&mut conn, &guard, &uuid, 0)?;
            eprintln!(
                "job {uuid} {}{}",
                job.status,
                job.exit_code
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default()
            );
            Ok(if job.status == JobStatus::Completed {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        JobsCommand::List => {
            let mut conn = rowguard::establish(&url)?;
            let guard = Authorizer::new(config).guard(subject);
            for j in jobs::list(&mut conn, &guard)? {
                println!(
                    "{}  {:<10} {:<12} {:<10} {}  {}",
                    j.uuid,
                    j.status,
                    j.command,
                    j.user_identifier,
                    j.started_at.format("%Y-%m-%d %H:%M:%S"),
                    j.instance_id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Output {
            uuid,
            from,
            follow: keep,
        } => {
            let mut conn = rowguard::establish(&url)?;
            let guard = Authorizer::new(config).guard(subject);
            if keep {
                follow(&mut conn, &guard, &uuid, from)?;
            } else {
                let (_, chunks) = jobs::output(&mut conn, &guard, &uuid, from)?;
                let mut stdout = std::io::stdout().lock();
                for c in &chunks {
                    stdout.write_all(&c.chunk)?;
                }
                stdout.flush()?;
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Kill { uuid } => {
            let mut conn = rowguard::establish(&url)?;
            let guard = Authorizer::new(config.clone()).guard(subject);
            jobs::request_kill(&mut conn, &guard, &uuid, &jobs_config.super_users)?;
            println!("kill of job {uuid} requested; its instance carries it out");
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Worker => {
            let runner = this_instance(&url, &config, &jobs_config)?;
            println!(
                "worker for instance {}: heartbeats, kill requests, dead instances (Ctrl-C stops)",
                runner.instance_id()
            );
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}

/// The runner of this machine's instance (id from the instance id file).
fn this_instance(
    url: &rowguard::DatabaseUrl,
    config: &Config,
    jobs_config: &JobsConfig,
) -> Result<Runner, Box<dyn std::error::Error>> {
    let pool = connect_pool(
        url,
        PoolOptions {
            max_size: 4,
            ..PoolOptions::default()
        },
    )?;
    let instance = instance_id_from_file(&jobs_config.instance_id_file)?;
    Ok(Runner::new(
        pool,
        Authorizer::new(config.clone()),
        jobs_config.clone(),
        instance,
    ))
}

/// The job's output from `from` on standard output as it arrives (see [`jobs::follow`]).
fn follow(
    conn: &mut rowguard::AnyConnection,
    guard: &rowguard::Guard,
    uuid: &str,
    from: i64,
) -> Result<jobs::JobExecution, jobs::JobError> {
    let mut out = std::io::stdout().lock();
    jobs::follow(
        conn,
        guard,
        uuid,
        from,
        &mut out,
        Duration::from_millis(100),
    )
}
