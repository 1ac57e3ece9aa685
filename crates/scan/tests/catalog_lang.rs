//! The language catalogers against the real tools on real installs:
//!
//! - Python: packages pip installs into a venv of Debian's python (wheels, an sdist-only
//!   one, `_` and uppercase names), and Debian's own `dist-packages` (egg-info files and
//!   directories), against `importlib.metadata` run by that python;
//! - Node: `npm install` of scoped, nested and conflicting packages, against
//!   `npm ls --all --json` (and the lock cataloger on the `package-lock.json` it wrote);
//! - Go: a module with a `replace`d local dependency built with `-X main.version`, the
//!   Debian-built Go binaries on this machine (cgo, external linking, the `go` tool that
//!   carries the magic in its own data), against `go version -m`;
//! - Rust: a crate built with `cargo auditable` (a runtime and a build dependency), and
//!   binaries without audit data, against `rust-audit-info`;
//! - Java: every jar in `/usr/share/java`, against `java.util.jar.JarFile`,
//!   `java.util.Properties` and `java.util.jar.Manifest` run by a one-file Java program.
//!
//! A missing tool fails the test with the command that installs it
//! (`scripts/install-peers.sh` installs them all).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use scan::catalog::go_binary::{Search, find_buildinfo};
use scan::catalog::go_modinfo::{packages as go_packages, parse_modinfo};
use scan::catalog::java::read_archive;
use scan::catalog::node::{NodeCataloger, NodeScope};
use scan::catalog::node_lock::NpmLockCataloger;
use scan::catalog::python::PythonCataloger;
use scan::catalog::rust_binary::RustBinaryCataloger;
use scan::catalog::{Cataloger, FileMeta, Reading};
use serde_json::Value;

const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// Runs a command, panicking with its stderr and `install` when it fails.
fn run(cmd: &mut Command, install: &str) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}; {install}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}\n{}\n{install}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// Every regular file under `root` (symlinks not followed), as the walker offers them.
fn files(root: &Path) -> Vec<(PathBuf, FileMeta)> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                let rel = path
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let file = FileMeta {
                    path: rel,
                    mode: meta.permissions().mode() & 0o7777,
                    size: meta.len(),
                };
                out.push((path, file));
            }
        }
    }
    out.sort_by(|a, b| a.1.path.cmp(&b.1.path));
    out
}

/// Runs `cataloger` over every file under `root` it wants.
fn catalog(cataloger: &dyn Cataloger, root: &Path) -> Vec<(String, Reading)> {
    files(root)
        .into_iter()
        .filter(|(_, meta)| cataloger.wants(meta))
        .map(|(path, meta)| {
            let mut f = fs::File::open(&path).unwrap();
            let reading = cataloger
                .read(&meta, &mut f)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (meta.path, reading)
        })
        .collect()
}

/// The packages read, `name version` per package, sorted.
fn listed(readings: &[(String, Reading)]) -> Vec<String> {
    let mut out: Vec<String> = readings
        .iter()
        .flat_map(|(_, r)| {
            r.packages
                .iter()
                .map(|p| format!("{} {}", p.name, p.version))
        })
        .collect();
    out.sort();
    out
}

fn notes(readings: &[(String, Reading)]) -> Vec<&String> {
    readings.iter().flat_map(|(_, r)| &r.notes).collect()
}

// ---------------------------------------------------------------------------------------
// Python

/// `importlib.metadata` over every directory under the root, as the cataloger walks it.
const PY_ORACLE: &str = r#"
import importlib.metadata as m, json, os, sys
out = []
for dirpath, dirnames, _ in os.walk(sys.argv[1]):
    for d in m.distributions(path=[dirpath]):
        out.append([d.metadata['Name'], d.version])
print(json.dumps(out))
"#;

