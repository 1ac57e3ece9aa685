//! One module per command: read flags, call a library, render.

mod attach;
pub mod attach_cmd;
pub mod attest;
pub mod build;
mod build_cancel;
mod build_output;
mod build_sbom;
mod build_tty;
mod builder_prune;
mod commit;
pub mod completion;
mod config_json;
mod container;
mod container_json;
mod copy;
mod cp;
mod create;
mod diff;
pub(crate) mod events;
mod exec;
mod export;
mod history;
mod host_config_json;
mod host_config_security;
mod host_options;
mod image_source;
mod images;
mod images_tree;
mod imagetools;
mod imagetools_inspect;
mod import;
pub mod info;
mod inspect;
mod kill;
mod kv_file;
mod lifecycle_flags;
mod load;
mod login;
mod logout;
mod logs;
mod manifest;
mod manifest_annotate;
mod manifest_create;
mod manifest_push;
mod manifest_store;
mod monitor;
pub mod mount_flag;
mod mount_flag_json;
pub mod network;
mod output_file;
mod pause;
mod port;
mod prune;
mod prune_filter;
mod ps;
mod pull;
mod pulling;
mod push;
pub(crate) mod registry;
pub mod registry_serve;
mod rename;
mod restart;
mod rm;
mod rmi;
mod run;
mod save;
pub mod sbom;
mod sbom_attestation;
pub mod scan;
mod scan_db;
mod scan_render;
mod scan_target;
mod security_flags;
pub mod sign;
mod signatures;
mod start;
pub(crate) mod stats;
mod stop;
mod store_signatures;
mod system_binfmt;
mod system_boot;
mod system_df;
mod system_prune;
mod tag;
mod terminal;
mod top;
pub mod trust_key;
pub(crate) mod update;
mod util;
pub mod verify;
mod version;
mod volume;
mod wait;

pub use create::parse_bytes;

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{
    BuilderCommand, Cli, Command, ContainerCommand, ImageCommand, RegistryCommand, SystemCommand,
    VolumeCommand,
};
use crate::config::{self, Config};

/// What every command may need: where the store is and what the config says.
pub struct Ctx {
    /// The store directory.
    pub root: PathBuf,
    /// The parsed config file.
    pub config: Config,
    /// Docker's client `config.json` (`--config DIR`, `DOCKER_CONFIG`, `~/.docker`).
    pub client: crate::client_config::ClientConfig,
    /// `--runtime`: the OCI runtime new containers use.
    pub runtime: Option<String>,
    /// `--policy`: the trust policy file, when given.
    pub policy: Option<PathBuf>,
    /// The command's `--disable-content-trust`, when given (it overrides the environment).
    pub disable_content_trust: Option<bool>,
}

/// A command's own exit code (a container's, or Docker's 125/126/127 for `run`), with the
/// error to print first, if any. `main` exits with `code`.
#[derive(Debug)]
pub struct ExitStatus {
    /// The process exit code.
    pub code: u8,
    /// What to print as `Error: ...`.
    pub error: Option<anyhow::Error>,
}

impl ExitStatus {
    /// Exit with `code` and nothing printed.
    pub fn code(code: i32) -> anyhow::Error {
        anyhow::Error::new(ExitStatus {
            code: code.clamp(0, 255) as u8,
            error: None,
        })
    }

    /// Exit with `code` after printing `error`.
    pub fn error(code: i32, error: impl Into<anyhow::Error>) -> anyhow::Error {
        anyhow::Error::new(ExitStatus {
            code: code.clamp(0, 255) as u8,
            error: Some(error.into()),
        })
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.error {
            Some(e) => write!(f, "{e:#}"),
            None => write!(f, "exit status {}", self.code),
        }
    }
}

impl std::error::Error for ExitStatus {}

/// A failure Docker's client reports in its own words, printed as is (no `Error: `), exit
/// 1: its checks before calling the daemon (`refusing to create a tag with a digest
/// reference`, `open FILE: no such file or directory`).
#[derive(Debug)]
pub struct Plain(pub String);

impl Plain {
    /// The error carrying `message`.
    pub fn error(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(Plain(message.into()))
    }

    /// Go's `os.Open` error for `path` (`open PATH: no such file or directory`): Rust's
    /// wording of the OS error without its `(os error N)` and lower-cased as Go's is.
    pub fn open(path: &std::path::Path, e: &io::Error) -> anyhow::Error {
        Plain::error(format!(
            "open {}: {}",
            path.display(),
            runtime::go_io_text(e)
        ))
    }
}

/// A `run`/`create` flag value Docker's CLI refuses after parsing the command line (a
/// relative `--device` path, an unreadable `--label-file`, an existing `--cidfile`):
/// printed as `strata: MESSAGE.` with the command's help hint, exit 125.
#[derive(Debug)]
pub struct FlagCheck(pub String);

