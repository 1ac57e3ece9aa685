//! The command line, in Docker's grammar.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// A daemonless container-image engine.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// The store directory.
    #[arg(long, env = "STRATA_ROOT", value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// The configuration file (default ~/.config/strata/config.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace.
    #[arg(short = 'l', long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Debug logging (same as --log-level debug).
    #[arg(short = 'D', long)]
    pub debug: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
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
    /// Copy an image between transports (docker://, oci:, oci-archive:, docker-archive:, store).
    Copy(CopyArgs),
    /// Manage strata.
    #[command(subcommand)]
    System(SystemCommand),
    /// Show the strata version information.
    Version(VersionArgs),
}

/// `strata image ...`.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
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

/// `strata manifest ...`.
#[derive(Debug, Subcommand)]
pub enum ManifestCommand {
    /// Display an image manifest, or manifest list.
    Inspect(ManifestInspectArgs),
}

/// `strata system ...`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage.
    Df(DfArgs),
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

/// `strata pull`.
#[derive(Debug, Args)]
pub struct PullArgs {
    /// Download all tagged images in the repository.
    #[arg(short = 'a', long)]
    pub all_tags: bool,
    /// Set platform if server is multi-platform capable.
    #[arg(long)]
    pub platform: Option<String>,
    /// Suppress verbose output.
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify TLS certificates (false also allows plain HTTP).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tls_verify: bool,
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
    /// Compression of layers that are not compressed yet (gzip or zstd).
    #[arg(long, value_name = "gzip|zstd")]
    pub compression: Option<String>,
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
    #[arg(short, long = "filter", value_name = "FILTER")]
    pub filters: Vec<String>,
    /// Format output using a custom template ('table', 'table TEMPLATE', 'json', 'TEMPLATE').
    #[arg(long)]
    pub format: Option<String>,
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
}

/// `strata save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
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
    /// The image (a manifest list or a manifest).
    #[arg(value_name = "MANIFEST_LIST|MANIFEST")]
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
        ] {
            assert_eq!(Cli::try_parse_from(args).is_ok(), ok, "{args:?}");
        }
    }
}
