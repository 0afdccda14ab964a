//! `rowguard jobs --remote …`: the job commands against the server of `rowguard login`.

use std::io::Write;
use std::process::ExitCode;

use super::super::{outln, CommandResult};
use super::JobsCommand;
use crate::context::SubjectSpec;

/// `--as`/`--attr` describe a subject for the database; the server knows its user.
fn no_subject(who: &SubjectSpec) -> Result<(), String> {
    if who.sets.is_empty() && who.attrs.is_empty() {
        Ok(())
    } else {
        Err(
            "--as and --attr do not apply with --remote: the server acts as the logged-in user"
                .into(),
        )
    }
}

/// The `jobs` commands against the server of `rowguard login`, as its user.
pub(super) fn remote(command: JobsCommand) -> CommandResult {
    use crate::remote::{encode, Remote};
    use serde_json::{json, Value};
    let server = Remote::from_session()?;
    match command {
        JobsCommand::Commands { who, json } => {
            no_subject(&who)?;
            let list = server.get("/api/commands")?;
            if json {
                super::super::print_json(&list)?;
            } else {
                for c in list.as_array().into_iter().flatten() {
                    let params: Vec<String> = c["params"]
                        .as_object()
                        .into_iter()
                        .flatten()
                        .map(|(p, s)| format!("{p}=/{}/", s["pattern"].as_str().unwrap_or("")))
                        .collect();
                    outln!(
                        "{}: {}  params [{}]",
                        c["name"].as_str().unwrap_or("?"),
                        c["description"].as_str().unwrap_or(""),
                        params.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Run { name, params, who } => {
            no_subject(&who)?;
            let mut values = serde_json::Map::new();
            for p in &params {
                let (k, v) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--param {p}: expected NAME=VALUE"))?;
                values.insert(k.to_owned(), Value::String(v.to_owned()));
            }
            let started = server.post("/api/jobs", &json!({"command": name, "params": values}))?;
            let uuid = started["uuid"]
                .as_str()
                .ok_or("the server answered without the job's uuid")?
                .to_owned();
            eprintln!("job {uuid} started on {}", server.server());
            let job = remote_follow(&server, &uuid, 0)?;
            let status = job["status"].as_str().unwrap_or("?");
            eprintln!(
                "job {uuid} {status}{}",
                job["exit_code"]
                    .as_i64()
                    .map(|c| format!(" (exit {c})"))
                    .unwrap_or_default()
            );
            Ok(if status == "completed" {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        JobsCommand::List { who, json } => {
            no_subject(&who)?;
            let mut list = Vec::new();
            let mut offset = Some(0);
            while let Some(at) = offset {
                // The server's default page size, whatever its page_size_max.
                let page = server.get(&format!("/api/jobs?offset={at}"))?;
                list.extend(page["jobs"].as_array().cloned().unwrap_or_default());
                offset = page["next_offset"].as_i64();
            }
            if json {
                super::super::print_json(&Value::Array(list))?;
            } else if list.is_empty() {
                outln!("no jobs visible to this user");
            } else {
                for j in &list {
                    let text = |k: &str| j[k].as_str().unwrap_or("");
                    let fields = [text("uuid"), text("status"), text("command"), text("user")];
                    outln!(
                        "{}",
                        super::job_line(fields, text("started_at"), text("instance_id"))
                    );
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
            no_subject(&who)?;
            if keep {
                remote_follow(&server, &uuid, from)?;
                return Ok(ExitCode::SUCCESS);
            }
            let piece = server.get(&format!("/api/jobs/{}/output?from={from}", encode(&uuid)))?;
            if json {
                super::super::print_json(&piece)?;
            } else {
                let mut stdout = std::io::stdout().lock();
                stdout.write_all(piece["text"].as_str().unwrap_or("").as_bytes())?;
                stdout.flush()?;
                eprintln!(
                    "job {uuid} {}; next offset {}",
                    piece["job"]["status"].as_str().unwrap_or("?"),
                    piece["next_offset"]
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Kill { uuid, who } => {
            no_subject(&who)?;
            server.post(&format!("/api/jobs/{}/kill", encode(&uuid)), &json!({}))?;
            outln!("kill of job {uuid} requested; its instance carries it out");
            Ok(ExitCode::SUCCESS)
        }
        JobsCommand::Worker => Err("the worker runs beside the database, not with --remote".into()),
    }
}

/// Prints job `uuid`'s output from `from` as it arrives (long polls); returns the final job.
fn remote_follow(
    server: &crate::remote::Remote,
    uuid: &str,
    mut from: i64,
) -> Result<serde_json::Value, Box<dyn std::error::Error>> {
    let mut stdout = std::io::stdout();
    loop {
        let piece = server.get(&format!(
            "/api/jobs/{}/output?from={from}&wait_ms=1000",
            crate::remote::encode(uuid)
        ))?;
        stdout.write_all(piece["text"].as_str().unwrap_or("").as_bytes())?;
        stdout.flush()?;
        from = piece["next_offset"].as_i64().unwrap_or(from);
        if piece["done"].as_bool() == Some(true) {
            return Ok(piece["job"].clone());
        }
    }
}
