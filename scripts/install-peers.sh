#!/usr/bin/env bash
# Installs the peer tools strata's tests check interoperability against (and runc, the OCI
# runtime the container tests use) from Debian's packages, when they are missing.
# Idempotent; needs root (or sudo) on Debian 12.
set -euo pipefail
want=(docker-registry skopeo umoci runc busybox tini)
missing=()
for p in "${want[@]}"; do
  command -v "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing peer tools: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for p in "${missing[@]}"; do
  command -v "$p" >/dev/null 2>&1 || { echo "error: $p is still missing after apt-get install" >&2; exit 1; }
done
