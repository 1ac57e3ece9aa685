//! One store and one `dockerd` holding the same busybox image `bb`, for the differential
//! suites: every case runs through `docker` and through `strata`, and the results are
//! compared after normalising only what legitimately differs.

use std::sync::Mutex;

use serde_json::Value;

use super::docker::Dockerd;
use super::rootfs::Containers;

/// strata's store and a Docker Engine, both with `bb` imported from one rootfs tar.
pub struct Differential {
    /// The Docker side; declared first so it drops (daemon stopped) first.
    pub docker: Dockerd,
    /// The strata side (store, `bb`, leak checks).
    pub strata: Containers,
}

impl Differential {
    /// Starts dockerd and imports `bb` on both sides.
    pub fn new() -> Differential {
        let strata = Containers::new();
        let docker = Dockerd::start();
        docker.import(
            &strata.path("rootfs.tar"),
            "bb",
            &["ENV PATH=/bin", "CMD [\"sh\"]"],
        );
        Differential { docker, strata }
    }

    /// Imports a busybox rootfs for `platform` ([`super::rootfs::platform_rootfs_tar`]) as
    /// `name` (`ENV PATH=/bin`) on both sides. Docker gets it through `load` of strata's
    /// `save`: Docker 20.10's `import` ignores `--platform`.
    pub fn platform_image(&self, name: &str, platform: &str) {
        let tar = super::rootfs::platform_rootfs_tar(&self.strata, platform);
        self.strata.ok(&[
            "import",
            "--platform",
            platform,
            "-c",
            "ENV PATH=/bin",
            tar.to_str().unwrap(),
            name,
        ]);
        let archive = self.strata.path(&format!("{name}.docker.tar"));
        self.strata
            .ok(&["save", "-o", archive.to_str().unwrap(), name]);
        self.docker.ok(&["load", "-i", archive.to_str().unwrap()]);
        let _ = std::fs::remove_file(archive);
    }

    /// Imports the test rootfs as `name` on both sides with `--change` lines.
    pub fn image(&self, name: &str, changes: &[&str]) {
        self.strata.image(name, changes);
        self.docker
            .import(&self.strata.path("rootfs.tar"), name, changes);
    }
}

/// The fields of an image config both engines are held to (Docker's labels, history, times
/// and IDs legitimately differ and are left out). Missing, `null` and `""` are the same:
/// how `inspect` renders an empty field is the image-commands suite's business.
pub const CONFIG_FIELDS: &[&str] = &[
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "User",
    "ExposedPorts",
    "Volumes",
    "Labels",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
];

/// The compared part of `inspect`'s JSON for one image (`[0]` of docker's array or strata's).
pub fn config_view(inspect: &Value) -> Value {
    let img = if inspect.is_array() {
        &inspect[0]
    } else {
        inspect
    };
    let mut out = serde_json::Map::new();
    for f in CONFIG_FIELDS {
        let v = &img["Config"][f];
        if !v.is_null() && v != "" {
            out.insert((*f).to_string(), v.clone());
        }
    }
    for f in ["Architecture", "Os"] {
        out.insert(f.to_string(), img[f].clone());
    }
    if !img["Variant"].is_null() && img["Variant"] != "" {
        out.insert("Variant".into(), img["Variant"].clone());
    }
    Value::Object(out)
}

/// Runs `work` on every item with `threads` workers; returns the results in item order, a
/// panic in one item's work as `Err` with its message (the other items still run).
pub fn parallel<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    work: impl Fn(&T) -> R + Sync,
) -> Vec<Result<R, String>> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Result<R, String>>>> =
        Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap();
                        let i = *n;
                        *n += 1;
                        i
                    };
                    if i >= items.len() {
                        break;
                    }
                    let r =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| work(&items[i])))
                            .map_err(|p| {
                                p.downcast_ref::<String>()
                                    .cloned()
                                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                                    .unwrap_or_else(|| "panicked".into())
                            });
                    results.lock().unwrap()[i] = Some(r);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item ran"))
        .collect()
}

/// Fails the test unless the cases that differ are exactly those in `known` (a difference
/// not yet fixed, each with its reason): a new difference fails, and so does a fixed one
/// still listed, so the list only shrinks.
pub fn judge(suite: &str, total: usize, differing: &[(String, String)], known: &[(&str, &str)]) {
    let mut report = String::new();
    for (name, why) in differing {
        if known.iter().any(|(k, _)| k == name) {
            // Printed (not failed) so the remaining work can be read off any run.
            eprintln!("--- {name} (known difference)\n{why}");
        } else {
            report.push_str(&format!("\n=== {name}: differs from docker\n{why}\n"));
        }
    }
    for (k, reason) in known {
        if !differing.iter().any(|(n, _)| n == k) {
            report.push_str(&format!(
                "\n=== {k}: now agrees with docker; remove it from the known differences ({reason})\n"
            ));
        }
    }
    eprintln!(
        "{suite}: {} cases, {} agree with docker, {} known differences",
        total,
        total - differing.len(),
        known.len()
    );
    assert!(report.is_empty(), "{suite}:{report}");
}
