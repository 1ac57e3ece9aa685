//! `--format` templates against the real `docker`: the same Go templates (control
//! structures, variables, pipelines, builtins and Docker's functions) on the same image
//! and on containers made with the same flags print the same. Needs root, runc and
//! dockerd; fails without.

mod harness;

use harness::differential::Differential;

#[test]
fn templates_print_what_dockers_print() {
    let d = Differential::new();
    let image = [
        "{{range .RepoTags}}{{.}} {{end}}",
        "{{if eq .Os \"linux\"}}L{{else}}X{{end}}",
        "{{if eq .Os \"darwin\" \"linux\"}}one of{{end}}",
        "{{if ne .Os \"linux\"}}a{{else if .Config.Cmd}}b{{else}}c{{end}}",
        "{{with .Config}}{{join .Env \",\"}}{{end}}",
        "{{range $i, $e := .Config.Env}}{{$i}}:{{$e}} {{end}}",
        "{{$os := .Os}}{{with .Config}}{{$os}}/{{$.Architecture}}/{{index .Cmd 0}}{{end}}",
        "{{printf \"%s/%s %5d|%-4s|\" .Os .Architecture (len .RootFS.Layers) .Os}}",
        "{{println .Os}}{{print .Os 1 2}}",
        "{{index .Config.Cmd 0 | upper | printf \"<%s>\"}}",
        "{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.Cmd}}",
        "a {{- /* comment */ -}} b {{.Os | title}}",
        "{{slice .Os 0 3}} {{len .Os}} {{truncate .Os 2}} [{{pad .Os 1 1}}]",
        "{{if and .Config.Cmd (not .Config.Entrypoint)}}cmd-only{{end}}",
        "{{or .Config.User \"root\"}} {{and .Os .Architecture}}",
        "{{range .Config.Env}}{{split . \"=\"}} {{index (split . \"=\") 1}}{{end}}",
        "{{range .RootFS.Layers}}{{if .}}layer{{break}}{{end}}{{end}}",
        "{{lower \"ABC\"}} {{lt 1 2}} {{ge 2 3}} {{eq 1 1}}",
        // Nil slices and maps print as Go's typed zero values; json still says null.
        "{{.Config.Volumes}} {{.Config.Entrypoint}} {{.ContainerConfig.Cmd}} {{.Config.ExposedPorts}}",
        "{{json .Config.Volumes}} {{json .Config.Entrypoint}}",
    ];
    for t in image {
        assert_eq!(
            d.strata.ok(&["inspect", "-f", t, "bb"]),
            d.docker.ok(&["inspect", "-f", t, "bb"]),
            "{t}"
        );
    }
    // A key the JSON does not have is an error naming it and where it is, exit 1; an
    // empty line on stdout, as Docker's.
    for t in [
        "{{.Nope}}",
        "{{.Os}} {{.Config.Nope}}",
        "{{.Os}}\n {{index .Config.Cmd 5}}",
    ] {
        let docker = d.docker.run(&["inspect", "-f", t, "bb"]);
        let strata = d.strata.run(&["inspect", "-f", t, "bb"]);
        assert_eq!(strata.status.code(), Some(1), "{t}");
        assert_eq!(docker.status.code(), Some(1), "{t}");
        let lead = |b: &[u8]| {
            let s = String::from_utf8_lossy(b).into_owned();
            s.split(" at <").next().unwrap().to_string()
        };
        assert_eq!(lead(&strata.stderr), lead(&docker.stderr), "{t}");
        assert_eq!(strata.stdout, docker.stdout, "{t}");
    }
    // Malformed templates: Docker's words.
    for t in ["{{.Os", "{{range .Os}}", "{{nofunc .Os}}"] {
        let docker = d.docker.run(&["images", "--format", t]);
        let strata = d.strata.run(&["images", "--format", t]);
        assert_eq!(
            (
                strata.status.code(),
                String::from_utf8_lossy(&strata.stderr)
            ),
            (
                docker.status.code(),
                String::from_utf8_lossy(&docker.stderr)
            ),
            "{t}"
        );
    }
    let args = [
        "run",
        "-d",
        "--name",
        "tc",
        "-v",
        "/anon",
        "--network",
        "none",
        "bb",
        "sleep",
        "60",
    ];
    d.docker.ok(&args);
    d.strata.ok(&args);
    let container = [
        "{{.State.Status}} {{if .State.Running}}up{{end}} {{.State.ExitCode}}",
        "{{if eq .State.Status \"running\"}}running{{else}}not{{end}}",
        "{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}",
        "{{range $m := .Mounts}}{{if $m.RW}}rw{{end}}{{end}}",
        "{{.Name}} {{.HostConfig.NetworkMode}} {{.Config.Cmd}} {{.Path}} {{.Args}}",
        "{{with .Config}}{{.Cmd}}{{else}}none{{end}}",
        "{{json .Config.Cmd}} {{len .Mounts}} {{eq .State.ExitCode 0}}",
        "{{.HostConfig.Binds}} {{.ExecIDs}} {{.Config.Volumes}} {{.Config.Labels}}",
    ];
    for t in container {
        assert_eq!(
            d.strata.ok(&["inspect", "-f", t, "tc"]),
            d.docker.ok(&["inspect", "-f", t, "tc"]),
            "{t}"
        );
    }
    // A listing row marshals itself like Go's json.Marshal: HTML characters escaped.
    let row = |text: String| -> serde_json::Value { serde_json::from_str(text.trim()).unwrap() };
    let docker = row(d.docker.ok(&["images", "--format", "{{json .}}", "bb"]));
    let strata_text = d.strata.ok(&["images", "--format", "{{json .}}", "bb"]);
    assert!(
        strata_text.contains(r#""Digest":"\u003cnone\u003e""#),
        "{strata_text}"
    );
    assert_eq!(row(strata_text)["Digest"], docker["Digest"]);
    // ps: the row's JSON has Docker's keys in Docker's order (values legitimately differ:
    // IDs, times, sizes).
    let keys = |text: &str| -> Vec<String> {
        let v: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        v.as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(
        keys(
            &d.strata
                .ok(&["ps", "--format", "{{json .}}", "-f", "name=tc"])
        ),
        keys(
            &d.docker
                .ok(&["ps", "--format", "{{json .}}", "-f", "name=tc"])
        )
    );
    d.strata.ok(&["rm", "-f", "-v", "tc"]);
    // Listings: Docker's table contexts.
    for t in [
        "{{.Repository}}:{{.Tag}}",
        "{{if eq .Tag \"latest\"}}L{{end}} {{printf \"%-5s|\" .Repository}}",
        "{{.Repository | upper}} {{len .Tag}}",
        "table {{.Repository}}\\t{{.Tag}}",
        "{{json .Digest}} {{json .Repository}}",
        "{{json .Digest}} {{with .}}{{.Digest}}{{end}}",
    ] {
        assert_eq!(
            d.strata.ok(&["images", "--format", t]),
            d.docker.ok(&["images", "--format", t]),
            "{t}"
        );
    }
}
