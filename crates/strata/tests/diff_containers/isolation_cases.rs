//! What the container sees of its isolation, from the `docker run` reference: bind mounts,
//! named volumes and `--mount`, `--tmpfs`, `--read-only`, resource limits read back from the
//! cgroup files, `--init`, capabilities, seccomp, masked and read-only kernel paths,
//! `--sysctl` and the devices in `/dev`.

use super::case::{Case, code, out, script};
use super::side::{Cmp, Side};

/// Prints the mount point, its options, the filesystem type and the superblock options of
/// `$1` from mountinfo (the source differs legitimately: overlay and store paths).
const MOUNT_OF: &str = "busybox awk -v m=\"$1\" '$5==m {i=7; while ($i != \"-\") i++; print $5, $6, $(i+1), $(i+3)}' /proc/self/mountinfo";

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // Bind mounts and volumes.
    script("bind_mount_rw", bind_mount_rw),
    script("bind_mount_ro", bind_mount_ro),
    script("bind_mount_missing_host_dir_created", bind_missing_host_dir),
    script("bind_mount_file", bind_mount_file),
    script("named_volume_persists", named_volume_persists),
    script("named_volume_copies_image_content", named_volume_copies_image_content),
    script("named_volume_ro", named_volume_ro),
    script("anonymous_volume_from_image", anonymous_volume_from_image),
    script("anonymous_volume_flag", anonymous_volume_flag),
    script("mount_flag_bind", mount_flag_bind),
    script("mount_flag_volume", mount_flag_volume),
    out("mount_flag_tmpfs", &["run", "--rm", "--mount", "type=tmpfs,destination=/t", "bb", "sh", "-c", "touch /t/x && ls /t"]),
    code("volume_relative_container_path", &["run", "--rm", "-v", "/tmp:rel", "bb", "true"]),
    code("volume_bad_mode", &["run", "--rm", "-v", "/tmp:/mnt:bogus", "bb", "true"]),
    script("inspect_mounts_bind_and_volume", inspect_mounts),
    script("inspect_mounts_json", inspect_mounts_json),
    script("inspect_mount_flags", inspect_mount_flags),
    out("read_only_volume_still_writable", &["run", "--rm", "--read-only", "-v", "/data", "bb", "sh", "-c", "touch /data/x && echo ok"]),
    out("tmpfs_noexec", &["run", "--rm", "--tmpfs", "/t:exec", "bb", "sh", "-c", "cp /bin/busybox /t/bb 2>/dev/null || cat /bin/busybox > /t/bb; busybox chmod +x /t/bb; /t/bb true; echo $?"]),
    // tmpfs and read-only.
    out("tmpfs_flag_writable", &["run", "--rm", "--tmpfs", "/t", "bb", "sh", "-c", "touch /t/x && ls /t && ls -ld /t | busybox cut -c1-10"]),
    out("tmpfs_flag_options", &["run", "--rm", "--tmpfs", "/t:size=1m,mode=1777", "bb", "sh", "-c", "ls -ld /t | busybox cut -c1-10; busybox df -k /t | busybox awk 'NR==2 {print $2}'"]),
    out("tmpfs_mountinfo", &["run", "--rm", "--tmpfs", "/t", "bb", "sh", "-c", MOUNT_OF, "sh", "/t"]),
    out("read_only_root", &["run", "--rm", "--read-only", "bb", "sh", "-c", "touch /x 2>/dev/null; echo $?"]),
    out("read_only_with_tmpfs", &["run", "--rm", "--read-only", "--tmpfs", "/tmp", "bb", "sh", "-c", "touch /tmp/x && echo ok"]),
    out("read_only_dev_shm_writable", &["run", "--rm", "--read-only", "bb", "sh", "-c", "touch /dev/shm/x && echo ok"]),
    out("read_only_etc_files_writable", &["run", "--rm", "--read-only", "bb", "sh", "-c", "echo x >> /etc/hosts && echo ok"]),
    out("dev_shm_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/dev/shm"]),
    out("root_mount_options", &["run", "--rm", "--read-only", "bb", "sh", "-c", "busybox awk '$5==\"/\" {print $6}' /proc/self/mountinfo"]),
    out("proc_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/proc"]),
    out("sys_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/sys"]),
    out("dev_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/dev"]),
    out("dev_pts_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/dev/pts"]),
    out("dev_mqueue_mount", &["run", "--rm", "bb", "sh", "-c", MOUNT_OF, "sh", "/dev/mqueue"]),
    out("mount_points", &["run", "--rm", "bb", "busybox", "awk", "{print $5}", "/proc/self/mountinfo"]),
    out("dev_listing", &["run", "--rm", "bb", "ls", "-A", "/dev"]),
    out("dev_null_usable", &["run", "--rm", "bb", "sh", "-c", "echo x > /dev/null && busybox head -c 4 /dev/zero | wc -c"]),
    // Resource limits, read back from the cgroup files (cgroup v1 here).
    out("memory_limit", &["run", "--rm", "-m", "64m", "bb", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]),
    out("memory_default_unlimited", &["run", "--rm", "bb", "cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]),
    code("memory_below_minimum", &["run", "--rm", "-m", "1k", "bb", "true"]),
    out("cpus_quota", &["run", "--rm", "--cpus", "0.5", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu/cpu.cfs_period_us"]),
    out("cpus_default", &["run", "--rm", "bb", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"]),
    code("cpus_too_many", &["run", "--rm", "--cpus", "512", "bb", "true"]),
    out("pids_limit", &["run", "--rm", "--pids-limit", "50", "bb", "cat", "/sys/fs/cgroup/pids/pids.max"]),
    out("pids_default", &["run", "--rm", "bb", "cat", "/sys/fs/cgroup/pids/pids.max"]),
    out("pids_unlimited", &["run", "--rm", "--pids-limit", "-1", "bb", "cat", "/sys/fs/cgroup/pids/pids.max"]),
    out("cgroup_namespace_view", &["run", "--rm", "bb", "cat", "/proc/self/cgroup"]),
    // --init.
    out("pid_one_without_init", &["run", "--rm", "bb", "sh", "-c", "echo $$"]),
    out("init_command_not_pid_one", &["run", "--rm", "--init", "bb", "sh", "-c", "test $$ -ne 1 && echo not pid 1"]),
    out("init_binary_name", &["run", "--rm", "--init", "bb", "sh", "-c", "cat /proc/1/cmdline | busybox tr '\\0' ' '"]),
    // Capabilities, seccomp, no_new_privs.
    out("caps_default", &["run", "--rm", "bb", "busybox", "grep", "^Cap", "/proc/self/status"]),
    out("caps_non_root", &["run", "--rm", "-u", "app", "bb", "busybox", "grep", "^Cap", "/proc/self/status"]),
    out("cap_add", &["run", "--rm", "--cap-add", "NET_ADMIN", "--cap-add", "sys_time", "bb", "busybox", "grep", "^CapEff", "/proc/self/status"]),
    out("cap_drop", &["run", "--rm", "--cap-drop", "CHOWN", "--cap-drop", "CAP_KILL", "bb", "busybox", "grep", "^CapEff", "/proc/self/status"]),
    out("cap_drop_all", &["run", "--rm", "--cap-drop", "ALL", "bb", "busybox", "grep", "^Cap", "/proc/self/status"]),
    out("cap_drop_chown_enforced", &["run", "--rm", "--cap-drop", "CHOWN", "bb", "sh", "-c", "touch /f; busybox chown 1000 /f 2>/dev/null; echo $?"]),
    out("seccomp_default", &["run", "--rm", "bb", "busybox", "grep", "^Seccomp:", "/proc/self/status"]),
    out("seccomp_unconfined", &["run", "--rm", "--security-opt", "seccomp=unconfined", "bb", "busybox", "grep", "^Seccomp:", "/proc/self/status"]),
    out("no_new_privs_default", &["run", "--rm", "bb", "busybox", "grep", "^NoNewPrivs:", "/proc/self/status"]),
    out("seccomp_blocks_unshare", &["run", "--rm", "-u", "app", "bb", "sh", "-c", "busybox unshare -U true 2>/dev/null; echo $?"]),
    // Masked and read-only kernel paths.
    out("masked_proc_kcore", &["run", "--rm", "bb", "sh", "-c", "wc -c < /proc/kcore"]),
    out("masked_proc_keys", &["run", "--rm", "bb", "sh", "-c", "wc -c < /proc/keys"]),
    out("masked_proc_timer_list", &["run", "--rm", "bb", "sh", "-c", "wc -c < /proc/timer_list"]),
    out("masked_sys_firmware", &["run", "--rm", "bb", "ls", "-A", "/sys/firmware"]),
    out("masked_proc_acpi", &["run", "--rm", "bb", "ls", "-A", "/proc/acpi"]),
    out("readonly_proc_sys", &["run", "--rm", "bb", "sh", "-c", "echo x > /proc/sys/kernel/domainname 2>/dev/null; echo $?"]),
    out("readonly_proc_sysrq_trigger", &["run", "--rm", "bb", "sh", "-c", "echo h > /proc/sysrq-trigger 2>/dev/null; echo $?"]),
    out("sysctl_net", &["run", "--rm", "--sysctl", "net.ipv4.ip_forward=1", "bb", "cat", "/proc/sys/net/ipv4/ip_forward"]),
    code("sysctl_host_only_refused", &["run", "--rm", "--sysctl", "kernel.panic=1", "bb", "true"]),
    out(
        "network_none_only_loopback",
        &["run", "--rm", "bb", "ls", "/sys/class/net"],
    ),
];

fn bind_mount_rw(s: &Side) {
    std::fs::write(s.dir().join("in"), "from host\n").unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@dir:/mnt",
            "bb",
            "sh",
            "-c",
            "cat /mnt/in; echo from ctr > /mnt/out",
        ],
        Cmp::Out,
    );
    let back = std::fs::read_to_string(s.dir().join("out")).unwrap_or_else(|e| e.to_string());
    s.note("host sees", &back);
}

fn bind_mount_ro(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@dir:/mnt:ro",
            "bb",
            "sh",
            "-c",
            "touch /mnt/x 2>/dev/null; echo $?; ls /mnt",
        ],
        Cmp::Out,
    );
    s.note("host has x", &s.dir().join("x").exists().to_string());
}

fn bind_missing_host_dir(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@dir/made/here:/mnt",
            "bb",
            "sh",
            "-c",
            "echo hi > /mnt/f",
        ],
        Cmp::Out,
    );
    let f = std::fs::read_to_string(s.dir().join("made/here/f")).unwrap_or_else(|e| e.to_string());
    s.note("host file", &f);
}