impl FlagCheck {
    /// The error carrying `message`.
    pub fn error(message: impl Into<String>) -> anyhow::Error {
        anyhow::Error::new(FlagCheck(message.into()))
    }

    /// `e` as `command` (`run` or `create`) reports it: a [`FlagCheck`] in Docker's words
    /// (bare, with the help hint); options the runtime refused as Docker's daemon refuses
    /// them, as Docker's CLI reports a daemon's refusal (`run` with the help hint, `create`
    /// bare); anything else unchanged.
    pub fn render(e: anyhow::Error, command: &str) -> anyhow::Error {
        let hint = |m: &str| {
            let dot = if m.ends_with('.') { "" } else { "." };
            Plain::error(format!("strata: {m}{dot}\nSee 'strata {command} --help'."))
        };
        if let Some(FlagCheck(m)) = e.downcast_ref::<FlagCheck>() {
            return hint(m);
        }
        match e.downcast_ref::<runtime::RuntimeError>() {
            Some(runtime::RuntimeError::InvalidOptions(m)) if command == "run" => {
                hint(&format!("Error response from daemon: {m}"))
            }
            _ => daemon_refusal(e),
        }
    }
}

impl std::fmt::Display for FlagCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FlagCheck {}

impl std::fmt::Display for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Plain {}

/// Options the runtime refused as Docker's daemon refuses them, worded as Docker's CLI
/// reports a daemon's answer (`Error response from daemon: ...`); anything else unchanged.
pub fn daemon_refusal(e: anyhow::Error) -> anyhow::Error {
    match e.downcast_ref::<runtime::RuntimeError>() {
        Some(runtime::RuntimeError::InvalidOptions(m)) => {
            Plain::error(format!("Error response from daemon: {m}"))
        }
        _ => e,
    }
}

/// Runs `step` for each named container (or volume), printing the name after each success
/// as Docker does, and reports the failures together at the end (see [`report_errors`]).
pub fn each_named(
    names: &[String],
    out: &mut dyn Write,
    mut step: impl FnMut(&str) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut errors = Vec::new();
    for name in names {
        match step(name) {
            Ok(()) => writeln!(out, "{name}")?,
            Err(e) => errors.push(e),
        }
    }
    report_errors(errors)
}

/// How an error is printed after `Error: `: its chain on one line; a full disk reads
/// `no space left on device`, as Docker says it, with what to do about it.
pub fn error_line(e: &anyhow::Error) -> String {
    let text = format!("{e:#}");
    if let Some(hint) = permission_hint(e, &text) {
        return format!("{text} ({hint})");
    }
    let full = e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()))
    });
    // Some library errors carry their cause as text only.
    if !full && !text.contains("(os error 28)") {
        return text;
    }
    let text = text.replace(
        "No space left on device (os error 28)",
        "no space left on device",
    );
    format!(
        "{text} (free space on that filesystem; `strata system prune` removes what no image or \
         container uses, including what this command left)"
    )
}

/// The store of this command, for the hint of [`permission_hint`].
static STORE_ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// What a user who is not root and cannot write the store should do, when `e` is such a
/// refusal (a permission error, or SQLite's read-only database).
fn permission_hint(e: &anyhow::Error, text: &str) -> Option<String> {
    if rustix::process::geteuid().is_root() {
        return None;
    }
    let denied = e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::PermissionDenied)
    }) || text.contains("readonly database")
        || text.contains("Permission denied");
    if !denied {
        return None;
    }
    let root = STORE_ROOT.get()?;
    Some(format!(
        "you may not write the store at {}: run strata as its owner (root: sudo), or use a \
         store of your own with --root DIR or STRATA_ROOT (the default for a user is \
         ~/.local/share/strata); running containers needs root",
        root.display()
    ))
}

/// Docker's way with several operands: each failure is printed as it comes, the command
/// carries on and fails at the end with the last one (exit 1).
pub fn report_errors(errors: Vec<anyhow::Error>) -> anyhow::Result<()> {
    let _ = io::stdout().flush();
    let mut errors = errors.into_iter().peekable();
    while let Some(e) = errors.next() {
        if errors.peek().is_none() {
            return Err(match e.downcast::<ExitStatus>() {
                Ok(s) => anyhow::Error::new(ExitStatus { code: 1, ..s }),
                Err(e) => e,
            });
        }
        match e.downcast_ref::<ExitStatus>() {
            Some(ExitStatus {
                error: Some(inner), ..
            }) => eprintln!("Error: {inner:#}"),
            Some(_) => {}
            None => eprintln!("Error: {}", error_line(&e)),
        }
    }
    Ok(())
}

