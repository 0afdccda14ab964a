//! `rowguard login`, `rowguard logout`

use std::process::ExitCode;

use serde_json::json;

use super::{outln, CommandResult};
use crate::remote::{save_session, session_file, Remote, ServerError};

/// Arguments of `login`.
#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// The server's base URL.
    #[arg(long, env = "ROWGUARD_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// The user's name.
    #[arg(long)]
    name: String,
    /// The token's lifetime in seconds (default: the server's).
    #[arg(long, value_name = "SECS")]
    expires_in: Option<u64>,
}

/// Logs in (the password at a prompt, or the first line of standard input) and keeps the
/// token in the session file, readable by its owner only.
pub fn login(args: LoginArgs) -> CommandResult {
    let password = super::users::read_password(&format!("password for {}: ", args.name), false)?;
    let mut body = json!({"name": args.name, "password": password});
    if let Some(secs) = args.expires_in {
        body["expires_in"] = json!(secs);
    }
    let remote = Remote::anonymous(&args.server);
    let answer = remote.post("/api/login", &body)?;
    let session = json!({
        "server": remote.server(),
        "user": args.name,
        "token": answer["token"],
        "expires_at": answer["expires_at"],
    });
    let path = save_session(&session)?;
    outln!(
        "logged in to {} as {} until {}; session in {}",
        remote.server(),
        args.name,
        answer["expires_at"].as_str().unwrap_or("?"),
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Revokes the session's token on the server and removes the session file (also when the
/// server cannot be reached: then it says so, and the token lives until it expires).
pub fn logout() -> CommandResult {
    let path = session_file()?;
    let remote = Remote::from_session()?;
    let revoked = remote.post("/api/logout", &json!({}));
    std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let already_invalid = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<ServerError>()
            .is_some_and(|s| s.status == 401)
    };
    match revoked {
        Err(e) if already_invalid(e.as_ref()) => {
            outln!("the token was no longer valid; session file removed");
            Ok(ExitCode::SUCCESS)
        }
        Ok(_) => {
            outln!("logged out of {}; session file removed", remote.server());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!(
            "session file removed, but the server did not revoke the token ({e}); it stays valid until it expires"
        )
        .into()),
    }
}
