//! `registry serve` with `[[trust.require]]`: manifests of the matching repositories are
//! served only when signed by one of the keys; other repositories, signature manifests and
//! HEAD requests are served as before. Judged by strata's pull, skopeo and sigstore-rs.

mod harness;
mod trust_support;

use std::process::Command;

use harness::{Env, peer, require, serve_registry_with};
use trust_support::*;

/// `skopeo inspect --raw` of `image`: Ok(stdout) or Err(stderr).
fn skopeo_raw(image: &str) -> Result<String, String> {
    let out = Command::new(require("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{image}"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_repository_that_requires_signatures_serves_only_signed_manifests() {
    let env = Env::new();
    let p = keygen(&env, "p", "pw");
    let q = keygen(&env, "q", "pw");
    let config = env.path("registry.toml");
    std::fs::write(
        &config,
        format!(
            "[[trust.require]]\nrepositories = [\"prod/**\"]\nkeys = [\"{}\"]\n",
            key(&p, "pub")
        ),
    )
    .unwrap();
    let (_reg, host) = serve_registry_with(&env, "served", &[config.to_str().unwrap()]);
    let prod = push_images_to(&env, &host, "prod/app");
    push_images_to(&env, &host, "dev/app");
    let a = format!("{host}/prod/app:a");

    // Unsigned: refused to strata and to skopeo, with the reason; HEAD still answers (a
    // signer needs the digest).
    let (code, err) = env.fails(&["pull", "-q", &a]);
    assert_eq!(code, 1);
    assert!(
        err.contains("serves only signed manifests") && err.contains("no signature"),
        "{err}"
    );
    let e = skopeo_raw(&a).unwrap_err();
    assert!(e.contains("denied") || e.contains("DENIED"), "{e}");
    let head = peer(Command::new("curl").args([
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-I",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
        &format!("http://{host}/v2/prod/app/manifests/a"),
    ]));
    assert_eq!(head, "200");
    // Another repository is not covered.
    env.ok(&["pull", "-q", &format!("{host}/dev/app:a")]);
    assert!(skopeo_raw(&format!("{host}/dev/app:b")).is_ok());

    // Signed by the key: served; its signature manifest is readable, so sigstore-rs
    // verifies through this registry.
    ok_pw(&env, "pw", &["sign", "--key", &key(&p, "key"), &a]);
    env.ok(&["pull", "-q", &a]);
    assert!(skopeo_raw(&a).is_ok());
    let p_pub = std::fs::read(key(&p, "pub")).unwrap();
    assert_eq!(sigstore_verifies(&a, &p_pub), Ok(1));

    // Signed by another key: still refused, saying the signature did not verify.
    let b = format!("{host}/prod/app:b");
    ok_pw(&env, "pw", &["sign", "--key", &key(&q, "key"), &b]);
    let (_, err) = env.fails(&["pull", "-q", &b]);
    assert!(err.contains("no signature by a key it trusts"), "{err}");
    // A sigstore bundle by the key (a referrer) counts as well.
    ok_pw(
        &env,
        "pw",
        &["sign", "--key", &key(&p, "key"), "--bundle", &b],
    );
    env.ok(&["pull", "-q", &b]);
    assert!(skopeo_raw(&b).is_ok());

    // An index: each manifest is checked, so the index alone signed is not enough.
    let multi = format!("{host}/prod/app:multi");
    ok_pw(&env, "pw", &["sign", "--key", &key(&p, "key"), &multi]);
    assert!(skopeo_raw(&multi).is_ok(), "the index is signed");
    let e = skopeo_raw(&format!("{host}/prod/app@{}", prod["a"]));
    assert!(e.is_ok(), "a was signed above: {e:?}");
    let e = skopeo_raw(&format!("{host}/prod/app@{}", prod["arm"])).unwrap_err();
    assert!(e.contains("denied") || e.contains("DENIED"), "{e}");
    ok_pw(
        &env,
        "pw",
        &["sign", "--key", &key(&p, "key"), "--recursive", &multi],
    );
    assert!(skopeo_raw(&format!("{host}/prod/app@{}", prod["arm"])).is_ok());
    env.ok(&["pull", "-q", "--all-platforms", &multi]);
}

#[test]
fn a_trust_rule_with_a_missing_key_stops_the_server_from_starting() {
    let env = Env::new();
    let config = env.path("registry.toml");
    std::fs::write(
        &config,
        "[[trust.require]]\nrepositories = [\"prod/**\"]\nkeys = [\"/nonexistent/k.pub\"]\n",
    )
    .unwrap();
    let (code, err) = env.fails(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--root",
        env.path("r").to_str().unwrap(),
        config.to_str().unwrap(),
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("trust.require[0]") && err.contains("/nonexistent/k.pub"),
        "{err}"
    );
    std::fs::write(
        &config,
        "[[trust.require]]\nrepositories = [\"a//b\"]\nkeys = []\n",
    )
    .unwrap();
    let (_, err) = env.fails(&[
        "registry",
        "serve",
        "--addr",
        "127.0.0.1:0",
        config.to_str().unwrap(),
    ]);
    assert!(err.contains("give repositories and keys"), "{err}");
}
