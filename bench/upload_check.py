#!/usr/bin/env python3
"""The upload content check against the raw-bytes matcher it replaced, same process.

    python3 bench/upload_check.py [--runs 3]      (BENCH_NO_BUILD=1: use the built example)

Generates (once, under BENCH_DIR, default /tmp) three inputs:
  plain  1 GiB of English-like text with markings sprinkled in
  docx   a 200 MiB Word document: 4 MiB of paragraphs repeated with variations in
         word/document.xml, plus photographs (incompressible media), as real ones are
  zip    a 200 MiB zip of source and text files (deflated)
and runs `examples/upload_check` on each: both paths push the file in 64 KiB chunks,
alternating, best of --runs. For the plain file the ratio (new / old throughput) must
stay >= 0.95: a plain upload streams through the same single matcher as before. For
the containers the check opens them (memory budget raised to 256 MiB so that they fit;
at the default 64 MiB they are refused as over budget, which is also timed).
"""
import argparse, io, json, os, random, subprocess, sys, zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORDS = ("the of and to in is for on that with as by at from this be are or an it which "
         "turbine blade cooling passage alloy thermal stress fatigue bracket assembly drawing "
         "revision tolerance surface finish nominal clearance torque fastener weld inspection "
         "procedure sensor calibration firmware module interface voltage current signal "
         "export error state category chapter section part value table figure").split()
MARKINGS = ["USML Category XI(a)(3)", "Export classification: ECCN 9E003", "EAR99",
            "CUI//SP-EXPT", "ITAR CONTROLLED"]


def prose(rnd, n):
    out = []
    size = 0
    while size < n:
        line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 18)))
        if rnd.random() < 0.002:
            line += " " + rnd.choice(MARKINGS)
        out.append(line)
        size += len(line) + 1
    return "\n".join(out)


def make_plain(path):
    rnd = random.Random(1)
    pool = prose(rnd, 16 << 20).encode()
    with open(path, "wb") as f:
        written = 0
        while written < 1 << 30:
            start = rnd.randrange(0, len(pool) - (1 << 20))
            piece = pool[start:start + (1 << 20)]
            f.write(piece)
            written += len(piece)


def make_docx(path):
    rnd = random.Random(2)
    paragraphs = [f"<w:p><w:r><w:t>{line}</w:t></w:r></w:p>" for line in prose(rnd, 4 << 20).split("\n")]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        z.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        with z.open("word/document.xml", "w") as doc:
            doc.write(b'<?xml version="1.0" encoding="UTF-8"?><w:document><w:body>')
            for i in range(40):
                rnd.shuffle(paragraphs)
                doc.write("".join(paragraphs).encode())
            doc.write(b"</w:body></w:document>")
        i = 0
        while z.fp.tell() < 200 << 20:
            z.writestr(f"word/media/image{i}.jpeg", os.urandom(4 << 20), zipfile.ZIP_STORED)
            i += 1


def make_zip(path):
    rnd = random.Random(3)
    pool = prose(rnd, 32 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        i = 0
        while z.fp.tell() < 200 << 20:
            start = rnd.randrange(0, len(pool) - (256 << 10))
            z.writestr(f"src/module{i // 100}/file{i}.txt", pool[start:start + rnd.randint(16 << 10, 256 << 10)])
            i += 1


def ensure(path, make):
    if not os.path.exists(path):
        print(f"generating {path}", file=sys.stderr)
        make(path + ".part")
        os.rename(path + ".part", path)
    return path


def run(exe, path, runs, memory_mib):
    out = subprocess.run([exe, path, str(runs), str(memory_mib)], check=True, capture_output=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    if not os.environ.get("BENCH_NO_BUILD"):
        subprocess.run(["cargo", "build", "--release", "--locked", "-q", "-p", "itarvault-scan",
                        "--example", "upload_check"], cwd=ROOT, check=True)
    exe = os.path.join(ROOT, "target", "release", "examples", "upload_check")
    base = os.environ.get("BENCH_DIR", "/tmp")
    plain = ensure(os.path.join(base, "itarvault-upload-plain-1g.txt"), make_plain)
    docx = ensure(os.path.join(base, "itarvault-upload-200m.docx"), make_docx)
    zipped = ensure(os.path.join(base, "itarvault-upload-200m.zip"), make_zip)
    p = run(exe, plain, max(a.runs, 5), 64)
    print(f"plain 1 GiB      old {p['raw_mb_s']:7.0f} MB/s  new {p['check_mb_s']:7.0f} MB/s  "
          f"ratio {p['ratio']:.3f} (target >= 0.95)  findings {p['raw_findings']} / {p['check_findings']}")
    for name, path in (("docx 200 MiB", docx), ("zip 200 MiB ", zipped)):
        r = run(exe, path, a.runs, 256)
        d = run(exe, path, 1, 64)
        print(f"{name}     opened {r['check_mb_s']:7.0f} MB/s of upload ({r['decompressed'] / 2**20:.0f} MiB "
              f"decompressed, {r['check_findings']} findings, unchecked: {r['unchecked']}); "
              f"raw-only {r['raw_mb_s']:.0f} MB/s; at the default 64 MiB budget: {d['check_mb_s']:.0f} MB/s, "
              f"unchecked: {d['unchecked']}")


if __name__ == "__main__":
    main()
