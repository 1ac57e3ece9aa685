//! `strata rmi` / `strata image rm`.
//!
//! An image a container uses (running or stopped) is refused without `-f`. With `-f`, an
//! image a running container uses loses the names given but stays, dangling, as Docker
//! leaves it; one only stopped containers use is deleted like any other, and those
//! containers keep their image's content (the store pins it for its users), so they can
//! still start, diff and commit. Snapshots no image needs any more are removed afterwards.

use std::io::Write;

use super::{Ctx, util};
use crate::cli::RmiArgs;

/// Removes each image, printing Docker's `Untagged:` / `Deleted:` lines; carries on past
/// failures and reports them at the end (exit 1; with `-f`, missing images are reported
/// but exit 0, as Docker's client does).
pub fn run(ctx: &Ctx, args: RmiArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    if let Some(p) = util::platform_flag(args.platform.as_deref())? {
        return remove_platform(ctx, &store, &args.images, &p, out);
    }
    let mut errors = Vec::new();
    // Whether an error other than a missing image happened (that one fails even with -f).
    let mut fatal = false;
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
                    fatal = true;
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
            Err(e) if e.is_not_found() => errors.push(format!(
                "No such image: {}",
                oci::reference::parse_any_reference(name)
                    .map_or_else(|_| name.clone(), util::missing_image_name)
            )),
            Err(e) => {
                fatal = true;
                errors.push(if e.is_conflict() {
                    as_typed(&format!("{e:#}"), name)
                } else {
                    format!("{e:#}")
                })
            }
        }
    }
    out.flush()?;
    if let Err(e) = runtime::snapshot::prune(&store) {
        tracing::warn!("removing unused snapshots: {e}");
    }
    if args.force && !fatal {
        for e in &errors {
            eprintln!("Error: {e}");
        }
        return Ok(());
    }
    if let Some((last, rest)) = errors.split_last() {
        for e in rest {
            eprintln!("Error: {e}");
        }
        anyhow::bail!("{last}");
    }
    Ok(())
}

/// `rmi --platform P IMAGE…`: removes that platform's content from each multi-platform
/// image, which stays (Docker 28 prints `Deleted: <the platform's manifest digest>`). A
/// container made from that platform keeps it: its layers are not removed under it.
fn remove_platform(
    ctx: &Ctx,
    store: &store::Store,
    names: &[String],
    platform: &oci::Platform,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let containers = runtime::container::list(&ctx.root)?;
    let mut errors = Vec::new();
    for name in names {
        let removed = util::resolve_platform(store, name, Some(platform)).and_then(|info| {
            if let Some(c) = containers.iter().find(|c| {
                c.record.image_target == info.target.digest.to_string()
                    && c.record
                        .platform
                        .as_ref()
                        .is_some_and(|p| p.matches(platform))
            }) {
                anyhow::bail!(
                    "conflict: unable to delete platform {} of {name} - container {} is using it",
                    platform.normalize(),
                    &c.record.id[..12]
                );
            }
            Ok(store.remove_platform(name, platform)?)
        });
        match removed {
            Ok((manifest, _)) => writeln!(out, "Deleted: {manifest}")?,
            Err(e) => errors.push(format!(
                "failed to delete platform {} for image {name}: {e:#}",
                platform.normalize()
            )),
        }
    }
    out.flush()?;
    if let Err(e) = runtime::snapshot::prune(store) {
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

/// A conflict message naming the reference as the user typed it (`"app:1"`), as dockerd
/// does, where the store names it fully qualified (`"docker.io/library/app:1"`).
fn as_typed(message: &str, name: &str) -> String {
    match oci::Reference::parse(name) {
        Ok(full) => message.replace(&format!("\"{full}\""), &format!("\"{name}\"")),
        Err(_) => message.to_string(),
    }
}

/// `rmi -f` of an image a running container uses: removes the name given and keeps the
/// image (Docker refuses an ID even with `-f`). `None` when no running container uses it.
fn untag_in_use(
    store: &store::Store,
    name: &str,
) -> anyhow::Result<Option<Vec<store::RemoveEvent>>> {
    let info = match store.resolve_image(name) {
        Ok(i) => i,
        Err(_) => return Ok(None),
    };
    // Only a running container keeps the image (dockerd's hard conflict): used by stopped
    // or created containers only, `-f` deletes it as usual; the containers keep the
    // content they need (the store pins it for them).
    let running = info.users.iter().any(|user| {
        runtime::container::load(store.root(), user)
            .is_ok_and(|c| c.state.status == runtime::Status::Running)
    });
    if !running {
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
                    && c.state.status == runtime::Status::Running
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_names_the_reference_as_typed() {
        let m = "conflict: unable to remove repository reference \"docker.io/library/app:1\" \
                 (must force) - container abc is using its referenced image def";
        assert_eq!(
            as_typed(m, "app:1"),
            "conflict: unable to remove repository reference \"app:1\" (must force) - \
             container abc is using its referenced image def"
        );
    }
}
