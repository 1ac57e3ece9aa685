#!/usr/bin/env python3
"""Sign and verify an image that already has 50 signatures, strata vs sigstore-rs, side by side.

Both talk to Debian's docker-registry on 127.0.0.1, to the same image and the same cosign
key (made by `strata trust key generate`). One round times, for each tool: appending one
signature (`strata sign -a round=N` / sigstore-rs fetching the signature manifest, adding a
layer and pushing it, as cosign does) and verifying every signature of the image
(`strata verify` / sigstore-rs's `trusted_signature_layers` + `verify_constraints`). Both
open the scrypt-encrypted key on every sign, as cosign does. sigstore-rs runs as the
`sigstore_peer` example of the strata crate (crates/strata/examples/sigstore_peer.rs).
Prints the medians and strata's speed-up.
Run (as root, after `cargo build --release -p strata --example sigstore_peer`):
    python3 benches/trust.py [--rounds 5] [--signatures 50]
"""
import argparse, os, shutil, socket, statistics, subprocess, sys, tarfile, tempfile, time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATA = os.environ.get("STRATA", os.path.join(ROOT, "target/release/strata"))
PEER = os.environ.get("SIGSTORE_PEER", os.path.join(ROOT, "target/release/examples/sigstore_peer"))
PASSWORD = "bench"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run(cmd, env=None):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return out.stdout


def timed(cmd, env=None):
    start = time.monotonic()
    run(cmd, env)
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--signatures", type=int, default=50)
    args = ap.parse_args()
    for tool in (STRATA, PEER):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: cargo build --release -p strata --example sigstore_peer")
    work = tempfile.mkdtemp(prefix="strata-bench-trust-")
    reg = None
    try:
        port = free_port()
        cfg = os.path.join(work, "registry.yml")
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog: {{level: error}}\nstorage: {{filesystem: {{rootdirectory: {work}/data}}}}\n"
                    f"http: {{addr: 127.0.0.1:{port}}}\n")
        reg = subprocess.Popen(["docker-registry", "serve", cfg],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except Exception:
                time.sleep(0.1)
        else:
            sys.exit("docker-registry did not start")
        env = dict(os.environ, STRATA_ROOT=os.path.join(work, "store"), COSIGN_PASSWORD=PASSWORD,
                   HOME=work, DOCKER_CONFIG=os.path.join(work, "docker"))
        # A small image to sign.
        with tarfile.open(os.path.join(work, "rootfs.tar"), "w") as t:
            t.add("/bin/busybox", arcname="bin/busybox")
        name = f"127.0.0.1:{port}/bench/app:1"
        run([STRATA, "import", os.path.join(work, "rootfs.tar"), name], env)
        pushed = run([STRATA, "push", name], env)
        digest = next(w for w in pushed.split() if w.startswith("sha256:"))
        image = f"127.0.0.1:{port}/bench/app@{digest}"
        key = os.path.join(work, "k")
        run([STRATA, "trust", "key", "generate", "-y", "--output-key-prefix", key], env)
        for i in range(args.signatures):
            run([STRATA, "sign", "--key", key + ".key", "-a", f"n={i}", image], env)
        rows = {k: [] for k in ("strata sign", "sigstore sign", "strata verify", "sigstore verify")}
        for r in range(args.rounds):
            rows["strata sign"].append(timed(
                [STRATA, "sign", "--key", key + ".key", "-a", f"strata={r}", image], env))
            rows["sigstore sign"].append(timed(
                [PEER, "sign", key + ".key", PASSWORD, image, f"sigstore={r}"], env))
            rows["strata verify"].append(timed(
                [STRATA, "verify", "--key", key + ".pub", image], env))
            rows["sigstore verify"].append(timed([PEER, "verify", key + ".pub", image], env))
        count = run([PEER, "verify", key + ".pub", image], env).strip()
        print(f"image with {args.signatures} signatures at the start, {count} at the end; "
              f"medians of {args.rounds} rounds")
        med = {k: statistics.median(v) for k, v in rows.items()}
        for k, v in med.items():
            print(f"{k:16s} {v * 1000:8.1f} ms")
        for op in ("sign", "verify"):
            s, p = med[f"strata {op}"], med[f"sigstore {op}"]
            print(f"strata vs sigstore-rs {op:6s} {s * 1000:8.1f} ms vs {p * 1000:8.1f} ms  {p / s:5.2f}x")
    finally:
        if reg is not None:
            reg.terminate()
            reg.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
