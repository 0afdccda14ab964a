//! `rowguard users add|passwd|lock|unlock|roles|list`

use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

use rowguard_server::users;

use super::{outln, CommandResult};
use crate::context::Context;

/// Arguments of `users`.
#[derive(clap::Args, Debug)]
pub struct Args {
    #[command(subcommand)]
    command: UsersCommand,
}

#[derive(clap::Subcommand, Debug)]
enum UsersCommand {
    /// Add a user; the password is asked for (twice) at a prompt, or read as the first line of
    /// standard input when that is not a terminal. Never on the command line.
    Add {
        /// The user's name (letters, digits, . _ - @).
        name: String,
        /// An RBAC role (repeatable, or separated by commas).
        #[arg(long = "role", value_name = "ROLE", value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Set a user's password (as `add` reads it) and revoke all of their tokens.
    Passwd {
        /// The user.
        name: String,
    },
    /// Lock a user: no login, and all of their tokens revoked at once.
    Lock {
        /// The user.
        name: String,
    },
    /// Unlock a user.
    Unlock {
        /// The user.
        name: String,
    },
    /// Replace a user's roles (none given: no roles).
    Roles {
        /// The user.
        name: String,
        /// The roles.
        roles: Vec<String>,
    },
    /// List the users, their roles and active tokens.
    List {
        /// Print a JSON array.
        #[arg(long)]
        json: bool,
    },
}

/// The password: at a prompt without echo (asked twice), or the first line of standard input.
pub(crate) fn read_password(
    prompt: &str,
    confirm: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password(prompt)?;
        if confirm && rpassword::prompt_password("again: ")? != first {
            return Err("the passwords differ; nothing changed".into());
        }
        return Ok(first);
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']).to_owned();
    if password.is_empty() {
        return Err("no password on standard input; nothing changed".into());
    }
    Ok(password)
}

/// Runs a `users` subcommand.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    let mut conn = ctx.connect()?;
    match args.command {
        UsersCommand::Add { name, roles } => {
            users::validate_name(&name)?;
            let password = read_password(&format!("password for {name}: "), true)?;
            users::add(
                &mut conn,
                &name,
                &users::NewPassword::new(&password)?,
                &roles,
            )?;
            outln!("added user {name} (roles: {})", list_or_none(&roles));
        }
        UsersCommand::Passwd { name } => {
            let password = read_password(&format!("new password for {name}: "), true)?;
            users::set_password(&mut conn, &name, &users::NewPassword::new(&password)?)?;
            outln!("password of {name} changed; all of their tokens are revoked");
        }
        UsersCommand::Lock { name } => {
            users::set_locked(&mut conn, &name, true)?;
            outln!("locked {name}; all of their tokens are revoked");
        }
        UsersCommand::Unlock { name } => {
            users::set_locked(&mut conn, &name, false)?;
            outln!("unlocked {name}");
        }
        UsersCommand::Roles { name, roles } => {
            users::set_roles(&mut conn, &name, &roles)?;
            outln!("roles of {name}: {}", list_or_none(&roles));
        }
        UsersCommand::List { json } => {
            let list = users::list(&mut conn)?;
            let graph = rowguard::rbac::load(&mut conn)?;
            for u in &list {
                for role in u.roles.iter().filter(|r| !graph.roles().contains_key(*r)) {
                    ctx.warn(format_args!(
                        "user {}: role \"{role}\" no longer exists; it grants nothing",
                        u.name
                    ));
                }
            }
            if json {
                let rows = list
                    .iter()
                    .map(|u| {
                        serde_json::json!({"name": u.name, "locked": u.locked, "roles": u.roles,
                            "active_tokens": u.active_tokens,
                            "created_at": u.created_at.to_string(), "updated_at": u.updated_at.to_string()})
                    })
                    .collect();
                super::print_json(&serde_json::Value::Array(rows))?;
            } else if list.is_empty() {
                outln!("no users; add one with `rowguard users add NAME --role ROLE`");
            } else {
                for u in &list {
                    outln!(
                        "{:<20} {:<8} roles: {:<30} active tokens: {}",
                        u.name,
                        if u.locked { "locked" } else { "active" },
                        list_or_none(&u.roles),
                        u.active_tokens
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}
