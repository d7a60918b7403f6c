#!/usr/bin/env python3
"""`itarvault scan` throughput against ripgrep on the same corpus and patterns, same run.

    python3 bench/scan.py [--gib 1] [--threads 2] [--runs 3]

Generates (once, under BENCH_DIR, default /tmp) a corpus of English-like text files
with export-control markings sprinkled in: many 512 KiB files and one 128 MiB file,
with some non-ASCII text. Then, page cache warm, alternating runs, best of --runs:
  itarvault  `itarvault scan --format json` (all rules, context checks, line numbers,
             fingerprints of files with findings)
  rg         `rg -n --no-unicode --hidden --no-ignore -f PATTERNS`, the same primary
             patterns as compiled by `itarvault scan --patterns` (rg searches line by
             line, so it does less: no wrapped blocks, no context checks)
Prints MB/s for both, the ratio (target issue 7: >= 1.0x), findings, and our peak RSS
(bounded whatever the file sizes). Installs ripgrep with apt-get when it is missing.
"""
import argparse, json, os, random, shutil, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MARKINGS = [
    "WARNING - This document contains technical data whose export is restricted by the\n// Arms Export Control Act (Title 22, U.S.C., Sec 2751, et seq.). Violations of these\n// export laws are subject to severe criminal penalties.",
    "USML Category XI(a)(3)",
    "Export classification: ECCN 9E003",
    "EAR99",
    "CUI//SP-EXPT",
    "DISTRIBUTION STATEMENT D. Distribution authorized to the Department of Defense and U.S. DoD contractors only.",
    "ITAR CONTROLLED",
]
WORDS = ("the of and to in is for on that with as by at from this be are or an it which "
         "turbine blade cooling passage alloy thermal stress fatigue bracket assembly drawing "
         "revision tolerance surface finish nominal clearance torque fastener weld inspection "
         "procedure sensor calibration firmware module interface voltage current signal "
         "export error state 3D000 category chapter section part value table figure ear "
         "café naïve façade résumé").split()


def ensure_rg():
    if shutil.which("rg"):
        return
    print("installing ripgrep (apt-get)", file=sys.stderr)
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "ripgrep"], check=True,
                   env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def corpus(path, gib):
    stamp = os.path.join(path, ".complete")
    if os.path.exists(stamp):
        return
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    rnd = random.Random(7)
    pool = []
    size = 0
    while size < 8 << 20:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 16))) + "\n"
        pool.append(line)
        size += len(line.encode())
    pool = "".join(pool).encode()
    total = gib << 30
    big = 128 << 20
    small = 512 << 10
    n_small = (total - big) // small
    marks = [m.encode() for m in MARKINGS]

    def body(n):
        out = bytearray()
        while len(out) < n:
            start = rnd.randrange(0, len(pool) - (64 << 10))
            out += pool[start:start + min(64 << 10, n - len(out))]
            if rnd.random() < 0.04:
                out += b"\n" + rnd.choice(marks) + b"\n"
        return bytes(out[:n])

    for i in range(n_small):
        d = os.path.join(path, f"d{i % 32:02}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"f{i:05}.txt"), "wb") as f:
            f.write(body(small))
    with open(os.path.join(path, "big.txt"), "wb") as f:
        for _ in range(big // (8 << 20)):
            f.write(body(8 << 20))
    open(stamp, "w").close()


def run(cmd):
    """Wall seconds, peak RSS (MiB, sampled from /proc VmHWM until exit) and stdout."""
    import threading
    start = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    chunks = []
    reader = threading.Thread(target=lambda: chunks.append(p.stdout.read()))
    reader.start()
    peak = 0
    while p.poll() is None:
        try:
            with open(f"/proc/{p.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.002)
    secs = time.perf_counter() - start
    reader.join()
    if p.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} exited {p.returncode}")
    return secs, peak / 1024, b"".join(chunks)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gib", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    ensure_rg()
    subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "itarvault-cli"],
                   cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "itarvault")
    base = os.environ.get("BENCH_DIR", "/tmp")
    path = os.path.join(base, f"itarvault-scan-corpus-v2-{a.gib}g")
    corpus(path, a.gib)
    patterns = os.path.join(base, "itarvault-scan-patterns.txt")
    with open(patterns, "wb") as f:
        f.write(subprocess.run([exe, "scan", "--patterns"], check=True, capture_output=True).stdout)
    nbytes = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(path) for n in ns)
    ours = [exe, "scan", "--format", "json", "-j", str(a.threads), path]
    rg = ["rg", "-n", "--no-unicode", "--hidden", "--no-ignore", "-j", str(a.threads), "-f", patterns, path]
    subprocess.run(["find", path, "-type", "f", "-exec", "cat", "{}", "+"], check=True,
                   stdout=subprocess.DEVNULL)
    best = {"itarvault": (1e9, 0, b""), "rg": (1e9, 0, b"")}
    for _ in range(a.runs):
        for name, cmd in (("itarvault", ours), ("rg", rg)):
            t = run(cmd)
            if t[0] < best[name][0]:
                best[name] = t
    report = json.loads(best["itarvault"][2])
    found = sum(len(f["findings"]) for f in report["files"])
    rg_lines = best["rg"][2].count(b"\n")
    mb = nbytes / 1e6
    ours_s, rg_s = best["itarvault"][0], best["rg"][0]
    print(f"corpus          {nbytes / (1 << 30):.2f} GiB, {report['summary']['files_seen']} files, {a.threads} threads, best of {a.runs}")
    print(f"itarvault scan  {ours_s:.3f} s  {mb / ours_s:8.0f} MB/s  {found} findings in {report['summary']['files_with_findings']} files  peak RSS {best['itarvault'][1]:.0f} MiB")
    print(f"ripgrep         {rg_s:.3f} s  {mb / rg_s:8.0f} MB/s  {rg_lines} matching lines  peak RSS {best['rg'][1]:.0f} MiB")
    print(f"ratio           {rg_s / ours_s:.2f}x ripgrep's throughput (target >= 1.0x)")


if __name__ == "__main__":
    main()
