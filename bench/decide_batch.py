#!/usr/bin/env python3
"""`itarvault decide --batch` on one million requests: throughput and peak memory.

    python3 bench/decide_batch.py [--count 1000000]

The requests are generated on the fly into the command's stdin (never held whole in
memory here either); the decisions stream to a counting sink. Target (issue 3): memory
stays flat whatever the count.
"""
import argparse, json, os, subprocess, sys, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ap = argparse.ArgumentParser()
ap.add_argument("--count", type=int, default=1_000_000)
a = ap.parse_args()
subprocess.run(["cargo", "build", "-q", "--release", "-p", "itarvault-cli"], cwd=ROOT, check=True)
exe = os.path.join(ROOT, "target", "release", "itarvault")
req = json.dumps({"principal": {"id": "alice", "person_status": "foreign_person", "citizenships": ["GB"],
                                "authorizations": [{"id": "DSP5-1", "type": "DSP-5", "countries": ["GB"],
                                                    "usml_categories": ["XI"], "expires": "2027-01-01"}]},
                  "action": "read", "context": {"source_country": "US", "time": "2026-11-22T10:00:00Z"},
                  "resource": {"label": {"jurisdiction": "ITAR", "usml_category": "XI"}}}).encode()
start = time.perf_counter()
p = subprocess.Popen([exe, "decide", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

def feed():
    p.stdin.write(b"[")
    chunk = b"," + req
    block = chunk * 1000
    p.stdin.write(req)
    left = a.count - 1
    while left >= 1000:
        p.stdin.write(block)
        left -= 1000
    p.stdin.write(chunk * left)
    p.stdin.write(b"]")
    p.stdin.close()

t = threading.Thread(target=feed)
t.start()
decisions = 0
out_bytes = 0
for line in p.stdout:
    out_bytes += len(line)
    decisions += line.count(b'"decision"')
t.join()
_, status, usage = os.wait4(p.pid, 0)
secs = time.perf_counter() - start
if status != 0 or decisions != a.count:
    sys.exit(f"failed: status {status}, {decisions} decisions")
print(f"{a.count} requests in {secs:.1f} s: {a.count / secs:,.0f} decisions/s end to end, "
      f"peak RSS {usage.ru_maxrss / 1024:.1f} MiB, output {out_bytes / 2**20:.0f} MiB")
