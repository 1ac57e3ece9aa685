//! What the image-commands suite erases from a transcript before comparing the engines:
//! only what legitimately differs between two stores holding "the same" images.
//!
//! - Image and container IDs: `docker import` and `strata import` of one tar make configs
//!   with different `created` times, so different IDs. Each known ID (full, or its 12-digit
//!   short form) becomes `<img:NAME>` / `<ctr:NAME>` after the image's name, so a listing
//!   still shows *which* image is where; other 64-digit digests become `<hex64:N>`, numbered
//!   by first appearance, so equal digests stay visibly equal within one transcript.
//! - Times ("2 seconds ago", RFC 3339 stamps): the cases run seconds apart.
//! - Human sizes and JSON `Size` numbers: both engines measure a layer as its files
//!   unpacked, but strata counts a layer it loaded or pulled at its compressed size (it
//!   measures only the layers it imports, builds and commits); the sizes are judged on
//!   their own (cases that keep them).
//! - Scratch paths (the store root, dockerd's data root, the case's directory).
//! - Runs of spaces: table columns are padded to the widest cell, and the normalised tokens
//!   have other widths than the IDs and sizes they stand for.

use std::collections::BTreeMap;

/// Names of the IDs one engine holds: 64-digit hex (no `sha256:`) to `img:NAME`/`ctr:NAME`.
pub type Names = BTreeMap<String, String>;

/// Adds the lines of `images -a --no-trunc --format '{{.ID}} {{.Repository}}:{{.Tag}}'`
/// (`prefix` "img") or `ps -a --no-trunc --format '{{.ID}} {{.Names}}'` ("ctr") to `names`;
/// an ID keeps its smallest tagged name (`<none>` when it has no tag).
pub fn add_names(names: &mut Names, listing: &str, prefix: &str) {
    for line in listing.lines() {
        let Some((id, name)) = line.trim().split_once(' ') else {
            continue;
        };
        let id = id.trim_start_matches("sha256:").to_string();
        if id.len() != 64 {
            continue;
        }
        let name = if name == "<none>:<none>" {
            "<none>"
        } else {
            name
        };
        let label = format!("<{prefix}:{name}>");
        let keep = match names.get(&id) {
            None => true,
            Some(old) => old.contains("<none>") || (!label.contains("<none>") && label < *old),
        };
        if keep {
            names.insert(id, label);
        }
    }
}

/// The whole normalisation of one engine's transcript; `paths` are erased to `<path>`,
/// longest first. `keep_sizes` leaves sizes alone (the cases that judge them).
pub fn normalise(text: &str, names: &Names, paths: &[String], keep_sizes: bool) -> String {
    let mut t = text.to_string();
    let mut paths = paths.to_vec();
    paths.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in paths.iter().filter(|p| !p.is_empty()) {
        t = t.replace(p.as_str(), "<path>");
    }
    // strata has no daemon: an error of the engine is compared after the prefix dockerd's
    // client puts on it.
    t = t.replace("Error response from daemon: ", "Error: ");
    // A usage error names the program run (`"docker tag" requires …`, `See 'docker tag
    // --help'.`, `Usage:  docker tag …`).
    for prog in ["docker", "strata"] {
        for lead in ["See '", "\"", "Usage:  "] {
            t = t.replace(&format!("{lead}{prog} "), &format!("{lead}<prog> "));
        }
    }
    t = engine_specifics(&t);
    t = hex_ids(&t, names);
    t = stamps(&t);
    t = ago(&t);
    if !keep_sizes {
        t = human_sizes(&t);
        t = json_sizes(&t);
    }
    collapse_spaces(&t)
}

/// What belongs to the engine rather than the image, in inspect JSON (pretty or compact):
/// the version in `DockerVersion` (dockerd writes its own into what it imports; strata is
/// not Docker and writes none, as BuildKit and podman do) and the storage driver's host
/// paths in `GraphDriver.Data` (overlay2's dirs against strata's snapshots; the driver's
/// `Name` is still compared).
fn engine_specifics(text: &str) -> String {
    let mut t = text.to_string();
    let mut from = 0;
    while let Some(at) = t[from..].find("\"DockerVersion\":").map(|i| i + from) {
        let value = at + "\"DockerVersion\":".len();
        let open = value + t[value..].len() - t[value..].trim_start().len();
        let Some(len) = t[open..].strip_prefix('"').and_then(|r| r.find('"')) else {
            break;
        };
        t.replace_range(open..open + len + 2, "\"<engine version>\"");
        from = open;
    }
    let mut from = 0;
    while let Some(at) = t[from..].find("\"GraphDriver\":").map(|i| i + from) {
        from = at + 1;
        let Some(data) = t[at..]
            .find("\"Data\":")
            .map(|i| i + at + "\"Data\":".len())
        else {
            break;
        };
        let open = data + t[data..].len() - t[data..].trim_start().len();
        if !t[open..].starts_with('{') {
            continue;
        }
        let Some(close) = t[open..].find('}').map(|i| i + open) else {
            break;
        };
        t.replace_range(open + 1..close, "<storage paths>");
    }
    t
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_digit() || (b'a'..=b'f').contains(&c)
}

