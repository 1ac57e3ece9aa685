//! The command line, in Docker's grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// The name-resolution, namespace, restart and `--mount` flags of `run`/`create`.
mod hosts;
mod lifecycle;
pub mod resources;

pub use hosts::HostFlags;
pub use lifecycle::LifecycleFlags;
use resources::{bytes_arg, int_arg};

/// A daemonless container-image engine.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub struct Cli {
    /// The store directory.
    #[arg(long, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The configuration file (default ~/.config/strata/config.toml), or as Docker's
    /// `--config` a client configuration directory (default ~/.docker, `DOCKER_CONFIG`):
    /// its `config.json` holds credentials, `psFormat`, `imagesFormat`, `detachKeys`.
    #[arg(long, value_name = "FILE|DIR")]
    pub config: Option<PathBuf>,
    /// The trust policy: which images pull, run, create and build admit (default
    /// ~/.config/strata/policy.json, when it exists).
    #[arg(long, env = "STRATA_POLICY", value_name = "FILE", global = true)]
    pub policy: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(short = 'l', long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Debug logging (same as --log-level debug).
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// Log line format: text, or json (one object per line, for log collectors).
    #[arg(long, value_name = "FORMAT", value_parser = ["text", "json"])]
    pub log_format: Option<String>,
    /// The OCI runtime for new containers: a name on PATH (runc, crun, youki) or a path
    /// (default: crun on a pure cgroup v2 host, else runc).
    #[arg(long, env = "STRATA_RUNTIME", value_name = "NAME|PATH", global = true)]
    pub runtime: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build an image from a Dockerfile.
    Build(crate::commands::build::BuildArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// List images.
    Images(ImagesArgs),
    /// Manage images.
    #[command(subcommand)]
    Image(ImageCommand),
    /// Return low-level information on images.
    Inspect(InspectArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Remove one or more images.
    Rmi(RmiArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default).
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
    /// Log in to a registry.
    Login(LoginArgs),
    /// Log out from a registry.
    Logout(LogoutArgs),
    /// Manage manifests and manifest lists in registries.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Commands to work on images in registry (buildx's `imagetools`).
    #[command(subcommand)]
    Imagetools(ImagetoolsCommand),
    /// Copy an image between transports (docker://, oci:, oci-archive:, docker-archive:, store).
    Copy(CopyArgs),
    /// Manage strata.
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage builds.
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Show the strata version information.
    Version(VersionArgs),
    /// Display system-wide information.
    Info(crate::commands::info::InfoArgs),
    /// Generate the shell completion script for bash, zsh, fish, elvish or powershell.
    Completion(crate::commands::completion::CompletionArgs),
    /// Write strata's man pages (one per command) into a directory.
    Man(crate::commands::completion::ManArgs),
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(crate::commands::attach_cmd::AttachArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Pause all processes within one or more containers.
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(PauseArgs),
    /// Restart one or more containers.
    Restart(StopArgs),
    /// Remove one or more containers.
    Rm(RmArgs),
    /// List containers.
    Ps(PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ContainersArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Get real time events from the server.
    Events(crate::commands::events::EventsArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(crate::commands::stats::StatsArgs),
    /// Update configuration of one or more containers.
    Update(crate::commands::update::UpdateArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Manage containers.
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Manage volumes.
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks.
    #[command(subcommand)]
    Network(crate::commands::network::NetworkCommand),
    /// Run an OCI distribution registry.
    #[command(subcommand)]
    Registry(RegistryCommand),
    /// Sign an image in cosign's format (a signature stored beside it in the registry).
    Sign(crate::commands::sign::SignArgs),
    /// Attach an attestation (the image's SBOM) to an image, signed with --key or unsigned.
    Attest(crate::commands::attest::AttestArgs),
    /// Verify an image's cosign signatures against a public key.
    Verify(crate::commands::verify::VerifyArgs),
    /// Manage signing keys.
    #[command(subcommand)]
    Trust(crate::commands::trust_key::TrustCommand),
    /// List the packages in an image or a root filesystem (an SBOM: SPDX, CycloneDX, table).
    Sbom(crate::commands::sbom::SbomArgs),
    /// Scan an image for known vulnerabilities (offline OSV database) and secrets.
    Scan(crate::commands::scan::ScanArgs),
    /// The process that owns a detached container (spawned by `run -d` and `start`).
    #[command(hide = true)]
    Monitor(MonitorArgs),
}

/// `strata image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Build an image from a Dockerfile.
    Build(crate::commands::build::BuildArgs),
    /// List images.
    #[command(visible_alias = "list", alias = "images")]
    Ls(ImagesArgs),
    /// Remove one or more images.
    #[command(visible_alias = "remove", alias = "rmi")]
    Rm(RmiArgs),
    /// Remove unused images.
    Prune(PruneArgs),
    /// Display detailed information on one or more images.
    Inspect(InspectArgs),
    /// Show the history of an image.
    History(HistoryArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE.
    Tag(TagArgs),
    /// Import the contents from a tarball to create a filesystem image.
    Import(ImportArgs),
    /// Download an image from a registry.
    Pull(PullArgs),
    /// Upload an image to a registry.
    Push(PushArgs),
    /// Save one or more images to a tar archive.
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN.
    Load(LoadArgs),
}

/// `strata container ...`.
#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create and run a new container from an image.
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container.
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers.
    Start(StartArgs),
    /// Attach local standard input, output, and error streams to a running container.
    Attach(crate::commands::attach_cmd::AttachArgs),
    /// Stop one or more running containers.
    Stop(StopArgs),
    /// Kill one or more running containers.
    Kill(KillArgs),
    /// Pause all processes within one or more containers.
    Pause(PauseArgs),
    /// Unpause all processes within one or more containers.
    Unpause(PauseArgs),
    /// Restart one or more containers.
    Restart(StopArgs),
    /// Remove one or more containers.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// List containers.
    #[command(visible_aliases = ["ps", "list"])]
    Ls(PsArgs),
    /// Fetch the logs of a container.
    Logs(LogsArgs),
    /// Execute a command in a running container.
    Exec(ExecArgs),
    /// Block until one or more containers stop, then print their exit codes.
    Wait(ContainersArgs),
    /// Display detailed information on one or more containers.
    Inspect(InspectArgs),
    /// Display the running processes of a container.
    Top(TopArgs),
    /// List port mappings or a specific mapping for the container.
    Port(PortArgs),
    /// Rename a container.
    Rename(RenameArgs),
    /// Create a new image from a container's changes.
    Commit(CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem.
    Diff(DiffArgs),
    /// Copy files/folders between a container and the local filesystem.
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive.
    Export(ExportArgs),
    /// Remove all stopped containers.
    Prune(ForceArgs),
    /// Display a live stream of container(s) resource usage statistics.
    Stats(crate::commands::stats::StatsArgs),
    /// Update configuration of one or more containers.
    Update(crate::commands::update::UpdateArgs),
}

/// `strata volume ...`.
#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume.
    Create(VolumeCreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes.
    Inspect(VolumeInspectArgs),
    /// Remove one or more volumes.
    #[command(visible_alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused local volumes.
    Prune(VolumePruneArgs),
}

/// `strata manifest ...`.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Add additional information to a local image manifest.
    Annotate(ManifestAnnotateArgs),
    /// Create a local manifest list for annotating and pushing to a registry.
    Create(ManifestCreateArgs),
    /// Display an image manifest, or manifest list.
    Inspect(ManifestInspectArgs),
    /// Push a manifest list to a repository.
    Push(ManifestPushArgs),
    /// Delete one or more manifest lists from local storage.
    Rm(ManifestRmArgs),
}

/// `strata imagetools ...`.
#[derive(Debug, Subcommand)]
pub enum ImagetoolsCommand {
    /// Create a new image based on source images.
    Create(ImagetoolsCreateArgs),
    /// Show details of an image in the registry.
    Inspect(ImagetoolsInspectArgs),
}

/// `strata builder ...`.
// Made once per process: the size of the build variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile.
    Build(crate::commands::build::BuildArgs),
    /// Remove build cache.
    Prune(BuilderPruneArgs),
}

/// `strata builder prune`.
#[derive(Debug, Args)]
pub struct BuilderPruneArgs {
    /// Remove all unused build cache, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. `until=24h`).
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Amount of disk space to keep for cache.
    #[arg(long, value_parser = bytes_arg, value_name = "bytes")]
    pub keep_storage: Option<i64>,
}

/// `strata system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Start the containers whose restart policy brings them back after a reboot
    /// (`always`, `unless-stopped` not stopped by the user, `on-failure` after a failure);
    /// run once at boot, e.g. from a systemd unit.
    Boot,
    /// Show disk usage.
    Df(DfArgs),
    /// Remove unused data.
    Prune(SystemPruneArgs),
    /// Display system-wide information.
    Info(crate::commands::info::InfoArgs),
    /// Show which platforms this host runs (natively or through QEMU emulation), and
    /// register the installed QEMU handlers.
    Binfmt(BinfmtArgs),
    /// Get real time events from the server.
    Events(crate::commands::events::EventsArgs),
}

/// `strata export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `strata system binfmt`.
#[derive(Debug, Args)]
pub struct BinfmtArgs {
    /// Register the QEMU handlers of qemu-user-static (with the F flag) in binfmt_misc.
    #[arg(long)]
    pub install: bool,
}

/// `strata system prune`.
#[derive(Debug, Args)]
pub struct SystemPruneArgs {
    /// Remove all unused images not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Provide filter values (e.g. 'label=<key>=<value>').
    #[arg(long)]
    pub filter: Vec<String>,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Prune volumes.
    #[arg(long)]
    pub volumes: bool,
}

/// `strata import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A rootfs tarball (plain, gzip, zstd), or `-` for STDIN.
    #[arg(value_name = "file|-")]
    pub file: String,
    /// Name for the image.
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short = 'c', long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Set commit message for imported image.
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// Set platform (os/arch[/variant]) of the image.
    #[arg(long)]
    pub platform: Option<String>,
}

impl Command {
    /// The command's `--disable-content-trust`, for the commands that have it.
    pub fn disable_content_trust(&self) -> Option<bool> {
        let flag = match self {
            Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => &a.trust,
            Command::Push(a) | Command::Image(ImageCommand::Push(a)) => &a.trust,
            Command::Build(a)
            | Command::Image(ImageCommand::Build(a))
            | Command::Builder(BuilderCommand::Build(a)) => &a.trust,
            Command::Run(a) | Command::Container(ContainerCommand::Run(a)) => &a.flags.trust,
            Command::Create(a) | Command::Container(ContainerCommand::Create(a)) => &a.flags.trust,
            _ => return None,
        };
        flag.disable_content_trust
    }
}

/// Docker's `--disable-content-trust` of `pull`, `push`, `run`, `create` and `build`.
#[derive(Debug, Clone, Default, Args)]
pub struct TrustFlag {
    /// Skip image verification (default true; false when STRATA_CONTENT_TRUST or
    /// DOCKER_CONTENT_TRUST is set). `--disable-content-trust=false` turns content trust on.
    #[arg(
        long,
        value_name = "BOOL",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub disable_content_trust: Option<bool>,
}

/// `strata pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable (a comma-separated list keeps the
    /// image index, with those platforms' content).
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull every platform of an image index, and keep the index as the image.
    #[arg(long)]
    pub all_platforms: bool,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify TLS certificates (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Content trust.
    #[command(flatten)]
    pub trust: TrustFlag,
    /// Image to pull.
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    pub name: String,
}

/// `strata push`.
#[derive(Debug, Args)]
pub struct PushArgs {
    /// Push all tags of an image to the repository.
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Content trust (accepted for Docker's command lines; push signs nothing).
    #[command(flatten)]
    pub trust: TrustFlag,
    /// Push only an image the trust policy admits, judged by the signatures kept with it
    /// (those its pull brought, or a load).
    #[arg(long)]
    pub require_signed: bool,
    /// Compression of layers that are not compressed yet (gzip or zstd).
    #[arg(long, value_name = "gzip|zstd")]
    pub compression: Option<String>,
    /// Push only this platform's manifest of a multi-platform image (os[/arch[/variant]]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify TLS certificates (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Image to push.
    #[arg(value_name = "NAME[:TAG]")]
    pub name: String,
}

/// `strata images` / `strata image ls`.
#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Show all images (default hides intermediate images).
    #[arg(short, long)]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Filter output based on conditions provided (dangling=, reference=, label=).
    #[arg(short, long = "filter", value_name = "FILTER", value_parser = filter_arg)]
    pub filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE').
    #[arg(long)]
    pub format: Option<String>,
    /// List multi-platform images as a tree, with each platform's content (as Docker 28).
    #[arg(long, conflicts_with_all = ["quiet", "digests", "format", "no_trunc"])]
    pub tree: bool,
    /// Only images of this repository (and tag).
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `strata inspect` / `strata image inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Only inspect objects of this type (image).
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Display total file sizes (accepted for compatibility).
    #[arg(short, long)]
    pub size: bool,
    /// Inspect this platform's image of a multi-platform image (os[/arch[/variant]]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Images to inspect.
    #[arg(required = true, value_name = "NAME")]
    pub names: Vec<String>,
}

/// `strata history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Print sizes and dates in human readable format.
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    /// Show the history of this platform's image (os[/arch[/variant]]).
    #[arg(long)]
    pub platform: Option<String>,
    /// The image.
    #[arg(value_name = "IMAGE")]
    pub image: String,
}

/// `strata tag`.
#[derive(Debug, Args)]
pub struct TagArgs {
    /// The existing image.
    #[arg(value_name = "SOURCE_IMAGE[:TAG]")]
    pub source: String,
    /// The new name.
    #[arg(value_name = "TARGET_IMAGE[:TAG]")]
    pub target: String,
}

/// `strata rmi` / `strata image rm`.
#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Force removal of the image.
    #[arg(short, long)]
    pub force: bool,
    /// Do not delete untagged parents (accepted for compatibility).
    #[arg(long)]
    pub no_prune: bool,
    /// Remove only this platform's content from a multi-platform image; the image stays.
    #[arg(long)]
    pub platform: Option<String>,
    /// Images to remove.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `strata image prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Provide filter values (e.g. `until=<timestamp>`, `label=KEY[=VALUE]`).
    #[arg(long)]
    pub filter: Vec<String>,
}

/// `strata save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Save only this platform's image of a multi-platform image (os[/arch[/variant]]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Images to save.
    #[arg(required = true, value_name = "IMAGE")]
    pub images: Vec<String>,
}

