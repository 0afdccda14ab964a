//! `rowguard`: the command-line tool (`cargo install --path cli`, or `rowguard-cli` from a
//! registry). Everything is in the library, so an application's own xtask can embed it.

fn main() -> std::process::ExitCode {
    rowguard_cli::main()
}
