//! The differences from Docker the image-commands suite has found and strata has not fixed
//! yet, each with what differs precisely.

/// Differences not fixed yet: (case, reason). The suite fails when one of these starts
/// agreeing (take it out) or when a case not listed differs.
pub const KNOWN: &[(&str, &str)] = &[
    (
        r#"inspect_whole_image"#,
        r#"GraphDriver.Data: docker names its overlay2 dirs (`<path>/data/overlay2/ID/{merged,diff,work}`), strata its layer snapshots (`<path>/snapshots/CHAIN/fs` as UpperDir/LowerDir, no merged or work dir: an image has none); DockerVersion as in inspect_import_comment"#,
    ),
    (
        r#"inspect_import_comment"#,
        r#"DockerVersion: dockerd records its own engine version (`20.10.24+dfsg1`) in the images it imports; strata is not that engine and leaves it empty, as BuildKit does for the images it builds"#,
    ),
    (
        r#"load_empty_stdin"#,
        r#"empty input: docker prints its daemon's temp path (`open <data-root>/tmp/docker-import-RANDOM/repositories: no such file or directory`); strata says the input is neither a docker-archive nor an OCI archive"#,
    ),
];
