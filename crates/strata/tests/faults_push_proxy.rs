//! Network faults injected by a fake registry against `push`, `copy` and the pull-through
//! proxy (`registry serve --proxy`) (issue 10).

mod harness;

use harness::Served;

use std::process::Stdio;
use std::time::Duration;

use harness::fault_registry::{Fault, FaultRegistry, Rule};
use harness::fault_runs::*;
use harness::images::{TestImage, sha256};
use harness::{Env, free_port, wait_for_http};

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
    failed(&run, Duration::from_secs(9), &[&host, "502"]);
    // The proxy's idle timeout or its deadline for a manifest, whichever fires first on a
    // loaded machine: either names the 1 s.
    assert!(
        run.stderr.contains("no data for 1s") || run.stderr.contains("no answer within 1s"),
        "{}",
        run.stderr
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
