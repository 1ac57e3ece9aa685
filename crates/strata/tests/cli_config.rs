//! strata's configuration file: Docker Hub mirrors (`registry-mirrors`, as Docker's
//! daemon setting: tried in order for `docker.io` images only) and the default formats of
//! `ps` and `images` (`ps-format`, `images-format`, under Docker's client `psFormat` and
//! `imagesFormat`).

mod harness;

use harness::{Env, serve_registry};

/// An image of one small layer, imported as `name`.
fn small_image(env: &Env, name: &str) {
    let dir = env.path("ctx");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), b"mirrored").unwrap();
    let tar = env.path("f.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tar).unwrap());
    b.append_path_with_name(dir.join("f"), "f").unwrap();
    b.finish().unwrap();
    env.ok(&["import", tar.to_str().unwrap(), name]);
}

#[test]
fn docker_hub_images_come_from_the_first_mirror_that_has_them() {
    let env = Env::new();
    let (_empty, empty_host) = serve_registry(&env, "empty-mirror");
    let (_full, full_host) = serve_registry(&env, "full-mirror");
    small_image(&env, "local:1");
    let remote = format!("{full_host}/library/mirrored:1");
    env.ok(&["tag", "local:1", &remote]);
    env.ok(&["push", &remote]);
    let id = env.ok(&["images", "-q", "--no-trunc", "local:1"]);
    env.ok(&["rmi", "local:1", &remote]);
    // The first mirror lacks the image; the second has it. No request leaves loopback:
    // a mirror that has the image serves the whole pull.
    let cfg = env.path("config.toml");
    std::fs::write(
        &cfg,
        format!("registry-mirrors = [\"http://{empty_host}\", \"http://{full_host}\"]\n"),
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let out = env.ok(&["--config", cfg, "pull", "mirrored:1"]);
    assert!(out.ends_with("docker.io/library/mirrored:1\n"), "{out}");
    assert_eq!(env.ok(&["images", "-q", "--no-trunc", "mirrored:1"]), id);
    assert_eq!(
        env.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}", "mirrored"]),
        "mirrored:1\n"
    );
    // Mirrors serve Docker Hub only: another registry's image is not looked for there.
    let (code, err) = env.fails(&[
        "--config",
        cfg,
        "pull",
        &format!("{empty_host}/library/mirrored:1"),
    ]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn configured_formats_are_the_defaults_of_ps_and_images() {
    let env = Env::new();
    small_image(&env, "fmt:1");
    let cfg = env.path("config.toml");
    std::fs::write(
        &cfg,
        "ps-format = \"{{.Names}} {{.State}}\"\nimages-format = \"{{.Repository}}={{.Tag}}\"\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    assert_eq!(env.ok(&["--config", cfg, "images", "fmt"]), "fmt=1\n");
    assert_eq!(
        env.ok(&["--config", cfg, "images", "--format", "{{.Tag}}", "fmt"]),
        "1\n"
    );
    // Docker's client config.json wins over strata's file.
    let client = env.path("client");
    std::fs::create_dir_all(&client).unwrap();
    std::fs::write(
        client.join("config.json"),
        r#"{"imagesFormat":"{{.Repository}}"}"#,
    )
    .unwrap();
    let out = env
        .cmd(&["--config", cfg, "images", "fmt"])
        .env("DOCKER_CONFIG", &client)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "fmt\n");
    // An unknown key in strata's file is an error that names it.
    std::fs::write(env.path("bad.toml"), "ps_format = \"x\"\n").unwrap();
    let (code, err) = env.fails(&["--config", env.path("bad.toml").to_str().unwrap(), "images"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml") && err.contains("ps_format"),
        "{err}"
    );
}
