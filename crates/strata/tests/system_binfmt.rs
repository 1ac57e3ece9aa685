//! `system binfmt --install` registers Debian's QEMU handlers with the F flag, after which
//! a foreign (arm64) program runs; before it, the status says the platform is missing.
//! All of it happens in a user namespace of the test's own (since Linux 6.7 each user
//! namespace mounts its own binfmt_misc instance), so the host's settings are never
//! touched. Needs `unshare` and qemu-user-static; fails without.

use std::process::Command;

/// A static arm64 Linux program that exits with code 42: an ELF header, one loadable
/// segment, and three instructions (`mov x0, #42; mov x8, #93 (exit); svc #0`).
fn arm64_exit_42() -> Vec<u8> {
    const BASE: u64 = 0x40_0000;
    const CODE_AT: u64 = 64 + 56;
    let code: [u32; 3] = [0xd280_0540, 0xd280_0ba8, 0xd400_0001];
    let total = CODE_AT + 4 * code.len() as u64;
    let mut b = Vec::new();
    b.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    b.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    b.extend_from_slice(&0xb7u16.to_le_bytes()); // EM_AARCH64
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&(BASE + CODE_AT).to_le_bytes()); // entry
    b.extend_from_slice(&64u64.to_le_bytes()); // program headers
    b.extend_from_slice(&0u64.to_le_bytes()); // no section headers
    b.extend_from_slice(&0u32.to_le_bytes());
    for v in [64u16, 56, 1, 0, 0, 0] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    b.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    b.extend_from_slice(&5u32.to_le_bytes()); // R+X
    for v in [0, BASE, BASE, total, total, 0x1000u64] {
        b.extend_from_slice(&v.to_le_bytes());
    }
    for c in code {
        b.extend_from_slice(&c.to_le_bytes());
    }
    assert_eq!(b.len() as u64, total);
    b
}

#[test]
fn install_registers_qemu_and_a_foreign_program_runs() {
    assert!(
        std::path::Path::new("/usr/lib/binfmt.d/qemu-aarch64.conf").exists(),
        "qemu-user-static is not installed (apt-get install qemu-user-static)"
    );
    let dir = tempfile::tempdir().unwrap();
    let prog = dir.path().join("exit42");
    std::fs::write(&prog, arm64_exit_42()).unwrap();
    std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let strata = env!("CARGO_BIN_EXE_strata");
    let script = format!(
        "set -e\n\
         {strata} system binfmt\n\
         echo ---\n\
         {strata} system binfmt --install | grep -E 'qemu-aarch64|linux/arm64'\n\
         echo ---\n\
         {strata} system binfmt --install | grep 'qemu-aarch64:'\n\
         echo ---\n\
         set +e; {prog}; echo \"exit $?\"",
        prog = prog.display()
    );
    let out = Command::new("unshare")
        .args([
            "--user",
            "--map-root-user",
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .expect("unshare (util-linux)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parts: Vec<&str> = stdout.split("---\n").collect();
    assert_eq!(parts.len(), 4, "{stdout}");
    // Before: a fresh instance (not even mounted) emulates nothing.
    let before: serde_json::Value = serde_json::from_str(parts[0]).unwrap();
    assert!(
        !before["supported"]
            .as_array()
            .unwrap()
            .contains(&"linux/arm64".into()),
        "{before}"
    );
    assert_eq!(before["emulators"], serde_json::json!([]));
    // Install: registered now, and listed as supported.
    assert_eq!(
        parts[1], "installing: qemu-aarch64 OK\n    \"linux/arm64\",\n    \"qemu-aarch64\",\n",
        "{stdout}"
    );
    // Again: already there, nothing registered twice.
    assert_eq!(parts[2], "qemu-aarch64: already registered\n", "{stdout}");
    // The arm64 program runs under QEMU.
    assert_eq!(parts[3], "exit 42\n", "{stdout}");
}
