//! The trust policy enforced where images enter the store: `pull`, `run`/`create` of an
//! image not yet local, `build`'s `FROM`, and `copy --require-signed`; content trust from
//! the environment; and nothing stored when an image is refused.

mod harness;
mod trust_support;

use std::path::PathBuf;

use harness::Env;
use harness::rootfs::platform_rootfs_tar;
use trust_support::*;

/// Imports the host's busybox as a runnable image with `ENV N=n` (so each `n` is another
/// image) and pushes it to `target`.
fn push_runnable(env: &Env, n: &str, target: &str) {
    let tar = env.path("rootfs-amd64.tar");
    if !tar.exists() {
        platform_rootfs_tar(env, "linux/amd64");
    }
    let local = format!("local-{n}");
    env.ok(&[
        "import",
        "-c",
        "ENV PATH=/bin",
        "-c",
        &format!("ENV N={n}"),
        "-c",
        "CMD [\"sh\"]",
        tar.to_str().unwrap(),
        &local,
    ]);
    env.ok(&["tag", &local, target]);
    env.ok(&["push", "--quiet", target]);
}

/// Writes `json` with `HOST` replaced as the policy file `name` under `env`.
fn policy(env: &Env, name: &str, host: &str, json: &str) -> PathBuf {
    let path = env.path(name);
    std::fs::write(&path, json.replace("HOST", host)).unwrap();
    path
}

/// What the policy tests pull from: strata's registry with runnable images `app:signed`
/// (signed with key `p`), `app:unsigned`, `other:x` and `public:x`, and a second key `q`.
struct Published {
    _publisher: Env,
    _registry: Running,
    host: String,
    p: PathBuf,
    q: PathBuf,
    signed: String,
}

fn publish() -> Published {
    let publisher = Env::new();
    let (registry, host) = strata_registry(&publisher);
    let signed = format!("{host}/app:signed");
    push_runnable(&publisher, "signed", &signed);
    for (n, target) in [
        ("unsigned", "app:unsigned"),
        ("other", "other:x"),
        ("public", "public:x"),
    ] {
        push_runnable(&publisher, n, &format!("{host}/{target}"));
    }
    let p = keygen(&publisher, "p", "pw");
    let q = keygen(&publisher, "q", "pw");
    ok_pw(
        &publisher,
        "pw",
        &["sign", "--key", &key(&p, "key"), &signed],
    );
    Published {
        _publisher: publisher,
        _registry: registry,
        host,
        p,
        q,
        signed,
    }
}

