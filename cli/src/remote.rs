//! The client side of `rowguard login`: the session file and a small HTTP client that acts as
//! the logged-in user against the server (`--remote` on the job and rule commands).

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

/// Errors of this module and of the commands using it.
pub type RemoteResult<T> = Result<T, Box<dyn std::error::Error>>;

/// Where the session is kept: `ROWGUARD_SESSION_FILE`, else
/// `$XDG_CONFIG_HOME/rowguard/session.json`, else `$HOME/.config/rowguard/session.json`.
pub fn session_file() -> RemoteResult<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(path) = var("ROWGUARD_SESSION_FILE") {
        return Ok(PathBuf::from(path));
    }
    let config = var("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|h| PathBuf::from(h).join(".config")))
        .ok_or("neither ROWGUARD_SESSION_FILE, XDG_CONFIG_HOME nor HOME is set: nowhere to keep the session")?;
    Ok(config.join("rowguard").join("session.json"))
}

/// Writes `session` to the session file, readable by its owner only (created with mode
/// 0600 under a temporary name, then renamed over the old one).
pub fn save_session(session: &Value) -> RemoteResult<PathBuf> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = session_file()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .map_err(|e| format!("{}: {e}", temporary.display()))?;
    file.write_all(session.to_string().as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, &path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(600)))
        .build()
        .into()
}

/// The server refused a request: its status and its message.
#[derive(Debug)]
pub struct ServerError {
    /// The HTTP status.
    pub status: u16,
    /// The body's `error`, or the body.
    pub message: String,
}

impl std::fmt::Display for ServerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server answered {}: {}", self.status, self.message)?;
        if self.status == 401 {
            f.write_str("; run `rowguard login` again")?;
        }
        Ok(())
    }
}

impl std::error::Error for ServerError {}

/// A server and, once logged in, a token.
pub struct Remote {
    server: String,
    token: Option<String>,
    agent: ureq::Agent,
}

impl Remote {
    /// A client of `server` without a token (for login).
    pub fn anonymous(server: &str) -> Self {
        Self {
            server: server.trim_end_matches('/').to_owned(),
            token: None,
            agent: agent(),
        }
    }

    /// The client of the saved session.
    pub fn from_session() -> RemoteResult<Self> {
        let path = session_file()?;
        let text = std::fs::read_to_string(&path).map_err(|e| {
            format!(
                "not logged in ({}: {e}); run `rowguard login --server URL --name NAME` first",
                path.display()
            )
        })?;
        let session: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not a session file: {e}", path.display()))?;
        let field = |name: &str| {
            session[name]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("{}: no \"{name}\"; log in again", path.display()))
        };
        Ok(Self {
            server: field("server")?,
            token: Some(field("token")?),
            agent: agent(),
        })
    }

    /// The server's base URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn finish(
        &self,
        path: &str,
        response: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> RemoteResult<Value> {
        let mut response = response.map_err(|e| match e {
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => format!(
                "{}{path}: connection refused: is `rowguard serve` running at {}?",
                self.server, self.server
            ),
            other => format!("{}{path}: {other}", self.server),
        })?;
        let status = response.status();
        let text = response
            .body_mut()
            .read_to_string()
            .map_err(|e| format!("{}{path}: {e}", self.server))?;
        let body: Value = if text.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| body.to_string());
        Err(Box::new(ServerError {
            status: status.as_u16(),
            message,
        }))
    }

    fn authorized<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.token {
            Some(token) => request.header("Authorization", format!("Bearer {token}")),
            None => request,
        }
    }

    /// `GET path`.
    pub fn get(&self, path: &str) -> RemoteResult<Value> {
        let url = format!("{}{path}", self.server);
        self.finish(path, self.authorized(self.agent.get(&url)).call())
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> RemoteResult<Value> {
        let url = format!("{}{path}", self.server);
        self.finish(path, self.authorized(self.agent.post(&url)).send_json(body))
    }

    /// `PUT path` with a JSON body.
    pub fn put(&self, path: &str, body: &Value) -> RemoteResult<Value> {
        let url = format!("{}{path}", self.server);
        self.finish(path, self.authorized(self.agent.put(&url)).send_json(body))
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> RemoteResult<Value> {
        let url = format!("{}{path}", self.server);
        self.finish(path, self.authorized(self.agent.delete(&url)).call())
    }
}

/// Percent-encodes one path segment or query value. Dots too: a segment `..` must not be
/// resolved by a proxy on the way into another endpoint's path.
pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn segments_cannot_climb_or_split() {
        assert_eq!(encode(".."), "%2E%2E");
        assert_eq!(encode("a/b c"), "a%2Fb%20c");
        assert_eq!(encode("ann"), "ann");
    }
}