/// Replaces maximal runs of lowercase hex of length 64 or 12 (word-bounded) by names.
fn hex_ids(text: &str, names: &Names) -> String {
    let b = text.as_bytes();
    let mut out = String::new();
    let mut numbered: Vec<&str> = Vec::new();
    let (mut i, mut copied) = (0, 0);
    while i < b.len() {
        if !is_hex(b[i]) || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let end = (i..b.len()).find(|&j| !is_hex(b[j])).unwrap_or(b.len());
        let run = &text[i..end];
        let bounded = end == b.len() || !b[end].is_ascii_alphanumeric();
        let replaced = if bounded && run.len() == 64 {
            Some(names.get(run).cloned().unwrap_or_else(|| {
                let n = numbered.iter().position(|r| *r == run).unwrap_or_else(|| {
                    numbered.push(run);
                    numbered.len() - 1
                });
                format!("<hex64:{}>", n + 1)
            }))
        } else if bounded && run.len() == 12 {
            // A short ID may be all digits (one in ~280): a known ID's prefix is replaced
            // whatever its digits; an unknown run only when it cannot be a number.
            let known = names.iter().find(|(id, _)| id.starts_with(run));
            match known {
                Some((_, n)) => Some(n.clone()),
                None if run.bytes().any(|c| c.is_ascii_alphabetic()) => Some("<hex12>".to_string()),
                None => None,
            }
        } else {
            None
        };
        if let Some(r) = replaced {
            out.push_str(&text[copied..i]);
            out.push_str(&r);
            copied = end;
        }
        i = end;
    }
    out.push_str(&text[copied..]);
    out
}

/// `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM| ±HHMM ZONE]` becomes `<time>`.
fn stamps(text: &str) -> String {
    let b = text.as_bytes();
    let digits =
        |at: usize, n: usize| at + n <= b.len() && b[at..at + n].iter().all(u8::is_ascii_digit);
    let lit = |at: usize, c: u8| at < b.len() && b[at] == c;
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let stamp = digits(i, 4)
            && lit(i + 4, b'-')
            && digits(i + 5, 2)
            && lit(i + 7, b'-')
            && digits(i + 8, 2)
            && (lit(i + 10, b'T') || lit(i + 10, b' '))
            && digits(i + 11, 2)
            && lit(i + 13, b':')
            && digits(i + 14, 2)
            && lit(i + 16, b':')
            && digits(i + 17, 2);
        if !stamp {
            let end = (i + 1..=b.len())
                .find(|&e| text.is_char_boundary(e))
                .unwrap();
            out.push_str(&text[i..end]);
            i = end;
            continue;
        }
        let mut j = i + 19;
        if lit(j, b'.') {
            j += 1;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
        }
        if lit(j, b'Z') {
            j += 1;
        } else if (lit(j, b'+') || lit(j, b'-')) && digits(j + 1, 2) && lit(j + 3, b':') {
            j += 6;
        } else if lit(j, b' ') && (lit(j + 1, b'+') || lit(j + 1, b'-')) && digits(j + 2, 4) {
            j += 6;
            if lit(j, b' ') && j + 1 < b.len() && b[j + 1].is_ascii_uppercase() {
                j += 1;
                while j < b.len() && b[j].is_ascii_alphabetic() {
                    j += 1;
                }
            }
        }
        out.push_str("<time>");
        i = j;
    }
    out
}

/// Docker's relative times (`units.HumanDuration` + " ago") become `<ago>`.
fn ago(text: &str) -> String {
    let mut t = text.to_string();
    for fixed in [
        "Less than a second ago",
        "About a minute ago",
        "About an hour ago",
        "1 second ago",
    ] {
        t = t.replace(fixed, "<ago>");
    }
    // Longest numbers first, so "12 seconds" is not read as "2 seconds".
    for n in (2..=120).rev() {
        for unit in ["seconds", "minutes", "hours"] {
            t = t.replace(&format!("{n} {unit} ago"), "<ago>");
        }
    }
    t
}