/// `strata load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN.
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Load only this platform of a multi-platform image (os[/arch[/variant]]; the image
    /// stays an index with that platform's content).
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress the load output.
    #[arg(short, long)]
    pub quiet: bool,
}

/// `strata login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short, long)]
    pub username: Option<String>,
    /// Password.
    #[arg(short, long)]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long, conflicts_with = "password")]
    pub password_stdin: bool,
    /// Verify TLS certificates (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// The registry (default docker.io).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `strata logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry (default docker.io).
    #[arg(value_name = "SERVER")]
    pub server: Option<String>,
}

/// `strata manifest inspect`.
#[derive(Debug, Args)]
pub struct ManifestInspectArgs {
    /// Allow communication with an insecure registry.
    #[arg(long)]
    pub insecure: bool,
    /// Output additional info including layers and platform.
    #[arg(short, long)]
    pub verbose: bool,
    /// The image (a manifest list or a manifest), or the local list of MANIFEST.
    #[arg(value_name = "MANIFEST_LIST|MANIFEST")]
    pub name: String,
    /// An image of the local manifest list NAME.
    #[arg(value_name = "MANIFEST")]
    pub manifest: Option<String>,
}

/// `strata manifest create`.
#[derive(Debug, Args)]
pub struct ManifestCreateArgs {
    /// Amend an existing manifest list.
    #[arg(short, long)]
    pub amend: bool,
    /// Allow communication with an insecure registry.
    #[arg(long)]
    pub insecure: bool,
    /// The manifest list to create.
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    /// The images it lists.
    #[arg(value_name = "MANIFEST", required = true)]
    pub images: Vec<String>,
}