impl Ctx {
    /// The trust policy in force: `--policy`, else the default file when it exists, turned
    /// strict by content trust (`STRATA_CONTENT_TRUST`/`DOCKER_CONTENT_TRUST`, or the
    /// command's `--disable-content-trust=false`). `None` admits everything.
    pub fn trust_policy(&self) -> anyhow::Result<Option<trust::policy::Policy>> {
        let path = match &self.policy {
            Some(p) => Some(p.clone()),
            None => config::default_policy_path().filter(|p| p.exists()),
        };
        let content_trust = match self.disable_content_trust {
            Some(disabled) => !disabled,
            None => config::content_trust_env(),
        };
        let Some(path) = path else {
            if content_trust {
                anyhow::bail!(
                    "content trust is on (STRATA_CONTENT_TRUST or DOCKER_CONTENT_TRUST) but there is no trust policy: write {} with a signedBy requirement naming your public key, or give --policy FILE",
                    config::default_policy_path().map_or_else(
                        || "~/.config/strata/policy.json".to_string(),
                        |p| p.display().to_string()
                    )
                );
            }
            return Ok(None);
        };
        let policy = trust::policy::Policy::load(&path)?;
        Ok(Some(if content_trust {
            policy.with_content_trust()?
        } else {
            policy
        }))
    }

