//! `strata login [-u USER] [-p PASS | --password-stdin] [SERVER]`.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context as _, bail};
use transport::RegistryOptions;

use super::{Ctx, util};
use crate::cli::LoginArgs;

/// Checks the credentials against the registry and stores them (`~/.docker/config.json` or
/// its credential helper).
pub fn run(ctx: &Ctx, args: LoginArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let server = args.server.as_deref().unwrap_or("docker.io");
    let host = transport::credentials::normalize_registry(server);
    if args.password.is_some() {
        eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
    }
    let stdin = std::io::stdin();
    let password_from_stdin = args.password_stdin;
    if password_from_stdin && args.username.is_none() {
        bail!("Must provide --username with --password-stdin");
    }
    let username = match args.username {
        Some(u) => u,
        None => prompt(out, "Username: ", true)?,
    };
    if username.is_empty() {
        bail!("Username is required");
    }
    let password = match (args.password, password_from_stdin) {
        (Some(p), _) => p,
        (None, true) => {
            let mut p = String::new();
            stdin
                .lock()
                .read_line(&mut p)
                .context("reading the password from stdin")?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => prompt(out, "Password: ", false)?,
    };
    if password.is_empty() {
        bail!("Password is required");
    }
    let opts = RegistryOptions {
        tls_verify: args.tls_verify && !ctx.config.is_insecure(&host),
        ..super::registry::with_timeouts(RegistryOptions::default())?
    };
    util::block_on(transport::login(&host, &username, &password, opts))?
        .with_context(|| format!("logging in to {host}"))?;
    writeln!(out, "Login Succeeded")?;
    Ok(())
}

/// Asks on the terminal; the password without echo.
pub(super) fn prompt(out: &mut dyn Write, question: &str, echo: bool) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!(
            "cannot prompt for {}: stdin is not a terminal (use -u and --password-stdin)",
            question.trim_end_matches([':', ' ']).to_lowercase()
        );
    }
    write!(out, "{question}")?;
    out.flush()?;
    let saved = if echo {
        None
    } else {
        let saved = rustix::termios::tcgetattr(&stdin).context("reading terminal settings")?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(rustix::termios::LocalModes::ECHO);
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &quiet)
            .context("turning off echo")?;
        Some(saved)
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        let _ = rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &saved);
        writeln!(out)?;
    }
    read.context("reading from the terminal")?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
