#!/usr/bin/env bash
# strata's main job, offline, against a throw-away store:
#   1. make a base image from busybox-static (`strata import` of a rootfs directory),
#   2. build a web-server image on it from a Dockerfile (`strata build`),
#   3. run it with `-p` and ask it for a page over HTTP,
#   4. push it to strata's own registry (`strata registry serve` on a free 127.0.0.1 port),
#   5. remove everything locally (container and images),
#   6. pull it back and run it again: the same page.
# Needs root (containers: overlayfs mounts, runc). Cleans up (container, registry, mounts,
# temp dir) even when a step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: run as root (containers need overlayfs mounts and runc)" >&2; exit 1; }
scripts/install-demo-deps.sh
# Cargo builds only when a source changed, so a second run starts at once.
cargo build --release -q -p strata
strata=$PWD/target/release/strata

work=$(mktemp -d /tmp/strata-demo-XXXXXX)
export STRATA_ROOT=$work/store
reg_pid=""
ctr=demo-web

cleanup() {
  local rc=$?
  set +e
  "$strata" rm -f "$ctr" >/dev/null 2>&1
  if [ -n "$reg_pid" ]; then
    kill "$reg_pid" 2>/dev/null
    wait "$reg_pid" 2>/dev/null
  fi
  # Whatever a failed step left mounted under the temp dir, deepest first.
  awk -v p="$work" 'index($5, p) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m"; done
  rm -rf "$work"
  [ "$rc" -eq 0 ] || echo "demo.sh: FAILED (exit $rc); cleaned up" >&2
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ strata %s\n' "$*"; "$strata" "$@"; }

# A port nothing listens on (bash's /dev/tcp: a refused connection means free).
free_port() {
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
  done
  echo "demo.sh: no free port found" >&2
  return 1
}

# GETs the page (up to 10 s while the server starts) and prints it.
http_answer() {
  local url=$1
  for _ in $(seq 50); do
    if answer=$(curl -fsS --max-time 2 "$url" 2>/dev/null); then
      printf '$ curl %s\n%s\n' "$url" "$answer"
      return 0
    fi
    sleep 0.2
  done
  echo "demo.sh: no HTTP answer from $url" >&2
  return 1
}

reg_port=$(free_port)
web_port=$(free_port)
registry=127.0.0.1:$reg_port
image=$registry/demo/hello:1.0

step "A base image from busybox-static: import a root filesystem directory"
mkdir -p "$work/rootfs/bin"
cp /bin/busybox "$work/rootfs/bin/"
for applet in sh ls cat echo mkdir httpd; do ln -s busybox "$work/rootfs/bin/$applet"; done
printf '$ tar -C rootfs -c . | strata import -c "ENV PATH=/bin" -c "CMD [\\"sh\\"]" - demo/busybox\n'
tar -C "$work/rootfs" -c . | "$strata" import -c 'ENV PATH=/bin' -c 'CMD ["sh"]' -m 'busybox-static' - demo/busybox

step "Build a web server image from a Dockerfile"
mkdir -p "$work/ctx"
cat >"$work/ctx/Dockerfile" <<'DOCKERFILE'
FROM demo/busybox
RUN mkdir -p /www && echo "hello from an image strata built" > /www/index.html
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
DOCKERFILE
cat "$work/ctx/Dockerfile"
run build --progress plain -t demo/hello:1.0 -t "$image" "$work/ctx"
run images

step "Run it with -p and ask it over HTTP"
run run -d --name "$ctr" -p "127.0.0.1:$web_port:8080" demo/hello:1.0
run ps
http_answer "http://127.0.0.1:$web_port/"

step "Push it to strata's own registry on $registry"
printf '$ strata registry serve --addr %s --root <tmp>/registry &\n' "$registry"
"$strata" registry serve --addr "$registry" --root "$work/registry" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://$registry/v2/" >/dev/null && break; sleep 0.1; done
curl -fs "http://$registry/v2/" >/dev/null || { echo "demo.sh: the registry did not start:" >&2; cat "$work/registry.log" >&2; exit 1; }
run push "$image"
printf '$ curl http://%s/v2/demo/hello/tags/list\n' "$registry"
curl -fsS "http://$registry/v2/demo/hello/tags/list"
echo

step "Remove everything locally"
run rm -f "$ctr"
run rmi demo/hello:1.0 "$image" demo/busybox
run images -a

step "Pull it back from the registry and run it again"
run pull "$image"
run run -d --name "$ctr" -p "127.0.0.1:$web_port:8080" "$image"
http_answer "http://127.0.0.1:$web_port/"
run rm -f "$ctr"

step "Done: built, served over HTTP, pushed to strata's registry, removed, pulled and served again"
