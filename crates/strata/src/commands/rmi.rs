//! `strata rmi` / `strata image rm`.
//!
//! An image a container uses (running or stopped) is refused without `-f`; with `-f` its
//! names go but the image stays, dangling, as Docker leaves it, so the container can still
//! start, diff and commit. Snapshots no image needs any more are removed afterwards.

use std::io::Write;

use super::Ctx;
use crate::cli::RmiArgs;

/// Removes each image, printing Docker's `Untagged:` / `Deleted:` lines; carries on past
/// failures and reports them at the end (exit 1).
pub fn run(ctx: &Ctx, args: RmiArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let mut errors = Vec::new();
    for name in &args.images {
        if args.force {
            match untag_in_use(&store, name) {
                Ok(Some(events)) => {
                    for e in events {
                        writeln!(out, "{}", display_event(&e))?;
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    errors.push(format!("{e:#}"));
                    continue;
                }
            }
        }
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
    if let Err(e) = runtime::snapshot::prune(&store) {
        tracing::warn!("removing unused snapshots: {e}");
    }
    if let Some((last, rest)) = errors.split_last() {
        for e in rest {
            eprintln!("Error: {e}");
        }
        anyhow::bail!("{last}");
    }
    Ok(())
}

/// `rmi -f` of an image some container uses: removes the name given (every tag when an
/// ID is given) and keeps the image. `None` when no container uses it. Docker refuses an
/// ID whose image a running container uses even with `-f`.
fn untag_in_use(
    store: &store::Store,
    name: &str,
) -> anyhow::Result<Option<Vec<store::RemoveEvent>>> {
    let info = match store.resolve_image(name) {
        Ok(i) => i,
        Err(_) => return Ok(None),
    };
    if info.users.is_empty() {
        return Ok(None);
    }
    let by_name = oci::Reference::parse(name)
        .ok()
        .map(|r| r.to_string())
        .filter(|full| info.tags.contains(full));
    let tags = match by_name {
        Some(full) => vec![full],
        None => {
            let root = store.root();
            for user in &info.users {
                if let Ok(c) = runtime::container::load(root, user)
                    && c.state.status == runtime::record::Status::Running
                {
                    anyhow::bail!(
                        "conflict: unable to delete {} (cannot be forced) - image is being used \
                         by running container {}",
                        &info.id.hex()[..12],
                        &user[..user.len().min(12)]
                    );
                }
            }
            info.tags.clone()
        }
    };
    let mut events = Vec::new();
    for t in tags {
        if store.remove_tag(&t)? {
            events.push(store::RemoveEvent::Untagged(t));
        }
    }
    Ok(Some(events))
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
