#!/usr/bin/env bash
# What a user does once per machine so that strata builds and runs arm64 and arm images on
# an amd64 host (or the reverse): mount binfmt_misc and enable Debian's QEMU user-mode
# handlers (qemu-user-static registers them with the F flag, so they work inside
# containers). `strata system binfmt` then lists the platforms the host runs.
# Idempotent; needs root. Handlers that are already enabled are left as they are.
set -euo pipefail
binfmt=/proc/sys/fs/binfmt_misc
if [ ! -e "$binfmt/status" ]; then
  mount -t binfmt_misc binfmt_misc "$binfmt"
fi
for handler in qemu-aarch64 qemu-arm; do
  if [ ! -e "$binfmt/$handler" ]; then
    # binfmt-support's database: qemu-user-static's formats are imported when both
    # packages are installed; import it first if qemu came before binfmt-support.
    [ -e "/var/lib/binfmts/$handler" ] || update-binfmts --import "$handler"
    update-binfmts --enable "$handler"
  fi
  if ! grep -qx enabled "$binfmt/$handler"; then
    echo 1 > "$binfmt/$handler"
  fi
  grep -q '^flags: .*F' "$binfmt/$handler" || {
    echo "error: $binfmt/$handler lacks the F (fix-binary) flag: containers cannot use it; reinstall qemu-user-static" >&2
    exit 1
  }
done
