//! Python: pip into a venv of Debian's python, and Debian's dist-packages, against
//! `importlib.metadata`.

use std::fs;
use std::path::Path;
use std::process::Command;

use scan::catalog::python::PythonCataloger;

use super::{catalog, notes, run};

const DEBIAN_PYTHON: &str = "/usr/bin/python3";

/// `importlib.metadata` over every directory under the root, as the cataloger walks it:
/// name, version, and the licences by the cataloger's documented rule applied to the
/// headers as Python's email parser reads them (`License-Expression`, else `License`
/// unless `UNKNOWN`, else the `License ::` classifiers' last parts).
const PY_ORACLE: &str = r#"
import importlib.metadata as m, json, os, sys
out = []
for dirpath, dirnames, _ in os.walk(sys.argv[1]):
    for d in m.distributions(path=[dirpath]):
        md = d.metadata
        expr, lic = md.get('License-Expression'), md.get('License')
        cls = [c.split('::')[-1].strip() for c in (md.get_all('Classifier') or []) if c.startswith('License ::')]
        cls = [c for c in cls if c and c != 'OSI Approved']
        licenses = [expr] if expr else [lic] if lic and lic != 'UNKNOWN' else cls
        out.append([md['Name'], d.version, licenses])
print(json.dumps(out))
"#;

/// pkg_resources on every zipped egg in a directory: the `PKG-INFO` it reads from the egg,
/// parsed by Python's email parser.
const EGG_ORACLE: &str = r#"
import email.parser, glob, json, os, sys, pkg_resources
out = []
for egg in glob.glob(os.path.join(sys.argv[1], '*.egg')):
    for d in pkg_resources.find_distributions(egg, only=True):
        md = email.parser.HeaderParser().parsestr(d.get_metadata('PKG-INFO'))
        out.append([md['Name'], md['Version'], md['License']])
print(json.dumps(out))
"#;

/// `name version | licence; licence`, whitespace runs in licences made one space (a
/// folded `License:` holding a whole licence text is unfolded differently by each).
fn line(name: &str, version: &str, licenses: &[String]) -> String {
    let licenses: Vec<String> = licenses
        .iter()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    format!("{name} {version} | {}", licenses.join("; "))
}

fn compare_python(python: &Path, site: &Path) -> usize {
    let json = run(
        Command::new(python).args(["-c", PY_ORACLE]).arg(site),
        "the python running importlib.metadata",
    );
    type Dist = (Option<String>, Option<String>, Vec<String>);
    let oracle: Vec<Dist> = serde_json::from_str(&json).unwrap();
    let mut want: Vec<String> = oracle
        .iter()
        // importlib lists a distribution whose metadata it cannot read with no name; the
        // cataloger notes it instead (checked below).
        .filter_map(|(n, v, l)| Some(line(n.as_ref()?, v.as_ref()?, l)))
        .collect();
    want.sort();
    let readings = catalog(&PythonCataloger, site);
    let mut got: Vec<String> = readings
        .iter()
        .flat_map(|(_, r)| &r.packages)
        .map(|p| line(&p.name, &p.version, &p.licenses))
        .collect();
    got.sort();
    assert_eq!(
        got,
        want,
        "{}: the cataloger (left) and importlib.metadata (right) differ; notes: {:?}",
        site.display(),
        notes(&readings)
    );
    assert!(
        got.iter().any(|l| !l.ends_with("| ")),
        "some distributions declare a licence: {got:?}"
    );
    let nameless = oracle
        .iter()
        .filter(|(n, v, _)| n.is_none() || v.is_none())
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
    // A zipped egg built by the venv's setuptools, against pkg_resources, which reads
    // eggs (importlib.metadata does not).
    let project = tmp.path().join("eggy");
    super::write(&project.join("src/eggy/__init__.py"), "");
    super::write(
        &project.join("setup.py"),
        "from setuptools import setup\nsetup(name='Eggy_Pkg', version='0.3.1', license='MIT', packages=['eggy'], package_dir={'': 'src'})\n",
    );
    run(
        Command::new(venv.join("bin/python"))
            .current_dir(&project)
            .args(["setup.py", "-q", "bdist_egg"]),
        "the venv's setuptools builds eggs",
    );
    let json = run(
        Command::new(venv.join("bin/python"))
            .args(["-W", "ignore", "-c", EGG_ORACLE])
            .arg(project.join("dist")),
        "the venv's pkg_resources",
    );
    let mut want: Vec<String> = serde_json::from_str::<Vec<(String, String, String)>>(&json)
        .unwrap()
        .into_iter()
        .map(|(n, v, l)| line(&n, &v, &[l]))
        .collect();
    want.sort();
    assert_eq!(want.len(), 1, "one egg built: {want:?}");
    let mut got: Vec<String> = catalog(&PythonCataloger, &project.join("dist"))
        .iter()
        .flat_map(|(_, r)| &r.packages)
        .map(|p| line(&p.name, &p.version, &p.licenses))
        .collect();
    got.sort();
    assert_eq!(
        got, want,
        "the zipped egg (left) against pkg_resources (right)"
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
