//! `strata sbom` on real images (Debian 12 from debootstrap, pip and npm packages, a Go and
//! a Rust binary), judged by other tools: Trivy's package list, `dpkg-query` on the same
//! root filesystem, and the SPDX and CycloneDX validators.

mod harness;
mod scan_support;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use harness::Env;
use scan_support::AppOptions;
use serde_json::Value;

/// A purl with its parts percent-decoded and its qualifiers sorted, so two tools' spellings
/// of one package compare equal (Trivy leaves `+` bare and keeps its qualifier order).
fn canonical(purl: &str) -> String {
    let decode = |s: &str| {
        let mut out = Vec::new();
        let b = s.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%'
                && i + 2 < b.len()
                && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(v);
                i += 3;
                continue;
            }
            out.push(b[i]);
            i += 1;
        }
        String::from_utf8(out).unwrap()
    };
    let (main, quals) = purl.split_once('?').unwrap_or((purl, ""));
    let mut q: Vec<String> = quals
        .split('&')
        .filter(|s| !s.is_empty())
        .map(&decode)
        .collect();
    q.sort();
    let main = decode(main);
    if q.is_empty() {
        main
    } else {
        format!("{main}?{}", q.join("&"))
    }
}

/// The qualifier `key` of a canonical purl.
fn qualifier<'a>(purl: &'a str, key: &str) -> Option<&'a str> {
    purl.split_once('?')?
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

/// `purl` without the qualifier `key`.
fn without(purl: &str, key: &str) -> String {
    let Some((main, quals)) = purl.split_once('?') else {
        return purl.to_string();
    };
    let rest: Vec<&str> = quals
        .split('&')
        .filter(|kv| !kv.starts_with(&format!("{key}=")))
        .collect();
    if rest.is_empty() {
        main.to_string()
    } else {
        format!("{main}?{}", rest.join("&"))
    }
}

/// `(name, version, canonical purl)` of every component with a purl.
fn components(doc: &Value) -> Vec<(String, String, String)> {
    doc["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| {
            let purl = c["purl"].as_str()?;
            Some((
                c["name"].as_str().unwrap().to_string(),
                c["version"].as_str().unwrap_or("").to_string(),
                canonical(purl),
            ))
        })
        .collect()
}

