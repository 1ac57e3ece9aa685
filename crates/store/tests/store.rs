//! Behaviour of the store: ingest, images and `rmi`, prune, GC and leases, across threads
//! and processes.

use std::io::Write;
use std::path::Path;
use std::process::Command;

use oci::{Descriptor, Digest, Manifest, media};
use store::{Layout, RemoveEvent, Store, StoreError};

mod common;
use common::{make_image, payload};

fn blob_files(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for alg in [oci::Algorithm::Sha256, oci::Algorithm::Sha512] {
        if let Ok(rd) = std::fs::read_dir(Layout::new(root).blobs_dir_of(alg)) {
            for e in rd.flatten() {
                let name = alg.name();
                out.push(format!("{name}:{}", e.file_name().to_string_lossy()));
            }
        }
    }
    out.sort();
    out
}

fn blob_bytes(root: &Path) -> u64 {
    blob_files(root)
        .iter()
        .map(|d| {
            let d: Digest = d.parse().unwrap();
            std::fs::metadata(Layout::new(root).blob(&d)).unwrap().len()
        })
        .sum()
}

#[test]
fn ingest_resumes_after_interruption() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = payload(300_000, 1);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
    {
        let mut w = store.ingest(&desc).unwrap();
        assert_eq!(w.offset(), 0);
        w.write_all(&data[..150_000]).unwrap();
        // Dropped without commit: an interrupted pull.
    }
    assert!(!store.has_blob(&desc.digest).unwrap());
    // A new handle, as a new process would have.
    let store = Store::open(dir.path()).unwrap();
    let mut w = store.ingest(&desc).unwrap();
    assert_eq!(w.offset(), 150_000);
    assert!(!w.already_committed());
    w.write_all(&data[150_000..]).unwrap();
    w.commit().unwrap();
    assert!(store.has_blob(&desc.digest).unwrap());
    assert_eq!(store.blob_size(&desc.digest).unwrap(), data.len() as u64);
    assert_eq!(store.read_blob(&desc.digest).unwrap(), data);
    // The ingest directory is gone, and a second ingest sees the blob committed.
    assert!(!store.layout().ingest(&desc.digest).path().exists());
    let w = store.ingest(&desc).unwrap();
    assert!(w.already_committed());
    assert_eq!(w.offset(), desc.size);
    w.commit().unwrap();
}

/// Regression (issue 10): writing a blob the store already has left an empty
/// `ingest/<digest>/` directory with its lock file behind, every time.
#[test]
fn writing_a_blob_again_leaves_no_ingest_dir() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first = store.put_blob_bytes(media::OCI_CONFIG, b"{}").unwrap();
    for _ in 0..2 {
        let again = store.put_blob_bytes(media::OCI_CONFIG, b"{}").unwrap();
        assert_eq!(again.digest, first.digest);
        // What a pull or load of a blob the store has does.
        drop(store.ingest(&first).unwrap());
    }
    let ingest = store.layout().ingest_dir();
    let left: Vec<_> = std::fs::read_dir(&ingest)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "left in {}: {left:?}", ingest.display());
}

#[test]
fn partial_data_that_cannot_be_right_is_discarded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = payload(1000, 2);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
    let ingest_dir = store.layout().ingest(&desc.digest);
    std::fs::create_dir_all(ingest_dir.path()).unwrap();
    for (partial, want_offset) in [
        (payload(2000, 2), 0),          // longer than the blob
        (payload(1000, 9), 0),          // complete but wrong
        (data[..400].to_vec(), 400u64), // a good prefix
    ] {
        std::fs::write(ingest_dir.data(), &partial).unwrap();
        let w = store.ingest(&desc).unwrap();
        assert_eq!(w.offset(), want_offset);
        drop(w);
    }
    let mut w = store.ingest(&desc).unwrap();
    w.reset().unwrap();
    assert_eq!(w.offset(), 0);
    w.write_all(&data).unwrap();
    w.commit().unwrap();
    assert_eq!(store.read_blob(&desc.digest).unwrap(), data);
}