/// `strata manifest annotate`.
#[derive(Debug, Args)]
pub struct ManifestAnnotateArgs {
    /// Set architecture.
    #[arg(long)]
    pub arch: Option<String>,
    /// Set operating system.
    #[arg(long)]
    pub os: Option<String>,
    /// Set operating system feature.
    #[arg(long = "os-features", value_delimiter = ',')]
    pub os_features: Vec<String>,
    /// Set operating system version.
    #[arg(long = "os-version")]
    pub os_version: Option<String>,
    /// Set architecture variant.
    #[arg(long)]
    pub variant: Option<String>,
    /// The local manifest list.
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
    /// The image in it to annotate.
    #[arg(value_name = "MANIFEST")]
    pub image: String,
}

/// `strata manifest push`.
#[derive(Debug, Args)]
pub struct ManifestPushArgs {
    /// Allow push to an insecure registry.
    #[arg(long)]
    pub insecure: bool,
    /// Remove the local manifest list after push.
    #[arg(short, long)]
    pub purge: bool,
    /// The local manifest list to push (to its own name).
    #[arg(value_name = "MANIFEST_LIST")]
    pub list: String,
}

/// `strata manifest rm`.
#[derive(Debug, Args)]
pub struct ManifestRmArgs {
    /// The local manifest lists to delete.
    #[arg(value_name = "MANIFEST_LIST", required = true)]
    pub lists: Vec<String>,
}

