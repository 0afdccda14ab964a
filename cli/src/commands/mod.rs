//! One file per command.

pub mod completions;
pub mod jobs;
pub mod migrate;
pub mod permissions;
pub mod policies;
pub mod rules;
pub mod seed;
pub mod serve;
pub mod session;
pub mod sync_models;
pub mod users;

/// What every command returns: an exit code, or an error printed as one `error: …` line.
pub type CommandResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;

/// `println!` that returns the error instead of panicking when standard output is gone
/// (`rowguard rules list | head -1`); `finish` treats a broken pipe as success.
macro_rules! outln {
    () => {
        outln!("")
    };
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)?
    }};
}
pub(crate) use outln;

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
}