#[test]
fn bad_content_is_rejected_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let good = payload(5000, 3);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &good);

    // Same size, other bytes: digest mismatch.
    let mut w = store.ingest(&desc).unwrap();
    w.write_all(&payload(5000, 4)).unwrap();
    match w.commit() {
        Err(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, desc.digest);
            assert_eq!(actual, Digest::sha256_of(&payload(5000, 4)));
        }
        other => panic!("want DigestMismatch, got {other:?}"),
    }
    // Too short: size mismatch.
    let mut w = store.ingest(&desc).unwrap();
    assert_eq!(w.offset(), 0, "bad partial data was discarded");
    w.write_all(&good[..10]).unwrap();
    match w.commit() {
        Err(StoreError::SizeMismatch {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (5000, 10)),
        other => panic!("want SizeMismatch, got {other:?}"),
    }
    // Too long: the write itself fails.
    let mut w = store.ingest(&desc).unwrap();
    assert!(w.write_all(&payload(6000, 3)).is_err());
    w.abort().unwrap();
    // A manifest whose bytes do not match its descriptor.
    let mdesc = Descriptor::of_bytes(media::OCI_MANIFEST, b"{}");
    assert!(matches!(
        store.put_manifest(&mdesc, b"{ }"),
        Err(StoreError::DigestMismatch { .. })
    ));

    assert!(
        blob_files(dir.path()).is_empty(),
        "{:?}",
        blob_files(dir.path())
    );
    assert!(!store.has_blob(&desc.digest).unwrap());
    assert!(store.open_blob(&desc.digest).unwrap_err().is_not_found());
}

#[test]
fn threads_ingesting_one_blob_both_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = payload(2_000_000, 5);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (store, desc, data) = (store.clone(), desc.clone(), data.clone());
            std::thread::spawn(move || {
                let mut w = store.ingest(&desc).unwrap();
                let off = w.offset() as usize;
                for chunk in data[off..].chunks(10_000) {
                    w.write_all(chunk).unwrap();
                }
                w.commit().unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(blob_files(dir.path()), vec![desc.digest.to_string()]);
    assert_eq!(store.read_blob(&desc.digest).unwrap(), data);
}

const CHILD_ENV: &str = "STORE_TEST_CHILD_ROOT";

/// The body of each child process of `processes_ingesting_one_blob_both_succeed`: ingest
/// one blob and tag an image of it in the store at `root`.
fn child_ingest(root: &Path) {
    let store = Store::open(root).unwrap();
    let data = payload(3_000_000, 6);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
    let lease = store.lease().unwrap();
    let mut w = store.ingest(&desc).unwrap();
    let off = w.offset() as usize;
    for chunk in data[off..].chunks(4096) {
        w.write_all(chunk).unwrap();
    }
    w.commit().unwrap();
    lease.add(&desc.digest).unwrap();
    let m = make_image(&store, "child", &[&data]);
    store.set_tag("localhost:5000/child:latest", &m).unwrap();
    assert_eq!(store.read_blob(&desc.digest).unwrap(), data);
}

#[test]
fn processes_ingesting_one_blob_both_succeed() {
    // Run again as a child (this same test, in a process of its own): be the child.
    if let Ok(root) = std::env::var(CHILD_ENV) {
        child_ingest(Path::new(&root));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "processes_ingesting_one_blob_both_succeed",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let store = Store::open(dir.path()).unwrap();
    let data = payload(3_000_000, 6);
    let digest = Digest::sha256_of(&data);
    assert!(store.has_blob(&digest).unwrap());
    // The layer, the config and the manifest, each once.
    assert_eq!(blob_files(dir.path()).len(), 3);
    assert_eq!(store.tags().unwrap().len(), 1);
    assert_eq!(store.images().unwrap().len(), 1);
    assert!(store.gc().unwrap().removed.is_empty());
}

#[test]
fn shared_layers_are_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let base = payload(10_000, 7);
    let a = make_image(&store, "a", &[&base, b"only in a"]);
    let b = make_image(&store, "b", &[&base, b"only in b"]);
    store.set_tag("docker.io/library/a:latest", &a).unwrap();
    store.set_tag("docker.io/library/b:latest", &b).unwrap();
    // 1 shared layer + 2 own layers + 2 configs + 2 manifests.
    assert_eq!(blob_files(dir.path()).len(), 7);
    // Removing one image keeps the shared layer.
    let (events, gc) = store
        .remove_image_with_gc("docker.io/library/a:latest", false)
        .unwrap();
    // Untagged, the image, and its own layer stack (not the shared base's).
    let own_chain = oci::chain_ids(&[Digest::sha256_of(&base), Digest::sha256_of(b"only in a")]);
    assert_eq!(
        events.last(),
        Some(&RemoveEvent::Deleted(own_chain[1].clone())),
        "{events:?}"
    );
    assert_eq!(events.len(), 3, "{events:?}");
    assert_eq!(gc.removed.len(), 3, "own layer, config, manifest");
    assert!(store.has_blob(&Digest::sha256_of(&base)).unwrap());
    assert_eq!(blob_files(dir.path()).len(), 4);
}

#[test]
fn image_size_is_the_recorded_unpacked_size_of_its_layers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = make_image(&store, "web", &[b"layer one", b"layer two!"]);
    store.set_tag("web:1", &m).unwrap();
    let manifest = Manifest::from_slice(&store.manifest_bytes(&m.digest).unwrap()).unwrap();
    store
        .set_unpacked_size(&manifest.layers[0].digest, 1000)
        .unwrap();
    let size = |store: &Store| store.resolve_image("web:1").unwrap().size;
    // One layer measured, the other (unmeasured, as in an older store) at its blob size.
    assert_eq!(size(&store), 1000 + 10);
    assert_eq!(store.layer_size(&manifest.layers[0]).unwrap(), 1000);
    assert_eq!(store.layer_size(&manifest.layers[1]).unwrap(), 10);
    store
        .set_unpacked_size(&manifest.layers[1].digest, 20)
        .unwrap();
    // The record survives reopening the store.
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(size(&store), 1000 + 20);
}