/// `strata imagetools create`.
#[derive(Debug, Args)]
pub struct ImagetoolsCreateArgs {
    /// Set reference for new image.
    #[arg(short, long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Show final image instead of pushing.
    #[arg(long)]
    pub dry_run: bool,
    /// Append to existing manifest (the first tag's).
    #[arg(long)]
    pub append: bool,
    /// Add annotation to the image (`index:K=V`, `manifest-descriptor[PLATFORM]:K=V`).
    #[arg(long = "annotation", value_name = "ANNOTATION")]
    pub annotations: Vec<String>,
    /// Filter specified platforms of target image (repeatable, or comma-separated).
    #[arg(
        short,
        long = "platform",
        value_name = "PLATFORM",
        value_delimiter = ','
    )]
    pub platforms: Vec<String>,
    /// Set type of progress output (accepted for buildx's grammar; nothing is printed).
    #[arg(long, value_name = "TYPE", default_value = "auto")]
    pub progress: String,
    /// The source images and indexes.
    #[arg(value_name = "SOURCE")]
    pub sources: Vec<String>,
}

/// `strata imagetools inspect`.
#[derive(Debug, Args)]
pub struct ImagetoolsInspectArgs {
    /// Format the output using the given Go template.
    #[arg(long, value_name = "FORMAT")]
    pub format: Option<String>,
    /// Show original, unformatted JSON manifest.
    #[arg(long)]
    pub raw: bool,
    /// The image or index.
    #[arg(value_name = "NAME")]
    pub name: String,
}

