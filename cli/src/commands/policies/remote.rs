//! `rowguard policies --remote …`: the policy commands against the server of `rowguard login`.

use std::process::ExitCode;

use super::super::{outln, CommandResult};
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
                outln!(
                    "#{:<4} {} \"{}\": {}{}",
                    r["id"],
                    r["set_type"].as_str().unwrap_or("?"),
                    r["set_value"].as_str().unwrap_or("?"),
                    r["policy"],
                    r["error"]
                        .as_str()
                        .map(|e| format!("  INVALID: {e}"))
                        .unwrap_or_default()
                );
            }
            outln!("{} policy(ies)", rows.len());
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Get { name } => {
            let row = server.get(&policy_path(&name))?;
            outln!("{}", serde_json::to_string_pretty(&row["policy"])?);
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Set { name, file } => {
            let limit = Some(rowguard::policy::MAX_POLICY_BYTES);
            let text = super::super::read_document(&name.label(), file.as_deref(), limit)?;
            // Checked here too, so a typo is named before anything is sent; the server
            // validates again.
            rowguard::policy::Policy::parse(&text)
                .map_err(|e| format!("{}: {e}; nothing written", name.label()))?;
            let document: serde_json::Value = serde_json::from_str(&text)?;
            let answer = server
                .put(&policy_path(&name), &document)
                .map_err(|e| format!("{}: {e}; nothing written", name.label()))?;
            for warning in answer["warnings"].as_array().into_iter().flatten() {
                ctx.warn(format_args!(
                    "{}: {}",
                    name.label(),
                    warning.as_str().unwrap_or("")
                ));
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
            server
                .delete(&policy_path(&name))
                .map_err(|e| format!("{}: {e}", name.label()))?;
            outln!("deleted {}", name.label());
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Check => {
            let report = server.get("/api/policies/check")?;
            let invalid = report["invalid"].as_array().cloned().unwrap_or_default();
            for b in &invalid {
                outln!(
                    "#{} policy {} \"{}\": {}",
                    b["id"],
                    b["set_type"].as_str().unwrap_or("?"),
                    b["set_value"].as_str().unwrap_or("?"),
                    b["error"].as_str().unwrap_or("?")
                );
            }
            for w in report["warnings"].as_array().into_iter().flatten() {
                ctx.warn(format_args!(
                    "policy {} \"{}\": {}",
                    w["set_type"].as_str().unwrap_or("?"),
                    w["set_value"].as_str().unwrap_or("?"),
                    w["warning"].as_str().unwrap_or("?")
                ));
            }
            let checked = report["checked"].as_u64().unwrap_or(0) as usize;
            super::check_summary(invalid.len(), checked)
        }
        PoliciesCommand::Explain { question } => {
            let answer = server.post("/api/policies/explain", &question_body(&question)?)?;
            outln!("{}", answer["text"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        PoliciesCommand::Try { question, json } => {
            let answer = server.post("/api/policies/try", &question_body(&question)?)?;
            super::print_decision(&answer, json)
        }
    }
}
