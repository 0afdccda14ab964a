//! `cargo xtask rules check|explain|try`: DBA tools that need only the stored metadata.

use std::process::ExitCode;

use rowguard::rules::{Right, Value};
use rowguard::{AnyConnection, Authorizer, Config, Subject};

use super::{CommandResult, DatabaseArgs};

/// Arguments of `rules`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(clap::Subcommand, Debug)]
enum RulesCommand {
    /// Validate every stored rule and model; list each bad row, each model whose stored
    /// definition is broken or differs from the code; exit 1 if any.
    Check {
        #[command(flatten)]
        db: DatabaseArgs,
        /// Source directory declaring the models (repeatable; default: src and examples,
        /// those that exist).
        #[arg(long = "path", value_name = "DIR")]
        paths: Vec<std::path::PathBuf>,
    },
    /// Show the contributing rule rows, the merged rule and the SQL for a subject.
    Explain {
        #[command(flatten)]
        subject: SubjectArgs,
        /// create, read, update or delete.
        #[arg(long, default_value = "read")]
        action: String,
    },
    /// List the primary keys of the rows a subject may act on, ascending.
    Try {
        #[command(flatten)]
        subject: SubjectArgs,
        /// read, update or delete.
        #[arg(long, default_value = "read")]
        action: String,
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// The subject and model of `explain` / `try`.
#[derive(clap::Args, Debug)]
struct SubjectArgs {
    #[command(flatten)]
    db: DatabaseArgs,
    /// The model's stored name.
    #[arg(long)]
    model: String,
    #[command(flatten)]
    who: super::SubjectSpec,
}

impl SubjectArgs {
    fn subject(&self) -> Result<Subject, String> {
        self.who.subject()
    }

    /// One connection and an authorizer: a short-lived command needs no pool.
    fn open(&self) -> Result<(AnyConnection, Authorizer), Box<dyn std::error::Error>> {
        let conn = rowguard::establish(&self.db.url()?)?;
        Ok((conn, Authorizer::new(Config::load()?)))
    }
}

/// Models that fail closed at run time: a broken stored definition, or one that differs from
/// the models declared in the source (a guard call then refuses with `ModelMismatch`).
fn model_problems(
    conn: &mut AnyConnection,
    paths: Vec<std::path::PathBuf>,
) -> Result<Vec<String>, Box<dyn std::error::Error>> {
    let mut problems = Vec::new();
    let mut stored = std::collections::HashMap::new();
    for model in rowguard::store::load_models(conn)? {
        match model {
            Ok(m) => {
                stored.insert(m.name.clone(), m);
            }
            Err(broken) => problems.push(format!(
                "model {}: its stored columns are invalid, so it fails closed: {}",
                broken.name, broken.error
            )),
        }
    }
    let paths: Vec<_> = if paths.is_empty() {
        ["src", "examples"]
            .map(std::path::PathBuf::from)
            .into_iter()
            .filter(|p| p.is_dir())
            .collect()
    } else {
        paths
    };
    if paths.is_empty() {
        eprintln!("notice: no source directory to compare the stored models with");
        return Ok(problems);
    }
    let scan = rowguard::sync::scan(&paths, true)?;
    for (name, found) in &scan.models {
        let Some(model) = stored.get(name) else {
            problems.push(format!(
                "model {name}: declared in the code but not registered; run cargo xtask sync-models"
            ));
            continue;
        };
        // The guard's own test (what makes it fail closed with ModelMismatch).
        let differences = model.differences(&found.table, &found.primary_key, &found.columns);
        if !differences.is_empty() {
            problems.push(format!(
                "model {name}: the stored definition differs from the code, so it fails closed ({}); run cargo xtask sync-models",
                differences.join("; ")
            ));
        }
    }
    Ok(problems)
}

fn right(action: &str) -> Result<Right, String> {
    Right::from_key(action).ok_or_else(|| {
        format!("unknown action \"{action}\"; expected create, read, update or delete")
    })
}

/// Runs a `rules` subcommand.
pub fn run(args: Args) -> CommandResult {
    match args.command {
        RulesCommand::Check { db, paths } => {
            let mut conn = rowguard::establish(&db.url()?)?;
            let models = model_problems(&mut conn, paths)?;
            for problem in &models {
                println!("{problem}");
            }
            let bad = rowguard::store::invalid_rules(&mut conn)?;
            let total = rowguard::store::all_rules(&mut conn)?.len();
            for b in &bad {
                println!(
                    "rule {} ({} \"{}\", model {}): {}",
                    b.row.id, b.row.set_type, b.row.set_value, b.row.model, b.error
                );
            }
            println!(
                "{} rule(s) checked, {} invalid; {} model problem(s)",
                total,
                bad.len(),
                models.len()
            );
            Ok(if bad.is_empty() && models.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        RulesCommand::Explain { subject, action } => {
            let right = right(&action)?;
            let (mut conn, auth) = subject.open()?;
            println!(
                "{}",
                auth.explain(&mut conn, &subject.subject()?, &subject.model, right)?
            );
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Try {
            subject,
            action,
            json,
        } => {
            let right = right(&action)?;
            if right == Right::Create {
                return Err("try lists existing rows: use read, update or delete".into());
            }
            let (mut conn, auth) = subject.open()?;
            let keys =
                auth.permitted_keys(&mut conn, &subject.subject()?, &subject.model, right)?;
            if json {
                let list: Vec<serde_json::Value> = keys.iter().map(key_json).collect();
                println!("{}", serde_json::Value::Array(list));
            } else {
                for key in keys {
                    match key {
                        Value::Text(t) => println!("{t}"),
                        other => println!("{other}"),
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A primary key as JSON: numbers as numbers, text as the text itself (a `Value`'s
/// `Display` is SQL, with quotes doubled).
fn key_json(key: &Value) -> serde_json::Value {
    match key {
        Value::Int(i) => serde_json::Value::from(*i),
        Value::Text(t) | Value::Uuid(t) => serde_json::Value::from(t.as_str()),
        other => serde_json::Value::from(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_print_as_json_values_not_sql() {
        assert_eq!(key_json(&Value::Int(-7)), serde_json::json!(-7));
        assert_eq!(
            key_json(&Value::Text("O'Brien".into())),
            serde_json::json!("O'Brien")
        );
        assert_eq!(
            serde_json::Value::Array(vec![key_json(&Value::Text("a\"b".into()))]).to_string(),
            r#"["a\"b"]"#
        );
    }
}
