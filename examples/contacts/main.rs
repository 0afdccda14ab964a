//! The contacts example: `cargo run --example contacts` runs the demo on `DATABASE_URL`
//! (default `rowguard.sqlite3`), the same as `cargo xtask demo`.

mod app;
mod demo;

fn main() -> std::process::ExitCode {
    let result = rowguard::DatabaseUrl::from_env()
        .map_err(Into::into)
        .and_then(|url| demo::run(&url, &mut std::io::stdout()));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
