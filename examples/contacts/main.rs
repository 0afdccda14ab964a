//! The contacts example: `cargo run --example contacts` runs the demo on `DATABASE_URL`
//! (an empty database), or on a new SQLite file in a new temporary directory when it is
//! unset: the same as `cargo xtask demo`.

mod app;
mod demo;

fn main() -> std::process::ExitCode {
    let url = match std::env::var("DATABASE_URL") {
        Ok(v) if !v.trim().is_empty() => rowguard::DatabaseUrl::parse(&v).map_err(Into::into),
        _ => demo::fresh_default_url(),
    };
    let result = url.and_then(|url| demo::run(&url, &mut std::io::stdout()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
