//! Container behaviour where strata differed from the real Docker Engine (issue 9), each
//! checked through the real binary against what Docker does. Needs root and runc; fails
//! without.

mod harness;

use harness::rootfs::Containers;

/// Overlayfs links every whiteout of an upper directory to one inode: a commit of a
/// container that deleted two image files wrote one `.wh.` entry and a hard link to a path
/// that is not in the layer, so the committed image could not be used.
#[test]
fn commit_of_two_deletions_gives_a_usable_image() {
    let c = Containers::new();
    c.ok(&[
        "run", "--name", "del", "bb", "rm", "/gone", "/kept", "/dir/old",
    ]);
    c.ok(&["commit", "del", "deleted:v1"]);
    assert_eq!(
        c.ok(&[
            "run",
            "--rm",
            "deleted:v1",
            "sh",
            "-c",
            "ls /gone /kept /dir/old 2>/dev/null; echo end"
        ]),
        "end\n"
    );
    c.ok(&["rm", "del"]);
    c.assert_clean();
}
