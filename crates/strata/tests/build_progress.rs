//! The build's progress as BuildKit shows it: on a terminal the live view (`[+] Building
//! 1.2s (3/3) FINISHED`, a line and a timer per step, each cache miss with its reason,
//! redrawn in place), in a pipe or with `--progress plain` the plain log. The terminal is
//! a real pseudo-terminal from util-linux's `script`. Needs root and runc; fails without.

mod harness;

use harness::require;
use harness::rootfs::Containers;

/// `strata ARGS` on a pseudo-terminal; what it wrote there, carriage returns removed.
fn on_terminal(c: &Containers, args: &[&str]) -> String {
    let script = require("script");
    let mut line = format!(
        "STRATA_ROOT={} {}",
        c.root().display(),
        env!("CARGO_BIN_EXE_strata")
    );
    for a in args {
        line.push(' ');
        line.push_str(&format!("'{a}'"));
    }
    let out = std::process::Command::new(script)
        .args(["-qfec", &line, "/dev/null"])
        .env("HOME", c.path(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).replace('\r', "")
}

/// The last frame of the live view: what follows the last cursor-up.
fn last_frame(text: &str) -> Vec<String> {
    let start = text.rfind("A\x1b[K[+] Building").map_or(0, |i| i + 1);
    text[start..]
        .lines()
        .map(|l| l.replace("\x1b[K", "").replace("\x1b[J", ""))
        .filter(|l| l.starts_with("[+]") || l.starts_with(" => "))
        .collect()
}

#[test]
fn a_terminal_gets_the_live_view_and_a_pipe_the_plain_log() {
    let c = Containers::new();
    let ctx = c.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("f"), "1").unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM bb\nCOPY f /f\nRUN echo one; sleep 0.3; echo two\n",
    )
    .unwrap();
    let dir = ctx.to_str().unwrap();
    let text = on_terminal(&c, &["build", "-t", "live", dir]);
    // Redrawn in place: the block moves the cursor up over its last frame.
    assert!(text.contains("\x1b[K[+] Building"), "{text:?}");
    assert!(text.matches("[+] Building").count() >= 2, "{text:?}");
    let frame = last_frame(&text);
    assert!(
        frame[0].starts_with("[+] Building ") && frame[0].ends_with(" (3/3) FINISHED"),
        "{frame:#?}"
    );
    // Each step's line starts as BuildKit's does; the timers are on the right.
    let want = [
        " => [1/3] FROM bb ",
        " => [2/3] COPY f /f ",
        " => => cache miss: not in the cache",
        " => [3/3] RUN echo one; sleep 0.3; echo two ",
        " => => cache miss: not in the cache",
        " => exporting to image ",
        " => => writing image sha256:",
        " => => naming to docker.io/library/live:latest ",
    ];
    assert_eq!(frame.len(), want.len() + 1, "{frame:#?}");
    for (got, want) in frame[1..].iter().zip(want) {
        assert!(
            got.starts_with(want),
            "{got:?} does not start with {want:?}"
        );
    }
    for got in [&frame[1], &frame[2], &frame[4]] {
        assert!(got.ends_with('s'), "a timer ends {got:?}");
    }
    // The output of a finished step is collapsed away.
    assert!(!frame.iter().any(|l| l.contains("# two")), "{frame:#?}");
    // A changed input: the step says which file, and the cached ones say CACHED.
    std::fs::write(ctx.join("f"), "2").unwrap();
    let frame = last_frame(&on_terminal(&c, &["build", "-t", "live", dir]));
    assert!(frame[1].starts_with(" => [1/3] FROM bb"), "{frame:#?}");
    assert!(
        frame[3].starts_with(" => => cache miss: changed: /f"),
        "{frame:#?}"
    );
    // `--progress plain` on a terminal, and any pipe: BuildKit's plain log, no escapes.
    let plain = on_terminal(&c, &["build", "--progress", "plain", "-t", "live", dir]);
    assert!(plain.contains("#1 [1/3] FROM bb\n"), "{plain:?}");
    assert!(!plain.contains('\x1b'), "{plain:?}");
    let out = c.cmd(&["build", "-t", "live", dir]).output().unwrap();
    let piped = String::from_utf8_lossy(&out.stderr);
    assert!(
        piped.contains("#1 [1/3] FROM bb\n") && piped.contains("CACHED"),
        "{piped}"
    );
    assert!(!piped.contains('\x1b'), "{piped:?}");
}
