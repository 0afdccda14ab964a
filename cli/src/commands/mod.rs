//! One file per command.

pub mod completions;
pub mod jobs;
pub mod migrate;
pub mod permissions;
pub mod rules;
pub mod seed;
pub mod sync_models;

/// What every command returns: an exit code, or an error printed as one `error: …` line.
pub type CommandResult = Result<std::process::ExitCode, Box<dyn std::error::Error>>;

/// Prints `value` as one line of JSON.
pub(crate) fn print_json(value: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}")
}
