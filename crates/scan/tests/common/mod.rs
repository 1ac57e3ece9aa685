//! Shared pieces of the differential tests: a seeded generator and batched oracles.
//!
//! Each oracle is the real implementation, run once per test with every pair on its stdin
//! (`a<TAB>b` per line) and answering one line per pair: `-1`, `0`, `1`, or `E` when it
//! refuses either version. A missing oracle fails the test with the command installing it.
#![allow(dead_code)]

use std::cmp::Ordering;
use std::io::Write;
use std::process::{Command, Stdio};

/// A small seeded generator (SplitMix64): the same pairs on every run and machine.
pub struct Rng(u64);

impl Rng {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items`.
    pub fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    /// A number as a version writes it: mostly small, sometimes with leading zeros,
    /// sometimes a date or a long run.
    pub fn number(&mut self) -> String {
        match self.below(20) {
            0 => format!("0{}", self.below(10)),
            1 => format!("{}", 19_000_000 + self.below(1_000_000) * 7),
            2 => format!("{}", self.next_u64() % 1_000_000_000),
            3..=5 => "0".to_owned(),
            _ => format!("{}", self.below(12)),
        }
    }

    /// A run of `len` characters drawn from `alphabet`.
    pub fn word(&mut self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        (0..len).map(|_| chars[self.below(chars.len())]).collect()
    }
}

/// Makes `b` from `a` by one small edit, so pairs sit close together where orderings differ.
pub fn mutate(rng: &mut Rng, a: &str, extras: &[&str]) -> String {
    let chars: Vec<char> = a.chars().collect();
    match rng.below(6) {
        // Bump one digit.
        0 => {
            let digits: Vec<usize> = (0..chars.len())
                .filter(|&i| chars[i].is_ascii_digit())
                .collect();
            if digits.is_empty() {
                return format!("{a}{}", rng.pick(extras));
            }
            let i = digits[rng.below(digits.len())];
            let mut out = chars.clone();
            out[i] = char::from(b'0' + ((chars[i] as u8 - b'0' + 1) % 10));
            out.into_iter().collect()
        }
        // Append a suffix.
        1 | 2 => format!("{a}{}", rng.pick(extras)),
        // Insert a suffix in the middle.
        3 => {
            let i = 1 + rng.below(chars.len().max(1));
            let i = i.min(chars.len());
            let (head, tail): (String, String) =
                (chars[..i].iter().collect(), chars[i..].iter().collect());
            format!("{head}{}{tail}", rng.pick(extras))
        }
        // Drop the last character.
        4 if chars.len() > 1 => chars[..chars.len() - 1].iter().collect(),
        // Same string (equal pairs must stay equal).
        _ => a.to_owned(),
    }
}

/// `n` pairs from `version`, most second halves a small edit of the first (`extras` are
/// the edits' suffixes), then `dense` pairs of `dense(rng)` strings.
pub fn generated_pairs(
    rng: &mut Rng,
    n: usize,
    version: fn(&mut Rng) -> String,
    extras: &[&str],
    dense: usize,
    dense_gen: fn(&mut Rng) -> String,
) -> Vec<(String, String)> {
    let mut pairs = Vec::with_capacity(n + dense);
    for _ in 0..n {
        let a = version(rng);
        let b = if rng.chance(60) {
            mutate(rng, &a, extras)
        } else {
            version(rng)
        };
        pairs.push((a, b));
    }
    for _ in 0..dense {
        pairs.push((dense_gen(rng), dense_gen(rng)));
    }
    pairs
}

/// Pairs of real-world versions (`installed`, sorted): each with its neighbour, then
/// `random` pairs drawn at random.
pub fn installed_pairs(
    rng: &mut Rng,
    installed: &[String],
    random: usize,
) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = installed
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    for _ in 0..random {
        let (i, j) = (rng.below(installed.len()), rng.below(installed.len()));
        pairs.push((installed[i].clone(), installed[j].clone()));
    }
    pairs
}

/// Checks that `compare` is a total order on the versions of `n` pairs spread over `pairs`
/// (generated, installed and dense ones alike): sorted by it, every pairwise answer agrees
/// with the sorted positions (sorting with an intransitive order panics or misorders).
pub fn check_total(pairs: &[(String, String)], n: usize, compare: impl Fn(&str, &str) -> Ordering) {
    let step = (pairs.len() / n.max(1)).max(1);
    let mut versions: Vec<&str> = pairs
        .iter()
        .step_by(step)
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    versions.sort_by(|a, b| compare(a, b));
    for (i, a) in versions.iter().enumerate() {
        for (j, b) in versions.iter().enumerate().skip(i + 1) {
            let order = compare(a, b);
            assert!(
                order == Ordering::Equal || order == i.cmp(&j),
                "not a total order: {a:?} vs {b:?} is {order:?} but they sort at {i} and {j}"
            );
        }
    }
}

/// Our answer in the oracles' notation: `E` when we refuse either version.
pub fn answer<T, E>(a: Result<T, E>, b: Result<T, E>, order: Ordering) -> String {
    if a.is_err() || b.is_err() {
        return "E".to_owned();
    }
    sign(order).to_owned()
}

/// Panics unless `/usr/bin/python3` imports `module`, naming the package to install.
pub fn need_python_module(module: &str, package: &str) {
    let ok = Command::new("/usr/bin/python3")
        .args(["-c", &format!("import {module}")])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "the oracle needs Python's {module}: apt-get install {package} (scripts/install-peers.sh)"
    );
}

/// Runs `program args` with every pair on stdin and returns its one answer per pair.
pub fn run_oracle(
    program: &str,
    args: &[&str],
    install: &str,
    pairs: &[(String, String)],
) -> Vec<String> {
    for (a, b) in pairs {
        assert!(
            !format!("{a}{b}").contains(['\t', '\n']),
            "generator made a pair the line protocol cannot carry: {a:?} {b:?}"
        );
    }
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run the oracle {program}: {e}; install it: {install}"));
    let input: String = pairs.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Write from a thread: the oracle answers while reading, and both pipes must drain.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer
        .join()
        .expect("writer thread")
        .expect("writing pairs to the oracle");
    assert!(
        out.status.success(),
        "oracle {program} failed ({}): {}\ninstall it: {install}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let answers: Vec<String> = String::from_utf8(out.stdout)
        .expect("oracle answers are ASCII")
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        answers.len(),
        pairs.len(),
        "oracle {program} answered {} of {} pairs",
        answers.len(),
        pairs.len()
    );
    answers
}

/// An ordering in the oracles' notation.
pub fn sign(order: Ordering) -> &'static str {
    match order {
        Ordering::Less => "-1",
        Ordering::Equal => "0",
        Ordering::Greater => "1",
    }
}

/// Compares our answers with the oracle's on every pair; `quirk` names a documented
/// difference for a pair (then it is not counted as a disagreement, and is reported).
/// Panics listing the disagreements; returns how many pairs agreed.
pub fn check(
    what: &str,
    pairs: &[(String, String)],
    oracle: &[String],
    ours: impl Fn(&str, &str) -> String,
    quirk: impl Fn(&str, &str, &str) -> Option<&'static str>,
) -> usize {
    let mut agreed = 0;
    let mut quirks = 0;
    let mut wrong = Vec::new();
    for ((a, b), want) in pairs.iter().zip(oracle) {
        let got = ours(a, b);
        if &got == want {
            agreed += 1;
        } else if let Some(reason) = quirk(a, b, want) {
            quirks += 1;
            if quirks <= 3 {
                eprintln!(
                    "{what}: documented difference on {a:?} vs {b:?} (oracle {want}, ours {got}): {reason}"
                );
            }
        } else {
            wrong.push(format!("{a:?} vs {b:?}: oracle {want}, ours {got}"));
        }
    }
    eprintln!(
        "{what}: {agreed} of {} pairs agreed, {quirks} documented differences",
        pairs.len()
    );
    assert!(
        wrong.is_empty(),
        "{what}: {} disagreements with the reference, first ones:\n{}",
        wrong.len(),
        wrong
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    agreed
}
