#!/usr/bin/env bash
# Installs what scripts/demo.sh uses and nothing else, from Debian's packages, when missing:
# runc (strata's OCI runtime), busybox-static (the demo's base image is made from its
# statically linked /bin/busybox, so no libraries need copying) and curl (the HTTP client).
# Idempotent; the apt step needs root (or sudo) on Debian 12.
set -euo pipefail

missing=()
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# A dynamically linked busybox (Debian's `busybox` package) would need its libraries in the
# image too: only the static one will do.
if [ ! -x /bin/busybox ] || ldd /bin/busybox >/dev/null 2>&1; then
  missing+=(busybox-static)
fi
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing the demo's dependencies: ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
