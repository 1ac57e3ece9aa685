//! Steps that add a layer (COPY, ADD, RUN, WORKDIR): planned with their key, then looked
//! up in the cache and, on a miss, executed — COPY/ADD written straight into a layer
//! without a container.

use super::steps::{LayerStep, Lookup, Step, What};
use super::*;

impl<'a> Builder<'a> {
    /// Plans COPY, ADD, RUN and a WORKDIR that creates its directory: expands the
    /// instruction in the stage's state `img` and derives its key from the parent key,
    /// the text, the ARGs it uses and its content. Nothing is executed.
    pub(super) fn plan_layer(
        &mut self,
        img: &mut StageImage,
        args: &BTreeMap<String, String>,
        cmd: &Command,
        index: usize,
    ) -> Result<Step, BuildError> {
        let scope = Self::scope(img, args);
        let mut used = BTreeMap::new();
        let prepared = match &cmd.instruction {
            Instruction::Run(r) => {
                // Every ARG in scope is the RUN's environment, so all of them count.
                used = args.clone();
                // Which ARGs beat an ENV of their name changes the command's environment.
                let env = &img.config.config.env;
                for k in &img.arg_over_env {
                    if env.iter().any(|e| e.split('=').next() == Some(k.as_str())) {
                        used.insert(format!("{k} (over ENV)"), String::new());
                    }
                }
                let argv = run::argv(img.config.config.shell.as_deref(), r);
                let (_, described, content) =
                    self.prepare_mounts(cmd, r, &scope, &mut used, args, Phase::Plan)?;
                let text = format!("RUN {argv:?} network={:?} mounts={described:?}", r.network);
                Prepared::Run(r.clone(), argv, text, content)
            }
            Instruction::Copy(c) => {
                let from = match &c.from {
                    Some(f) => Some(self.expand(cmd, f, &scope, &mut used, args)?),
                    None => None,
                };
                let spec = CopySpec {
                    keyword: "COPY",
                    sources: &c.sources,
                    dest: &c.dest,
                    heredocs: &c.heredocs,
                    from,
                    chown: &c.chown,
                    chmod: &c.chmod,
                    unpack: false,
                    parents: c.parents,
                    exclude: &c.exclude,
                };
                self.prepare_copy(img, cmd, &scope, &mut used, args, spec)?
            }
            Instruction::Add(a) => {
                let spec = CopySpec {
                    keyword: "ADD",
                    sources: &a.sources,
                    dest: &a.dest,
                    heredocs: &a.heredocs,
                    from: None,
                    chown: &a.chown,
                    chmod: &a.chmod,
                    unpack: a.unpack != Some(false),
                    parents: false,
                    exclude: &a.exclude,
                };
                self.prepare_copy(img, cmd, &scope, &mut used, args, spec)?
            }
            Instruction::Workdir(_) => self.prepare_workdir(img, cmd),
            _ => return Err(self.at(cmd, "not a layer step")),
        };
        let created_by = self.created_by(img, cmd, &scope, &prepared);
        let (text, content, files) = match &prepared {
            Prepared::Run(_, _, text, content) => (text.clone(), content.clone(), BTreeMap::new()),
            Prepared::Copy {
                text,
                digest,
                files,
                ..
            } => (text.clone(), vec![digest.clone()], files.clone()),
            Prepared::Workdir { text, .. } => (text.clone(), Vec::new(), BTreeMap::new()),
        };
        let key = plan::step_key(&img.key, &text, &used, &content);
        let inputs = LastInputs {
            parent: img.key.to_string(),
            text,
            args: used,
            files,
        };
        img.key = key.clone();
        Ok(Step {
            cmd: cmd.clone(),
            index,
            key,
            lookup: if self.req.no_cache {
                Lookup::Never("--no-cache")
            } else {
                Lookup::ByKey
            },
            config: img.config.config.clone(),
            author: img.config.author.clone(),
            what: What::Layer(Box::new(LayerStep {
                prepared,
                created_by,
                inputs,
                args: args.clone(),
                arg_over_env: img.arg_over_env.clone(),
            })),
        })
    }

