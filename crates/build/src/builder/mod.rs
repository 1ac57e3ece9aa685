//! Executing a plan: stage by stage, step by step, each step looked up in the cache by its
//! key before anything runs; COPY/ADD write their layer directly, RUN goes through the
//! `runtime` crate, config instructions change the config and add a history entry.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Instant;

use dockerfile::shell::Lex;
use dockerfile::{Command, Instruction, ShellOrExec, Stages};
use oci::config::History;
use oci::{Descriptor, Digest, ImageConfig, Manifest, Platform, media};
use store::{Lease, Store};

use crate::cache::{Cache, CacheRecord, write_atomic};
use crate::context::Tree;
use crate::copy::{self, CopyOptions, FileHashes};
use crate::lower::{Lower, Node};
use crate::plan::{self, Base, PlanOptions};
use crate::progress::Event;
use crate::{BuildError, run};

mod config;
mod copy_step;
mod inflight;
mod layers;
mod multi;
mod run_step;
mod schedule;
mod steps;
mod workdir;

pub use multi::{BuiltIndex, PlatformBuild, build_index};
use run_step::Phase;
use schedule::{Msg, schedule};

/// What to build and how.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The context directory, read in place.
    pub context: PathBuf,
    /// The Dockerfile's text.
    pub dockerfile: String,
    /// The Dockerfile's name in messages (`Dockerfile`, `-`).
    pub dockerfile_name: String,
    /// The Dockerfile's path, when it is a file (finds `<name>.dockerignore` next to it).
    pub dockerfile_path: Option<PathBuf>,
    /// `--target`.
    pub target: Option<String>,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// `-t` names, as given (normalised here: `app` → `docker.io/library/app:latest`).
    pub tags: Vec<String>,
    /// `--label K=V`, set on the final image.
    pub labels: BTreeMap<String, String>,
    /// `--no-cache`: run every step.
    pub no_cache: bool,
    /// `SOURCE_DATE_EPOCH`: clamps file times and sets every `created`, so two builds of
    /// the same context give the same digests.
    pub source_date_epoch: Option<i64>,
    /// The OCI runtime for RUN (`runc`, `crun`); `None` detects one.
    pub runtime: Option<String>,
    /// The platform to build for; `None` is the host's.
    pub platform: Option<Platform>,
    /// `--secret id=ID,src=FILE`: secrets RUN may mount (`--mount=type=secret,id=ID`).
    /// They are in no cache key, layer or config.
    pub secrets: Secrets,
    /// The network of RUN steps that do not choose one (`--network`; `Default` is the
    /// host's network, as strata has no other).
    pub network: dockerfile::NetworkMode,
    /// The image is one platform of a multi-platform build: store it without an image
    /// record or tags ([`store::Store::put_image_content`]); the caller stores the index.
    pub index_entry: bool,
}

/// Secret values by id. `Debug` shows the ids only, so a logged request leaks nothing.
#[derive(Clone, Default)]
pub struct Secrets(pub BTreeMap<String, Vec<u8>>);

impl Secrets {
    /// The value of secret `id`.
    pub fn get(&self, id: &str) -> Option<&Vec<u8>> {
        self.0.get(id)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// The image manifest, as stored.
    pub manifest: Descriptor,
    /// The image ID (config digest).
    pub id: Digest,
    /// The full names it was tagged with.
    pub tags: Vec<String>,
    /// Steps executed.
    pub executed: usize,
    /// Steps served from the cache.
    pub cached: usize,
    /// Context files read to hash them (unchanged files are remembered between builds
    /// by path, size, mtime and inode, and not read again).
    pub files_hashed: u64,
}

/// A stage as far as it has been built.
#[derive(Debug, Clone)]
struct StageImage {
    config: ImageConfig,
    layers: Vec<Descriptor>,
    key: Digest,
    /// The ARGs in scope at the end of the stage: a stage built `FROM` it starts with
    /// them, as BuildKit's stages inherit their base stage's build args.
    args: BTreeMap<String, String>,
    /// ARGs given a value after an ENV of the same name: BuildKit adds ARGs to the build
    /// state's environment, so until the next ENV of that name the ARG's value is the one
    /// expansion and RUN see (the image config keeps the ENV's).
    arg_over_env: BTreeSet<String>,
    /// The stage's ARG names in declaration order: RUN's history lists them (`|N k=v`).
    declared: Vec<String>,
}

/// The inputs of a step the last time it was executed, to explain a later miss.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct LastInputs {
    parent: String,
    text: String,
    args: BTreeMap<String, String>,
    files: BTreeMap<String, String>,
}

