//! Running programs of another CPU architecture: which platforms this host runs, natively
//! or through QEMU user-mode emulation registered with the kernel's `binfmt_misc`, and
//! registering Debian's `qemu-user-static` handlers when asked (`system binfmt --install`,
//! as `tonistiigi/binfmt` does for Docker).
//!
//! A handler works inside a container only with the `F` (fix binary) flag: the kernel
//! opens the interpreter when it is registered, so the container's root need not hold it.
//! A handler's architecture is read from its ELF magic (class, byte order, machine), not
//! from its name, so handlers registered by any tool count.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use oci::Platform;

use crate::RuntimeError;

/// Where the kernel's `binfmt_misc` file system is mounted.
pub const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";

/// Where Debian's `qemu-user-static` ships its handlers, one `:name:type:…:flags` line a
/// file (systemd-binfmt's format).
pub const QEMU_CONF_DIR: &str = "/usr/lib/binfmt.d";

/// One registered `binfmt_misc` handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handler {
    /// Its name (the file's name under [`BINFMT_DIR`]).
    pub name: String,
    /// Whether it is enabled.
    pub enabled: bool,
    /// The interpreter the kernel runs.
    pub interpreter: String,
    /// Its flags (`F`: the interpreter is opened at registration, so it works in
    /// containers).
    pub flags: String,
    /// The architecture (Go's name) of the ELF programs its magic matches.
    pub architecture: Option<&'static str>,
}

/// Parses a handler's file (`enabled`, `interpreter …`, `flags: …`, `magic …`). Pure.
pub fn parse_handler(name: &str, text: &str) -> Handler {
    let mut h = Handler {
        name: name.to_string(),
        enabled: false,
        interpreter: String::new(),
        flags: String::new(),
        architecture: None,
    };
    for line in text.lines() {
        if line == "enabled" {
            h.enabled = true;
        } else if let Some(i) = line.strip_prefix("interpreter ") {
            h.interpreter = i.to_string();
        } else if let Some(f) = line.strip_prefix("flags: ") {
            h.flags = f.to_string();
        } else if let Some(m) = line.strip_prefix("magic ") {
            h.architecture = elf_architecture(m);
        }
    }
    h
}

/// The architecture an ELF magic (hex, from offset 0) matches: its class (byte 4), byte
/// order (5) and machine (bytes 18–19). `None` for anything else. Pure.
pub fn elf_architecture(magic_hex: &str) -> Option<&'static str> {
    let byte = |i: usize| u8::from_str_radix(magic_hex.get(2 * i..2 * i + 2)?, 16).ok();
    if (0..4).map(byte).collect::<Option<Vec<u8>>>()? != b"\x7fELF" {
        return None;
    }
    let (class, data) = (byte(4)?, byte(5)?);
    let (lo, hi) = (byte(18)?, byte(19)?);
    let machine = if data == 1 {
        u16::from_le_bytes([lo, hi])
    } else {
        u16::from_be_bytes([lo, hi])
    };
    Some(match (class, data, machine) {
        (2, 1, 0x3e) => "amd64",
        (1, 1, 0x03) => "386",
        (2, 1, 0xb7) => "arm64",
        (1, 1, 0x28) => "arm",
        (2, 1, 0x15) => "ppc64le",
        (2, 2, 0x15) => "ppc64",
        (2, 2, 0x16) => "s390x",
        (2, 1, 0xf3) => "riscv64",
        (2, 1, 0x08) => "mips64le",
        (2, 2, 0x08) => "mips64",
        (2, 1, 0x102) => "loong64",
        _ => return None,
    })
}

/// Whether a program of `architecture` runs natively on a host of `host` (a 64-bit x86
/// or Arm kernel runs its 32-bit programs too).
pub fn runs_natively(host: &str, architecture: &str) -> bool {
    host == architecture || matches!((host, architecture), ("amd64", "386") | ("arm64", "arm"))
}

/// Why a platform cannot run, given the host's architecture and the handlers registered
/// (`None`: `binfmt_misc` is not mounted). `None` when it can. Pure.
pub fn why_not(host: &str, architecture: &str, handlers: Option<&[Handler]>) -> Option<String> {
    if runs_natively(host, architecture) {
        return None;
    }
    let Some(handlers) = handlers else {
        return Some(format!("binfmt_misc is not mounted at {BINFMT_DIR}"));
    };
    let mine: Vec<&Handler> = handlers
        .iter()
        .filter(|h| h.architecture == Some(architecture))
        .collect();
    if mine.iter().any(|h| h.enabled && h.flags.contains('F')) {
        return None;
    }
    Some(match mine.first() {
        None => format!("no binfmt_misc handler for {architecture} is registered"),
        Some(h) if !h.enabled => format!(
            "the binfmt_misc handler {} is disabled (enable it: `echo 1 > {BINFMT_DIR}/{}` or \
             `update-binfmts --enable {}`)",
            h.name, h.name, h.name
        ),
        Some(h) => format!(
            "the binfmt_misc handler {} lacks the F flag (flags: {:?}), so its interpreter \
             {} cannot be found inside a container",
            h.name, h.flags, h.interpreter
        ),
    })
}