fn compare_python(python: &Path, site: &Path) -> usize {
    let json = run(
        Command::new(python).args(["-c", PY_ORACLE]).arg(site),
        "the python running importlib.metadata",
    );
    let oracle: Vec<(Option<String>, Option<String>)> = serde_json::from_str(&json).unwrap();
    let mut want: Vec<String> = oracle
        .iter()
        // importlib lists a distribution whose metadata it cannot read with no name; the
        // cataloger notes it instead (checked below).
        .filter_map(|(n, v)| Some(format!("{} {}", n.as_ref()?, v.as_ref()?)))
        .collect();
    want.sort();
    let readings = catalog(&PythonCataloger, site);
    let got = listed(&readings);
    assert_eq!(
        got,
        want,
        "{}: the cataloger (left) and importlib.metadata (right) differ; notes: {:?}",
        site.display(),
        notes(&readings)
    );
    let nameless = oracle
        .iter()
        .filter(|(n, v)| n.is_none() || v.is_none())
        .count();
    assert_eq!(
        notes(&readings).len(),
        nameless,
        "{}: one note per distribution importlib cannot name: {:?}",
        site.display(),
        notes(&readings)
    );
    got.len()
}

#[test]
fn python_packages_agree_with_importlib_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    run(
        Command::new(DEBIAN_PYTHON).args(["-m", "venv"]).arg(&venv),
        "install Debian's venv: apt-get install python3-venv",
    );
    run(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--no-input",
                "--disable-pip-version-check",
                "--quiet",
            ])
            // Wheels with `_` and uppercase names, a namespace-ish dotted one, and
            // docopt, which PyPI has only as an sdist (built locally into a wheel).
            .args([
                "PyYAML==6.0.2",
                "typing_extensions==4.12.2",
                "MarkupSafe==2.1.5",
                "Jinja2==3.1.4",
                "zope.interface==7.0.3",
                "docopt==0.6.2",
            ]),
        "PyPI must be reachable for pip",
    );
    let lib = venv.join("lib");
    let site = fs::read_dir(&lib)
        .unwrap()
        .map(|e| e.unwrap().path().join("site-packages"))
        .find(|p| p.is_dir())
        .expect("the venv's site-packages");
    let n = compare_python(&venv.join("bin/python"), &site);
    assert!(
        n >= 8,
        "pip installed 6 packages besides pip and setuptools; listed {n}"
    );
    // Debian's own: egg-info directories and files, dist-info from Debian's builds.
    let n = compare_python(
        Path::new(DEBIAN_PYTHON),
        Path::new("/usr/lib/python3/dist-packages"),
    );
    assert!(
        n >= 5,
        "Debian's dist-packages hold python3-apt, -packaging, -rpm at least; listed {n}"
    );
}

// ---------------------------------------------------------------------------------------
// Node

fn npm_ls_packages(tree: &Value, out: &mut Vec<String>) {
    if let Some(deps) = tree.get("dependencies").and_then(Value::as_object) {
        for (name, dep) in deps {
            let version = dep["version"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no version in npm ls"));
            out.push(format!("{name} {version}"));
            npm_ls_packages(dep, out);
        }
    }
}

#[test]
fn node_packages_agree_with_npm_ls() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(
        dir.join("package.json"),
        r#"{"name":"lang-test","version":"1.0.0","private":true}"#,
    )
    .unwrap();
    run(
        Command::new("npm")
            .current_dir(dir)
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--save-exact",
                "--loglevel=error",
            ])
            // Scoped packages with scoped dependencies; ms@2.0.0 at the top makes npm nest
            // debug's ms@2.1.x under node_modules/debug/node_modules; rxjs, tslib and
            // @babel/runtime carry subpath helpers (`rxjs/ajax/package.json`, named
            // `rxjs/ajax` without a version; `helpers/esm/package.json`) that are no packages.
            .args([
                "@babel/code-frame@7.24.7",
                "@babel/runtime@7.24.7",
                "debug@4.3.4",
                "ms@2.0.0",
                "rxjs@7.8.1",
                "semver@7.6.2",
            ]),
        "npm and its registry must be reachable: apt-get install npm",
    );
    let json = run(
        Command::new("npm")
            .current_dir(dir)
            .args(["ls", "--all", "--json"]),
        "npm ls",
    );
    let mut want = Vec::new();
    npm_ls_packages(&serde_json::from_str(&json).unwrap(), &mut want);
    // npm ls shows a package once per dependent (deduped ones again): compare the sets.
    want.sort();
    want.dedup();
    assert!(want.iter().any(|p| p.starts_with("@babel/")), "{want:?}");
    let nested = dir.join("node_modules/debug/node_modules/ms/package.json");
    assert!(nested.is_file(), "npm was expected to nest debug's ms");
    for helper in ["rxjs/ajax", "@babel/runtime/helpers/esm"] {
        let path = dir.join("node_modules").join(helper).join("package.json");
        assert!(path.is_file(), "{} was expected", path.display());
    }

    let readings = catalog(&NodeCataloger::default(), dir);
    assert!(notes(&readings).is_empty(), "{:?}", notes(&readings));
    let mut got = listed(&readings);
    got.dedup();
    assert_eq!(
        got, want,
        "node_modules' package.json (left) against npm ls (right)"
    );

    // Trivy's scope adds the application's own manifest, nothing else.
    let everywhere = NodeCataloger {
        scope: NodeScope::Everywhere,
    };
    let mut got = listed(&catalog(&everywhere, dir));
    got.dedup();
    let mut want_everywhere = want.clone();
    want_everywhere.push("lang-test 1.0.0".to_owned());
    want_everywhere.sort();
    assert_eq!(
        got, want_everywhere,
        "every package.json (left) against npm ls and the root"
    );

    let lock = catalog(&NpmLockCataloger, dir);
    assert_eq!(lock.len(), 1, "exactly the one package-lock.json: {lock:?}");
    let mut got = listed(&lock);
    got.dedup();
    assert_eq!(got, want, "package-lock.json (left) against npm ls (right)");
}