#[test]
fn every_package_trivy_lists_strata_lists_with_name_version_and_purl() {
    let env = Env::new();
    let (image, _) = scan_support::app(&env, &AppOptions::default());
    let archive = scan_support::save(&env, image);
    let trivy = components(&scan_support::trivy_cyclonedx(&env, &archive));
    // The same archive Trivy read (the archive input of `strata sbom`).
    let ours_doc: Value = serde_json::from_str(&env.ok(&[
        "sbom",
        "--format",
        "cyclonedx-json",
        archive.to_str().unwrap(),
    ]))
    .unwrap();
    let ours = components(&ours_doc);
    let by_purl: BTreeMap<&str, (&str, &str)> = ours
        .iter()
        .map(|(n, v, p)| (p.as_str(), (n.as_str(), v.as_str())))
        .collect();
    assert!(
        trivy.len() > 150,
        "Trivy listed only {} packages",
        trivy.len()
    );
    let mut kinds = BTreeMap::<String, usize>::new();
    for (name, version, purl) in &trivy {
        let kind = purl[4..purl.find('/').unwrap()].to_string();
        *kinds.entry(kind.clone()).or_default() += 1;
        // Explained differences, each mapped to what strata writes:
        let expected = match kind.as_str() {
            // Trivy's `distro` qualifier names the point release from etc/debian_version
            // (`debian-12.15`); strata's names os-release's VERSION_ID (`debian-12`), the
            // release OSV's `Debian:12` ecosystem is keyed by.
            "deb" => {
                let distro = qualifier(purl, "distro").unwrap();
                assert!(distro.starts_with("debian-12."), "{purl}");
                let base = without(purl, "distro");
                let sep = if base.contains('?') { '&' } else { '?' };
                format!("{base}{sep}distro=debian-12")
            }
            // This Trivy writes Rust binaries' crates with a `rustbinary` purl type; the purl
            // specification's type for crates is `cargo`.
            "rustbinary" => purl.replacen("pkg:rustbinary/", "pkg:cargo/", 1),
            // A dependency replaced by a local directory has no version; this Trivy writes
            // `(devel)` (`go version -m` prints it on the `=>` line), strata leaves the
            // version out, as current Trivy does.
            "golang" if version == "(devel)" => purl.replacen("@(devel)", "", 1),
            _ => purl.clone(),
        };
        let expected = canonical(&expected);
        let found = by_purl.get(expected.as_str());
        assert!(
            found.is_some(),
            "Trivy lists {name} {version} ({purl}); strata has no {expected}"
        );
        let (our_name, our_version) = found.unwrap();
        assert_eq!(*our_name, name, "{purl}");
        if kind == "deb" {
            // dpkg's version with the epoch (`1:2.38.1-5`); Trivy's without it (the epoch is
            // in the purl's `epoch` qualifier for both).
            let bare = our_version.split_once(':').map_or(*our_version, |(_, v)| v);
            assert_eq!(bare, version, "{purl}");
        } else if kind != "golang" || version != "(devel)" {
            assert_eq!(our_version, version, "{purl}");
        }
    }
    // Every kind the image holds was compared.
    for kind in ["deb", "pypi", "npm", "golang", "rustbinary"] {
        assert!(
            kinds.contains_key(kind),
            "Trivy listed no {kind}: {kinds:?}"
        );
    }
    // What strata lists beyond Trivy: the Go binary's main module and standard library
    // (current Trivy lists both; this build does not).
    let trivy_purls: BTreeSet<String> = trivy.iter().map(|t| t.2.clone()).collect();
    let extra: Vec<&str> = ours
        .iter()
        .filter(|(_, _, p)| p.starts_with("pkg:golang/"))
        .map(|(n, _, _)| n.as_str())
        .filter(|n| !trivy_purls.iter().any(|p| p.contains(&format!("/{n}"))))
        .collect();
    assert_eq!(extra, vec!["example.com/hello", "stdlib"]);
}

