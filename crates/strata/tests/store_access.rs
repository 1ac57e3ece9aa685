//! A user who may not write the store gets one line that says so and what to do, instead
//! of SQLite's or the kernel's bare refusal. Runs strata as `nobody` through util-linux's
//! `setpriv` against a store root owns; needs root; fails without.

mod harness;

use harness::{Env, require};

#[test]
fn a_user_without_access_to_the_store_is_told_what_to_do() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test switches to another user: run it as root"
    );
    let setpriv = require("setpriv");
    let env = Env::new();
    let tar = env.path("empty.tar");
    tar::Builder::new(std::fs::File::create(&tar).unwrap())
        .finish()
        .unwrap();
    env.ok(&["import", tar.to_str().unwrap(), "img"]);
    // Readable by others (as a store made with a permissive umask), writable by root only.
    for p in [env.path(""), env.root()] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let as_nobody = |args: &[&str]| {
        let out = std::process::Command::new(&setpriv)
            .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_strata"))
            .arg("--root")
            .arg(env.root())
            .args(args)
            .env("HOME", env.path("nobody-home"))
            .env("DOCKER_CONFIG", env.path("nobody-home"))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for (args, code) in [
        (&["tag", "img", "other"][..], 1),
        (&["run", "--rm", "img", "true"], 125),
    ] {
        let (got, err) = as_nobody(args);
        assert_eq!(got, code, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains(&format!(
                "you may not write the store at {}",
                env.root().display()
            )) && err.contains("--root DIR or STRATA_ROOT"),
            "{args:?}: {err}"
        );
    }
    // Reading needs no more than read access, as before.
    let out = std::process::Command::new(&setpriv)
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_strata"))
        .arg("--root")
        .arg(env.root())
        .args(["images", "--format", "{{.Repository}}"])
        .env("HOME", env.path("nobody-home"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "img\n");
}
