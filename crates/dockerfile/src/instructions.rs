//! Typed instructions: one struct per instruction, grouped into stages at each FROM.
//! Values are kept as written; variable expansion happens when the build evaluates them,
//! with the ARG/ENV in scope. [`crate::instructions`] builds them from the syntax tree.

use std::time::Duration;

use crate::mount::Mount;

/// Where an instruction is in the source.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Location {
    /// First line (1-based).
    pub start_line: usize,
    /// Last line, heredoc bodies included.
    pub end_line: usize,
    /// Column of the keyword (1-based).
    pub column: usize,
}

/// A command line in shell form (run by the stage's SHELL) or exec form (a JSON array).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// `RUN echo hi` — one string for the shell.
    Shell(String),
    /// `RUN ["echo", "hi"]` — the argv itself.
    Exec(Vec<String>),
}

/// A heredoc body attached to RUN, COPY or ADD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InlineFile {
    /// The heredoc name (`EOF`); for COPY/ADD also the file name.
    pub name: String,
    /// The body; for COPY/ADD already chomped when `<<-` was used.
    pub data: String,
    /// `<<-`: strip leading tabs (already applied for COPY/ADD).
    pub chomp: bool,
    /// Whether variables in `data` are to be expanded (the name was not quoted).
    pub expand: bool,
}

/// `FROM [--platform=p] image [AS name]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct From {
    /// The base: an image reference, `scratch`, or an earlier stage's name.
    pub image: String,
    /// `--platform`, unexpanded.
    pub platform: Option<String>,
    /// The stage name after `AS`, lower-cased.
    pub name: Option<String>,
}

/// RUN's `--network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NetworkMode {
    /// The builder's default network.
    #[default]
    Default,
    /// No network at all.
    None,
    /// The host's network namespace.
    Host,
}

/// `RUN [--mount=...] [--network=...] [--security=...] command`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    /// The command.
    pub command: ShellOrExec,
    /// Heredoc bodies; with `RUN <<EOF` the first is the script.
    pub heredocs: Vec<InlineFile>,
    /// `--mount` options, parsed.
    pub mounts: Vec<Mount>,
    /// `--network`, when given.
    pub network: Option<NetworkMode>,
    /// `--security` (`sandbox` or `insecure`), when given.
    pub security: Option<String>,
}

/// COPY: sources, destination and options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copy {
    /// Source paths or globs (heredoc sources are in `heredocs`).
    pub sources: Vec<String>,
    /// The destination path.
    pub dest: String,
    /// Heredoc sources, each written as a file named after it.
    pub heredocs: Vec<InlineFile>,
    /// `--from`: a stage name, index or image.
    pub from: Option<String>,
    /// `--chown=user:group`.
    pub chown: Option<String>,
    /// `--chmod=mode`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--parents`.
    pub parents: bool,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
}

/// ADD: like COPY, plus URLs, git and local tar extraction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Add {
    /// Source paths, globs or URLs.
    pub sources: Vec<String>,
    /// The destination path.
    pub dest: String,
    /// Heredoc sources.
    pub heredocs: Vec<InlineFile>,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// `--checksum` of a remote source.
    pub checksum: Option<String>,
    /// `--keep-git-dir`, when given.
    pub keep_git_dir: Option<bool>,
    /// `--unpack`, when given (default: local tar archives are extracted).
    pub unpack: Option<bool>,
}

/// One `key=value` (or legacy `key value`) pair of ENV or LABEL, unexpanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The key as written.
    pub key: String,
    /// The value as written (quotes still in place).
    pub value: String,
    /// Written in the legacy `KEY value` form.
    pub legacy: bool,
}

/// One ARG definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgDef {
    /// The name.
    pub key: String,
    /// The default, when given (`ARG A=1`), unexpanded.
    pub value: Option<String>,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", argv...]` or `["CMD-SHELL", command]`, as in the image config.
    pub test: Vec<String>,
    /// `--interval`.
    pub interval: Option<Duration>,
    /// `--timeout`.
    pub timeout: Option<Duration>,
    /// `--start-period`.
    pub start_period: Option<Duration>,
    /// `--start-interval`.
    pub start_interval: Option<Duration>,
    /// `--retries`.
    pub retries: Option<u32>,
}

/// ONBUILD: a trigger stored in the image and run when it is used as a base.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Onbuild {
    /// The trigger's source text (heredoc bodies appended), as stored in the config.
    pub expression: String,
    /// The trigger, typed.
    pub trigger: Box<Instruction>,
}

/// One typed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Instruction {
    /// FROM (only inside ONBUILD checks; stages hold their FROM in [`Stage::from`]).
    From(From),
    /// RUN.
    Run(Run),
    /// COPY.
    Copy(Copy),
    /// ADD.
    Add(Add),
    /// ENV pairs.
    Env(Vec<KeyValue>),
    /// ARG definitions.
    Arg(Vec<ArgDef>),
    /// WORKDIR path.
    Workdir(String),
    /// USER `user[:group]`.
    User(String),
    /// EXPOSE ports, sorted as BuildKit sorts them.
    Expose(Vec<String>),
    /// VOLUME paths.
    Volume(Vec<String>),
    /// LABEL pairs.
    Label(Vec<KeyValue>),
    /// CMD.
    Cmd(ShellOrExec),
    /// ENTRYPOINT.
    Entrypoint(ShellOrExec),
    /// SHELL argv.
    Shell(Vec<String>),
    /// STOPSIGNAL.
    StopSignal(String),
    /// HEALTHCHECK.
    Healthcheck(Healthcheck),
    /// ONBUILD.
    Onbuild(Onbuild),
    /// MAINTAINER (deprecated; becomes a label).
    Maintainer(String),
}

impl Instruction {
    /// The upper-case keyword (`RUN`, `COPY`, …).
    pub fn keyword(&self) -> &'static str {
        match self {
            Instruction::From(_) => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Copy(_) => "COPY",
            Instruction::Add(_) => "ADD",
            Instruction::Env(_) => "ENV",
            Instruction::Arg(_) => "ARG",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::User(_) => "USER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Volume(_) => "VOLUME",
            Instruction::Label(_) => "LABEL",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Shell(_) => "SHELL",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::Maintainer(_) => "MAINTAINER",
        }
    }
}

/// An instruction with where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Source position.
    pub location: Location,
    /// The logical source line.
    pub original: String,
    /// The typed instruction.
    pub instruction: Instruction,
}

/// A build stage: a FROM and the commands up to the next FROM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stage {
    /// The stage name (`AS name`, lower-cased).
    pub name: Option<String>,
    /// Its FROM.
    pub from: From,
    /// Where its FROM is.
    pub location: Location,
    /// The commands after FROM.
    pub commands: Vec<Command>,
}

/// The typed Dockerfile: ARGs before the first FROM, and the stages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stages {
    /// ARGs before the first FROM (usable in FROM lines).
    pub global_args: Vec<Command>,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

impl Stages {
    /// The index of the stage called `name` (case-insensitive), or given by its number.
    pub fn find(&self, name: &str) -> Option<usize> {
        let lower = name.to_ascii_lowercase();
        self.stages
            .iter()
            .position(|s| s.name.as_deref() == Some(lower.as_str()))
            .or_else(|| {
                name.parse::<usize>()
                    .ok()
                    .filter(|i| *i < self.stages.len())
            })
    }
}