#[test]
fn images_report_config_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = make_image(&store, "web", &[b"layer one", b"layer two!"]);
    assert_eq!(store.set_tag("localhost:5000/web:v1", &m).unwrap(), None);
    store
        .add_repo_digest("localhost:5000/web", &m.digest, &m.digest)
        .unwrap();
    let imgs = store.images().unwrap();
    assert_eq!(imgs.len(), 1);
    let i = &imgs[0];
    let manifest = Manifest::from_slice(&store.manifest_bytes(&m.digest).unwrap()).unwrap();
    assert_eq!(i.target, m);
    assert_eq!(i.manifest, m.digest);
    assert_eq!(i.id, manifest.config.digest);
    assert_eq!(i.tags, vec!["localhost:5000/web:v1".to_string()]);
    assert_eq!(
        i.repo_digests,
        vec![format!("localhost:5000/web@{}", m.digest)]
    );
    assert_eq!(i.created.as_deref(), Some("2024-01-02T03:04:05Z"));
    assert_eq!(i.labels.get("name").map(String::as_str), Some("web"));
    // Layers never measured: their compressed sizes stand in, the config is not counted.
    assert_eq!(i.size, 9 + 10);
    assert!(!i.dangling);
    let config = store.image_config(i).unwrap();
    assert!(i.id.verify(&config));
    // Moving a tag returns the old target; the old image stays, now dangling.
    let m2 = make_image(&store, "web2", &[b"x"]);
    assert_eq!(
        store.set_tag("localhost:5000/web:v1", &m2).unwrap(),
        Some(m.digest.clone())
    );
    let old = store.resolve_image(&m.digest.to_string()).unwrap();
    assert!(old.dangling);
    // Tagging content that is not stored fails.
    let missing = Descriptor::of_bytes(media::OCI_MANIFEST, b"nope");
    assert!(store.set_tag("x:1", &missing).unwrap_err().is_not_found());
}

