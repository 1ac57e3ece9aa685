use super::*;

fn image(name: &str, platform: Option<&str>) -> Descriptor {
    let mut d = Descriptor::of_bytes(media::OCI_MANIFEST, name.as_bytes());
    d.platform = platform.map(|p| p.parse::<Platform>().unwrap().normalize());
    d
}

fn attestation(name: &str, subject: &Descriptor) -> Descriptor {
    let mut d = image(name, Some("unknown/unknown"));
    d.annotations
        .insert(REFERENCE_TYPE.into(), ATTESTATION_MANIFEST.into());
    d.annotations
        .insert(REFERENCE_DIGEST.into(), subject.digest.to_string());
    d
}

fn index_part(entries: &[&Descriptor]) -> Part {
    let bytes = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media::OCI_INDEX,
        "manifests": entries,
    }))
    .unwrap();
    Part {
        desc: Descriptor::of_bytes(media::OCI_INDEX, &bytes),
        bytes,
    }
}

fn platforms(list: &[&str]) -> Vec<Platform> {
    list.iter()
        .map(|p| p.parse::<Platform>().unwrap().normalize())
        .collect()
}

fn names(c: &Combined, all: &[(&str, &Descriptor)]) -> Vec<String> {
    c.entries
        .iter()
        .map(|(d, _)| {
            all.iter()
                .find(|(_, a)| a.digest == d.digest)
                .map(|(n, _)| n.to_string())
                .unwrap()
        })
        .collect()
}

#[test]
fn platform_filter_keeps_attestations_with_their_image_and_never_matches_unknown() {
    let amd = image("amd", Some("linux/amd64"));
    let arm = image("arm", Some("linux/arm64"));
    let armv7 = image("armv7", Some("linux/arm/v7"));
    let amd_att = attestation("amd-att", &amd);
    let arm_att = attestation("arm-att", &arm);
    // An unknown/unknown entry that is no attestation of anything here.
    let stray = image("stray", Some("unknown/unknown"));
    let all = [
        ("amd", &amd),
        ("arm", &arm),
        ("armv7", &armv7),
        ("amd-att", &amd_att),
        ("arm-att", &arm_att),
        ("stray", &stray),
    ];
    let part = index_part(&[&amd, &arm, &armv7, &amd_att, &arm_att, &stray]);
    let table: &[(&[&str], &[&str])] = &[
        (&[], &["amd", "arm", "armv7", "amd-att", "arm-att", "stray"]),
        (&["linux/amd64"], &["amd", "amd-att"]),
        (&["linux/arm64"], &["arm", "arm-att"]),
        (&["linux/arm64/v8"], &["arm", "arm-att"]),
        (&["linux/arm"], &["armv7"]),
        (
            &["linux/amd64", "linux/arm64"],
            &["amd", "arm", "amd-att", "arm-att"],
        ),
        (&["unknown/unknown"], &[]),
        (&["linux/s390x"], &[]),
    ];
    for (want_platforms, want) in table {
        let got = combine(std::slice::from_ref(&part), &[], &platforms(want_platforms));
        if want.is_empty() {
            assert_eq!(got, Err(CombineError::NoMatch), "{want_platforms:?}");
            continue;
        }
        let got = got.unwrap();
        assert_eq!(names(&got, &all), *want, "{want_platforms:?}");
        let index: oci::Index = serde_json::from_slice(&got.bytes).unwrap();
        let in_bytes: Vec<&Digest> = index.manifests.iter().map(|d| &d.digest).collect();
        let in_entries: Vec<&Digest> = got.entries.iter().map(|(d, _)| &d.digest).collect();
        assert_eq!(
            in_bytes, in_entries,
            "{want_platforms:?}: the bytes say what entries say"
        );
        assert_eq!(got.desc.digest, Digest::sha256_of(&got.bytes));
        if want.len() == all.len() {
            assert_eq!(got.bytes, part.bytes, "a whole index is kept byte for byte");
        }
    }
}

