//! Network faults and bad documents, injected by a fake registry, against `pull`, `push`,
//! `copy` and the pull-through proxy (issue 10). Each test bounds the command in time, checks
//! that the error names the registry, the object and the timeout, that nothing got tagged,
//! and that the store still answers `images` and `system df`.

mod harness;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use harness::fault_registry::{Fault, FaultRegistry, Rule};
use harness::images::{TestImage, desc, sha256};
use harness::{Env, dir_usage, free_port, wait_for_http};
use serde_json::json;

/// The idle timeout the tests run strata with.
const IDLE: &str = "1s";

/// How long any command may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);

/// What a bounded strata run did.
struct Run {
    ok: bool,
    stderr: String,
    took: Duration,
}

/// Waits for `child` at most [`HANG`], killing it (and failing the test) after that.
fn bounded(mut child: Child, what: &str) -> Run {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return Run {
                ok: status.success(),
                stderr,
                took: started.elapsed(),
            };
        }
        if started.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`strata {what}` hung for over {HANG:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `strata ARGS` with the test idle timeout, bounded.
fn strata(env: &Env, args: &[&str]) -> Run {
    let child = env
        .cmd(args)
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", IDLE)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bounded(child, &args.join(" "))
}

/// Asserts `run` failed within `limit`, and that its message has every one of `words`.
fn failed(run: &Run, limit: Duration, words: &[&str]) {
    eprintln!("took {:?}: {}", run.took, run.stderr);
    assert!(!run.ok, "the command succeeded: {}", run.stderr);
    assert!(
        run.took < limit,
        "took {:?} (limit {limit:?}): {}",
        run.took,
        run.stderr
    );
    for w in words {
        assert!(run.stderr.contains(w), "{w:?} missing from: {}", run.stderr);
    }
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "raw control characters in the message: {:?}",
        run.stderr
    );
}

/// Nothing tagged, and the store answers `images` and `system df`.
fn nothing_tagged(env: &Env) {
    assert_eq!(env.ok(&["images", "-q", "-a"]).trim(), "");
    env.ok(&["system", "df"]);
}

/// Pseudo-random bytes (incompressible, deterministic).
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A one-layer image of about `size` incompressible bytes.
fn image(size: usize) -> TestImage {
    TestImage::new("amd64", &[&[("data.bin", &noise(size))]])
}

/// A registry serving [`image`] as `app:v1`.
fn serving(size: usize) -> (FaultRegistry, TestImage) {
    let reg = FaultRegistry::start();
    let img = image(size);
    reg.image("app", "v1", &img);
    (reg, img)
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

#[test]
fn a_blob_that_stalls_midway_fails_within_the_idle_timeout_and_keeps_its_ingest() {
    let (reg, img) = serving(400_000);
    let layer = sha256(&img.layers[0]);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::StallMidBody(150_000),
    ));
    let env = Env::new();
    let name = format!("{}/app:v1", reg.host);
    let run = strata(&env, &["pull", "-q", &name]);
    // One resumed attempt after the first stall: twice the timeout, plus a margin.
    failed(
        &run,
        Duration::from_secs(8),
        &[
            &reg.host,
            &layer,
            "no data for 1s",
            "STRATA_REGISTRY_IDLE_TIMEOUT",
        ],
    );
    nothing_tagged(&env);
    let (kept, _) = dir_usage(&env.root().join("ingest"));
    assert!(
        kept >= 100_000,
        "the ingest keeps what arrived ({kept} bytes)"
    );

    reg.clear_rules();
    env.ok(&["pull", "-q", &name]);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), img.id());
}

#[test]
fn a_manifest_that_never_answers_fails_naming_it_and_the_timeout() {
    let (reg, _) = serving(1000);
    reg.rule(Rule::new("*", "/manifests/", Fault::StallBeforeHeaders));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(
        &run,
        Duration::from_secs(5),
        &[
            &reg.host,
            "manifest app:v1",
            "1s",
            "STRATA_REGISTRY_IDLE_TIMEOUT",
        ],
    );
    nothing_tagged(&env);
}

#[test]
fn a_token_server_that_never_answers_fails_within_the_timeout() {
    let (reg, _) = serving(1000);
    reg.rule(Rule::new("GET", "=/v2/", Fault::Challenge("/token")));
    reg.rule(Rule::new("*", "/token", Fault::StallBeforeHeaders));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(
        &run,
        Duration::from_secs(5),
        &[&reg.host, "token", "STRATA_REGISTRY_IDLE_TIMEOUT"],
    );
    nothing_tagged(&env);
}

