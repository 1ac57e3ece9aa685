//! `strata manifest annotate LIST IMAGE` (`--os --arch --variant --os-features
//! --os-version`): edits the platform an image will carry in a local list, refusing an
//! os/arch pair Docker does not know.

use super::manifest_create::normalize;
use super::manifest_store::ListStore;
use super::{Ctx, Plain};
use crate::cli::ManifestAnnotateArgs;

/// Docker's `validOSArches`: the os/arch pairs `manifest annotate` accepts.
const VALID_OS_ARCHES: &[(&str, &str)] = &[
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm"),
    ("darwin", "arm64"),
    ("dragonfly", "amd64"),
    ("freebsd", "386"),
    ("freebsd", "amd64"),
    ("freebsd", "arm"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("linux", "mips64"),
    ("linux", "mips64le"),
    ("linux", "riscv64"),
    ("linux", "s390x"),
    ("netbsd", "386"),
    ("netbsd", "amd64"),
    ("netbsd", "arm"),
    ("openbsd", "386"),
    ("openbsd", "amd64"),
    ("openbsd", "arm"),
    ("plan9", "386"),
    ("plan9", "amd64"),
    ("solaris", "amd64"),
    ("windows", "386"),
    ("windows", "amd64"),
];

/// Whether Docker accepts `os`/`arch` in a manifest list.
pub fn is_valid_os_arch(os: &str, arch: &str) -> bool {
    VALID_OS_ARCHES.contains(&(os, arch))
}

/// Applies the flags to the entry and saves it.
pub fn run(ctx: &Ctx, args: ManifestAnnotateArgs) -> anyhow::Result<()> {
    let list = normalize(&args.list).map_err(|e| {
        Plain::error(format!(
            "annotate: error parsing name for manifest list {}: {e}",
            args.list
        ))
    })?;
    let image = normalize(&args.image).map_err(|e| {
        Plain::error(format!(
            "annotate: error parsing name for manifest {}: {e}",
            args.image
        ))
    })?;
    let lists = ListStore::new(&store::Layout::new(&ctx.root));
    let Some(mut entry) = lists.get(&list, &image)? else {
        return Err(Plain::error(format!(
            "manifest for image {} does not exist in {}",
            args.image, args.list
        )));
    };
    let p = entry
        .descriptor
        .platform
        .get_or_insert_with(Default::default);
    let set = |field: &mut String, v: &Option<String>| {
        if let Some(v) = v.as_ref().filter(|v| !v.is_empty()) {
            *field = v.clone();
        }
    };
    set(&mut p.os, &args.os);
    set(&mut p.architecture, &args.arch);
    for f in &args.os_features {
        if !p.os_features.contains(f) {
            p.os_features.push(f.clone());
        }
    }
    if let Some(v) = args.variant.as_ref().filter(|v| !v.is_empty()) {
        p.variant = Some(v.clone());
    }
    if let Some(v) = args.os_version.as_ref().filter(|v| !v.is_empty()) {
        p.os_version = Some(v.clone());
    }
    if !is_valid_os_arch(&p.os, &p.architecture) {
        // Docker names the flags' values here, not the entry's.
        return Err(Plain::error(format!(
            "manifest entry for image has unsupported os/arch combination: {}/{}",
            args.os.as_deref().unwrap_or(""),
            args.arch.as_deref().unwrap_or("")
        )));
    }
    lists.save(&list, &image, &entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_arch_pairs_are_dockers() {
        for (os, arch, ok) in [
            ("linux", "amd64", true),
            ("linux", "arm64", true),
            ("linux", "arm", true),
            ("windows", "amd64", true),
            // Docker's table has no linux/ppc64 nor windows/arm64.
            ("linux", "ppc64", false),
            ("windows", "arm64", false),
            ("linux", "bogus", false),
            ("", "", false),
        ] {
            assert_eq!(is_valid_os_arch(os, arch), ok, "{os}/{arch}");
        }
    }
}
