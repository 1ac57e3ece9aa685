#!/usr/bin/env bash
# Installs the peer tools strata's tests check interoperability against (Docker Engine,
# docker-registry, skopeo, umoci) and what the container tests run on (runc, a static busybox for test images,
# tini for --init, QEMU user emulation for foreign platforms) from Debian's packages, and the S3 server the registry's object-storage
# tests run against (s3s-fs, from crates.io into ~/.cargo/bin), when they are missing.
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

# command:package
want=(dockerd:docker.io docker-registry:docker-registry skopeo:skopeo umoci:umoci runc:runc busybox:busybox-static tini-static:tini htpasswd:apache2-utils openssl:openssl xz:xz-utils bzip2:bzip2 zstd:zstd strace:strace qemu-aarch64-static:qemu-user-static update-binfmts:binfmt-support buildah:buildah man:man-db)
missing=()
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
here="$(dirname "$0")"
if [ ${#missing[@]} -eq 0 ]; then
  $sudo "$here/enable-emulation.sh"
  "$here/foreign-busybox.sh"
  exit 0
fi
echo "installing peer tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || { echo "error: ${entry%%:*} is still missing after apt-get install ${entry#*:}" >&2; exit 1; }
done
$sudo "$here/enable-emulation.sh"
"$here/foreign-busybox.sh"