#[test]
fn index_picks_a_stored_platform_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let amd = make_image(&store, "amd", &[b"amd layer"]);
    let arm = make_image(&store, "arm", &[b"arm layer"]);
    let absent = Descriptor::of_bytes(media::OCI_MANIFEST, b"never stored");
    let host_arch = match std::env::consts::ARCH {
        "aarch64" => "arm64",
        _ => "amd64",
    };
    let entry = |d: &Descriptor, arch: &str| {
        let mut d = d.clone();
        d.platform = Some(oci::Platform {
            os: "linux".into(),
            architecture: arch.into(),
            ..Default::default()
        });
        d
    };
    let index = oci::Index {
        schema_version: 2,
        media_type: Some(media::OCI_INDEX.into()),
        artifact_type: None,
        manifests: vec![
            entry(&absent, "s390x"),
            entry(&arm, "arm64"),
            entry(&amd, "amd64"),
        ],
        subject: None,
        annotations: Default::default(),
    };
    let bytes = index.to_vec();
    let idesc = Descriptor::of_bytes(media::OCI_INDEX, &bytes);
    store.put_manifest(&idesc, &bytes).unwrap();
    store
        .set_tag("docker.io/library/multi:latest", &idesc)
        .unwrap();
    let i = store.resolve_image("multi").unwrap();
    assert_eq!(i.target.digest, idesc.digest);
    let want = if host_arch == "arm64" { &arm } else { &amd };
    assert_eq!(i.manifest, want.digest);
    // Everything the index reaches survives GC; nothing else is there.
    assert!(store.gc().unwrap().removed.is_empty());
    store.remove_image("multi", false).unwrap();
    assert!(
        blob_files(dir.path()).is_empty(),
        "{:?}",
        blob_files(dir.path())
    );
}

#[test]
fn resolves_names_like_docker() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = make_image(&store, "a", &[b"a"]);
    let b = make_image(&store, "b", &[b"b"]);
    store
        .set_tag("docker.io/library/alpine:latest", &a)
        .unwrap();
    store.set_tag("localhost:5000/app:v1", &b).unwrap();
    store
        .add_repo_digest("localhost:5000/app", &b.digest, &b.digest)
        .unwrap();
    let id_a = store
        .resolve_image("docker.io/library/alpine:latest")
        .unwrap()
        .id;
    let id_b = store.resolve_image("localhost:5000/app:v1").unwrap().id;
    // A prefix shared by both IDs, if any: the common leading hex.
    let common = id_a
        .hex()
        .chars()
        .zip(id_b.hex().chars())
        .take_while(|(x, y)| x == y)
        .count();
    for (input, want) in [
        ("docker.io/library/alpine:latest", Some(&a)),
        ("alpine", Some(&a)),
        ("alpine:latest", Some(&a)),
        ("library/alpine", Some(&a)),
        ("localhost:5000/app:v1", Some(&b)),
        ("localhost:5000/app", None),
        (&format!("localhost:5000/app@{}", b.digest), Some(&b)),
        (&format!("whatever@{}", a.digest), Some(&a)),
        (&id_a.to_string(), Some(&a)),
        (&a.digest.to_string(), Some(&a)),
        (&id_b.hex()[..common + 1], Some(&b)),
        (&id_b.hex()[..12], Some(&b)),
        (id_b.hex(), Some(&b)),
        ("zzzz", None),
        ("sha256:", None),
    ] {
        match (store.resolve_image(input), want) {
            (Ok(i), Some(w)) => assert_eq!(i.target.digest, w.digest, "{input}"),
            (Err(e), None) => {
                assert!(e.is_not_found(), "{input}: {e}");
                assert_eq!(e.to_string(), format!("No such image: {input}"));
            }
            (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
        }
    }
    if common > 0 {
        assert!(store.resolve_image(&id_a.hex()[..common]).is_err());
    }
}

