//! Running strata against a [`FaultRegistry`] in the fault suites: every command bounded
//! in time, with the idle timeout set low, and the checks every fault test makes.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::Env;
use super::fault_registry::FaultRegistry;
use super::images::{TestImage, noise};

/// The idle timeout the tests run strata with.
pub const IDLE: &str = "1s";

/// How long any command may take before the test calls it a hang.
pub const HANG: Duration = Duration::from_secs(60);

/// What a bounded strata run did.
pub struct Run {
    /// Whether it exited 0.
    pub ok: bool,
    /// Its stderr.
    pub stderr: String,
    /// How long it ran.
    pub took: Duration,
}

/// Waits for `child` at most [`HANG`], killing it (and failing the test) after that.
pub fn bounded(mut child: Child, what: &str) -> Run {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Run {
                ok: status.success(),
                stderr,
                took: started.elapsed(),
            };
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`strata {what}` hung for over {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `strata ARGS` with the test idle timeout, bounded.
pub fn strata(env: &Env, args: &[&str]) -> Run {
    let child = env
        .cmd(args)
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", IDLE)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bounded(child, &args.join(" "))
}

/// Asserts `run` failed within `limit`, and that its message has every one of `words`.
pub fn failed(run: &Run, limit: Duration, words: &[&str]) {
    eprintln!("took {:?}: {}", run.took, run.stderr);
    assert!(!run.ok, "the command succeeded: {}", run.stderr);
    assert!(
        run.took < limit,
        "took {:?} (limit {limit:?}): {}",
        run.took,
        run.stderr
    );
    for w in words {
        assert!(run.stderr.contains(w), "{w:?} missing from: {}", run.stderr);
    }
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in the message: {:?}",
        run.stderr
    );
}

/// Nothing tagged, and the store answers `images` and `system df`.
pub fn nothing_tagged(env: &Env) {
    assert_eq!(env.ok(&["images", "-q", "-a"]).trim(), "");
    env.ok(&["system", "df"]);
}

/// A one-layer image of about `size` incompressible bytes.
pub fn image(size: usize) -> TestImage {
    TestImage::new("amd64", &[&[("data.bin", &noise(size))]])
}

/// A registry serving [`image`] as `app:v1`.
pub fn serving(size: usize) -> (FaultRegistry, TestImage) {
    let reg = FaultRegistry::start();
    let img = image(size);
    reg.image("app", "v1", &img);
    (reg, img)
}

/// The OCI image manifest media type.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
