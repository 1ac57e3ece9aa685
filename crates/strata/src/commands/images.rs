//! `strata images` / `strata image ls`.

use std::io::Write;

use anyhow::bail;
use serde_json::{Value, json};
use store::ImageInfo;

use super::{Ctx, util};
use crate::cli::ImagesArgs;
use crate::render::{self, OutputFormat};

const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("VirtualSize", "SIZE"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("Containers", "CONTAINERS"),
];

/// The `--filter` conditions `images` understands.
#[derive(Debug, Default, PartialEq)]
struct Filters {
    dangling: Option<bool>,
    references: Vec<String>,
    labels: Vec<(String, Option<String>)>,
    /// Images created before the one named (`before=IMAGE`).
    before: Option<String>,
    /// Images created after the one named (`since=IMAGE`).
    since: Option<String>,
}

impl Filters {
    fn parse(args: &[String]) -> anyhow::Result<Filters> {
        let mut f = Filters::default();
        for arg in args {
            let Some((key, value)) = arg.split_once('=') else {
                bail!("bad format of filter (expected name=value): {arg}");
            };
            match key.to_ascii_lowercase().as_str() {
                "dangling" => {
                    f.dangling = Some(match value.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        // dockerd prints the filter's values as Go prints a []string.
                        _ => bail!("Invalid filter 'dangling=[{value}]'"),
                    })
                }
                "reference" => f.references.push(value.to_string()),
                "before" => f.before = Some(value.to_string()),
                "since" => f.since = Some(value.to_string()),
                "label" => f.labels.push(match value.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (value.to_string(), None),
                }),
                _ => bail!("Invalid filter '{key}'"),
            }
        }
        Ok(f)
    }

    fn keeps_image(&self, info: &ImageInfo) -> bool {
        if let Some(d) = self.dangling
            && d != info.dangling
        {
            return false;
        }
        self.labels
            .iter()
            .all(|(k, v)| match (info.labels.get(k), v) {
                (Some(have), Some(want)) => have == want,
                (Some(_), None) => true,
                (None, _) => false,
            })
    }

    /// Whether a full tag name passes the reference filters (any of them).
    fn keeps_tag(&self, full: &str) -> anyhow::Result<bool> {
        if self.references.is_empty() {
            return Ok(true);
        }
        let named = match oci::reference::parse_normalized_named(full) {
            Ok(n) => n,
            Err(_) => return Ok(false),
        };
        for pattern in &self.references {
            if oci::reference::familiar_match(pattern, &named)
                .map_err(|e| anyhow::anyhow!("invalid reference filter {pattern:?}: {e}"))?
            {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// Lists images.
pub fn run(ctx: &Ctx, args: ImagesArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut filters = Filters::parse(&args.filters)?;
    if let Some(r) = &args.reference {
        filters.references.push(r.clone());
    }
    let store = ctx.store()?;
    let mut images = store.images()?;
    // before= / since=: by the named image's creation time.
    let created_of = |name: &str| -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        Ok(util::parse_time(
            util::resolve(&store, name)?.created.as_deref(),
        ))
    };
    if let Some(b) = &filters.before {
        let limit = created_of(b)?;
        images.retain(|i| util::parse_time(i.created.as_deref()) < limit);
    }
    if let Some(s) = &filters.since {
        let limit = created_of(s)?;
        images.retain(|i| util::parse_time(i.created.as_deref()) > limit);
    }
    images.sort_by_key(|i| std::cmp::Reverse(util::parse_time(i.created.as_deref())));
    if args.tree {
        let mut kept = Vec::new();
        for info in images.into_iter().filter(|i| filters.keeps_image(i)) {
            let mut named = false;
            for t in &info.tags {
                named |= filters.keeps_tag(t)?;
            }
            if named || filters.references.is_empty() {
                kept.push(info);
            }
        }
        let containers = runtime::container::list(&ctx.root)?;
        return super::images_tree::print(&store, &containers, &kept, out);
    }
    let now = util::now();
    let mut rows = Vec::new();
    // -q: an ID per row, so an image with two tags prints its ID twice, as Docker does.
    let mut ids = Vec::new();
    for info in images.iter().filter(|i| filters.keeps_image(i)) {
        let mut names: Vec<(String, String)> = Vec::new();
        for t in &info.tags {
            if filters.keeps_tag(t)? {
                names.push(util::repo_and_tag(t));
            }
        }
        names.sort();
        if info.tags.is_empty() && filters.references.is_empty() {
            // Untagged: a row per repository it has a digest in (a pull by digest), as
            // Docker shows `repo  <none>`; else one `<none>  <none>` row.
            let mut repos: Vec<String> = info
                .repo_digests
                .iter()
                .filter_map(|d| Some(util::familiar_repo_digest(d).split_once('@')?.0.to_string()))
                .collect();
            repos.dedup();
            if repos.is_empty() {
                repos.push("<none>".into());
            }
            names.extend(repos.into_iter().map(|r| (r, "<none>".to_string())));
        }
        for (repo, tag) in names {
            if args.quiet {
                ids.push(render::image_id(&info.id, args.no_trunc));
                continue;
            }
            rows.push(row(info, &repo, &tag, args.no_trunc, now));
        }
    }
    if args.quiet {
        for id in ids {
            writeln!(out, "{id}")?;
        }
        return Ok(());
    }
    let default = if args.digests {
        "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    // Docker: `--format`, else the client config's `imagesFormat`, else strata's
    // `images-format`.
    let configured = ctx
        .client
        .images_format
        .as_deref()
        .or(ctx.config.images_format.as_deref());
    let format = OutputFormat::parse(args.format.as_deref().or(configured), default)?
        .on_struct("*formatter.imageContext");
    render::write_rows(out, &format, HEADERS, &rows)
}

fn row(
    info: &ImageInfo,
    repo: &str,
    tag: &str,
    no_trunc: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Value {
    let created = util::parse_time(info.created.as_deref());
    // The repo digest of this row's repository, as Docker's DIGEST column shows it.
    let digest = info
        .repo_digests
        .iter()
        .map(|d| util::familiar_repo_digest(d))
        .find_map(|d| {
            let (r, dg) = d.split_once('@')?;
            (r == repo || repo == "<none>").then(|| dg.to_string())
        })
        .unwrap_or_else(|| "<none>".into());
    let size = render::human_size(info.size);
    json!({
        "Containers": if info.users.is_empty() { "N/A".to_string() } else { info.users.len().to_string() },
        "CreatedAt": created.map(render::go_time).unwrap_or_default(),
        "CreatedSince": render::created_since(created, now),
        "Digest": digest,
        "ID": render::image_id(&info.id, no_trunc),
        "Repository": repo,
        "SharedSize": "N/A",
        "Size": size,
        "Tag": tag,
        "UniqueSize": "N/A",
        "VirtualSize": size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters() {
        let f = Filters::parse(&[
            "dangling=true".into(),
            "reference=alp*".into(),
            "label=a=b".into(),
            "label=c".into(),
        ])
        .unwrap();
        assert_eq!(
            f,
            Filters {
                dangling: Some(true),
                references: vec!["alp*".into()],
                labels: vec![("a".into(), Some("b".into())), ("c".into(), None)],
                before: None,
                since: None,
            }
        );
        for bad in ["dangling=maybe", "nope=1", "noequals"] {
            assert!(Filters::parse(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn reference_filter_matches_familiar_names() {
        let f = Filters::parse(&["reference=alpine".into(), "reference=*/app:v*".into()]).unwrap();
        for (tag, keep) in [
            ("docker.io/library/alpine:latest", true),
            ("docker.io/library/alpine:3.19", true),
            ("docker.io/library/busybox:latest", false),
            ("docker.io/user/app:v1", true),
            ("docker.io/user/app:latest", false),
        ] {
            assert_eq!(f.keeps_tag(tag).unwrap(), keep, "{tag}");
        }
    }
}
