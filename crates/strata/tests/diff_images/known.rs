//! The differences from Docker the image-commands suite has found and strata has not fixed
//! yet, each with what differs precisely.

/// Differences not fixed yet: (case, reason). The suite fails when one of these starts
/// agreeing (take it out) or when a case not listed differs.
pub const KNOWN: &[(&str, &str)] = &[
    (
        r#"images_size_is_unpacked_size"#,
        r#"SIZE is the compressed layer (1.06MB); docker reports the unpacked files (1.98MB for the busybox rootfs)"#,
    ),
    (
        r#"inspect_whole_image"#,
        r#"inspect lacks Container, ContainerConfig, GraphDriver and VirtualSize, leaves out Config's empty fields (Hostname, Domainname, Attach*, Tty, OpenStdin, StdinOnce, Image, and Volumes/Entrypoint/OnBuild as null), has an empty DockerVersion and an extra Descriptor"#,
    ),
    (
        r#"inspect_top_level_keys"#,
        r#"top-level keys: no Container, ContainerConfig, GraphDriver, VirtualSize; an extra Descriptor"#,
    ),
    (
        r#"inspect_config_keys"#,
        r#"Config of a built image has only its set fields (Cmd, Env, Labels); docker always has the container-config fields and ArgsEscaped"#,
    ),
    (
        r#"inspect_import_comment"#,
        r#"DockerVersion is empty; docker records the engine version that made the image"#,
    ),
    (
        r#"history_import"#,
        r#"an imported layer's history has no comment; docker writes `Imported from -` (also for a file, which its client streams)"#,
    ),
    (
        r#"history_built"#,
        r#"built layers' CREATED BY: `CMD ["cat","/hi"]`, `RUN echo run > /run.txt`, `COPY hi /hi` where BuildKit writes `CMD ["cat" "/hi"]`, `RUN /bin/sh -c echo run > /run.txt # buildkit`, `COPY hi /hi # buildkit`; comment `strata.build.v0` for `buildkit.dockerfile.v0`; no `Imported from -`"#,
    ),
    (
        r#"history_no_trunc"#,
        r#"as history_built: CREATED BY, comment `strata.build.v0`, no `Imported from -`"#,
    ),
    (
        r#"history_human_false"#,
        r#"-H=false: header `CREATED` for docker's `CREATED AT`; SIZE is each layer's blob size (103, 98, 1058955) for docker's unpacked size (4, 3, 1982512); plus history_built's differences"#,
    ),
    (
        r#"history_format"#,
        r#"as history_built: CREATED BY, comment `strata.build.v0`, no `Imported from -`"#,
    ),
    (
        r#"history_format_table"#,
        r#"as history_built: CREATED BY, comment `strata.build.v0`, no `Imported from -`"#,
    ),
    (
        r#"history_format_json"#,
        r#"as history_built, and `<missing>` not escaped as `\u003cmissing\u003e`"#,
    ),
    (
        r#"rmi_used_by_container_force"#,
        r#"`rmi -f` of an image a container uses only untags it (no `Deleted:` line, the image stays, `ps` shows the old name); docker untags and deletes it (`Deleted: sha256:…`, `image inspect ID` fails after) and `ps` shows the bare ID"#,
    ),
    (
        r#"save_archive_entries"#,
        r#"save writes blobs/sha256/*, index.json and oci-layout; docker 20.10 writes LAYERID/layer.tar, LAYERID/json, LAYERID/VERSION and CONFIG.json (only newer Docker writes the OCI layout)"#,
    ),
    (
        r#"save_manifest_json"#,
        r#"manifest.json points into blobs/sha256/ (docker 20.10: CONFIG.json, LAYERID/layer.tar) and has no final newline"#,
    ),
    (
        r#"load_garbage"#,
        r#"a file that is not a tar: strata's own message with `Error:`; docker prints `Error processing tar file(exit status 1): unexpected EOF`"#,
    ),
    (
        r#"load_empty_stdin"#,
        r#"empty input: strata explains (neither a docker-archive nor an OCI archive); docker prints `open …/repositories: no such file or directory`"#,
    ),
    (
        r#"prune_until_keeps_recent"#,
        r#"`image prune` has no --filter (clap: `unexpected argument '--filter' found`, exit 2); docker filters by `until=` and `label=`"#,
    ),
    (
        r#"prune_all_label_filter"#,
        r#"`image prune` has no --filter (clap: `unexpected argument '--filter' found`, exit 2); docker filters by `until=` and `label=`"#,
    ),
    (
        r#"import_change_stopsignal"#,
        r#"docker 20.10 refuses `-c 'STOPSIGNAL …'` (`stopsignal is not a valid change command`); strata (like newer Docker) accepts it"#,
    ),
    (
        r#"import_garbage"#,
        r#"a file that is not a tar is imported as an image (exit 0); docker fails: `Error processing tar file(exit status 1): unexpected EOF`"#,
    ),
];
