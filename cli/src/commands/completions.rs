//! `rowguard completions SHELL`

use std::process::ExitCode;

use super::CommandResult;

/// Arguments of `completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    shell: clap_complete::Shell,
}

/// Prints the completion script of the program `cli` describes.
pub fn run(args: Args, cli: fn() -> clap::Command) -> CommandResult {
    let mut command = cli();
    let name = command.get_name().to_owned();
    // Into memory first: clap_complete panics on a write error (`… | head`).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
    Ok(ExitCode::SUCCESS)
}