#[test]
fn rmi_follows_dockers_rules() {
    struct Case {
        tags: &'static [&'static str],
        used: bool,
        rmi: &'static str, // "ID" = the image ID, "DIGEST" = repo@digest of the first tag
        force: bool,
        events: &'static [&'static str], // "Deleted" stands for "Deleted: <id>"
        error: Option<&'static str>,
        left_tags: usize,
    }
    let cases = [
        Case {
            tags: &["docker.io/library/a:1"],
            used: false,
            rmi: "docker.io/library/a:1",
            force: false,
            events: &[
                "Untagged: docker.io/library/a:1",
                "Untagged: DIGEST",
                "Deleted",
            ],
            error: None,
            left_tags: 0,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/b:1"],
            used: false,
            rmi: "docker.io/library/a:1",
            force: false,
            events: &["Untagged: docker.io/library/a:1", "Untagged: DIGEST"],
            error: None,
            left_tags: 1,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/a:2"],
            used: false,
            rmi: "docker.io/library/a:1",
            force: false,
            events: &["Untagged: docker.io/library/a:1"],
            error: None,
            left_tags: 1,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/b:1"],
            used: false,
            rmi: "ID",
            force: false,
            events: &[],
            error: Some("image is referenced in multiple repositories"),
            left_tags: 2,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/a:2"],
            used: false,
            rmi: "ID",
            force: false,
            events: &[],
            error: Some("(must be forced) - image is referenced in multiple repositories"),
            left_tags: 2,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/b:1"],
            used: false,
            rmi: "ID",
            force: true,
            events: &[
                "Untagged: docker.io/library/a:1",
                "Untagged: docker.io/library/b:1",
                "Untagged: DIGEST",
                "Deleted",
            ],
            error: None,
            left_tags: 0,
        },
        Case {
            tags: &["docker.io/library/a:1"],
            used: false,
            rmi: "ID",
            force: false,
            events: &[
                "Untagged: docker.io/library/a:1",
                "Untagged: DIGEST",
                "Deleted",
            ],
            error: None,
            left_tags: 0,
        },
        Case {
            tags: &["docker.io/library/a:1"],
            used: false,
            rmi: "DIGEST",
            force: false,
            events: &["Untagged: DIGEST"],
            error: None,
            left_tags: 1,
        },
        Case {
            tags: &["docker.io/library/a:1"],
            used: true,
            rmi: "docker.io/library/a:1",
            force: false,
            events: &[],
            error: Some("container c1 is using its referenced image"),
            left_tags: 1,
        },
        Case {
            tags: &["docker.io/library/a:1"],
            used: true,
            rmi: "ID",
            force: false,
            events: &[],
            error: Some("image is being used by stopped container c1"),
            left_tags: 1,
        },
        Case {
            tags: &["docker.io/library/a:1"],
            used: true,
            rmi: "ID",
            force: true,
            events: &[
                "Untagged: docker.io/library/a:1",
                "Untagged: DIGEST",
                "Deleted",
            ],
            error: None,
            left_tags: 0,
        },
        Case {
            tags: &["docker.io/library/a:1", "docker.io/library/a:2"],
            used: true,
            rmi: "docker.io/library/a:2",
            force: false,
            events: &["Untagged: docker.io/library/a:2"],
            error: None,
            left_tags: 1,
        },
        Case {
            tags: &[],
            used: false,
            rmi: "nope:1",
            force: false,
            events: &[],
            error: Some("No such image: nope:1"),
            left_tags: 0,
        },
    ];
    for (n, c) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let m = make_image(&store, "x", &[b"some layer"]);
        store.add_image(&m).unwrap();
        for t in c.tags {
            store.set_tag(t, &m).unwrap();
        }
        let repo = c
            .tags
            .first()
            .map(|t| t.rsplit_once(':').unwrap().0)
            .unwrap_or("none");
        let digest_ref = format!("{repo}@{}", m.digest);
        if !c.tags.is_empty() {
            store.add_repo_digest(repo, &m.digest, &m.digest).unwrap();
        }
        if c.used {
            store.add_image_user(&m.digest, "c1").unwrap();
        }
        let id = store.resolve_image(&m.digest.to_string()).unwrap().id;
        let arg = match c.rmi {
            "ID" => id.hex()[..12].to_string(),
            "DIGEST" => digest_ref.clone(),
            other => other.to_string(),
        };
        let files_before = blob_files(dir.path()).len();
        match (store.remove_image_with_gc(&arg, c.force), c.error) {
            (Ok((events, gc)), None) => {
                // A deleted image's layer goes with it (Docker's layer store says so)
                // unless a container still has it.
                let layer = Digest::sha256_of(b"some layer");
                let want: Vec<String> = c
                    .events
                    .iter()
                    .flat_map(|e| match *e {
                        "Deleted" if c.used => vec![format!("Deleted: {id}")],
                        "Deleted" => vec![format!("Deleted: {id}"), format!("Deleted: {layer}")],
                        e => vec![e.replace("DIGEST", &digest_ref)],
                    })
                    .collect();
                let got: Vec<String> = events.iter().map(RemoveEvent::to_string).collect();
                assert_eq!(got, want, "case {n}");
                let deleted = events.iter().any(|e| matches!(e, RemoveEvent::Deleted(_)));
                if deleted && !c.used {
                    assert_eq!(gc.removed.len(), files_before, "case {n}");
                    assert!(blob_files(dir.path()).is_empty(), "case {n}");
                } else {
                    assert!(gc.removed.is_empty(), "case {n}");
                    assert_eq!(blob_files(dir.path()).len(), files_before, "case {n}");
                }
            }
            (Err(e), Some(msg)) => {
                assert!(e.to_string().contains(msg), "case {n}: {e}");
                if c.rmi != "nope:1" {
                    assert!(e.is_conflict(), "case {n}");
                    assert!(
                        e.to_string().starts_with("conflict: unable to "),
                        "case {n}: {e}"
                    );
                }
            }
            (got, want) => panic!("case {n}: got {got:?}, want error {want:?}"),
        }
        assert_eq!(store.tags().unwrap().len(), c.left_tags, "case {n}");
    }
}