#[test]
fn an_api_check_that_never_answers_fails_within_the_timeout() {
    let (reg, _) = serving(1000);
    reg.rule(Rule::new("GET", "=/v2/", Fault::StallBeforeHeaders));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(8), &[&reg.host, "/v2/"]);
    nothing_tagged(&env);
}

#[test]
fn an_endless_blob_fails_at_its_declared_size() {
    let (reg, img) = serving(1000);
    let layer = sha256(&img.layers[0]);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::EndlessBody,
    ));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &[&layer]);
    nothing_tagged(&env);
    let (ingest, _) = dir_usage(&env.root().join("ingest"));
    assert!(ingest < 1 << 20, "the ingest grew to {ingest} bytes");
}

#[test]
fn an_endless_manifest_fails_at_the_manifest_limit() {
    let (reg, _) = serving(1000);
    reg.rule(Rule::new("GET", "/manifests/", Fault::EndlessBody));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["manifest"]);
    nothing_tagged(&env);
}

#[test]
fn wrong_blob_lengths_fail_and_tag_nothing() {
    let img = image(50_000);
    let real = img.layers[0].clone();
    let layer = sha256(&real);
    let mut longer = real.clone();
    longer.extend_from_slice(b"trailing junk");
    let faults = [
        Fault::LyingLength(real.len() / 2),
        Fault::Body(longer),
        Fault::Body(real[..real.len() - 100].to_vec()),
    ];
    for fault in faults {
        let reg = FaultRegistry::start();
        reg.image("app", "v1", &img);
        reg.rule(Rule::new("GET", format!("/blobs/{layer}"), fault.clone()));
        let env = Env::new();
        let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
        assert!(!run.ok, "{fault:?}: the pull succeeded");
        assert!(
            run.took < Duration::from_secs(10),
            "{fault:?}: {:?}",
            run.took
        );
        assert!(run.stderr.contains(&layer), "{fault:?}: {}", run.stderr);
        nothing_tagged(&env);
    }

    // A length that promises more than the blob, followed by the whole blob and a closed
    // connection: the blob is complete and verified by its digest, so the pull succeeds
    // (without waiting for the bytes that never come).
    let reg = FaultRegistry::start();
    reg.image("app", "v1", &img);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::LyingLength(real.len() + 4096),
    ));
    let env = Env::new();
    let child = env
        .cmd(&["pull", "-q", &format!("{}/app:v1", reg.host)])
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", IDLE)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = bounded(child, "pull");
    assert!(run.ok, "{}", run.stderr);
    assert!(run.took < Duration::from_secs(10), "{:?}", run.took);
    assert_eq!(env.ok(&["images", "-q", "--no-trunc"]).trim(), img.id());
}

#[test]
fn a_registry_answering_500_fails_a_pull_within_five_seconds() {
    let (reg, _) = serving(1000);
    reg.rule(Rule::new("*", "/v2/app/", Fault::Status(500)));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(5), &[&reg.host, "500"]);
    let manifest_requests = reg
        .requests()
        .iter()
        .filter(|r| r.contains("/manifests/"))
        .count();
    assert!(
        manifest_requests <= 4,
        "{manifest_requests} manifest requests: {:?}",
        reg.requests()
    );
    nothing_tagged(&env);
}

#[test]
fn a_dead_registry_fails_a_pull_within_five_seconds() {
    let env = Env::new();
    let host = format!("127.0.0.1:{}", free_port());
    let run = strata(&env, &["pull", "-q", &format!("{host}/app:v1")]);
    failed(&run, Duration::from_secs(5), &[&host, "Connection refused"]);
    // Said once per scheme tried (HTTPS, then HTTP), not once per level of the HTTP
    // client's error chain.
    let refused = run.stderr.matches("Connection refused").count();
    assert_eq!(refused, 2, "{}", run.stderr);
    assert!(
        !run.stderr.contains("error sending request"),
        "{}",
        run.stderr
    );
    nothing_tagged(&env);
}

#[test]
fn a_redirect_loop_fails_quickly() {
    let (reg, img) = serving(1000);
    let layer = sha256(&img.layers[0]);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::RedirectLoop,
    ));
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &[&layer]);
    nothing_tagged(&env);
}

