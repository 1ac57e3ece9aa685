//! `strata rmi` / `strata image rm`.

use std::io::Write;

use super::Ctx;
use crate::cli::RmiArgs;

/// Removes each image, printing Docker's `Untagged:` / `Deleted:` lines; carries on past
/// failures and reports them at the end (exit 1).
pub fn run(ctx: &Ctx, args: RmiArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut errors = Vec::new();
    for name in &args.images {
        match store.remove_image(name, args.force) {
            Ok(events) => {
                for e in events {
                    writeln!(out, "{}", display_event(&e))?;
                }
            }
            Err(e) if e.is_not_found() && args.force => {}
            Err(e) if e.is_not_found() => errors.push(format!("No such image: {name}")),
            Err(e) => errors.push(format!("{e:#}")),
        }
    }
    out.flush()?;
    if let Some((last, rest)) = errors.split_last() {
        for e in rest {
            eprintln!("Error: {e}");
        }
        anyhow::bail!("{last}");
    }
    Ok(())
}

/// One event line with the name shown as Docker shows it (`Untagged: alpine:latest`).
pub fn display_event(e: &store::RemoveEvent) -> String {
    match e {
        store::RemoveEvent::Untagged(name) if name.contains('@') => {
            format!("Untagged: {}", super::util::familiar_repo_digest(name))
        }
        store::RemoveEvent::Untagged(name) => format!("Untagged: {}", super::util::familiar(name)),
        other => other.to_string(),
    }
}