// ---------------------------------------------------------------------------------------
// Go

/// `go version -m BINARY`: the Go version and the module lines.
fn go_version_m(binary: &Path) -> (String, Vec<String>) {
    let out = run(
        Command::new("go").arg("version").arg("-m").arg(binary),
        "install Go: apt-get install golang-go",
    );
    let mut lines = out.lines();
    let first = lines
        .next()
        .expect("go version -m prints the version first");
    let (_, version) = first.rsplit_once(": ").expect("FILE: VERSION");
    let rest = lines
        .map(|l| {
            l.strip_prefix('\t')
                .expect("module lines are indented")
                .to_owned()
        })
        .collect();
    (version.to_owned(), rest)
}

/// The cataloger's view of a binary checked against `go version -m`'s, line for line;
/// returns the parsed module text.
fn compare_go(binary: &Path) -> (String, String) {
    let (want_version, want_lines) = go_version_m(binary);
    let mut f = fs::File::open(binary).unwrap();
    let Search::Found {
        go_version,
        modinfo,
    } = find_buildinfo(&mut f).unwrap()
    else {
        panic!(
            "{}: no build information found; go version -m: {want_version}",
            binary.display()
        );
    };
    assert_eq!(go_version, want_version, "{}", binary.display());
    let got_lines: Vec<&str> = modinfo.lines().collect();
    assert_eq!(
        got_lines,
        want_lines,
        "{}: module text against go version -m",
        binary.display()
    );
    (go_version, modinfo)
}

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

