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
    /// Allow plain http:// to a host other than this machine (the password and the token
    /// then cross the network unencrypted).
    #[arg(long)]
    allow_http: bool,
}

/// Whether `server` is plain HTTP to another machine.
fn plain_http_elsewhere(server: &str) -> bool {
    let lower = server.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split('/').next().unwrap_or("");
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    !(host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback()))
}

/// Logs in (the password at a prompt, or the first line of standard input) and keeps the
/// token in the session file, readable by its owner only.
pub fn login(args: LoginArgs) -> CommandResult {
    let scheme = args.server.to_ascii_lowercase();
    if !scheme.starts_with("http://") && !scheme.starts_with("https://") {
        return Err(format!(
            "--server {}: give the server's URL with its scheme, e.g. http://127.0.0.1:8080 or https://rowguard.example.org",
            args.server
        )
        .into());
    }
    if plain_http_elsewhere(&args.server) && !args.allow_http {
        return Err(format!(
            "{}: plain HTTP to another machine would send the password and the token unencrypted; use https://, or --allow-http",
            args.server
        )
        .into());
    }
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

/// Revokes the session's token on the server and removes the session file. If the server
/// cannot be reached, the file stays (run `logout` again later); a token the server no longer
/// knows is gone already.
pub fn logout() -> CommandResult {
    let path = session_file()?;
    let remote = Remote::from_session()?;
    let revoked = remote.post("/api/logout", &json!({}));
    let unknown_token = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<ServerError>()
            .is_some_and(|s| s.status == 401)
    };
    match revoked {
        Ok(_) => {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            outln!("logged out of {}; session file removed", remote.server());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) if unknown_token(e.as_ref()) => {
            std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            outln!("the token was no longer valid; session file removed");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!(
            "the token was not revoked ({e}); the session file stays: run logout again when the server answers (or lock the user, which revokes all of their tokens)"
        )
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::plain_http_elsewhere;

    #[test]
    fn only_loopback_may_be_plain_http() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:8080/",
            "http://[::1]:8080",
            "https://rowguard.example.org",
        ] {
            assert!(!plain_http_elsewhere(ok), "{ok}");
        }
        for bad in [
            "http://10.0.0.5:8080",
            "http://rowguard.example.org",
            "http://[2001:db8::1]:80",
        ] {
            assert!(plain_http_elsewhere(bad), "{bad}");
        }
    }
}