/// `strata copy`.
#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Copy every platform of an index, not just the host's.
    #[arg(short, long)]
    pub all: bool,
    /// The platform to copy out of an index.
    #[arg(long)]
    pub platform: Option<String>,
    /// Compression of layers written to the destination (gzip or zstd).
    #[arg(long, value_name = "gzip|zstd")]
    pub dest_compress_format: Option<String>,
    /// Verify TLS certificates of registries (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
    /// Suppress progress output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not copy the image's signatures (by default they follow it between registries
    /// and OCI layouts).
    #[arg(long)]
    pub remove_signatures: bool,
    /// Copy only an image the trust policy admits (checked at the source, before anything
    /// is written).
    #[arg(long)]
    pub require_signed: bool,
    /// Where to read: docker://REF, oci:DIR[:REF], oci-archive:FILE[:REF],
    /// docker-archive:FILE[:REF], or a local image name.
    #[arg(value_name = "SOURCE")]
    pub source: String,
    /// Where to write, same forms.
    #[arg(value_name = "DESTINATION")]
    pub destination: String,
}

/// `strata system df`.
#[derive(Debug, Args)]
pub struct DfArgs {
    /// Show detailed information on space usage.
    #[arg(short, long)]
    pub verbose: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

/// `strata version`.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
}

/// The flags `run` and `create` share: what the container is made with.
#[derive(Debug, Args, Default)]
pub struct ContainerFlags {
    /// Content trust for an image that is pulled.
    #[command(flatten)]
    pub trust: TrustFlag,
    /// Assign a name to the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Use this platform's image of a multi-platform image, pulling it if needed
    /// (os[/arch[/variant]]).
    #[arg(long)]
    pub platform: Option<String>,
    /// Set environment variables (KEY=value, or KEY to take the host's value).
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Bind mount a volume (/host:/ctr[:ro], name:/ctr[:ro], /ctr).
    #[arg(short, long = "volume", value_name = "SPEC")]
    pub volume: Vec<String>,
    /// Mount a tmpfs directory (/ctr[:options]).
    #[arg(long, value_name = "PATH[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image ("" clears it).
    #[arg(long, allow_hyphen_values = true)]
    pub entrypoint: Option<String>,
    /// Container host name (`-h`, as Docker: run's help is `--help` only).
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Print help (long only: `-h` is `--hostname`, as with Docker).
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Connect a container to a network: default (bridge: user-mode networking through
    /// pasta or slirp4netns), none (loopback only), host or container:NAME.
    #[arg(long, alias = "net", default_value = "default", value_name = "network")]
    pub network: String,
    /// Publish a container's port(s) to the host
    /// ([ip:][hostPort:]containerPort[/tcp|/udp]).
    #[arg(short, long = "publish", value_name = "SPEC")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports.
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Add network-scoped alias for the container.
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// Mount the container's root filesystem as read only.
    #[arg(long)]
    pub read_only: bool,
    /// Memory limit (e.g. 64m, 1g).
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune container pids limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// `--memory-swap`, `--memory-reservation`, `--cpu-period` … `--blkio-weight`.
    #[command(flatten)]
    pub resources: resources::ResourceFlags,
    /// Run an init inside the container that forwards signals and reaps processes.
    #[arg(long)]
    pub init: bool,
    /// Automatically remove the container and its anonymous volumes when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Pull image before running: missing (when not in the store), always, never.
    #[arg(long, default_value = "missing", value_parser = ["missing", "always", "never"])]
    pub pull: String,
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Security options: `seccomp=unconfined` or `seccomp=PROFILE.json`.
    #[arg(long = "security-opt", value_name = "OPTION")]
    pub security_opt: Vec<String>,
    /// Signal to stop the container (default: the image's, else SIGTERM).
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR.
    #[arg(short = 'a', long = "attach", value_name = "list", value_parser = attach_stream)]
    pub attach: Vec<String>,
    /// Set metadata on the container (`KEY=VALUE`, or `KEY` for an empty value).
    #[arg(short = 'l', long = "label", value_name = "KEY[=VALUE]")]
    pub label: Vec<String>,
    /// Security and resource flags (`--cap-add` … `--cgroupns`).
    #[command(flatten)]
    pub security: SecurityFlags,
    /// `--add-host`, `--dns*`, `--ipc`, `--pid`, `--uts`, `--restart`, `--mount`.
    #[command(flatten)]
    pub hosts: hosts::HostFlags,
    /// `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`.
    #[command(flatten)]
    pub lifecycle: LifecycleFlags,
}

/// The `run`/`create` flags that tune privileges and resources, Docker's names and checks.
#[derive(Debug, Args, Default)]
pub struct SecurityFlags {
    /// Add Linux capabilities (`NET_ADMIN`, `CAP_SYS_TIME`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (`CHOWN`, `ALL`).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container.
    #[arg(long)]
    pub privileged: bool,
    /// Add a host device to the container (`HOST[:CONTAINER][:rwm]`).
    #[arg(long, value_name = "list")]
    pub device: Vec<String>,
    /// Sysctl options (namespaced ones: `net.*`, `fs.mqueue.*`, IPC `kernel.*`).
    #[arg(long, value_name = "KEY=VALUE", value_parser = sysctl_arg)]
    pub sysctl: Vec<(String, String)>,
    /// CPU shares (relative weight).
    #[arg(short = 'c', long, allow_hyphen_values = true, value_name = "INT", value_parser = int_arg)]
    pub cpu_shares: Option<i64>,
    /// Size of /dev/shm (e.g. 64m).
    #[arg(long, allow_hyphen_values = true, value_name = "BYTES", value_parser = bytes_arg)]
    pub shm_size: Option<i64>,
    /// Ulimit options (`nofile=1024[:2048]`).
    #[arg(long, value_name = "NAME=SOFT[:HARD]", value_parser = ulimit_arg)]
    pub ulimit: Vec<runtime::spec::rlimits::Ulimit>,
    /// Add additional groups to join (names from the container's /etc/group, or gids).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Cgroup namespace to use (host|private; default: host on cgroup v1, private on v2).
    #[arg(long, value_name = "MODE")]
    pub cgroupns: Option<String>,
}

/// A `--sysctl` value, checked as Docker's CLI checks it.
fn attach_stream(s: &str) -> Result<String, String> {
    if ["stdin", "stdout", "stderr"]
        .iter()
        .any(|v| s.eq_ignore_ascii_case(v))
    {
        Ok(s.to_string())
    } else {
        Err("valid streams are STDIN, STDOUT and STDERR".into())
    }
}

fn sysctl_arg(s: &str) -> Result<(String, String), String> {
    runtime::spec::sysctl::parse_sysctl(s)
}

/// A `--ulimit` value, parsed as Docker's CLI parses it.
fn ulimit_arg(s: &str) -> Result<runtime::spec::rlimits::Ulimit, String> {
    runtime::spec::rlimits::parse_ulimit(s)
}

/// `IMAGE [COMMAND] [ARG...]` of `run` and `create`: one operand list, so that, as with
/// Docker's CLI (flag parsing stops at the first operand), everything after the image is
/// the container's command, flags included (`run bb env -w /tmp`, `run bb --version`).
#[derive(Debug, Args)]
pub struct ImageCommandArgs {
    /// The image, then the command and its arguments.
    #[arg(
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        value_name = "IMAGE [COMMAND] [ARG...]"
    )]
    pub words: Vec<String>,
}

