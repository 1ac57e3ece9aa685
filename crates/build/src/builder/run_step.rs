//! RUN steps: `--mount`s resolved to host paths, the container run through the
//! `runtime` crate, its upper directory turned into the layer.

use super::*;

/// Which half of a RUN's mounts [`Builder::prepare_mounts`] does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// For the key: the mounts' description and the content of their binds; nothing is
    /// created or unpacked.
    Plan,
    /// To run: the host paths (cache directories made, `rw` binds copied, secrets written,
    /// a source stage's root made); no content is digested.
    Exec,
}

impl<'a> Builder<'a> {
    /// Resolves RUN's `--mount`s to host paths: `bind` (from the context or a stage, read
    /// only unless `rw`, when a private copy is mounted), `cache` (a directory under
    /// `<root>/build-cache/mounts/` kept between builds, left out of the key), `tmpfs`.
    /// `secret` (a file of [`BuildRequest::secrets`], never in the key or the layer).
    /// Returns the mounts ([`Phase::Exec`]), their description for the key, and the
    /// content digests of the bind sources ([`Phase::Plan`]): a bind from the context by
    /// the content of what it binds, from a stage by that stage's key and the path.
    #[allow(clippy::type_complexity)]
    pub(super) fn prepare_mounts(
        &mut self,
        cmd: &Command,
        r: &dockerfile::Run,
        scope: &BTreeMap<String, String>,
        used: &mut BTreeMap<String, String>,
        args: &BTreeMap<String, String>,
        phase: Phase,
    ) -> Result<(Vec<runtime::MountSpec>, Vec<String>, Vec<Digest>), BuildError> {
        use dockerfile::mount::MountType;
        let mut mounts = Vec::new();
        let mut described = Vec::new();
        let mut content = Vec::new();
        let unsupported = |m: String| BuildError::Unsupported {
            instruction: "RUN".into(),
            line: cmd.location.start_line,
            message: m,
        };
        for m in &r.mounts {
            if m.mount_type == MountType::Secret {
                self.secret_mount(cmd, m, &mut mounts, &mut described, phase)?;
                continue;
            }
            let target = match &m.target {
                Some(t) => self.expand(cmd, t, scope, used, args)?,
                None => return Err(unsupported("--mount needs target=".into())),
            };
            let target = format!("/{}", copy::clean_dest(&target));
            match m.mount_type {
                MountType::Bind => {
                    let from = match &m.from {
                        Some(f) => Some(self.expand(cmd, f, scope, used, args)?),
                        None => None,
                    };
                    let source = match &m.source {
                        Some(s) => self.expand(cmd, s, scope, used, args)?,
                        None => ".".into(),
                    };
                    described.push(format!(
                        "bind from={from:?} source={source} target={target} ro={}",
                        m.read_only
                    ));
                    if phase == Phase::Plan {
                        content.push(match &from {
                            None => {
                                let entries = copy::entries(
                                    &self.context,
                                    std::slice::from_ref(&source),
                                    &[],
                                    "/mnt/",
                                    &CopyOptions::default(),
                                )?;
                                copy::content_digest(&entries, &mut self.hashes)?.0
                            }
                            Some(f) => {
                                let id = self.source_identity(f, &[])?;
                                Digest::sha256_of(format!("{id}\0{source}").as_bytes())
                            }
                        });
                        continue;
                    }
                    let tree = match &from {
                        None => self.context.clone(),
                        Some(f) => Tree::with_patterns(&self.source_root(f)?, &[] as &[&str])?,
                    };
                    let rel = tree.resolve(&source)?.remove(0);
                    let mut host = tree.root().join(&rel);
                    if !m.read_only {
                        // Writes to an `rw` bind are thrown away, as BuildKit does: mount a copy.
                        let copy_dir = self.ensure_tmp()?.join(format!("bind-{}", unique()));
                        copy_tree(&host, &copy_dir)?;
                        host = copy_dir;
                    }
                    mounts.push(runtime::MountSpec {
                        kind: runtime::MountKind::Bind { source: host },
                        destination: target,
                        read_only: m.read_only,
                        options: Vec::new(),
                    });
                }
                MountType::Cache => {
                    let id = match &m.id {
                        Some(i) => self.expand(cmd, i, scope, used, args)?,
                        None => target.clone(),
                    };
                    described.push(format!("cache target={target}"));
                    if phase == Phase::Plan {
                        continue;
                    }
                    let dir = self
                        .store
                        .layout()
                        .build_cache_mount(Digest::sha256_of(id.as_bytes()).hex());
                    if !dir.exists() {
                        fs::create_dir_all(&dir).map_err(|e| BuildError::io("create", &dir, e))?;
                        use std::os::unix::fs::PermissionsExt;
                        let mode = m.mode.unwrap_or(0o755);
                        fs::set_permissions(&dir, fs::Permissions::from_mode(mode))
                            .map_err(|e| BuildError::io("chmod", &dir, e))?;
                        if m.uid.is_some() || m.gid.is_some() {
                            std::os::unix::fs::chown(&dir, m.uid, m.gid)
                                .map_err(|e| BuildError::io("chown", &dir, e))?;
                        }
                    }
                    mounts.push(runtime::MountSpec {
                        kind: runtime::MountKind::Bind { source: dir },
                        destination: target,
                        read_only: m.read_only,
                        options: Vec::new(),
                    });
                }
                MountType::Tmpfs => {
                    described.push(format!("tmpfs target={target}"));
                    mounts.push(runtime::MountSpec {
                        kind: runtime::MountKind::Tmpfs,
                        destination: target,
                        read_only: false,
                        options: m
                            .size_limit
                            .map(|s| vec![format!("size={s}")])
                            .unwrap_or_default(),
                    });
                }
                other => {
                    return Err(unsupported(format!(
                        "--mount=type={} is not supported yet",
                        other.as_str()
                    )));
                }
            }
        }
        Ok((mounts, described, content))
    }

