//! `strata info` against the real Docker Engine's `docker info` on the same host: the
//! fields that describe the host and the engine's shape agree under Docker's names, so
//! scripts reading `docker info --format …` read the same from strata.

mod harness;

use harness::Env;
use harness::docker::Dockerd;

/// The fields both engines must report alike on one host (the daemon's own version, ID,
/// paths and plugins legitimately differ).
const SAME: &str = "{{.OSType}}|{{.Architecture}}|{{.NCPU}}|{{.MemTotal}}|{{.KernelVersion}}|\
{{.OperatingSystem}}|{{.OSVersion}}|{{.CgroupVersion}}|{{.CgroupDriver}}|{{.Name}}|\
{{.IndexServerAddress}}|{{.Driver}}|{{.LoggingDriver}}|{{.DefaultRuntime}}|\
{{.Containers}}|{{.ContainersRunning}}|{{.ContainersPaused}}|{{.ContainersStopped}}|{{.Images}}";

#[test]
fn info_agrees_with_docker_on_the_host_and_the_engine() {
    let docker = Dockerd::start();
    let env = Env::new();
    let theirs = docker.ok(&["info", "--format", SAME]);
    let ours = env.ok(&["info", "--format", SAME]);
    assert_eq!(ours, theirs);
    // `system info` is the same command; `json` is the whole object.
    assert_eq!(env.ok(&["system", "info", "--format", SAME]), ours);
    let all: serde_json::Value =
        serde_json::from_str(&env.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(all["DockerRootDir"], env.root().display().to_string());
    // Plain output has Docker's lines.
    let plain = env.ok(&["info"]);
    for line in [
        " Containers: 0\n  Running: 0\n  Paused: 0\n  Stopped: 0\n Images: 0\n",
        " Storage Driver: overlay2\n",
        " OSType: linux\n",
    ] {
        assert!(plain.contains(line), "{line:?} in {plain}");
    }
    let (code, err) = env.fails(&["info", "--format", "{{.NoSuchField}}"]);
    assert_eq!(code, 1, "{err}");
}