#[test]
fn go_build_info_agrees_with_go_version_m() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write(
        &root.join("greet/go.mod"),
        "module example.com/greet\n\ngo 1.19\n",
    );
    write(
        &root.join("greet/greet.go"),
        "package greet\n\nfunc Hello() string { return \"hi\" }\n",
    );
    // A released module served by a file-system module proxy (the real one is not
    // reachable here), for a `dep` line with a version and a checksum.
    let proxy = root.join("proxy/example.com/lib/@v");
    write(&proxy.join("list"), "v1.4.2\n");
    write(
        &proxy.join("v1.4.2.info"),
        r#"{"Version":"v1.4.2","Time":"2024-01-02T03:04:05Z"}"#,
    );
    let lib_mod = "module example.com/lib\n\ngo 1.19\n";
    write(&proxy.join("v1.4.2.mod"), lib_mod);
    let mut zip = zip::ZipWriter::new(fs::File::create(proxy.join("v1.4.2.zip")).unwrap());
    for (name, text) in [
        ("go.mod", lib_mod),
        ("lib.go", "package lib\n\nfunc Answer() int { return 42 }\n"),
    ] {
        zip.start_file(
            format!("example.com/lib@v1.4.2/{name}"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut zip, text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    write(
        &root.join("hello/go.mod"),
        "module example.com/hello\n\ngo 1.19\n\nrequire (\n\texample.com/greet v1.0.0\n\texample.com/lib v1.4.2\n)\n\nreplace example.com/greet v1.0.0 => ../greet\n",
    );
    write(
        &root.join("hello/main.go"),
        "package main\n\nimport (\n\t\"fmt\"\n\n\t\"example.com/greet\"\n\t\"example.com/lib\"\n)\n\nvar version = \"dev\"\n\nfunc main() { fmt.Println(greet.Hello(), lib.Answer(), version) }\n",
    );
    let binary = root.join("hello/hello");
    run(
        Command::new("go")
            .current_dir(root.join("hello"))
            // The module cache in the temporary directory, writable so it can be removed.
            .env("GOPATH", root.join("gopath"))
            .env("GOFLAGS", "-mod=mod -modcacherw")
            .env(
                "GOPROXY",
                format!("file://{}", root.join("proxy").display()),
            )
            .env("GOSUMDB", "off")
            .env("GOTOOLCHAIN", "local")
            .args(["build", "-o"])
            .arg(&binary)
            .args(["-ldflags", "-X main.version=1.2.3", "."]),
        "install Go: apt-get install golang-go",
    );
    compare_go(&binary);
    // What go version -m says, turned into packages by Trivy's rules: the main module
    // (its `(devel)` replaced by the -X version given above), each dependency (replaced
    // by its `=>` target, `(devel)` meaning no version), and the standard library.
    let (go_version, lines) = go_version_m(&binary);
    let mut main = None;
    let mut deps: Vec<(String, String)> = Vec::new();
    for line in &lines {
        let f: Vec<&str> = line.split('\t').collect();
        match f[0] {
            "mod" => main = Some((f[1].to_owned(), f[2].to_owned())),
            "dep" => deps.push((f[1].to_owned(), f[2].to_owned())),
            "=>" => *deps.last_mut().unwrap() = (f[1].to_owned(), f[2].to_owned()),
            _ => {}
        }
    }
    assert_eq!(
        main,
        Some(("example.com/hello".to_owned(), "(devel)".to_owned()))
    );
    assert_eq!(deps.len(), 2, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("dep\texample.com/lib\tv1.4.2\th1:")),
        "{lines:?}"
    );
    let mut want: Vec<String> = deps
        .iter()
        .map(|(p, v)| format!("{p} {}", v.replace("(devel)", "")))
        .collect();
    want.push("example.com/hello 1.2.3".to_owned());
    want.push(format!("stdlib v{}", go_version.trim_start_matches("go")));
    want.sort();
    let meta = FileMeta {
        path: "hello".into(),
        mode: 0o755,
        size: fs::metadata(&binary).unwrap().len(),
    };
    let cataloger = scan::catalog::go_binary::GoBinaryCataloger;
    assert!(cataloger.wants(&meta));
    let reading = cataloger
        .read(&meta, &mut fs::File::open(&binary).unwrap())
        .unwrap();
    let got = listed(&[("hello".into(), reading)]);
    assert_eq!(got, want);

    // Debian's Go binaries: cgo and external linking, GOPATH builds with no module, and
    // the go tool, whose data holds the magic where no header follows.
    let mut checked = 0;
    for path in [
        "/usr/lib/go/bin/go",
        "/usr/lib/go/bin/gofmt",
        "/usr/sbin/runc",
        "/usr/bin/skopeo",
        "/usr/bin/umoci",
        "/usr/sbin/dockerd",
        "/usr/bin/docker-registry",
    ] {
        let path = Path::new(path);
        if !path.exists() {
            continue;
        }
        let (go_version, modinfo) = compare_go(path);
        // Without a main module, only the standard library is listed.
        let pkgs = go_packages(&go_version, &parse_modinfo(&modinfo));
        assert!(
            pkgs.iter().any(|p| p.name == "stdlib"),
            "{}",
            path.display()
        );
        checked += 1;
    }
    assert!(
        checked >= 3,
        "install-peers.sh installs go, runc, skopeo, umoci, dockerd"
    );
    // Executables that are not Go binaries.
    for path in ["/usr/bin/python3", "/bin/ls", "/usr/bin/node"] {
        let mut f = fs::File::open(path).unwrap();
        assert_eq!(find_buildinfo(&mut f).unwrap(), Search::NotGo, "{path}");
    }
}

// ---------------------------------------------------------------------------------------
// Rust

const RUST_INSTALL: &str = "install the peers: cargo install --locked cargo-auditable rust-audit-info (scripts/install-peers.sh)";

/// `rust-audit-info BINARY`'s runtime packages, or `None` when it finds no audit data.
fn rust_audit_info(binary: &Path) -> Option<Vec<String>> {
    let out = Command::new("rust-audit-info")
        .arg(binary)
        .output()
        .unwrap_or_else(|e| panic!("cannot run rust-audit-info: {e}; {RUST_INSTALL}"));
    if !out.status.success() {
        return None;
    }
    let json: Value = serde_json::from_slice(&out.stdout).expect("rust-audit-info prints JSON");
    let mut pkgs: Vec<String> = json["packages"]
        .as_array()
        .expect("a packages array")
        .iter()
        .filter(|p| p.get("kind").and_then(Value::as_str).unwrap_or("runtime") == "runtime")
        .map(|p| {
            format!(
                "{} {}",
                p["name"].as_str().unwrap(),
                p["version"].as_str().unwrap()
            )
        })
        .collect();
    pkgs.sort();
    Some(pkgs)
}

fn rust_catalog(binary: &Path) -> Reading {
    let meta = FileMeta {
        path: binary.to_string_lossy().trim_start_matches('/').to_owned(),
        mode: 0o755,
        size: fs::metadata(binary).unwrap().len(),
    };
    assert!(RustBinaryCataloger.wants(&meta));
    RustBinaryCataloger
        .read(&meta, &mut fs::File::open(binary).unwrap())
        .unwrap()
}

#[test]
fn rust_audit_data_agrees_with_rust_audit_info() {
    let tmp = tempfile::tempdir().unwrap();
    let krate = tmp.path().join("audited");
    write(
        &krate.join("Cargo.toml"),
        "[package]\nname = \"audited\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nitoa = \"=1.0.11\"\nryu = \"=1.0.18\"\n\n[build-dependencies]\nautocfg = \"=1.3.0\"\n\n[workspace]\n",
    );
    write(
        &krate.join("build.rs"),
        "fn main() {\n    let _ = autocfg::new;\n}\n",
    );
    write(
        &krate.join("src/main.rs"),
        "fn main() {\n    let mut a = itoa::Buffer::new();\n    let mut b = ryu::Buffer::new();\n    println!(\"{} {}\", a.format(42), b.format(1.5));\n}\n",
    );
    run(
        Command::new("cargo")
            .current_dir(&krate)
            .env("CARGO_TARGET_DIR", tmp.path().join("target"))
            .args(["auditable", "build", "--quiet"]),
        RUST_INSTALL,
    );
    let binary = tmp.path().join("target/debug/audited");
    let want = rust_audit_info(&binary).expect("rust-audit-info reads the audited binary");
    assert!(want.iter().any(|p| p.starts_with("itoa ")), "{want:?}");
    // The build dependency is in the audit data, as kind `build`, and not listed.
    let raw = run(Command::new("rust-audit-info").arg(&binary), RUST_INSTALL);
    assert!(
        raw.contains("\"autocfg\"") && raw.contains("\"build\""),
        "{raw}"
    );
    assert!(!want.iter().any(|p| p.starts_with("autocfg ")), "{want:?}");
    let reading = rust_catalog(&binary);
    assert!(reading.notes.is_empty(), "{:?}", reading.notes);
    assert_eq!(listed(&[("audited".into(), reading)]), want);

    // The audited binary cut short: no packages and no error, a note at most (its section
    // table, at the end, is gone); rust-audit-info cannot read it either.
    let data = fs::read(&binary).unwrap();
    let cut = tmp.path().join("cut");
    fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let reading = rust_catalog(&cut);
    assert!(reading.packages.is_empty(), "{reading:?}");
    assert_eq!(
        rust_audit_info(&cut),
        None,
        "rust-audit-info read the cut binary"
    );

    // Binaries without audit data: rust-audit-info finds none, nor does the cataloger.
    let home = std::env::var("HOME").unwrap();
    let rust_audit_info_bin = PathBuf::from(home).join(".cargo/bin/rust-audit-info");
    for path in [
        rust_audit_info_bin.as_path(),
        Path::new("/usr/bin/python3"),
        Path::new("/usr/sbin/runc"),
    ] {
        if !path.exists() {
            continue;
        }
        let want = rust_audit_info(path).unwrap_or_default();
        let got = listed(&[("x".into(), rust_catalog(path))]);
        assert_eq!(got, want, "{}", path.display());
    }
}

// ---------------------------------------------------------------------------------------
// Java

const JAVA_INSTALL: &str = "apt-get install default-jdk-headless libmaven3-core-java";

const JAVA_ORACLE: &str = r#"
import java.io.*;
import java.util.*;
import java.util.jar.*;

public class Oracle {
    static final String[] KEYS = {
        "Implementation-Vendor-Id", "Bundle-SymbolicName", "Implementation-Vendor",
        "Specification-Vendor", "Implementation-Title", "Specification-Title", "Bundle-Name",
        "Implementation-Version", "Specification-Version", "Bundle-Version"};

    public static void main(String[] args) throws Exception {
        PrintStream out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, "UTF-8");
        for (String path : args) {
            out.println("J\t" + path);
            try (JarFile jar = new JarFile(path, false)) {
                for (Enumeration<JarEntry> e = jar.entries(); e.hasMoreElements(); ) {
                    JarEntry entry = e.nextElement();
                    String n = entry.getName();
                    if (entry.isDirectory() || !(n.equals("pom.properties") || n.endsWith("/pom.properties"))) continue;
                    Properties p = new Properties();
                    try (InputStream in = jar.getInputStream(entry)) { p.load(in); }
                    String g = p.getProperty("groupId", "").trim();
                    String a = p.getProperty("artifactId", "").trim();
                    String v = p.getProperty("version", "").trim();
                    if (!g.isEmpty() && !a.isEmpty() && !v.isEmpty()) out.println("P\t" + g + ":" + a + " " + v);
                }
                Manifest m = jar.getManifest();
                if (m != null) {
                    for (String k : KEYS) {
                        String v = m.getMainAttributes().getValue(k);
                        if (v != null) out.println("M\t" + k + "\t" + v.trim());
                    }
                }
            }
        }
        out.flush();
    }
}
"#;

