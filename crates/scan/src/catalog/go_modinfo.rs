//! The module text of Go build information (`runtime/debug.BuildInfo`'s text form) and
//! the packages it lists, the way Trivy lists them (see [`super::go_binary`]).
//!
//! Lines are tab-separated: `path\tPKG`, `mod\tPATH\tVERSION\tSUM` (the main module),
//! `dep\tPATH\tVERSION\tSUM`, `=>\tPATH\tVERSION\tSUM` (the replacement of the module on
//! the line before), `build\tKEY=VALUE` (a build setting; key and value Go-quoted when
//! they hold spaces or quotes).

use crate::package::Found;
use crate::version::go as gover;

/// One module line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Module {
    /// The module path.
    pub path: String,
    /// Its version (`(devel)` for a main module built from a checkout; empty for a
    /// directory replacement).
    pub version: String,
    /// What it was replaced with (`=>`), if anything.
    pub replace: Option<Box<Module>>,
}

/// The parsed module text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModInfo {
    /// The main package's import path (`path`).
    pub path: String,
    /// The main module (`mod`), absent for binaries built outside a module (`go build
    /// file.go`) and for the Go toolchain's own binaries.
    pub main: Option<Module>,
    /// The dependencies (`dep`), in the binary's order.
    pub deps: Vec<Module>,
    /// The build settings (`build`), unquoted.
    pub settings: Vec<(String, String)>,
}

/// Parses module text leniently: unknown or short lines are skipped, as a scan should
/// list what it can from a binary rather than nothing.
pub fn parse_modinfo(text: &str) -> ModInfo {
    let mut info = ModInfo::default();
    // Which module a `=>` line replaces: the last `mod` or `dep`.
    let mut last_is_dep = false;
    for line in text.lines() {
        let Some((kind, rest)) = line.split_once('\t') else {
            continue;
        };
        let module = || {
            let mut f = rest.split('\t');
            Module {
                path: f.next().unwrap_or("").to_owned(),
                version: f.next().unwrap_or("").to_owned(),
                replace: None,
            }
        };
        match kind {
            "path" => info.path = rest.to_owned(),
            "mod" => {
                info.main = Some(module());
                last_is_dep = false;
            }
            "dep" => {
                info.deps.push(module());
                last_is_dep = true;
            }
            "=>" => {
                let target = if last_is_dep {
                    info.deps.last_mut()
                } else {
                    info.main.as_mut()
                };
                if let Some(m) = target {
                    m.replace = Some(Box::new(module()));
                }
            }
            "build" => {
                if let Some(kv) = parse_setting(rest) {
                    info.settings.push(kv);
                }
            }
            _ => {}
        }
    }
    info
}

/// The packages a binary lists: the main module (when there is one), each dependency
/// (replaced by its replacement), and `stdlib` at the Go version with a `v`.
pub fn packages(go_version: &str, info: &ModInfo) -> Vec<Found> {
    let found = |name: &str, version: &str| Found {
        name: name.to_owned(),
        version: version.to_owned(),
        ..Found::default()
    };
    let mut out = Vec::with_capacity(info.deps.len() + 2);
    if let Some(main) = info.main.as_ref().filter(|m| !m.path.is_empty()) {
        let mut version = known(&main.version).to_owned();
        let stamped = ldflags_version(&main.path, &info.settings);
        if version.is_empty() || (version.starts_with("v0.0.0") && !stamped.is_empty()) {
            version = stamped;
        }
        out.push(found(&main.path, &version));
    }
    for dep in &info.deps {
        // Old toolchains listed the main module among the deps with an empty path.
        if dep.path.is_empty() {
            continue;
        }
        let m = dep.replace.as_deref().unwrap_or(dep);
        out.push(found(&m.path, known(&m.version)));
    }
    if let Some(v) = stdlib_version(go_version) {
        out.push(found("stdlib", &v));
    }
    out
}

/// `(devel)` is no version.
fn known(version: &str) -> &str {
    if version == "(devel)" { "" } else { version }
}

/// `go1.22.3 X:boringcrypto` → `v1.22.3`; `None` for a development toolchain.
pub fn stdlib_version(go_version: &str) -> Option<String> {
    let v = go_version.strip_prefix("go")?;
    let v = v.split(' ').next().unwrap_or(v);
    (!v.is_empty()).then(|| format!("v{v}"))
}

