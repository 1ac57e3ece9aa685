//! Maven's version order against Maven's own `ComparableVersion` (maven-artifact 3.8 from
//! Debian's libmaven3-core-java, run by a one-file Java program) on thousands of generated
//! versions: qualifiers and aliases, `-`/`.`/letter-digit boundaries, leading zeros, long
//! numbers.

mod common;

use common::{Rng, check, generated_pairs, run_oracle, sign};
use scan::version::maven;

const JAR: &str = "/usr/share/java/maven-artifact-3.x.jar";
const INSTALL: &str = "apt-get install libmaven3-core-java default-jdk-headless";

const ORACLE: &str = r#"
import org.apache.maven.artifact.versioning.ComparableVersion;
import java.io.*;
import java.nio.charset.StandardCharsets;

public class Oracle {
    public static void main(String[] args) throws IOException {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        StringBuilder out = new StringBuilder();
        for (String line; (line = in.readLine()) != null; ) {
            int tab = line.indexOf('\t');
            int c = new ComparableVersion(line.substring(0, tab)).compareTo(new ComparableVersion(line.substring(tab + 1)));
            out.append(c < 0 ? "-1" : c > 0 ? "1" : "0").append('\n');
        }
        System.out.print(out);
    }
}
"#;

const WORDS: &[&str] = &[
    "alpha",
    "beta",
    "milestone",
    "rc",
    "cr",
    "snapshot",
    "SNAPSHOT",
    "ga",
    "final",
    "release",
    "sp",
    "a",
    "b",
    "m",
    "RC",
    "Final",
    "foo",
    "jre",
    "android",
    "x",
    "",
];
const SEPS: &[&str] = &[".", ".", "-", "", "-", "."];
const EXTRAS: &[&str] = &[
    "-SNAPSHOT",
    ".0",
    "-1",
    "-rc1",
    ".Final",
    "-sp1",
    "a1",
    "-",
    ".",
    "0",
    "-ga",
    "b2",
    "-foo",
    "m3",
    ".RELEASE",
];

fn version(rng: &mut Rng) -> String {
    let mut v = rng.number();
    for _ in 0..rng.below(5) {
        v += rng.pick(SEPS);
        if rng.chance(55) {
            v += &rng.number();
        } else {
            v += rng.pick(WORDS);
        }
    }
    v
}

/// A short string over the characters Maven's parser splits on.
fn dense(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "0", "1", "2", "00", ".", "-", "a", "b", "m", "rc", "sp", "ga", "x", "snapshot", "final",
    ];
    let mut v = String::new();
    for _ in 0..1 + rng.below(6) {
        v += rng.pick(PIECES);
    }
    v
}

#[test]
fn generated_versions_agree_with_comparable_version() {
    assert!(
        std::path::Path::new(JAR).exists(),
        "maven-artifact is missing: {INSTALL}"
    );
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("maven-oracle");
    std::fs::create_dir_all(&dir).expect("oracle dir");
    let source = dir.join("Oracle.java");
    std::fs::write(&source, ORACLE).expect("write the oracle");

    let mut rng = Rng::new(0x3a7e4);
    let pairs = generated_pairs(&mut rng, 6000, version, EXTRAS, 4000, dense);
    let oracle = run_oracle(
        "java",
        &["-cp", JAR, source.to_str().expect("utf-8 path")],
        INSTALL,
        &pairs,
    );
    let agreed = check(
        "maven vs ComparableVersion",
        &pairs,
        &oracle,
        |a, b| sign(maven::compare(a, b)).to_owned(),
        |_, _, _| None,
    );
    assert_eq!(agreed, pairs.len());
}
