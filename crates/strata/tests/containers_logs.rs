//! Log drivers through the real binary: `logs -f` of a log that rotates underneath it
//! gets every line once and in order (where Docker's json-file follower can lose some),
//! and `none` keeps nothing. Needs root and runc; fails without.

mod harness;

use harness::rootfs::Containers;

#[test]
fn following_a_rotating_log_gets_every_line_once() {
    let c = Containers::new();
    c.ok(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        "rot",
        "--log-opt",
        "max-size=1k",
        "--log-opt",
        "max-file=20",
        "bb",
        "sh",
        "-c",
        "sleep 0.5; i=0; while [ $i -lt 150 ]; do echo l-$i; i=$((i+1)); usleep 5000; done",
    ]);
    let followed = c.ok(&["logs", "-f", "rot"]);
    let want: String = (0..150).map(|i| format!("l-{i}\n")).collect();
    assert_eq!(followed, want);
    // It did rotate: more than one file, none over the limit by more than a line.
    let dir = c.root().join("containers");
    let id = c.ok(&["inspect", "-f", "{{.Id}}", "rot"]);
    let log = dir.join(id.trim()).join("ctr.log");
    let rotated = (1..)
        .take_while(|i| log.with_extension(format!("log.{i}")).exists())
        .count();
    assert!(rotated >= 3, "{rotated} rotated files");
    assert_eq!(c.ok(&["logs", "rot"]), want);
    c.ok(&["rm", "rot"]);
    c.assert_clean();
}

#[test]
fn the_none_driver_keeps_nothing() {
    let c = Containers::new();
    let out = c.ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "quiet",
        "--log-driver",
        "none",
        "bb",
        "echo",
        "hi",
    ]);
    assert_eq!(out, "hi\n");
    let (code, err) = c.fails(&["logs", "quiet"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("configured logging driver does not support reading"),
        "{err}"
    );
    let id = c.ok(&["inspect", "-f", "{{.Id}}", "quiet"]);
    let log = c.root().join("containers").join(id.trim()).join("ctr.log");
    assert!(!log.exists(), "{} was written", log.display());
    c.ok(&["rm", "quiet"]);
    c.assert_clean();
}