#[test]
fn prune_reclaims_exactly_the_dangling_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let shared = payload(4096, 8);
    let kept = make_image(&store, "kept", &[&shared, b"kept layer"]);
    store
        .set_tag("docker.io/library/kept:latest", &kept)
        .unwrap();
    let before_dangling = blob_bytes(dir.path());
    let dangling = make_image(&store, "dangling", &[&shared, &payload(50_000, 9)]);
    store.add_image(&dangling).unwrap();
    let dangling_bytes = blob_bytes(dir.path()) - before_dangling;
    let used = make_image(&store, "used", &[b"used layer"]);
    store.add_image(&used).unwrap();
    store.add_image_user(&used.digest, "ctr").unwrap();
    let after_used = blob_bytes(dir.path());

    let df = store.disk_usage().unwrap();
    assert_eq!(df.images, 3);
    assert_eq!(df.active, 1);
    assert_eq!(df.blobs_bytes, after_used);

    let report = store.prune(false).unwrap();
    assert_eq!(report.space_reclaimed, dangling_bytes);
    assert!(!store.blob_path(&dangling.digest).exists());
    // The image, then its top layer stack (the base layer stays: `used` shares it).
    assert_eq!(report.deleted.len(), 2, "{:?}", report.deleted);
    assert!(matches!(report.deleted[0], RemoveEvent::Deleted(_)));
    assert_eq!(blob_bytes(dir.path()), after_used - dangling_bytes);
    assert_eq!(store.images().unwrap().len(), 2);

    // prune -a: every image not in use.
    let report = store.prune(true).unwrap();
    assert_eq!(
        report
            .deleted
            .iter()
            .map(|e| e.to_string())
            .next()
            .as_deref(),
        Some("Untagged: docker.io/library/kept:latest")
    );
    assert_eq!(store.images().unwrap().len(), 1);
    assert_eq!(
        blob_bytes(dir.path()),
        after_used - dangling_bytes - report.space_reclaimed
    );
    let left = store.images().unwrap();
    assert_eq!(left[0].target.digest, used.digest);
    assert_eq!(store.disk_usage().unwrap().reclaimable_bytes, 0);
}

