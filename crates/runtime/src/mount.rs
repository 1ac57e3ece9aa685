//! The overlay mount of a container's root filesystem: read-only snapshot lowers, the
//! container's upper and work directories.
//!
//! `mount(2)` takes its options as one string of at most a page (4096 bytes here), and
//! `lowerdir=` lists every lower directory: about 50 layers of long store paths fill it.
//! Longer chains use the new mount API instead (`fsopen` + one `fsconfig("lowerdir+")`
//! per layer, Linux 6.8+), where each path has its own 256-byte limit. [`plan`] makes that
//! choice as a pure function, and [`Mounter`] is the narrow syscall seam the tests replace
//! (youki's `Syscall`).

use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{
    self as rmount, FsMountFlags, FsOpenFlags, MountAttrFlags, MountFlags, MoveMountFlags,
    UnmountFlags,
};

use crate::RuntimeError;

/// The directories of an overlay mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverlayLayout {
    /// Read-only lower directories, top first.
    pub lowers: Vec<PathBuf>,
    /// The writable upper directory.
    pub upper: PathBuf,
    /// Overlay's work directory (same filesystem as `upper`).
    pub work: PathBuf,
}

/// How to mount a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountPlan {
    /// `mount(2)` with this option string.
    Classic(String),
    /// The new mount API: these `fsconfig` string parameters, in order.
    Incremental(Vec<(String, String)>),
}

/// Longest value `fsconfig(FSCONFIG_SET_STRING)` accepts, without its NUL.
const FSCONFIG_MAX: usize = 255;

fn path_str(p: &Path) -> Result<&str, RuntimeError> {
    p.to_str().filter(|s| s.starts_with('/')).ok_or_else(|| {
        RuntimeError::InvalidOptions(format!(
            "overlay directory {} must be an absolute UTF-8 path",
            p.display()
        ))
    })
}

/// Chooses how to mount `layout`: one option string when it fits in `page_size` bytes
/// (with its NUL), else one `lowerdir+` parameter per layer. `index_off` adds `index=off`
/// (Docker's choice: lowers are shared by many mounts).
pub fn plan(
    layout: &OverlayLayout,
    page_size: usize,
    index_off: bool,
) -> Result<MountPlan, RuntimeError> {
    let upper = path_str(&layout.upper)?;
    let work = path_str(&layout.work)?;
    plan_with(&layout.lowers, Some((upper, work)), page_size, index_off)
}

/// [`plan`] of a read-only overlay of `lowers` (top first): no upper or work directory,
/// so it never conflicts with a writable mount of the same directories.
pub fn plan_read_only(lowers: &[PathBuf], page_size: usize) -> Result<MountPlan, RuntimeError> {
    plan_with(lowers, None, page_size, false)
}

fn plan_with(
    lowers: &[PathBuf],
    writable: Option<(&str, &str)>,
    page_size: usize,
    index_off: bool,
) -> Result<MountPlan, RuntimeError> {
    if lowers.is_empty() {
        return Err(RuntimeError::InvalidOptions(
            "an overlay needs at least one lower directory".into(),
        ));
    }
    let lowers = lowers
        .iter()
        .map(|p| path_str(p))
        .collect::<Result<Vec<_>, _>>()?;
    let extra: Vec<&str> = writable.map(|(u, w)| vec![u, w]).unwrap_or_default();
    let classic_safe = lowers
        .iter()
        .chain(&extra)
        .all(|p| !p.contains([',', ':', '\\']));
    let mut data = format!("lowerdir={}", lowers.join(":"));
    if let Some((upper, work)) = writable {
        data.push_str(&format!(",upperdir={upper},workdir={work}"));
    }
    if index_off {
        data.push_str(",index=off");
    }
    if classic_safe && data.len() < page_size {
        return Ok(MountPlan::Classic(data));
    }
    let mut params: Vec<(String, String)> = Vec::with_capacity(lowers.len() + 3);
    for p in lowers.iter().chain(&extra) {
        if p.len() > FSCONFIG_MAX {
            return Err(RuntimeError::InvalidOptions(format!(
                "overlay directory {p} is longer than {FSCONFIG_MAX} bytes"
            )));
        }
    }
    params.extend(
        lowers
            .iter()
            .map(|l| ("lowerdir+".to_string(), l.to_string())),
    );
    if let Some((upper, work)) = writable {
        params.push(("upperdir".into(), upper.into()));
        params.push(("workdir".into(), work.into()));
    }
    if index_off {
        params.push(("index".into(), "off".into()));
    }
    Ok(MountPlan::Incremental(params))
}

/// The mount system calls this module needs.
pub trait Mounter {
    /// `mount("overlay", target, "overlay", 0, data)`.
    fn mount_classic(&self, target: &Path, data: &str) -> std::io::Result<()>;
    /// `fsopen("overlay")`, `fsconfig` each parameter, create, `fsmount`, `move_mount`.
    fn mount_incremental(&self, target: &Path, params: &[(String, String)]) -> std::io::Result<()>;
    /// `umount2(target, flags)`, detaching lazily when `detach`.
    fn unmount(&self, target: &Path, detach: bool) -> std::io::Result<()>;
}

