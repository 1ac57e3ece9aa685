//! `strata logout [SERVER]`.

use std::io::Write;

use crate::cli::LogoutArgs;

/// Forgets the stored credentials of a registry.
pub fn run(args: LogoutArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let server = args.server.as_deref().unwrap_or("docker.io");
    let host = transport::credentials::normalize_registry(server);
    let shown = transport::credentials::server_key(&host);
    if transport::erase_credentials(&host)? {
        writeln!(out, "Removing login credentials for {shown}")?;
    } else {
        writeln!(out, "Not logged in to {shown}")?;
    }
    Ok(())
}
