#!/usr/bin/env python3
"""Vault server throughput over loopback HTTPS, against raw AES-256-GCM in the same run.

    python3 bench/server.py [--size-mib 1024] [--small-seconds 10] [--concurrent 32]
                            [--concurrent-mib 1024] [--features fips]

Builds release binaries, starts `itarvault server` with its audit log durable (every
record fsynced, group commit), and measures:
  raw        aws-lc AES-256-GCM sealing in memory, one core, 1 MiB calls (baseline)
  ceiling    the server's own TLS configuration moving --size-mib over loopback with
             nothing else to do (no HTTP, envelope, disk or content check), client and
             server sharing the cores as below: the most any transfer can reach here
  upload     `itarvault put` of a --size-mib object (client encrypts TLS, server
             decrypts TLS, seals the envelope, writes the blob, fsyncs)
  download   `itarvault get` of it to /dev/null (blob read, envelope opened, TLS)
  4 KiB GET  wrk, 2 threads x 32 connections for --small-seconds, p50 / p99 latency
  memory     the server's peak RSS while --concurrent downloads of --concurrent-mib
             objects run at once
Targets (issue 4): upload and download >= 0.5x raw; >= 5,000 4 KiB reads/s;
server peak RSS < 256 MiB. BENCH_DIR=/dev/shm keeps the data directory off the disk.
"""
import argparse, json, os, re, shutil, signal, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sh(*cmd, **kw):
    return subprocess.run(list(cmd), check=True, **kw)