struct Builder<'a> {
    store: &'a Store,
    req: &'a BuildRequest,
    cache: Cache,
    lex: Lex,
    file: String,
    context: Tree,
    hashes: FileHashes,
    lease: &'a Lease,
    /// Events and finished stages go to the scheduler (the thread that called `build`).
    events: mpsc::Sender<Msg>,
    seq: &'a AtomicUsize,
    executed: usize,
    cached: usize,
    stages: HashMap<usize, StageImage>,
    roots: HashMap<String, PathBuf>,
    tmp: PathBuf,
    global_args: BTreeMap<String, String>,
    platform_args: BTreeMap<String, String>,
    platform: Platform,
    runtime: Option<runtime::OciRuntime>,
    lower_memo: HashMap<Digest, Vec<(String, Node)>>,
    /// Every stage of the Dockerfile, to find `--from` names.
    all: &'a Stages,
    /// The final key of each stage planned so far (by index): what a `COPY --from` or
    /// `RUN --mount=from=` of it is keyed on.
    stage_keys: HashMap<usize, Digest>,
}

/// Builds the image `req` describes into `store`, reporting progress to `events`.
///
/// Nothing is tagged unless every step succeeds. Layers written by steps that succeeded
/// before a failure stay as cache (under a lease while the build runs).
pub fn build(
    store: &Store,
    req: &BuildRequest,
    events: &mut dyn FnMut(&Event),
) -> Result<Built, BuildError> {
    build_held(store, req, events, &store.lease()?)
}

/// [`build`] under the caller's `lease`: the bases, every blob the build writes and the
/// image it makes stay held until the caller drops the lease (after an export, say), so a
/// concurrent `image prune` takes none of them meanwhile.
pub fn build_held(
    store: &Store,
    req: &BuildRequest,
    events: &mut dyn FnMut(&Event),
    lease: &Lease,
) -> Result<Built, BuildError> {
    build_planned(store, req, &Planned::of(req)?, events, lease)
}

/// A Dockerfile parsed, typed and planned for one request, once: what the caller needs
/// before the build (the base images to make sure of) and what the build executes.
pub struct Planned {
    df: dockerfile::Dockerfile,
    stages: dockerfile::Stages,
    plan: plan::Plan,
}

impl Planned {
    /// Parses, types and plans `req`'s Dockerfile.
    pub fn of(req: &BuildRequest) -> Result<Planned, BuildError> {
        let (df, stages, plan) = parse_and_plan(req)?;
        Ok(Planned { df, stages, plan })
    }

    /// The images the planned stages start `FROM`, each with the platform the stage is
    /// for, in order, each pair once (the build reads them from the store: the caller
    /// pulls what is missing).
    pub fn base_images(&self) -> Vec<(String, Platform)> {
        let mut bases: Vec<(String, Platform)> = Vec::new();
        for s in &self.plan.stages {
            if let plan::Base::Image(n) = &s.base
                && !bases.iter().any(|(b, p)| b == n && *p == s.platform)
            {
                bases.push((n.clone(), s.platform.clone()));
            }
        }
        bases
    }
}

impl Planned {
    /// A RUN executes programs of its stage's platform: one this host cannot run (not
    /// native, no QEMU handler) fails here, saying how to enable it, before any step.
    pub fn check_platforms(&self) -> Result<(), BuildError> {
        for ps in &self.plan.stages {
            let runs = self.stages.stages[ps.index]
                .commands
                .iter()
                .any(|c| matches!(c.instruction, Instruction::Run(_)));
            if runs {
                runtime::emulation::check(&ps.platform)?;
            }
        }
        Ok(())
    }
}