    /// `--mount=type=secret,id=ID[,target=PATH][,required]`: the secret's bytes in a
    /// private file (mode 0400) bound read-only at the target (`/run/secrets/<id>` by
    /// default). A missing secret is an error only when `required`.
    fn secret_mount(
        &mut self,
        cmd: &Command,
        m: &dockerfile::mount::Mount,
        mounts: &mut Vec<runtime::MountSpec>,
        described: &mut Vec<String>,
        phase: Phase,
    ) -> Result<(), BuildError> {
        let bad = |message: String| BuildError::Unsupported {
            instruction: "RUN".into(),
            line: cmd.location.start_line,
            message,
        };
        if m.env.is_some() && m.target.is_none() {
            return Err(bad(
                "secret env= is not supported yet; mount it as a file".into()
            ));
        }
        let id = match (&m.id, &m.target) {
            (Some(id), _) => id.clone(),
            (None, Some(t)) => t.rsplit('/').next().unwrap_or(t).to_string(),
            (None, None) => return Err(bad("--mount=type=secret needs id=".into())),
        };
        let target = m
            .target
            .clone()
            .unwrap_or_else(|| format!("/run/secrets/{id}"));
        let Some(data) = self.req.secrets.get(&id) else {
            if m.required {
                return Err(bad(format!(
                    "secret {id:?} is required but was not given (--secret id={id},src=FILE)"
                )));
            }
            return Ok(());
        };
        described.push(format!("secret id={id} target={target}"));
        if phase == Phase::Plan {
            return Ok(());
        }
        let file = self.ensure_tmp()?.join(format!("secret-{}", unique()));
        {
            use std::os::unix::fs::OpenOptionsExt;
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o400)
                .open(&file)
                .map_err(|e| BuildError::io("create", &file, e))?;
            f.write_all(data)
                .map_err(|e| BuildError::io("write", &file, e))?;
        }
        mounts.push(runtime::MountSpec {
            kind: runtime::MountKind::Bind { source: file },
            destination: target,
            read_only: true,
            options: Vec::new(),
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn run_step(
        &mut self,
        img: &StageImage,
        args: &BTreeMap<String, String>,
        cmd: &Command,
        id: usize,
        r: &dockerfile::Run,
        argv: Vec<String>,
        mounts: Vec<runtime::MountSpec>,
    ) -> Result<(Descriptor, Digest), BuildError> {
        if self.runtime.is_none() {
            let rt = runtime::OciRuntime::detect(self.req.runtime.as_deref(), self.store.root())?;
            self.runtime = Some(rt);
        }
        let rt = self
            .runtime
            .clone()
            .ok_or_else(|| BuildError::Unsupported {
                instruction: "RUN".into(),
                line: cmd.location.start_line,
                message: "no OCI runtime".into(),
            })?;
        // Each RUN puts an image of its own (see `put_image`), so no other step, of this
        // build or of another process, removes it before its container exists.
        let intermediate = self.put_image(img)?;
        let _intermediate = Intermediate {
            store: self.store,
            target: intermediate.clone(),
        };
        // Lines go out as events while the command runs; the last ten are kept for the
        // error of a failing command.
        let tail = Arc::new(Mutex::new(std::collections::VecDeque::new()));
        let sink: run::LineSink = {
            let events = self.events.clone();
            let tail = tail.clone();
            Arc::new(move |line: &str| {
                if let Ok(mut t) = tail.lock() {
                    if t.len() == 10 {
                        t.pop_front();
                    }
                    t.push_back(line.to_string());
                }
                let _ = events.send(Msg::Event(Event::Output {
                    id,
                    line: line.to_string(),
                }));
            })
        };
        let targets: Vec<String> = mounts.iter().map(|m| m.destination.clone()).collect();
        // Proxy build args reach the command without an ARG line, and outside the key.
        let mut run_args = args.clone();
        for (k, v) in run::proxy_env(&self.req.build_args) {
            run_args.entry(k).or_insert(v);
        }
        // The image's ENV, less what an ARG set after it overrides: those ARGs are passed
        // as the command's own environment, which wins over the image's.
        let env: Vec<String> = img
            .config
            .config
            .env
            .iter()
            .filter(|e| {
                let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
                !(img.arg_over_env.contains(k) && args.contains_key(k))
            })
            .cloned()
            .collect();
        let result = run::run(
            self.store,
            &rt,
            &intermediate,
            &env,
            &run_args,
            r,
            argv,
            mounts,
            cmd.location.start_line,
            sink,
            self.req.network,
        );
        let upper = match result {
            Err(BuildError::RunFailed {
                line,
                command,
                code,
                ..
            }) => {
                let tail = tail
                    .lock()
                    .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default();
                return Err(BuildError::RunFailed {
                    line,
                    command,
                    code,
                    output: tail,
                });
            }
            Err(BuildError::Canceled) => {
                self.emit(Event::Canceled { id });
                return Err(BuildError::Canceled);
            }
            other => other?,
        };
        let lower = Lower::of(self.store, &img.layers, &mut self.lower_memo)?;
        if let Err(e) = crate::stubs::match_buildkit(&upper.upper(), &lower, &targets) {
            upper.remove(self.store, &rt);
            return Err(e);
        }
        let written = self.write_layer(|w| {
            runtime::commit::upper_to_layer(&upper.upper(), w).map_err(BuildError::from)
        });
        upper.remove(self.store, &rt);
        written
    }

    /// Stores `img` (config + manifest) so a container can be made from it; returns the
    /// manifest digest. The image is this step's alone: a label naming the process and the
    /// moment makes it unique, because two builds (two processes, or two stages) running
    /// the same step on the same base would otherwise put the very same image, and the
    /// first to finish removed it while the other was about to make its container ("No
    /// such image"). The label reaches no layer and no final image.
    pub(super) fn put_image(&self, img: &StageImage) -> Result<String, BuildError> {
        let mut config = img.config.clone();
        config.created = Some(timestamp(self.req.source_date_epoch));
        static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        config.config.labels.insert(
            "org.strata.build.run".into(),
            format!("{}-{n}-{}", std::process::id(), super::unique()),
        );
        let stored = self.store_image(&config, &img.layers, &[], true)?;
        Ok(stored.manifest.digest.to_string())
    }
}

/// The image a RUN container is made from exists only for that container: once the step is
/// over (and its container removed), its record goes, so builds leave no `<none>` images.
/// Only an untagged image no container uses is removed; its blobs stay under the build's
/// lease and GC takes what nothing else refers to.
struct Intermediate<'s> {
    store: &'s store::Store,
    target: String,
}

impl Drop for Intermediate<'_> {
    fn drop(&mut self) {
        if let Ok(info) = self.store.resolve_image(&self.target)
            && info.tags.is_empty()
            && info.users.is_empty()
        {
            let _ = self.store.remove_image(&self.target, false);
        }
    }
}

/// Copies the tree at `from` to `to` (files, directories, symlinks, modes).
fn copy_tree(from: &Path, to: &Path) -> Result<(), BuildError> {
    let meta = fs::symlink_metadata(from).map_err(|e| BuildError::io("read", from, e))?;
    if meta.is_dir() {
        fs::create_dir_all(to).map_err(|e| BuildError::io("create", to, e))?;
        let rd = fs::read_dir(from).map_err(|e| BuildError::io("read directory", from, e))?;
        for e in rd {
            let e = e.map_err(|e| BuildError::io("read directory", from, e))?;
            copy_tree(&e.path(), &to.join(e.file_name()))?;
        }
        fs::set_permissions(to, meta.permissions()).map_err(|e| BuildError::io("chmod", to, e))?;
    } else if meta.file_type().is_symlink() {
        let t = fs::read_link(from).map_err(|e| BuildError::io("read", from, e))?;
        std::os::unix::fs::symlink(t, to).map_err(|e| BuildError::io("create", to, e))?;
    } else {
        fs::copy(from, to).map_err(|e| BuildError::io("copy", from, e))?;
    }
    Ok(())
}
