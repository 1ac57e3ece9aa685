#!/usr/bin/env bash
# Fetches Debian's static busybox for foreign architectures (arm64, armhf) into
# ${STRATA_PEERS_DIR:-/var/cache/strata-peers}/busybox-<arch>: the multi-platform tests
# make their foreign base images from it (no image comes from a registry). Uses
# `dpkg --add-architecture` and `apt-get download`; idempotent.
set -euo pipefail
dir="${STRATA_PEERS_DIR:-/var/cache/strata-peers}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
for arch in arm64 armhf; do
  [ -x "$dir/busybox-$arch" ] && continue
  if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    $sudo dpkg --add-architecture "$arch"
    $sudo apt-get update -qq
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq "busybox-static:$arch" >/dev/null 2>&1) || {
    $sudo apt-get update -qq
    (cd "$work" && apt-get download -qq "busybox-static:$arch" >/dev/null)
  }
  dpkg-deb -x "$work"/busybox-static_*.deb "$work/x"
  $sudo mkdir -p "$dir"
  $sudo install -m 0755 "$work/x/bin/busybox" "$dir/busybox-$arch"
  rm -rf "$work"
  trap - EXIT
done
