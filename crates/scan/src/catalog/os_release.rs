//! The operating system from `os-release` (os-release(5)): which distribution and release
//! an image is, for purls and for choosing the vulnerability data of OS packages.
//!
//! The file is a list of `KEY=value` lines in a subset of shell syntax: values may be in
//! double quotes (where `\"`, `\\`, `\$` and `` \` `` are escapes), in single quotes
//! (literal), or bare (a backslash escapes the next character); lines starting with `#`
//! are comments. A line that is not an assignment is ignored, as systemd's parser and
//! Python's `platform.freedesktop_os_release` ignore it: os-release is read for
//! information and a stray line must not stop a scan.

use crate::package::Distro;

/// Where os-release lives, relative to the root, in order of precedence: `etc/os-release`
/// wins over `usr/lib/os-release` (os-release(5)). On Debian and Fedora `etc/os-release`
/// is a symlink to `../usr/lib/os-release`: a walk that offers regular files only must
/// fall back to the second path.
pub const PATHS: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];

/// The largest os-release worth reading (64 KiB; real ones are under 1 KiB): [`read`]
/// reads at most this much of the file into memory.
pub const MAX_SIZE: u64 = 64 * 1024;

/// Whether `path` (relative to the root) is one of the [`PATHS`].
pub fn is_os_release(path: &str) -> bool {
    PATHS.contains(&path)
}

/// Reads an os-release file from `content`: at most [`MAX_SIZE`] bytes (what follows is
/// ignored), invalid UTF-8 replaced, then [`parse`]d.
pub fn read(content: &mut dyn std::io::Read) -> std::io::Result<Distro> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(content, MAX_SIZE), &mut bytes)?;
    Ok(parse(&String::from_utf8_lossy(&bytes)))
}

/// Reads an os-release file's text. Missing fields take os-release(5)'s defaults: `ID`
/// `linux`, `PRETTY_NAME` `Linux`; an empty `VERSION_CODENAME` is none.
pub fn parse(text: &str) -> Distro {
    let mut distro = Distro {
        id: "linux".to_owned(),
        pretty_name: "Linux".to_owned(),
        ..Distro::default()
    };
    for (key, value) in assignments(text) {
        match key {
            "ID" => distro.id = value,
            "VERSION_ID" => distro.version_id = value,
            "VERSION_CODENAME" => distro.codename = (!value.is_empty()).then_some(value),
            "PRETTY_NAME" => distro.pretty_name = value,
            _ => {}
        }
    }
    distro
}

/// Every `KEY=value` assignment in `text`, values unquoted, in file order.
pub fn assignments(text: &str) -> impl Iterator<Item = (&str, String)> {
    text.lines().filter_map(|line| {
        let line = line.trim_start_matches([' ', '\t']);
        if line.starts_with('#') {
            return None;
        }
        let (key, value) = line.split_once('=')?;
        let valid_key = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !key.as_bytes()[0].is_ascii_digit();
        valid_key.then(|| (key, unquote(value)))
    })
}

/// A shell word's value: quoted and bare parts concatenated, escapes resolved, stopping at
/// the first unquoted blank (what follows would be a second word, or a comment). An
/// unterminated quote runs to the end of the line.
fn unquote(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some(e @ ('"' | '\\' | '$' | '`')) => out.push(e),
                            // Inside double quotes the shell keeps other backslashes.
                            Some(e) => {
                                out.push('\\');
                                out.push(e);
                            }
                            None => out.push('\\'),
                        },
                        c => out.push(c),
                    }
                }
            }
            '\'' => {
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    out.push(c);
                }
            }
            '\\' => {
                if let Some(e) = chars.next() {
                    out.push(e);
                }
            }
            ' ' | '\t' => break,
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_fields_of_real_releases() {
        let bookworm = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
                        VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";
        assert_eq!(
            parse(bookworm),
            Distro {
                id: "debian".into(),
                version_id: "12".into(),
                codename: Some("bookworm".into()),
                pretty_name: "Debian GNU/Linux 12 (bookworm)".into(),
            }
        );
        let alpine = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.1\nPRETTY_NAME=\"Alpine Linux v3.20\"\n";
        let d = parse(alpine);
        assert_eq!((d.id.as_str(), d.version_id.as_str()), ("alpine", "3.20.1"));
        assert_eq!(d.codename, None);
        // Debian sid has no VERSION_ID.
        let sid = "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\nID=debian\n";
        assert_eq!(parse(sid).version_id, "");
    }

    #[test]
    fn unquotes_like_a_shell() {
        let cases = [
            ("plain", "plain"),
            ("\"double quoted\"", "double quoted"),
            ("'single \\\" quoted'", "single \\\" quoted"),
            ("\"a \\\"b\\\" \\\\ \\$x \\`y\\`\"", "a \"b\" \\ $x `y`"),
            ("\"keeps \\n\"", "keeps \\n"),
            ("bare\\ escaped", "bare escaped"),
            ("\"con\"'cat'enated", "concatenated"),
            ("word # comment", "word"),
            ("\"unterminated", "unterminated"),
            ("", ""),
            ("\"\"", ""),
            ("\"utf-8 ✓\"", "utf-8 ✓"),
        ];
        for (raw, want) in cases {
            assert_eq!(unquote(raw), want, "{raw:?}");
        }
    }

    #[test]
    fn skips_comments_junk_and_bad_keys() {
        let text = "# ID=commented\n  # ID=indented comment\nnot an assignment\n\
                    1ID=digit-first\nI-D=dash\n=empty\nID=fedora\nVERSION_CODENAME=\n";
        let d = parse(text);
        assert_eq!(d.id, "fedora");
        assert_eq!(d.codename, None, "an empty codename is none");
        assert_eq!(d.pretty_name, "Linux", "os-release(5)'s default");
        assert_eq!(parse("").id, "linux", "os-release(5)'s default");
    }

    #[test]
    fn read_stops_at_the_bound() {
        let mut text = b"ID=alpine\n".to_vec();
        text.resize(MAX_SIZE as usize, b'#');
        text.extend_from_slice(b"\nID=past-the-bound\n");
        assert_eq!(read(&mut &text[..]).unwrap().id, "alpine");
        assert_eq!(read(&mut &b"ID=x\xff\n"[..]).unwrap().id, "x\u{fffd}");
    }

    #[test]
    fn a_later_assignment_wins() {
        assert_eq!(parse("ID=a\nID=b\n").id, "b");
    }

    #[test]
    fn knows_its_paths() {
        assert!(is_os_release("etc/os-release"));
        assert!(is_os_release("usr/lib/os-release"));
        assert!(!is_os_release("etc/os-release.d/x"));
        assert!(!is_os_release("/etc/os-release"));
    }
}
