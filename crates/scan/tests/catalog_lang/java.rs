//! Java: Debian's jars, and a war of them, against `java.util.jar` and
//! `java.util.Properties`.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use scan::catalog::java::read_archive;
use scan::catalog::{Cataloger, FileMeta};

use super::{run, write};

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
