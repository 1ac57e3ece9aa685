//! Containers on top of an OCI runtime (runc, crun): the overlay root filesystem made from
//! shared layer snapshots, the OCI runtime bundle made from the image config plus run
//! options, and the container lifecycle, with no daemon: every piece of state is a file
//! under the store, written atomically, readable by any other `strata` process.
//!
//! How the modules meet:
//!
//! - [`snapshot`] unpacks each layer once per chain ID under `<store>/snapshots/`, with
//!   whiteouts in overlay form, lists an image's lower directories and prunes unused ones.
//! - [`mount`] mounts lowers + upper + work as an overlay (long chains through the new
//!   mount API) and unmounts it; [`Mounter`](mount::Mounter) is the syscall seam.
//! - [`user`] resolves `-u` through the image's `/etc/passwd` and `/etc/group`.
//! - [`spec`] builds the runtime `config.json` from the image config and [`RunOptions`]
//!   with Docker's rules and defaults; [`etc_files`] writes `/etc/hosts` and friends;
//!   [`seccomp`] gives its seccomp filter (Docker's default profile, or the user's).
//! - [`oci_runtime`] finds (runc / crun / `--runtime`) and drives the runtime binary.
//! - `record` (private) is the on-disk layout of a container ([`ContainerDir`],
//!   [`ContainerRecord`], [`ContainerState`]); [`container`] its lifecycle (create,
//!   start, settle, observe, wait, stop, kill, remove, prune); [`streams`], [`logs`] and [`console`] its
//!   stdio, `json-file` log and terminal; [`monitor`] the process that owns a running
//!   container (spawned through a [`MonitorProgram`] the caller gives), which also
//!   applies the [`restart`] policy.
//! - [`namespaces`] is `--ipc`/`--pid`/`--uts` (the spec side in [`spec::namespaces`]).
//! - [`network`] is `--network` (the user-mode default network, `container:NAME`).
//! - [`exec`], [`diff`], [`commit`], [`ports`] (`-p`) and [`volumes`] (`-v`, `volume …`);
//!   [`copy`] is `cp`.
//! - [`events`] records container and volume events in the store's journal
//!   ([`store::events`]) where they happen; [`stats`] samples a container's cgroup (v1 or
//!   v2, parsed by [`cgroup_stats`]); [`update`] changes its limits and restart policy.
//!
//! ```no_run
//! # fn main() -> Result<(), runtime::RuntimeError> {
//! use runtime::{Attach, OciRuntime, RunOptions, container};
//! let store = store::Store::open("/var/lib/strata".as_ref())?;
//! let rt = OciRuntime::detect(None, store.root())?; // crun on cgroup v2, else runc
//! let opts = RunOptions { cmd: vec!["true".into()], ..Default::default() };
//! // With Docker's warnings for the resource settings this host cannot enforce.
//! let (c, _warnings) = container::create(&store, &rt, "alpine", None, opts)?;
//! let (c, code) = c.start(&store, &rt, Attach::default())?.wait(&rt)?;
//! assert_eq!(code, 0);
//! c.remove(&store, &rt, false)?; // `--rm`
//! # Ok(()) }
//! ```

pub mod attach;
pub mod cgroup_stats;
pub mod commit;
pub mod console;
pub mod container;
pub mod copy;
pub mod diff;
pub mod emulation;
mod error;
pub mod etc_files;
pub mod events;
pub mod exec;
mod export;
pub mod health;
mod inroot;
pub mod log_driver;
pub mod logs;
pub mod monitor;
pub mod mount;
pub mod namespaces;
pub mod network;
pub mod oci_runtime;
pub mod options;
pub mod ports;
mod record;
pub mod restart;
pub mod seccomp;
mod seccomp_default;
mod shm;
pub mod snapshot;
pub mod snapshot_view;
pub mod spec;
pub mod stats;
pub mod streams;
pub mod units;
pub mod update;
pub mod user;
pub mod volumes;
pub mod volumes_from;

pub use container::{Container, Running};
pub use error::{RuntimeError, go_io_text};
pub use monitor::{MonitorProgram, StartError};
pub use oci_runtime::OciRuntime;
pub use options::{
    CgroupnsMode, MountFlag, MountKind, MountSpec, NetworkMode, RunOptions, SeccompOption,
    SecurityResources,
};
pub use record::{ContainerDir, ContainerRecord, ContainerState, Status};
pub use streams::Attach;
pub use units::ram_in_bytes;
pub use user::ExecUser;