#[test]
fn manifests_of_the_wrong_shape_are_refused() {
    let docs: [(&str, &[u8]); 4] = [
        (OCI_MANIFEST, br#"{"schemaVersion":2,"config":"nope","layers":{}}"#),
        (OCI_MANIFEST, br#"[1,2,3]"#),
        (OCI_INDEX, br#"{"schemaVersion":2,"manifests":"all of them"}"#),
        (OCI_MANIFEST, br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:\u001b[2J","size":2},"layers":[]}"#),
    ];
    for (media_type, doc) in docs {
        let reg = FaultRegistry::start();
        reg.manifest("app", "v1", media_type, doc);
        let env = Env::new();
        let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
        failed(&run, Duration::from_secs(10), &["malformed"]);
        nothing_tagged(&env);
    }
}

#[test]
fn a_manifest_that_is_not_json_is_refused_without_echoing_it() {
    let reg = FaultRegistry::start();
    let garbage = b"\x1b[31m\x00\x07\xff\xfe not a manifest\r\n\x1b]0;title\x07".to_vec();
    reg.manifest("app", "v1", OCI_MANIFEST, &garbage);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["manifest"]);
    assert!(!run.stderr.contains("not a manifest"), "{}", run.stderr);
    nothing_tagged(&env);
}

#[test]
fn a_config_that_is_not_json_is_refused_before_anything_is_stored() {
    let reg = FaultRegistry::start();
    let img = image(10_000);
    let config = b"\x1b[2J\x00this is no image config\xff".to_vec();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": desc("application/vnd.oci.image.config.v1+json", &config),
        "layers": [desc("application/vnd.oci.image.layer.v1.tar+gzip", &img.layers[0])],
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_MANIFEST, &manifest);
    reg.blob(&config);
    reg.blob(&img.layers[0]);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(
        &run,
        Duration::from_secs(10),
        &["config", &sha256(&config), "not an image config"],
    );
    assert!(!run.stderr.contains("no image config"), "{}", run.stderr);
    nothing_tagged(&env);
    let (_, blobs) = env.blob_usage();
    assert_eq!(blobs, 0, "nothing is stored from a refused image");
}

#[test]
fn a_self_referencing_index_is_refused() {
    let reg = FaultRegistry::start();
    // An index whose only entry is served as the index again: whatever the client asks by
    // digest, it gets the index back.
    let entry = sha256(b"the index itself");
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_INDEX, "digest": entry, "size": 300,
            "platform": {"architecture": "amd64", "os": "linux"},
        }],
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_INDEX, &index);
    reg.manifest("app", &entry, OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &[&entry]);
    nothing_tagged(&env);
}

#[test]
fn an_index_without_our_platform_lists_its_platforms_escaped_and_few() {
    let reg = FaultRegistry::start();
    let entries: Vec<_> = (0..500)
        .map(|i| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": sha256(format!("m{i}").as_bytes()),
                "size": 500,
                "platform": {"architecture": format!("\u{1b}[31mevil{i}"), "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
    }))
    .unwrap();
    reg.manifest("app", "v1", OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["evil0", "\\u{1b}"]);
    assert!(!run.stderr.contains("evil30"), "{}", run.stderr);
    nothing_tagged(&env);
}

#[test]
fn a_huge_index_is_refused() {
    let reg = FaultRegistry::start();
    let entries: Vec<_> = (0..40_000)
        .map(|i| {
            json!({
                "mediaType": OCI_MANIFEST,
                "digest": sha256(format!("m{i}").as_bytes()),
                "size": 500,
                "platform": {"architecture": "riscv64", "os": "linux"},
            })
        })
        .collect();
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries,
    }))
    .unwrap();
    assert!(index.len() > 4 << 20, "{} bytes", index.len());
    reg.manifest("app", "v1", OCI_INDEX, &index);
    let env = Env::new();
    let run = strata(&env, &["pull", "-q", &format!("{}/app:v1", reg.host)]);
    failed(&run, Duration::from_secs(10), &["manifest", "limit"]);
    nothing_tagged(&env);
}

/// A store holding `app:v1` from a healthy registry.
fn pulled() -> (Env, TestImage) {
    let (reg, img) = serving(300_000);
    let env = Env::new();
    env.ok(&["pull", "-q", &format!("{}/app:v1", reg.host)]);
    env.ok(&["tag", &format!("{}/app:v1", reg.host), "app:v1"]);
    (env, img)
}

#[test]
fn a_push_whose_upload_is_never_answered_fails_within_the_idle_timeout() {
    let (env, img) = pulled();
    let reg = FaultRegistry::start();
    reg.rule(Rule::new(
        "PUT",
        "/blobs/uploads/",
        Fault::StallBeforeHeaders,
    ));
    let target = format!("{}/dst:v1", reg.host);
    env.ok(&["tag", "app:v1", &target]);
    let run = strata(&env, &["push", &target]);
    failed(
        &run,
        Duration::from_secs(10),
        &[&reg.host, "upload of blob", "no data for 1s"],
    );
    assert!(
        img.layers.iter().any(|l| run.stderr.contains(&sha256(l)))
            || run.stderr.contains(&sha256(&img.config)),
        "{}",
        run.stderr
    );
}

