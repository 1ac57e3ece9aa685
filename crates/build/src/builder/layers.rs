//! Steps that add a layer (COPY, ADD, RUN, WORKDIR): planned with their key, then looked
//! up in the cache and, on a miss, executed — COPY/ADD written straight into a layer
//! without a container.

use super::copy_step::{CopySource, CopySpec};
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
pub(super) const FROM_MARK: &str = "--from=";

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
