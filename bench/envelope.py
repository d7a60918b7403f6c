#!/usr/bin/env python3
"""Envelope throughput against the raw AES-256-GCM rate, measured in the same run.

    python3 bench/envelope.py [--size-mib 1024] [--features fips]

Builds release binaries, then measures on one file of --size-mib MiB:
  raw    aws-lc AES-256-GCM sealing in memory, one core, 1 MiB calls (baseline)
  encrypt / decrypt   `itarvault encrypt|decrypt` file to file (decrypt fsyncs its
                      output before renaming it into place, as it always does)
  enc>null / dec>null  the same with output to /dev/null: the tool without the sink
  cp     a plain `cp` of the same file in the same directory (the I/O ceiling)
and prints each rate as a ratio to the raw rate and to cp, with the peak resident
memory of each command. BENCH_DIR=/dev/shm measures without the disk. Targets (issue 2): encrypt and decrypt >= 1.0x raw; peak < 64 MiB.
"""
import argparse, json, os, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(cmd, env=None):
    """Runs cmd; returns (seconds, peak RSS in MiB)."""
    start = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - start
    if status != 0:
        sys.exit(f"command failed ({status}): {' '.join(cmd)}")
    return secs, usage.ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--features", default="")
    a = ap.parse_args()
    feat = ["--features", a.features] if a.features else []
    target = os.path.join(ROOT, "target", "bench-" + (a.features or "default"))
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "itarvault-cli"] + feat, cwd=ROOT, env=env, check=True)
    subprocess.run(["cargo", "build", "-q", "--release", "-p", "itarvault-format", "--example", "raw_gcm"] +
                   ([f"--features=itarvault-format/{a.features}"] if a.features else []), cwd=ROOT, env=env, check=True)
    exe = os.path.join(target, "release", "itarvault")
    raw = os.path.join(target, "release", "examples", "raw_gcm")
    size = a.size_mib << 20

    d_parent = os.environ.get("BENCH_DIR")
    with tempfile.TemporaryDirectory(prefix="itarvault-bench-", dir=d_parent) as d:
        plain, envf, out = (os.path.join(d, n) for n in ("plain", "plain.itv", "out"))
        with open(plain, "wb") as f:  # real (non-sparse) data, written once
            block = os.urandom(1 << 20)
            for _ in range(a.size_mib):
                f.write(block)
        cenv = dict(os.environ, ITARVAULT_KEYSTORE=os.path.join(d, "ks.json"),
                    ITARVAULT_PASSPHRASE="benchmark passphrase only")
        subprocess.run([exe, "keys", "init"], env=cenv, check=True, stdout=subprocess.DEVNULL)
        subprocess.run([exe, "keys", "create", "bench"], env=cenv, check=True, stdout=subprocess.DEVNULL)

        r = json.loads(subprocess.run([raw, str(size)], check=True, capture_output=True, text=True).stdout)
        raw_rate = r["bytes"] / r["seconds"]
        cp_s, _ = run(["cp", plain, os.path.join(d, "copy")])
        os.unlink(os.path.join(d, "copy"))
        enc_s, enc_mem = run([exe, "encrypt", "--no-progress", "-l", "ITAR:XI", "-k", "bench", plain, envf], cenv)
        dec_s, dec_mem = run([exe, "decrypt", "--no-progress", envf, out], cenv)
        encn_s, encn_mem = run([exe, "encrypt", "--no-progress", "-l", "ITAR:XI", "-k", "bench", plain, "-"], cenv)
        decn_s, decn_mem = run([exe, "decrypt", "--no-progress", envf, "-"], cenv)
        if os.path.getsize(out) != size:
            sys.exit("decrypted size differs")

    mib = lambda rate: rate / (1 << 20)
    print(f"build: {a.features or 'default'}  file: {a.size_mib} MiB  cores: {os.cpu_count()}")
    print(f"dir: {d}")
    print(f"{'measure':<10} {'MiB/s':>9} {'vs raw':>7} {'vs cp':>7} {'peak RSS':>10}")
    cp_rate = size / cp_s
    print(f"{'raw-gcm':<10} {mib(raw_rate):9.0f} {1.0:7.2f} {raw_rate / cp_rate:7.2f} {'-':>10}")
    print(f"{'cp':<10} {mib(cp_rate):9.0f} {cp_rate / raw_rate:7.2f} {1.0:7.2f} {'-':>10}")
    rows = (("encrypt", enc_s, enc_mem), ("decrypt", dec_s, dec_mem),
            ("enc>null", encn_s, encn_mem), ("dec>null", decn_s, decn_mem))
    for name, secs, mem in rows:
        rate = size / secs
        print(f"{name:<10} {mib(rate):9.0f} {rate / raw_rate:7.2f} {rate / cp_rate:7.2f} {mem:8.1f}MiB")


if __name__ == "__main__":
    main()
