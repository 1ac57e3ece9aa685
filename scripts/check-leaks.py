#!/usr/bin/env python3
"""Checks that a test run leaked nothing: no mount, no daemon or container process, and no
temp dir or file that was not there before it.

    check-leaks.py snapshot FILE   # before the tests: record what exists
    check-leaks.py compare FILE    # after: exit 1, listing each leak, if anything new remains

Processes are judged by their executable (the tools tests start: dockerd, containerd and its
shims, runc, strata and its monitors, registries, busybox in containers, tini), mounts by
their mount point, temp dirs by the names tests give them under /tmp.
"""

import json
import os
import sys
import time

EXES = {
    "dockerd", "containerd", "containerd-shim-runc-v2", "runc", "crun", "strata",
    "docker-registry", "s3s-fs", "busybox", "tini", "tini-static", "docker-init",
    "docker-proxy", "buildah", "podman", "conmon", "skopeo",
}
TMP_PREFIXES = ("strata-", ".tmp", "dk-", "containerd.", "analyzer-fs-")


def processes():
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        exe = exe.removesuffix(" (deleted)")
        if exe in EXES:
            out[pid] = f"{exe}: {cmd[:200]}"
    return out


def mounts():
    with open("/proc/self/mountinfo") as f:
        return sorted({line.split(" ")[4] for line in f})


def tmp_dirs():
    return sorted(n for n in os.listdir("/tmp") if n.startswith(TMP_PREFIXES))


def state():
    return {"processes": processes(), "mounts": mounts(), "tmp": tmp_dirs()}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("snapshot", "compare"):
        sys.exit(__doc__)
    path = sys.argv[2]
    if sys.argv[1] == "snapshot":
        with open(path, "w") as f:
            json.dump(state(), f)
        return
    with open(path) as f:
        before = json.load(f)
    # Processes being torn down by the last test may need a moment to be reaped.
    for _ in range(50):
        now = state()
        leaks = [f"process {pid} {what}" for pid, what in now["processes"].items()
                 if pid not in before["processes"]]
        leaks += [f"mount {m}" for m in now["mounts"] if m not in before["mounts"]]
        leaks += [f"temp dir /tmp/{d}" for d in now["tmp"] if d not in before["tmp"]]
        if not leaks:
            print("leak check: no process, mount or temp dir left behind")
            return
        time.sleep(0.2)
    print("leak check: the tests left these behind:", file=sys.stderr)
    for leak in leaks:
        print(f"  {leak}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
