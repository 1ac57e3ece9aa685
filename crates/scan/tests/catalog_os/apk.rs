//! apk against hand-written fixtures (apk-tools is not packaged for Debian 12).

use scan::catalog::CatalogError;
use scan::catalog::apk::Apk;

use super::{FIXTURES, read};

#[test]
fn apk_installed_db_fixture() {
    let bytes = std::fs::read(format!("{FIXTURES}/apk-installed")).unwrap();
    let reading = read(&Apk, "lib/apk/db/installed", &bytes).unwrap();
    let got: Vec<_> = reading
        .packages
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.version.as_str(),
                p.arch.as_deref(),
                p.source.clone(),
                p.licenses.clone(),
            )
        })
        .collect();
    let src = |n: &str, v: &str| Some((n.to_owned(), v.to_owned()));
    assert_eq!(
        got,
        [
            // Its origin is itself: no separate source.
            (
                "musl",
                "1.2.4-r2",
                Some("x86_64"),
                None,
                vec!["MIT".to_owned()]
            ),
            (
                "libcrypto3",
                "3.1.4-r1",
                Some("x86_64"),
                src("openssl", "3.1.4-r1"),
                vec!["Apache-2.0".to_owned()]
            ),
            (
                "ca-certificates-bundle",
                "20230506-r0",
                Some("x86_64"),
                src("ca-certificates", "20230506-r0"),
                vec!["MPL-2.0 AND MIT".to_owned()]
            ),
        ]
    );
}

#[test]
fn corrupt_apk_db_is_an_error_naming_the_line() {
    let cases: &[(&str, usize, &str)] = &[
        ("P:a\nV:1.0-r0\nnot a field\n", 3, "X:value"),
        ("P:a\nV:1.0-r0\n\nV:2.0-r0\nA:x86_64\n", 4, "no `P:`"),
        ("P:a\nA:x86_64\n", 1, "no `V:`"),
        ("P:a\nV:not a version\n", 2, "invalid"),
        ("P:a\nV:1.0-r0\nX\n", 3, "X:value"),
    ];
    for (content, line, reason) in cases {
        match read(&Apk, "lib/apk/db/installed", content.as_bytes()) {
            Err(CatalogError::Malformed {
                line: got,
                reason: why,
                ..
            }) => {
                assert_eq!(got, *line, "{content:?}: {why}");
                assert!(
                    why.contains(reason),
                    "{content:?}: {why:?} lacks {reason:?}"
                );
            }
            other => panic!("{content:?} read as {other:?}"),
        }
    }
    // Blank lines at the start, between and at the end are separators, not packages.
    let ok = read(
        &Apk,
        "lib/apk/db/installed",
        b"\n\nP:a\nV:1-r0\n\n\n\nP:b\nV:2-r0\n\n",
    )
    .unwrap();
    assert_eq!(ok.packages.len(), 2);
}
