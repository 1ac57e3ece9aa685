//! `strata version`.

use std::io::Write;

use serde_json::json;

use crate::cli::VersionArgs;
use crate::render::{Missing, Template};

/// Prints the client version, like `docker version`'s client section.
pub fn run(args: VersionArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let info = json!({
        "Client": {
            "Version": env!("CARGO_PKG_VERSION"),
            "ApiVersion": "n/a (daemonless)",
            "Os": std::env::consts::OS,
            "Arch": oci_arch(),
        }
    });
    if let Some(f) = args.format {
        let t = Template::parse(&f, Missing::Error)?;
        writeln!(out, "{}", t.execute(&info)?)?;
        return Ok(());
    }
    writeln!(out, "Client:")?;
    writeln!(out, " Version:    {}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, " OS/Arch:    {}/{}", std::env::consts::OS, oci_arch())?;
    writeln!(out, " Engine:     daemonless (strata)")?;
    Ok(())
}

/// The host architecture in Go's naming.
fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        "s390x" => "s390x",
        "riscv64" => "riscv64",
        other => other,
    }
}
