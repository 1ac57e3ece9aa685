//! Property and fuzz harnesses (issue 10): generated and mutated inputs for the Dockerfile
//! parser, the shell lexer, `.dockerignore` patterns, references, manifests, configs and
//! indexes, the tar reader and layer application, the archive readers behind `load` and
//! `import`, and whole builds of generated Dockerfiles. Each property is "no panic, no
//! hang, and a failure changes nothing".
//!
//! The number of cases is bounded for CI (a minute or two for the whole file); set
//! `STRATA_FUZZ_CASES=N` to run N cases per property for a long local run, e.g.
//! `STRATA_FUZZ_CASES=100000 cargo nextest run -p strata --test fuzz`.

mod harness;

#[path = "fuzz/archives.rs"]
mod archives;
#[path = "fuzz/builds.rs"]
mod builds;
#[path = "fuzz/dockerfile.rs"]
mod dockerfile_input;
#[path = "fuzz/documents.rs"]
mod documents;
#[path = "fuzz/layers.rs"]
mod layers;

use proptest::test_runner::Config;

/// A proptest config running `default` cases (or `STRATA_FUZZ_CASES`), without writing
/// regression files into the source tree.
pub fn config(default: u32) -> Config {
    let cases = std::env::var("STRATA_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// Runs `test` on `default` (or `STRATA_FUZZ_CASES`) cases of `strategy`, for harnesses
/// that share a fixture made in the test itself (a `static` one would never be dropped,
/// and its temp dir would outlive the test); panics with the minimal failing input.
pub fn run_cases<S: proptest::strategy::Strategy>(
    default: u32,
    strategy: &S,
    test: impl Fn(S::Value) -> Result<(), proptest::test_runner::TestCaseError>,
) {
    let mut runner = proptest::test_runner::TestRunner::new(config(default));
    if let Err(e) = runner.run(strategy, test) {
        panic!("{e}");
    }
}

/// Runs `f` on a thread of its own and panics if it does not finish within `limit`: a
/// hang is a finding, and must fail the test rather than stall it.
pub fn bounded<T: Send + 'static>(
    what: &str,
    limit: std::time::Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(v)) => v,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("{what} did not finish within {limit:?}"),
    }
}
