#!/usr/bin/env python3
"""strata's registry against Debian's docker-registry, side by side on loopback.

Both servers get the same content (a small image plus one 4 MiB and one 256 MiB blob, pushed
with skopeo-independent raw HTTP), then the same wrk load for manifest GET, small-blob GET
and large-blob GET, the same ApacheBench (`ab -k -i`) load for manifest and small-blob HEAD
(wrk 4.1 waits for a body after a HEAD response that announces a Content-Length, and
stalls; ab is single-threaded, so its figures are a floor), and the same ~500 MB push with
`strata push`. Prints requests/s, latency percentiles and MB/s for both, and the ratios.
Run: python3 benches/registry.py [--seconds 10] [--connections 32]
"""
import argparse, hashlib, json, os, re, shutil, socket, subprocess, sys, tempfile, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(host):
    for _ in range(200):
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.05)
    sys.exit(f"no registry at {host}")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def push_blob(host, repo, data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    req = urllib.request.Request(f"http://{host}/v2/{repo}/blobs/uploads/", method="POST")
    loc = urllib.request.urlopen(req).headers["Location"]
    if not loc.startswith("http"):
        loc = f"http://{host}{loc}"
    sep = "&" if "?" in loc else "?"
    req = urllib.request.Request(f"{loc}{sep}digest={d}", data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req)
    return {"digest": d, "size": len(data)}


def seed(host):
    """A one-layer image tagged bench:1, plus a 4 MiB and a 256 MiB blob. Returns paths."""
    small = os.urandom(4 << 20)
    big = os.urandom(256 << 20)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    c = push_blob(host, "bench/app", config)
    s = push_blob(host, "bench/app", small)
    b = push_blob(host, "bench/app", big)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **c},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", **s}]}).encode()
    req = urllib.request.Request(f"http://{host}/v2/bench/app/manifests/1", data=manifest, method="PUT",
                                 headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    urllib.request.urlopen(req)
    return {"manifest": "/v2/bench/app/manifests/1", "small": f"/v2/bench/app/blobs/{c['digest']}",
            "4MiB": f"/v2/bench/app/blobs/{s['digest']}", "256MiB": f"/v2/bench/app/blobs/{b['digest']}"}


LUA_GET = 'wrk.headers["Accept"] = "application/vnd.oci.image.manifest.v1+json"\n'


def wrk(url, seconds, conns, script, work):
    path = os.path.join(work, "s.lua")
    with open(path, "w") as f:
        f.write(script + "done = function(summary, latency, requests)\n"
                "  io.write(string.format('RESULT %d %d %d %d %d %d\\n', summary.requests, summary.bytes,"
                " summary.duration, latency:percentile(50), latency:percentile(99), summary.errors.status))\nend\n")
    out = subprocess.run(["wrk", "-t", "2", "-c", str(conns), "-d", f"{seconds}s", "-s", path, url],
                         capture_output=True, text=True, check=True).stdout
    m = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", out)
    reqs, nbytes, dur, p50, p99, errs = map(int, m.groups())
    if errs:
        sys.exit(f"{url}: {errs} non-2xx responses")
    secs = dur / 1e6
    return {"rps": reqs / secs, "mbps": nbytes / secs / 1e6, "p50": p50 / 1000, "p99": p99 / 1000}


def ab_head(url, seconds, conns):
    """HEAD load with ApacheBench: keep-alive, `conns` concurrent, for `seconds`."""
    out = subprocess.run(["ab", "-q", "-k", "-i", "-c", str(conns), "-t", str(seconds), "-n", "100000000",
                          "-H", "Accept: application/vnd.oci.image.manifest.v1+json", url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    non2xx = re.search(r"Non-2xx responses:\s+(\d+)", out)
    if failed or non2xx:
        sys.exit(f"{url}: {failed} failed, {non2xx.group(1) if non2xx else 0} non-2xx HEAD responses")
    pct = dict(re.findall(r"^\s+(\d+)%\s+(\d+)", out, re.M))
    return {"rps": rps, "mbps": 0.0, "p50": float(pct.get("50", "nan")), "p99": float(pct.get("99", "nan"))}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    subprocess.run([os.path.join(ROOT, "scripts/install-peers.sh")], check=True)
    for tool, package in [("wrk", "wrk"), ("ab", "apache2-utils")]:
        if not shutil.which(tool):
            subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "strata"], cwd=ROOT, check=True)
    strata = os.path.join(ROOT, "target/release/strata")
    work = tempfile.mkdtemp(prefix="strata-bench-registry-")
    procs = {}
    try:
        hosts = {}
        p = free_port()
        hosts["strata"] = f"127.0.0.1:{p}"
        procs["strata"] = subprocess.Popen([strata, "registry", "serve", "--addr", hosts["strata"],
                                            "--root", os.path.join(work, "strata")],
                                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p = free_port()
        hosts["docker-registry"] = f"127.0.0.1:{p}"
        cfg = os.path.join(work, "dr.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error, accesslog: {{disabled: true}}}}\n"
                    f"storage: {{filesystem: {{rootdirectory: {work}/dr}}}}\nhttp: {{addr: {hosts['docker-registry']}}}\n")
        procs["docker-registry"] = subprocess.Popen(["docker-registry", "serve", cfg],
                                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = {}
        for name, host in hosts.items():
            wait_up(host)
            paths = seed(host)
            r = {}
            for label, path, script in [("manifest GET", paths["manifest"], LUA_GET),
                                        ("small blob GET", paths["small"], ""),
                                        ("4 MiB blob GET", paths["4MiB"], ""),
                                        ("256 MiB blob GET", paths["256MiB"], "")]:
                conns = args.connections if "MiB" not in label else 4
                r[label] = wrk(f"http://{host}{path}", args.seconds, conns, script, work)
            for label, path in [("manifest HEAD", paths["manifest"]), ("small blob HEAD", paths["small"])]:
                r[label] = ab_head(f"http://{host}{path}", args.seconds, args.connections)
            # A ~500 MB push from a strata store (the same for both servers).
            store = os.path.join(work, f"store-{name}")
            env = dict(os.environ, STRATA_ROOT=store)
            layer_dir = os.path.join(work, "layerdata")
            if not os.path.isdir(layer_dir):
                os.makedirs(layer_dir)
                for i in range(4):
                    with open(os.path.join(layer_dir, f"f{i}"), "wb") as f:
                        f.write(os.urandom(125 << 20))
            tar = os.path.join(work, "push.tar")
            if not os.path.exists(tar):
                subprocess.run(["tar", "-C", layer_dir, "-cf", tar, "."], check=True)
            ref = f"{host}/bench/push:1"
            subprocess.run([strata, "import", tar, ref], env=env, check=True, stdout=subprocess.DEVNULL)
            start = time.monotonic()
            subprocess.run([strata, "push", "-q", ref], env=env, check=True, stdout=subprocess.DEVNULL)
            secs = time.monotonic() - start
            size = os.path.getsize(tar)
            r["push 500 MB"] = {"rps": 0, "mbps": size / secs / 1e6, "p50": secs * 1000, "p99": secs * 1000}
            r["peak RSS MiB"] = rss_mib(procs[name].pid)
            results[name] = r
        s, d = results["strata"], results["docker-registry"]
        print(f"\n{'':18}{'strata req/s':>14}{'MB/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
              f"{'docker-registry req/s':>24}{'MB/s':>9}{'p50 ms':>8}{'p99 ms':>8}{'ratio':>8}")
        for label in s:
            if label == "peak RSS MiB":
                continue
            a, b = s[label], d[label]
            key = "mbps" if "MiB" in label or "push" in label else "rps"
            ratio = a[key] / b[key] if b[key] else float("nan")
            print(f"{label:18}{a['rps']:14.0f}{a['mbps']:9.0f}{a['p50']:8.2f}{a['p99']:8.2f}"
                  f"{b['rps']:24.0f}{b['mbps']:9.0f}{b['p50']:8.2f}{b['p99']:8.2f}{ratio:7.2f}x")
        print(f"peak RSS: strata {s['peak RSS MiB']:.0f} MiB, docker-registry {d['peak RSS MiB']:.0f} MiB")
    finally:
        for p in procs.values():
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
