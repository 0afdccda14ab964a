//! The contacts example: `cargo run --example contacts` runs the demo on `DATABASE_URL`
//! (an empty database), or on a new SQLite file in a new temporary directory when it is
//! unset: the same as `cargo xtask demo`. With `--connection any` the guard
//! runs on rowguard's `AnyConnection` instead of the backend's own Diesel connection.

mod app;
mod demo;

fn main() -> std::process::ExitCode {
    let url = match std::env::var("DATABASE_URL") {
        Ok(v) if !v.trim().is_empty() => rowguard::DatabaseUrl::parse(&v).map_err(Into::into),
        _ => demo::fresh_default_url(),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let connection = match words.as_slice() {
        [] | ["--connection=native"] | ["--connection", "native"] => demo::Connection::Native,
        ["--connection=any"] | ["--connection", "any"] => demo::Connection::Any,
        other => {
            eprintln!(
                "error: unexpected arguments {other:?} (expected --connection native or --connection any)"
            );
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = url.and_then(|url| demo::run(&url, connection, &mut std::io::stdout()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