    /// Opens (creating if needed) the store, and reaps what killed commands left in it
    /// (a killed build's RUN containers and ingests, half-created containers): every
    /// command that touches the store cleans up after the dead ones.
    pub fn store(&self) -> anyhow::Result<store::Store> {
        let store = store::Store::open(&self.root)
            .with_context(|| format!("opening the store at {}", self.root.display()))?;
        ::build::reap_dead_builds(&store, &mut || container::new_runtime(self).ok());
        Ok(store)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let root = match cli.root {
        // Made absolute once, here: overlay options, OCI bundles and the monitor process
        // (started elsewhere) all need the full path.
        Some(r) => {
            std::path::absolute(&r).with_context(|| format!("resolving --root {}", r.display()))?
        }
        None => config::default_root()?,
    };
    // `--config DIR` is Docker's client configuration directory; a file is strata's own.
    let (config_file, client_dir) = match cli.config {
        Some(dir) if dir.is_dir() => {
            // Its `config.json` holds the credentials too.
            transport::credentials::set_config_dir(dir.clone());
            (None, Some(dir))
        }
        other => (other, crate::client_config::default_dir()),
    };
    // Docker's CLI warns about a config.json it cannot read and carries on without it.
    let client = match client_dir
        .as_deref()
        .map(crate::client_config::ClientConfig::load)
    {
        Some(Ok(c)) => c,
        Some(Err(e)) => {
            eprintln!("WARNING: Error loading config file: {e:#}");
            Default::default()
        }
        None => Default::default(),
    };
    let _ = STORE_ROOT.set(root.clone());
    let ctx = Ctx {
        root,
        config: Config::load(config_file.as_deref())?,
        client,
        runtime: cli.runtime,
        policy: cli.policy,
        disable_content_trust: cli.command.disable_content_trust(),
    };
    // Not locked: `save` writes the archive to stdout from another thread.
    let mut out = io::stdout();
    let result = dispatch(&ctx, cli.command, &mut out);
    let flushed = out.flush();
    result?;
    flushed?;
    Ok(())
}

fn dispatch(ctx: &Ctx, command: Command, out: &mut dyn Write) -> anyhow::Result<()> {
    match command {
        Command::Images(a) | Command::Image(ImageCommand::Ls(a)) => images::run(ctx, a, out),
        Command::Inspect(a) => inspect::run(ctx, a, out),
        Command::Image(ImageCommand::Inspect(mut a)) => {
            a.kind = Some("image".into());
            inspect::run(ctx, a, out)
        }
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(ctx, a, out),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(ctx, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(ctx, a, out),
        Command::Image(ImageCommand::Prune(a)) => prune::run(ctx, a, out),
        Command::Build(a)
        | Command::Image(ImageCommand::Build(a))
        | Command::Builder(BuilderCommand::Build(a)) => build::run(ctx, a, out),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(ctx, a, out),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(ctx, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(ctx, a, out),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::run(ctx, a, out),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::run(ctx, a, out),
        Command::Login(a) => login::run(ctx, a, out),
        Command::Logout(a) => logout::run(a, out),
        Command::Manifest(c) => manifest::dispatch(ctx, c, out),
        Command::Imagetools(c) => imagetools::dispatch(ctx, c, out),
        Command::Copy(a) => copy::run(ctx, a, out),
        Command::System(SystemCommand::Boot) => system_boot::run(ctx, out),
        Command::System(SystemCommand::Df(a)) => system_df::run(ctx, a, out),
        Command::System(SystemCommand::Prune(a)) => system_prune::run(ctx, a, out),
        Command::System(SystemCommand::Binfmt(a)) => system_binfmt::run(a, out),
        Command::Builder(BuilderCommand::Prune(a)) => builder_prune::run(ctx, a, out),
        Command::Version(a) => version::run(a, out),
        Command::Info(a) | Command::System(SystemCommand::Info(a)) => info::run(ctx, a, out),
        Command::Completion(a) => completion::completion(a, out),
        Command::Man(a) => completion::man(a, out),
        Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => run::run(ctx, a, out),
        Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => {
            create::run(ctx, a, out)
        }
        Command::Start(a) | Command::Container(ContainerCommand::Start(a)) => {
            start::run(ctx, a, out)
        }
        Command::Attach(a) | Command::Container(ContainerCommand::Attach(a)) => {
            attach_cmd::run(ctx, a)
        }
        Command::Stop(a) | Command::Container(ContainerCommand::Stop(a)) => stop::run(ctx, a, out),
        Command::Kill(a) | Command::Container(ContainerCommand::Kill(a)) => kill::run(ctx, a, out),
        Command::Pause(a) | Command::Container(ContainerCommand::Pause(a)) => {
            pause::pause(ctx, a, out)
        }
        Command::Unpause(a) | Command::Container(ContainerCommand::Unpause(a)) => {
            pause::unpause(ctx, a, out)
        }
        Command::Restart(a) | Command::Container(ContainerCommand::Restart(a)) => {
            restart::run(ctx, a, out)
        }
        Command::Rm(a) | Command::Container(ContainerCommand::Rm(a)) => rm::run(ctx, a, out),
        Command::Ps(a) | Command::Container(ContainerCommand::Ls(a)) => ps::run(ctx, a, out),
        Command::Logs(a) | Command::Container(ContainerCommand::Logs(a)) => logs::run(ctx, a, out),
        Command::Exec(a) | Command::Container(ContainerCommand::Exec(a)) => exec::run(ctx, a),
        Command::Wait(a) | Command::Container(ContainerCommand::Wait(a)) => wait::run(ctx, a, out),
        Command::Container(ContainerCommand::Inspect(mut a)) => {
            a.kind = Some("container".into());
            inspect::run(ctx, a, out)
        }
        Command::Top(a) | Command::Container(ContainerCommand::Top(a)) => top::run(ctx, a, out),
        Command::Port(a) | Command::Container(ContainerCommand::Port(a)) => port::run(ctx, a, out),
        Command::Rename(a) | Command::Container(ContainerCommand::Rename(a)) => rename::run(ctx, a),
        Command::Commit(a) | Command::Container(ContainerCommand::Commit(a)) => {
            commit::run(ctx, a, out)
        }
        Command::Diff(a) | Command::Container(ContainerCommand::Diff(a)) => diff::run(ctx, a, out),
        Command::Cp(a) | Command::Container(ContainerCommand::Cp(a)) => cp::run(ctx, a),
        Command::Export(a) | Command::Container(ContainerCommand::Export(a)) => export::run(ctx, a),
        Command::Container(ContainerCommand::Prune(a)) => container::prune(ctx, a, out),
        Command::Events(a) | Command::System(SystemCommand::Events(a)) => events::run(ctx, a, out),
        Command::Stats(a) | Command::Container(ContainerCommand::Stats(a)) => {
            stats::run(ctx, a, out)
        }
        Command::Update(a) | Command::Container(ContainerCommand::Update(a)) => {
            update::run(ctx, a, out)
        }
        Command::Registry(RegistryCommand::Serve(a)) => registry_serve::run(ctx, &a),
        Command::Registry(RegistryCommand::Gc(a)) => registry_serve::gc(ctx, &a),
        Command::Sign(a) => sign::run(ctx, a),
        Command::Attest(a) => attest::run(ctx, a),
        Command::Verify(a) => verify::run(ctx, a, out),
        Command::Sbom(a) => sbom::run(ctx, a, out),
        Command::Scan(a) => scan::run(ctx, a, out),
        Command::Trust(c) => trust_key::dispatch(c),
        Command::Volume(VolumeCommand::Create(a)) => volume::create(ctx, a, out),
        Command::Volume(VolumeCommand::Ls(a)) => volume::ls(ctx, a, out),
        Command::Volume(VolumeCommand::Inspect(a)) => volume::inspect(ctx, a, out),
        Command::Volume(VolumeCommand::Rm(a)) => volume::rm(ctx, a, out),
        Command::Volume(VolumeCommand::Prune(a)) => volume::prune(ctx, a, out),
        Command::Network(c) => network::run(ctx, c, out),
        Command::Monitor(a) => monitor::run(ctx, a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_open_error_reads_like_go() {
        let path = std::path::Path::new("/nonexistent/strata-test/nope.tar");
        let e = std::fs::File::open(path).unwrap_err();
        assert_eq!(
            Plain::open(path, &e).to_string(),
            "open /nonexistent/strata-test/nope.tar: no such file or directory"
        );
    }
}