#[derive(Default, Debug)]
struct JarTruth {
    poms: Vec<String>,
    manifest: BTreeMap<String, String>,
}

#[test]
fn jar_coordinates_agree_with_java_util_jar() {
    let mut jars: Vec<PathBuf> = fs::read_dir("/usr/share/java")
        .unwrap_or_else(|e| panic!("/usr/share/java: {e}; {JAVA_INSTALL}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jar"))
        .filter(|p| !fs::symlink_metadata(p).unwrap().file_type().is_symlink())
        .collect();
    jars.sort();
    assert!(jars.len() >= 20, "Debian's maven jars: {JAVA_INSTALL}");
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("Oracle.java");
    fs::write(&src, JAVA_ORACLE).unwrap();
    // A war holding some of them in WEB-INF/lib, and a pom.properties of its own, made by
    // the JDK's jar tool.
    let webapp = tmp.path().join("webapp");
    let inner: Vec<&PathBuf> = jars
        .iter()
        .filter(|j| {
            let stem = j.file_stem().unwrap().to_string_lossy();
            ["commons-io", "commons-lang3", "guava"].contains(&&*stem)
        })
        .collect();
    assert!(
        inner.len() >= 2,
        "commons-io, commons-lang3, guava in /usr/share/java: {JAVA_INSTALL}"
    );
    for jar in &inner {
        let to = webapp.join("WEB-INF/lib").join(jar.file_name().unwrap());
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(jar, to).unwrap();
    }
    write(
        &webapp.join("META-INF/maven/com.example/webapp/pom.properties"),
        "groupId=com.example\nartifactId=webapp\nversion=1.0\n",
    );
    let war = tmp.path().join("webapp.war");
    run(
        Command::new("jar")
            .arg("cf")
            .arg(&war)
            .arg("-C")
            .arg(&webapp)
            .arg("."),
        JAVA_INSTALL,
    );
    let out = run(
        Command::new("java").arg(&src).args(&jars).arg(&war),
        JAVA_INSTALL,
    );
    let mut truth: BTreeMap<String, JarTruth> = BTreeMap::new();
    let mut current = String::new();
    for line in out.lines() {
        let mut f = line.splitn(3, '\t');
        match (f.next(), f.next(), f.next()) {
            (Some("J"), Some(path), None) => {
                current = path.to_owned();
                truth.entry(current.clone()).or_default();
            }
            (Some("P"), Some(pkg), None) => {
                truth.get_mut(&current).unwrap().poms.push(pkg.to_owned())
            }
            (Some("M"), Some(k), Some(v)) => {
                truth
                    .get_mut(&current)
                    .unwrap()
                    .manifest
                    .insert(k.to_owned(), v.to_owned());
            }
            _ => panic!("unexpected oracle line {line:?}"),
        }
    }
    let mut total_poms = 0;
    let mut fallbacks = 0;
    for jar in &jars {
        let key = jar.to_string_lossy().into_owned();
        let want = truth
            .get(&key)
            .unwrap_or_else(|| panic!("{key}: not in the oracle's output"));
        let data = fs::read(jar).unwrap();
        let archive = read_archive(&data, &key, true);
        assert!(archive.notes.is_empty(), "{key}: {:?}", archive.notes);
        let mut got: Vec<String> = archive
            .from_pom
            .iter()
            .map(|f| format!("{} {}", f.name, f.version))
            .collect();
        got.sort();
        let mut want_poms = want.poms.clone();
        want_poms.sort();
        assert_eq!(
            got, want_poms,
            "{key}: pom.properties against java.util.Properties"
        );
        total_poms += got.len();
        // The manifest attributes the fallback reads, against java.util.jar.Manifest
        // (`%…` values are localisation keys, not values: the cataloger drops them).
        let manifest = archive.manifest.clone().unwrap_or_default();
        for k in JAVA_ORACLE_KEYS {
            let want_v = want
                .manifest
                .get(*k)
                .map(String::as_str)
                .filter(|v| !v.is_empty() && !v.starts_with('%'));
            assert_eq!(manifest.get(k), want_v, "{key}: manifest {k}");
        }
        fallbacks += usize::from(archive.from_manifest.is_some());
    }
    assert!(
        total_poms >= 20,
        "Debian's maven jars carry pom.properties; found {total_poms}"
    );

    // The war: its own pom.properties and each nested jar's, as the oracle read them from
    // the war and from the jars themselves.
    let key = war.to_string_lossy().into_owned();
    let archive = read_archive(&fs::read(&war).unwrap(), &key, true);
    assert!(archive.notes.is_empty(), "{:?}", archive.notes);
    let poms = |found: &[scan::package::Found]| {
        let mut v: Vec<String> = found
            .iter()
            .map(|f| format!("{} {}", f.name, f.version))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        poms(&archive.from_pom),
        truth[&key].poms,
        "the war's own pom.properties"
    );
    assert_eq!(archive.nested.len(), inner.len());
    for (name, nested) in &archive.nested {
        let jar = inner
            .iter()
            .find(|j| name.ends_with(&*j.file_name().unwrap().to_string_lossy()))
            .unwrap_or_else(|| panic!("{name}: not one of the jars put in"));
        let mut want = truth[&*jar.to_string_lossy()].poms.clone();
        want.sort();
        assert_eq!(poms(&nested.from_pom), want, "{name} inside the war");
        assert!(
            !nested.from_pom.is_empty(),
            "{name}: Debian's jar has a pom.properties"
        );
    }
    // The cataloger lists them all.
    let meta = FileMeta {
        path: "srv/webapp.war".into(),
        mode: 0o644,
        size: fs::metadata(&war).unwrap().len(),
    };
    let cataloger = scan::catalog::java::JavaCataloger;
    assert!(cataloger.wants(&meta));
    let reading = cataloger
        .read(&meta, &mut fs::File::open(&war).unwrap())
        .unwrap();
    let listed = poms(&reading.packages);
    for (_, nested) in &archive.nested {
        for p in poms(&nested.from_pom) {
            assert!(listed.contains(&p), "{p} not listed: {listed:?}");
        }
    }
    assert!(
        listed.contains(&"com.example:webapp 1.0".to_owned()),
        "{listed:?}"
    );
    eprintln!(
        "{} jars, {total_poms} pom.properties, {fallbacks} manifest fallbacks",
        jars.len()
    );
}

const JAVA_ORACLE_KEYS: &[&str] = &[
    "Implementation-Vendor-Id",
    "Bundle-SymbolicName",
    "Implementation-Vendor",
    "Specification-Vendor",
    "Implementation-Title",
    "Specification-Title",
    "Bundle-Name",
    "Implementation-Version",
    "Specification-Version",
    "Bundle-Version",
];
