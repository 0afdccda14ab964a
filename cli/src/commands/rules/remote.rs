//! `rowguard rules --remote …`: the rule commands against the server of `rowguard login`.

use std::process::ExitCode;

use super::super::{outln, CommandResult};
use super::{right, RuleName, RulesCommand, SubjectArgs};
use crate::context::Context;

/// The path of one rule row on the server.
fn rule_path(name: &RuleName) -> String {
    use crate::remote::encode;
    format!(
        "/api/rules/{}/{}/{}",
        encode(&name.set_type),
        encode(&name.set_value),
        encode(&name.model)
    )
}

/// The body of explain / try: the subject's sets and attributes as `--as`/`--attr` give them.
fn subject_body(subject: &SubjectArgs, action: &str) -> Result<serde_json::Value, String> {
    let mut body = subject.who.to_json()?;
    body["model"] = subject.model.clone().into();
    body["action"] = action.into();
    Ok(body)
}

/// The rule commands against the server of `rowguard login`, as its user.
pub(super) fn remote(command: RulesCommand, ctx: &mut Context) -> CommandResult {
    use crate::remote::{encode, Remote};
    let server = Remote::from_session()?;
    match command {
        RulesCommand::List { model, json } => {
            let path = match &model {
                Some(m) => format!("/api/rules?model={}", encode(m)),
                None => "/api/rules".to_owned(),
            };
            let rows = server.get(&path)?;
            if json {
                super::super::print_json(&rows)?;
            } else {
                for r in rows.as_array().into_iter().flatten() {
                    outln!(
                        "{} \"{}\" on {}: {}{}",
                        r["set_type"].as_str().unwrap_or("?"),
                        r["set_value"].as_str().unwrap_or("?"),
                        r["model"].as_str().unwrap_or("?"),
                        r["rules"],
                        r["error"]
                            .as_str()
                            .map(|e| format!("  INVALID: {e}"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Get { name } => {
            let rows = server.get(&format!("/api/rules?model={}", encode(&name.model)))?;
            let row = rows
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| {
                    r["set_type"] == name.set_type.as_str()
                        && r["set_value"] == name.set_value.as_str()
                })
                .ok_or_else(|| format!("no {}", name.label()))?;
            outln!("{}", serde_json::to_string_pretty(&row["rules"])?);
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Set { name, file } => {
            let text = super::super::read_document(&name.label(), file.as_deref(), None)?;
            // Strictly, as the server reads it: a key given twice is an error here too.
            let document = rowguard::rules::strict_json(&text)
                .map_err(|e| format!("{}: the document is not JSON: {e}", name.label()))?;
            // A write cannot be taken back: under --strict the server checks first.
            if ctx.strict() {
                let body = serde_json::json!({"model": name.model, "rules": text});
                let checked = server.post("/api/rules/check", &body).map_err(|e| {
                    format!(
                        "{}: --strict checks first: {e}; nothing written",
                        name.label()
                    )
                })?;
                if checked["valid"] == false {
                    let error = checked["error"].as_str().unwrap_or("invalid");
                    return Err(format!("{}: {error}; nothing written", name.label()).into());
                }
                super::super::warn_all(ctx, &name.label(), &checked["warnings"]);
                ctx.stop_if_strict()?;
            }
            let answer = server
                .put(&rule_path(&name), &document)
                .map_err(|e| format!("{e}; nothing written"))?;
            if !ctx.strict() {
                super::super::warn_all(ctx, &name.label(), &answer["warnings"]);
            }
            outln!(
                "{}: {}",
                answer["result"].as_str().unwrap_or("stored"),
                name.label()
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Delete { name } => {
            server.delete(&rule_path(&name))?;
            outln!("deleted {}", name.label());
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Check { paths } => {
            if !paths.is_empty() {
                return Err(
                    "--path reads source files here; it does not apply with --remote".into(),
                );
            }
            let report = server.get("/api/rules/check")?;
            let invalid = report["invalid"].as_array().cloned().unwrap_or_default();
            let orphaned = report["orphaned"].as_array().cloned().unwrap_or_default();
            for b in &invalid {
                outln!(
                    "rule {} ({} \"{}\", model {}): {}",
                    b["id"],
                    b["set_type"].as_str().unwrap_or("?"),
                    b["set_value"].as_str().unwrap_or("?"),
                    b["model"].as_str().unwrap_or("?"),
                    b["error"].as_str().unwrap_or("?")
                );
            }
            for o in &orphaned {
                outln!(
                    "rule {} (value {}): its {} no longer exists",
                    o["id"],
                    o["set_value"],
                    o["missing"].as_str().unwrap_or("?")
                );
            }
            outln!(
                "{} rule(s) checked, {} invalid, {} orphaned",
                report["checked"],
                invalid.len(),
                orphaned.len()
            );
            Ok(if invalid.is_empty() && orphaned.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        RulesCommand::Explain { subject, action } => {
            right(&action)?;
            let answer = server.post("/api/rules/explain", &subject_body(&subject, &action)?)?;
            outln!("{}", answer["text"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Try {
            subject,
            action,
            json,
            columns,
        } => {
            right(&action)?;
            let mut body = subject_body(&subject, &action)?;
            body["columns"] = columns.into();
            let answer = server.post("/api/rules/try", &body)?;
            if columns {
                super::super::print_json(&answer["rows"])?;
            } else if json {
                super::super::print_json(&answer["keys"])?;
            } else {
                for key in answer["keys"].as_array().into_iter().flatten() {
                    match key.as_str() {
                        Some(t) => outln!("{t}"),
                        None => outln!("{key}"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::History {
            model,
            since,
            limit,
            json,
        } => {
            use crate::remote::encode;
            let mut query = format!("/api/rules/history?limit={limit}");
            if let Some(model) = model {
                query.push_str(&format!("&model={}", encode(&model)));
            }
            if let Some(since) = since {
                let at = super::parse_since(&since)?;
                let at = format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S"));
                query.push_str(&format!("&since={}", encode(&at)));
            }
            let answer = server.get(&query)?;
            let entries = answer.as_array().cloned().unwrap_or_default();
            super::print_history(&entries, json)
        }
        RulesCommand::Decisions {
            model,
            since,
            before,
            denied,
            limit,
            json,
        } => {
            use crate::remote::encode;
            // A server answers at most 1,000 at a time: --before pages further.
            let limit = limit.min(1_000);
            let mut query = format!("/api/rules/decisions?limit={limit}");
            if let Some(model) = model {
                query.push_str(&format!("&model={}", encode(&model)));
            }
            if let Some(since) = since {
                let at = super::parse_since(&since)?;
                let at = format!("{}Z", at.format("%Y-%m-%dT%H:%M:%S%.f"));
                query.push_str(&format!("&since={}", encode(&at)));
            }
            if let Some(before) = before {
                query.push_str(&format!("&before={before}"));
            }
            if denied {
                query.push_str("&denied=true");
            }
            let answer = server.get(&query)?;
            let entries = answer.as_array().cloned().unwrap_or_default();
            if entries.len() == limit as usize && !json {
                eprintln!("note: the newest {limit}; --before shows more");
            }
            super::print_decisions(&entries, json)
        }
        RulesCommand::Restore { id } => {
            let answer = server.post(
                &format!("/api/rules/history/{id}/restore"),
                &serde_json::json!({}),
            )?;
            let text = |k: &str| answer[k].as_str().unwrap_or("");
            let changed = text("result") != "unchanged";
            let (what, document) = match answer.get("policy") {
                Some(policy) => (
                    format!("policy {} \"{}\"", text("set_type"), text("set_value")),
                    policy.to_string(),
                ),
                None => (
                    format!(
                        "rule {} \"{}\" on {}",
                        text("set_type"),
                        text("set_value"),
                        text("model")
                    ),
                    answer["rules"].to_string(),
                ),
            };
            outln!("{}", super::restore_line(id, changed, &what, &document));
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test { .. } => {
            Err("rules test evaluates files here; it does not apply with --remote".into())
        }
    }
}