def timed(cmd, env):
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def peak_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=1024)
    ap.add_argument("--small-seconds", type=int, default=10)
    ap.add_argument("--concurrent", type=int, default=32)
    ap.add_argument("--concurrent-mib", type=int, default=1024)
    ap.add_argument("--features", default="")
    a = ap.parse_args()
    if not shutil.which("wrk"):
        sh("apt-get", "install", "-y", "-qq", "wrk", stdout=subprocess.DEVNULL)
    feat = ["--features", a.features] if a.features else []
    # The default build shares target/ with scripts/quickstart.sh.
    target = os.path.join(ROOT, "target", "bench-" + a.features) if a.features else os.path.join(ROOT, "target")
    env = dict(os.environ, CARGO_TARGET_DIR=target)
    sh("cargo", "build", "-q", "--release", "-p", "itarvault-cli", *feat, cwd=ROOT, env=env)
    sh("cargo", "build", "-q", "--release", "-p", "itarvault-format", "--example", "raw_gcm", *feat, cwd=ROOT, env=env)
    sh("cargo", "build", "-q", "--release", "-p", "itarvault-server", "--example", "tls_ceiling", *feat, cwd=ROOT, env=env)
    bin_ = os.path.join(target, "release", "itarvault")

    def rate(example):
        r = json.loads(subprocess.run([os.path.join(target, "release", "examples", example), str(a.size_mib << 20)],
                                      check=True, capture_output=True, text=True).stdout)
        return r["bytes"] / r["seconds"] / 2**20

    raw_mibs = rate("raw_gcm")
    ceiling_mibs = max(rate("tls_ceiling") for _ in range(3))

    work = tempfile.mkdtemp(prefix="itv-bench-", dir=os.environ.get("BENCH_DIR"))
    try:
        with open(os.path.join(work, "ranges.csv"), "w") as f:
            f.write("127.0.0.0/8,US\n")
        with open(os.path.join(work, "config.toml"), "w") as f:
            f.write(f'data_dir = "{work}/data"\nlisten = "127.0.0.1:0"\n[location]\nranges_file = "{work}/ranges.csv"\n')
        log = open(os.path.join(work, "server.log"), "w+")
        srv = subprocess.Popen([bin_, "server", "--config", f"{work}/config.toml", "--admin-token-file", f"{work}/admin.tok"],
                               stderr=log, env=dict(os.environ, ITARVAULT_LOG="warn"))
        url = None
        for _ in range(200):
            time.sleep(0.05)
            log.seek(0)
            m = re.search(r"listening on (https://\S+)", log.read())
            if m:
                url = m.group(1)
                break
        if not url:
            sys.exit("the server did not start")
        cenv = dict(os.environ, ITARVAULT_SERVER=url, ITARVAULT_CACERT=f"{work}/data/tls/cert.pem",
                    ITARVAULT_TOKEN_FILE=f"{work}/admin.tok")
        cli = lambda *args, **kw: subprocess.run([bin_, *args], env=cenv, check=True, capture_output=True, text=True, **kw).stdout
        cli("buckets", "create", "bench")
        cli("principals", "add", "alice", "--status", "us_citizen", "--citizenship", "US")
        tok = json.loads(cli("tokens", "create", "alice", "--json"))["token"]
        with open(f"{work}/alice.tok", "w", opener=lambda p, fl: os.open(p, fl, 0o600)) as f:
            f.write(tok)
        aenv = dict(cenv, ITARVAULT_TOKEN_FILE=f"{work}/alice.tok")

        big = f"{work}/big.bin"
        with open(big, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(a.size_mib):
                f.write(block)
        up = timed([bin_, "put", "bench/big", big, "-l", "ITAR:XI", "--no-progress"], aenv)
        down = timed([bin_, "get", "bench/big", "-", "--no-progress"], aenv)
        os.remove(big)
        up_mibs, down_mibs = a.size_mib / up, a.size_mib / down

        small = f"{work}/small.bin"
        with open(small, "wb") as f:
            f.write(os.urandom(4096))
        subprocess.run([bin_, "put", "bench/small", small, "-l", "ITAR:XI"], env=aenv, check=True, stdout=subprocess.DEVNULL)
        w = subprocess.run(["wrk", "-t2", "-c32", f"-d{a.small_seconds}s", "--latency", "-H", f"Authorization: Bearer {tok}",
                            f"{url}/v1/buckets/bench/objects/small"], check=True, capture_output=True, text=True).stdout
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", w).group(1))
        lat = {p: re.search(rf"\s{p}%\s+(\S+)", w).group(1) for p in ("50", "99")}
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", w)

        conc = f"{work}/conc.bin"
        with open(conc, "wb") as f:
            block = os.urandom(1 << 20)
            for _ in range(a.concurrent_mib):
                f.write(block)
        subprocess.run([bin_, "put", "bench/conc", conc, "-l", "EAR99", "--no-progress"], env=aenv, check=True)
        os.remove(conc)
        start = time.perf_counter()
        procs = [subprocess.Popen([bin_, "get", "bench/conc", "-", "--no-progress"], env=aenv, stdout=subprocess.DEVNULL)
                 for _ in range(a.concurrent)]
        for p in procs:
            if p.wait() != 0:
                sys.exit("a concurrent download failed")
        conc_secs = time.perf_counter() - start
        rss = peak_rss_mib(srv.pid)
        audit = subprocess.run([bin_, "audit", "verify", "--data-dir", f"{work}/data"], capture_output=True, text=True)
        srv.send_signal(signal.SIGTERM)
        srv.wait(timeout=30)

        print(f"raw AES-256-GCM (one core, in memory): {raw_mibs:8.0f} MiB/s")
        print(f"TLS alone over loopback (ceiling):     {ceiling_mibs:8.0f} MiB/s  = {ceiling_mibs / raw_mibs:.3f}x raw")
        for name, mibs in (("upload  ", up_mibs), ("download", down_mibs)):
            print(f"{name} {a.size_mib} MiB over HTTPS:       {mibs:8.0f} MiB/s  = {mibs / raw_mibs:.3f}x raw  (target >= 0.5x)"
                  f"  = {mibs / ceiling_mibs:.2f}x the TLS ceiling")
        print(f"4 KiB GET, audit durable: {rps:8.0f} req/s  p50 {lat['50']}  p99 {lat['99']}  (target >= 5000/s)"
              + (f"  NON-2XX: {non2xx.group(1)}" if non2xx else ""))
        print(f"{a.concurrent} concurrent downloads of {a.concurrent_mib} MiB: {a.concurrent * a.concurrent_mib / conc_secs:.0f} MiB/s total, "
              f"server peak RSS {rss:.0f} MiB (target < 256 MiB)")
        print(f"audit trail after the run: {audit.stdout.strip().splitlines()[-1]}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
