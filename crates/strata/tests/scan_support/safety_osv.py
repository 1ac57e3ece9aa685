"""safety-db (PyPI's advisories, fetched at test time: its licence forbids committing it)
as OSV records, and the oracle for matching them: Python's `packaging` judges each
advisory's version specifiers against the installed packages.

usage: safety_osv.py INSECURE_FULL_JSON OUT_DIR INSTALLED_JSON
writes one OSV record per (advisory, package) into OUT_DIR; prints as JSON
{"records": N, "skipped_specs": N, "affected": [[name, id], ...]} where `affected` is what
packaging says of INSTALLED_JSON ([[name, version], ...]) for the specs converted."""

import datetime
import json
import os
import re
import sys

from packaging.specifiers import SpecifierSet
from packaging.version import Version


def pep503(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def events(spec):
    """One OSV range's events for a conjunction like `>=1.0,<1.2`, or a `versions` list
    for `==X`, or None when OSV's ranges cannot say it exactly (`>X`, `!=X`)."""
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    ops = {}
    for p in parts:
        m = re.fullmatch(r"(<=|>=|<|==)\s*([^\s]+)", p)
        if not m or m.group(1) in ops:
            return None
        ops[m.group(1)] = m.group(2)
    if set(ops) == {"=="}:
        return ("versions", [ops["=="]])
    if not set(ops) <= {"<", "<=", ">="} or ("<" in ops and "<=" in ops) or not ops:
        return None
    # An empty interval (`>=1.8,<1.8c1`: 1.8c1 is a pre-release of 1.8, so before it)
    # affects nothing, and must not become a range: OSV sorts a range's events, so
    # introduced 1.8, fixed 1.8c1 would read as "affected from 1.8 on, never fixed".
    if ">=" in ops and "<" in ops and Version(ops[">="]) >= Version(ops["<"]):
        return ("empty", None)
    if ">=" in ops and "<=" in ops and Version(ops[">="]) > Version(ops["<="]):
        return ("empty", None)
    ev = [{"introduced": ops.get(">=", "0")}]
    if "<" in ops:
        ev.append({"fixed": ops["<"]})
    elif "<=" in ops:
        ev.append({"last_affected": ops["<="]})
    return ("range", ev)


def main():
    db = json.load(open(sys.argv[1]))
    out = sys.argv[2]
    installed = json.load(open(sys.argv[3]))
    stamp = datetime.datetime.fromtimestamp(db["$meta"]["timestamp"], datetime.timezone.utc)
    modified = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    records = skipped = 0
    converted = {}  # (pep503 name, id) -> [spec, ...]
    for name, advisories in db.items():
        if name == "$meta":
            continue
        for adv in advisories:
            affected = {"package": {"ecosystem": "PyPI", "name": name}}
            ranges, versions, specs = [], [], []
            for spec in adv["specs"]:
                e = events(spec)
                if e is None:
                    skipped += 1
                    continue
                specs.append(spec)
                if e[0] == "empty":
                    continue
                if e[0] == "versions":
                    versions += e[1]
                else:
                    ranges.append({"type": "ECOSYSTEM", "events": e[1]})
            if not specs:
                continue
            if ranges:
                affected["ranges"] = ranges
            if versions:
                affected["versions"] = versions
            record = {
                "schema_version": "1.6.0",
                "id": adv["id"],
                "modified": modified,
                "summary": adv["advisory"][:120],
                "details": adv["advisory"],
                "affected": [affected],
            }
            if adv.get("cve"):
                record["related"] = [adv["cve"]]
            fname = "%s-%s.json" % (adv["id"], pep503(name))
            with open(os.path.join(out, fname), "w") as f:
                json.dump(record, f)
            records += 1
            converted.setdefault((pep503(name), adv["id"]), []).extend(specs)
    hits = []
    for name, version in installed:
        v = Version(version)
        for (n, adv_id), specs in converted.items():
            if n == pep503(name) and any(v in SpecifierSet(s) for s in specs):
                hits.append([pep503(name), adv_id])
    json.dump({"records": records, "skipped_specs": skipped, "affected": sorted(hits)}, sys.stdout)


main()