#[test]
fn sources_become_one_index_docker_list_only_when_all_docker() {
    let amd = image("amd", Some("linux/amd64"));
    let arm = image("arm", Some("linux/arm64"));
    let mut docker_amd = amd.clone();
    docker_amd.media_type = media::DOCKER_MANIFEST.into();
    let mut docker_arm = arm.clone();
    docker_arm.media_type = media::DOCKER_MANIFEST.into();
    let part = |d: &Descriptor| Part {
        desc: d.clone(),
        bytes: Vec::new(),
    };
    let table: Vec<(Vec<Part>, &str, usize)> = vec![
        (vec![part(&amd), part(&arm)], media::OCI_INDEX, 2),
        (
            vec![part(&docker_amd), part(&docker_arm)],
            media::DOCKER_MANIFEST_LIST,
            2,
        ),
        (vec![part(&docker_amd), part(&arm)], media::OCI_INDEX, 2),
        // The same image twice is one entry.
        (
            vec![part(&amd), part(&amd), part(&arm)],
            media::OCI_INDEX,
            2,
        ),
        // One image alone still makes an index (buildx's --prefer-index).
        (vec![part(&amd)], media::OCI_INDEX, 1),
        // An index's entries join the images'.
        (vec![index_part(&[&amd]), part(&arm)], media::OCI_INDEX, 2),
    ];
    for (parts, media_type, n) in table {
        let got = combine(&parts, &[], &[]).unwrap();
        let index: oci::Index = serde_json::from_slice(&got.bytes).unwrap();
        assert_eq!(index.media_type.as_deref(), Some(media_type));
        assert_eq!(got.desc.media_type, media_type);
        assert_eq!(index.manifests.len(), n);
        assert_eq!(got.entries.len(), n);
        assert!(index.manifests.iter().all(|d| d.platform.is_some()));
    }
}

#[test]
fn annotations_parse_and_land_where_buildx_puts_them() {
    let amd = image("amd", Some("linux/amd64"));
    let arm = image("arm", Some("linux/arm64"));
    let parts = [
        Part {
            desc: amd.clone(),
            bytes: Vec::new(),
        },
        Part {
            desc: arm.clone(),
            bytes: Vec::new(),
        },
    ];
    let mut ann = Vec::new();
    for a in [
        "index:org.opencontainers.image.title=multi",
        "manifest-descriptor:all=yes",
        "manifest-descriptor[linux/arm64]:only=arm",
    ] {
        ann.extend(parse_annotation(a).unwrap());
    }
    let got = combine(&parts, &ann, &[]).unwrap();
    let index: oci::Index = serde_json::from_slice(&got.bytes).unwrap();
    assert_eq!(index.annotations["org.opencontainers.image.title"], "multi");
    assert_eq!(index.manifests[0].annotations.get("all").unwrap(), "yes");
    assert_eq!(index.manifests[0].annotations.get("only"), None);
    assert_eq!(index.manifests[1].annotations.get("only").unwrap(), "arm");

    for (bad, msg) in [
        (
            "novalue",
            "invalid annotation \"novalue\", expected key=value",
        ),
        ("bogus:k=v", "unknown annotation type \"bogus\""),
        (
            "index[linux/amd64:k=v",
            "invalid annotation type \"index[linux/amd64\", expected type and optional platform in square brackets",
        ),
    ] {
        assert_eq!(parse_annotation(bad).unwrap_err().to_string(), msg, "{bad}");
    }
    for (refused, msg) in [
        ("k=v", "\"\" annotations are not supported yet"),
        (
            "manifest:k=v",
            "\"manifest\" annotations are not supported yet",
        ),
        (
            "index-descriptor:k=v",
            "\"index-descriptor\" annotations are invalid while creating an image",
        ),
    ] {
        let a = parse_annotation(refused).unwrap();
        assert_eq!(
            combine(&parts, &a, &[]).unwrap_err().to_string(),
            msg,
            "{refused}"
        );
    }
}

#[test]
fn docker_manifest_list_is_distributions_bytes() {
    let mut arm = image("arm", Some("linux/arm/v7"));
    arm.platform.as_mut().unwrap().os_features = vec!["f1".into()];
    let (bytes, desc) = docker_manifest_list(&[arm.clone()]);
    let want = format!(
        "{{\n   \"schemaVersion\": 2,\n   \"mediaType\": \"{}\",\n   \"manifests\": [\n      {{\n         \"mediaType\": \"{}\",\n         \"size\": {},\n         \"digest\": \"{}\",\n         \"platform\": {{\n            \"architecture\": \"arm\",\n            \"os\": \"linux\",\n            \"os.features\": [\n               \"f1\"\n            ],\n            \"variant\": \"v7\"\n         }}\n      }}\n   ]\n}}",
        media::DOCKER_MANIFEST_LIST,
        media::OCI_MANIFEST,
        arm.size,
        arm.digest
    );
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), want);
    assert_eq!(desc.digest, Digest::sha256_of(&bytes));
    assert_eq!(desc.media_type, media::DOCKER_MANIFEST_LIST);
}
