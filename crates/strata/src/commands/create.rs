//! `strata create`, and the translation of `run`/`create` flags into [`RunOptions`].

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use runtime::{Container, MountKind, MountSpec, NetworkMode, RunOptions};

use super::mount_flag::Resolved;
use super::{Ctx, container, pulling};
use crate::cli::{ContainerFlags, CreateArgs};

/// Creates the container and prints its ID; errors exit 1, as `docker create`'s do (only
/// `run` uses 125 for them), except the CLI's own flag checks ([`super::FlagCheck`]), 125.
pub fn run(ctx: &Ctx, args: CreateArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = ctx.store()?;
    let c = create(
        ctx,
        &store,
        &args.flags,
        args.operands.image(),
        args.operands.command(),
    )
    .map_err(|e| match e.downcast_ref::<super::FlagCheck>() {
        // Docker's CLI exits 125 for the flag checks it makes itself.
        Some(_) => super::ExitStatus::error(125, super::FlagCheck::render(e, "create")),
        None => super::FlagCheck::render(e, "create"),
    })?;
    writeln!(out, "{}", c.record.id)?;
    Ok(())
}

/// Creates a container from flags. The anonymous volumes made for `-v /path` are removed
/// again when the container cannot be created.
pub fn create(
    ctx: &Ctx,
    store: &store::Store,
    flags: &ContainerFlags,
    image: &str,
    command: Vec<String>,
) -> anyhow::Result<Container> {
    if let Some(name) = &flags.name {
        check_name(name)?;
    }
    let host_env = |k: &str| std::env::var(k).ok();
    let mut env = Vec::new();
    for file in &flags.env_file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the env file {}", file.display()))?;
        env.extend(parse_env_file(&text, host_env)?);
    }
    env.extend(flags.env.iter().map(|e| resolve_env(e, host_env)));
    let platform = super::util::platform_flag(flags.platform.as_deref())?;
    let mut opts = RunOptions {
        platform: platform.clone(),
        entrypoint: flags.entrypoint.as_ref().map(|e| vec![e.clone()]),
        cmd: command,
        env,
        user: flags.user.clone(),
        workdir: flags.workdir.clone(),
        hostname: flags.hostname.clone(),
        tty: flags.tty,
        open_stdin: flags.interactive,
        read_only: flags.read_only,
        network: NetworkMode::parse(&flags.network)?,
        publish_all: flags.publish_all,
        network_aliases: flags.network_alias.clone(),
        memory: flags.memory.as_deref().map(parse_bytes).transpose()?,
        cpus: flags.cpus,
        pids_limit: flags.pids_limit,
        auto_remove: flags.rm,
        init: flags.init,
        stop_signal: flags.stop_signal.clone(),
        labels: super::lifecycle_flags::labels(&flags.lifecycle.label_file, &flags.label)?,
        security: super::security_flags::to_options(&flags.security)?,
        ..Default::default()
    };
    flags.resources.apply(&mut opts);
    super::host_options::apply(&flags.hosts, flags.hostname.is_some(), flags.rm, &mut opts)?;
    for o in &flags.security_opt {
        match security_opt(o)? {
            SecurityOpt::Seccomp(s) => opts.seccomp = s,
            SecurityOpt::NoNewPrivileges(on) => opts.no_new_privileges = on,
            SecurityOpt::Ignored => {}
        }
    }
    opts.security_opts = flags.security_opt.clone();
    for p in &flags.publish {
        opts.publish.extend(runtime::ports::parse_publish(p)?);
    }
    for t in &flags.tmpfs {
        opts.mounts.push(parse_tmpfs(t)?);
    }
    // Parse every -v before making any volume, so a bad spec changes nothing.
    let specs = flags
        .volume
        .iter()
        .map(|v| runtime::volumes::parse_volume_spec(v))
        .collect::<Result<Vec<_>, _>>()?;
    for s in &specs {
        if let runtime::volumes::VolumeSpec::Bind { source, .. } = s
            && !source.exists()
        {
            // Docker creates a missing bind source; so do we, as a directory.
            std::fs::create_dir_all(source)
                .with_context(|| format!("creating the bind source {}", source.display()))?;
        }
    }
    // `--mount`: checked as a whole first too; its binds must exist.
    let others: Vec<&str> = specs
        .iter()
        .map(runtime::volumes::VolumeSpec::destination)
        .chain(opts.mounts.iter().map(|m| m.destination.as_str()))
        .collect();
    super::mount_flag::check_duplicates(&flags.hosts.mount, &others)?;
    let mut mount_flags = Vec::new();
    opts.mount_flags = flags.hosts.mount.clone();
    for m in &flags.hosts.mount {
        match super::mount_flag::resolve(m)? {
            Resolved::Tmpfs(t) => opts.mounts.push(t),
            Resolved::Volume {
                spec,
                read_only,
                options,
            } => mount_flags.push((spec, read_only, options)),
        }
    }
    let rt = container::new_runtime(ctx)?;
    let mut made = Vec::new();
    let result = (|| -> anyhow::Result<Container> {
        let volume_flags = specs.iter().map(|s| (s, false, &[][..]));
        let mount_flags = mount_flags.iter().map(|(s, ro, o)| (s, *ro, o.as_slice()));
        for (s, read_only, options) in volume_flags.chain(mount_flags) {
            let mut m = runtime::volumes::to_mount(store, s)?;
            if let (
                runtime::volumes::VolumeSpec::Anonymous { .. },
                MountKind::Volume { name, .. },
            ) = (s, &m.kind)
            {
                made.push(name.clone());
            }
            m.read_only |= read_only;
            m.options.extend(options.iter().cloned());
            opts.mounts.push(m);
        }
        super::lifecycle_flags::apply(ctx, &flags.lifecycle, &mut opts)?;
        let cidfile = super::lifecycle_flags::CidFile::claim(flags.lifecycle.cidfile.as_deref())?;
        // Held until the container's record exists (it keeps the image from then on).
        let (image, _held) = ensure_image(ctx, store, image, &flags.pull, flags.platform.clone())?;
        let (c, warnings) =
            runtime::container::create(store, &rt, &image, flags.name.as_deref(), opts)?;
        // Docker's CLI prints the daemon's warnings once the container exists.
        for w in warnings {
            eprintln!("WARNING: {w}");
        }
        cidfile.write(&c.record.id)?;
        Ok(c)
    })();
    if result.is_err() {
        for v in made {
            let _ = runtime::container::remove_volume(store, &v);
        }
    }
    result
}

