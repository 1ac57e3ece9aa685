//! `strata build`: a Dockerfile and a context directory become an image in the store.
//!
//! Reads the flags, calls [`build::build`], and renders its events BuildKit-style on
//! stderr (`#3 [2/4] COPY . /app`, `#3 CACHED`); the image ID goes to stdout.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::Ctx;

/// `strata build`.
#[derive(Debug, clap::Args)]
pub struct BuildArgs {
    /// Content trust for the base images pulled.
    #[command(flatten)]
    pub trust: crate::cli::TrustFlag,
    /// Name and optionally a tag (`name:tag`); may be given several times.
    #[arg(short = 't', long = "tag", value_name = "NAME[:TAG]")]
    pub tags: Vec<String>,
    /// Name of the Dockerfile (default: `CONTEXT/Dockerfile`); `-` reads it from STDIN.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<String>,
    /// Set a build-time variable (`KEY=VALUE`, or `KEY` to take it from the environment).
    #[arg(long = "build-arg", value_name = "KEY[=VALUE]")]
    pub build_args: Vec<String>,
    /// Set the target build stage to build.
    #[arg(long)]
    pub target: Option<String>,
    /// Do not use cache when building the image.
    #[arg(long)]
    pub no_cache: bool,
    /// Always attempt to pull newer versions of the base images (missing ones are pulled
    /// anyway).
    #[arg(long)]
    pub pull: bool,
    /// Set the networking mode for the RUN instructions during build: `default` (the
    /// host's network here), `host` or `none`.
    #[arg(long, default_value = "default", value_name = "string")]
    pub network: String,
    /// Set metadata for the image (`KEY=VALUE`).
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Set type of progress output.
    #[arg(long, default_value = "auto", value_parser = ["auto", "plain", "tty", "quiet"])]
    pub progress: String,
    /// Suppress the build output and print the image ID on success.
    #[arg(short, long)]
    pub quiet: bool,
    /// Write the image ID to the file.
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Output destination (format: `type=local,dest=path`; also `type=tar|oci|docker`,
    /// `dest=-` for standard output, or a bare directory).
    #[arg(short = 'o', long = "output", value_name = "OUTPUT")]
    pub output: Option<String>,
    /// Set the target platform (`os/arch[/variant]`); several, comma-separated, build one
    /// multi-platform image.
    #[arg(long)]
    pub platform: Option<String>,
    /// Push the result to the registry of each `-t` name (`--output type=registry`).
    #[arg(long)]
    pub push: bool,
    /// Secret to expose to RUN --mount=type=secret (`id=ID,src=FILE` or `id=ID,env=VAR`).
    #[arg(long = "secret", value_name = "id=ID,src=FILE")]
    pub secrets: Vec<String>,
    /// Attach the image's SBOM as an in-toto attestation (BuildKit's `--sbom=true`); `push`
    /// carries it along.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", require_equals = true,
          action = clap::ArgAction::Set, default_value_t = false, value_name = "BOOL")]
    pub sbom: bool,
    /// Attestations to attach (BuildKit's `--attest type=sbom`; only sbom is supported).
    #[arg(long = "attest", value_name = "type=sbom")]
    pub attest: Vec<String>,
    /// The build context: a directory.
    #[arg(value_name = "CONTEXT")]
    pub context: String,
}

fn key_value(s: &str, flag: &str) -> anyhow::Result<(String, String)> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => anyhow::bail!("invalid {flag} {s:?}: expected KEY=VALUE"),
    }
}

/// Renders build events as BuildKit's plain progress does, with the reason of each miss.
struct Plain<W: Write> {
    out: W,
    named: BTreeMap<usize, String>,
}

