//! Go: a module built here and Debian's Go binaries against `go version -m`.

use std::fs;
use std::path::Path;
use std::process::Command;

use scan::catalog::go_binary::{Search, find_buildinfo};
use scan::catalog::go_modinfo::{packages as go_packages, parse_modinfo};
use scan::catalog::{Cataloger, FileMeta};

use super::{listed, run, write};

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
