//! `image prune --filter` (and `system prune --filter`): which images and containers a
//! prune may remove, as dockerd decides it
//! (`until=` a time or a duration ago, `label=KEY[=VALUE]`, `label!=KEY[=VALUE]`).

use anyhow::bail;
use chrono::{DateTime, Utc};
use store::ImageInfo;

/// The parsed `--filter` values of one prune; an image is pruned only if it passes all.
#[derive(Debug, Default, PartialEq)]
pub struct PruneFilters {
    /// Only images created before this time.
    until: Option<DateTime<Utc>>,
    /// Only images with every one of these labels (`None`: any value).
    labels: Vec<(String, Option<String>)>,
    /// Only images with none of these labels.
    not_labels: Vec<(String, Option<String>)>,
    /// `dangling=false` prunes unused tagged images too (as `-a` does).
    pub dangling: Option<bool>,
}

impl PruneFilters {
    /// Parses `KEY=VALUE` (or `KEY!=VALUE`) filters at `now`, refusing what dockerd refuses
    /// in its words.
    pub fn parse(args: &[String], now: DateTime<Utc>) -> anyhow::Result<PruneFilters> {
        let mut f = PruneFilters::default();
        for arg in args {
            let Some((key, value)) = arg.split_once('=') else {
                bail!("bad format of filter (expected name=value): {arg}");
            };
            let label = |v: &str| match v.split_once('=') {
                Some((k, v)) => (k.to_string(), Some(v.to_string())),
                None => (v.to_string(), None),
            };
            match key {
                "until" => {
                    f.until = Some(super::logs::parse_time(value, now).map_err(|_| {
                        anyhow::anyhow!("failed to parse value as time or duration: {value:?}")
                    })?)
                }
                "dangling" => {
                    f.dangling = Some(match value.to_ascii_lowercase().as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => bail!("Invalid filter 'dangling=[{value}]'"),
                    })
                }
                "label" => f.labels.push(label(value)),
                "label!" => f.not_labels.push(label(value)),
                _ => bail!("Invalid filter '{}'", key.trim_end_matches('!')),
            }
        }
        Ok(f)
    }

    /// Whether the filters let `image` be pruned.
    pub fn allows(&self, image: &ImageInfo) -> bool {
        self.allows_parts(image.created.as_deref(), &image.labels)
    }

    /// Whether some `label=` filter asks for a label (what has no labels, such as build
    /// cache, then never passes).
    pub fn wants_labels(&self) -> bool {
        !self.labels.is_empty()
    }

    /// `until=`: only what was created (or, for build cache, last used) before this time.
    pub fn until(&self) -> Option<DateTime<Utc>> {
        self.until
    }

    /// Whether the filters let go of something created at `created` (RFC 3339) with
    /// `labels`: an image, a container.
    pub fn allows_parts(
        &self,
        created: Option<&str>,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        let has = |(k, v): &(String, Option<String>)| match (labels.get(k), v) {
            (Some(have), Some(want)) => have == want,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let old_enough = match (self.until, super::util::parse_time(created)) {
            (Some(until), Some(created)) => created < until,
            (Some(_), None) => false,
            (None, _) => true,
        };
        old_enough && self.labels.iter().all(has) && !self.not_labels.iter().any(has)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn image(created: &str, labels: &[(&str, &str)]) -> ImageInfo {
        let d = oci::Digest::sha256_of(b"x");
        ImageInfo {
            target: oci::Descriptor::new(oci::media::OCI_MANIFEST, d.clone(), 1),
            manifest: d.clone(),
            id: d,
            tags: vec![],
            repo_digests: vec![],
            created: Some(created.into()),
            size: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            dangling: true,
            users: vec![],
            diff_ids: vec![],
            layers: vec![],
            platform: None,
        }
    }

    #[test]
    fn filters_choose_what_a_prune_removes() {
        let now: DateTime<Utc> = "2024-01-01T12:00:00Z".parse().unwrap();
        let old = image("2024-01-01T10:00:00Z", &[("prune", "me"), ("tier", "web")]);
        let new = image("2024-01-01T11:59:00Z", &[("tier", "db")]);
        let allows = |filters: &[&str], img: &ImageInfo| {
            let args: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
            PruneFilters::parse(&args, now).unwrap().allows(img)
        };
        for (filters, want_old, want_new) in [
            (&[][..], true, true),
            (&["until=1h"][..], true, false),
            (&["until=2024-01-01T09:00:00Z"][..], false, false),
            (&["until=1704106800"][..], true, false),
            (&["label=prune=me"][..], true, false),
            (&["label=prune"][..], true, false),
            (&["label=tier"][..], true, true),
            (&["label=tier=db"][..], false, true),
            (&["label!=prune"][..], false, true),
            (&["label!=tier=web"][..], false, true),
            (&["label=tier", "until=1h"][..], true, false),
        ] {
            assert_eq!(allows(filters, &old), want_old, "{filters:?} on old");
            assert_eq!(allows(filters, &new), want_new, "{filters:?} on new");
        }
    }

    #[test]
    fn bad_filters_are_refused_in_dockerds_words() {
        let now = Utc::now();
        let err = |f: &str| {
            PruneFilters::parse(&[f.to_string()], now)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(err("color=blue"), "Invalid filter 'color'");
        assert_eq!(err("dangling=maybe"), "Invalid filter 'dangling=[maybe]'");
        assert_eq!(
            PruneFilters::parse(&["dangling=false".into()], now)
                .unwrap()
                .dangling,
            Some(false)
        );
        assert_eq!(
            err("until"),
            "bad format of filter (expected name=value): until"
        );
        assert_eq!(
            err("until=soon"),
            "failed to parse value as time or duration: \"soon\""
        );
    }
}
