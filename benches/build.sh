#!/usr/bin/env bash
# Build-speed comparison (a benchmark, never a test): strata vs `buildah bud --network host`
# vs `docker build` (only when a Docker engine is already running), in one run.
#
# For a context of ~2,000 small files plus a few MB, each tool does, RUNS times:
#   cold     a build into an empty store / with its cache pruned
#   cached   the same build again (nothing changed)
#   one-file a rebuild after one source file changed
# and the script prints the median of each and strata's speed-up over the others.
#
# Usage: STRATA=target/release/strata benches/build.sh [RUNS]   (from the repository root)
set -euo pipefail

RUNS=${1:-5}
STRATA=${STRATA:-target/release/strata}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ctx=$WORK/ctx
mkdir -p "$ctx/src"
for d in $(seq 1 40); do
  mkdir -p "$ctx/src/d$d"
  for f in $(seq 1 50); do echo "package d$d // file $f" > "$ctx/src/d$d/f$f.go"; done
done
head -c 4000000 /dev/urandom > "$ctx/assets.bin"
cat > "$ctx/Dockerfile" <<'EOF'
FROM scratch AS assets
COPY assets.bin /opt/assets/
FROM scratch
ARG VERSION=1
COPY --from=assets /opt/assets /opt/assets
COPY src /app/src
ENV VERSION=$VERSION
WORKDIR /app
CMD ["/app/run"]
EOF

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
time_of() { local t0; t0=$(now); "$@" >/dev/null 2>&1; echo "$(now) - $t0" | bc -l; }

# run_tool NAME BUILD_CMD... ; env RESET is a command that empties the tool's cache.
declare -A RESULT
run_tool() {
  local name=$1; shift
  local cold=() cached=() one=()
  for i in $(seq 1 "$RUNS"); do
    eval "$RESET"
    cold+=("$(time_of "$@")")
    cached+=("$(time_of "$@")")
    echo "// change $i $(date +%N)" >> "$ctx/src/d1/f1.go"
    one+=("$(time_of "$@")")
  done
  RESULT[$name.cold]=$(printf '%s\n' "${cold[@]}" | median)
  RESULT[$name.cached]=$(printf '%s\n' "${cached[@]}" | median)
  RESULT[$name.one]=$(printf '%s\n' "${one[@]}" | median)
  printf '%-8s cold %8.3fs   cached %8.3fs   one-file %8.3fs\n' "$name" \
    "${RESULT[$name.cold]}" "${RESULT[$name.cached]}" "${RESULT[$name.one]}"
}

tools=(strata)
RESET="rm -rf '$WORK/strata-root'"
run_tool strata "$STRATA" --root "$WORK/strata-root" build -q -t bench "$ctx"

if command -v buildah >/dev/null; then
  tools+=(buildah)
  RESET="buildah rmi -a -f >/dev/null 2>&1 || true"
  run_tool buildah buildah bud --network host --layers -q -t bench "$ctx"
else
  echo "buildah: not installed (apt-get install buildah)"
fi

if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  tools+=(docker)
  RESET="docker builder prune -af >/dev/null 2>&1 || true"
  run_tool docker docker build -q -t bench "$ctx"
else
  echo "docker: no running engine, skipped"
fi

for t in "${tools[@]}"; do
  [ "$t" = strata ] && continue
  for k in cold cached one; do
    printf 'strata vs %-8s %-7s %6.1fx faster\n' "$t" "$k" \
      "$(echo "${RESULT[$t.$k]} / ${RESULT[strata.$k]}" | bc -l)"
  done
done
