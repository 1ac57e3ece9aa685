#!/usr/bin/env bash
# Runs strata's whole test suite: installs the peer tools (Docker Engine, docker-registry,
# skopeo, umoci, runc, … from Debian's packages; s3s-fs from crates.io) when missing, then
# every unit, conformance, integration and differential test (the differential suites start
# a dockerd of their own), then checks that nothing leaked: no process, mount or temp dir
# that was not there before.
# Tests that need a peer fail (never skip) when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export STRATA_REQUIRE_PEERS=1
before=$(mktemp)
trap 'rm -f "$before"' EXIT
python3 scripts/check-leaks.py snapshot "$before"
if command -v cargo-nextest >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast --test-threads 4
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi
python3 scripts/check-leaks.py compare "$before"
