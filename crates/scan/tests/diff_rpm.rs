//! RPM's version order against rpm itself: `rpm.labelCompare` (python3-rpm, rpm 4.18's
//! `rpmvercmp`) on thousands of generated labels with epochs, releases, `~`, `^` and
//! separators of every kind.

mod common;

use common::{Rng, check, check_total, generated_pairs, need_python_module, run_oracle, sign};
use scan::version::rpm;

/// labelCompare on labels split the way the module documents (epoch before the first
/// `:`, release after the last `-`, absent parts `None`).
const ORACLE: &str = r#"
import sys, rpm
def label(s):
    e, _, rest = s.partition(":") if ":" in s else (None, "", s)
    v, _, r = rest.rpartition("-") if "-" in rest else (rest, "", None)
    return (e, v, r)
out = []
for line in sys.stdin.read().split("\n")[:-1]:
    a, b = line.split("\t")
    try:
        r = rpm.labelCompare(label(a), label(b))
    except ValueError:
        out.append("E")
        continue
    out.append("-1" if r < 0 else "1" if r > 0 else "0")
print("\n".join(out))
"#;

const WORDS: &[&str] = &[
    "el8",
    "el9_2",
    "fc39",
    "git",
    "rc",
    "beta",
    "a",
    "B",
    "svn20200101",
    "p",
    "post",
    "dev",
    "z",
    "Z",
    "mga9",
    "module",
];
const SEPS: &[&str] = &[".", ".", ".", "_", "+", "~", "^", "", "%", "..", "#"];
const EXTRAS: &[&str] = &[
    "~", "^", "~rc1", "^git1", ".0", "a", "_1", "-1", "-0", ".el9", "1", "0", "~~", "^^", "+",
];

fn part(rng: &mut Rng) -> String {
    let mut v = if rng.chance(85) {
        rng.number()
    } else {
        rng.pick(WORDS).to_owned()
    };
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

fn label(rng: &mut Rng) -> String {
    let mut v = String::new();
    if rng.chance(20) {
        v += &format!("{}:", rng.pick(&["0", "1", "2", "00", "10", "3"]));
    }
    v += &part(rng);
    if rng.chance(75) {
        v += "-";
        v += &part(rng);
    }
    v
}

/// A short string over the characters rpmvercmp treats specially, so `~`, `^`, separators,
/// letter/digit boundaries and leading zeros meet in every combination.
fn dense(rng: &mut Rng) -> String {
    let len = 1 + rng.below(7);
    rng.word("00019aZz~^._-:", len)
}

#[test]
fn generated_labels_agree_with_rpm_label_compare() {
    need_python_module("rpm", "python3-rpm");
    let mut rng = Rng::new(0x4e70a7);
    let pairs = generated_pairs(&mut rng, 8000, label, EXTRAS, 4000, dense);
    let oracle = run_oracle(
        "/usr/bin/python3",
        &["-c", ORACLE],
        "apt-get install python3-rpm",
        &pairs,
    );
    // rpm refuses an empty version ("invalid version"); our parse must refuse it too.
    let refused = |s: &str| {
        let empty = rpm::split(s).version.is_empty();
        assert!(
            rpm::parse(s).is_err() || !empty,
            "{s:?} has an empty version but parses"
        );
        empty
    };
    let ours = |a: &str, b: &str| {
        if refused(a) || refused(b) {
            return "E".to_owned();
        }
        sign(rpm::compare(a, b)).to_owned()
    };
    check_total(&pairs, 300, rpm::compare);
    let agreed = check(
        "rpm vs rpm.labelCompare",
        &pairs,
        &oracle,
        ours,
        |_, _, _| None,
    );
    assert_eq!(agreed, pairs.len());
}
