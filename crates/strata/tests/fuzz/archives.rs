//! The archive readers behind `load` and `import`, through the `strata` binary: archives
//! whose members are edited (manifest.json, index.json, repositories, configs, layers),
//! whose bytes are flipped or cut short, and inputs that are no archive at all. A load or
//! import that fails must leave the store as it was, and its message must never carry raw
//! input bytes.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use proptest::prelude::*;

use crate::documents::{Edit, edited, edits};
use crate::harness::Env;
use crate::harness::images::rewrite;
use crate::run_cases;

/// A store holding `app:v1`, with that image saved in both docker-archive forms.
struct Fixture {
    env: Env,
    /// Docker 25+'s form, as `strata save` writes it.
    combined: Vec<u8>,
    /// The classic form (the same without `index.json` and `oci-layout`).
    classic: Vec<u8>,
}

fn fixture() -> Fixture {
    {
        let env = Env::new();
        env.ok(&[
            "import",
            env.rootfs_tar("a.tar", "a").to_str().unwrap(),
            "app:v1",
        ]);
        let path = env.path("app.tar");
        env.ok(&["save", "-o", path.to_str().unwrap(), "app:v1"]);
        let combined = std::fs::read(&path).unwrap();
        let classic = rewrite(&combined, &|name, data| {
            (!matches!(name, "index.json" | "oci-layout")).then(|| data.to_vec())
        });
        Fixture {
            env,
            combined,
            classic,
        }
    }
}

/// What a failed command must not change: the blob and ingest files, and the images.
fn snapshot(env: &Env) -> String {
    let mut files = Vec::new();
    for dir in [env.layout().blobs_dir(), env.layout().ingest_dir()] {
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p.clone());
                }
                files.push(p.strip_prefix(env.root()).unwrap().display().to_string());
            }
        }
    }
    files.sort();
    let images = env.ok(&[
        "images",
        "-a",
        "--no-trunc",
        "--format",
        "{{.Repository}}:{{.Tag}} {{.Digest}} {{.ID}} {{.Size}}",
    ]);
    format!("{}\n{images}", files.join("\n"))
}

/// Runs `strata ARGS` with `input` on stdin (bounded in time); returns whether it
/// succeeded and its stderr.
fn feed(env: &Env, args: &[&str], input: Vec<u8>) -> (bool, Vec<u8>) {
    let mut child = env
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let pid = child.id();
    let watchdog = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(60));
        pid
    });
    let out = child.wait_with_output().unwrap();
    let _ = writer.join();
    assert!(
        !watchdog.is_finished(),
        "strata {args:?} ran for more than 60 s"
    );
    (out.status.success(), out.stderr)
}

/// Feeds `input` to `strata ARGS` on the fixture's store: on failure nothing changed and
/// the message is clean text.
fn check(f: &Fixture, args: &[&str], input: Vec<u8>) -> Result<(), TestCaseError> {
    let before = snapshot(&f.env);
    let (ok, stderr) = feed(&f.env, args, input);
    let text = std::str::from_utf8(&stderr);
    prop_assert!(
        text.is_ok(),
        "strata {:?} printed bytes that are not UTF-8: {:?}",
        args,
        String::from_utf8_lossy(&stderr)
    );
    let text = text.unwrap();
    prop_assert!(
        !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t'),
        "strata {:?} printed raw control characters: {:?}",
        args,
        text
    );
    if !ok {
        prop_assert_eq!(
            snapshot(&f.env),
            before,
            "a failed {:?} changed the store: {}",
            args,
            text
        );
    }
    Ok(())
}

/// How an archive is damaged.
#[derive(Debug, Clone)]
enum Damage {
    /// One member's data edited.
    Member(prop::sample::Index, Vec<Edit>),
    /// Bytes of the archive itself flipped.
    Flip(Vec<(prop::sample::Index, u8)>),
    /// Cut short.
    Cut(prop::sample::Index),
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        4 => (any::<prop::sample::Index>(), edits()).prop_map(|(i, e)| Damage::Member(i, e)),
        1 => prop::collection::vec((any::<prop::sample::Index>(), 1u8..), 1..4).prop_map(Damage::Flip),
        1 => any::<prop::sample::Index>().prop_map(Damage::Cut),
    ]
}

fn damaged(tar: &[u8], d: &Damage) -> Vec<u8> {
    match d {
        Damage::Member(which, e) => {
            let names: Vec<String> = tar::Archive::new(tar)
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
                .collect();
            let target = names[which.index(names.len())].clone();
            rewrite(tar, &|name, data| {
                Some(if name == target {
                    edited(data.to_vec(), e)
                } else {
                    data.to_vec()
                })
            })
        }
        Damage::Flip(flips) => {
            let mut t = tar.to_vec();
            for (at, bits) in flips {
                let i = at.index(t.len());
                t[i] ^= bits;
            }
            t
        }
        Damage::Cut(at) => tar[..at.index(tar.len())].to_vec(),
    }
}

#[test]
fn damaged_archives_load_or_change_nothing() {
    let f = fixture();
    let cases = (any::<bool>(), damage(), any::<bool>());
    run_cases(300, &cases, |(classic, d, gzip)| {
        let tar = damaged(if classic { &f.classic } else { &f.combined }, &d);
        let input = if gzip {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&tar).unwrap();
            gz.finish().unwrap()
        } else {
            tar
        };
        check(&f, &["load"], input)
    });
}

#[test]
fn bad_imports_change_nothing() {
    let f = fixture();
    let cases = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        "[ -~\n]{0,400}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..2048).prop_map(|b| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&b).unwrap();
            gz.finish().unwrap()
        }),
    ];
    run_cases(300, &cases, |input| {
        check(&f, &["import", "-", "fuzz:import"], input)
    });
}