fn bind_mount_file(s: &Side) {
    std::fs::write(s.dir().join("conf"), "conf\n").unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@dir/conf:/etc/app.conf:ro",
            "bb",
            "cat",
            "/etc/app.conf",
        ],
        Cmp::Out,
    );
}

fn named_volume_persists(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@vol:/data",
            "bb",
            "sh",
            "-c",
            "echo kept > /data/f",
        ],
        Cmp::Out,
    );
    s.step(
        &["run", "--rm", "-v", "@vol:/data", "bb", "cat", "/data/f"],
        Cmp::Out,
    );
    s.step(&["volume", "ls", "-q", "--filter", "name=@vol"], Cmp::Out);
    s.step(&["volume", "rm", "@vol"], Cmp::Out);
}

fn named_volume_copies_image_content(s: &Side) {
    s.step(
        &["run", "--rm", "-v", "@vol:/dir", "bb", "ls", "/dir"],
        Cmp::Out,
    );
    s.step(
        &["run", "--rm", "-v", "@vol:/dir", "bb", "cat", "/dir/old"],
        Cmp::Out,
    );
}

fn named_volume_ro(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "-v",
            "@vol:/data:ro",
            "bb",
            "sh",
            "-c",
            "touch /data/x 2>/dev/null; echo $?",
        ],
        Cmp::Out,
    );
}

