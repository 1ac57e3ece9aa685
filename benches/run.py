#!/usr/bin/env python3
"""Times `run --rm IMAGE true`: strata against the bare OCI runtime on a prepared bundle (the
floor), and podman and docker (both with --network none) when they are installed and work.

The image is a busybox root filesystem built here from the host's /bin/busybox
(`apt-get install busybox-static`, which scripts/install-peers.sh does), imported into each tool. Every tool gets one warm-up run
(strata unpacks its snapshot then), then --rounds timed runs; prints medians and ratios.
Needs root. Run: sudo python3 benches/run.py [--rounds 20] [--strata PATH]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tarfile, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def busybox_rootfs(root):
    busybox = "/bin/busybox"
    if not os.path.exists(busybox):
        sys.exit("/bin/busybox is needed: apt-get install busybox-static")
    os.makedirs(os.path.join(root, "bin"))
    shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
    out = subprocess.run(["ldd", busybox], capture_output=True, text=True).stdout
    for line in out.splitlines():
        parts = line.split("=>")[-1].split()
        if parts and parts[0].startswith("/"):
            dest = os.path.join(root, parts[0].lstrip("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy(parts[0], dest)
    for applet in ["sh", "true"]:
        os.symlink("busybox", os.path.join(root, "bin", applet))
    for d in ["etc", "proc", "sys", "dev", "tmp"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    with open(os.path.join(root, "etc", "passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n")
    with open(os.path.join(root, "etc", "group"), "w") as f:
        f.write("root:x:0:\n")


def strata_binary(given):
    if given:
        return given
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    path = os.path.join(target, "release", "strata")
    if not os.path.exists(path):
        print("building strata (release)...", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "-p", "strata"], cwd=ROOT, check=True)
    return path


def check(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
    return p.stdout


def timed(cmd, rounds):
    check(cmd)  # warm-up
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        check(cmd)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bundle(work, rootfs, runtime):
    """An OCI bundle for `true`, made from the runtime's own `spec` (no terminal, no network)."""
    b = os.path.join(work, "bundle-" + os.path.basename(runtime))
    os.makedirs(b)
    check([runtime, "spec", "--bundle", b])
    path = os.path.join(b, "config.json")
    with open(path) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["true"]
    spec["root"] = {"path": rootfs, "readonly": False}  # runc refuses a symlinked rootfs
    with open(path, "w") as f:
        json.dump(spec, f)
    return b


def tool_works(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--strata", help="the strata binary (default: a release build)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (containers need it)")
    strata = strata_binary(args.strata)
    work = tempfile.mkdtemp(prefix="strata-bench-run-")
    results = {}
    try:
        rootfs = os.path.join(work, "rootfs")
        busybox_rootfs(rootfs)
        tar = os.path.join(work, "rootfs.tar")
        with tarfile.open(tar, "w") as t:
            t.add(rootfs, arcname=".")
        store = os.path.join(work, "store")
        s = [strata, "--root", store]
        check(s + ["import", "-c", "ENV PATH=/bin", tar, "bench:latest"])
        # Which runtime strata picks here is the floor it is measured against.
        cid = check(s + ["create", "bench", "true"]).strip()
        used = check(s + ["inspect", "-f", "{{.HostConfig.Runtime}}", cid]).strip()
        check(s + ["rm", cid])
        results[f"strata ({used})"] = timed(s + ["run", "--rm", "bench", "true"], args.rounds)

        for name in ["runc", "crun"]:
            rt = shutil.which(name)
            if not rt:
                continue
            b = bundle(work, rootfs, rt)
            state = os.path.join(work, "state-" + name)
            cmd = [rt, "--root", state, "run", "--bundle", b, "bench-" + name]
            probe = subprocess.run(cmd, capture_output=True, text=True)
            if probe.returncode != 0:
                why = probe.stderr.strip().splitlines()[-1:] or ["?"]
                print(f"note: bare {name} cannot run here, skipped: {why[0]}", file=sys.stderr)
                continue
            results[f"bare {name}"] = timed(cmd, args.rounds)

        if shutil.which("podman") and tool_works(["podman", "info"]):
            check(["podman", "import", tar, "strata-bench:latest"])
            results["podman"] = timed(
                ["podman", "run", "--rm", "--network", "none", "strata-bench:latest", "true"],
                args.rounds)
            subprocess.run(["podman", "rmi", "-f", "strata-bench:latest"], capture_output=True)
        if shutil.which("docker") and tool_works(["docker", "info"]):
            check(["docker", "import", tar, "strata-bench:latest"])
            results["docker"] = timed(
                ["docker", "run", "--rm", "--network", "none", "strata-bench:latest", "true"],
                args.rounds)
            subprocess.run(["docker", "rmi", "-f", "strata-bench:latest"], capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    mine = next(k for k in results if k.startswith("strata"))
    floor = results.get(f"bare {used}")
    print(f"run --rm IMAGE true, median of {args.rounds} runs")
    print(f"{'tool':<16} {'median':>10} {'vs strata':>10}")
    for name, secs in results.items():
        print(f"{name:<16} {secs * 1000:>8.1f}ms {secs / results[mine]:>9.2f}x")
    if floor:
        print(f"strata / bare {used}: {results[mine] / floor:.2f}x (goal: <= 1.5x)")
    if "docker" in results:
        print(f"docker / strata: {results['docker'] / results[mine]:.2f}x (goal: >= 5x)")


if __name__ == "__main__":
    main()