/// `1.98MB`, `512 B`, `0B`, `1.2kB`, `3 MiB` become `<size>`.
fn human_sizes(text: &str) -> String {
    const UNITS: &[&str] = &["KiB", "MiB", "GiB", "kB", "KB", "MB", "GB", "TB", "B"];
    let b = text.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'));
        if starts {
            let mut j = i;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            if j + 1 < b.len() && b[j] == b'.' && b[j + 1].is_ascii_digit() {
                j += 1;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            let k = if j < b.len() && b[j] == b' ' {
                j + 1
            } else {
                j
            };
            let unit = UNITS.iter().find(|u| {
                text[k..].starts_with(*u)
                    && b.get(k + u.len())
                        .is_none_or(|c| !c.is_ascii_alphanumeric())
            });
            if let Some(u) = unit {
                out.push_str("<size>");
                i = k + u.len();
                continue;
            }
        }
        let end = (i + 1..=b.len())
            .find(|&e| text.is_char_boundary(e))
            .unwrap();
        out.push_str(&text[i..end]);
        i = end;
    }
    out
}

/// The numbers of JSON `"Size"` and `"VirtualSize"` members become `<n>`.
fn json_sizes(text: &str) -> String {
    let mut t = text.to_string();
    for key in ["\"Size\":", "\"VirtualSize\":", "\"SharedSize\":"] {
        let mut out = String::new();
        let mut rest = t.as_str();
        while let Some(at) = rest.find(key) {
            let after = at + key.len();
            out.push_str(&rest[..after]);
            let tail = &rest[after..];
            let spaces = tail.len() - tail.trim_start_matches(' ').len();
            let num = tail[spaces..]
                .bytes()
                .take_while(|c| c.is_ascii_digit() || *c == b'-')
                .count();
            out.push_str(&tail[..spaces]);
            if num > 0 {
                out.push_str("<n>");
            }
            rest = &tail[spaces + num..];
        }
        out.push_str(rest);
        t = out;
    }
    t
}

/// Runs of two or more spaces inside a line become two spaces (column padding is not
/// compared); indentation at the start of a line is kept.
fn collapse_spaces(text: &str) -> String {
    let mut out = String::new();
    let (mut run, mut indent) = (0, true);
    for c in text.chars() {
        if c == ' ' {
            run += 1;
            if indent || run <= 2 {
                out.push(c);
            }
        } else {
            run = 0;
            indent = c == '\n';
            out.push(c);
        }
    }
    out
}

#[test]
fn normalisation_keeps_what_it_must() {
    let id = "a".repeat(64);
    let mut names = Names::new();
    add_names(&mut names, &format!("sha256:{id} app:1\n"), "img");
    let text = format!(
        "app  1  {}  2 seconds ago  1.98MB\n{{\"Size\": 123, \"Created\": \"2026-12-06T08:16:02.123Z\"}} {} {}\n",
        &id[..12],
        "b".repeat(64),
        "b".repeat(64)
    );
    assert_eq!(
        normalise(&text, &names, &[], false),
        "app  1  <img:app:1>  <ago>  <size>\n{\"Size\": <n>, \"Created\": \"<time>\"} <hex64:1> <hex64:1>\n"
    );
    assert_eq!(collapse_spaces("  a    b\n    c"), "  a  b\n    c");
    // Regression: an all-digit short ID of a known image is named too.
    let digits = format!("489512486854{}", "0".repeat(52));
    add_names(&mut names, &format!("{digits} app:2\n"), "img");
    assert_eq!(
        hex_ids("app 2 489512486854 x 123456789012", &names),
        "app 2 <img:app:2> x 123456789012"
    );
    assert_eq!(
        engine_specifics(
            "\"DockerVersion\": \"20.10.24\",\n\"GraphDriver\": {\n \"Data\": {\n  \"UpperDir\": \"/x\"\n },\n \"Name\": \"overlay2\"\n}"
        ),
        "\"DockerVersion\": \"<engine version>\",\n\"GraphDriver\": {\n \"Data\": {<storage paths>},\n \"Name\": \"overlay2\"\n}"
    );
    assert_eq!(
        engine_specifics(
            r#"{"DockerVersion":"","GraphDriver":{"Data":{"A":"/a","B":"/b"},"Name":"overlay2"}}"#
        ),
        r#"{"DockerVersion":"<engine version>","GraphDriver":{"Data":{<storage paths>},"Name":"overlay2"}}"#
    );
    assert_eq!(stamps("2026-12-06 08:16:02 +0000 UTC x"), "<time> x");
    assert_eq!(ago("12 seconds ago"), "<ago>");
    assert_eq!(human_sizes("v1.2 0B 3x"), "v1.2 <size> 3x");
}
