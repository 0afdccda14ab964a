//! `rowguard policies --remote …`: the policy commands against the server of `rowguard login`.

use std::process::ExitCode;

use super::super::{outln, safe, CommandResult};
use super::{PoliciesCommand, PolicyName, Question};
use crate::context::Context;
use crate::remote::{encode, Remote};

/// The path of one policy on the server.
fn policy_path(name: &PolicyName) -> String {
    format!(
        "/api/policies/{}/{}",
        encode(&name.set_type),
        encode(&name.set_value)
    )
}

/// The body of explain / try.
fn question_body(question: &Question) -> Result<serde_json::Value, String> {
    let mut body = question.who.to_json()?;
    body["action"] = question.action.clone().into();
    body["resource"] = question.resource.clone().into();
    Ok(body)
}

/// The policy commands against the server of `rowguard login`, as its user.
pub(super) fn remote(command: PoliciesCommand, ctx: &mut Context) -> CommandResult {
    let server = Remote::from_session()?;
    match command {
        PoliciesCommand::List { json } => {
            let rows = server.get("/api/policies")?;
            let rows = rows.as_array().cloned().unwrap_or_default();
            if json {
                super::super::print_json(&serde_json::Value::Array(rows))?;
                return Ok(ExitCode::SUCCESS);
            }
            if rows.is_empty() {
                outln!("no policies stored");
                return Ok(ExitCode::SUCCESS);
            }
            for r in &rows {
                let text = |v: &serde_json::Value| safe(v.as_str().unwrap_or("?"));
                outln!(
                    "#{:<4} {} \"{}\": {}{}",
                    r["id"],
                    text(&r["set_type"]),
                    text(&r["set_value"]),
                    match &r["policy"] {
                        serde_json::Value::String(raw) => safe(raw),
                        parsed => parsed.to_string(),
                    },
                    r["error"]
                        .as_str()
                        .map(|e| format!("  INVALID: {}", safe(e)))
                        .unwrap_or_default()
                );
            }
            outln!("{} policy(ies)", rows.len());
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Get { name } => {
            let row = server.get(&policy_path(&name))?;
            let shown = match &row["policy"] {
                serde_json::Value::String(raw) => raw.clone(),
                parsed => serde_json::to_string_pretty(parsed)?,
            };
            outln!("{}", super::super::safe_lines(&shown));
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Set { name, file } => {
            let limit = Some(rowguard::policy::MAX_POLICY_BYTES);
            let text = super::super::read_document(&name.label(), file.as_deref(), limit)?;
            // Checked here too, so a typo is named before anything is sent; the server
            // validates again.
            rowguard::policy::Policy::parse(&text)
                .map_err(|e| format!("{}: {e}; nothing written", name.label()))?;
            let warn_all = super::super::warn_all;
            // A write cannot be taken back: under --strict the server checks first.
            if ctx.strict() {
                let checked = server
                    .post("/api/policies/check", &serde_json::json!({"policy": text}))
                    .map_err(|e| {
                        format!(
                            "{}: --strict checks first: {e}; nothing written",
                            name.label()
                        )
                    })?;
                warn_all(ctx, &name.label(), &checked["warnings"]);
                ctx.stop_if_strict()?;
            }
            let document: serde_json::Value = serde_json::from_str(&text)?;
            let answer = server
                .put(&policy_path(&name), &document)
                .map_err(|e| format!("{e}; nothing written"))?;
            if !ctx.strict() {
                warn_all(ctx, &name.label(), &answer["warnings"]);
            }
            outln!(
                "{}: {} ({} statement(s))",
                answer["result"].as_str().unwrap_or("stored"),
                name.label(),
                answer["statements"]
            );
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Delete { name } => {
            server.delete(&policy_path(&name))?;
            outln!("deleted {}", name.label());
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Check => {
            let report = server.get("/api/policies/check")?;
            let invalid = report["invalid"].as_array().cloned().unwrap_or_default();
            for b in &invalid {
                let text = |v: &serde_json::Value| safe(v.as_str().unwrap_or("?"));
                outln!(
                    "#{} policy {} \"{}\": {}",
                    b["id"],
                    text(&b["set_type"]),
                    text(&b["set_value"]),
                    text(&b["error"])
                );
            }
            for w in report["warnings"].as_array().into_iter().flatten() {
                let text = |v: &serde_json::Value| safe(v.as_str().unwrap_or("?"));
                ctx.warn(format_args!(
                    "policy {} \"{}\": {}",
                    text(&w["set_type"]),
                    text(&w["set_value"]),
                    text(&w["warning"])
                ));
            }
            let checked = report["checked"].as_u64().unwrap_or(0) as usize;
            super::check_summary(invalid.len(), checked)
        }
        PoliciesCommand::Explain { question } => {
            let answer = server.post("/api/policies/explain", &question_body(&question)?)?;
            outln!(
                "{}",
                super::super::safe_lines(answer["text"].as_str().unwrap_or(""))
            );
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Try { question, json } => {
            let answer = server.post("/api/policies/try", &question_body(&question)?)?;
            super::print_decision(&answer, json)
        }
    }
}
