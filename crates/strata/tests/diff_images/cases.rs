//! The cases of the image-commands differential suite, from Docker's command-line reference
//! (<https://docs.docker.com/reference/cli/docker/image/>) flag by flag.
//!
//! Each case is a shell script run once with `$E` = docker and once with `$E` = strata
//! (`$O` is the other engine, `$T` the shared busybox rootfs tar, `$W` the case's scratch
//! directory, `$C` an image name of the case's own, `$NET` the flag `build` needs). The
//! images every engine starts with are `bb` (busybox, `PATH=/bin`, `CMD ["sh"]`) and the
//! base set made by [`BASE`].

/// Which images a case may touch, and so how it is scheduled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Scope {
    /// Reads the base set only; runs first, in parallel, before anything else exists.
    Shared,
    /// Touches only images named `$C…` (and lists only them); runs after the shared ones.
    Own,
    /// Acts on the whole store (prune); runs last, one at a time in list order, after every
    /// image and container the other cases made is swept away.
    Whole,
}

/// Judges strata's normalised transcript of a [`Case::reference`] case.
pub type Check = fn(&str) -> Result<(), String>;

/// One compared script.
pub struct Case {
    /// Unique; `$C` is `c-` and this with `_` as `-`.
    pub name: &'static str,
    /// How it is scheduled.
    pub scope: Scope,
    /// Run on both sides first, not compared (must succeed on docker).
    pub setup: &'static str,
    /// The compared script.
    pub script: &'static str,
    /// Run on both sides after, not compared.
    pub cleanup: &'static str,
    /// Sizes are compared as printed (the cases that judge them).
    pub keep_sizes: bool,
    /// Stdout lines are compared as a sorted set (the order is not specified by Docker).
    pub sort_lines: bool,
    /// Where strata deliberately follows current Docker rather than Docker 20.10 (the
    /// engine the suite runs): strata's normalised transcript is judged by this check,
    /// written from the current reference, and Docker's is not compared.
    pub reference: Option<Check>,
}

impl Case {
    const fn setup(self, setup: &'static str) -> Case {
        Case { setup, ..self }
    }
    const fn cleanup(self, cleanup: &'static str) -> Case {
        Case { cleanup, ..self }
    }
    const fn keep_sizes(self) -> Case {
        Case {
            keep_sizes: true,
            ..self
        }
    }
    const fn reference(self, check: Check) -> Case {
        Case {
            reference: Some(check),
            ..self
        }
    }
    const fn sorted(self) -> Case {
        Case {
            sort_lines: true,
            ..self
        }
    }
}

const fn case(scope: Scope, name: &'static str, script: &'static str) -> Case {
    Case {
        name,
        scope,
        setup: "true",
        script,
        cleanup: "true",
        keep_sizes: false,
        sort_lines: false,
        reference: None,
    }
}
const fn shared(name: &'static str, script: &'static str) -> Case {
    case(Scope::Shared, name, script)
}
const fn own(name: &'static str, script: &'static str) -> Case {
    case(Scope::Own, name, script)
}
const fn whole(name: &'static str, script: &'static str) -> Case {
    case(Scope::Whole, name, script)
}

/// The base set, made on both sides in this order (a second apart, so `before`/`since` and
/// the newest-first listing are unambiguous): `base-labels:1.0` = `base-labels:latest` (an
/// import with labels and config changes and a message), a dangling image (`base-dangling`
/// imported twice) and `base-built` (a build with COPY, RUN, LABEL and CMD on `bb`).
pub const BASE: &str = r#"set -e
sleep 1
$E import -m 'labelled import' -c 'LABEL maintainer=team' -c 'LABEL com.example.v=1' \
  -c 'ENV PATH=/bin A=1' -c 'EXPOSE 80/tcp' -c 'WORKDIR /srv' -c 'USER app' \
  -c 'CMD ["httpd","-f"]' "$T" base-labels:1.0 >/dev/null
$E tag base-labels:1.0 base-labels:latest
sleep 1
$E import "$T" base-dangling >/dev/null
sleep 1
$E import -c 'ENV PATH=/bin' "$T" base-dangling >/dev/null
sleep 1
printf 'FROM bb\nCOPY hi /hi\nRUN echo run > /run.txt\nLABEL stage=built\nCMD ["cat","/hi"]\n' > Dockerfile
echo hi > hi
$E build $NET -q -t base-built . >/dev/null
"#;