#[test]
fn a_root_filesystem_directory_lists_what_dpkg_query_lists() {
    let env = Env::new();
    let root = scan_support::debian_rootfs(&env);
    let ours: Value = serde_json::from_str(&env.ok(&[
        "sbom",
        "--format",
        "cyclonedx-json",
        root.to_str().unwrap(),
    ]))
    .unwrap();
    let ours: BTreeSet<(String, String)> = components(&ours)
        .into_iter()
        .map(|(n, v, _)| (n, v))
        .collect();
    let admindir = root.join("var/lib/dpkg");
    let listed = harness::peer(Command::new("dpkg-query").args([
        &format!("--admindir={}", admindir.display()),
        "-W",
        "-f",
        "${db:Status-Abbrev}\t${Package}\t${Version}\n",
    ]));
    let dpkg: BTreeSet<(String, String)> = listed
        .lines()
        .filter(|l| l.starts_with("ii"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect();
    assert!(dpkg.len() > 80, "{}", dpkg.len());
    assert_eq!(ours, dpkg);
}

#[test]
fn sboms_of_a_real_image_pass_the_spdx_and_cyclonedx_validators() {
    let env = Env::new();
    let (image, _) = scan_support::app(&env, &AppOptions::default());
    let venv = std::path::Path::new("/var/cache/strata-peers/pyenv/bin");
    assert!(
        venv.join("pyspdxtools").is_file(),
        "spdx-tools is missing: run scripts/install-peers.sh"
    );
    let spdx = env.path("sbom.spdx.json");
    env.ok(&[
        "sbom",
        "--format",
        "spdx-json",
        "-o",
        spdx.to_str().unwrap(),
        image,
    ]);
    harness::peer(Command::new(venv.join("pyspdxtools")).arg("-i").arg(&spdx));
    let doc: Value = serde_json::from_slice(&std::fs::read(&spdx).unwrap()).unwrap();
    assert!(doc["packages"].as_array().unwrap().len() > 150);
    for version in ["1.5", "1.6"] {
        let cdx = env.path(&format!("sbom.cdx{version}.json"));
        env.ok(&[
            "sbom",
            "--format",
            &format!("cyclonedx-json@{version}"),
            "-o",
            cdx.to_str().unwrap(),
            image,
        ]);
        let script = format!(
            "import sys\n\
             from cyclonedx.validation.json import JsonStrictValidator\n\
             from cyclonedx.schema import SchemaVersion\n\
             v = JsonStrictValidator(SchemaVersion.V{})\n\
             e = v.validate_str(open(sys.argv[1]).read())\n\
             sys.exit(str(e) if e else 0)\n",
            version.replace('.', "_")
        );
        harness::peer(
            Command::new(venv.join("python"))
                .arg("-c")
                .arg(script)
                .arg(&cdx),
        );
    }
}

#[test]
fn each_package_is_attributed_to_the_layer_and_step_that_added_it() {
    let env = Env::new();
    let (image, _) = scan_support::app(&env, &AppOptions::default());
    let doc: Value =
        serde_json::from_str(&env.ok(&["sbom", "--format", "cyclonedx-json", image])).unwrap();
    let prop = |c: &Value, name: &str| {
        c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["value"].as_str().unwrap().to_string())
    };
    let mut steps = BTreeMap::<String, BTreeSet<String>>::new();
    for c in doc["components"].as_array().unwrap() {
        let Some(purl) = c["purl"].as_str() else {
            continue;
        };
        let kind = purl[4..purl.find('/').unwrap()].to_string();
        let step = prop(c, "strata:layer:step").unwrap_or_else(|| "(base)".into());
        steps.entry(kind).or_default().insert(step);
    }
    let one = |kind: &str| -> String {
        let s = &steps[kind];
        assert_eq!(s.len(), 1, "{kind}: {s:?}");
        s.iter().next().unwrap().clone()
    };
    // The imported base has no step; each COPY its own kind.
    assert_eq!(one("deb"), "(base)");
    assert!(one("pypi").starts_with("COPY site-packages"), "{steps:?}");
    assert!(one("npm").starts_with("COPY node_modules"), "{steps:?}");
    assert!(one("golang").starts_with("COPY bin/hello-go"), "{steps:?}");
    assert!(one("cargo").starts_with("COPY bin/hello-go"), "{steps:?}");
}

#[test]
fn a_corrupt_dpkg_database_is_an_error_naming_layer_file_and_line() {
    let env = Env::new();
    scan_support::debian(&env);
    let ctx = env.path("corrupt");
    std::fs::create_dir(&ctx).unwrap();
    // A stanza line that is neither a field nor a continuation.
    std::fs::write(
        ctx.join("status"),
        "Package: a\nStatus: install ok installed\nVersion: 1.0\n\nPackage: b\nthis is not a field\n",
    )
    .unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scan-debian:12\nCOPY status /var/lib/dpkg/status\n",
    )
    .unwrap();
    env.ok(&["build", "-q", "-t", "corrupt:1", ctx.to_str().unwrap()]);
    let (code, err) = env.fails(&["sbom", "corrupt:1"]);
    assert_eq!(code, 1);
    for want in ["layer 1", "var/lib/dpkg/status", "line 6"] {
        assert!(err.contains(want), "{want} missing from: {err}");
    }
    // A name neither the store nor a registry has: said as such.
    let (_, err) = env.fails(&["sbom", "--format", "spdx-json", "localhost:1/none:1"]);
    assert!(err.contains("no such image in the local store"), "{err}");
}