/// `strata ARGS` with one more environment variable: (exit code, stderr).
fn with_env(env: &Env, (var, value): (&str, &str), args: &[&str]) -> (i32, String) {
    let out = env.cmd(args).env(var, value).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A consumer store, refused: exit code, and nothing of the image stored.
fn refused(env: &Env, args: &[&str], code: i32, words: &[&str]) -> String {
    let (got, err) = env.fails(args);
    assert_eq!(got, code, "strata {args:?}: {err}");
    for w in words {
        assert!(err.contains(w), "strata {args:?}: {w:?} missing in:\n{err}");
    }
    assert_eq!(
        env.ok(&["images", "-aq"]),
        "",
        "nothing listed after {args:?}"
    );
    let (bytes, files) = env.blob_usage();
    assert_eq!((bytes, files), (0, 0), "no blob stored after {args:?}");
    err
}

#[test]
fn pull_run_create_and_build_admit_only_what_the_policy_admits() {
    let Published {
        host, p, q, signed, ..
    } = &publish();
    let unsigned = format!("{host}/app:unsigned");

    let user = Env::new();
    let file = policy(
        &user,
        "policy.json",
        host,
        &format!(
            r#"{{"default": [{{"type": "reject"}}],
                "transports": {{"docker": {{
                    "HOST/app": [{{"type": "signedBy", "keyPath": "{}"}}],
                    "HOST/public": [{{"type": "insecureAcceptAnything"}}]}}}}}}"#,
            key(p, "pub")
        ),
    );
    let pol = file.to_str().unwrap();

    // pull: unsigned refused by the repository's signedBy rule, with the reason.
    let err = refused(
        &user,
        &["--policy", pol, "pull", &unsigned],
        1,
        &[
            &format!("{unsigned}: refused by the trust policy {pol}"),
            &format!("rule transports.docker \"{host}/app\", signedBy"),
            "no signatures found",
        ],
    );
    assert!(!err.contains("Downloaded"), "{err}");
    // reject: the default rule.
    refused(
        &user,
        &["--policy", pol, "pull", &format!("{host}/other:x")],
        1,
        &["rule default, reject", "rejected"],
    );
    // The policy as the default file (~/.config/strata/policy.json): run and create refuse
    // as Docker fails an image it cannot pull (run 125, create 1).
    let default = user.path(".config/strata/policy.json");
    std::fs::create_dir_all(default.parent().unwrap()).unwrap();
    std::fs::copy(&file, &default).unwrap();
    refused(
        &user,
        &["run", "--rm", "--network", "none", &unsigned, "true"],
        125,
        &["refused by the trust policy", "no signatures found"],
    );
    refused(
        &user,
        &["create", &unsigned],
        1,
        &["refused by the trust policy"],
    );
    // build: FROM an image the policy refuses.
    let ctx = user.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!("FROM {unsigned}\nENV B=1\n"),
    )
    .unwrap();
    refused(
        &user,
        &["build", "-q", "-t", "built", ctx.to_str().unwrap()],
        1,
        &["refused by the trust policy", "no signatures found"],
    );

    // Signed: admitted everywhere.
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {signed}\nENV B=1\n")).unwrap();
    user.ok(&["build", "-q", "-t", "built", ctx.to_str().unwrap()]);
    user.ok(&["rmi", "built", signed]);
    let out = user.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        signed,
        "sh",
        "-c",
        "echo $N",
    ]);
    assert_eq!(out, "signed\n");
    user.ok(&["rmi", signed]);
    user.ok(&["pull", "-q", signed]);
    user.ok(&["pull", "-q", &format!("{host}/public:x")]);
    // Once local, run does not pull, so does not ask again (as Docker's content trust).
    user.ok(&["create", signed]);

    // The wrong key: refused, saying so.
    let wrong = policy(
        &user,
        "wrong.json",
        host,
        &format!(
            r#"{{"default": [{{"type": "signedBy", "keyPath": "{}"}}]}}"#,
            key(q, "pub")
        ),
    );
    let fresh = Env::new();
    refused(
        &fresh,
        &["--policy", wrong.to_str().unwrap(), "pull", signed],
        1,
        &["rule default, signedBy", "wrong key"],
    );
    let e = fresh
        .fails(&["--policy", "/nonexistent/policy.json", "pull", signed])
        .1;
    assert!(e.contains("/nonexistent/policy.json"), "{e}");
}

#[test]
fn content_trust_requires_a_signature_by_a_configured_key_for_everything() {
    let Published {
        host, p, signed, ..
    } = &publish();
    let public = format!("{host}/public:x");

    let user = Env::new();
    // No policy at all: content trust cannot know a key, and says what to write.
    let (code, err) = with_env(&user, ("DOCKER_CONTENT_TRUST", "1"), &["pull", signed]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("there is no trust policy") && err.contains("policy.json"),
        "{err}"
    );

    let file = policy(
        &user,
        "policy.json",
        host,
        &format!(
            r#"{{"default": [{{"type": "insecureAcceptAnything"}}],
                "transports": {{"docker": {{"HOST/app": [{{"type": "signedBy", "keyPath": "{}"}}]}}}}}}"#,
            key(p, "pub")
        ),
    );
    let pol = file.to_str().unwrap();
    // Without content trust the policy lets anything else in.
    user.ok(&["--policy", pol, "pull", "-q", &public]);
    user.ok(&["rmi", &public]);
    for var in ["STRATA_CONTENT_TRUST", "DOCKER_CONTENT_TRUST"] {
        let (code, err) = with_env(&user, (var, "1"), &["--policy", pol, "pull", &public]);
        assert_eq!(code, 1, "{var}: {err}");
        assert!(
            err.contains("rule default, signedBy") && err.contains("no signatures found"),
            "{var}: {err}"
        );
        assert_eq!(user.ok(&["images", "-aq"]), "", "{var}");
        let (code, err) = with_env(
            &user,
            (var, "true"),
            &["--policy", pol, "pull", "-q", signed],
        );
        assert_eq!(code, 0, "{var}: {err}");
        user.ok(&["rmi", signed]);
    }
    // Docker's --disable-content-trust: a bare flag turns content trust off for the
    // command, `=false` turns it on without the environment; run, create, build and push
    // take it as well.
    let bare = [
        "--policy",
        pol,
        "pull",
        "-q",
        "--disable-content-trust",
        &public,
    ];
    let (code, err) = with_env(&user, ("DOCKER_CONTENT_TRUST", "1"), &bare);
    assert_eq!(code, 0, "{err}");
    user.ok(&["rmi", &public]);
    for args in [
        vec!["pull", "--disable-content-trust=false", &public],
        vec!["create", "--disable-content-trust=false", &public],
        vec![
            "run",
            "--rm",
            "--network",
            "none",
            "--disable-content-trust=false",
            &public,
            "true",
        ],
    ] {
        let mut full = vec!["--policy", pol];
        full.extend(&args);
        let (_, err) = user.fails(&full);
        assert!(err.contains("rule default, signedBy"), "{args:?}: {err}");
    }
    let ctx = user.path("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), format!("FROM {public}\n")).unwrap();
    let (_, err) = user.fails(&[
        "--policy",
        pol,
        "build",
        "--disable-content-trust=false",
        "-q",
        ctx.to_str().unwrap(),
    ]);
    assert!(err.contains("rule default, signedBy"), "{err}");
    assert_eq!(user.ok(&["images", "-aq"]), "");
    // "0" is off.
    let (code, err) = with_env(
        &user,
        ("DOCKER_CONTENT_TRUST", "0"),
        &["--policy", pol, "pull", "-q", &public],
    );
    assert_eq!(code, 0, "{err}");
}