/// The handlers registered in `dir`; `None` when `binfmt_misc` is not mounted there.
pub fn handlers(dir: &Path) -> Result<Option<Vec<Handler>>, RuntimeError> {
    if !dir.join("register").exists() {
        return Ok(None);
    }
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| RuntimeError::io("list", dir, e))? {
        let e = e.map_err(|e| RuntimeError::io("list", dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if name == "register" || name == "status" {
            continue;
        }
        // A handler removed meanwhile is no handler.
        if let Ok(text) = fs::read_to_string(e.path()) {
            out.push(parse_handler(&name, &text));
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Some(out))
}

/// Checks that programs of `platform` can run here; the error says why not and how to
/// enable QEMU emulation.
pub fn check(platform: &Platform) -> Result<(), RuntimeError> {
    let host = Platform::host();
    let found = if runs_natively(&host.architecture, &platform.architecture) {
        None
    } else {
        handlers(Path::new(BINFMT_DIR))?
    };
    let Some(why) = why_not(&host.architecture, &platform.architecture, found.as_deref()) else {
        return Ok(());
    };
    Err(RuntimeError::CannotRun {
        platform: platform.to_string(),
        host: host.to_string(),
        why,
    })
}

/// The platforms this host runs: its own, what it runs natively, and every architecture
/// an enabled handler with the `F` flag emulates (`linux/<arch>`), sorted.
pub fn supported(handlers: Option<&[Handler]>) -> Vec<String> {
    let host = Platform::host();
    let mut out = vec![format!("{}/{}", host.os, host.architecture)];
    for native in ["386", "arm"] {
        if native != host.architecture && runs_natively(&host.architecture, native) {
            out.push(format!("{}/{native}", host.os));
        }
    }
    for h in handlers.unwrap_or_default() {
        if let Some(arch) = h.architecture
            && h.enabled
            && h.flags.contains('F')
        {
            out.push(format!("linux/{arch}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// One handler line of a `binfmt.d` file, with `F` added to its flags (so it works in
/// containers); `None` for comments and blank lines. Pure.
pub fn with_fix_flag(line: &str) -> Option<String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
        return None;
    }
    let sep = line.chars().next()?;
    let mut fields: Vec<&str> = line[sep.len_utf8()..].split(sep).collect();
    // name, type, offset, magic, mask, interpreter, flags
    if fields.len() < 6 {
        return None;
    }
    if fields.len() == 6 {
        fields.push("");
    }
    let flags = fields[6];
    let flags = if flags.contains('F') {
        flags.to_string()
    } else {
        format!("{flags}F")
    };
    let mut out = String::new();
    for f in &fields[..6] {
        out.push(sep);
        out.push_str(f);
    }
    out.push(sep);
    out.push_str(&flags);
    Some(out)
}

/// Registers in `dir` the QEMU handlers of `conf_dir` (`qemu-*.conf`) not registered yet,
/// with the `F` flag; mounts `binfmt_misc` on `dir` first if it is not. Returns each
/// handler's name and whether it was registered now (`false`: it was there).
pub fn install(dir: &Path, conf_dir: &Path) -> Result<Vec<(String, bool)>, RuntimeError> {
    if !dir.join("register").exists() {
        rustix::mount::mount(
            "binfmt_misc",
            dir,
            "binfmt_misc",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .map_err(|e| RuntimeError::io("mount binfmt_misc on", dir, e.into()))?;
    }
    let mut confs: Vec<PathBuf> = fs::read_dir(conf_dir)
        .map_err(|e| RuntimeError::io("list", conf_dir, e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("qemu-") && n.ends_with(".conf"))
        })
        .collect();
    confs.sort();
    if confs.is_empty() {
        return Err(RuntimeError::InvalidOptions(format!(
            "no QEMU handlers in {}: install them with `apt-get install qemu-user-static`",
            conf_dir.display()
        )));
    }
    let register = dir.join("register");
    let mut out = Vec::new();
    for conf in confs {
        let text = fs::read_to_string(&conf).map_err(|e| RuntimeError::io("read", &conf, e))?;
        for line in text.lines().filter_map(with_fix_flag) {
            let name = line[1..]
                .split(&line[..1])
                .next()
                .unwrap_or_default()
                .to_string();
            if dir.join(&name).exists() {
                out.push((name, false));
                continue;
            }
            let mut f = fs::OpenOptions::new()
                .write(true)
                .open(&register)
                .map_err(|e| RuntimeError::io("open", &register, e))?;
            f.write_all(line.as_bytes())
                .map_err(|e| RuntimeError::io("register a handler with", &register, e))?;
            out.push((name, true));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AARCH64: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\n\
        flags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\n\
        mask ffffffffffffff00fffffffffffffffffeffffff\n";

    #[test]
    fn a_handler_file_reads_as_the_kernel_writes_it() {
        let h = parse_handler("qemu-aarch64", AARCH64);
        assert_eq!(
            h,
            Handler {
                name: "qemu-aarch64".into(),
                enabled: true,
                interpreter: "/usr/libexec/qemu-binfmt/aarch64-binfmt-P".into(),
                flags: "POF".into(),
                architecture: Some("arm64"),
            }
        );
        let off = parse_handler("x", &AARCH64.replace("enabled\n", "disabled\n"));
        assert!(!off.enabled);
    }

    #[test]
    fn elf_magics_name_their_architecture() {
        for (magic, want) in [
            (
                "7f454c460201010000000000000000000200b700".to_string(),
                Some("arm64"),
            ),
            (
                "7f454c460101010000000000000000000200280000".to_string(),
                Some("arm"),
            ),
            (
                "7f454c460201010000000000000000000200150000".to_string(),
                Some("ppc64le"),
            ),
            (
                "7f454c460202010000000000000000000002001600".to_string(),
                Some("s390x"),
            ),
            (
                "7f454c460201010000000000000000000200f300".to_string(),
                Some("riscv64"),
            ),
            (
                "7f454c460101010000000000000000000200030000".to_string(),
                Some("386"),
            ),
            (
                "7f454c460201010000000000000000000200020100".to_string(),
                Some("loong64"),
            ),
            ("7f454c460201010000000000000000000200ff00".to_string(), None),
            ("cafebabe".to_string(), None),
            ("".to_string(), None),
        ] {
            assert_eq!(elf_architecture(&magic), want, "{magic}");
        }
    }

    #[test]
    fn a_platform_runs_natively_or_through_an_enabled_fix_binary_handler() {
        let arm64 = parse_handler("qemu-aarch64", AARCH64);
        let no_f = Handler {
            flags: "PO".into(),
            ..arm64.clone()
        };
        let off = Handler {
            enabled: false,
            ..arm64.clone()
        };
        for (host, arch, handlers, want) in [
            ("amd64", "amd64", None, None),
            ("amd64", "386", None, None),
            ("arm64", "arm", None, None),
            ("amd64", "arm64", None, Some("binfmt_misc is not mounted")),
            (
                "amd64",
                "arm64",
                Some(vec![]),
                Some("no binfmt_misc handler for arm64"),
            ),
            ("amd64", "arm64", Some(vec![arm64.clone()]), None),
            ("amd64", "arm64", Some(vec![no_f]), Some("lacks the F flag")),
            ("amd64", "arm64", Some(vec![off]), Some("is disabled")),
            (
                "amd64",
                "s390x",
                Some(vec![arm64.clone()]),
                Some("no binfmt_misc handler for s390x"),
            ),
        ] {
            let got = why_not(host, arch, handlers.as_deref());
            match (got, want) {
                (None, None) => {}
                (Some(g), Some(w)) => assert!(g.contains(w), "{host} {arch}: {g}"),
                (g, w) => panic!("{host} {arch}: got {g:?}, want {w:?}"),
            }
        }
    }

    #[test]
    fn installed_lines_get_the_fix_binary_flag() {
        for (line, want) in [
            (
                ":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OP",
                Some(
                    ":qemu-aarch64:M::\\x7fELF:\\xff:/usr/libexec/qemu-binfmt/aarch64-binfmt-P:OPF",
                ),
            ),
            (":a:M::m:k:/i:OPF", Some(":a:M::m:k:/i:OPF")),
            (":a:M::m:k:/i", Some(":a:M::m:k:/i:F")),
            ("# comment", None),
            ("", None),
            (":short:M", None),
        ] {
            assert_eq!(with_fix_flag(line).as_deref(), want, "{line}");
        }
    }
}
