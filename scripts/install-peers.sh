#!/usr/bin/env bash
# Installs the peer tools strata's tests check interoperability against (docker-registry,
# skopeo, umoci) and what the container tests run on (runc, a static busybox for test images,
# tini for --init) from Debian's packages, when they are missing.
# Idempotent; needs root (or sudo) on Debian 12.
set -euo pipefail
# command:package
want=(docker-registry:docker-registry skopeo:skopeo umoci:umoci runc:runc busybox:busybox-static tini-static:tini)
missing=()
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing peer tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${want[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || { echo "error: ${entry%%:*} is still missing after apt-get install ${entry#*:}" >&2; exit 1; }
done
