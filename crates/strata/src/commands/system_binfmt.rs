//! `strata system binfmt [--install]`: the platforms this host runs, natively or through
//! QEMU user-mode emulation, as `tonistiigi/binfmt` reports them for Docker; `--install`
//! registers the QEMU handlers Debian's `qemu-user-static` ships, with the F flag.

use std::io::Write;
use std::path::Path;

use runtime::emulation::{self, BINFMT_DIR, QEMU_CONF_DIR};

use crate::cli::BinfmtArgs;

/// Registers the handlers when asked, then prints the status as JSON.
pub fn run(args: BinfmtArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let dir = Path::new(BINFMT_DIR);
    if args.install {
        for (name, new) in emulation::install(dir, Path::new(QEMU_CONF_DIR))? {
            if new {
                writeln!(out, "installing: {name} OK")?;
            } else {
                writeln!(out, "{name}: already registered")?;
            }
        }
    }
    let handlers = emulation::handlers(dir)?;
    let emulators: Vec<&str> = handlers
        .iter()
        .flatten()
        .filter(|h| h.architecture.is_some())
        .map(|h| h.name.as_str())
        .collect();
    let status = serde_json::json!({
        "supported": emulation::supported(handlers.as_deref()),
        "emulators": emulators,
    });
    writeln!(out, "{}", serde_json::to_string_pretty(&status)?)?;
    Ok(())
}
