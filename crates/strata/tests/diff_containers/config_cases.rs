//! Docker's client configuration directory (`DOCKER_CONFIG`, `--config DIR`): the
//! `psFormat` and `imagesFormat` of its `config.json` as the default formats, under the
//! `--format` and `-q` flags.

use super::case::{Case, script};
use super::side::{Cmp, Side};

/// The cases of this file.
#[rustfmt::skip]
pub const CASES: &[Case] = &[
    script("config_ps_and_images_formats", formats),
];

fn formats(s: &Side) {
    let dir = s.dir().join("client");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"psFormat":"table {{.Names}}\t{{.State}}","imagesFormat":"{{.Repository}}:{{.Tag}}"}"#,
    )
    .unwrap();
    let env = [("DOCKER_CONFIG", dir.to_str().unwrap())];
    s.step(&["create", "--name", "@name", "bb"], Cmp::Quiet);
    s.step_env(&["ps", "-a", "--filter", "name=@name"], &env, Cmp::Out);
    s.step_env(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}!",
        ],
        &env,
        Cmp::Out,
    );
    s.step_env(
        &["ps", "-a", "-q", "--filter", "name=@name"],
        &env,
        Cmp::Out,
    );
    s.step_env(&["images", "bb"], &env, Cmp::Out);
    // `--config DIR` names the directory on the command line.
    s.step(
        &[
            "--config",
            "@dir/client",
            "ps",
            "-a",
            "--filter",
            "name=@name",
        ],
        Cmp::Out,
    );
    s.step(&["--config", "@dir/client", "images", "bb"], Cmp::Out);
    // A malformed config.json: a warning, and the defaults.
    std::fs::write(dir.join("config.json"), "{bad").unwrap();
    let warned = s.step_env(
        &[
            "ps",
            "-a",
            "--filter",
            "name=@name",
            "--format",
            "{{.Names}}",
        ],
        &env,
        Cmp::Out,
    );
    s.note(
        "warned",
        &warned
            .stderr
            .starts_with("WARNING: Error loading config file")
            .to_string(),
    );
}
