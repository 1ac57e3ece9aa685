#!/usr/bin/env python3
"""Push and pull a ~500 MB four-layer image with strata, skopeo and podman, side by side.

All talk to Debian's docker-registry on 127.0.0.1 (a fresh instance per round, so none finds
another's blobs). Push and pull compare strata with skopeo, blobs only: strata's "pull" row is
`strata copy docker://… NAME` into its store, the transfer of `pull` without the unpacking
(`strata pull` itself unpacks while it downloads). "pull+unpack" compares an image made ready
to run: `strata pull` (which unpacks each layer's snapshot while it downloads, layers in
parallel) followed by `create` (which unpacks whatever is not unpacked yet: after a pull,
nothing) with `podman pull` (which unpacks into its storage), podman on a throw-away
--root/--runroot. Prints wall time, throughput and peak RSS per tool and the ratios.
Run (as root): python3 benches/pushpull.py [--mb 500] [--rounds 3]
"""
import argparse, gzip, hashlib, io, json, os, resource, shutil, socket, statistics
import subprocess, sys, tarfile, tempfile, time, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_measured(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in MiB of that child)."""
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{err}")
    return elapsed, usage.ru_maxrss / 1024


class Registry:
    def __init__(self, work):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(dir=work)
        cfg = os.path.join(self.dir, "config.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {self.dir}/data}}}}\n"
                    f"http: {{addr: 127.0.0.1:{self.port}}}\n")
        self.proc = subprocess.Popen(["docker-registry", "serve", cfg],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v2/", timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        sys.exit("docker-registry did not start")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def write_blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(layout, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + d, "size": len(data)}


def make_image(layout, total_mb):
    """An OCI layout with four gzip layers of (mostly incompressible) data."""
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    layers, diff_ids = [], []
    per_layer = total_mb * 1024 * 1024 // 4
    for i in range(4):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
            left, n = per_layer, 0
            while left > 0:
                size = min(left, 16 * 1024 * 1024)
                info = tarfile.TarInfo(f"layer{i}/file{n}.bin")
                info.size, info.mtime = size, 0
                t.addfile(info, io.BytesIO(os.urandom(size)))
                left -= size
                n += 1
        tar_bytes = raw.getvalue()
        diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
        desc = write_blob(layout, gzip.compress(tar_bytes, compresslevel=1, mtime=0))
        layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **desc})
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids},
                         "config": {"Cmd": ["/bin/sh"]}}).encode()
    cdesc = write_blob(layout, config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **cdesc},
                           "layers": layers}).encode()
    mdesc = write_blob(layout, manifest)
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json", **mdesc,
            "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    return sum(l["size"] for l in layers)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--make-image", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.make_image:
        print(make_image(args.make_image, args.mb))
        return
    subprocess.run([os.path.join(ROOT, "scripts/install-peers.sh")], check=True)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "strata"], cwd=ROOT, check=True)
    strata = os.path.join(ROOT, "target/release/strata")
    work = tempfile.mkdtemp(prefix="strata-bench-")
    try:
        layout = os.path.join(work, "layout")
        print(f"making a {args.mb} MB four-layer image ...", flush=True)
        # In a child process: a forked measurement child would otherwise inherit (and report
        # as its peak RSS) the memory this process used to make the image.
        size = int(subprocess.run([sys.executable, __file__, "--mb", str(args.mb), "--make-image", layout],
                                  check=True, capture_output=True, text=True).stdout)
        mb = size / 1e6
        results = {k: [] for k in ("strata push", "skopeo push", "strata pull", "skopeo pull",
                                   "strata pull+unpack", "podman pull")}
        podman = shutil.which("podman")
        if not podman:
            print("podman: not installed (apt-get install podman), pull+unpack skipped")
        for r in range(args.rounds):
            # push: strata from its store, skopeo from the OCI layout (its fastest local source)
            store = os.path.join(work, f"store{r}")
            env = dict(os.environ, STRATA_ROOT=store)
            subprocess.run([strata, "copy", f"oci:{layout}:bench", "bench:latest"], env=env,
                           check=True, stdout=subprocess.DEVNULL)
            reg = Registry(work)
            try:
                ref = f"127.0.0.1:{reg.port}/bench/strata:1"
                subprocess.run([strata, "tag", "bench:latest", ref], env=env, check=True)
                results["strata push"].append(run_measured([strata, "push", "-q", ref], env))
                results["skopeo push"].append(run_measured(
                    ["skopeo", "copy", "-q", "--dest-tls-verify=false", f"oci:{layout}:bench",
                     f"docker://127.0.0.1:{reg.port}/bench/skopeo:1"]))
                # pull: each tool into a fresh local destination
                pull_env = dict(os.environ, STRATA_ROOT=os.path.join(work, f"pullstore{r}"))
                results["strata pull"].append(run_measured(
                    [strata, "copy", f"docker://{ref}", "bench:pulled"], pull_env))
                out = os.path.join(work, f"skopeo-out{r}")
                results["skopeo pull"].append(run_measured(
                    ["skopeo", "copy", "-q", "--src-tls-verify=false",
                     f"docker://127.0.0.1:{reg.port}/bench/skopeo:1", f"oci:{out}:bench"]))
                if podman:
                    # Ready to run: pulled and every layer unpacked.
                    ready_env = dict(os.environ, STRATA_ROOT=os.path.join(work, f"readystore{r}"))
                    t1, m1 = run_measured([strata, "pull", "-q", ref], ready_env)
                    t2, m2 = run_measured([strata, "create", "--name", "ready", ref], ready_env)
                    results["strata pull+unpack"].append((t1 + t2, max(m1, m2)))
                    subprocess.run([strata, "rm", "ready"], env=ready_env, check=True,
                                   stdout=subprocess.DEVNULL)
                    p = os.path.join(work, f"podman{r}")
                    results["podman pull"].append(run_measured(
                        [podman, "--root", f"{p}/root", "--runroot", f"{p}/run", "pull", "-q",
                         "--tls-verify=false", f"docker://127.0.0.1:{reg.port}/bench/skopeo:1"]))
            finally:
                reg.stop()
                if podman:
                    p = os.path.join(work, f"podman{r}")
                    subprocess.run([podman, "--root", f"{p}/root", "--runroot", f"{p}/run",
                                    "system", "reset", "-f"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                for d in (store, os.path.join(work, f"pullstore{r}"),
                          os.path.join(work, f"skopeo-out{r}"), os.path.join(work, f"readystore{r}"),
                          os.path.join(work, f"podman{r}")):
                    shutil.rmtree(d, ignore_errors=True)
        print(f"\nimage: 4 layers, {mb:.0f} MB compressed; {args.rounds} rounds; medians\n")
        print(f"{'':14}{'seconds':>10}{'MB/s':>10}{'peak RSS MiB':>14}")
        med = {}
        for k, v in results.items():
            if not v:
                continue
            secs = statistics.median(t for t, _ in v)
            rss = max(m for _, m in v)
            med[k] = secs
            print(f"{k:14}{secs:10.2f}{mb / secs:10.0f}{rss:14.0f}")
        for op in ("push", "pull"):
            s, k = med[f"strata {op}"], med[f"skopeo {op}"]
            print(f"{op}: strata {s:.2f}s, skopeo {k:.2f}s -> strata is {k / s:.2f}x skopeo's throughput")
        if "podman pull" in med:
            s, p = med["strata pull+unpack"], med["podman pull"]
            print(f"pull+unpack: strata {s:.2f}s, podman {p:.2f}s -> strata is {p / s:.2f}x podman's speed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