/// The real system calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct Kernel;

impl Mounter for Kernel {
    fn mount_classic(&self, target: &Path, data: &str) -> std::io::Result<()> {
        let data = std::ffi::CString::new(data).map_err(std::io::Error::other)?;
        rmount::mount(
            "overlay",
            target,
            "overlay",
            MountFlags::empty(),
            data.as_c_str(),
        )?;
        Ok(())
    }

    fn mount_incremental(&self, target: &Path, params: &[(String, String)]) -> std::io::Result<()> {
        let fs = rmount::fsopen("overlay", FsOpenFlags::FSOPEN_CLOEXEC)?;
        for (k, v) in params {
            rmount::fsconfig_set_string(&fs, k.as_str(), v.as_str())?;
        }
        rmount::fsconfig_create(&fs)?;
        let mnt = rmount::fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty())?;
        rmount::move_mount(
            &mnt,
            "",
            rustix::fs::CWD,
            target,
            MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
        )?;
        Ok(())
    }

    fn unmount(&self, target: &Path, detach: bool) -> std::io::Result<()> {
        let flags = if detach {
            UnmountFlags::DETACH
        } else {
            UnmountFlags::empty()
        };
        rmount::unmount(target, flags)?;
        Ok(())
    }
}

/// Whether this kernel's overlay knows `index=` (then strata turns it off).
fn kernel_has_index() -> bool {
    Path::new("/sys/module/overlay/parameters/index").exists()
}

/// Mounts `layout` on `target` (an existing directory).
pub fn mount_overlay(
    m: &impl Mounter,
    layout: &OverlayLayout,
    target: &Path,
) -> Result<(), RuntimeError> {
    let plan = plan(layout, rustix::param::page_size(), kernel_has_index())?;
    mount_plan(m, plan, layout.lowers.len(), target)
}

/// Mounts a read-only overlay of `lowers` (top first) on `target`: the merged view of a
/// container's files (its upper directory as the top lower) without touching its mount.
pub fn mount_overlay_read_only(
    m: &impl Mounter,
    lowers: &[PathBuf],
    target: &Path,
) -> Result<(), RuntimeError> {
    let plan = plan_read_only(lowers, rustix::param::page_size())?;
    mount_plan(m, plan, lowers.len(), target)
}

fn mount_plan(
    m: &impl Mounter,
    plan: MountPlan,
    layers: usize,
    target: &Path,
) -> Result<(), RuntimeError> {
    let op = "mount overlay on";
    match plan {
        MountPlan::Classic(data) => m
            .mount_classic(target, &data)
            .map_err(|e| RuntimeError::io(op, target, e)),
        MountPlan::Incremental(params) => m.mount_incremental(target, &params).map_err(|e| {
            let e = if e.raw_os_error() == Some(libc::EINVAL) {
                std::io::Error::other(format!(
                    "{e}; {layers} layers do not fit in one mount option string and this \
                     kernel lacks overlay's lowerdir+ (Linux 6.8+)"
                ))
            } else {
                e
            };
            RuntimeError::io(op, target, e)
        }),
    }
}

/// Unmounts `target`; not being mounted is success, a busy mount is detached lazily.
pub fn unmount(m: &impl Mounter, target: &Path) -> Result<(), RuntimeError> {
    let err = |e| RuntimeError::io("unmount", target, e);
    match m.unmount(target, false) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                Errno::from_io_error(&e),
                Some(Errno::INVAL) | Some(Errno::NOENT)
            ) =>
        {
            Ok(())
        }
        Err(e) if Errno::from_io_error(&e) == Some(Errno::BUSY) => {
            m.unmount(target, true).map_err(err)
        }
        Err(e) => Err(err(e)),
    }
}