    /// Executes a planned layer step on the stage's image `img` (whose config is the one
    /// the plan had before the step): `hit`, the cache record of its key, or on a miss (or
    /// when the plan says it is never cached) the step run and recorded.
    pub(super) fn exec_layer(
        &mut self,
        img: &mut StageImage,
        step: &Step,
        ls: &LayerStep,
        hit: Option<CacheRecord>,
        label: &str,
        total: usize,
    ) -> Result<(), BuildError> {
        let cmd = &step.cmd;
        let id = self.step_start(label, step.index, total, &cmd.original);
        let started = Instant::now();
        let key = &step.key;
        let cached = hit.is_some();
        let record = match hit {
            Some(rec) => {
                self.emit(Event::Cached { id });
                self.cached += 1;
                rec
            }
            None => {
                let inputs_path = self.store.layout().build_cache_step_inputs(
                    Digest::sha256_of(
                        format!(
                            "{}\0{}\0{label}\0{}",
                            self.context.root().display(),
                            self.file,
                            cmd.location.start_line
                        )
                        .as_bytes(),
                    )
                    .hex(),
                );
                let reason = match step.lookup {
                    Lookup::Never(why) => why.to_string(),
                    Lookup::ByKey => miss_reason(&inputs_path, &ls.inputs),
                };
                self.emit(Event::Miss { id, reason });
                let (layer, diff_id) = match &ls.prepared {
                    Prepared::Copy {
                        source,
                        chown_names,
                        ..
                    } => {
                        let source = self.resolve_dest(img, cmd, source)?;
                        let mut entries = self.copy_entries(cmd, &source)?;
                        if let Some(names) = chown_names {
                            let (uid, gid) = self.resolve_chown(img, names)?;
                            for e in &mut entries {
                                e.uid = uid;
                                e.gid = gid;
                            }
                        }
                        let lower = Lower::of(self.store, &img.layers, &mut self.lower_memo)?;
                        // Every entry carries the --chown owner (root without one).
                        let owner = entries.first().map_or((0, 0), |e| (e.uid, e.gid));
                        let entries =
                            lower.complete(entries, self.req.source_date_epoch.unwrap_or(0), owner);
                        self.write_layer(|w| {
                            copy::write_tar(&entries, w, self.req.source_date_epoch)
                        })?
                    }
                    Prepared::Workdir {
                        path, user, line, ..
                    } => self.workdir_layer(img, path, user.as_deref(), *line)?,
                    Prepared::Run(r, argv, ..) => {
                        // RUN sees the stage's ARGs as the plan had them at this step.
                        img.arg_over_env = ls.arg_over_env.clone();
                        let scope = Self::scope(img, &ls.args);
                        let (mounts, ..) = self.prepare_mounts(
                            cmd,
                            r,
                            &scope,
                            &mut BTreeMap::new(),
                            &ls.args,
                            Phase::Exec,
                        )?;
                        self.run_step(img, &ls.args, cmd, id, r, argv.clone(), mounts)?
                    }
                };
                self.executed += 1;
                // COPY, ADD and RUN change no config; the record keeps it for the chain.
                let rec = CacheRecord {
                    layer: Some(layer),
                    diff_id: Some(diff_id),
                    history: self.history(ls.created_by.clone(), false, None),
                    config: step.config.clone(),
                };
                self.cache.put(self.store, key, &rec)?;
                let _ = write_atomic(
                    &inputs_path,
                    &serde_json::to_vec(&ls.inputs).unwrap_or_default(),
                );
                rec
            }
        };
        // The layer is held already: a hit's by the lookup, a new one's by its writer.
        if let (Some(layer), Some(diff_id)) = (&record.layer, &record.diff_id) {
            img.layers.push(layer.clone());
            img.config.rootfs.diff_ids.push(diff_id.clone());
        }
        // A record cached by an older strata may carry another text: the history is
        // always BuildKit's.
        let mut history = record.history;
        history.created_by = Some(ls.created_by.clone());
        history.comment = Some(crate::history::COMMENT.into());
        img.config.history.push(history);
        if !cached {
            self.emit(Event::Done {
                id,
                seconds: started.elapsed().as_secs_f64(),
            });
        }
        Ok(())
    }

