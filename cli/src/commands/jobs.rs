//! `rowguard jobs commands|run|list|output|kill|worker`

mod remote;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use rowguard::jobs::{self, instance_id_from_file, JobExecution, JobStatus, JobsConfig, Runner};
use rowguard::{connect_pool, Authorizer, Config, PoolOptions};

use super::{outln, CommandResult};
use crate::context::{Context, SubjectSpec};

/// Arguments of `jobs`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Act as the user of `rowguard login` against their server, instead of on the database.
    #[arg(long, global = true)]
    remote: bool,
    #[command(subcommand)]
    command: JobsCommand,
}

#[derive(clap::Subcommand, Debug)]
enum JobsCommand {
    /// List the allowed commands (with --as: those the subject's roles hold the permission
    /// of, inheritance and "*" applied).
    Commands {
        #[command(flatten)]
        who: SubjectSpec,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Run an allowed command here, streaming its output until it ends.
    Run {
        /// The command's name.
        name: String,
        /// A parameter: NAME=VALUE (repeatable).
        #[arg(long = "param", value_name = "NAME=VALUE")]
        params: Vec<String>,
        #[command(flatten)]
        who: SubjectSpec,
    },
    /// The jobs the subject may see, newest first.
    List {
        #[command(flatten)]
        who: SubjectSpec,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
    /// A job's output from a byte offset; the next offset goes to standard error.
    Output {
        /// The job.
        uuid: String,
        /// Start at this byte offset.
        #[arg(long, default_value_t = 0)]
        from: i64,
        /// Keep printing until the job ends.
        #[arg(long, conflicts_with = "json")]
        follow: bool,
        /// Print {"status", "chunks": [{"offset", "stream", "text"}], "next_offset"}.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        who: SubjectSpec,
    },
    /// Ask for a running job to be killed (its instance escalates SIGINT, SIGTERM, SIGKILL).
    Kill {
        /// The job.
        uuid: String,
        #[command(flatten)]
        who: SubjectSpec,
    },
    /// Run this instance's worker: heartbeats, kill requests, dead-instance detection.
    Worker,
}

/// Runs a `jobs` subcommand.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    if args.remote {
        return remote::remote(args.command);
    }
    let config = Config::load()?;
    let jobs_config = JobsConfig::from_config(&config)?;
    match args.command {
        JobsCommand::Commands { who, json } => {
            let mut conn = ctx.connect()?;
            let graph = rowguard::rbac::load(&mut conn)?;
            let subject = ctx.subject_in(&mut conn, &who, &graph)?;
            let roles: Vec<&str> = subject.set("roles").collect();
            for (name, c) in &jobs_config.commands {
                if !graph.permissions().contains_key(&c.permission) {
                    ctx.warn(format_args!(
                        "command \"{name}\" needs permission \"{}\", which is not defined{}; it cannot run",
                        c.permission,
                        crate::suggest::hint(&c.permission, graph.permissions().keys().map(String::as_str))
                    ));
                }
            }
            // A subject's commands: its roles', and what its policies say of `jobs:Run`.
            let auth = rowguard::Authorizer::new(config.clone());
            let mut shown = Vec::new();
            for (name, c) in &jobs_config.commands {
                let mine = who.sets.is_empty() || {
                    let resource =
                        rowguard::guard::ServiceResource::new("jobs", "command", Some(name));
                    let decision =
                        auth.statements_decision(&mut conn, &subject, "jobs:Run", &resource)?;
                    rowguard::guard::with_rbac(
                        graph.permissions().contains_key(&c.permission) && c.allows(&graph, &roles),
                        &decision,
                    )
                };
                if mine {
                    shown.push((name, c));
                }
            }
            if json {
                let list = shown
                    .iter()
                    .map(|(name, c)| {
                        let params: serde_json::Map<String, serde_json::Value> = c
                            .params
                            .iter()
                            .map(|(p, s)| (p.clone(), serde_json::json!({"pattern": s.pattern, "default": s.default})))
                            .collect();
                        serde_json::json!({"name": name, "program": c.program, "args": c.args,
                            "params": params, "permission": c.permission, "timeout_secs": c.timeout_secs,
                            "description": c.description})
                    })
                    .collect();
                super::print_json(&serde_json::Value::Array(list))?;
            } else if shown.is_empty() {
                outln!(
                    "no allowed command{}",
                    if who.sets.is_empty() {
                        " is configured ([jobs.commands] in rowguard.toml, or ROWGUARD_ALLOWED_COMMANDS)"
                    } else {
                        " for this subject"
                    }
                );
            } else {
                for (name, c) in shown {
                    let params: Vec<String> = c
                        .params
                        .iter()
                        .map(|(p, s)| format!("{p}=/{}/", s.pattern))
                        .collect();
                    outln!(
                        "{name}: {} {}  params [{}]  permission {}{}",
                        c.program,
                        c.args.join(" "),
                        params.join(", "),
                        c.permission,
                        c.timeout_secs
                            .map(|t| format!("  timeout {t}s"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Run { name, params, who } => {
            let mut values = BTreeMap::new();
            for p in &params {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--param {p}: expected NAME=VALUE"))?;
                values.insert(k.to_owned(), v.to_owned());
            }
            let url = ctx.url()?;
            let mut conn = ctx.connect()?;
            let subject = ctx.subject(&mut conn, &who)?;
            let runner = this_instance(&url, &config, &jobs_config)?;
            let guard = runner.authorizer().guard(subject);
            let started = runner.start(&guard, &name, &values);
            written(ctx, runner.authorizer());
            let uuid = started?;
            eprintln!("job {uuid} started on instance {}", runner.instance_id());
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
        JobsCommand::List { who, json } => {
            let mut conn = ctx.connect()?;
            let subject = ctx.subject(&mut conn, &who)?;
            let guard = Authorizer::new(config).guard(subject);
            let list = jobs::list(&mut conn, &guard)?;
            if json {
                super::print_json(&serde_json::Value::Array(
                    list.iter().map(job_json).collect(),
                ))?;
            } else if list.is_empty() {
                outln!("no jobs visible to this subject");
            } else {
                let mut out = std::io::stdout().lock();
                for j in list {
                    let started = j.started_at.format("%Y-%m-%d %H:%M:%S").to_string();
                    let status = j.status.to_string();
                    let line = [&*j.uuid, &status, &j.command, &j.user_identifier];
                    writeln!(out, "{}", job_line(line, &started, &j.instance_id))?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Output {
            uuid,
            from,
            follow: keep,
            json,
            who,
        } => {
            let mut conn = ctx.connect()?;
            let subject = ctx.subject(&mut conn, &who)?;
            let guard = Authorizer::new(config).guard(subject);
            if keep {
                follow(&mut conn, &guard, &uuid, from)?;
                return Ok(ExitCode::SUCCESS);
            }
            let (job, chunks) = jobs::output(&mut conn, &guard, &uuid, from)?;
            let next = chunks.last().map_or(from, |c| c.end());
            if json {
                let list = chunks
                    .iter()
                    .map(|c| {
                        serde_json::json!({"offset": c.byte_offset, "stream": c.stream,
                        "text": String::from_utf8_lossy(&c.chunk)})
                    })
                    .collect::<Vec<_>>();
                super::print_json(
                    &serde_json::json!({"uuid": job.uuid, "status": job.status.to_string(),
                    "chunks": list, "next_offset": next}),
                )?;
            } else {
                let mut stdout = std::io::stdout().lock();
                for c in &chunks {
                    stdout.write_all(&c.chunk)?;
                }
                stdout.flush()?;
                eprintln!("job {uuid} {}; next offset {next}", job.status);
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Kill { uuid, who } => {
            let mut conn = ctx.connect()?;
            let subject = ctx.subject(&mut conn, &who)?;
            let auth = Authorizer::new(config.clone());
            auth.log_decisions(&ctx.url()?)?;
            let guard = auth.guard(subject);
            let requested = jobs::request_kill(&mut conn, &guard, &uuid, &jobs_config.super_users);
            written(ctx, &auth);
            requested?;
            outln!("kill of job {uuid} requested; its instance carries it out");
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Worker => {
            let url = ctx.url()?;
            ctx.connect()?;
            let runner = this_instance(&url, &config, &jobs_config)?;
            // The worker runs on whether or not anyone reads this line.
            let _ = writeln!(
                std::io::stdout(),
                "worker for instance {}: heartbeats, kill requests, dead instances (Ctrl-C stops)",
                runner.instance_id()
            );
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}

/// Writes the decisions this command made before it ends (a short process may not outlive
/// the log's schedule), and says so when that fails: they are counted, never silently gone.
fn written(ctx: &mut Context, auth: &Authorizer) {
    if let Err(e) = auth.flush_decisions() {
        ctx.warn(format_args!("{e}"));
    }
}

/// One line of `jobs list`, of the database or of a server: uuid, status, command and user,
/// then the start and the instance.
fn job_line(fields: [&str; 4], started: &str, instance: &str) -> String {
    let [uuid, status, command, user] = fields;
    format!("{uuid}  {status:<10} {command:<12} {user:<10} {started}  {instance}")
}

fn job_json(j: &JobExecution) -> serde_json::Value {
    serde_json::json!({
        "uuid": j.uuid, "command": j.command, "parameters": serde_json::from_str::<serde_json::Value>(&j.parameters).unwrap_or_default(),
        "user_identifier": j.user_identifier, "instance_id": j.instance_id, "pid": j.pid,
        "status": j.status.to_string(), "exit_code": j.exit_code,
        "started_at": j.started_at.to_string(), "finished_at": j.finished_at.map(|t| t.to_string()),
        "kill_requested_by": j.kill_requested_by, "killed_by": j.killed_by,
    })
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
    let auth = Authorizer::new(config.clone());
    auth.log_decisions(url)?;
    Ok(Runner::new(pool, auth, jobs_config.clone(), instance))
}

/// The job's output from `from` on standard output as it arrives (see [`jobs::follow`]).
fn follow(
    conn: &mut rowguard::AnyConnection,
    guard: &rowguard::Guard,
    uuid: &str,
    from: i64,
) -> Result<JobExecution, jobs::JobError> {
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
