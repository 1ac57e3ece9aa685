#!/usr/bin/env python3
"""SBOM and vulnerability scan of a ~500 MB image, strata vs Trivy, side by side.

The image is built by strata from the scan fixtures (scripts/scan-fixtures.sh): Debian 12
(debootstrap minbase), pip and npm packages, a Go and a Rust binary, plus this machine's Go
toolchain (/usr/lib/go-1.19: more files, more Go binaries). It is saved as a `docker save`
archive, which both tools read:
    strata sbom --format cyclonedx-json ARCHIVE
    trivy image --input ARCHIVE --format cyclonedx --cache-dir FRESH_DIR
(Trivy's SBOM mode works offline; each round gets an empty cache, so every round reads the
layers, as strata does.)
Then strata scans the archive against a database of 100,000+ synthetic OSV records (PyPI,
npm, Go, crates.io and Debian:12 records, some naming the image's packages); Trivy cannot
scan here (its vulnerability database is not downloadable offline), so that time is strata's
alone. Peak memory (max RSS) is measured per process, for the SBOM of the base image and of
the full one: strata's should not grow with the image.
Run (as root, after `cargo build --release -p strata` and scripts/install-peers.sh):
    python3 benches/scan.py [--rounds 3] [--records 100000]
"""
import argparse, json, os, random, shutil, statistics, subprocess, sys, tempfile, time, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STRATA = os.environ.get("STRATA", os.path.join(ROOT, "target/release/strata"))
FIXTURES = "/var/cache/strata-peers/scan/v1"
TRIVY = os.path.join(FIXTURES, "trivy")
GO_ROOT = "/usr/lib/go-1.19"


def run(cmd, env=None):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return out.stdout


def measured(cmd, env=None):
    """(seconds, max RSS in MiB) of one run, its output discarded."""
    start = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{p.stderr.read().decode()}")
    return elapsed, usage.ru_maxrss / 1024