/// [`build_held`] of a request already planned (`planned` must be [`Planned::of`] `req`).
pub fn build_planned(
    store: &Store,
    req: &BuildRequest,
    planned: &Planned,
    events: &mut dyn FnMut(&Event),
    lease: &Lease,
) -> Result<Built, BuildError> {
    let Planned { df, stages, plan } = planned;
    let tags = full_tags(&req.tags)?;
    let context = Tree::context(&req.context, req.dockerfile_path.as_deref())?;
    crate::preflight::check_sources(
        &req.dockerfile_name,
        stages,
        plan,
        &req.build_args,
        &Lex::new(df.escape_token),
        &context,
    )?;
    planned.check_platforms()?;
    let cache = Cache::open(store.layout());
    remove_stale_tmp(&store.layout().tmp_dir());
    let tmp = store.layout().tmp_dir().join(format!(
        "build-{}-{}-{}",
        std::process::id(),
        unique(),
        // Two builds of one process (the platforms of a multi-platform build) may
        // start within one clock tick.
        BUILDS.fetch_add(1, Ordering::Relaxed)
    ));
    let (tx, rx) = mpsc::channel();
    let seq = AtomicUsize::new(0);
    let hashes_path = cache.file_hashes_path(context.root());
    let hashes = FileHashes::load(&hashes_path, context.root());
    let mut b = Builder::new(store, req, planned, context, lease, tx, &seq, tmp.clone());
    b.hashes = hashes;
    b.cache = cache;
    // Every step's key, before anything executes.
    let result = match b.plan_stages(stages, plan) {
        Ok(planned) => schedule(&mut b, stages, plan, &planned, &rx, events).and_then(|done| {
            let img = done[&plan.target].clone();
            b.commit(img, &tags)
        }),
        Err(e) => Err(e),
    };
    for m in rx.try_iter() {
        if let Msg::Event(e) = m {
            events(&e);
        }
    }
    // Written (with an fsync) only when a file was read: a cached build learns nothing.
    if b.hashes.reads > 0 {
        let _ = b.hashes.save(&hashes_path, b.context.root());
    }
    remove_tree(&tmp);
    result
}

/// The `-t` names as full references (`app` → `docker.io/library/app:latest`).
pub(crate) fn full_tags(tags: &[String]) -> Result<Vec<String>, BuildError> {
    tags.iter()
        .map(|t| {
            oci::Reference::parse(t)
                .map(|r| r.to_string())
                .map_err(|e| BuildError::Unsupported {
                    instruction: "-t".into(),
                    line: 0,
                    message: format!("invalid tag {t:?}: {e}"),
                })
        })
        .collect()
}

/// Removes what builds killed with SIGKILL left in `store`: their RUN containers (with
/// [`runtime::container::reap`]; `runtime` gives the OCI runtime, asked for only when one
/// is needed), their temporary directories and the ingests they had begun. Cheap when
/// there is nothing to remove; any command that opens the store may call it.
pub fn reap_dead_builds(store: &Store, runtime: &mut dyn FnMut() -> Option<runtime::OciRuntime>) {
    runtime::container::reap(store, runtime);
    remove_stale_tmp(&store.layout().tmp_dir());
    // The store's own reaper: the ingests killed writers (builds among them) left.
    store.discard_dead_oneshot_ingests();
}

fn remove_stale_tmp(dir: &Path) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("build-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            remove_tree(&e.path());
        }
    }
}

/// Builds started by this process, to name their temporary directories apart.
static BUILDS: AtomicUsize = AtomicUsize::new(0);

fn unique() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Removes a temporary tree, making read-only directories writable first (an unpacked
/// stage may hold some).
fn remove_tree(p: &Path) {
    if fs::remove_dir_all(p).is_ok() {
        return;
    }
    fn chmod_all(p: &Path) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = fs::symlink_metadata(p)
            && m.is_dir()
        {
            let _ = fs::set_permissions(p, fs::Permissions::from_mode(0o700));
            if let Ok(rd) = fs::read_dir(p) {
                for e in rd.flatten() {
                    chmod_all(&e.path());
                }
            }
        }
    }
    chmod_all(p);
    let _ = fs::remove_dir_all(p);
}

/// Parses, types and plans `req`'s Dockerfile.
fn parse_and_plan(
    req: &BuildRequest,
) -> Result<(dockerfile::Dockerfile, dockerfile::Stages, plan::Plan), BuildError> {
    let df = dockerfile::parse_named(&req.dockerfile_name, &req.dockerfile)?;
    let stages = dockerfile::instructions(&df)?;
    let popts = PlanOptions {
        target: req.target.clone(),
        build_args: req.build_args.clone(),
        target_platform: req.platform.clone().unwrap_or_else(Platform::host),
        build_platform: Platform::host(),
    };
    let plan = plan::plan(&stages, &req.dockerfile_name, df.escape_token, &popts)?;
    Ok((df, stages, plan))
}

