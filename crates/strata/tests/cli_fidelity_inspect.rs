//! `inspect` against `docker inspect` on the same imported images and on containers made
//! with the same flags: the shape (keys, their order, null versus empty) and the values
//! Docker's rules fix; IDs, times, paths and sizes aside. Needs root, runc and dockerd;
//! fails without.

mod harness;

use serde_json::Value;

use harness::differential::Differential;

fn keys(v: &Value) -> Vec<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

fn parse(text: &str) -> Value {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v[0].clone()
}

#[test]
fn image_config_has_dockers_full_shape() {
    let d = Differential::new();
    d.image(
        "rich",
        &[
            "ENV PATH=/bin",
            "USER app",
            "WORKDIR /w",
            "EXPOSE 80/tcp",
            "ENTRYPOINT [\"sh\", \"-c\"]",
            "LABEL a=b",
            "VOLUME /data",
            "ONBUILD RUN true",
        ],
    );
    for image in ["bb", "rich"] {
        let docker = parse(&d.docker.ok(&["image", "inspect", image]));
        let strata = parse(&d.strata.ok(&["image", "inspect", image]));
        for field in ["Config", "ContainerConfig"] {
            assert_eq!(strata[field], docker[field], "{image} {field}");
            assert_eq!(
                keys(&strata[field]),
                keys(&docker[field]),
                "{image} {field}"
            );
        }
        // Docker's top-level keys, in Docker's order, and nothing more.
        assert_eq!(keys(&strata), keys(&docker), "{image}");
        assert_eq!(strata["GraphDriver"]["Name"], docker["GraphDriver"]["Name"]);
        for template in [
            "{{json .Config}}",
            "{{.Config.User}}|{{.Config.WorkingDir}}|{{.Config.Hostname}}",
            "{{json .ContainerConfig.Env}}",
        ] {
            assert_eq!(
                d.strata.ok(&["inspect", "-f", template, image]),
                d.docker.ok(&["inspect", "-f", template, image]),
                "{image} {template}"
            );
        }
    }
}

#[test]
fn container_inspect_has_dockers_shape_and_no_tmpfs_mounts() {
    let d = Differential::new();
    let args = [
        "create",
        "--name",
        "shape",
        "--hostname",
        "h1",
        "--network",
        "none",
        "--tmpfs",
        "/run:size=1m",
        "-v",
        "/anon",
        "bb",
        "sleep",
        "5",
    ];
    d.docker.ok(&args);
    d.strata.ok(&args);
    let docker = parse(&d.docker.ok(&["inspect", "shape"]));
    let strata = parse(&d.strata.ok(&["inspect", "shape"]));
    // Every top-level key strata has, in Docker's order.
    let got = keys(&strata);
    let want: Vec<String> = keys(&docker)
        .into_iter()
        .filter(|k| got.contains(k))
        .collect();
    assert_eq!(got, want);
    assert_eq!(keys(&strata["State"]), keys(&docker["State"]));
    assert_eq!(strata["State"], docker["State"]);
    // Config: everything but the image's name as typed (the same here) is equal.
    assert_eq!(keys(&strata["Config"]), keys(&docker["Config"]));
    assert_eq!(strata["Config"], docker["Config"]);
    // HostConfig and NetworkSettings: Docker's keys in Docker's order, Docker's values
    // (the masked paths are the runtime's own list).
    assert_eq!(keys(&strata["HostConfig"]), keys(&docker["HostConfig"]));
    for k in keys(&docker["HostConfig"]) {
        if k != "MaskedPaths" {
            assert_eq!(
                strata["HostConfig"][&k], docker["HostConfig"][&k],
                "HostConfig.{k}"
            );
        }
    }
    assert_eq!(strata["NetworkSettings"], docker["NetworkSettings"]);
    assert_eq!(
        keys(&strata["GraphDriver"]["Data"]),
        ["MergedDir", "UpperDir", "WorkDir"]
    );
    // tmpfs is HostConfig.Tmpfs only; Mounts has the anonymous volume alone.
    assert_eq!(strata["HostConfig"]["Tmpfs"], docker["HostConfig"]["Tmpfs"]);
    let mounts = |v: &Value| -> Vec<(Value, Value)> {
        v["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["Type"].clone(), m["Destination"].clone()))
            .collect()
    };
    assert_eq!(mounts(&strata), mounts(&docker));
    assert_eq!(keys(&strata["Mounts"][0]), keys(&docker["Mounts"][0]));
    for template in ["{{json .HostConfig.Tmpfs}}", "{{json .Config}}"] {
        assert_eq!(
            d.strata.ok(&["inspect", "-f", template, "shape"]),
            d.docker.ok(&["inspect", "-f", template, "shape"]),
            "{template}"
        );
    }
    d.strata.ok(&["rm", "-v", "shape"]);
    let args = [
        "create",
        "--name",
        "limits",
        "--network",
        "host",
        "--init",
        "-m",
        "64m",
        "--cpus",
        "1.5",
        "--pids-limit",
        "10",
        "--read-only",
        "bb",
    ];
    d.docker.ok(&args);
    d.strata.ok(&args);
    let docker = parse(&d.docker.ok(&["inspect", "limits"]));
    let strata = parse(&d.strata.ok(&["inspect", "limits"]));
    assert_eq!(keys(&strata["HostConfig"]), keys(&docker["HostConfig"]));
    for k in [
        "NetworkMode",
        "Init",
        "Memory",
        "MemorySwap",
        "NanoCpus",
        "PidsLimit",
        "ReadonlyRootfs",
        "ShmSize",
    ] {
        assert_eq!(
            strata["HostConfig"][k], docker["HostConfig"][k],
            "HostConfig.{k}"
        );
    }
    assert_eq!(strata["NetworkSettings"], docker["NetworkSettings"]);
    d.strata.ok(&["rm", "limits"]);
}

#[test]
fn missing_objects_are_named_as_docker_names_them() {
    let d = Differential::new();
    for args in [
        &["inspect", "nosuch"][..],
        &["image", "inspect", "nosuch"],
        &["inspect", "--type", "image", "nosuch", "other"],
        &["container", "inspect", "bb"],
        &["inspect", "-f", "{{.Os}}", "bb", "nosuch"],
    ] {
        let docker = d.docker.run(args);
        let strata = d.strata.run(args);
        assert_eq!(
            (
                strata.status.code(),
                String::from_utf8_lossy(&strata.stdout),
                String::from_utf8_lossy(&strata.stderr)
            ),
            (
                docker.status.code(),
                String::from_utf8_lossy(&docker.stdout),
                String::from_utf8_lossy(&docker.stderr)
            ),
            "{args:?}"
        );
    }
}
