//! Named and anonymous volumes through the real binary: `-v`, `volume create|ls|inspect|
//! rm|prune`, and `system df`. Needs root and runc; fails without.

mod harness;

use harness::rootfs::Containers;
use serde_json::Value;

#[test]
fn volumes_outlive_containers() {
    let c = Containers::new();
    assert_eq!(
        c.ok(&["volume", "create", "--label", "team=a", "data"]),
        "data\n"
    );
    // A bind mount and a named volume; the empty volume gets the image's /dir first.
    let host = c.path("host");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("f"), "from host\n").unwrap();
    let bind = format!("{}:/mnt:ro", host.display());
    assert_eq!(
        c.ok(&[
            "run",
            "--name",
            "wr",
            "-v",
            &bind,
            "-v",
            "data:/dir",
            "bb",
            "sh",
            "-c",
            "cat /mnt/f /dir/old; echo kept > /dir/new; touch /mnt/x 2>/dev/null || echo ro",
        ]),
        "from host\nlower\nro\n"
    );
    assert_eq!(
        c.ok(&["run", "--rm", "-v", "data:/v", "bb", "cat", "/v/new"]),
        "kept\n"
    );
    let v: Value = serde_json::from_str(&c.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Labels"]["team"], "a");
    assert_eq!(
        c.ok(&["volume", "ls"]),
        "DRIVER    VOLUME NAME\nlocal     data\n"
    );
    assert_eq!(
        c.ok(&["volume", "ls", "-q", "--filter", "dangling=true"]),
        ""
    );
    // In use by a (stopped) container: rm and prune leave it.
    let (code, _, err) = c.status(&["volume", "rm", "data"]);
    assert_eq!(code, 1);
    assert!(err.contains("volume is in use"), "{err}");
    let df = c.ok(&["system", "df"]);
    assert!(df.contains("Containers      1         0"), "{df}");
    assert!(df.contains("Local Volumes   1         1"), "{df}");
    c.ok(&["rm", "wr"]);
    assert_eq!(
        c.ok(&["volume", "prune", "-f"]),
        "Total reclaimed space: 0B\n"
    );
    let pruned = c.ok(&["volume", "prune", "-a", "-f"]);
    assert!(pruned.starts_with("Deleted Volumes:\ndata\n"), "{pruned}");
    let (code, _, err) = c.status(&["volume", "inspect", "data"]);
    assert_eq!(code, 1);
    assert!(err.contains("no such volume"), "{err}");
    c.assert_clean();
}