#[test]
fn gc_keeps_leased_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let lease = store.lease().unwrap();
    let a = store.put_blob_bytes(media::OCI_LAYER, b"leased").unwrap();
    lease.add(&a.digest).unwrap();
    let b = store
        .put_blob_bytes(media::OCI_LAYER, b"not leased")
        .unwrap();
    // A lease may name a blob before it is committed.
    let later = Descriptor::of_bytes(media::OCI_LAYER, b"later");
    lease.add(&later.digest).unwrap();
    assert_eq!(lease.digests().unwrap().len(), 2);

    let report = store.gc().unwrap();
    assert_eq!(report.removed, vec![b.digest.clone()]);
    assert_eq!(report.bytes, b.size);
    assert!(store.has_blob(&a.digest).unwrap());

    // Another handle (another process) sees the lease too.
    let other = Store::open(dir.path()).unwrap();
    assert!(other.gc().unwrap().removed.is_empty());
    let df = other.disk_usage().unwrap();
    assert_eq!(df.reclaimable_bytes, 0);

    drop(lease);
    let report = store.gc().unwrap();
    assert_eq!(report.removed, vec![a.digest.clone()]);
    assert!(blob_files(dir.path()).is_empty());
}

/// Regression (issue 10): a prune killed between its row deletes and its file deletes
/// left files that the next prune kept for 15 minutes.
#[test]
fn gc_sweeps_orphan_files_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // A file renamed into blobs/ by a process that crashed before recording it.
    let d = Digest::sha256_of(b"orphan");
    std::fs::write(store.blob_path(&d), b"orphan").unwrap();
    assert!(!store.has_blob(&d).unwrap());
    let report = store.gc().unwrap();
    assert_eq!(report.removed, vec![d.clone()]);
    assert_eq!(report.bytes, 6);
    assert!(!store.blob_path(&d).exists());
}

#[test]
fn reopening_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let m = {
        let store = Store::open(dir.path()).unwrap();
        let m = make_image(&store, "r", &[b"r"]);
        store.set_tag("docker.io/library/r:latest", &m).unwrap();
        m
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.resolve_image("r").unwrap().target, m);
    assert!(store.remove_tag("docker.io/library/r:latest").unwrap());
    assert!(!store.remove_tag("docker.io/library/r:latest").unwrap());
    // The untagged record stays until pruned.
    assert_eq!(store.images().unwrap().len(), 1);
    assert!(store.images().unwrap()[0].dangling);
}

#[test]
fn store_is_shareable() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Store>();
}

#[test]
fn gc_racing_leased_ingests_keeps_every_leased_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let collector = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut runs = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                store.gc().unwrap();
                runs += 1;
            }
            runs
        })
    };
    let lease = store.lease().unwrap();
    let mut descs = Vec::new();
    for i in 0..40u8 {
        let data = payload(20_000 + usize::from(i), i);
        let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
        lease.add(&desc.digest).unwrap();
        let mut w = store.ingest(&desc).unwrap();
        w.write_all(&data).unwrap();
        w.commit().unwrap();
        assert!(store.has_blob(&desc.digest).unwrap(), "blob {i}");
        descs.push(desc);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(collector.join().unwrap() > 0);
    for d in &descs {
        assert!(store.has_blob(&d.digest).unwrap());
    }
    drop(lease);
    assert_eq!(store.gc().unwrap().removed.len(), descs.len());
}

#[test]
fn gc_removes_abandoned_ingests_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let old = std::time::SystemTime::now() - store::INGEST_GRACE * 2;
    let mk = |seed: u8| {
        let data = payload(1000, seed);
        let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
        let mut w = store.ingest(&desc).unwrap();
        w.write_all(&data[..500]).unwrap();
        drop(w);
        desc
    };
    let abandoned = mk(1);
    let recent = mk(2);
    let held = mk(3);
    for d in [&abandoned, &held] {
        let data = store.layout().ingest(&d.digest).data();
        std::fs::File::options()
            .write(true)
            .open(&data)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let w = store.ingest(&held).unwrap();
    store.gc().unwrap();
    let ingest = |d: &Descriptor| store.layout().ingest(&d.digest);
    assert!(!ingest(&abandoned).path().exists());
    assert!(ingest(&recent).data().exists());
    assert!(ingest(&held).data().exists(), "a locked ingest stays");
    assert_eq!(w.offset(), 500);
}