/// Signatures follow `copy`: strata's registry → Debian's docker-registry → an OCI layout
/// → strata's registry again, and sigstore-rs verifies them at the end; an index signed
/// with --recursive brings its manifests' signatures along with `--all`.
#[test]
fn signatures_follow_copies_between_registries_and_layouts() {
    let env = Env::new();
    let (_strata, s_host) = strata_registry(&env);
    let (_debian, d_host) = debian_registry();
    let digests = push_images(&env, &s_host);
    let p = keygen(&env, "p", "pw");
    let p_pub = std::fs::read(key(&p, "pub")).unwrap();
    let pk = key(&p, "pub");
    for t in ["a", "multi"] {
        ok_pw(
            &env,
            "pw",
            &[
                "sign",
                "--key",
                &key(&p, "key"),
                "--recursive",
                &format!("{s_host}/app:{t}"),
            ],
        );
    }
    let layout = env.path("layout-copy");
    let oci = |t: &str| format!("oci:{}:{t}", layout.display());
    for t in ["a", "multi"] {
        let err = {
            let out = env
                .cmd(&[
                    "copy",
                    "--all",
                    &format!("docker://{s_host}/app:{t}"),
                    &format!("docker://{d_host}/app:{t}"),
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        assert!(err.contains("Storing signatures"), "{err}");
        env.ok(&[
            "copy",
            "--quiet",
            "--all",
            &format!("docker://{d_host}/app:{t}"),
            &oci(t),
        ]);
        env.ok(&[
            "copy",
            "--quiet",
            "--all",
            &oci(t),
            &format!("docker://{s_host}/back:{t}"),
        ]);
    }
    // Every stop verifies: strata on each, sigstore-rs on the registries.
    for image in [
        format!("{d_host}/app:a"),
        oci("a"),
        format!("{s_host}/back:a"),
        format!("{s_host}/back:multi"),
        format!("{s_host}/back@{}", digests["arm"]),
    ] {
        ok_pw(&env, "", &["verify", "--key", &pk, &image]);
    }
    for image in [
        format!("{d_host}/app:a"),
        format!("{s_host}/back:a"),
        format!("{s_host}/back:multi"),
        format!("{d_host}/app@{}", digests["arm"]),
        format!("{s_host}/back@{}", digests["arm"]),
    ] {
        assert_eq!(sigstore_verifies(&image, &p_pub), Ok(1), "{image}");
    }

    // --remove-signatures: the image arrives, its signatures do not.
    env.ok(&[
        "copy",
        "--quiet",
        "--remove-signatures",
        &format!("docker://{s_host}/app:a"),
        &format!("docker://{d_host}/bare:a"),
    ]);
    let (code, _, err) = run_pw(
        &env,
        "",
        &["verify", "--key", &pk, &format!("{d_host}/bare:a")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no signatures found"), "{err}");
    assert!(sigstore_verifies(&format!("{d_host}/bare:a"), &p_pub).is_err());

    // --require-signed: the source must satisfy the policy; a refusal writes nothing.
    let pol = env.path("policy.json");
    std::fs::write(
        &pol,
        format!(r#"{{"default": [{{"type": "signedBy", "keyPath": "{pk}"}}]}}"#),
    )
    .unwrap();
    let pol = pol.to_str().unwrap();
    let (code, err) = env.fails(&[
        "--policy",
        pol,
        "copy",
        "--require-signed",
        &format!("docker://{s_host}/app:b"),
        &format!("docker://{d_host}/required:b"),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("refused by the trust policy") && err.contains("no signatures found"),
        "{err}"
    );
    let (code, _) = env.fails(&[
        "copy",
        "--quiet",
        &format!("docker://{d_host}/required:b"),
        &format!("oci:{}", env.path("probe").display()),
    ]);
    assert_eq!(code, 1, "nothing was written to the destination");
    env.ok(&[
        "--policy",
        pol,
        "copy",
        "--quiet",
        "--require-signed",
        &format!("docker://{s_host}/app:a"),
        &format!("docker://{d_host}/required:a"),
    ]);
    assert_eq!(
        sigstore_verifies(&format!("{d_host}/required:a"), &p_pub),
        Ok(1)
    );
    let (code, err) = env.fails(&[
        "copy",
        "--require-signed",
        &format!("docker://{s_host}/app:a"),
        &oci("x"),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--require-signed needs a trust policy"),
        "{err}"
    );
}

/// Signatures follow `pull` into the store and `push` out of it: an image pulled from
/// strata's registry and pushed to Debian's still verifies there (cosign's form with
/// sigstore-rs too, the bundle with strata), and an unsigned one gains nothing.
#[test]
fn signatures_follow_pull_and_push_through_the_store() {
    let env = Env::new();
    let (_strata, s_host) = strata_registry(&env);
    let (_debian, d_host) = debian_registry();
    push_images(&env, &s_host);
    let p = keygen(&env, "p", "pw");
    let pk = key(&p, "pub");
    ok_pw(
        &env,
        "pw",
        &["sign", "--key", &key(&p, "key"), &format!("{s_host}/app:a")],
    );
    ok_pw(
        &env,
        "pw",
        &[
            "sign",
            "--key",
            &key(&p, "key"),
            "--bundle",
            &format!("{s_host}/app:b"),
        ],
    );
    let user = Env::new();
    for t in ["a", "b"] {
        let from = format!("{s_host}/app:{t}");
        let to = format!("{d_host}/moved:{t}");
        user.ok(&["pull", "-q", &from]);
        user.ok(&["tag", &from, &to]);
        user.ok(&["push", "-q", &to]);
        ok_pw(&user, "", &["verify", "--key", &pk, &to]);
    }
    let p_pub = std::fs::read(&pk).unwrap();
    assert_eq!(
        sigstore_verifies(&format!("{d_host}/moved:a"), &p_pub),
        Ok(1)
    );
    // The arm64 image of the multi-platform one is not signed (its amd64 image is `a`,
    // whose signature would follow it): it arrives without signatures.
    let multi = format!("{s_host}/app:multi");
    user.ok(&["pull", "-q", "--platform", "linux/arm64", &multi]);
    user.ok(&["tag", &multi, &format!("{d_host}/moved:multi")]);
    user.ok(&["push", "-q", &format!("{d_host}/moved:multi")]);
    let (code, _, err) = run_pw(
        &user,
        "",
        &["verify", "--key", &pk, &format!("{d_host}/moved:multi")],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no signatures found"), "{err}");

    // push --require-signed judges by the signatures kept with the image.
    let pol = user.path("policy.json");
    std::fs::write(
        &pol,
        format!(r#"{{"default": [{{"type": "signedBy", "keyPath": "{pk}"}}]}}"#),
    )
    .unwrap();
    let pol = pol.to_str().unwrap();
    let arm = format!("{d_host}/required:arm");
    user.ok(&["tag", &multi, &arm]);
    let (code, err) = user.fails(&["--policy", pol, "push", "--require-signed", &arm]);
    assert_eq!(code, 1);
    assert!(
        err.contains("refused by the trust policy") && err.contains("no signatures found"),
        "{err}"
    );
    let e = user.fails(&["pull", "-q", &arm]).1;
    assert!(e.contains("not found"), "nothing was pushed: {e}");
    let signed = format!("{d_host}/required:a");
    user.ok(&["tag", &format!("{s_host}/app:a"), &signed]);
    user.ok(&["--policy", pol, "push", "-q", "--require-signed", &signed]);
    assert_eq!(sigstore_verifies(&signed, &p_pub), Ok(1));
}