def synthetic_records(path, count, names):
    """`count` OSV records in one zip: each names a random package of one of five
    ecosystems; one in twenty names a package the image holds (so lookups find records
    to judge), with a range that may or may not include its version."""
    ecosystems = ["PyPI", "npm", "Go", "crates.io", "Debian:12"]
    rng = random.Random(7)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(count):
            if i % 20 == 0 and names:
                eco, name = names[i // 20 % len(names)]
            else:
                eco = ecosystems[i % len(ecosystems)]
                name = f"pkg-{rng.randrange(count // 3)}"
            fixed = f"{rng.randrange(1, 5)}.{rng.randrange(0, 30)}.{rng.randrange(0, 9)}"
            record = {
                "schema_version": "1.6.0",
                "id": f"BENCH-{i:07d}",
                "modified": "2026-11-01T00:00:00Z",
                "summary": f"synthetic advisory {i}",
                "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
                "affected": [{
                    "package": {"ecosystem": eco, "name": name},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}],
                }],
            }
            z.writestr(f"BENCH-{i:07d}.json", json.dumps(record))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=100_000)
    args = ap.parse_args()
    for tool in (STRATA, TRIVY):
        if not os.access(tool, os.X_OK):
            sys.exit(f"{tool} is missing: cargo build --release -p strata; scripts/install-peers.sh")
    work = tempfile.mkdtemp(prefix="strata-bench-scan-")
    try:
        env = dict(os.environ, STRATA_ROOT=os.path.join(work, "store"))
        run([STRATA, "import", f"{FIXTURES}/bookworm-minbase.tar", "scan-debian:12"], env)
        ctx = os.path.join(work, "ctx")
        os.makedirs(os.path.join(ctx, "bin"))
        for d in ("site-packages", "node_modules"):
            shutil.copytree(os.path.join(FIXTURES, d), os.path.join(ctx, d), symlinks=True)
        for b in ("hello-go", "hello-rust"):
            shutil.copy(os.path.join(FIXTURES, "bin", b), os.path.join(ctx, "bin", b))
        shutil.copytree(GO_ROOT, os.path.join(ctx, "go"), symlinks=True)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM scan-debian:12\n"
                    "COPY site-packages /usr/local/lib/python3.11/dist-packages\n"
                    "COPY node_modules /app/node_modules\n"
                    "COPY bin/hello-go bin/hello-rust /usr/local/bin/\n"
                    "COPY go /usr/local/go\n")
        run([STRATA, "build", "-q", "-t", "scan-bench:1", ctx], env)
        archive = os.path.join(work, "image.tar")
        base = os.path.join(work, "base.tar")
        run([STRATA, "save", "-o", archive, "scan-bench:1"], env)
        run([STRATA, "save", "-o", base, "scan-debian:12"], env)
        size = int(run([STRATA, "image", "inspect", "-f", "{{.Size}}", "scan-bench:1"], env))
        base_size = int(run([STRATA, "image", "inspect", "-f", "{{.Size}}", "scan-debian:12"], env))
        print(f"image: {size / 1e6:.0f} MB unpacked ({os.path.getsize(archive) / 1e6:.0f} MB archive); "
              f"base: {base_size / 1e6:.0f} MB unpacked", flush=True)
        # Trivy leaves analyzer-fs-* directories in its temp dir: keep them in ours.
        tenv = dict(env, TRIVY_CACHE_DIR=os.path.join(work, "trivy-cache"), TMPDIR=work)
        strata_sbom = lambda a: [STRATA, "sbom", "--format", "cyclonedx-json", a]
        fresh = iter(range(10_000))
        trivy_sbom = lambda a: [TRIVY, "image", "--quiet", "--input", a, "--format", "cyclonedx",
                                "--cache-dir", os.path.join(work, f"trivy-cache-{next(fresh)}")]
        # Package counts, so the two are seen to do comparable work.
        ours = json.loads(run(strata_sbom(archive), env))
        theirs = json.loads(run(trivy_sbom(archive), tenv))
        print(f"packages: strata {len(ours['components'])}, trivy {len(theirs['components'])}", flush=True)
        results = {}
        for name, cmd, e in (("strata", strata_sbom, env), ("trivy", trivy_sbom, tenv)):
            for label, a in (("base", base), ("full", archive)):
                runs = [measured(cmd(a), e) for _ in range(args.rounds)]
                results[(name, label)] = (statistics.median(t for t, _ in runs), max(m for _, m in runs))
        for label in ("base", "full"):
            s, t = results[("strata", label)], results[("trivy", label)]
            print(f"sbom {label}: strata {s[0] * 1000:.0f} ms ({s[1]:.0f} MiB max RSS), "
                  f"trivy {t[0] * 1000:.0f} ms ({t[1]:.0f} MiB max RSS): strata {t[0] / s[0]:.2f}x faster")
        # Vulnerability scan against 100k+ records.
        names = []
        for c in ours["components"]:
            purl = c.get("purl", "")
            eco = {"pkg:pypi/": "PyPI", "pkg:npm/": "npm", "pkg:golang/": "Go", "pkg:cargo/": "crates.io"}
            for prefix, e in eco.items():
                if purl.startswith(prefix):
                    names.append((e, c["name"]))
        records = os.path.join(work, "records.zip")
        synthetic_records(records, args.records, names)
        t_import, m_import = measured([STRATA, "scan", "db", "import", records], env)
        print(f"db import of {args.records} records: {t_import:.1f} s ({m_import:.0f} MiB max RSS)")
        scans = [measured([STRATA, "scan", "--format", "json", archive], env) for _ in range(args.rounds)]
        report = json.loads(run([STRATA, "scan", "--format", "json", archive], env))
        print(f"scan against {args.records} records: strata {statistics.median(t for t, _ in scans) * 1000:.0f} ms "
              f"({max(m for _, m in scans):.0f} MiB max RSS), {len(report['vulnerabilities'])} findings, "
              f"{report['packages']['judged']} packages judged; trivy: cannot scan offline (no vulnerability database)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


main()