    /// The history text BuildKit writes for a layer step.
    fn created_by(
        &self,
        img: &StageImage,
        cmd: &Command,
        scope: &BTreeMap<String, String>,
        prepared: &Prepared,
    ) -> String {
        let expand = |w: &String| {
            self.lex
                .process_word(w, scope)
                .unwrap_or_else(|_| w.clone())
        };
        match (&cmd.instruction, prepared) {
            (_, Prepared::Run(_, argv, ..)) => {
                // Every declared ARG with the value RUN sees (an unset one is empty).
                let build_args: Vec<(String, String)> = img
                    .declared
                    .iter()
                    .map(|k| (k.clone(), scope.get(k).cloned().unwrap_or_default()))
                    .collect();
                crate::history::run(&build_args, argv)
            }
            (_, Prepared::Workdir { path, .. }) => format!("WORKDIR {path}"),
            (Instruction::Copy(c), _) => {
                let sources: Vec<String> = c.sources.iter().map(expand).collect();
                crate::history::copy("COPY", &sources, &expand(&c.dest))
            }
            (Instruction::Add(a), _) => {
                let sources: Vec<String> = a.sources.iter().map(expand).collect();
                crate::history::copy("ADD", &sources, &expand(&a.dest))
            }
            _ => cmd.original.clone(),
        }
    }

    pub(super) fn prepare_copy(
        &mut self,
        img: &StageImage,
        cmd: &Command,
        scope: &BTreeMap<String, String>,
        used: &mut BTreeMap<String, String>,
        args: &BTreeMap<String, String>,
        spec: CopySpec<'_>,
    ) -> Result<Prepared, BuildError> {
        let CopySpec {
            keyword,
            sources,
            dest,
            heredocs,
            from,
            chown,
            chmod,
            unpack,
            parents,
            exclude,
        } = spec;
        let mut srcs = Vec::new();
        for s in sources {
            if s.contains("://") {
                return Err(BuildError::Unsupported {
                    instruction: keyword.into(),
                    line: cmd.location.start_line,
                    message: format!(
                        "remote source {s} is not supported yet; download it into the context"
                    ),
                });
            }
            srcs.push(self.expand(cmd, s, scope, used, args)?);
        }
        let mut dest = self.expand(cmd, dest, scope, used, args)?;
        if !dest.starts_with('/') {
            let wd = img.config.config.working_dir.clone().unwrap_or_default();
            let keep_slash = dest.ends_with('/') || dest == "." || dest.is_empty();
            dest = format!("{wd}/{dest}");
            if keep_slash && !dest.ends_with('/') {
                dest.push('/');
            }
        }
        let mut inline = Vec::new();
        // A heredoc body is expanded keeping its quotes and escapes, as BuildKit does.
        let mut raw = self.lex.clone();
        raw.raw_quotes = true;
        raw.raw_escapes = true;
        for h in heredocs {
            let data = if h.expand {
                self.expand_with(&raw, cmd, &h.data, scope, used, args)?
            } else {
                h.data.clone()
            };
            inline.push((h.name.clone(), data.into_bytes()));
        }
        let mut opts = CopyOptions {
            unpack,
            parents,
            epoch: self.req.source_date_epoch,
            ..Default::default()
        };
        let bad = |m: String| BuildError::Unsupported {
            instruction: keyword.into(),
            line: cmd.location.start_line,
            message: m,
        };
        // Names are looked up in the stage's /etc/passwd and /etc/group only when the step
        // runs; the key holds the names, whose meaning the parent key fixes.
        let mut chown_names = None;
        if let Some(c) = chown {
            let c = self.expand(cmd, c, scope, used, args)?;
            match copy::parse_chown(&c) {
                Ok(ids) => opts.chown = Some(ids),
                Err(_) => chown_names = Some(c),
            }
        }
        if let Some(m) = chmod {
            let m = self.expand(cmd, m, scope, used, args)?;
            opts.chmod = Some(copy::parse_chmod(&m).map_err(bad)?);
        }
        let mut excludes = Vec::new();
        for e in exclude {
            excludes.push(self.expand(cmd, e, scope, used, args)?);
        }
        let source = CopySource {
            from: from.clone(),
            srcs: srcs.clone(),
            inline,
            dest: dest.clone(),
            opts: opts.clone(),
            excludes: excludes.clone(),
        };
        // From the context, the key holds the content of what is copied, from the
        // context's metadata cache. The destination is as written (below WORKDIR): where
        // it lands in the layers below is fixed by the parent key, and resolved only when
        // the step runs. From a stage, the key holds the stage's own key; from an image, its
        // ID: a cached step never unpacks nor re-hashes its source.
        let (digest, files) = match &from {
            None => {
                let tree = self.context.excluding(&source.excludes)?;
                let mut key_opts = source.opts.clone();
                // A destination ending in `/` is a directory; otherwise, as if nothing
                // were there (a directory the layers below hold changes no content).
                key_opts.existing = if dest.ends_with('/') {
                    copy::Existing::Dir
                } else {
                    copy::Existing::Nothing
                };
                let entries = copy::entries(&tree, &srcs, &source.inline, &dest, &key_opts)
                    .or_else(|_| {
                        key_opts.existing = copy::Existing::Dir;
                        copy::entries(&tree, &srcs, &source.inline, &dest, &key_opts)
                    })?;
                copy::content_digest(&entries, &mut self.hashes)?
            }
            Some(f) => {
                let digest = self.source_identity(f, &source.inline)?;
                let files = BTreeMap::from([(format!("{FROM_MARK}{f}"), digest.to_string())]);
                (digest, files)
            }
        };
        let mut text = keyword.to_string();
        if let Some(f) = &from {
            text.push_str(&format!(" --from={f}"));
        }
        if let Some(c) = opts.chown {
            text.push_str(&format!(" --chown={}:{}", c.0, c.1));
        }
        if let Some(c) = &chown_names {
            text.push_str(&format!(" --chown={c}"));
        }
        if let Some(m) = opts.chmod {
            text.push_str(&format!(" --chmod={m:o}"));
        }
        if parents {
            text.push_str(" --parents");
        }
        for e in &excludes {
            text.push_str(&format!(" --exclude={e}"));
        }
        text.push_str(&format!(" {srcs:?} {dest}"));
        Ok(Prepared::Copy {
            text,
            digest,
            files,
            source,
            chown_names,
        })
    }

