#!/usr/bin/env bash
# Build-speed comparison (a benchmark, never a test): strata vs `buildah bud` vs the real
# Docker Engine (BuildKit), in one run, on the same base image and contexts.
#
# Two scenarios, each run RUNS times per tool:
#   single   FROM a busybox base + 9 instructions (3 RUNs), a ~2,000-file context
#   multi    two stages, the second one copying from the first with COPY --from
# and for each: cold (build cache emptied, base image kept), cached (the same build
# again) and one-file (one source file changed). Prints the medians and strata's
# speed-up over each peer.
#
# The script starts its own dockerd (own data root, exec root, socket and pidfile under a
# temp dir; no bridge, no iptables) when `dockerd` is installed, and stops it by PID; buildah
# runs with a throw-away --root/--runroot. Docker and buildah build with --network host.
#
# Usage (as root, from the repository root):
#   cargo build --release -p strata && benches/build.sh [RUNS]
#   STRATA_BEFORE=/path/to/older/strata benches/build.sh [RUNS]   # adds a "before" row
set -euo pipefail

RUNS=${1:-5}
STRATA=$(realpath "${STRATA:-target/release/strata}")
WORK=$(mktemp -d /tmp/strata-bench-build-XXXXXX)
DOCKERD_PID=
cleanup() {
  # Best effort to the end: a failing step (grep finding no mount) must not stop it.
  set +e +o pipefail
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
  fi
  # Whatever the daemons left mounted under the work dir goes before the directory.
  grep " $WORK" /proc/mounts | awk '{print $2}' | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  # Files of the daemons' last moments may still be going: try a few times, then say so.
  for _ in 1 2 3 4 5; do rm -rf "$WORK" 2>/dev/null && return 0; sleep 1; done
  rm -rf "$WORK" || echo "could not remove $WORK" >&2
}
trap cleanup EXIT

# The base image: busybox-static, as a docker-archive every tool loads.
mkdir -p "$WORK/rootfs/bin"
cp /bin/busybox "$WORK/rootfs/bin/"
for a in sh echo cat ls wc find sort; do ln -s busybox "$WORK/rootfs/bin/$a"; done
tar -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$STRATA" --root "$WORK/base-store" import -c 'ENV PATH=/bin' "$WORK/rootfs.tar" bb >/dev/null
"$STRATA" --root "$WORK/base-store" save -o "$WORK/bb.tar" bb

# The contexts: 2,000 small source files and a few MB of assets.
single=$WORK/single
mkdir -p "$single/src"
for d in $(seq 1 40); do
  mkdir -p "$single/src/d$d"
  for f in $(seq 1 50); do echo "package d$d // file $f" > "$single/src/d$d/f$f.go"; done
done
head -c 4000000 /dev/urandom > "$single/assets.bin"
cat > "$single/Dockerfile" <<'EOF'
FROM bb
ARG VERSION=1
ENV APP=/app VERSION=$VERSION
WORKDIR /app
COPY src ./src
RUN find src -type f | wc -l > count
RUN echo "$VERSION" > version
COPY assets.bin /opt/assets/
RUN cat count version > info
CMD ["sh"]
EOF
multi=$WORK/multi
cp -a "$single" "$multi"
cat > "$multi/Dockerfile" <<'EOF'
FROM bb AS build
COPY src /src
RUN find /src -type f | sort > /list
FROM bb
COPY --from=build /src /app/src
COPY --from=build /list /app/list
CMD ["sh"]
EOF

# shellcheck source=benches/lib.sh
. "$(dirname "$0")/lib.sh"