/// Docker's rule for container names (`/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`, so at least two
/// characters), checked before anything is made: a name is also a path component here.
fn check_name(name: &str) -> anyhow::Result<()> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    let valid = bare.len() >= 2
        && bare.as_bytes()[0].is_ascii_alphanumeric()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        anyhow::bail!(
            "Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        );
    }
    Ok(())
}

/// Makes sure the image is in the store, pulling it as `--pull` says (Docker prints the
/// pull on stderr), and returns the name to create from with a lease holding the image
/// (a concurrent `image prune` leaves it while the lease lives).
fn ensure_image(
    ctx: &Ctx,
    store: &store::Store,
    image: &str,
    pull: &str,
    platform: Option<String>,
) -> anyhow::Result<(String, store::Lease)> {
    let hold = store.lease()?;
    let opts = pulling::EnsureOptions {
        announce_missing: true,
        platform,
        ..Default::default()
    };
    let policy = pulling::PullPolicy::parse(pull)?;
    pulling::ensure_image(ctx, image, policy, &opts, &hold, &mut std::io::stderr())?;
    Ok((image.to_string(), hold))
}

/// `-e KEY` takes the host's value; without one the variable is left out.
fn resolve_env(entry: &str, host: impl Fn(&str) -> Option<String>) -> String {
    if entry.contains('=') {
        return entry.to_string();
    }
    match host(entry) {
        Some(v) => format!("{entry}={v}"),
        None => entry.to_string(),
    }
}