fn anonymous_volume_from_image(s: &Side) {
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "volimg",
            "sh",
            "-c",
            "echo v > /data/f; ls -A /data",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Driver}}{{end}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-v", "@name"], Cmp::Out);
}

fn anonymous_volume_flag(s: &Side) {
    s.step(
        &[
            "run", "--name", "@name", "-v", "/anon", "bb", "ls", "-ld", "/anon",
        ],
        Cmp::Quiet,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Mode}}{{end}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["rm", "-v", "@name"], Cmp::Out);
}

fn mount_flag_bind(s: &Side) {
    std::fs::write(s.dir().join("in"), "bound\n").unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "--mount",
            "type=bind,source=@dir,target=/mnt,readonly",
            "bb",
            "sh",
            "-c",
            "cat /mnt/in; touch /mnt/x 2>/dev/null; echo $?",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--mount",
            "type=bind,source=@dir/absent,target=/mnt",
            "bb",
            "true",
        ],
        Cmp::Code,
    );
}

fn mount_flag_volume(s: &Side) {
    s.step(
        &[
            "run",
            "--rm",
            "--mount",
            "source=@vol,target=/v",
            "bb",
            "sh",
            "-c",
            "echo m > /v/f",
        ],
        Cmp::Out,
    );
    s.step(
        &["run", "--rm", "-v", "@vol:/w", "bb", "cat", "/w/f"],
        Cmp::Out,
    );
}

