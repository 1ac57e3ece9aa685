//! `strata`: a daemonless container-image engine with Docker's command line.
//!
//! This binary only composes the library crates: it parses arguments ([`cli`]), calls one
//! library operation per command ([`commands`]), and renders the result ([`render`],
//! [`progress`]). Errors are printed once, as `Error: ...`, with exit code 1 (or a command's own,
//! [`commands::ExitStatus`]: a container's, Docker's 125/126/127); usage errors are
//! Docker's ([`usage`]: 125 for flags, 1 for arguments); a closed pipe on stdout counts as
//! success.

mod cli;
mod client_config;
mod commands;
mod config;
mod progress;
mod render;
mod upstream;
mod usage;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

fn main() -> ExitCode {
    let argv_os: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let argv: Vec<String> = argv_os
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let cli = match cli::Cli::try_parse_from(&argv_os) {
        Ok(cli) => cli,
        Err(err) => match usage::render(&cli::Cli::command(), &err, &argv) {
            Some(u) => {
                let _ = io::stderr().write_all(u.message.as_bytes());
                return ExitCode::from(u.code);
            }
            None => err.exit(),
        },
    };
    init_logging(&cli);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<commands::ExitStatus>().is_some() => {
            let _ = io::stdout().flush();
            let status = err
                .downcast::<commands::ExitStatus>()
                .expect("checked above");
            match &status.error {
                // Docker prints its client's own checks and template errors bare.
                Some(e)
                    if e.downcast_ref::<commands::Plain>().is_some()
                        || e.downcast_ref::<render::template::TemplateError>()
                            .is_some() =>
                {
                    let _ = writeln!(io::stderr(), "{e}");
                }
                Some(e) => {
                    let _ = writeln!(io::stderr(), "Error: {}", commands::error_line(e));
                }
                None => {}
            }
            ExitCode::from(status.code)
        }
        // Docker's client prints its own checks' messages bare.
        Err(err) if err.downcast_ref::<commands::Plain>().is_some() => {
            let _ = io::stdout().flush();
            let _ = writeln!(io::stderr(), "{err}");
            ExitCode::FAILURE
        }
        // Docker prints template errors bare (`template parsing error: …`).
        Err(err)
            if err
                .downcast_ref::<render::template::TemplateError>()
                .is_some() =>
        {
            let _ = io::stdout().flush();
            let _ = writeln!(io::stderr(), "{err}");
            ExitCode::FAILURE
        }
        Err(err) => {
            let _ = io::stdout().flush();
            let _ = writeln!(io::stderr(), "Error: {}", commands::error_line(&err));
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

/// The log level and format: the flags, else a `registry serve` config file's `[log]`,
/// else warn (info for a registry server, whose request lines are its access log) and text.
fn log_settings(cli: &cli::Cli) -> (String, registry::config::LogFormat) {
    use registry::config::LogFormat;
    let (file_level, file_format) = match &cli.command {
        cli::Command::Registry(cli::RegistryCommand::Serve(a)) => {
            let (level, format) = commands::registry_serve::log_settings(a);
            (Some(level.unwrap_or_else(|| "info".into())), format)
        }
        _ => (None, None),
    };
    let level = if cli.debug {
        "debug".to_string()
    } else {
        cli.log_level
            .clone()
            .or(file_level)
            .unwrap_or_else(|| "warn".into())
    };
    let format = match cli.log_format.as_deref() {
        Some("json") => LogFormat::Json,
        Some(_) => LogFormat::Text,
        None => file_format.unwrap_or_default(),
    };
    (level, format)
}

fn init_logging(cli: &cli::Cli) {
    use tracing_subscriber::EnvFilter;
    let (level, format) = log_settings(cli);
    // rustls logs a refused certificate at ERROR before the request fails; the command's
    // own error says it once, naming the registry.
    let quiet_tls = |f: EnvFilter| match "rustls=off".parse() {
        Ok(d) => f.add_directive(d),
        Err(_) => f,
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_new(&level).ok().map(quiet_tls))
        .unwrap_or_else(|| EnvFilter::new("warn"));
    // Colours only on a terminal: logs written to files and pipes stay plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr);
    if format == registry::config::LogFormat::Json {
        let _ = builder.json().with_current_span(true).try_init();
    } else {
        let _ = builder.with_target(false).try_init();
    }
}
