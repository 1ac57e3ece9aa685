//! The container lifecycle: `create` (record, bundle), `start` (mount, runtime create +
//! start, log pumps), `wait` (exit code, runtime delete, unmount), `kill`, `remove`.
//!
//! The process that starts a container is its monitor: it makes itself a child
//! subreaper, so the container's init (orphaned when `runc create` exits) becomes its
//! child and its exit status can be collected with `waitpid`, as containerd's shim and
//! conmon do. It holds the read ends of the container's stdout and stderr pipes and
//! writes them to `ctr.log`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use store::{Layout, Store};

use crate::mount::{Kernel, OverlayLayout, mount_overlay, unmount};
use crate::oci_runtime::OciRuntime;
use crate::record::{
    ContainerDir, ContainerRecord, ContainerState, Status, now_rfc3339, read_json, write_json,
    write_state,
};
use crate::streams::{Attach, Pump, pipe_streams, terminal_streams};
use crate::{RuntimeError, snapshot};

mod control;
mod create;
mod owner;
mod reap;
mod state;
mod stop;
mod volume_use;
pub use control::{EXIT_RECORD_WAIT, still_running};
pub use create::{create, create_owned};
pub(crate) use owner::OWNER_FILE as OWNER_FILE_NAME;
pub use reap::{owned_by_live_process, reap};
pub use state::{
    Pruned, observed_state, prune, prune_matching, wait_recorded, wait_recorded_state,
};
pub(crate) use stop::{restart_lock, wait_exit};
pub use volume_use::{prune_volumes, prune_volumes_matching, remove_volume, volume_users};

/// The cgroup every container's cgroup is made under: Docker's (cgroupfs driver) default.
pub const CGROUP_PARENT: &str = "/docker";

/// A container on disk: its record, state and directory.
#[derive(Debug, Clone)]
pub struct Container {
    /// What it was created with.
    pub record: ContainerRecord,
    /// Where it is in its life (as last written).
    pub state: ContainerState,
    /// Its directory.
    pub dir: ContainerDir,
}

/// A started container whose exit this process waits for.
pub struct Running {
    container: Container,
    pid: i32,
    pumps: Vec<Pump>,
    forwarder: Option<crate::ports::Forwarder>,
    network: Option<crate::network::Attachment>,
}

/// Unmounts on drop unless disarmed.
struct MountGuard {
    target: PathBuf,
    armed: bool,
}

impl Drop for MountGuard {
    fn drop(&mut self) {
        if self.armed {
            let _ = unmount(&Kernel, &self.target);
        }
    }
}

fn mkdir(p: &Path) -> Result<(), RuntimeError> {
    fs::create_dir_all(p).map_err(|e| RuntimeError::io("create", p, e))
}

/// The container's overlay: its init layer over the image's snapshots, its upper and
/// work directories.
pub(crate) fn layout(
    store: &Store,
    record: &ContainerRecord,
    dir: &ContainerDir,
) -> Result<OverlayLayout, RuntimeError> {
    let info = record_image(store, record)?;
    let mut lowers = vec![dir.init()];
    lowers.extend(snapshot::prepare(store, &info)?);
    Ok(OverlayLayout {
        lowers,
        upper: dir.upper(),
        work: dir.work(),
    })
}

/// The image a container was made from, as the manifest of the platform it recorded (a
/// multi-platform image's entry; see [`ContainerRecord::platform`]).
pub(crate) fn record_image(
    store: &Store,
    record: &ContainerRecord,
) -> Result<store::ImageInfo, RuntimeError> {
    Ok(store.resolve_image_platform(&record.image_target, record.platform.as_ref())?)
}

fn mount_rootfs(
    store: &Store,
    record: &ContainerRecord,
    dir: &ContainerDir,
) -> Result<MountGuard, RuntimeError> {
    let lay = layout(store, record, dir)?;
    mount_overlay(&Kernel, &lay, &dir.rootfs())?;
    Ok(MountGuard {
        target: dir.rootfs(),
        armed: true,
    })
}

fn name_in_use(store_root: &Path, name: &str) -> Result<Option<String>, RuntimeError> {
    for c in list(store_root)? {
        if c.record.name == name {
            return Ok(Some(c.record.id));
        }
    }
    Ok(None)
}