fn inspect_mounts(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "-v",
            "@dir:/b:ro",
            "-v",
            "@vol:/n",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{range .Mounts}}{{.Type}}|{{if eq .Type \"bind\"}}{{.Source}}{{end}}|{{.Destination}}|{{.Mode}}|{{.RW}}|{{.Propagation}}|{{.Name}}\n{{end}}", "@name"],
        Cmp::Sorted,
    );
    // Docker's CLI collects the `-v` flags in a Go map, so its Binds come in a random
    // order (the case failed now and then): compared one per line, sorted.
    s.step(
        &[
            "inspect",
            "-f",
            "{{range .HostConfig.Binds}}{{.}}\n{{end}}",
            "@name",
        ],
        Cmp::Sorted,
    );
}

/// The `Mounts` array field by field, through JSON rather than a template; a volume's
/// `Source` (under each engine's own data root) is left out.
fn inspect_mounts_json(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "-v",
            "@dir:/b:ro",
            "-v",
            "@vol:/n",
            "-v",
            "/anon",
            "volimg",
        ],
        Cmp::Quiet,
    );
    let st = s.step(&["inspect", "@name"], Cmp::Code);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap_or_default();
    let mut mounts: Vec<serde_json::Value> = v[0]["Mounts"].as_array().cloned().unwrap_or_default();
    mounts.sort_by_key(|m| m["Destination"].to_string());
    for mut m in mounts {
        if m["Type"] == "volume" {
            m["Source"] = serde_json::Value::Null;
            if m["Destination"] != "/n" {
                m["Name"] = "<anonymous>".into();
            }
        }
        // Key order is not part of the contract: compared sorted.
        let sorted: std::collections::BTreeMap<String, serde_json::Value> = m
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        s.note("mount", &serde_json::to_string(&sorted).unwrap());
    }
}

/// `--mount` in inspect: every mount (tmpfs included) in `Mounts`, field by field, none
/// in `Binds`/`Tmpfs`, and the values as given in `HostConfig.Mounts`.
fn inspect_mount_flags(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--mount",
            "type=bind,src=@dir,dst=/b,ro,bind-propagation=rshared",
            "--mount",
            "source=@vol,target=/v",
            "--mount",
            "type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=700",
            "--mount",
            "dst=/anon,volume-nocopy",
            "bb",
        ],
        Cmp::Quiet,
    );
    let st = s.step(&["inspect", "@name"], Cmp::Code);
    let v: serde_json::Value = serde_json::from_str(&st.stdout).unwrap_or_default();
    let mut mounts: Vec<serde_json::Value> = v[0]["Mounts"].as_array().cloned().unwrap_or_default();
    mounts.sort_by_key(|m| m["Destination"].to_string());
    for mut m in mounts {
        if m["Type"] == "volume" {
            m["Source"] = serde_json::Value::Null;
            if m["Destination"] != "/v" {
                m["Name"] = "<anonymous>".into();
            }
        }
        let sorted: std::collections::BTreeMap<String, serde_json::Value> = m
            .as_object()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .collect();
        s.note("mount", &serde_json::to_string(&sorted).unwrap());
    }
    let hc = &v[0]["HostConfig"];
    for k in ["Mounts", "Binds", "Tmpfs"] {
        s.note(k, &hc[k].to_string());
    }
    s.note("Config.Volumes", &v[0]["Config"]["Volumes"].to_string());
}