    /// Where a planned COPY/ADD lands in the stage's layers `img`: the destination with
    /// its symlinks resolved inside the root, and what is already there. A file where the
    /// copy needs a directory fails, as Docker's mkdir does.
    pub(super) fn resolve_dest(
        &mut self,
        img: &StageImage,
        cmd: &Command,
        source: &CopySource,
    ) -> Result<CopySource, BuildError> {
        let mut source = source.clone();
        let dest = &mut source.dest;
        let lower = Lower::of(self.store, &img.layers, &mut self.lower_memo)?;
        let real = lower.resolve_parents(&format!("{}/.", copy::clean_dest(dest)));
        // BuildKit resolves the whole destination inside the root, its last component too:
        // COPY onto a symlink writes where the link points, never replaces the link.
        if real != copy::clean_dest(dest) {
            let slash = if dest.ends_with('/') { "/" } else { "" };
            *dest = format!("/{real}{slash}");
        }
        source.opts.existing = match lower.get(&real) {
            None | Some(Node::Whiteout | Node::Opaque) => copy::Existing::Nothing,
            Some(Node::Dir(..)) => copy::Existing::Dir,
            Some(_) => copy::Existing::Other,
        };
        let mut prefix = String::new();
        let parts: Vec<&str> = real.split('/').filter(|c| !c.is_empty()).collect();
        for (i, c) in parts.iter().enumerate() {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            let needs_dir = i + 1 < parts.len() || source.dest.ends_with('/');
            if needs_dir && matches!(lower.get(&prefix), Some(Node::Other)) {
                return Err(self.at(cmd, format!("mkdir /{prefix}: not a directory")));
            }
        }
        Ok(source)
    }