#[test]
fn a_blob_renamed_in_before_a_crash_is_adopted() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let data = payload(777, 4);
    let desc = Descriptor::of_bytes(media::OCI_LAYER, &data);
    // The file is in place but the process died before recording the row.
    std::fs::write(store.blob_path(&desc.digest), &data).unwrap();
    assert!(!store.has_blob(&desc.digest).unwrap());
    let w = store.ingest(&desc).unwrap();
    assert!(w.already_committed());
    w.commit().unwrap();
    assert!(store.has_blob(&desc.digest).unwrap());
    // A wrong file under the name is not adopted, and a real commit replaces it.
    let other = payload(777, 5);
    let odesc = Descriptor::of_bytes(media::OCI_LAYER, &other);
    std::fs::write(store.blob_path(&odesc.digest), b"garbage").unwrap();
    let mut w = store.ingest(&odesc).unwrap();
    assert!(!w.already_committed());
    w.write_all(&other).unwrap();
    w.commit().unwrap();
    assert_eq!(store.read_blob(&odesc.digest).unwrap(), other);
}

/// `image prune --filter`: only the images the predicate accepts go, and an image a
/// container uses stays whatever the predicate says.
#[test]
fn prune_matching_removes_only_what_the_filter_allows() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let a = make_image(&store, "a", &[b"layer a"]);
    let b = make_image(&store, "b", &[b"layer b"]);
    let c = make_image(&store, "c", &[b"layer c"]);
    store.set_tag("a:1", &a).unwrap();
    store.set_tag("b:1", &b).unwrap();
    store.set_tag("c:1", &c).unwrap();
    store.add_image_user(&c.digest, "ctr-1").unwrap();
    let report = store
        .prune_matching(true, &|i| {
            i.labels.get("name").map(String::as_str) != Some("b")
        })
        .unwrap();
    let deleted: Vec<String> = report.deleted.iter().map(|e| format!("{e:?}")).collect();
    assert!(deleted.iter().any(|e| e.contains("a:1")), "{deleted:?}");
    assert!(!deleted.iter().any(|e| e.contains("b:1")), "{deleted:?}");
    let left: Vec<String> = store.tags().unwrap().into_iter().map(|t| t.0).collect();
    assert_eq!(left, ["b:1", "c:1"]);
}

/// `rmi -f` of an image only a stopped container uses deletes the image record, as dockerd
/// does, but the container still reaches its image by target digest and GC keeps the
/// content until the container goes.
#[test]
fn a_container_pins_the_content_of_its_deleted_image() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let m = make_image(&store, "used", &[b"the layer"]);
    store.set_tag("used:1", &m).unwrap();
    let manifest = Manifest::from_slice(&store.manifest_bytes(&m.digest).unwrap()).unwrap();
    let id = manifest.config.digest.clone();
    store.add_image_user(&m.digest, "ctr-1").unwrap();
    let events = store.remove_image("used:1", true).unwrap();
    assert!(
        events.contains(&RemoveEvent::Deleted(id.clone())),
        "{events:?}"
    );
    assert!(
        store.resolve_image(&id.to_string()).is_err(),
        "the ID is gone"
    );
    assert!(store.images().unwrap().is_empty());
    let pinned = store.resolve_image(&m.digest.to_string()).unwrap();
    assert_eq!(pinned.id, id);
    let in_use: Vec<Digest> = store
        .images_in_use()
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(
        in_use,
        std::slice::from_ref(&id),
        "its snapshots are kept too"
    );
    assert!(store.has_blob(&manifest.layers[0].digest).unwrap());
    // Neither GC nor a prune of everything takes what the container needs.
    store.gc().unwrap();
    store.prune(true).unwrap();
    assert!(store.has_blob(&manifest.layers[0].digest).unwrap());
    assert!(store.has_blob(&id).unwrap());
    // Once the container is removed, its image's content goes with the next GC.
    store.remove_image_user("ctr-1").unwrap();
    store.gc().unwrap();
    assert!(!store.has_blob(&manifest.layers[0].digest).unwrap());
    assert!(store.resolve_image(&m.digest.to_string()).is_err());
}