/// RFC 3339 of `epoch`, or of now.
fn timestamp(epoch: Option<i64>) -> String {
    let t = match epoch {
        Some(e) => chrono::DateTime::from_timestamp(e, 0).unwrap_or_default(),
        None => chrono::Utc::now(),
    };
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl<'a> Builder<'a> {
    /// A builder for `planned` (of `req`) reading `context`, before any stage is planned:
    /// an empty table of context digests, events sent to `events`, temporary files below
    /// `tmp`.
    #[allow(clippy::too_many_arguments)]
    fn new(
        store: &'a Store,
        req: &'a BuildRequest,
        planned: &'a Planned,
        context: Tree,
        lease: &'a Lease,
        events: mpsc::Sender<Msg>,
        seq: &'a AtomicUsize,
        tmp: PathBuf,
    ) -> Builder<'a> {
        Builder {
            store,
            req,
            hashes: FileHashes::default(),
            cache: Cache::open(store.layout()),
            lex: Lex::new(planned.df.escape_token),
            file: req.dockerfile_name.clone(),
            context,
            lease,
            events,
            seq,
            executed: 0,
            cached: 0,
            stages: HashMap::new(),
            roots: HashMap::new(),
            tmp,
            global_args: planned.plan.global_args.clone(),
            platform_args: planned.plan.platform_args.clone(),
            platform: req.platform.clone().unwrap_or_else(Platform::host),
            runtime: None,
            lower_memo: HashMap::new(),
            all: &planned.stages,
            stage_keys: HashMap::new(),
        }
    }

    /// The stage's temporary directory, made on first use: a cached build makes none.
    fn ensure_tmp(&self) -> Result<&Path, BuildError> {
        fs::create_dir_all(&self.tmp).map_err(|e| BuildError::io("create", &self.tmp, e))?;
        Ok(&self.tmp)
    }

    fn emit(&mut self, e: Event) {
        let _ = self.events.send(Msg::Event(e));
    }

    fn step_start(&mut self, stage: &str, index: usize, total: usize, text: &str) -> usize {
        let id = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.emit(Event::Step {
            id,
            stage: stage.to_string(),
            index,
            total,
            text: text.to_string(),
        });
        id
    }

    fn at(&self, cmd: &Command, message: impl Into<String>) -> BuildError {
        BuildError::Dockerfile {
            file: self.file.clone(),
            line: cmd.location.start_line,
            message: message.into(),
        }
    }

    /// The platform to pick a base image for: none (any stored image, as before
    /// platforms were chosen) for a build for this host that asked for no platform.
    fn wanted<'p>(&self, platform: &'p Platform) -> Option<&'p Platform> {
        (self.req.platform.is_some() || *platform != Platform::host().normalize())
            .then_some(platform)
    }

    /// [`Builder::load_image_for`] the build's target platform (a `COPY --from=image`).
    fn load_image(&mut self, name: &str) -> Result<StageImage, BuildError> {
        let platform = self.platform.clone();
        self.load_image_for(name, &platform)
    }

    /// Image `name` from the store as a base: for a multi-platform image, its manifest
    /// for `platform`; a single-platform image of another platform is refused.
    fn load_image_for(
        &mut self,
        name: &str,
        platform: &Platform,
    ) -> Result<StageImage, BuildError> {
        let bad = |detail: String| BuildError::BadImage {
            image: name.to_string(),
            detail,
        };
        // Held by the build's lease from here to its end: a concurrent `image prune`
        // leaves the base. `strata build` pulls a missing base before the build starts, so
        // a base missing here was removed since (an explicit `rmi`).
        let info = self
            .lease
            .hold_image_platform(name, self.wanted(platform))
            .map_err(|e| bad(e.to_string()))?;
        let mut config = ImageConfig::from_slice(&self.store.image_config(&info)?)
            .map_err(|e| bad(e.to_string()))?;
        // BuildKit's image carries only the OCI fields and Docker's container config: the
        // base's `comment`, `container`, `container_config` and `docker_version` stay
        // behind (Docker then shows the last step's comment).
        config.extra.clear();
        config.docker_version = None;
        let manifest = Manifest::from_slice(&self.store.manifest_bytes(&info.manifest)?)
            .map_err(|e| bad(e.to_string()))?;
        // One transaction for all of them, not one each.
        let digests: Vec<Digest> = manifest.layers.iter().map(|l| l.digest.clone()).collect();
        self.lease.add_all(&digests)?;
        Ok(StageImage {
            config,
            layers: manifest.layers,
            key: Digest::sha256_of(b""),
            args: BTreeMap::new(),
            arg_over_env: BTreeSet::new(),
            declared: Vec::new(),
        })
    }

    /// The variables visible to expansion: the stage's ARGs, overridden by its ENV unless
    /// the ARG was set after it.
    fn scope(img: &StageImage, args: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let mut m = args.clone();
        for e in Self::run_env(img, args) {
            let (k, v) = e.split_once('=').unwrap_or((&e, ""));
            m.insert(k.to_string(), v.to_string());
        }
        m
    }

    /// The stage's ENV as RUN sees it: an ARG set after an ENV of its name wins.
    fn run_env(img: &StageImage, args: &BTreeMap<String, String>) -> Vec<String> {
        img.config
            .config
            .env
            .iter()
            .map(|e| {
                let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
                match args.get(k).filter(|_| img.arg_over_env.contains(k)) {
                    Some(v) => format!("{k}={v}"),
                    None => e.clone(),
                }
            })
            .collect()
    }

    fn expand(
        &self,
        cmd: &Command,
        word: &str,
        scope: &BTreeMap<String, String>,
        used: &mut BTreeMap<String, String>,
        args: &BTreeMap<String, String>,
    ) -> Result<String, BuildError> {
        self.expand_with(&self.lex, cmd, word, scope, used, args)
    }

    /// [`Self::expand`] with a lexer of the caller's choosing (heredocs keep quotes).
    fn expand_with(
        &self,
        lex: &Lex,
        cmd: &Command,
        word: &str,
        scope: &BTreeMap<String, String>,
        used: &mut BTreeMap<String, String>,
        args: &BTreeMap<String, String>,
    ) -> Result<String, BuildError> {
        let r = lex
            .process_word_with_matches(word, scope)
            .map_err(|e| self.at(cmd, e.to_string()))?;
        for m in r.matched {
            if let Some(v) = args.get(&m) {
                used.insert(m, v.clone());
            }
        }
        Ok(r.result)
    }

    /// The history entry of a step built now. A metadata-only step (`empty`) takes the time
    /// of the entry before it (`previous`), so a rebuild whose layer steps all hit the cache
    /// reproduces the same config, and so the same image ID, as BuildKit does.
    fn history(&self, created_by: String, empty: bool, previous: Option<&History>) -> History {
        // With nothing before it (`FROM scratch`), a metadata step has no time of its own:
        // `created` is optional in the OCI spec, and "now" would change the image every build.
        let created = match (self.req.source_date_epoch, empty) {
            (None, true) => previous.and_then(|h| h.created.clone()),
            (epoch, _) => Some(timestamp(epoch)),
        };
        History {
            created,
            created_by: Some(created_by),
            comment: Some(crate::history::COMMENT.into()),
            empty_layer: empty,
            ..Default::default()
        }
    }

    /// Stores the image of `config` and `layers` (an OCI manifest), tagged `tags` (none:
    /// an untagged image record), under the build's lease.
    /// Stores an image of `config` and `layers`: recorded with `tags`, or with `record`
    /// false only its content (a platform of a multi-platform build).
    fn store_image(
        &self,
        config: &ImageConfig,
        layers: &[Descriptor],
        tags: &[String],
        record: bool,
    ) -> Result<store::StoredImage, BuildError> {
        let config_bytes = config.to_vec();
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(media::OCI_MANIFEST.to_string()),
            artifact_type: None,
            config: Descriptor::of_bytes(media::OCI_CONFIG, &config_bytes),
            layers: layers.to_vec(),
            subject: None,
            annotations: BTreeMap::new(),
        };
        Ok(if !record {
            self.store
                .put_image_content(self.lease, &manifest, &config_bytes)?
        } else {
            self.store
                .put_image(self.lease, &manifest, &config_bytes, tags)?
        })
    }

    fn commit(&mut self, img: StageImage, tags: &[String]) -> Result<Built, BuildError> {
        let mut config = img.config;
        // A platform asked for is the image's, whatever its last stage ran as (BuildKit:
        // a `FROM --platform=$BUILDPLATFORM` last stage still makes a target image); with
        // none asked for the image keeps its base's.
        if self.req.platform.is_some() {
            config.set_platform(&self.platform);
        }
        for (k, v) in &self.req.labels {
            config.config.labels.insert(k.clone(), v.clone());
        }
        // The image is as old as its newest step (cached steps keep their time).
        let newest = config.history.iter().rev().find_map(|h| h.created.clone());
        config.created = match (self.req.source_date_epoch, newest) {
            (None, Some(t)) => Some(t),
            (epoch, _) => Some(timestamp(epoch)),
        };
        let store::StoredImage { manifest: desc, id } =
            self.store_image(&config, &img.layers, tags, !self.req.index_entry)?;
        self.emit(Event::Image {
            id: id.clone(),
            tags: tags.to_vec(),
        });
        Ok(Built {
            manifest: desc,
            id,
            tags: tags.to_vec(),
            executed: self.executed,
            cached: self.cached,
            files_hashed: self.hashes.reads,
        })
    }
}