    /// The entries a COPY/ADD writes, read from the context or from the unpacked root of
    /// the stage or image it copies from.
    pub(super) fn copy_entries(
        &mut self,
        cmd: &Command,
        source: &CopySource,
    ) -> Result<Vec<copy::Entry>, BuildError> {
        let tree = match &source.from {
            None => self.context.clone(),
            Some(f) => {
                let root = self.source_root(f)?;
                Tree::with_patterns(&root, &[] as &[&str])?
            }
        };
        let tree = tree.excluding(&source.excludes)?;
        copy::entries(
            &tree,
            &source.srcs,
            &source.inline,
            &source.dest,
            &source.opts,
        )
        .map_err(|e| match e {
            BuildError::NotADirectory { .. } => self.at(cmd, e.to_string()),
            e => e,
        })
    }

    /// What a `--from` source is, for a cache key: the source stage's final key (which
    /// chains everything that made its filesystem), or the ID of the image copied from,
    /// and the digests of any inline heredoc sources. Nothing of the source is read.
    pub(super) fn source_identity(
        &mut self,
        from: &str,
        inline: &[(String, Vec<u8>)],
    ) -> Result<Digest, BuildError> {
        let source = match self.all.find(from).and_then(|i| self.stage_keys.get(&i)) {
            Some(key) => format!("stage {key}"),
            None => {
                let img = self.load_image(from)?;
                format!("image {}", Digest::sha256_of(&img.config.to_vec()))
            }
        };
        let inline: Vec<(&String, Digest)> = inline
            .iter()
            .map(|(n, d)| (n, Digest::sha256_of(d)))
            .collect();
        let json = serde_json::json!({ "from": source, "inline": inline });
        Ok(Digest::sha256_of(json.to_string().as_bytes()))
    }

    /// `--chown=user[:group]` with names, through the stage's `/etc/passwd` and
    /// `/etc/group`. A user alone takes the group of the same name, else its uid as gid.
    /// A name not found is not an error: BuildKit's file op leaves the id it could not
    /// read at 0 (an unknown user is 0:0; an unknown group keeps the user's gid).
    pub(super) fn resolve_chown(
        &self,
        img: &StageImage,
        spec: &str,
    ) -> Result<(u64, u64), BuildError> {
        let passwd = crate::lower::read_file(self.store, &img.layers, "etc/passwd")?;
        let group = crate::lower::read_file(self.store, &img.layers, "etc/group")?;
        let (user, grp) = spec.split_once(':').unwrap_or((spec, ""));
        let (uid, user_gid) = match crate::lower::lookup_id(passwd.as_deref(), user) {
            Some(uid) => (
                uid,
                crate::lower::lookup_id(group.as_deref(), user).unwrap_or(uid),
            ),
            None => (0, 0),
        };
        let gid = if grp.is_empty() {
            user_gid
        } else {
            crate::lower::lookup_id(group.as_deref(), grp).unwrap_or(user_gid)
        };
        Ok((uid, gid))
    }

    /// The root filesystem of stage or image `from`, unpacked once per build.
    pub(super) fn source_root(&mut self, from: &str) -> Result<PathBuf, BuildError> {
        if let Some(p) = self.roots.get(from) {
            return Ok(p.clone());
        }
        let (layers, diff_ids) = match self.stage_by_name(from) {
            Some(img) => (img.layers.clone(), img.config.rootfs.diff_ids.clone()),
            None => {
                let img = self.load_image(from)?;
                (img.layers, img.config.rootfs.diff_ids)
            }
        };
        let dir = self
            .ensure_tmp()?
            .join(format!("root-{}", self.roots.len()));
        if rustix::process::geteuid().is_root() && layers.len() == diff_ids.len() {
            // Hard links into the layers' snapshots, made once and kept between builds
            // (a RUN of the stage made most of them already): no layer is read again.
            runtime::snapshot_view::link_merged(self.store, &diff_ids, &layers, &dir)?;
        } else {
            // Without root the snapshots' owners cannot be kept: unpack a private copy.
            fs::create_dir_all(&dir).map_err(|e| BuildError::io("create", &dir, e))?;
            for l in &layers {
                let f = self.store.open_blob(&l.digest)?;
                layer::apply_layer_auto(&dir, f, &layer::ApplyOptions::default())?;
            }
        }
        self.roots.insert(from.to_string(), dir.clone());
        Ok(dir)
    }