/// A `build` setting `KEY=VALUE`, either side possibly Go-quoted.
fn parse_setting(rest: &str) -> Option<(String, String)> {
    let (key, value) = if rest.starts_with('"') {
        let (key, used) = go_unquote_prefix(rest)?;
        (key, rest[used..].strip_prefix('=')?)
    } else {
        let (k, v) = rest.split_once('=')?;
        (k.to_owned(), v)
    };
    let value = if value.starts_with('"') {
        go_unquote_prefix(value)?.0
    } else {
        value.to_owned()
    };
    Some((key, value))
}

/// Unquotes the Go string literal at the start of `s`: its value and the bytes it used.
fn go_unquote_prefix(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => {
                let (_, e) = chars.next()?;
                match e {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' | '"' | '\'' => out.push(e),
                    'x' => {
                        let hex: String =
                            (0..2).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from(u8::from_str_radix(&hex, 16).ok()?));
                    }
                    'u' => {
                        let hex: String =
                            (0..4).filter_map(|_| chars.next().map(|c| c.1)).collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    _ => return None,
                }
            }
            c => out.push(c),
        }
    }
    None
}

/// The main module's version stamped with `-ldflags '-X …version=V'`, chosen as Trivy
/// chooses: among `-X` keys ending `.version` or `.ver` whose value is a semantic
/// version, first those under `<module>/cmd/`, then those whose package is `main`,
/// `common`, `version` or `cmd`, then the rest; two in the first non-empty group make
/// the version unknown (empty).
pub fn ldflags_version(module: &str, settings: &[(String, String)]) -> String {
    let Some((_, ldflags)) = settings.iter().find(|(k, _)| k == "-ldflags") else {
        return String::new();
    };
    let mut x: Vec<(String, String)> = Vec::new();
    let words = shell_words(ldflags);
    let mut i = 0;
    while i < words.len() {
        let w = &words[i];
        let value = if w == "-X" || w == "--X" {
            i += 1;
            words.get(i).cloned()
        } else if let Some(v) = w.strip_prefix("-X=") {
            Some(v.to_owned())
        } else {
            // `-Xkey=value`, pflag's joined shorthand.
            w.strip_prefix("-X")
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        i += 1;
        // A `-X` value may hold several `k=v`, comma-separated.
        for kv in value.iter().flat_map(|v| v.split(',')) {
            if let Some((k, v)) = kv.split_once('=') {
                x.retain(|(key, _)| key != k);
                x.push((k.to_owned(), v.to_owned()));
            }
        }
    }
    let mut groups: [Vec<String>; 3] = Default::default();
    for (key, val) in x {
        let key = key.trim_start_matches('\'');
        let val = val.trim_end_matches('\'');
        let lower = key.to_ascii_lowercase();
        let is_version_key = lower.ends_with(".version") || lower.ends_with(".ver");
        let semver = gover::parse(val).is_ok() || gover::parse(&format!("v{val}")).is_ok();
        if !(is_version_key && semver) {
            continue;
        }
        let package = key.rsplit('/').next().unwrap_or(key);
        let package = package
            .split('.')
            .next()
            .unwrap_or(package)
            .to_ascii_lowercase();
        let group = if key.starts_with(&format!("{module}/cmd/")) {
            0
        } else if ["main", "common", "version", "cmd"].contains(&package.as_str()) {
            1
        } else {
            2
        };
        groups[group].push(val.to_owned());
    }
    match groups.into_iter().find(|g| !g.is_empty()) {
        Some(g) if g.len() == 1 => g[0].clone(),
        _ => String::new(),
    }
}

/// Splits a command line as a POSIX shell would (quotes and backslashes), without
/// expansions.
fn shell_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.extend(chars.next());
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listed(go: &str, text: &str) -> Vec<String> {
        packages(go, &parse_modinfo(text))
            .iter()
            .map(|f| format!("{}@{}", f.name, f.version))
            .collect()
    }

    #[test]
    fn modules_listed() {
        let text = "path\texample.com/hello\n\
                    mod\texample.com/hello\t(devel)\t\n\
                    dep\texample.com/a\tv1.2.3\th1:abc=\n\
                    dep\texample.com/b\tv0.1.0\n\
                    =>\t../b\t\t\n\
                    dep\texample.com/c\tv1.0.0\th1:x=\n\
                    =>\texample.com/c2\tv1.0.1\th1:y=\n\
                    dep\t\t(devel)\t\n\
                    junk line\n\
                    build\t-compiler=gc\n";
        assert_eq!(
            listed("go1.19.8", text),
            [
                "example.com/hello@",
                "example.com/a@v1.2.3",
                "../b@",
                "example.com/c2@v1.0.1",
                "stdlib@v1.19.8"
            ]
        );
        // No module (the go tool's own binaries, `go build file.go`): only stdlib.
        assert_eq!(
            listed("go1.22.3 X:boringcrypto", "path\tcmd/go\n"),
            ["stdlib@v1.22.3"]
        );
        assert_eq!(listed("devel go1.23-abc", ""), Vec::<String>::new());
        // A released main module keeps its version.
        assert_eq!(
            listed("go1.21.0", "mod\tgithub.com/x/y\tv1.4.0\th1:z=\n"),
            ["github.com/x/y@v1.4.0", "stdlib@v1.21.0"]
        );
    }

    #[test]
    fn settings_unquoted() {
        let info = parse_modinfo(
            "build\t-ldflags=\"-s -X 'main.version=1.2.3'\"\nbuild\t\"we\\\"ird\"=\"a\\tb\"\nbuild\tCGO_ENABLED=0\nbuild\tbroken\n",
        );
        assert_eq!(
            info.settings,
            [
                (
                    "-ldflags".to_owned(),
                    "-s -X 'main.version=1.2.3'".to_owned()
                ),
                ("we\"ird".to_owned(), "a\tb".to_owned()),
                ("CGO_ENABLED".to_owned(), "0".to_owned()),
            ]
        );
    }

    #[test]
    fn ldflags_versions() {
        let m = "github.com/o/app";
        for (ldflags, want) in [
            ("-X main.version=1.2.3", "1.2.3"),
            ("-s -w -X 'main.Version=v2.0.0'", "v2.0.0"),
            ("-X=main.version=1.0.0", "1.0.0"),
            ("-Xmain.ver=1.0.1", "1.0.1"),
            ("-X main.version=dev", ""),
            ("-X main.commit=1.2.3", ""),
            // The module's cmd group wins over `main`.
            (
                "-X main.version=1.0.0 -X github.com/o/app/cmd/app/x.version=3.0.0",
                "3.0.0",
            ),
            // Two in the same group: unknown.
            ("-X main.version=1.0.0 -X version.Version=1.0.1", ""),
            // Other packages only when nothing better.
            ("-X github.com/o/app/internal/build.Version=4.5.6", "4.5.6"),
            (
                "-X main.version=1.0.0 -X github.com/o/app/internal/build.Version=4.5.6",
                "1.0.0",
            ),
            ("-X main.version=1.0.0,main.other=x", "1.0.0"),
            ("", ""),
        ] {
            let settings = [("-ldflags".to_owned(), ldflags.to_owned())];
            assert_eq!(ldflags_version(m, &settings), want, "{ldflags}");
        }
        // The stamped version replaces `(devel)` and pseudo-versions, not releases.
        let text =
            |v: &str| format!("mod\t{m}\t{v}\t\nbuild\t-ldflags=\"-X main.version=1.2.3\"\n");
        assert_eq!(
            listed("go1.21.0", &text("(devel)"))[0],
            format!("{m}@1.2.3")
        );
        assert_eq!(
            listed("go1.21.0", &text("v0.0.0-20240101000000-abcdefabcdef"))[0],
            format!("{m}@1.2.3")
        );
        assert_eq!(
            listed("go1.21.0", &text("v1.0.0"))[0],
            format!("{m}@v1.0.0")
        );
    }

    #[test]
    fn words() {
        assert_eq!(
            shell_words(r#"-s  -X 'a b=c' "d\"e" f\ g"#),
            ["-s", "-X", "a b=c", "d\"e", "f g"]
        );
        assert!(shell_words("   ").is_empty());
    }
}
