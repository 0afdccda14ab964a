//! An axum service that reads and writes through the guard: `cargo run --example axum_service`
//! (SQLite in a temporary directory; `-- postgres://…/empty_db` for another empty database).
//! It serves on 127.0.0.1, sends itself a few requests, prints what came back and the cost of
//! the guard per request, and stops. The tests run it on every backend.

#[path = "../contacts/app.rs"]
#[allow(dead_code)]
mod app;
mod service;

fn main() -> std::process::ExitCode {
    let url = match std::env::args().nth(1) {
        Some(url) => rowguard::DatabaseUrl::parse(&url),
        None => service::fresh_sqlite_url(),
    };
    let result = url
        .map_err(Into::into)
        .and_then(|url| service::run(&url, &mut std::io::stdout()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