    pub(super) fn stage_by_name(&self, from: &str) -> Option<&StageImage> {
        // Names are resolved against the stages built so far (the plan ordered them).
        self.stages.get(&self.all.find(from)?)
    }

    /// Writes a layer (gzip) through `f` straight into the store, once; returns its
    /// descriptor and diffID. The blob is named by its hash when complete and held by the
    /// build's lease from then on; a failure (or a kill) leaves nothing the next command
    /// does not discard.
    pub(super) fn write_layer(
        &self,
        f: impl FnOnce(&mut dyn Write) -> Result<(), BuildError>,
    ) -> Result<(Descriptor, Digest), BuildError> {
        let blob = self.store.blob_writer(self.lease)?;
        let mut w = layer::LayerWriter::new(blob, layer::Compression::Gzip, None)?;
        f(&mut w)?;
        let (blob, digests) = w.finish()?;
        let desc = blob.commit(media::OCI_LAYER_GZIP)?;
        debug_assert_eq!(desc.digest, digests.digest);
        // Docker's history and image SIZE are the unpacked size, measured as it was written.
        if let Some(unpacked) = digests.unpacked_size {
            self.store.set_unpacked_size(&desc.digest, unpacked)?;
        }
        Ok((desc, digests.diff_id))
    }
}

/// What a COPY or ADD copies, expanded: enough to make its entries when it runs.
#[derive(Clone)]
pub(super) struct CopySource {
    from: Option<String>,
    srcs: Vec<String>,
    inline: Vec<(String, Vec<u8>)>,
    dest: String,
    opts: CopyOptions,
    excludes: Vec<String>,
}

/// A COPY or ADD, as written (unexpanded) except `from`.
pub(super) struct CopySpec<'a> {
    keyword: &'static str,
    sources: &'a [String],
    dest: &'a str,
    heredocs: &'a [dockerfile::InlineFile],
    from: Option<String>,
    chown: &'a Option<String>,
    chmod: &'a Option<String>,
    unpack: bool,
    parents: bool,
    exclude: &'a [String],
}

pub(super) enum Prepared {
    /// The RUN, its argv, its key text and the content digests of its binds (its mounts
    /// are made when it runs).
    Run(dockerfile::Run, Vec<String>, String, Vec<Digest>),
    Copy {
        text: String,
        digest: Digest,
        files: BTreeMap<String, String>,
        /// What it copies; its entries are made when the step runs.
        source: CopySource,
        /// `--chown` given by name, resolved when the step runs.
        chown_names: Option<String>,
    },
    /// A WORKDIR: its key text, absolute path and the USER that owns what it creates.
    Workdir {
        text: String,
        path: String,
        user: Option<String>,
        line: usize,
    },
}

/// Marks the entry of a step's inputs that stands for a `--from` source as a whole (the
/// other entries are paths).
const FROM_MARK: &str = "--from=";

/// Why a step missed, compared with its inputs the last time it ran.
fn miss_reason(path: &Path, now: &LastInputs) -> String {
    let Some(last) = fs::read(path)
        .ok()
        .and_then(|b| serde_json::from_slice::<LastInputs>(&b).ok())
    else {
        return "not in the cache".into();
    };
    if last.text != now.text {
        return "the instruction changed".into();
    }
    for (k, v) in &now.args {
        if last.args.get(k) != Some(v) {
            return format!("build arg {k} changed");
        }
    }
    if last.args.len() != now.args.len() {
        return "the build args changed".into();
    }
    let mut changed: Vec<&str> = now
        .files
        .iter()
        .filter(|(k, v)| last.files.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    changed.extend(
        last.files
            .keys()
            .filter(|k| !now.files.contains_key(*k))
            .map(String::as_str),
    );
    if let Some(from) = changed.iter().find_map(|k| k.strip_prefix(FROM_MARK)) {
        return format!("{from} changed");
    }
    if !changed.is_empty() {
        let more = if changed.len() > 3 {
            format!(" and {} more", changed.len() - 3)
        } else {
            String::new()
        };
        changed.truncate(3);
        return format!("changed: /{}{more}", changed.join(", /"));
    }
    if last.parent != now.parent {
        return "a previous step changed".into();
    }
    "not in the cache".into()
}
