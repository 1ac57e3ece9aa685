//! `config.json` and credential helpers, with a fake `docker-credential-fake` on a private
//! helper path.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use transport::{CredentialStore, Credentials};

/// A helper that keeps each server's `store` input in a file and prints it back on `get`,
/// as docker-credential-pass and friends do.
const FAKE_HELPER: &str = r#"#!/bin/sh
dir="$(dirname "$0")/helper-store"
mkdir -p "$dir"
key() { printf '%s' "$1" | tr '/:' '__'; }
case "$1" in
get)
    url=$(cat)
    f="$dir/$(key "$url")"
    if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
store)
    json=$(cat)
    url=$(printf '%s' "$json" | sed 's/.*"ServerURL":"\([^"]*\)".*/\1/')
    printf '%s' "$json" > "$dir/$(key "$url")" ;;
erase)
    url=$(cat)
    f="$dir/$(key "$url")"
    if [ -f "$f" ]; then rm "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
*) echo "unknown action $1" >&2; exit 2 ;;
esac
"#;

fn install_helper(dir: &Path) {
    let path = dir.join("docker-credential-fake");
    std::fs::write(&path, FAKE_HELPER).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn basic(u: &str, p: &str) -> Credentials {
    Credentials::Basic {
        username: u.into(),
        password: p.into(),
    }
}

fn store_with(dir: &Path, config: &str) -> CredentialStore {
    let path = dir.join("config.json");
    std::fs::write(&path, config).unwrap();
    CredentialStore::at(path).with_helper_path(dir)
}

#[test]
fn reads_auths_in_every_spelling() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        r#"{
          "auths": {
            "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"},
            "http://localhost:5000": {"auth": "bG9jYWw6bG9jYWxwdw=="},
            "ghcr.io": {"identitytoken": "refresh-xyz"},
            "empty.example": {}
          }
        }"#,
    );
    for (host, want) in [
        ("docker.io", Some(basic("hub", "hubpw"))),
        ("index.docker.io", Some(basic("hub", "hubpw"))),
        ("localhost:5000", Some(basic("local", "localpw"))),
        (
            "ghcr.io",
            Some(Credentials::IdentityToken("refresh-xyz".into())),
        ),
        ("empty.example", None),
        ("quay.io", None),
    ] {
        assert_eq!(store.get(host).unwrap(), want, "{host}");
    }
}

#[test]
fn missing_config_means_no_credentials_and_bad_json_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = CredentialStore::at(dir.path().join("nope/config.json"));
    assert_eq!(store.get("docker.io").unwrap(), None);

    let store = store_with(dir.path(), "{not json");
    let err = store.get("docker.io").unwrap_err();
    assert!(err.to_string().contains("config.json"), "{err}");

    let store = store_with(dir.path(), r#"{"auths":{"r.io":{"auth":"!!!"}}}"#);
    let err = store.get("r.io").unwrap_err();
    assert!(err.to_string().contains("base64"), "{err}");
}

#[test]
fn stores_in_file_keeping_other_fields() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(
        dir.path(),
        r#"{"auths":{"https://Other.io":{"auth":"eDp5"}},"psFormat":"table {{.ID}}","proxies":{"default":{"httpProxy":"p"}}}"#,
    );
    store.store("localhost:5000", "me", "pw").unwrap();
    store.store("docker.io", "hubber", "hubpw").unwrap();
    store.store("ghcr.io", "<token>", "refresh-1").unwrap();

    let path = store.config_path();
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(v["psFormat"], "table {{.ID}}");
    assert_eq!(v["proxies"]["default"]["httpProxy"], "p");
    assert_eq!(v["auths"]["https://Other.io"]["auth"], "eDp5");
    assert_eq!(v["auths"]["localhost:5000"]["auth"], "bWU6cHc=");
    assert_eq!(
        v["auths"]["https://index.docker.io/v1/"]["auth"],
        "aHViYmVyOmh1YnB3"
    );
    assert_eq!(v["auths"]["ghcr.io"]["identitytoken"], "refresh-1");

    assert_eq!(
        store.get("localhost:5000").unwrap(),
        Some(basic("me", "pw"))
    );
    assert_eq!(store.get("other.io").unwrap(), Some(basic("x", "y")));
    // Replacing reuses the existing key, whatever its spelling.
    store.store("other.io", "x2", "y2").unwrap();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!(v["auths"]["https://Other.io"]["auth"], "eDI6eTI=");

    assert!(store.erase("localhost:5000").unwrap());
    assert!(!store.erase("localhost:5000").unwrap());
    assert_eq!(store.get("localhost:5000").unwrap(), None);
    assert_eq!(
        store.get("docker.io").unwrap(),
        Some(basic("hubber", "hubpw"))
    );
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["config.json"]);
}

#[test]
fn cred_helpers_and_creds_store() {
    let dir = tempfile::tempdir().unwrap();
    install_helper(dir.path());
    let store = store_with(
        dir.path(),
        r#"{"credHelpers":{"registry.example:5000":"fake"},"auths":{"plain.example":{"auth":"YTpi"}}}"#,
    );
    assert_eq!(store.get("registry.example:5000").unwrap(), None);
    store.store("registry.example:5000", "u", "p").unwrap();
    assert_eq!(
        store.get("registry.example:5000").unwrap(),
        Some(basic("u", "p"))
    );
    // The helper got it, the file did not.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(store.config_path()).unwrap()).unwrap();
    assert!(v["auths"].get("registry.example:5000").is_none());
    assert!(
        dir.path()
            .join("helper-store/registry.example_5000")
            .exists()
    );
    // Hosts without a helper still use the file.
    assert_eq!(store.get("plain.example").unwrap(), Some(basic("a", "b")));

    // `<token>` from a helper is an identity token.
    store
        .store("registry.example:5000", "<token>", "refresh-9")
        .unwrap();
    assert_eq!(
        store.get("registry.example:5000").unwrap(),
        Some(Credentials::IdentityToken("refresh-9".into()))
    );
    assert!(store.erase("registry.example:5000").unwrap());
    assert_eq!(store.get("registry.example:5000").unwrap(), None);

    // credsStore covers every host, with Docker Hub under its historical key.
    let store = store_with(dir.path(), r#"{"credsStore":"fake"}"#);
    store.store("docker.io", "hub", "pw").unwrap();
    assert!(
        dir.path()
            .join("helper-store/https___index.docker.io_v1_")
            .exists()
    );
    assert_eq!(
        store.get("index.docker.io").unwrap(),
        Some(basic("hub", "pw"))
    );
}

#[test]
fn missing_or_failing_helper_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), r#"{"credsStore":"absent"}"#);
    let err = store.get("r.io").unwrap_err();
    assert!(
        err.to_string().contains("docker-credential-absent"),
        "{err}"
    );

    let broken = dir.path().join("docker-credential-broken");
    std::fs::write(&broken, "#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n").unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let store = store_with(dir.path(), r#"{"credsStore":"broken"}"#);
    let err = store.get("r.io").unwrap_err();
    assert!(err.to_string().contains("keychain locked"), "{err}");
}