/// Whether `path` is a mount point (per `/proc/self/mountinfo`).
pub fn is_mounted(path: &Path) -> Result<bool, RuntimeError> {
    let info = Path::new("/proc/self/mountinfo");
    let text = std::fs::read_to_string(info).map_err(|e| RuntimeError::io("read", info, e))?;
    let want = path.to_string_lossy();
    Ok(text.lines().any(|l| {
        l.split(' ')
            .nth(4)
            .is_some_and(|mp| unescape_mountinfo(mp) == want)
    }))
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    fn layout(n: usize, prefix: &str) -> OverlayLayout {
        OverlayLayout {
            lowers: (0..n)
                .map(|i| PathBuf::from(format!("{prefix}/l{i}")))
                .collect(),
            upper: "/c/upper".into(),
            work: "/c/work".into(),
        }
    }

    #[test]
    fn plans_by_length_and_characters() {
        let long = format!("/{}", "x".repeat(80));
        for (name, lay, page, want_classic) in [
            ("short", layout(2, "/s"), 4096, true),
            ("many long lowers", layout(60, &long), 4096, false),
            (
                "just under a page",
                layout(1, &"/y".repeat(2000)),
                4096,
                true,
            ),
            ("small page", layout(3, "/s"), 32, false),
            ("comma in a path", layout(1, "/a,b"), 4096, false),
            ("colon in a path", layout(1, "/a:b"), 4096, false),
        ] {
            let got = plan(&lay, page, true).unwrap();
            assert_eq!(matches!(got, MountPlan::Classic(_)), want_classic, "{name}");
        }
        assert_eq!(
            plan(&layout(2, "/s"), 4096, true).unwrap(),
            MountPlan::Classic(
                "lowerdir=/s/l0:/s/l1,upperdir=/c/upper,workdir=/c/work,index=off".into()
            )
        );
        let MountPlan::Incremental(p) = plan(&layout(2, "/a,b"), 4096, false).unwrap() else {
            panic!("expected incremental");
        };
        let keys: Vec<&str> = p.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["lowerdir+", "lowerdir+", "upperdir", "workdir"]);
        assert_eq!(p[0].1, "/a,b/l0", "top layer first");
    }

    #[test]
    fn rejects_bad_layouts() {
        assert!(plan(&layout(0, "/s"), 4096, false).is_err());
        assert!(plan(&layout(1, "rel"), 4096, false).is_err());
        assert!(plan(&layout(60, &format!("/{}", "z".repeat(300))), 4096, false).is_err());
    }

    #[derive(Default)]
    struct Fake {
        calls: RefCell<Vec<String>>,
        busy: bool,
    }

    impl Mounter for Fake {
        fn mount_classic(&self, _: &Path, data: &str) -> std::io::Result<()> {
            self.calls.borrow_mut().push(format!("classic {data}"));
            Ok(())
        }
        fn mount_incremental(&self, _: &Path, p: &[(String, String)]) -> std::io::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("incremental {}", p.len()));
            Ok(())
        }
        fn unmount(&self, _: &Path, detach: bool) -> std::io::Result<()> {
            self.calls
                .borrow_mut()
                .push(format!("unmount detach={detach}"));
            if self.busy && !detach {
                return Err(Errno::BUSY.into());
            }
            Ok(())
        }
    }

    #[test]
    fn busy_unmount_detaches() {
        let f = Fake {
            busy: true,
            ..Default::default()
        };
        unmount(&f, Path::new("/t")).unwrap();
        assert_eq!(
            *f.calls.borrow(),
            ["unmount detach=false", "unmount detach=true"]
        );
        let f = Fake::default();
        mount_overlay(
            &f,
            &layout(100, &format!("/{}", "q".repeat(60))),
            Path::new("/t"),
        )
        .unwrap();
        let want = format!("incremental {}", 102 + usize::from(kernel_has_index()));
        assert_eq!(*f.calls.borrow(), [want]);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b"), "/a b");
        assert_eq!(unescape_mountinfo(r"/plain"), "/plain");
    }

    /// Unmounts on drop, so a failing assertion leaves no mount behind.
    struct Mounted(PathBuf);
    impl Drop for Mounted {
        fn drop(&mut self) {
            let _ = unmount(&Kernel, &self.0);
        }
    }

    /// Needs root and overlayfs: a real mount both ways, with a lower chain too long for
    /// one option string.
    #[test]
    fn real_overlay_mounts() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("d".repeat(100));
        for (n, name) in [(2usize, "few"), (70, "many")] {
            let root = base.join(name);
            let mut lay = OverlayLayout {
                lowers: vec![],
                upper: root.join("upper"),
                work: root.join("work"),
            };
            for i in 0..n {
                let l = root.join(format!("lower-{i:03}-{}", "p".repeat(40)));
                std::fs::create_dir_all(&l).unwrap();
                std::fs::write(l.join(format!("f{i}")), i.to_string()).unwrap();
                std::fs::write(l.join("top"), i.to_string()).unwrap();
                lay.lowers.insert(0, l);
            }
            std::fs::create_dir_all(&lay.upper).unwrap();
            std::fs::create_dir_all(&lay.work).unwrap();
            let target = root.join("merged");
            std::fs::create_dir_all(&target).unwrap();
            let want_classic = n == 2;
            let got = plan(&lay, rustix::param::page_size(), true).unwrap();
            assert_eq!(matches!(got, MountPlan::Classic(_)), want_classic, "{name}");
            mount_overlay(&Kernel, &lay, &target).expect("overlay mount (needs root)");
            let guard = Mounted(target.clone());
            assert!(is_mounted(&target).unwrap());
            assert_eq!(std::fs::read_to_string(target.join("f0")).unwrap(), "0");
            assert_eq!(
                std::fs::read_to_string(target.join("top")).unwrap(),
                (n - 1).to_string()
            );
            std::fs::write(target.join("new"), "w").unwrap();
            drop(guard);
            assert!(!is_mounted(&target).unwrap());
            assert!(lay.upper.join("new").exists());
        }
    }
}