/// Renames container `id` to `new_name`, which no other container may have.
pub fn rename(store_root: &Path, id: &str, new_name: &str) -> Result<Container, RuntimeError> {
    let new_name = new_name.trim_start_matches('/');
    let valid = !new_name.is_empty()
        && new_name.as_bytes()[0].is_ascii_alphanumeric()
        && new_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if !valid {
        return Err(RuntimeError::InvalidOptions(format!(
            "Invalid container name ({new_name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )));
    }
    let lock_path = Layout::new(store_root).container_names_lock();
    let lock =
        fs::File::create(&lock_path).map_err(|e| RuntimeError::io("create", &lock_path, e))?;
    lock.lock()
        .map_err(|e| RuntimeError::io("lock", &lock_path, e))?;
    let mut c = load(store_root, id)?;
    if let Some(other) = name_in_use(store_root, new_name)?
        && other != c.record.id
    {
        return Err(RuntimeError::InvalidOptions(format!(
            "Conflict. The container name \"/{new_name}\" is already in use by container \"{other}\". \
             You have to remove (or rename) that container to be able to reuse that name."
        )));
    }
    let old_name = std::mem::replace(&mut c.record.name, new_name.to_string());
    write_json(&c.dir.record(), &c.record)?;
    crate::events::container(&c, "rename", &[("oldName", format!("/{old_name}"))]);
    Ok(c)
}

/// Waits until container `id` has exited (as another process's monitor records it, or as
/// [`observed_state`] concludes) and returns its exit code.
pub fn wait_exited(
    store_root: &Path,
    runtime: &OciRuntime,
    id: &str,
    poll: std::time::Duration,
) -> Result<i32, RuntimeError> {
    loop {
        let c = load(store_root, id)?;
        let seen = observed_state(&c, runtime)?;
        if seen.status == Status::Exited {
            return Ok(seen.exit_code.unwrap_or(255));
        }
        std::thread::sleep(poll);
    }
}

/// Loads container `id` (a full ID, a unique ID prefix or a name).
pub fn load(store_root: &Path, id: &str) -> Result<Container, RuntimeError> {
    let all = list(store_root)?;
    let found: Vec<Container> = match all
        .iter()
        .find(|c| c.record.id == id || c.record.name == id)
    {
        Some(c) => vec![c.clone()],
        None => all
            .into_iter()
            .filter(|c| !id.is_empty() && c.record.id.starts_with(id))
            .collect(),
    };
    match found.len() {
        1 => Ok(found.into_iter().next().expect("one element")),
        0 => Err(RuntimeError::NoSuchContainer(id.to_string())),
        _ => Err(RuntimeError::InvalidOptions(format!(
            "multiple containers match the prefix {id}"
        ))),
    }
}

/// Every container with a readable record, oldest first.
pub fn list(store_root: &Path) -> Result<Vec<Container>, RuntimeError> {
    let dir = Layout::new(store_root).containers_dir();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(RuntimeError::io("list", &dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| RuntimeError::io("list", &dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let cdir = ContainerDir(e.path());
        // A directory without a record is a create in progress (or its remains).
        let Ok(record) = read_json::<ContainerRecord>(&cdir.record()) else {
            continue;
        };
        let state = read_json(&cdir.state()).unwrap_or_else(|_| ContainerState::created());
        out.push(Container {
            record,
            state,
            dir: cdir,
        });
    }
    out.sort_by(|a, b| a.record.created.cmp(&b.record.created));
    Ok(out)
}

impl Container {
    fn save_state(&self) -> Result<(), RuntimeError> {
        write_state(&self.dir.state(), &self.state)
    }

    /// Starts the container: mounts its root filesystem, runs it with the OCI runtime
    /// (`run --detach`: create and start in one call), and pumps its output into `ctr.log` (and `attach`). The caller then
    /// [`Running::wait`]s for it.
    pub fn start(
        self,
        store: &Store,
        runtime: &OciRuntime,
        attach: Attach,
    ) -> Result<Running, RuntimeError> {
        self.start_with_terminal(store, runtime, attach, &|_| {})
    }

    /// [`Container::start`], showing `on_terminal` the terminal's master with `-t` (the
    /// monitor keeps a copy to resize it for `attach` clients).
    pub fn start_with_terminal(
        mut self,
        store: &Store,
        runtime: &OciRuntime,
        attach: Attach,
        on_terminal: &dyn Fn(&std::os::fd::OwnedFd),
    ) -> Result<Running, RuntimeError> {
        if let Some(message) = &self.record.start_error {
            return Err(RuntimeError::User(message.clone()));
        }
        if self.state.status == Status::Running && self.is_running(runtime)? {
            return Err(RuntimeError::InvalidOptions(format!(
                "container {} is already running",
                self.record.id
            )));
        }
        // Ports first: a taken port fails the start before anything runs.
        let o = &self.record.options;
        let publish: Vec<_> = o
            .publish
            .iter()
            .chain(&o.exposed_published)
            .cloned()
            .collect();
        let bound = if publish.is_empty()
            || o.network == crate::NetworkMode::Host
            || o.network.is_container()
        {
            None
        } else {
            Some(crate::ports::bind(&publish)?)
        };
        // The user-mode network is up before the container's first instruction runs.
        let mut network = if o.network.own_namespace_file() {
            Some(crate::network::Attachment::set_up(store.root(), &self)?)
        } else {
            None
        };
        let tear_down = |network: &mut Option<crate::network::Attachment>| {
            if let Some(n) = network.take() {
                let _ = n.tear_down();
            }
        };
        let mut mount = match mount_rootfs(store, &self.record, &self.dir) {
            Ok(m) => m,
            Err(e) => {
                tear_down(&mut network);
                return Err(e);
            }
        };
        if self.record.options.ipc == crate::namespaces::IpcMode::Shareable {
            crate::shm::mount(
                &crate::shm::path(&self.dir),
                self.record.options.security.shm_size,
            )?;
        }
        let rt_log = self.dir.runtime_log();
        let _ = fs::remove_file(self.dir.pid_file());
        rustix::process::set_child_subreaper(Some(rustix::process::getpid())).map_err(|e| {
            RuntimeError::io("become the child subreaper of", &self.dir.0, e.into())
        })?;
        let log_path = self.dir.log();
        let log = crate::logs::LogFile::open(&log_path, self.record.options.log_config.rotation()?)
            .map_err(|e| RuntimeError::io("open", &log_path, e))?;
        let log = Arc::new(Mutex::new(log));
        let id = self.record.id.clone();
        let abort = |pumps: Vec<Pump>,
                     network: &mut Option<crate::network::Attachment>,
                     e: RuntimeError| {
            let _ = runtime.delete(&id, &rt_log);
            tear_down(network);
            for p in pumps {
                let _ = p.join();
            }
            e
        };
        let (stdio, mut pumps, tty) = if self.record.options.tty {
            let console = crate::console::listen(&id)?;
            let null = || Stdio::null();
            (
                [null(), null(), null()],
                Vec::new(),
                Some((console, attach)),
            )
        } else {
            let (stdio, pumps) = pipe_streams(attach, &log, &log_path)?;
            (stdio, pumps, None)
        };
        let started = runtime.run_detached(
            &id,
            &self.dir.bundle(),
            &self.dir.pid_file(),
            &rt_log,
            tty.as_ref().map(|(c, _)| c.path()),
            stdio,
        );
        // The runtime's copies of the pipes' write ends are closed now; the container holds
        // its own.
        let pid = match started.and_then(|()| read_pid(&self.dir.pid_file())) {
            Ok(pid) => pid,
            Err(e) => return Err(abort(pumps, &mut network, e)),
        };
        if let Some((console, attach)) = tty {
            match console.receive().and_then(|master| {
                on_terminal(&master);
                terminal_streams(master, attach, &log)
            }) {
                Ok(pump) => pumps.push(pump),
                Err(e) => return Err(abort(pumps, &mut network, e)),
            }
        }
        let netns = match &network {
            Some(n) => n.netns().to_path_buf(),
            None => PathBuf::from(format!("/proc/{pid}/ns/net")),
        };
        let forwarder = match bound.map(|b| b.serve(&netns)) {
            None => None,
            Some(Ok(f)) => Some(f),
            Some(Err(e)) => return Err(abort(pumps, &mut network, e)),
        };
        mount.armed = false;
        self.state = ContainerState {
            status: Status::Running,
            pid,
            exit_code: None,
            started_at: Some(now_rfc3339()),
            finished_at: None,
            monitor_pid: std::process::id() as i32,
            error: None,
            // The monitor counts its restarts across starts.
            restart_count: self.state.restart_count,
            restarting: false,
            paused: false,
            ports: forwarder
                .as_ref()
                .map(|f| f.mappings().to_vec())
                .unwrap_or_default(),
        };
        // It runs, whether or not that is written down: a full disk (the container may have
        // filled it already) does not undo the start, as Docker's daemon only logs a state
        // it could not save. Its exit is recorded, or a `--rm` container removed, later.
        if let Err(e) = self.save_state() {
            eprintln!(
                "WARNING: container {id} runs, but its state was not recorded: {}",
                crate::error::with_causes(&e)
            );
        }
        crate::events::volumes(&self, "mount");
        crate::events::container(&self, "start", &[]);
        Ok(Running {
            container: self,
            pid,
            pumps,
            forwarder,
            network,
        })
    }

    /// Bytes in the container's writable layer (`ps -s`): file sizes under its upper
    /// directory, each inode counted once.
    pub fn size_rw(&self) -> Result<u64, RuntimeError> {
        fn walk(
            dir: &Path,
            seen: &mut std::collections::HashSet<(u64, u64)>,
        ) -> Result<u64, RuntimeError> {
            use std::os::unix::fs::MetadataExt;
            let mut total = 0;
            for e in fs::read_dir(dir).map_err(|e| RuntimeError::io("list", dir, e))? {
                let e = e.map_err(|e| RuntimeError::io("list", dir, e))?;
                let p = e.path();
                let m = fs::symlink_metadata(&p).map_err(|e| RuntimeError::io("stat", &p, e))?;
                if m.is_dir() {
                    total += walk(&p, seen)?;
                } else if seen.insert((m.dev(), m.ino())) {
                    total += m.size();
                }
            }
            Ok(total)
        }
        walk(&self.dir.upper(), &mut std::collections::HashSet::new())
    }

    /// The anonymous volumes this container made and mounts (`rm -v` removes them); not
    /// those `--volumes-from` lent it, which stay with their container.
    pub fn anonymous_volumes(&self) -> Vec<String> {
        let o = &self.record.options;
        o.mounts
            .iter()
            .filter(|m| !o.inherited_mounts.contains(&m.destination))
            .filter_map(|m| match &m.kind {
                crate::MountKind::Volume { name, .. } if name.len() == 64 => Some(name.clone()),
                _ => None,
            })
            .collect()
    }

    /// Removes the container: its runtime state (killing it when `force`), its mount, its
    /// image use and its directory. A running container needs `force`.
    pub fn remove(
        self,
        store: &Store,
        runtime: &OciRuntime,
        force: bool,
    ) -> Result<(), RuntimeError> {
        let alive = self.state.status == Status::Running
            && self.state.pid > 0
            && Path::new(&format!("/proc/{}", self.state.pid)).exists();
        if alive && !force {
            return Err(self.running_refusal());
        }
        // `wait` (or a failed start) has deleted the runtime's state of a stopped container.
        if self.state.status == Status::Running {
            runtime.delete(&self.record.id, &self.dir.runtime_log())?;
        }
        unmount(&Kernel, &self.dir.rootfs())?;
        crate::shm::release(&crate::shm::path(&self.dir))?;
        // What a monitor that died left of the user-mode network.
        crate::network::tear_down_recorded(store.root(), &self.dir.0)?;
        // Its writable layer goes first: on a full disk (often filled by that layer) it
        // frees the room the store's database needs to forget the container. The record
        // stays until then, so a failed removal can be tried again.
        for layer in [self.dir.upper(), self.dir.work()] {
            match fs::remove_dir_all(&layer) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::io("remove", &layer, e)),
            }
        }
        store.remove_image_user(&self.record.id)?;
        fs::remove_dir_all(&self.dir.0).map_err(|e| RuntimeError::io("remove", &self.dir.0, e))?;
        crate::events::container(&self, "destroy", &[]);
        Ok(())
    }
}

impl Container {
    /// Docker's refusal to remove a running container without `-f`.
    pub(crate) fn running_refusal(&self) -> RuntimeError {
        RuntimeError::InvalidOptions(format!(
            "cannot remove container \"/{}\": container is running: stop the container before \
             removing or force remove",
            self.record.name
        ))
    }
}

pub(crate) fn read_pid(path: &Path) -> Result<i32, RuntimeError> {
    let text = fs::read_to_string(path).map_err(|e| RuntimeError::io("read", path, e))?;
    text.trim().parse().map_err(|_| {
        RuntimeError::io(
            "parse",
            path,
            std::io::Error::other(format!("bad pid {text:?}")),
        )
    })
}
