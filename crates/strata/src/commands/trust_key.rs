//! `strata trust key generate [--output-key-prefix P]`: a cosign key pair, `P.key`
//! (encrypted with a password from `COSIGN_PASSWORD` or the terminal) and `P.pub`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::{Args, Subcommand};

/// `strata trust ...`.
#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Manage signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
}

/// `strata trust key ...`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair for signing images (cosign's key files).
    Generate(GenerateArgs),
}

/// `strata trust key generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Write PREFIX.key and PREFIX.pub.
    #[arg(long, value_name = "PREFIX", default_value = "cosign")]
    pub output_key_prefix: PathBuf,
    /// Overwrite existing key files without asking.
    #[arg(short, long)]
    pub yes: bool,
}

/// The environment variable cosign reads the key password from.
pub const PASSWORD_ENV: &str = "COSIGN_PASSWORD";

/// Dispatches `strata trust`.
pub fn dispatch(command: TrustCommand) -> anyhow::Result<()> {
    match command {
        TrustCommand::Key(KeyCommand::Generate(a)) => generate(a),
    }
}

fn generate(args: GenerateArgs) -> anyhow::Result<()> {
    let key_path = with_suffix(&args.output_key_prefix, "key");
    let pub_path = with_suffix(&args.output_key_prefix, "pub");
    if key_path.exists() && !args.yes {
        // cosign's words: a warning, then its confirmation prompt.
        eprintln!(
            "WARNING: File {} already exists. Overwrite?",
            key_path.display()
        );
        confirm()?;
    }
    let password = new_password()?;
    let (_, pair) = trust::KeyPair::generate(password.as_bytes())?;
    write_file(&key_path, &pair.private_pem, 0o600)?;
    eprintln!("Private key written to {}", key_path.display());
    write_file(&pub_path, &pair.public_pem, 0o644)?;
    eprintln!("Public key written to {}", pub_path.display());
    Ok(())
}

/// `P` + `.ext`, keeping dots already in `P` (`keys/v1.2` → `keys/v1.2.key`).
fn with_suffix(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

/// cosign's `ConfirmContinue`: anything but `y` declines.
fn confirm() -> anyhow::Result<()> {
    eprint!("Are you sure you want to continue? (y/[N]): ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    if line.trim().eq_ignore_ascii_case("y") {
        return Ok(());
    }
    bail!("user declined the prompt")
}

/// Asks for a password without echo; without a terminal, says how to give one instead.
fn ask(question: &str) -> anyhow::Result<String> {
    use std::io::IsTerminal as _;
    if !std::io::stdin().is_terminal() {
        bail!("cannot prompt for the key password: stdin is not a terminal (set {PASSWORD_ENV})");
    }
    super::login::prompt(&mut std::io::stderr(), question, false)
}

/// The password for a new key: `COSIGN_PASSWORD` (empty allowed, as cosign), else asked
/// twice on the terminal.
fn new_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    let first = ask("Enter password for private key: ")?;
    let again = ask("Enter password for private key again: ")?;
    if first != again {
        bail!("passwords do not match");
    }
    Ok(first)
}

/// The password to open an existing key: `COSIGN_PASSWORD`, else asked on the terminal.
pub fn existing_password() -> anyhow::Result<String> {
    if let Ok(p) = std::env::var(PASSWORD_ENV) {
        return Ok(p);
    }
    ask("Enter password for private key: ")
}

/// Writes a key file with `mode` through a temp file and rename, so a failed write leaves
/// no half key.
fn write_file(path: &Path, text: &str, mode: u32) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating {}", path.display()))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
