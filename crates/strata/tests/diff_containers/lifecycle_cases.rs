//! `--cidfile`, `--label-file`, `--stop-timeout`, `--volumes-from`, `--privileged` and
//! `--device`: what the container gets, how `inspect` shows it, and Docker's refusals.

use super::case::{Case, code, full, out, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    // --device: the node, its numbers and the cgroup's permission.
    out("device_renamed_node", &["run", "--rm", "--device", "/dev/null:/dev/xnull", "bb", "sh", "-c", "ls -l /dev/xnull | busybox awk '{print $1, $5, $6, $10}'; echo hi > /dev/xnull && echo wrote"]),
    out("device_with_read_permission", &["run", "--rm", "--device", "/dev/zero:/dev/xzero:r", "bb", "sh", "-c", "head -c 3 /dev/xzero | wc -c"]),
    out("device_not_given_is_absent", &["run", "--rm", "bb", "sh", "-c", "test -e /dev/loop0; echo $?"]),
    full("device_bad_path", &["run", "--rm", "--device", "/dev/null:rel", "bb", "true"]),
    full("device_bad_mode", &["run", "--rm", "--device", "/dev/null:/dev/x:rx", "bb", "true"]),
    code("device_missing_on_host", &["run", "--rm", "--device", "/dev/strata-no-such", "bb", "true"]),
    // --privileged cannot run under Docker 20.10 on a host whose engine lacks a capability
    // (this one lacks CAP_SYS_RESOURCE): `containers_privileged` checks it against the host.
    code("cap_add_all_beyond_what_the_engine_holds", &["run", "--rm", "--cap-add", "ALL", "bb", "true"]),
    out("unprivileged_sys_read_only", &["run", "--rm", "bb", "sh", "-c", "busybox awk '$5==\"/sys\" {print $6}' /proc/self/mountinfo | cut -d, -f1"]),
    // --label-file.
    full("label_file_missing", &["run", "--rm", "--label-file", "/nonexistent/labels", "bb", "true"]),
    script("label_file_and_label", label_file),
    // --stop-timeout.
    script("stop_timeout_in_inspect_and_stop", stop_timeout),
    // --cidfile.
    script("cidfile_written_and_refused_again", cidfile),
    // --volumes-from.
    script("volumes_from_shares_volumes", volumes_from),
    code("volumes_from_no_such_container", &["run", "--rm", "--volumes-from", "dc-no-such", "bb", "true"]),
    script("volumes_from_bad_mode", volumes_from_bad_mode),
    script("privileged_and_devices_in_inspect", privileged_inspect),
];

fn label_file(s: &Side) {
    std::fs::write(
        s.dir().join("labels"),
        "# comment\n\n  a=from-file\nb=file\nbare\n",
    )
    .unwrap();
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--label-file",
            "@dir/labels",
            "-l",
            "b=flag",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .Config.Labels}}", "@name"],
        Cmp::Out,
    );
    std::fs::write(s.dir().join("bad-labels"), "a b=1\n").unwrap();
    s.step(
        &[
            "run",
            "--rm",
            "--label-file",
            "@dir/bad-labels",
            "bb",
            "true",
        ],
        Cmp::Full,
    );
}

fn stop_timeout(s: &Side) {
    s.step(
        &[
            "run",
            "-d",
            "--name",
            "@name",
            "--stop-timeout",
            "1",
            "bb",
            "sh",
            "-c",
            "trap '' TERM; sleep 60 & wait",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{.Config.StopTimeout}}", "@name"],
        Cmp::Out,
    );
    // The TERM is ignored: the container's own timeout (1 s) ends it with a kill.
    s.step(&["stop", "@name"], Cmp::Out);
    s.step(
        &[
            "inspect",
            "-f",
            "{{.State.Status}} {{.State.ExitCode}}",
            "@name",
        ],
        Cmp::Out,
    );
    s.step(&["create", "--name", "@name-2", "bb"], Cmp::Quiet);
    s.step(
        &["inspect", "-f", "{{json .Config.StopTimeout}}", "@name-2"],
        Cmp::Out,
    );
}

fn cidfile(s: &Side) {
    let f = s.dir().join("cid");
    s.step(
        &["create", "--name", "@name", "--cidfile", "@dir/cid", "bb"],
        Cmp::Quiet,
    );
    // The file holds the ID, and only it: inspecting by its contents finds the container.
    let written = std::fs::read_to_string(&f).unwrap_or_default();
    let by_file = s.step(&["inspect", "-f", "{{.Name}}", &written], Cmp::Quiet);
    s.note(
        "inspect by the cidfile's contents",
        &format!("exit {} {}", by_file.code, by_file.stdout.trim()),
    );
    s.step(
        &["inspect", "-f", "{{.HostConfig.ContainerIDFile}}", "@name"],
        Cmp::Out,
    );
    // The file exists: a second container is refused, and the file is left as it was.
    s.step(
        &["run", "--rm", "--cidfile", "@dir/cid", "bb", "true"],
        Cmp::Full,
    );
    s.note(
        "cidfile unchanged",
        &(std::fs::read_to_string(&f).unwrap_or_default() == written).to_string(),
    );
    // A create that fails removes the file it made.
    let g = s.dir().join("cid2");
    s.step(
        &[
            "create",
            "--cidfile",
            "@dir/cid2",
            "--volumes-from",
            "dc-no-such",
            "bb",
        ],
        Cmp::Code,
    );
    s.note("failed create left no file", &(!g.exists()).to_string());
}

fn volumes_from(s: &Side) {
    let vol = s.volume();
    let data = format!("{vol}:/data");
    std::fs::create_dir_all(s.dir().join("hostdir")).unwrap();
    let bind = "@dir/hostdir:/host:ro";
    s.step(
        &[
            "run",
            "--name",
            "@name",
            "-v",
            &data,
            "-v",
            bind,
            "-v",
            "/anon",
            "bb",
            "sh",
            "-c",
            "echo shared > /data/f; echo anon > /anon/g",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--volumes-from",
            "@name",
            "bb",
            "sh",
            "-c",
            "cat /data/f /anon/g; ls /host; touch /host/x 2>/dev/null; echo host-write=$?",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "run",
            "--rm",
            "--volumes-from",
            "@name:ro",
            "bb",
            "sh",
            "-c",
            "touch /data/y 2>/dev/null; echo data-write=$?",
        ],
        Cmp::Out,
    );
    s.step(
        &[
            "create",
            "--name",
            "@name-2",
            "--volumes-from",
            "@name",
            "-v",
            "/data",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &["inspect", "-f", "{{json .HostConfig.VolumesFrom}} {{json .HostConfig.Binds}} {{len .Mounts}} {{json .Config.Volumes}}", "@name-2"],
        Cmp::Out,
    );
    // The borrower goes first, so the lender's anonymous volume is free to go with it.
    s.step(&["rm", "-v", "@name-2"], Cmp::Out);
    s.step(&["rm", "-v", "@name"], Cmp::Out);
}

fn volumes_from_bad_mode(s: &Side) {
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step(
        &["run", "--rm", "--volumes-from", "@name:zz", "bb", "true"],
        Cmp::Code,
    );
}

fn privileged_inspect(s: &Side) {
    s.step(
        &[
            "create",
            "--name",
            "@name",
            "--privileged",
            "--device",
            "/dev/null:/dev/xnull:rw",
            "bb",
        ],
        Cmp::Quiet,
    );
    s.step(
        &[
            "inspect",
            "-f",
            "{{.HostConfig.Privileged}} {{json .HostConfig.Devices}}",
            "@name",
        ],
        Cmp::Out,
    );
}