impl ImageCommandArgs {
    /// The image.
    pub fn image(&self) -> &str {
        &self.words[0]
    }

    /// The command and its arguments (empty: the image's).
    pub fn command(&self) -> Vec<String> {
        self.words[1..].to_vec()
    }
}

/// `strata create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// What the container is made with.
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// The image, then the command and its arguments (replace the image's CMD).
    #[command(flatten)]
    pub operands: ImageCommandArgs,
}

/// `strata run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Run container in background and print container ID.
    #[arg(short, long)]
    pub detach: bool,
    /// Proxy received signals to the process.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// What the container is made with.
    #[command(flatten)]
    pub flags: ContainerFlags,
    /// The image, then the command and its arguments (replace the image's CMD).
    #[command(flatten)]
    pub operands: ImageCommandArgs,
}

/// `strata start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals.
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN.
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// Containers to start.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata stop` / `strata restart`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its `--stop-timeout`, else
    /// 10).
    #[arg(
        short = 't',
        long = "time",
        alias = "timeout",
        allow_hyphen_values = true
    )]
    pub time: Option<i64>,
    /// Signal to send to the container (default: its stop signal).
    #[arg(short, long)]
    pub signal: Option<String>,
    /// Containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata pause` and `unpause`.
#[derive(Debug, Args)]
pub struct PauseArgs {
    /// Containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal to send to the container.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    /// Containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL).
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container.
    #[arg(short, long)]
    pub volumes: bool,
    /// Containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata ps` / `strata container ls`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default shows just running).
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs.
    #[arg(short, long)]
    pub quiet: bool,
    /// Filter output based on conditions provided (id, name, status, exited, ancestor).
    #[arg(short, long = "filter", value_name = "FILTER", value_parser = filter_arg)]
    pub filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE').
    #[arg(long)]
    pub format: Option<String>,
    /// Don't truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Display total file sizes.
    #[arg(short, long)]
    pub size: bool,
    /// Show n last created containers (includes all states).
    #[arg(short = 'n', long, default_value_t = -1, allow_hyphen_values = true)]
    pub last: i64,
    /// Show the latest created container (includes all states).
    #[arg(short, long)]
    pub latest: bool,
}

