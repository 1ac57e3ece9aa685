//! One module per command: read flags, call a library, render.

mod copy;
mod history;
mod images;
mod import;
mod inspect;
mod load;
mod login;
mod logout;
mod manifest;
mod prune;
mod pull;
mod push;
mod registry;
mod rmi;
mod save;
mod system_df;
mod tag;
mod util;
mod version;

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context as _;

use crate::cli::{Cli, Command, ImageCommand, ManifestCommand, SystemCommand};
use crate::config::{self, Config};

/// What every command may need: where the store is and what the config says.
pub struct Ctx {
    /// The store directory.
    pub root: PathBuf,
    /// The parsed config file.
    pub config: Config,
}

impl Ctx {
    /// Opens (creating if needed) the store.
    pub fn store(&self) -> anyhow::Result<store::Store> {
        store::Store::open(&self.root)
            .with_context(|| format!("opening the store at {}", self.root.display()))
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let root = match cli.root {
        Some(r) => r,
        None => config::default_root()?,
    };
    let ctx = Ctx {
        root,
        config: Config::load(cli.config.as_deref())?,
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
        Command::Inspect(a) | Command::Image(ImageCommand::Inspect(a)) => inspect::run(ctx, a, out),
        Command::History(a) | Command::Image(ImageCommand::History(a)) => history::run(ctx, a, out),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => tag::run(ctx, a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => rmi::run(ctx, a, out),
        Command::Image(ImageCommand::Prune(a)) => prune::run(ctx, a, out),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => import::run(ctx, a, out),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => save::run(ctx, a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => load::run(ctx, a, out),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => pull::run(ctx, a, out),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => push::run(ctx, a, out),
        Command::Login(a) => login::run(ctx, a, out),
        Command::Logout(a) => logout::run(a, out),
        Command::Manifest(ManifestCommand::Inspect(a)) => manifest::run(ctx, a, out),
        Command::Copy(a) => copy::run(ctx, a, out),
        Command::System(SystemCommand::Df(a)) => system_df::run(ctx, a, out),
        Command::Version(a) => version::run(a, out),
    }
}
