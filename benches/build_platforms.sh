#!/usr/bin/env bash
# Multi-platform build speed (a benchmark, never a test): strata vs buildah building the
# same Dockerfile for linux/amd64 and linux/arm64 in one command, in one run. The arm64
# RUN steps execute under QEMU user emulation (scripts/enable-emulation.sh enables it once
# per machine). Docker 20.10 (Debian's docker.io) has no buildx, so it builds one platform
# per command: it is not compared here.
#
#   strata   build --platform linux/amd64,linux/arm64 -t bench CTX
#   buildah  bud --platform linux/amd64,linux/arm64 --manifest bench --layers CTX
#
# Each tool, RUNS times: cold (build cache emptied, the two base images kept) and cached
# (the same build again). Prints the medians and strata's speed-up.
#
# Usage (as root, from the repository root, after scripts/install-peers.sh):
#   cargo build --release -p strata && benches/build_platforms.sh [RUNS]
set -euo pipefail

RUNS=${1:-5}
STRATA=$(realpath "${STRATA:-target/release/strata}")
WORK=$(mktemp -d /tmp/strata-bench-platforms-XXXXXX)
cleanup() {
  set +e +o pipefail
  grep " $WORK" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  for _ in 1 2 3 4 5; do rm -rf "$WORK" 2>/dev/null && return 0; sleep 1; done
  rm -rf "$WORK" || echo "could not remove $WORK" >&2
}
trap cleanup EXIT
# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

arm_busybox=${STRATA_PEERS_DIR:-/var/cache/strata-peers}/busybox-arm64
[ -x "$arm_busybox" ] || { echo "$arm_busybox is missing: run scripts/install-peers.sh" >&2; exit 1; }
grep -qx enabled /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null \
  || { echo "qemu-aarch64 is not enabled: run scripts/enable-emulation.sh" >&2; exit 1; }

# The bases: the host's busybox for amd64, Debian's static arm64 busybox for arm64, each a
# docker-archive both tools load.
for arch in amd64 arm64; do
  mkdir -p "$WORK/rootfs-$arch/bin"
  if [ "$arch" = amd64 ]; then cp /bin/busybox "$WORK/rootfs-$arch/bin/"; else cp "$arm_busybox" "$WORK/rootfs-$arch/bin/busybox"; fi
  for a in sh echo cat ls wc find sort uname; do ln -s busybox "$WORK/rootfs-$arch/bin/$a"; done
  tar -C "$WORK/rootfs-$arch" -cf "$WORK/rootfs-$arch.tar" .
  "$STRATA" --root "$WORK/base-store" import --platform "linux/$arch" -c 'ENV PATH=/bin' \
    "$WORK/rootfs-$arch.tar" "bb-$arch" >/dev/null
  "$STRATA" --root "$WORK/base-store" save -o "$WORK/bb-$arch.tar" "bb-$arch"
done

# The context: 500 small files, one RUN that reads them and reports the platform, one more.
ctx=$WORK/ctx
mkdir -p "$ctx/src"
for d in $(seq 1 10); do
  mkdir -p "$ctx/src/d$d"
  for f in $(seq 1 50); do echo "package d$d // file $f" > "$ctx/src/d$d/f$f.go"; done
done
cat > "$ctx/Dockerfile" <<'DOCKERFILE'
ARG TARGETARCH
FROM bb-$TARGETARCH
ARG TARGETPLATFORM
COPY src /src
RUN find /src -type f | wc -l > /count && uname -m > /arch && echo "$TARGETPLATFORM" > /target
RUN cat /count /arch /target > /info
CMD ["cat", "/info"]
DOCKERFILE

PLATFORMS=linux/amd64,linux/arm64
declare -A RESULT
run_tool() {
  local tool=$1 reset build
  reset=RESET_$tool
  build=BUILD_$tool
  local cold=() cached=()
  for _ in $(seq 1 "$RUNS"); do
    ${!reset}
    # shellcheck disable=SC2086
    cold+=("$(time_of ${!build} "$ctx")")
    # shellcheck disable=SC2086
    cached+=("$(time_of ${!build} "$ctx")")
  done
  RESULT[$tool.cold]=$(printf '%s\n' "${cold[@]}" | median)
  RESULT[$tool.cached]=$(printf '%s\n' "${cached[@]}" | median)
  printf '%-8s two platforms  cold %7.3fs   cached %7.3fs\n' "$tool" \
    "${RESULT[$tool.cold]}" "${RESULT[$tool.cached]}"
}

tools=(strata)
reset_strata() {
  rm -rf "$WORK/strata-root"
  for arch in amd64 arm64; do
    "$STRATA" --root "$WORK/strata-root" load -q -i "$WORK/bb-$arch.tar" >/dev/null
  done
}
RESET_strata=reset_strata
BUILD_strata="$STRATA --root $WORK/strata-root build -q --platform $PLATFORMS -t bench"

command -v buildah >/dev/null || { echo "buildah is missing: run scripts/install-peers.sh" >&2; exit 1; }
tools+=(buildah)
B="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver overlay"
reset_buildah() {
  $B rmi -a -f >/dev/null 2>&1 || true
  $B manifest rm bench >/dev/null 2>&1 || true
  for arch in amd64 arm64; do
    $B pull -q "docker-archive:$WORK/bb-$arch.tar" >/dev/null
  done
}
RESET_buildah=reset_buildah
BUILD_buildah="$B bud --network host --layers -q --platform $PLATFORMS --manifest bench"

for t in "${tools[@]}"; do run_tool "$t"; done
echo
for k in cold cached; do
  printf 'strata vs buildah  two platforms %-7s %7.3fs vs %7.3fs  %6.2fx\n' "$k" \
    "${RESULT[strata.$k]}" "${RESULT[buildah.$k]}" \
    "$(echo "${RESULT[buildah.$k]} / ${RESULT[strata.$k]}" | bc -l)"
done