/// `strata logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output.
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" or a number).
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps.
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (2013-01-02T13:23:37Z) or relative (42m).
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp (2013-01-02T13:23:37Z) or relative (42m).
    #[arg(long)]
    pub until: Option<String>,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// `strata exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep STDIN open even if not attached.
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables.
    #[arg(short, long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read in a file of environment variables.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Username or UID (format: <name|uid>[:<group|gid>]).
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container.
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Detached mode: run command in the background.
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container.
    #[arg(long, value_name = "string")]
    pub detach_keys: Option<String>,
    /// The container, then the command and its arguments: one operand list, so that
    /// everything after the container is the command's (see [`ImageCommandArgs`]).
    #[arg(
        required = true,
        num_args = 2..,
        trailing_var_arg = true,
        value_name = "CONTAINER COMMAND [ARG...]"
    )]
    pub words: Vec<String>,
}

impl ExecArgs {
    /// The container.
    pub fn container(&self) -> &str {
        &self.words[0]
    }

    /// The command and its arguments.
    pub fn command(&self) -> Vec<String> {
        self.words[1..].to_vec()
    }
}

/// Commands that take only container names (`wait`).
#[derive(Debug, Args)]
pub struct ContainersArgs {
    /// Containers.
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// `strata top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Options for ps (default -ef).
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "PS OPTIONS"
    )]
    pub ps_args: Vec<String>,
}

/// `strata port`.
#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Only this container port.
    #[arg(value_name = "PRIVATE_PORT[/PROTO]")]
    pub port: Option<String>,
}

/// `strata rename`.
#[derive(Debug, Args)]
pub struct RenameArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Its new name.
    #[arg(value_name = "NEW_NAME")]
    pub new_name: String,
}

/// `strata commit`.
#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g., "John Hannibal Smith <hannibal@a-team.com>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply Dockerfile instruction to the created image.
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Commit message.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause container during commit.
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub pause: bool,
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// Name of the new image.
    #[arg(value_name = "REPOSITORY[:TAG]")]
    pub reference: Option<String>,
}

/// `strata cp` (`docker cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-` and `docker cp
/// [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH`).
#[derive(Debug, Args)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information).
    #[arg(short, long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// `CONTAINER:SRC_PATH`, or a local SRC_PATH (`-`: a tar archive on stdin).
    // Named as the first of Docker's two usage lines names them.
    #[arg(value_name = "CONTAINER:SRC_PATH")]
    pub source: String,
    /// A local DEST_PATH (`-`: the archive on stdout), or `CONTAINER:DEST_PATH`.
    #[arg(value_name = "DEST_PATH|-")]
    pub destination: String,
}

/// `strata diff`.
#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The container.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
}

