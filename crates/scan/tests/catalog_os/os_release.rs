//! os-release against Python's `platform` parser.

use std::path::Path;
use std::process::Command;

use scan::catalog::os_release;

use super::run;

/// ID, VERSION_ID, VERSION_CODENAME, PRETTY_NAME of a file as Python's parser reads it,
/// with os-release(5)'s defaults as `freedesktop_os_release` applies them.
fn python_os_release(path: &Path) -> [String; 4] {
    let script = "import platform, sys\n\
                  with open(sys.argv[1], encoding='utf-8') as f:\n    info = platform._parse_os_release(f)\n\
                  print('\\x1f'.join([info.get('ID', 'linux'), info.get('VERSION_ID', ''), \
                  info.get('VERSION_CODENAME', ''), info.get('PRETTY_NAME', 'Linux')]))";
    let (ok, out, err) = run(
        Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(script)
            .arg(path),
        "apt-get install python3",
    );
    assert!(ok, "python3 failed on {}: {err}", path.display());
    let fields: Vec<String> = out
        .trim_end_matches('\n')
        .split('\x1f')
        .map(str::to_owned)
        .collect();
    fields.try_into().expect("four fields")
}

fn ours(text: &str) -> [String; 4] {
    let d = os_release::parse(text);
    [
        d.id,
        d.version_id,
        d.codename.unwrap_or_default(),
        d.pretty_name,
    ]
}

#[test]
fn os_release_of_this_machine_reads_as_python_reads_it() {
    for path in ["/etc/os-release", "/usr/lib/os-release"] {
        let text = std::fs::read_to_string(path).unwrap();
        assert_eq!(ours(&text), python_os_release(Path::new(path)), "{path}");
    }
    // And the public API Python's users call, which reads /etc/os-release itself.
    let script = "import platform; i = platform.freedesktop_os_release(); print(i['ID'], i.get('VERSION_ID', ''))";
    let (ok, out, err) = run(
        Command::new("/usr/bin/python3").arg("-c").arg(script),
        "apt-get install python3",
    );
    assert!(ok, "{err}");
    let d = os_release::parse(&std::fs::read_to_string("/etc/os-release").unwrap());
    assert_eq!(out.trim(), format!("{} {}", d.id, d.version_id).trim());
}

#[test]
fn os_release_quoting_reads_as_python_reads_it() {
    // Well-formed files (os-release(5)'s syntax), where Python's parser and a shell agree.
    let texts = [
        "ID=alpine\nVERSION_ID=3.20.1\nPRETTY_NAME=\"Alpine Linux v3.20\"\n",
        "# a comment\n\nID='rhel'\nVERSION_ID='9.3'\nPRETTY_NAME='Red Hat Enterprise Linux 9.3 (Plow)'\n",
        "PRETTY_NAME=\"quote \\\" dollar \\$ backslash \\\\ backtick \\`\"\nID=x\n",
        "ID=debian\nVERSION_CODENAME=trixie\nPRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n",
        "NAME=Fedora\nID=fedora\nVERSION_ID=39\nVERSION_CODENAME=\"\"\n",
        "ID=first\nID=second\nnot an assignment\n",
        "PRETTY_NAME=\"ünïcödé ✓\"\n",
        "",
    ];
    let dir = tempfile::tempdir().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let path = dir.path().join(format!("os-release-{i}"));
        std::fs::write(&path, text).unwrap();
        assert_eq!(ours(text), python_os_release(&path), "{text:?}");
    }
}
