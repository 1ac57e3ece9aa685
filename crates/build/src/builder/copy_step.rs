//! COPY and ADD as steps: planned (sources and destination expanded, the key's content
//! from the context's metadata cache or the `--from` source's identity), and when they
//! run, the destination resolved in the layers below and the entries made from the
//! context or the unpacked root of the stage or image copied from.

use super::layers::{FROM_MARK, Prepared};
use super::*;

impl<'a> Builder<'a> {
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
    pub(super) keyword: &'static str,
    pub(super) sources: &'a [String],
    pub(super) dest: &'a str,
    pub(super) heredocs: &'a [dockerfile::InlineFile],
    pub(super) from: Option<String>,
    pub(super) chown: &'a Option<String>,
    pub(super) chmod: &'a Option<String>,
    pub(super) unpack: bool,
    pub(super) parents: bool,
    pub(super) exclude: &'a [String],
}
