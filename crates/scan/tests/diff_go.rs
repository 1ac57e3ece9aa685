//! Go module version order against `golang.org/x/mod/semver` itself (Debian's
//! golang-golang-x-mod-dev, run with Debian's go in GOPATH mode): `Compare` and `IsValid`
//! on thousands of generated versions, pseudo-versions, `+incompatible` and invalid ones.

mod common;

use common::{Rng, check, check_total, generated_pairs, run_oracle, sign};
use scan::version::go;

const GOPATH: &str = "/usr/share/gocode";
const INSTALL: &str =
    "apt-get install golang-go golang-golang-x-mod-dev (scripts/install-peers.sh)";

/// `Compare(a, b)/IsValid(a)/IsValid(b)` per pair.
const ORACLE: &str = r#"package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/semver"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		ab := strings.SplitN(in.Text(), "\t", 2)
		fmt.Fprintf(out, "%d/%t/%t\n", semver.Compare(ab[0], ab[1]), semver.IsValid(ab[0]), semver.IsValid(ab[1]))
	}
}
"#;

const IDS: &[&str] = &[
    "alpha",
    "beta",
    "rc",
    "0",
    "1",
    "2",
    "10",
    "pre",
    "01",
    "x-y",
    "-",
    "20191109021931",
    "daa7c04131f5",
];
const EXTRAS: &[&str] = &[
    "+incompatible",
    "-0.20200101000000-abcdefabcdef",
    ".0",
    "-pre",
    "-pre.0.20200101000000-abcdef",
    "+meta",
    "-",
    "+",
    "0",
    ".1",
    "-01",
];

fn version(rng: &mut Rng) -> String {
    let mut v = String::from(if rng.chance(95) { "v" } else { "" });
    // Sometimes beyond 64 bits: x/mod has no limit on numbers.
    if rng.chance(5) {
        v += "184467440737095516";
    }
    v += &rng.number();
    let shorthand = rng.below(10);
    if shorthand > 0 {
        v += &format!(".{}", rng.number());
    }
    if shorthand > 1 {
        v += &format!(".{}", rng.number());
    }
    if rng.chance(40) {
        v += "-";
        v += rng.pick(IDS);
        for _ in 0..rng.below(3) {
            v += ".";
            v += rng.pick(IDS);
        }
    }
    if rng.chance(15) {
        v += rng.pick(&["+incompatible", "+meta", "+build.1"]);
    }
    v
}

/// A short string over the characters Go's parser looks at.
fn dense(rng: &mut Rng) -> String {
    let n = 1 + rng.below(8);
    format!("v{}", rng.word("0019a.-+", n))
}

#[test]
fn generated_versions_agree_with_x_mod_semver() {
    assert!(
        std::path::Path::new(GOPATH)
            .join("src/golang.org/x/mod/semver/semver.go")
            .exists(),
        "golang.org/x/mod is missing: {INSTALL}"
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("go-oracle");
    std::fs::create_dir_all(&dir).expect("oracle dir");
    let source = dir.join("oracle.go");
    std::fs::write(&source, ORACLE).expect("write the oracle");
    let binary = dir.join("oracle");
    let built = std::process::Command::new("go")
        .args(["build", "-o"])
        .arg(&binary)
        .arg(&source)
        .env("GO111MODULE", "off")
        .env("GOPATH", GOPATH)
        .env("GOFLAGS", "")
        .status()
        .unwrap_or_else(|e| panic!("cannot run go: {e}; {INSTALL}"));
    assert!(built.success(), "building the Go oracle failed; {INSTALL}");

    let mut rng = Rng::new(0x90);
    let pairs = generated_pairs(&mut rng, 8000, version, EXTRAS, 4000, dense);
    let oracle = run_oracle(binary.to_str().expect("utf-8 path"), &[], INSTALL, &pairs);
    let ours = |a: &str, b: &str| {
        let (valid_a, valid_b) = (go::parse(a).is_ok(), go::parse(b).is_ok());
        format!("{}/{valid_a}/{valid_b}", sign(go::compare(a, b)))
    };
    check_total(&pairs, 300, go::compare);
    let agreed = check("go vs x/mod/semver", &pairs, &oracle, ours, |_, _, _| None);
    assert_eq!(agreed, pairs.len());
}
