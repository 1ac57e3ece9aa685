//! Builds of generated Dockerfiles (valid and broken instructions mixed) through the
//! `strata` binary: whether a build succeeds or fails, it leaves no ingest, temp file,
//! container, container directory or mount behind (issue 10: 55 of 2,000 mutated
//! Dockerfiles left ingest files in the store).

use proptest::prelude::*;

use crate::harness::rootfs::Containers;
use crate::run_cases;

/// Instructions a generated Dockerfile is made of after its `FROM bb`.
const LINES: &[&str] = &[
    "COPY a /a",
    "COPY missing /m",
    "COPY --from=nope / /",
    "COPY --from=0 /etc /copied",
    "ADD a /b/",
    "ADD big.tar /unpacked/",
    "COPY . /ctx",
    "COPY a",
    "RUN true",
    "RUN false",
    "RUN echo x > /f; exit 3",
    "RUN dd if=/dev/zero of=/big bs=1024 count=2048 2>/dev/null",
    "RUN --mount=type=bind,source=a,target=/m cat /m",
    "RUN --mount=type=bind,source=nope,target=/m cat /m",
    "RUN --mount=type=cache,target=/c touch /c/x",
    "WORKDIR /w",
    "ENV A=1",
    "ARG X",
    "USER 1000",
    "USER nosuchuser",
    "LABEL a=b",
    "CMD x",
    "FROM bb AS s2",
    "FROM nosuchimage",
    "EXPOSE 80/xyz",
    "HEALTHCHECK --interval=bad CMD x",
    "VOLUME /v",
    "STOPSIGNAL NOPE",
    "ONBUILD RUN x",
    "SHELL [\"/bin/sh\", \"-c\"]",
    "RUN [\"/no/such/binary\"]",
    "\\",
    "RUN <<EOF\necho heredoc\nEOF",
];

/// The containers fixture (root, runc, the `bb` image) and a build context.
fn fixture() -> (Containers, std::path::PathBuf) {
    {
        let c = Containers::new();
        let ctx = c.path("ctx");
        std::fs::create_dir_all(&ctx).unwrap();
        std::fs::write(ctx.join("a"), b"a\n").unwrap();
        let big = crate::harness::images::tar_of(&[("payload", &[7u8; 300_000][..])]);
        std::fs::write(ctx.join("big.tar"), big).unwrap();
        (c, ctx)
    }
}

/// Entries of a store directory (dot files aside).
fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

#[test]
fn builds_leave_nothing_behind() {
    let f = fixture();
    let cases = (
        prop::collection::vec(prop::sample::select(LINES), 1..6),
        any::<bool>(),
    );
    run_cases(60, &cases, |(lines, no_cache)| {
        let (c, ctx) = (&f.0, &f.1);
        let text = format!("FROM bb\n{}\n", lines.join("\n"));
        std::fs::write(ctx.join("Dockerfile"), &text).unwrap();
        let mut args = vec!["build", "-q", "--network", "none"];
        if no_cache {
            args.push("--no-cache");
        }
        args.push(ctx.to_str().unwrap());
        let out = c.run(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        prop_assert_eq!(
            entries(&c.layout().ingest_dir()),
            Vec::<String>::new(),
            "ingest left by:\n{}\n{}",
            text,
            stderr
        );
        prop_assert_eq!(
            entries(&c.layout().tmp_dir()),
            Vec::<String>::new(),
            "tmp left by:\n{}\n{}",
            text,
            stderr
        );
        prop_assert_eq!(
            c.leftovers(),
            Vec::<String>::new(),
            "containers left by:\n{}\n{}",
            text,
            stderr
        );
        prop_assert_eq!(
            c.mounts(),
            Vec::<String>::new(),
            "mounts left by:\n{}\n{}",
            text,
            stderr
        );
        prop_assert_eq!(
            c.ok(&["ps", "-aq"]),
            "",
            "containers listed after:\n{}",
            text
        );
        c.ok(&["images", "-a"]);
        Ok(())
    });
}