declare -A RESULT
# run_tool TOOL SCENARIO CTX: RESET_<tool> empties the tool's build cache (not timed);
# BUILD_<tool> is the build command, with the context appended.
run_tool() {
  local tool=$1 scenario=$2 ctx=$3 reset build
  reset=RESET_$tool
  build=BUILD_$tool
  local cold=() cached=() one=()
  for i in $(seq 1 "$RUNS"); do
    ${!reset}
    # shellcheck disable=SC2086
    cold+=("$(time_of ${!build} "$ctx")")
    # shellcheck disable=SC2086
    cached+=("$(time_of ${!build} "$ctx")")
    echo "// change $i $(date +%N)" >> "$ctx/src/d1/f1.go"
    # shellcheck disable=SC2086
    one+=("$(time_of ${!build} "$ctx")")
  done
  local k
  for k in cold cached one; do
    local -n arr=$k
    RESULT[$tool.$scenario.$k]=$(printf '%s\n' "${arr[@]}" | median)
  done
  printf '%-8s %-7s cold %7.3fs   cached %7.3fs   one-file %7.3fs\n' "$tool" "$scenario" \
    "${RESULT[$tool.$scenario.cold]}" "${RESULT[$tool.$scenario.cached]}" \
    "${RESULT[$tool.$scenario.one]}"
}

tools=(strata)
reset_strata() {
  rm -rf "$WORK/strata-root"
  "$STRATA" --root "$WORK/strata-root" load -q -i "$WORK/bb.tar" >/dev/null
}
RESET_strata=reset_strata
BUILD_strata="$STRATA --root $WORK/strata-root build -q -t bench"

# STRATA_BEFORE=<binary>: another strata (say, the build before a change) as one more
# tool, with its own store, so both sides of a change are measured in the same run.
if [ -n "${STRATA_BEFORE:-}" ]; then
  BEFORE=$(realpath "$STRATA_BEFORE")
  tools+=(before)
  reset_before() {
    rm -rf "$WORK/before-root"
    "$BEFORE" --root "$WORK/before-root" load -q -i "$WORK/bb.tar" >/dev/null
  }
  RESET_before=reset_before
  BUILD_before="$BEFORE --root $WORK/before-root build -q -t bench"
fi

if command -v buildah >/dev/null; then
  tools+=(buildah)
  B="buildah --root $WORK/buildah/root --runroot $WORK/buildah/run --storage-driver overlay"
  reset_buildah() {
    $B rmi -a -f >/dev/null 2>&1 || true
    $B pull -q "docker-archive:$WORK/bb.tar" >/dev/null
    $B tag "$($B images -q | head -1)" bb >/dev/null
  }
  RESET_buildah=reset_buildah
  BUILD_buildah="$B bud --network host --layers -q -t bench"
else
  echo "buildah: not installed (apt-get install buildah), skipped"
fi

if command -v dockerd >/dev/null && [ -x /usr/bin/docker ]; then
  D=$WORK/docker
  mkdir -p "$D"
  dockerd --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/pid" -H "unix://$D/sock" \
    --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    >"$D/log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST=unix://$D/sock DOCKER_BUILDKIT=1
  for _ in $(seq 1 300); do /usr/bin/docker info >/dev/null 2>&1 && break; sleep 0.1; done
  if /usr/bin/docker info >/dev/null 2>&1; then
    tools+=(docker)
    /usr/bin/docker load -q -i "$WORK/bb.tar" >/dev/null
    reset_docker() { /usr/bin/docker builder prune -af >/dev/null; }
    RESET_docker=reset_docker
    BUILD_docker="/usr/bin/docker build -q --network host -t bench"
  else
    echo "docker: dockerd did not start (see below), skipped"
    tail -5 "$D/log"
  fi
else
  echo "docker: dockerd or /usr/bin/docker missing (apt-get install docker.io), skipped"
fi

for scenario in single multi; do
  ctx=${!scenario}
  for t in "${tools[@]}"; do run_tool "$t" "$scenario" "$ctx"; done
done

echo
for scenario in single multi; do
  for t in "${tools[@]}"; do
    [ "$t" = strata ] && continue
    for k in cold cached one; do
      printf 'strata vs %-8s %-7s %-7s %7.3fs vs %7.3fs  %6.2fx\n' "$t" "$scenario" "$k" \
        "${RESULT[strata.$scenario.$k]}" "${RESULT[$t.$scenario.$k]}" \
        "$(echo "${RESULT[$t.$scenario.$k]} / ${RESULT[strata.$scenario.$k]}" | bc -l)"
    done
  done
done
