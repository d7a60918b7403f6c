#!/usr/bin/env python3
"""CycloneDX 1.5 software bill of materials of the `itarvault` release binary.

    scripts/sbom.py --binary target/release/itarvault [--features fips] [--out FILE]

The component list is the dependency graph Cargo builds for the binary (`cargo tree`,
resolver 2, the given features, one target platform), not the lock file: the lock file
also holds test-only and other-platform crates that are not in the binary. Crates linked
into the binary are `required`; build-time only crates (build-script dependencies,
proc-macros and theirs, bindgen, cmake) are listed as `excluded` with the property
`cargo:kind=build`, since they shape the binary without being part of it.

Each crate has its purl (`pkg:cargo/NAME@VERSION`), its licence expression as declared
in its manifest (normalised to SPDX: `MIT/Apache-2.0` becomes `MIT OR Apache-2.0`), and
the SHA-256 of its `.crate` archive from Cargo.lock. The binary itself is the BOM's
subject (`metadata.component`) with its SHA-256 and SHA-512. Offline and deterministic:
the serial number derives from the binary's hash and the timestamp from
SOURCE_DATE_EPOCH (default: the last commit), so one binary gives one BOM.
"""

import argparse
import hashlib
import json
import os
import re
import subprocess
import sys
import tomllib
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "itarvault-cli"
TARGET = "x86_64-unknown-linux-gnu"
LINE = re.compile(r"^(\d+)(\S+) v(\S+)(?: \(([^)]*)\))?(?: \((?:proc-macro|\*)\))*")


def run(*cmd: str) -> str:
    return subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout


def tree(features: str, edges: str) -> list[tuple[int, str, str, str | None]]:
    """`cargo tree` lines as (depth, name, version, path-or-None)."""
    out = run("cargo", "tree", "--locked", "--offline", "-p", PACKAGE, "--target", TARGET,
              "--features", features, "-e", edges, "--prefix", "depth", "--format", "{p}")
    rows = []
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            sys.exit(f"sbom: unexpected cargo tree line: {line!r}")
        depth, name, version, where = m.groups()
        path = where if where and where.startswith("/") else None
        rows.append((int(depth), name, version, path))
    return rows


def spdx(expr: str | None) -> str | None:
    """Cargo's legacy `A/B` licence syntax as the SPDX expression it means."""
    if not expr:
        return None
    parts = [p.strip() for p in expr.split("/")]
    return " OR ".join(parts) if len(parts) > 1 else expr.strip()


def sha(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True, type=Path, help="the built itarvault binary")
    ap.add_argument("--features", default="fips", help="features of itarvault-cli it was built with")
    ap.add_argument("--out", type=Path, help="output file (default: stdout)")
    ap.add_argument("--commit", help="the commit the binary was built from (default: HEAD)")
    a = ap.parse_args()

    meta = json.loads(run("cargo", "metadata", "--format-version", "1", "--locked", "--offline",
                          "--filter-platform", TARGET, "--features", f"{PACKAGE}/{a.features}"))
    info = {(p["name"], p["version"]): p for p in meta["packages"]}
    lock = tomllib.loads((ROOT / "Cargo.lock").read_text())
    checksum = {(p["name"], p["version"]): p.get("checksum") for p in lock["package"]}

    every = tree(a.features, "normal,build")
    linked = {(n, v) for _, n, v, _ in tree(a.features, "normal,no-proc-macro")}

    # Edges from the depth-prefixed tree: a line's parent is the last line one level up.
    deps: dict[tuple[str, str], set[tuple[str, str]]] = {}
    stack: list[tuple[str, str]] = []
    local: set[tuple[str, str]] = set()
    for depth, name, version, path in every:
        key = (name, version)
        if path:
            local.add(key)
        del stack[depth:]
        if stack:
            deps.setdefault(stack[-1], set()).add(key)
        deps.setdefault(key, set())
        stack.append(key)

    def purl(key: tuple[str, str]) -> str:
        return f"pkg:cargo/{key[0]}@{key[1]}"

    root_key = (every[0][1], every[0][2])
    root_info = info[root_key]
    components = []
    for key in sorted(deps):
        if key == root_key:
            continue
        p = info.get(key)
        if p is None:
            sys.exit(f"sbom: {key[0]} {key[1]} is in the tree but not in cargo metadata")
        c = {
            "type": "library",
            "bom-ref": purl(key),
            "name": key[0],
            "version": key[1],
            "scope": "required" if key in linked else "excluded",
            "purl": purl(key),
        }
        if p.get("description"):
            c["description"] = " ".join(p["description"].split())
        lic = spdx(p.get("license"))
        if lic:
            c["licenses"] = [{"expression": lic}]
        elif p.get("license_file"):
            c["licenses"] = [{"license": {"name": f"see {p['license_file']} in the crate"}}]
        if checksum.get(key):
            c["hashes"] = [{"alg": "SHA-256", "content": checksum[key]}]
        refs = []
        if p.get("repository"):
            refs.append({"type": "vcs", "url": p["repository"]})
        if key not in local:
            refs.append({"type": "distribution", "url": f"https://crates.io/crates/{key[0]}/{key[1]}"})
        if refs:
            c["externalReferences"] = refs
        props = [{"name": "cargo:source", "value": "workspace" if key in local else "crates.io"}]
        if key not in linked:
            props.append({"name": "cargo:kind", "value": "build"})
        c["properties"] = props
        components.append(c)

    if not a.binary.is_file():
        sys.exit(f"sbom: no binary at {a.binary}")
    digest = sha(a.binary, "sha256")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH") or run("git", "log", "-1", "--format=%ct").strip())
    commit = a.commit or run("git", "rev-parse", "HEAD").strip()
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "serialNumber": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'itarvault-sbom:' + digest)}",
        "version": 1,
        "metadata": {
            "timestamp": datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "tools": {"components": [{"type": "application", "name": "scripts/sbom.py",
                                      "description": "itarvault's CycloneDX generator (cargo metadata + cargo tree)"}]},
            "component": {
                "type": "application",
                "bom-ref": purl(root_key),
                "name": "itarvault",
                "version": root_key[1],
                "purl": purl(root_key),
                "licenses": [{"expression": spdx(root_info.get("license")) or "NOASSERTION"}],
                "hashes": [{"alg": "SHA-256", "content": digest},
                           {"alg": "SHA-512", "content": sha(a.binary, "sha512")}],
                "properties": [
                    {"name": "cargo:package", "value": PACKAGE},
                    {"name": "cargo:features", "value": a.features},
                    {"name": "cargo:target", "value": TARGET},
                    {"name": "git:commit", "value": commit},
                    {"name": "rustc:version", "value": run("rustc", "--version").strip()},
                ],
            },
        },
        "components": components,
        "dependencies": [{"ref": purl(k), "dependsOn": sorted(purl(d) for d in v)}
                         for k, v in sorted(deps.items())],
    }
    text = json.dumps(bom, indent=2, sort_keys=False) + "\n"
    if a.out:
        a.out.write_text(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
