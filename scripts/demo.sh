#!/usr/bin/env bash
# strata's main job, offline: make an image from a directory with `import`, tag it, push it
# to a local registry (Debian's docker-registry on a free 127.0.0.1 port), remove it locally,
# pull it back and check its files. Everything runs against a throw-away store.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh
cargo build --release -q -p strata
strata=$PWD/target/release/strata
work=$(mktemp -d)
reg_pid=""
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
export STRATA_ROOT=$work/store

# A small root filesystem.
mkdir -p "$work/rootfs/etc" "$work/rootfs/app"
echo "hello from strata" > "$work/rootfs/app/hello.txt"
echo "demo:x:1000:1000::/app:/bin/sh" > "$work/rootfs/etc/passwd"
tar -C "$work/rootfs" -cf "$work/rootfs.tar" .

# A registry on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$work/registry.yml" <<YML
version: 0.1
storage: {filesystem: {rootdirectory: $work/registry}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
log: {level: error}
YML
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

set -x
"$strata" import -c 'CMD ["/bin/sh"]' -m "demo rootfs" "$work/rootfs.tar" demo/app:1.0
"$strata" tag demo/app:1.0 "127.0.0.1:$port/demo/app:1.0"
"$strata" images
"$strata" push "127.0.0.1:$port/demo/app:1.0"
"$strata" rmi demo/app:1.0 "127.0.0.1:$port/demo/app:1.0"
"$strata" pull "127.0.0.1:$port/demo/app:1.0"
"$strata" images --digests
"$strata" history "127.0.0.1:$port/demo/app:1.0"
"$strata" save -o "$work/app.tar" "127.0.0.1:$port/demo/app:1.0"
mkdir "$work/out" && "$strata" copy "127.0.0.1:$port/demo/app:1.0" "oci:$work/out:1.0"
set +x
tar -xOf "$work/app.tar" manifest.json; echo
echo "demo finished: image imported, pushed, pulled back, saved and copied to an OCI layout"