/// A fresh image of the case's own, `$C:1`.
const OWN_IMAGE: &str = r#"$E import "$T" $C:1 >/dev/null"#;

/// `$C:1` (a fresh image) and a created container `$C-ctr` using it.
const OWN_IMAGE_IN_USE: &str = r#"$E import "$T" $C:1 >/dev/null && $E create --network none --name $C-ctr $C:1 sh >/dev/null"#;

/// Every case, in the order of the reference's sections.
pub const CASES: &[Case] = &[
    // ---- images
    shared("images_default", "$E images"),
    shared("images_all", "$E images -a"),
    shared("images_quiet", "$E images -q"),
    shared("images_quiet_all", "$E images -aq"),
    shared("images_no_trunc", "$E images --no-trunc"),
    shared("images_digests", "$E images --digests"),
    shared("image_ls_alias", "$E image ls"),
    shared("image_list_alias", "$E image list bb"),
    shared("images_quiet_dangling", "$E images -q --filter dangling=true"),
    shared(
        "images_format_table_digest",
        "$E images --digests --format 'table {{.Repository}}\\t{{.Digest}}' bb",
    ),
    shared("images_repository_arg", "$E images base-labels"),
    shared("images_repository_tag_arg", "$E images base-labels:1.0"),
    shared("images_repository_arg_unknown", "$E images nosuch"),
    shared("images_repository_glob_arg", "$E images 'base-*'"),
    shared("images_dangling_true", "$E images -f dangling=true"),
    shared("images_dangling_false", "$E images --filter dangling=false"),
    shared("images_dangling_bad_value", "$E images --filter dangling=maybe"),
    shared("images_reference_glob", "$E images --filter 'reference=base-*'"),
    shared("images_reference_tag_glob", "$E images --filter 'reference=*:1.0'"),
    shared(
        "images_reference_twice",
        "$E images --filter reference=bb --filter reference=base-built",
    ),
    shared("images_label_key", "$E images --filter label=maintainer"),
    shared("images_label_value", "$E images --filter label=com.example.v=1"),
    shared("images_label_no_match", "$E images --filter label=com.example.v=2"),
    shared("images_before", "$E images --filter before=base-labels:1.0"),
    shared("images_since", "$E images --filter since=base-labels:1.0"),
    shared("images_since_missing", "$E images --filter since=nosuch"),
    shared("images_unknown_filter", "$E images --filter color=blue"),
    shared("images_filter_without_value", "$E images --filter dangling"),
    shared(
        "images_format_fields",
        "$E images --format '{{.Repository}}|{{.Tag}}|{{.ID}}|{{.Digest}}|{{.CreatedSince}}|{{.Size}}'",
    ),
    shared(
        "images_format_table",
        "$E images --format 'table {{.Repository}}\\t{{.Tag}}\\t{{.ID}}'",
    ),
    shared("images_format_json", "$E images --format '{{json .}}'"),
    shared("images_format_created_at", "$E images --format '{{.CreatedAt}}' bb"),
    shared("images_format_bad_template", "$E images --format '{{.Nope'"),
    shared("images_format_unknown_field", "$E images --format '{{.Nope}}'"),
    // dockerd reports an image's size as the bytes of its unpacked files.
    shared("images_size_is_unpacked_size", "$E images --format '{{.Size}}' bb").keep_sizes(),
    // ---- inspect
    shared("inspect_whole_image", "$E image inspect base-labels:1.0"),
    shared(
        "inspect_top_level_keys",
        "$E image inspect base-built | jq -c '.[0] | keys'",
    ),
    shared(
        "inspect_config_keys",
        "$E image inspect base-built | jq -c '.[0].Config | keys'",
    ),
    shared(
        "inspect_template_fields",
        "$E image inspect -f '{{.Id}} {{.RepoTags}} {{.RepoDigests}} {{.Os}} {{.Architecture}} {{.Config.Cmd}} {{.Config.Env}} {{.Parent}}' base-labels:1.0",
    ),
    shared(
        "inspect_template_json_config",
        "$E image inspect -f '{{json .Config}}' base-labels:1.0",
    ),
    shared(
        "inspect_template_index_label",
        "$E image inspect -f '{{index .Config.Labels \"maintainer\"}}' base-labels:1.0",
    ),
    shared(
        "inspect_template_range",
        "$E image inspect -f '{{range .Config.Env}}[{{.}}]{{end}}' base-labels:1.0",
    ),
    shared(
        "inspect_several_images",
        "$E image inspect -f '{{.RepoTags}}' bb base-labels:1.0 base-built",
    ),
    shared("inspect_missing", "$E image inspect nosuch"),
    shared(
        "inspect_missing_among_found",
        "$E image inspect -f '{{.RepoTags}}' bb nosuch",
    ),
    shared("inspect_top_level_on_image", "$E inspect -f '{{.RepoTags}}' bb"),
    shared(
        "inspect_type_image",
        "$E inspect --type image -f '{{.RepoTags}}' bb",
    ),
    shared("inspect_type_unknown", "$E inspect --type nosuch bb"),
    shared(
        "inspect_by_short_id",
        "$E image inspect -f '{{.RepoTags}}' $($E images -q bb)",
    ),
    shared(
        "inspect_by_full_id",
        "$E image inspect -f '{{.RepoTags}}' $($E images -q --no-trunc bb)",
    ),
    // The same tar imported on both sides: the layer's diffID is the tar's digest.
    shared(
        "inspect_rootfs_is_tar_digest",
        "$E image inspect -f '{{json .RootFS}}' bb; sha256sum < $T",
    ),
    shared(
        "inspect_import_comment",
        // Not DockerVersion: the engine's own version (see normalise::engine_specifics).
        "$E image inspect -f '{{.Comment}}|{{.Author}}' base-labels:1.0",
    ),
    shared(
        "inspect_built_config",
        "$E image inspect -f '{{json .Config.Labels}} {{json .Config.Cmd}} {{json .Config.Env}}' base-built",
    ),
    shared("inspect_bad_template", "$E image inspect -f '{{.Id' bb"),
    // `.ID` is the Go field (typed: a nil map is `map[]`); `.Id` only the JSON key, so the
    // template reruns on the raw JSON (`<no value>`).
    shared(
        "inspect_go_field_names",
        "$E image inspect -f '{{.ID}} {{.Config.Volumes}}' bb; $E image inspect -f '{{.Id}} {{.Config.Volumes}}' bb",
    ),
    shared(
        "inspect_dangling_repo_tags",
        "$E image inspect -f '{{json .RepoTags}} {{json .RepoDigests}}' $($E images -q -f dangling=true)",
    ),
    // ---- history
    shared("history_import", "$E history bb"),
    shared("history_import_message", "$E history base-labels:1.0"),
    shared("history_built", "$E history base-built"),
    shared("history_quiet", "$E history -q base-built"),
    shared("history_no_trunc", "$E history --no-trunc base-built"),
    shared("history_human_false", "$E history -H=false base-built"),
    shared(
        "history_format",
        "$E history --format '{{.ID}}|{{.CreatedBy}}|{{.Comment}}|{{.CreatedSince}}|{{.Size}}' base-built",
    ),
    shared(
        "history_format_table",
        "$E history --format 'table {{.CreatedBy}}\\t{{.Comment}}' base-built",
    ),
    shared("history_format_json", "$E history --format '{{json .}}' base-built"),
    shared("history_missing", "$E history nosuch"),
    shared("history_by_id", "$E history -q $($E images -q base-built)"),
    shared("image_history_alias", "$E image history -q base-built"),
    // ---- tag
    own("tag_new", "$E tag bb $C:v1; echo rc=$?; $E images $C"),
    own("image_tag_alias", "$E image tag bb $C:1 && $E images -q $C | wc -l"),
    own(
        "tag_default_latest",
        "$E tag bb $C; $E images --format '{{.Repository}}:{{.Tag}}' $C",
    ),
    own(
        "tag_moves_existing",
        "$E tag base-labels:1.0 $C:1 && $E image inspect -f '{{.RepoTags}}' $C:1 && $E images $C",
    )
    .setup("$E tag bb $C:1"),
    own(
        "tag_by_short_id",
        "$E tag $($E images -q bb) $C:byid && $E images $C",
    ),
    own(
        "tag_by_id_prefix",
        "$E tag $($E images -q bb | cut -c1-6) $C:p && $E images $C",
    ),
    own("tag_uppercase_repository", "$E tag bb $C/Upper:1"),
    own("tag_bad_tag_characters", "$E tag bb $C:bad@tag"),
    own("tag_missing_source", "$E tag nosuch $C:1"),
    own(
        "tag_too_long",
        "$E tag bb $C:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    ),
    own(
        "tag_registry_with_port",
        "$E tag bb localhost:5000/$C/app:1 && $E images localhost:5000/$C/app",
    ),
    own("tag_one_argument", "$E tag bb"),
    own(
        "tag_digest_target",
        "$E tag bb $C@sha256:0000000000000000000000000000000000000000000000000000000000000000",
    ),
    // ---- rmi
    own("rmi_untags_other_tag", "$E rmi $C:a; echo rc=$?; $E images $C").setup("$E tag bb $C:a"),
    own("rmi_last_tag_deletes", "$E rmi $C:1; $E images -a $C").setup(OWN_IMAGE),
    own("rmi_by_id", "$E rmi $($E images -q $C:1)").setup(OWN_IMAGE),
    own(
        "rmi_by_id_several_tags",
        "$E rmi $($E images -q $C:1); echo rc=$?; $E images $C",
    )
    .setup("$E import \"$T\" $C:1 >/dev/null && $E tag $C:1 $C:2"),
    own(
        "rmi_by_id_several_tags_force",
        "$E rmi -f $($E images -q $C:1); echo rc=$?; $E images $C",
    )
    .setup("$E import \"$T\" $C:1 >/dev/null && $E tag $C:1 $C:2")
    .sorted(),
    own("rmi_missing", "$E rmi $C:nope"),
    own(
        "rmi_dangling_by_id",
        "id=$($E images -q $C:1); $E import \"$T\" $C:1 >/dev/null; $E rmi $id",
    )
    .setup(OWN_IMAGE),
    own("rmi_missing_force", "$E rmi -f $C:nope"),
    own("rmi_several", "$E rmi $C:1 $C:2")
        .setup("$E import \"$T\" $C:1 >/dev/null && $E import \"$T\" $C:2 >/dev/null"),
    own(
        "rmi_one_missing_among",
        "$E rmi $C:1 $C:nope; echo rc=$?; $E images $C",
    )
    .setup(OWN_IMAGE),
    own(
        "rmi_used_by_container",
        "$E rmi $C:1; echo rc=$?; $E images $C",
    )
    .setup(OWN_IMAGE_IN_USE)
    .cleanup("$E rm -f $C-ctr"),
    own(
        "rmi_used_by_container_force",
        "id=$($E images -q --no-trunc $C:1); $E rmi -f $C:1; echo rc=$?; $E image inspect $id >/dev/null 2>&1 && echo image kept || echo image gone; $E ps -a --filter name=$C-ctr --format '{{.Image}}'",
    )
    .setup(OWN_IMAGE_IN_USE)
    .cleanup("$E rm -f $C-ctr"),
    own(
        "rmi_id_used_by_stopped_container",
        "$E rmi $($E images -q $C:1)",
    )
    .setup(OWN_IMAGE_IN_USE)
    .cleanup("$E rm -f $C-ctr"),
    own("rmi_base_with_child", "$E rmi $C:base; echo rc=$?; $E images $C")
        .setup("$E tag bb $C:base && cd $W && printf \"FROM $C:base\\nLABEL x=1\\n\" > Dockerfile && $E build $NET -q -t $C:child . >/dev/null"),
    own("image_rm_alias", "$E image rm $C:1").setup(OWN_IMAGE),
    own("image_remove_alias", "$E image remove $C:1").setup(OWN_IMAGE),
    own("rmi_no_argument", "$E rmi"),
    // ---- save / load
    own(
        "save_load_round_trip",
        "$E save -o $W/a.tar $C:1 && $E rmi $C:1 >/dev/null && $E load -i $W/a.tar && $E images $C",
    )
    .setup(OWN_IMAGE),
    own(
        "save_stdout_load_stdin",
        "$E save $C:1 > $W/a.tar && $E rmi $C:1 >/dev/null && $E load < $W/a.tar && $E images $C",
    )
    .setup(OWN_IMAGE),
    own(
        "save_several_images",
        "$E save -o $W/a.tar $C:1 $C:2 && $E rmi $C:1 $C:2 >/dev/null && $E load -i $W/a.tar && $E images $C",
    )
    .setup("$E import \"$T\" $C:1 >/dev/null && $E import -c 'ENV X=1' \"$T\" $C:2 >/dev/null")
    .sorted(),
    // `docker load` takes a compressed archive, from a file and from a pipe.
    own(
        "load_gzip_archive",
        "$E save $C:1 | gzip > $W/a.tar.gz && $E rmi $C:1 >/dev/null && $E load -i $W/a.tar.gz && $E rmi $C:1 >/dev/null && gzip -dc $W/a.tar.gz | gzip | $E load && $E images $C",
    )
    .setup(OWN_IMAGE),
    // An archive whose manifest.json repeats one image 400 times (half of them with a
    // second tag) loads it once per entry as Docker does, in linear time (issue 10: 10,000
    // repeated entries took 20 s).
    own(
        "load_repeated_manifest_entries",
        "mkdir $W/x && $E save $C:1 | tar -x -C $W/x && rm -f $W/x/index.json $W/x/oci-layout && python3 -c 'import json,sys; p=sys.argv[1]; e=json.load(open(p))[0]; t=e[\"RepoTags\"][0]; json.dump([e]*200+[dict(e,RepoTags=[t,t[:-1]+\"2\"])]*200,open(p,\"w\"))' $W/x/manifest.json && tar -C $W/x -cf $W/d.tar . && $E rmi $C:1 >/dev/null && $E load -i $W/d.tar | sort | uniq -c && $E images $C",
    )
    .setup(OWN_IMAGE)
    .sorted(),
    own(
        "save_two_tags_of_one_image",
        "$E save -o $W/a.tar $C:1 $C:2 && $E rmi $C:1 $C:2 >/dev/null && $E load -i $W/a.tar && $E images $C",
    )
    .setup("$E import \"$T\" $C:1 >/dev/null && $E tag $C:1 $C:2")
    .sorted(),
    own(
        "save_by_id_loads_untagged",
        "$E save -o $W/a.tar $($E images -q $C:1) && $E rmi $C:1 >/dev/null && $E load -i $W/a.tar",
    )
    .setup(OWN_IMAGE),
    // strata writes the archive current Docker (25+) writes, an OCI layout whose
    // manifest.json points into blobs/, where Docker 20.10 writes the classic LAYERID/
    // directories; both load in either engine (the load_the_other_engines* cases).
    own("save_archive_entries", "$E save $C:1 | tar -t | sort")
        .setup(OWN_IMAGE)
        .reference(save_archive_entries_reference),
    own(
        "save_manifest_json",
        "$E save $C:1 | tar -xO manifest.json; echo; $E save $C:1 | tar -xO repositories; echo",
    )
    .setup(OWN_IMAGE)
    .reference(save_manifest_json_reference),
    own("save_missing", "$E save -o $W/a.tar $C:nope; echo rc=$?; ls $W"),
    own("save_into_missing_directory", "$E save -o $W/no/such/dir/a.tar bb"),
    own(
        "load_quiet",
        "$E save -o $W/a.tar $C:1 && $E rmi $C:1 >/dev/null && $E load -q -i $W/a.tar",
    )
    .setup(OWN_IMAGE),
    own(
        "load_over_existing_tag",
        "$E save -o $W/a.tar $C:1 && $E import \"$T\" $C:1 >/dev/null && $E load -i $W/a.tar && $E images -a $C",
    )
    .setup(OWN_IMAGE),
    own("load_garbage", "echo junk > $W/j.tar; $E load -i $W/j.tar"),
    own("load_missing_file", "$E load -i $W/nope.tar"),
    // Deliberate difference: Docker's daemon fails extracting nothing and prints its own
    // temp path (`open <data-root>/tmp/docker-import-RANDOM/repositories: no such file or
    // directory`); strata says what the input is not. Both exit 1.
    own("load_empty_stdin", "$E load < /dev/null").reference(|t| {
        expect(
            t,
            "exit 1\n--- stdout\n--- stderr\nError: standard input is neither a docker-archive \
             (no manifest.json) nor an OCI archive (no oci-layout)\n",
        )
    }),
    // Each engine loads the archive the other one saved.
    own(
        "load_the_other_engines_archive",
        "$O tag $C-src:1 $C:x && $O save -o $W/o.tar $C:x && $O rmi $C:x >/dev/null && $E load -i $W/o.tar && $E image inspect -f '{{.RepoTags}} {{json .Config}} {{.Comment}}' $C:x",
    )
    .setup("$E import -m moved -c 'ENV PATH=/bin' -c 'CMD [\"echo\",\"moved\"]' \"$T\" $C-src:1 >/dev/null"),
    own(
        "load_the_other_engines_built_image",
        "$O tag $C-src:1 $C:x && $O save -o $W/o.tar $C:x && $O rmi $C:x >/dev/null && $E load -i $W/o.tar && $E run --rm --network none $C:x",
    )
    .setup("cd $W && printf 'FROM bb\\nRUN echo built > /b.txt\\nCMD [\"cat\",\"/b.txt\"]\\n' > Dockerfile && $E build $NET -q -t $C-src:1 . >/dev/null"),
    // ---- import
    own("import_prints_id", "$E import $T"),
    own("import_with_tag", "$E import $T $C:1 && $E images $C"),
    own("import_from_stdin", "$E import - $C:1 < $T && $E images $C"),
    own(
        "import_long_flags",
        "$E import --change 'ENV A=1' --message 'long flags' $T $C:1 >/dev/null && $E image inspect -f '{{.Comment}} {{.Config.Env}}' $C:1",
    ),
    own(
        "import_gzip",
        "gzip -c $T > $W/t.tgz && $E import $W/t.tgz $C:1 && $E images $C",
    ),
    own(
        "import_change_config",
        "$E import -c 'ENV A=1 B=2' -c 'WORKDIR /srv' -c 'USER app' -c 'EXPOSE 80 443/udp' -c 'VOLUME /data' -c 'ENTRYPOINT [\"/bin/echo\"]' -c 'CMD [\"hi\"]' -c 'LABEL a=b' -c 'ONBUILD RUN true' $T $C:1 >/dev/null && $E image inspect -f '{{json .Config}}' $C:1",
    ),
    // Docker 20.10 refuses `STOPSIGNAL` in `import -c` (`stopsignal is not a valid change
    // command`); current Docker accepts it and strata follows current Docker.
    own(
        "import_change_stopsignal",
        "$E import -c 'STOPSIGNAL SIGINT' $T $C:1 >/dev/null && $E image inspect -f '{{json .Config.StopSignal}}' $C:1",
    )
    .reference(|t| expect(t, "exit 0\n--- stdout\n\"SIGINT\"\n--- stderr\n")),
    // Each engine loads the other's archive and holds the very same image: the same ID
    // (the config's digest) and the same layers (diffIDs), for an import and a build.
    own(
        "load_keeps_the_image_identical",
        "$O tag $C-src:1 $C:x && $O save $C:x | $E load >/dev/null && o=$($O image inspect -f '{{.Id}} {{json .RootFS}}' $C:x) && e=$($E image inspect -f '{{.Id}} {{json .RootFS}}' $C:x) && $O rmi $C:x >/dev/null && [ \"$o\" = \"$e\" ] && echo same image",
    )
    .setup("$E import -c 'ENV PATH=/bin' -c 'CMD [\"sh\"]' \"$T\" $C-src:1 >/dev/null"),
    own(
        "load_keeps_the_built_image_identical",
        "$O tag $C-src:1 $C:x && $O save $C:x | $E load >/dev/null && o=$($O image inspect -f '{{.Id}} {{json .RootFS}}' $C:x) && e=$($E image inspect -f '{{.Id}} {{json .RootFS}}' $C:x) && $O rmi $C:x >/dev/null && [ \"$o\" = \"$e\" ] && echo same image && $E run --rm --network none $C:x",
    )
    .setup("cd $W && printf 'FROM bb\\nCOPY f /f\\nRUN echo built > /b.txt\\nCMD [\"cat\",\"/f\",\"/b.txt\"]\\n' > Dockerfile && echo file > f && $E build $NET -q -t $C-src:1 . >/dev/null"),
    own(
        "import_change_shell_form_cmd",
        "$E import -c 'CMD echo hi' -c 'ENTRYPOINT top -b' $T $C:1 >/dev/null && $E image inspect -f '{{json .Config.Cmd}} {{json .Config.Entrypoint}}' $C:1",
    ),
    own("import_change_not_allowed", "$E import -c 'RUN echo hi' $T $C:1"),
    own("import_change_unknown", "$E import -c 'FROBNICATE x' $T $C:1"),
    own(
        "import_message",
        "$E import -m 'hello world' $T $C:1 >/dev/null && $E image inspect -f '{{.Comment}}' $C:1 && $E history --format '{{.Comment}}|{{.CreatedBy}}' $C:1",
    ),
    own("import_garbage", "echo junk > $W/j.tar; $E import $W/j.tar $C:1"),
    own("import_missing_file", "$E import $W/nope.tar $C:1"),
    own("import_bad_tag", "$E import $T $C/Bad:1"),
    own(
        "import_platform_fields",
        "$E import $T $C:1 >/dev/null && $E image inspect -f '{{.Os}}/{{.Architecture}}|{{.Variant}}|{{json .Variant}}' $C:1",
    ),
    // ---- image prune (the whole store, in this order)
    whole("prune_dangling", "$E image prune -f"),
    whole("prune_nothing_left", "$E image prune -f"),
    whole("prune_until_keeps_recent", "$E image prune -a -f --filter until=1h"),
    // Its own images, removed after, so a difference here does not spill into the next case.
    whole(
        "prune_all_label_filter",
        "$E image prune -a -f --filter label=prune=me; $E images $C",
    )
    .setup("$E import -c 'LABEL prune=me' \"$T\" $C:1 >/dev/null && $E import \"$T\" $C:2 >/dev/null")
    .cleanup("$E rmi -f $C:1 $C:2"),
    whole("prune_all_keeps_used", "$E image prune -a -f")
        .setup("$E create --network none --name keep bb >/dev/null")
        .cleanup("$E rm -f keep")
        .sorted(),
    whole("images_after_prune_all", "$E images -a"),
    // ---- container prune leaves anonymous volumes (volume prune takes them)
    whole(
        "container_prune_keeps_anonymous_volumes",
        "before=$($E volume ls -q | wc -l); $E container prune -f; \
         echo \"volumes: $(( $($E volume ls -q | wc -l) - before ))\"",
    )
    .setup("$E create --network none -v /anon --name c-anon bb >/dev/null")
    .cleanup("$E volume prune -f >/dev/null"),
    // ---- system prune (the whole store; the build cache emptied first on both sides,
    // since BuildKit's and strata's records of the base set's builds are not the same)
    whole(
        "system_prune_question_no",
        "echo n | $E system prune; echo \"exit $?\"; $E ps -aq --filter name=c-sp",
    )
    .setup("$E create --network none --name c-sp bb >/dev/null")
    .cleanup("$E rm -f c-sp"),
    whole("system_prune_filter_unknown", "$E system prune -f --filter foo=bar"),
    whole(
        "system_prune_filter_dangling",
        "$E system prune -f --filter dangling=false",
    ),
    whole(
        "system_prune_filter_until_bad",
        "$E system prune -f --filter until=xyz",
    ),
    whole(
        "system_prune_stopped_and_dangling",
        "$E system prune -f; $E ps -a --format '{{.Names}}'; $E images $C",
    )
    .setup(
        "$E builder prune -af >/dev/null && $E create --network none --name c-sp bb >/dev/null \
         && $E import \"$T\" $C:1 >/dev/null && $E import \"$T\" $C:1 >/dev/null",
    )
    .cleanup("$E rmi -f $C:1"),
    whole(
        "system_prune_label_filter",
        "$E system prune -f --filter label=sp=me; $E ps -a --format '{{.Names}}' | sort",
    )
    .setup(
        "$E create --network none --label sp=me --name c-sp-me bb >/dev/null \
         && $E create --network none --name c-sp-other bb >/dev/null",
    )
    .cleanup("$E rm -f c-sp-me c-sp-other"),
    whole(
        "system_prune_all",
        "$E system prune -a -f; $E images --format '{{.Repository}}' | sort",
    )
    .setup(
        "$E create --network none --name c-sp-stopped bb >/dev/null \
         && $E import \"$T\" $C:1 >/dev/null",
    )
    .cleanup("$E rm -f c-sp-stopped")
    // Docker walks the images in map order; the layer both images share goes with the
    // second one either way.
    .sorted(),
    // Docker 23 made `volume prune` (and so `system prune --volumes`) take only anonymous
    // volumes; strata follows it, Docker 20.10 still names every unused volume.
    whole(
        "system_prune_volumes_question",
        "echo n | $E system prune -a --volumes",
    )
    .reference(system_prune_volumes_question_reference),
];

/// Docker 23+'s question for `system prune -a --volumes` (cli/command/system/prune.go).
fn system_prune_volumes_question_reference(t: &str) -> Result<(), String> {
    expect(
        t,
        "exit 0\n--- stdout\nWARNING! This will remove:\n  - all stopped containers\n  \
         - all networks not used by at least one container\n  \
         - all anonymous volumes not used by at least one container\n  \
         - all images without at least one container associated to them\n  \
         - all build cache\n\nAre you sure you want to continue? [y/N] --- stderr\n",
    )
}

/// `want` exactly, or what differs.
fn expect(transcript: &str, want: &str) -> Result<(), String> {
    if transcript == want {
        Ok(())
    } else {
        Err(format!("want:\n{want}\ngot:\n{transcript}"))
    }
}

/// Current Docker's `save` (moby image/tarexport/save.go): an OCI layout (`oci-layout`,
/// `index.json`, `blobs/sha256/…` holding the config, layers and manifest), plus
/// `manifest.json` and `repositories` for older loaders. (Docker also adds the directory
/// entries and a legacy config blob per layer; loaders need neither.)
fn save_archive_entries_reference(t: &str) -> Result<(), String> {
    let stdout = t
        .strip_prefix("exit 0\n--- stdout\n")
        .and_then(|r| r.strip_suffix("--- stderr\n"))
        .ok_or_else(|| format!("save failed:\n{t}"))?;
    let entries: Vec<&str> = stdout.lines().collect();
    for file in ["index.json", "manifest.json", "oci-layout", "repositories"] {
        if !entries.contains(&file) {
            return Err(format!("no {file}:\n{t}"));
        }
    }
    let blobs: Vec<&&str> = entries
        .iter()
        .filter(|e| e.starts_with("blobs/sha256/"))
        .collect();
    if !blobs
        .iter()
        .any(|b| **b == "blobs/sha256/<img:c-save-archive-entries:1>")
    {
        return Err(format!(
            "the config is not a blob named by the image ID:\n{t}"
        ));
    }
    // Config, layer and manifest.
    if blobs.len() != 3 || entries.len() != 7 {
        return Err(format!("want 3 blobs and the 4 files:\n{t}"));
    }
    Ok(())
}

/// Current Docker's `manifest.json` points into `blobs/sha256/` and, like `repositories`,
/// is written by Go's `json.Encoder`: one line with a final newline (the script's `echo`
/// then prints an empty line).
fn save_manifest_json_reference(t: &str) -> Result<(), String> {
    expect(
        t,
        "exit 0\n--- stdout\n\
         [{\"Config\":\"blobs/sha256/<img:c-save-manifest-json:1>\",\"RepoTags\":[\"c-save-manifest-json:1\"],\"Layers\":[\"blobs/sha256/<hex64:1>\"]}]\n\n\
         {\"c-save-manifest-json\":{\"1\":\"<hex64:1>\"}}\n\n\
         --- stderr\n",
    )
}