/// An `--env-file`: `KEY=value` lines, `#` comments and blank lines skipped, `KEY` alone
/// takes the host's value (see [`super::kv_file`]).
pub fn parse_env_file(
    text: &str,
    host: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Vec<String>> {
    super::kv_file::parse(text, Some(&host)).map_err(anyhow::Error::msg)
}

/// `--tmpfs /path[:opt,opt]`.
fn parse_tmpfs(s: &str) -> anyhow::Result<MountSpec> {
    let (dest, opts) = s.split_once(':').unwrap_or((s, ""));
    if !Path::new(dest).is_absolute() {
        anyhow::bail!("invalid mount path for --tmpfs '{dest}': mount path must be absolute");
    }
    let options: Vec<String> = opts
        .split(',')
        .filter(|o| !o.is_empty())
        .map(str::to_string)
        .collect();
    Ok(MountSpec {
        kind: MountKind::Tmpfs,
        destination: dest.to_string(),
        read_only: options.iter().any(|o| o == "ro"),
        options: options
            .into_iter()
            .filter(|o| o != "ro" && o != "rw")
            .collect(),
    })
}

/// Docker's `RAMInBytes` (see [`runtime::ram_in_bytes`]), with its error words.
pub fn parse_bytes(s: &str) -> anyhow::Result<i64> {
    runtime::ram_in_bytes(s).ok_or_else(|| anyhow::anyhow!("invalid size: '{s}'"))
}

/// What one `--security-opt` asks for (Docker's older `seccomp:` spelling too); an option
/// Docker does not know is refused, as Docker refuses it.
enum SecurityOpt {
    /// `seccomp=PROFILE|unconfined`.
    Seccomp(runtime::SeccompOption),
    /// `no-new-privileges[=true|false]`.
    NoNewPrivileges(bool),
    /// `label=…` (SELinux) and `apparmor=…`: this host enforces neither, and Docker on
    /// such a host takes them and does nothing with them either.
    Ignored,
}

fn security_opt(o: &str) -> anyhow::Result<SecurityOpt> {
    if o == "no-new-privileges" {
        return Ok(SecurityOpt::NoNewPrivileges(true));
    }
    match o.split_once(['=', ':']) {
        Some(("seccomp", value)) if !value.is_empty() => {
            Ok(SecurityOpt::Seccomp(runtime::SeccompOption::load(value)?))
        }
        Some(("no-new-privileges", v)) => match v {
            "true" => Ok(SecurityOpt::NoNewPrivileges(true)),
            "false" => Ok(SecurityOpt::NoNewPrivileges(false)),
            _ => anyhow::bail!("invalid --security-opt 2: {o:?}"),
        },
        Some(("label" | "apparmor", value)) if !value.is_empty() => Ok(SecurityOpt::Ignored),
        _ => anyhow::bail!("Invalid --security-opt: {o:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn container_names_follow_dockers_rule() {
        for ok in ["ab", "/web.1", "a_b-c.d", "0x"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in ["../x", "a", "", "-ab", ".ab", "a/b", "a b", "\u{e9}t\u{e9}"] {
            let err = check_name(bad).unwrap_err().to_string();
            assert_eq!(
                err,
                format!(
                    "Invalid container name ({bad}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
                )
            );
        }
    }

    #[test]
    fn sizes_like_docker() {
        for (s, want) in [
            ("512", Some(512)),
            ("64k", Some(64 << 10)),
            ("64m", Some(64 << 20)),
            ("64MB", Some(64 << 20)),
            ("1g", Some(1 << 30)),
            ("1.5g", Some(3 << 29)),
            ("x", None),
            ("-1m", None),
            ("1q", None),
        ] {
            assert_eq!(parse_bytes(s).ok(), want, "{s}");
        }
    }

    #[test]
    fn env_files_and_host_values() {
        let host = |k: &str| (k == "HOSTVAR").then(|| "h".to_string());
        let text = "# comment\n\nA=1\n  B=two words\nHOSTVAR\nUNSET\n";
        assert_eq!(
            parse_env_file(text, host).unwrap(),
            ["A=1", "B=two words", "HOSTVAR=h", "UNSET"]
        );
    }

    #[test]
    fn tmpfs_and_network() {
        let m = parse_tmpfs("/run:size=64m,ro").unwrap();
        assert_eq!(m.destination, "/run");
        assert!(m.read_only);
        assert_eq!(m.options, ["size=64m"]);
        assert!(parse_tmpfs("run").is_err());
        assert_eq!(NetworkMode::parse("host").unwrap(), NetworkMode::Host);
        assert!(NetworkMode::parse("container:").is_err());
    }

    #[test]
    fn security_opt_takes_seccomp_only() {
        assert!(matches!(
            security_opt("seccomp=unconfined").unwrap(),
            SecurityOpt::Seccomp(runtime::SeccompOption::Unconfined)
        ));
        assert!(matches!(
            security_opt("no-new-privileges").unwrap(),
            SecurityOpt::NoNewPrivileges(true)
        ));
        assert!(matches!(
            security_opt("no-new-privileges=false").unwrap(),
            SecurityOpt::NoNewPrivileges(false)
        ));
        assert!(matches!(
            security_opt("label=disable").unwrap(),
            SecurityOpt::Ignored
        ));
        assert!(security_opt("no-new-privileges=maybe").is_err());
        assert!(matches!(
            security_opt("seccomp:unconfined").unwrap(),
            SecurityOpt::Seccomp(runtime::SeccompOption::Unconfined)
        ));
        assert!(matches!(
            security_opt("apparmor=unconfined").unwrap(),
            SecurityOpt::Ignored
        ));
        for bad in [
            "apparmor=",
            "seccomp=",
            "frob",
            "seccomp=/no/such/profile.json",
        ] {
            assert!(security_opt(bad).is_err(), "{bad}");
        }
    }
}
