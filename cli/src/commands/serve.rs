//! `rowguard serve`

use std::process::ExitCode;

use rowguard::Config;
use rowguard_server::ServeOptions;

use super::CommandResult;
use crate::context::Context;

/// Arguments of `serve`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// Address to listen on (default: `[server] bind` of rowguard.toml, else 127.0.0.1:8080;
    /// port 0 picks a free port).
    #[arg(long, value_name = "ADDR")]
    bind: Option<String>,
}

/// Serves the HTTP API until SIGINT or SIGTERM; logs go to standard error.
pub fn run(args: Args, ctx: &mut Context) -> CommandResult {
    let url = ctx.url()?;
    // An existing, reachable database, or a clear error now rather than at the first request.
    ctx.connect()?;
    let config = Config::load()?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
    let shown = url.to_string();
    let log = &config.decision_log;
    let decisions = if log.is_on() {
        let modes: Vec<String> = rowguard::rules::Right::ALL
            .iter()
            .map(|r| format!("{r} {:?}", log.mode_of(*r)).to_lowercase())
            .collect();
        format!("decision log: {}", modes.join(", "))
    } else {
        "decision log: off".to_owned()
    };
    eprintln!("rowguard serve: {decisions}");
    rowguard_server::run(
        ServeOptions {
            url,
            config,
            bind: args.bind,
        },
        |addr| eprintln!("rowguard serve: listening on http://{addr} (database {shown})"),
    )?;
    Ok(ExitCode::SUCCESS)
}