impl<W: Write> Plain<W> {
    fn event(&mut self, e: &build::Event) {
        use build::Event;
        let _ = match e {
            Event::Step {
                id,
                stage,
                index,
                total,
                text,
            } => {
                let label = super::build_tty::label(stage, *index, *total);
                self.named.insert(*id, text.clone());
                writeln!(self.out, "#{id} [{label}] {text}")
            }
            Event::Cached { id } => writeln!(self.out, "#{id} CACHED"),
            Event::Miss { id, reason } => writeln!(self.out, "#{id} cache miss: {reason}"),
            Event::Output { id, line } => writeln!(self.out, "#{id} {line}"),
            Event::Canceled { id } => writeln!(self.out, "#{id} CANCELED"),
            Event::Done { id, seconds } => writeln!(self.out, "#{id} DONE {seconds:.1}s"),
            Event::Image { id, tags } => {
                let n = self.named.len() + 1;
                let _ = writeln!(self.out, "#{n} writing image {id} done");
                for t in tags {
                    let _ = writeln!(self.out, "#{n} naming to {t} done");
                }
                Ok(())
            }
            _ => Ok(()),
        };
    }
}

/// Builds the image and prints its ID.
pub fn run(ctx: &Ctx, args: BuildArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    if args.context == "-" {
        anyhow::bail!(
            "a context from STDIN is not supported: pass a directory (use `-f -` to read only the Dockerfile from STDIN)"
        );
    }
    let context = PathBuf::from(&args.context);
    if !context.is_dir() {
        anyhow::bail!(
            "unable to prepare context: path {:?} not found or not a directory",
            args.context
        );
    }
    let (dockerfile, dockerfile_name, dockerfile_path) = match args.file.as_deref() {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading the Dockerfile from STDIN")?;
            (text, "-".to_string(), None)
        }
        f => {
            let path = f.map_or_else(|| context.join("Dockerfile"), PathBuf::from);
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("reading the Dockerfile {}", path.display()))?;
            let name = path
                .file_name()
                .map_or("Dockerfile".into(), |n| n.to_string_lossy().into_owned());
            (text, name, Some(path))
        }
    };
    let mut build_args = BTreeMap::new();
    for a in &args.build_args {
        match a.split_once('=') {
            Some((k, v)) => {
                build_args.insert(k.to_string(), v.to_string());
            }
            // Docker: `--build-arg KEY` takes the value from the environment, if set.
            None => {
                if let Ok(v) = std::env::var(a) {
                    build_args.insert(a.clone(), v);
                }
            }
        }
    }
    let labels = args
        .labels
        .iter()
        .map(|l| key_value(l, "--label"))
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    let source_date_epoch = match std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .or_else(|| build_args.get("SOURCE_DATE_EPOCH").cloned())
    {
        Some(s) if !s.is_empty() => Some(
            s.parse::<i64>()
                .with_context(|| format!("SOURCE_DATE_EPOCH={s:?} is not a number of seconds"))?,
        ),
        _ => None,
    };
    let platforms = parse_platforms(args.platform.as_deref())?;
    let mut secrets = build::Secrets::default();
    for spec in &args.secrets {
        let (id, value) = read_secret(spec)?;
        secrets.0.insert(id, value);
    }
    let network = match args.network.as_str() {
        "" | "default" => dockerfile::NetworkMode::Default,
        "host" => dockerfile::NetworkMode::Host,
        "none" => dockerfile::NetworkMode::None,
        other => anyhow::bail!("network mode {other:?} not supported by buildkit"),
    };
    let req = build::BuildRequest {
        context,
        dockerfile,
        dockerfile_name,
        dockerfile_path,
        target: args.target,
        build_args,
        tags: args.tags,
        labels,
        no_cache: args.no_cache,
        source_date_epoch,
        runtime: ctx.runtime.clone(),
        platform: platforms.first().cloned(),
        secrets,
        network,
        index_entry: false,
    };
    let output = match (args.output.as_deref(), args.push) {
        (None, true) => super::build_output::Output::Registry,
        (Some(_), true) => {
            anyhow::bail!("--push is a shorthand for --output type=registry: give one or the other")
        }
        (Some(o), false) => super::build_output::Output::parse(o)?,
        (None, false) => super::build_output::Output::Image,
    };
    let tags_to_push = req.tags.clone();
    let pushes = output == super::build_output::Output::Registry;
    let with_sbom = super::build_sbom::wanted(args.sbom, &args.attest)?;
    if with_sbom && !matches!(output, super::build_output::Output::Image) && !pushes {
        anyhow::bail!(
            "--sbom attaches the SBOM to the image in the store: use it with --output type=image or type=registry"
        );
    }
    if pushes && tags_to_push.is_empty() {
        anyhow::bail!("tag is needed when pushing to registry: give -t NAME");
    }
    let store = ctx.store()?;
    let quiet = args.quiet || args.progress == "quiet";
    // The builder reads bases from the store only: pull what is missing first (as `docker
    // build` does), or every base with `--pull`. Each base is held from here to the end of
    // the build, so a concurrent prune cannot take it in between.
    let hold = store.lease()?;
    let policy = if args.pull {
        super::pulling::PullPolicy::Always
    } else {
        super::pulling::PullPolicy::Missing
    };
    if platforms.len() > 1 {
        let parts = platforms
            .iter()
            .map(|p| {
                let mut r = req.clone();
                r.platform = Some(p.clone());
                r.index_entry = true;
                r.tags.clear();
                let planned = build::Planned::of(&r)?;
                Ok(build::PlatformBuild {
                    platform: p.clone(),
                    req: r,
                    planned,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let mut bases: Vec<(String, oci::Platform)> = Vec::new();
        for part in &parts {
            for b in part.planned.base_images() {
                if !bases.contains(&b) {
                    bases.push(b);
                }
            }
        }
        ensure_bases(ctx, &bases, true, policy, quiet, &hold)?;
        let plain = std::sync::Mutex::new(Multi {
            plain: Plain {
                out: std::io::stderr(),
                named: BTreeMap::new(),
            },
            ids: BTreeMap::new(),
        });
        super::build_cancel::catch_signals()?;
        let built = build::build_index(
            &store,
            &parts,
            &req.tags,
            &|p, e| {
                if !quiet && let Ok(mut m) = plain.lock() {
                    m.event(p, e);
                }
            },
            &hold,
        );
        if let Some(code) = super::build_cancel::exit_code() {
            return Err(super::ExitStatus::error(
                code,
                super::Plain::error("context canceled"),
            ));
        }
        let built = built?;
        if !quiet && let Ok(mut m) = plain.lock() {
            m.plain.event(&build::Event::Image {
                id: built.index.digest.clone(),
                tags: built.tags.clone(),
            });
        }
        if let Some(f) = &args.iidfile {
            write_iidfile(f, &built.index.digest.to_string())?;
        }
        let images: Vec<(oci::Platform, oci::Descriptor)> = built
            .images
            .iter()
            .map(|(p, b)| (p.clone(), b.manifest.clone()))
            .collect();
        output.export_index(
            &store,
            &built.index,
            &images,
            built.tags.first().map(String::as_str),
        )?;
        if with_sbom {
            // The name as the user wrote it, as `strata sbom NAME` names the document.
            let name = tags_to_push
                .first()
                .cloned()
                .unwrap_or_else(|| built.index.digest.to_string());
            super::build_sbom::attach(ctx, &name, &images, quiet)?;
        }
        if pushes {
            push_tags(ctx, &tags_to_push, quiet)?;
        }
        if !output.uses_stdout() {
            writeln!(out, "{}", built.index.digest)?;
        }
        return Ok(());
    }
    // Planned once: the bases come from the plan the build then executes.
    let planned = build::Planned::of(&req)?;
    ensure_bases(
        ctx,
        &planned.base_images(),
        args.platform.is_some(),
        policy,
        quiet,
        &hold,
    )?;
    let mut plain = Plain {
        out: std::io::stderr(),
        named: BTreeMap::new(),
    };
    // BuildKit's live view on a terminal (or when asked for), its plain log otherwise.
    let mut tty = (!quiet
        && (args.progress == "tty"
            || (args.progress == "auto" && std::io::stderr().is_terminal())))
    .then(super::build_tty::Tty::start);
    super::build_cancel::catch_signals()?;
    // The build works under the bases' lease, which also holds what it makes until the
    // export below is done.
    let built = build::build_planned(
        &store,
        &req,
        &planned,
        &mut |e| match &tty {
            Some(view) => view.event(e),
            None if !quiet => plain.event(e),
            None => {}
        },
        &hold,
    );
    if let Some(view) = tty.as_mut() {
        view.finish(built.is_ok());
    }
    // BuildKit's last words on a canceled build; the code is the signal's, as a shell
    // reports a process it ended.
    if let Some(code) = super::build_cancel::exit_code() {
        return Err(super::ExitStatus::error(
            code,
            super::Plain::error("context canceled"),
        ));
    }
    let built = built?;
    if let Some(f) = &args.iidfile {
        write_iidfile(f, &built.id.to_string())?;
    }
    output.export(
        &store,
        &built.manifest,
        built.tags.first().map(String::as_str),
    )?;
    if with_sbom {
        let name = tags_to_push
            .first()
            .cloned()
            .unwrap_or_else(|| built.id.to_string());
        let platform = match &req.platform {
            Some(p) => p.clone(),
            None => super::util::platform_or_host(None)?,
        };
        super::build_sbom::attach(ctx, &name, &[(platform, built.manifest.clone())], quiet)?;
    }
    if pushes {
        push_tags(ctx, &tags_to_push, quiet)?;
    }
    if !output.uses_stdout() {
        writeln!(out, "{}", built.id)?;
    }
    Ok(())
}

/// `--push`: each `-t` name pushed as `strata push` does (a multi-platform image as its
/// index with every platform), its lines on stderr (stdout carries the image ID).
fn push_tags(ctx: &Ctx, tags: &[String], quiet: bool) -> anyhow::Result<()> {
    for tag in tags {
        let args = crate::cli::PushArgs {
            all_tags: false,
            compression: None,
            platform: None,
            quiet,
            tls_verify: true,
            trust: Default::default(),
            require_signed: false,
            name: tag.clone(),
        };
        super::push::run(ctx, args, &mut std::io::stderr())
            .with_context(|| format!("pushing {tag}"))?;
    }
    Ok(())
}

/// `--platform a,b,…`: each platform once, normalised, in the order given (none: the
/// host's, decided by the build).
fn parse_platforms(spec: Option<&str>) -> anyhow::Result<Vec<oci::Platform>> {
    let mut out: Vec<oci::Platform> = Vec::new();
    for p in spec.unwrap_or_default().split(',').map(str::trim) {
        if p.is_empty() {
            continue;
        }
        let parsed = p
            .parse::<oci::Platform>()
            .with_context(|| format!("invalid --platform {p:?}"))?
            .normalize();
        if !out.iter().any(|o| o.matches(&parsed)) {
            out.push(parsed);
        }
    }
    Ok(out)
}

/// Makes sure every base image is in the store for its stages' platforms, pulling what is
/// missing (every base with `--pull`), as `docker build` does: one pull per image, for all
/// the platforms it is needed for, so a multi-platform base is kept as one index with
/// those platforms. Each base is held by `hold` to the end of the build, so a concurrent
/// prune cannot take it in between. A platform is asked for only when the build chose one
/// (`explicit`) or a stage is for another platform than the host's.
fn ensure_bases(
    ctx: &Ctx,
    bases: &[(String, oci::Platform)],
    explicit: bool,
    policy: super::pulling::PullPolicy,
    quiet: bool,
    hold: &store::Lease,
) -> anyhow::Result<()> {
    let host = oci::Platform::host().normalize();
    let mut names: Vec<&String> = Vec::new();
    for (name, _) in bases {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    for name in names {
        let platforms: Vec<&oci::Platform> = bases
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, p)| p)
            .collect();
        let wanted = explicit || platforms.iter().any(|p| **p != host);
        let list: Vec<String> = platforms.iter().map(|p| p.to_string()).collect();
        let opts = super::pulling::EnsureOptions {
            platform: wanted.then(|| list.join(",")),
            quiet,
            announce_missing: false,
        };
        super::pulling::ensure_image(ctx, name, policy, &opts, hold, &mut std::io::stderr())
            .with_context(|| format!("pulling the base image {name}"))?;
    }
    Ok(())
}

/// The events of a multi-platform build's parallel builds on one BuildKit-style stream:
/// each build's step numbers mapped to one sequence, each stage labelled with its
/// platform (`#7 [linux/arm64 2/3] RUN …`).
struct Multi<W: Write> {
    plain: Plain<W>,
    /// (platform, step number in its build) → step number on the stream.
    ids: BTreeMap<(String, usize), usize>,
}

impl<W: Write> Multi<W> {
    fn event(&mut self, platform: &oci::Platform, e: &build::Event) {
        use build::Event;
        let p = platform.to_string();
        let mut map = |id: &usize| -> usize {
            let next = self.ids.len() + 1;
            *self.ids.entry((p.clone(), *id)).or_insert(next)
        };
        let e = match e {
            Event::Step {
                id,
                stage,
                index,
                total,
                text,
            } => Event::Step {
                id: map(id),
                stage: if stage.starts_with("stage-") {
                    p.clone()
                } else {
                    format!("{p} {stage}")
                },
                index: *index,
                total: *total,
                text: text.clone(),
            },
            Event::Cached { id } => Event::Cached { id: map(id) },
            Event::Miss { id, reason } => Event::Miss {
                id: map(id),
                reason: reason.clone(),
            },
            Event::Output { id, line } => Event::Output {
                id: map(id),
                line: line.clone(),
            },
            Event::Canceled { id } => Event::Canceled { id: map(id) },
            Event::Done { id, seconds } => Event::Done {
                id: map(id),
                seconds: *seconds,
            },
            // Each platform's image is part of the index, which is named at the end.
            Event::Image { .. } => return,
            other => other.clone(),
        };
        self.plain.event(&e);
    }
}

/// Reads `--secret id=ID,src=FILE` (also `source=`, or `env=VAR`; `type=file|env`).
fn read_secret(spec: &str) -> anyhow::Result<(String, Vec<u8>)> {
    let (mut id, mut src, mut env) = (None, None, None);
    for part in spec.split(',') {
        match part.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(v.to_string()),
            Some(("env", v)) => env = Some(v.to_string()),
            Some(("type", "file" | "env")) => {}
            _ => {
                anyhow::bail!("invalid --secret {spec:?}: expected id=ID,src=FILE or id=ID,env=VAR")
            }
        }
    }
    let id = id
        .or_else(|| env.clone())
        .ok_or_else(|| anyhow::anyhow!("invalid --secret {spec:?}: id= is missing"))?;
    let value = match (src, env) {
        (Some(f), _) => {
            std::fs::read(&f).with_context(|| format!("reading secret {id:?} from {f}"))?
        }
        (None, Some(v)) => std::env::var(&v)
            .with_context(|| format!("secret {id:?}: environment variable {v} is not set"))?
            .into_bytes(),
        (None, None) => anyhow::bail!("invalid --secret {spec:?}: give src=FILE or env=VAR"),
    };
    Ok((id, value))
}

fn write_iidfile(path: &Path, id: &str) -> anyhow::Result<()> {
    std::fs::write(path, id).with_context(|| format!("writing the image ID to {}", path.display()))
}