#[test]
fn a_manifest_put_answered_with_500_is_not_retried() {
    let (env, _) = pulled();
    let reg = FaultRegistry::start();
    reg.rule(Rule::new("PUT", "/manifests/", Fault::Status(500)));
    let target = format!("{}/dst:v1", reg.host);
    env.ok(&["tag", "app:v1", &target]);
    let run = strata(&env, &["push", &target]);
    failed(&run, Duration::from_secs(5), &["500"]);
    let puts = reg
        .requests()
        .iter()
        .filter(|r| r.starts_with("PUT ") && r.contains("/manifests/"))
        .count();
    assert_eq!(puts, 1, "{:?}", reg.requests());
}

#[test]
fn a_copy_from_a_stalled_registry_fails_within_the_idle_timeout() {
    let (reg, img) = serving(300_000);
    let layer = sha256(&img.layers[0]);
    reg.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::StallMidBody(100_000),
    ));
    let env = Env::new();
    let layout = env.path("layout");
    let run = strata(
        &env,
        &[
            "copy",
            "-q",
            &format!("docker://{}/app:v1", reg.host),
            &format!("oci:{}:v1", layout.display()),
        ],
    );
    failed(
        &run,
        Duration::from_secs(8),
        &[&reg.host, &layer, "no data for 1s"],
    );
}

/// A `strata registry serve` child, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `strata registry serve --proxy` of `upstream` with the test idle timeout, on a free port.
fn proxy_of(env: &Env, upstream: &FaultRegistry) -> (Served, String) {
    let host = format!("127.0.0.1:{}", free_port());
    let root = env.path("proxy-root");
    let child = env
        .cmd(&[
            "registry",
            "serve",
            "--addr",
            &host,
            "--root",
            root.to_str().unwrap(),
            "--proxy",
            &format!("http://{}", upstream.host),
        ])
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", IDLE)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let served = Served(child);
    wait_for_http(&host);
    (served, host)
}

/// `strata pull NAME` with an idle timeout far longer than the proxy's, bounded.
fn patient_pull(env: &Env, name: &str) -> Run {
    let child = env
        .cmd(&["pull", "-q", name])
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", "40s")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    bounded(child, &format!("pull {name}"))
}

#[test]
fn the_proxy_answers_502_when_the_upstream_manifest_stalls() {
    let (upstream, _) = serving(1000);
    upstream.rule(Rule::new("*", "/manifests/", Fault::StallBeforeHeaders));
    let env = Env::new();
    let (_served, host) = proxy_of(&env, &upstream);
    let client = Env::new();
    let run = patient_pull(&client, &format!("{host}/app:v1"));
    // The client retries the HEAD's 502 three times, then sends one GET for the details:
    // five waits of the proxy's 1 s, and no more.
    failed(
        &run,
        Duration::from_secs(9),
        &[&host, "502", "no data for 1s"],
    );
    nothing_tagged(&client);
}

#[test]
fn the_proxy_cuts_a_client_off_a_stalled_upstream() {
    let (upstream, img) = serving(300_000);
    let layer = sha256(&img.layers[0]);
    upstream.rule(Rule::new(
        "GET",
        format!("/blobs/{layer}"),
        Fault::StallMidBody(100_000),
    ));
    let env = Env::new();
    let (_served, host) = proxy_of(&env, &upstream);

    // The client waits far longer than the proxy: the proxy must be the one to give up.
    let client = Env::new();
    let run = patient_pull(&client, &format!("{host}/app:v1"));
    failed(&run, Duration::from_secs(15), &[&host]);
    nothing_tagged(&client);

    // Nothing half-fetched was cached: once the upstream behaves, the same proxy serves the
    // whole image.
    upstream.clear_rules();
    let again = patient_pull(&client, &format!("{host}/app:v1"));
    assert!(again.ok, "{}", again.stderr);
    assert_eq!(client.ok(&["images", "-q", "--no-trunc"]).trim(), img.id());
}

#[test]
fn a_bad_idle_timeout_setting_is_refused() {
    let env = Env::new();
    let child = env
        .cmd(&["pull", "-q", "127.0.0.1:1/app:v1"])
        .env("STRATA_REGISTRY_IDLE_TIMEOUT", "soon")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = bounded(child, "pull");
    failed(
        &run,
        Duration::from_secs(10),
        &["STRATA_REGISTRY_IDLE_TIMEOUT", "soon"],
    );
}
