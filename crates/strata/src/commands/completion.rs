//! `strata completion bash|zsh|fish|elvish|powershell` and `strata man DIR`: shell
//! completions and man pages, generated from the same clap definitions that parse the
//! command line, so they never disagree with it.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::cli::Cli;

/// `strata completion SHELL`.
#[derive(Debug, clap::Args)]
pub struct CompletionArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `strata man DIR`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// The directory to write the pages into (created if missing).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

/// Writes the completion script for `args.shell` to `out` (source it, or install it where
/// the shell looks: `/usr/share/bash-completion/completions/strata`, …).
pub fn completion(args: CompletionArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "strata", out);
    Ok(())
}

/// Writes `strata.1` and one page per subcommand (`strata-image-ls.1`, …) into `args.dir`,
/// and names each page written on `out`.
pub fn man(args: ManArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.dir)
        .with_context(|| format!("creating {}", args.dir.display()))?;
    let mut cmd = Cli::command();
    cmd.build();
    write_pages(&cmd, "strata", &args.dir, out)
}

/// The page of `cmd` (named `name`), then its subcommands' pages, depth first.
fn write_pages(
    cmd: &clap::Command,
    name: &str,
    dir: &std::path::Path,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    if cmd.is_hide_set() {
        return Ok(());
    }
    let path = dir.join(format!("{name}.1"));
    let mut file =
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    clap_mangen::Man::new(cmd.clone().bin_name(name.replace('-', " ")))
        .title(name.to_string())
        .render(&mut file)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(out, "{}", path.display())?;
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        write_pages(sub, &format!("{name}-{}", sub.get_name()), dir, out)?;
    }
    Ok(())
}
