//! Node: `npm install` against `npm ls --all --json`.

use std::fs;
use std::process::Command;

use scan::catalog::node::{NodeCataloger, NodeScope};
use scan::catalog::node_lock::NpmLockCataloger;
use serde_json::Value;

use super::{catalog, listed, notes, run};

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

/// `npm ls --long`'s packages by where they are installed: `DIR name version | licence`
/// (a licence string, or an object's `type`), each directory once.
fn npm_ls_located(tree: &Value, root: &std::path::Path, out: &mut Vec<String>) {
    if let Some(deps) = tree.get("dependencies").and_then(Value::as_object) {
        for (name, dep) in deps {
            let path = dep["path"].as_str().expect("npm ls --long gives paths");
            let dir = std::path::Path::new(path).strip_prefix(root).unwrap();
            let license = match &dep["license"] {
                Value::String(s) => s.clone(),
                Value::Object(o) => o["type"].as_str().unwrap_or("").to_owned(),
                _ => String::new(),
            };
            let version = dep["version"].as_str().unwrap_or("");
            out.push(format!("{} {name} {version} | {license}", dir.display()));
            npm_ls_located(dep, root, out);
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

    // Package by package, where npm installed it, with its licence.
    let long = run(
        Command::new("npm")
            .current_dir(dir)
            .args(["ls", "--all", "--json", "--long"]),
        "npm ls --long",
    );
    let mut want_located = Vec::new();
    let root = dir.canonicalize().unwrap();
    npm_ls_located(
        &serde_json::from_str(&long).unwrap(),
        &root,
        &mut want_located,
    );
    want_located.sort();
    want_located.dedup();
    let mut got_located: Vec<String> = readings
        .iter()
        .flat_map(|(path, r)| {
            let dir = path.strip_suffix("/package.json").unwrap().to_owned();
            r.packages
                .iter()
                .map(move |p| format!("{dir} {} {} | {}", p.name, p.version, p.licenses.join("; ")))
        })
        .collect();
    got_located.sort();
    assert_eq!(
        got_located, want_located,
        "node_modules' package.json (left) against npm ls --long (right), by directory"
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
