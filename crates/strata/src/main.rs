//! `strata`: a daemonless container-image engine with Docker's command line.
//!
//! This binary only composes the library crates: it parses arguments ([`cli`]), calls one
//! library operation per command ([`commands`]), and renders the result ([`render`],
//! [`progress`]). Errors are printed once, as `Error: ...`, with exit code 1 (or a command's own,
//! [`commands::ExitStatus`]: a container's, Docker's 125/126/127); usage errors
//! exit with 2 (clap); a closed pipe on stdout counts as success.

mod cli;
mod commands;
mod config;
mod progress;
mod render;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_logging(&cli);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<commands::ExitStatus>().is_some() => {
            let _ = io::stdout().flush();
            let status = err
                .downcast::<commands::ExitStatus>()
                .expect("checked above");
            if let Some(e) = &status.error {
                let _ = writeln!(io::stderr(), "Error: {e:#}");
            }
            ExitCode::from(status.code)
        }
        Err(err) => {
            let _ = io::stdout().flush();
            let _ = writeln!(io::stderr(), "Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn init_logging(cli: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let level = if cli.debug {
        "debug".to_string()
    } else {
        cli.log_level.clone().unwrap_or_else(|| "warn".into())
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&level).ok())
        .unwrap_or_else(|| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(io::stderr)
        .with_target(false)
        .try_init();
}