/// Prune commands' `-f`.
#[derive(Debug, Args)]
pub struct ForceArgs {
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// `strata volume create`.
#[derive(Debug, Args)]
pub struct VolumeCreateArgs {
    /// Volume driver name (only local).
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Set metadata for a volume (KEY=VALUE).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The name (random when not given).
    #[arg(value_name = "VOLUME")]
    pub name: Option<String>,
}

/// `strata volume ls`.
#[derive(Debug, Args)]
pub struct VolumeLsArgs {
    /// Only display volume names.
    #[arg(short, long)]
    pub quiet: bool,
    /// Provide filter values (dangling=true|false, name=NAME).
    #[arg(short, long = "filter", value_name = "FILTER", value_parser = filter_arg)]
    pub filters: Vec<String>,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
}

/// `strata volume inspect`.
#[derive(Debug, Args)]
pub struct VolumeInspectArgs {
    /// Format output using a custom template.
    #[arg(short, long)]
    pub format: Option<String>,
    /// Volumes.
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `strata volume rm`.
#[derive(Debug, Args)]
pub struct VolumeRmArgs {
    /// Do not fail on volumes that do not exist.
    #[arg(short, long)]
    pub force: bool,
    /// Volumes.
    #[arg(required = true, value_name = "VOLUME")]
    pub names: Vec<String>,
}

/// `strata volume prune`.
#[derive(Debug, Args)]
pub struct VolumePruneArgs {
    /// Remove all unused volumes, not just anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// The hidden `monitor` command.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    /// Take over a container whose attached run exited: restart it per its policy.
    #[arg(long)]
    pub resume: bool,
    /// The monitor of an attached run: its stdin is the client's attach connection.
    #[arg(long)]
    pub attached: bool,
    /// With `--attached`: the client sends stdin, and its end closes the container's
    /// (Docker's `StdinOnce`).
    #[arg(long)]
    pub stdin: bool,
    /// Keep the terminal master on stdin open (draining it) until every process on the
    /// terminal is gone: what a detached `exec -it` leaves behind.
    #[arg(long)]
    pub hold_terminal: bool,
    /// The container to start and wait for.
    pub id: String,
}

/// A `--filter` value: `name=value`, refused otherwise as a flag error (exit 125) in
/// Docker's `opts.FilterOpt` words.
fn filter_arg(s: &str) -> Result<String, String> {
    if s.contains('=') {
        Ok(s.to_string())
    } else {
        Err("bad format of filter (expected name=value)".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_docker_grammar() {
        for (args, ok) in [
            (
                &["strata", "images", "-a", "--filter", "dangling=true"][..],
                true,
            ),
            (&["strata", "image", "ls", "--format", "{{.ID}}"], true),
            (&["strata", "image", "list", "-q"], true),
            (
                &[
                    "strata", "--root", "/tmp/x", "import", "-c", "ENV A=1", "-", "x:y",
                ],
                true,
            ),
            (&["strata", "history", "-H=false", "alpine"], true),
            (&["strata", "rmi"], false),
            (&["strata", "login", "-p", "x", "--password-stdin"], false),
            (&["strata", "image", "prune", "-af"], true),
            (&["strata", "nope"], false),
            (
                &["strata", "run", "--rm", "-i", "img", "sh", "-c", "exit 3"],
                true,
            ),
            (
                &[
                    "strata", "run", "-d", "-p", "8080:80", "-v", "/a:/b:ro", "img",
                ],
                true,
            ),
            (&["strata", "exec", "-it", "c", "ls", "-l"], true),
            (&["strata", "exec", "c"], false),
            (&["strata", "stop", "-t", "0", "c"], true),
            (&["strata", "container", "prune", "-f"], true),
            (
                &["strata", "volume", "create", "--label", "a=b", "v1"],
                true,
            ),
            (&["strata", "commit", "-c", "ENV A=1", "c", "x:y"], true),
        ] {
            assert_eq!(Cli::try_parse_from(args).is_ok(), ok, "{args:?}");
        }
    }

    #[test]
    fn hostname_short_flag_is_h_and_help_is_long_only() {
        for sub in [&["run"][..], &["create"], &["container", "run"]] {
            let mut args = vec!["strata"];
            args.extend_from_slice(sub);
            args.extend(["-h", "web", "img"]);
            let flags = match Cli::try_parse_from(&args).unwrap().command {
                Command::Run(a) => a.flags,
                Command::Create(a) => a.flags,
                Command::Container(ContainerCommand::Run(a)) => a.flags,
                other => panic!("{other:?}"),
            };
            assert_eq!(flags.hostname.as_deref(), Some("web"), "{args:?}");
        }
        let err = Cli::try_parse_from(["strata", "run", "--help"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn flags_after_the_image_belong_to_the_command() {
        let cli = Cli::try_parse_from([
            "strata", "run", "--rm", "-e", "A=1", "img", "sh", "-c", "--rm", "-d",
        ])
        .unwrap();
        let Command::Run(a) = cli.command else {
            panic!("not run")
        };
        assert!(a.flags.rm && !a.detach);
        assert_eq!(a.flags.env, ["A=1"]);
        assert_eq!(a.operands.image(), "img");
        assert_eq!(a.operands.command(), ["sh", "-c", "--rm", "-d"]);
        let cli = Cli::try_parse_from(["strata", "exec", "-u", "app", "c", "ls", "-l"]).unwrap();
        let Command::Exec(a) = cli.command else {
            panic!("not exec")
        };
        assert_eq!(
            (a.container(), a.command()),
            ("c", vec!["ls".to_string(), "-l".into()])
        );
    }

    #[test]
    fn flags_right_after_the_image_or_container_belong_to_the_command() {
        let words = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Run(a) => (a.flags.env, a.operands.words),
            Command::Create(a) => (a.flags.env, a.operands.words),
            Command::Exec(a) => (a.env, a.words),
            other => panic!("{other:?}"),
        };
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            words(&["strata", "run", "img", "-e", "X=1", "-w", "/tmp"]),
            (vec![], own(&["img", "-e", "X=1", "-w", "/tmp"]))
        );
        assert_eq!(
            words(&["strata", "run", "-e", "A=1", "img", "--version"]),
            (own(&["A=1"]), own(&["img", "--version"]))
        );
        assert_eq!(
            words(&["strata", "create", "img", "--rm", "--", "x"]),
            (vec![], own(&["img", "--rm", "--", "x"]))
        );
        assert_eq!(
            words(&["strata", "exec", "c", "-e", "X=1", "env"]),
            (vec![], own(&["c", "-e", "X=1", "env"]))
        );
        // Flags before the image are still strata's, unknown ones still errors.
        assert!(Cli::try_parse_from(["strata", "run", "--bogus", "img"]).is_err());
        assert!(Cli::try_parse_from(["strata", "exec", "-d", "c"]).is_err());
    }
}

/// `strata registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Serve an OCI distribution-spec registry until SIGINT or SIGTERM.
    Serve(Box<crate::commands::registry_serve::RegistryServeArgs>),
    /// Delete blobs and manifests nothing refers to, online (servers keep serving).
    #[command(name = "gc", alias = "garbage-collect")]
    Gc(crate::commands::registry_serve::RegistryGcArgs),
}
