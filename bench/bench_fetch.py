"""Cold download of a large module over loopback: hubfn against tensorflow_hub and `curl | tar -xz`.

Run: .venv/bin/python bench/bench_fetch.py [--mb 200] [--rss-mb 500] [--repeat 3]
     .venv/bin/python bench/bench_fetch.py --hashes    (only the content-hash comparison, a few seconds)

A real SavedModel with --mb MB of random float32 weights (incompressible, like trained weights) is
exported with TensorFlow, packed as .tar.gz (gzip level 1) and served by `python -m http.server` in
its own process. Every measurement runs in a fresh process with an empty cache; the time is taken
inside the process around the call only (interpreter and TensorFlow start-up excluded):
  fetch: hubfn.hub_resolve(url)       vs tensorflow_hub.resolve(url)   vs curl -s URL | tar -xz
  load:  hubfn.hub_load(url)          vs tensorflow_hub.load(url)      (download + TF load)
Both for an archive written by `hubfn pack` and one written by plain `tar -czf`, the way most modules
were packed. Ratios are hubfn / other (lower is better; targets: fetch <= 0.45, load <= 0.6). Then the peak RSS of a
process fetching a --rss-mb MB module with hubfn.hub_resolve, above its RSS just before the call
(target <= 150 MB).

--hashes: throughput of candidate content hashes for the manifest (hubfn.fetch.digest) over 64 MiB of
random bytes in 1 MiB pieces, beside isal's gunzip of the same bytes, which the hash runs next to.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = r"""
import json, os, sys, time
kind, url = sys.argv[1], sys.argv[2]
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
if kind.startswith("tfhub"):
    import tensorflow_hub as lib
else:
    import hubfn as lib
    import hubfn.fetch.cache  # the download stack, imported up front as tensorflow_hub's is on import
    if kind.endswith("load"):
        import tensorflow  # imported up front, as tensorflow_hub does on import
base = rss("VmRSS:")
t = time.perf_counter()
if kind == "hubfn_resolve":
    lib.hub_resolve(url)
elif kind == "hubfn_load":
    lib.hub_load(url)
elif kind == "tfhub_resolve":
    lib.resolve(url)
elif kind == "tfhub_load":
    lib.load(url)
secs = time.perf_counter() - t
print(json.dumps({"secs": secs, "base": base, "peak": rss("VmHWM:")}))
"""


def make_module(path, mb):
    import numpy as np
    import tensorflow as tf

    class Big(tf.Module):
        def __init__(self):
            super().__init__()
            n = mb * (1 << 20) // 4
            self.w = tf.Variable(np.random.default_rng(0).standard_normal(n, dtype=np.float32), name="w")

        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
        def __call__(self, x):
            return x * self.w[0]

    big = Big()
    tf.saved_model.save(big, path, signatures={"serving_default": big.__call__})
    return path


def pack(src, out):
    from isal import igzip

    with igzip.open(out, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:
        for name in sorted(os.listdir(src)):
            tar.add(os.path.join(src, name), arcname=name)
    return out


def tar_czf(src, out):
    """The archive as nearly every published module was made: plain `tar -czf` (gzip level 6)."""
    subprocess.run(["tar", "-czf", out, "-C", src, "."], check=True)
    return out


def run_child(kind, url, cache):
    env = dict(os.environ, TFHUB_CACHE_DIR=cache, TFHUB_MODEL_LOAD_FORMAT="COMPRESSED",
               NO_PROXY="127.0.0.1", PYTHONPATH=ROOT)
    env.pop("TFHUB_DOWNLOAD_PROGRESS", None)
    out = subprocess.run([sys.executable, "-c", CHILD, kind, url], env=env, capture_output=True, text=True,
                         check=False, timeout=900)
    if out.returncode:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_curl(url, work):
    dest = os.path.join(work, "curl_out")
    os.makedirs(dest)
    t = time.perf_counter()
    subprocess.run(f"curl -sf '{url}' | tar -xz -C '{dest}'", shell=True, check=True)
    secs = time.perf_counter() - t
    shutil.rmtree(dest)
    return {"secs": secs}


def measure(kinds, url, work, repeat):
    """Median seconds per kind; rounds interleave the kinds so a noisy moment hits all of them."""
    times = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            cache = tempfile.mkdtemp(prefix="cache-", dir=work)
            os.sync()  # start each run with no dirty pages of the previous one being written back
            times[kind].append(run_curl(url, work)["secs"] if kind == "curl"
                               else run_child(kind, url, cache)["secs"])
            shutil.rmtree(cache, ignore_errors=True)
    return {k: (statistics.median(v), v) for k, v in times.items()}


def serve(directory):
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                             directory], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    line = proc.stdout.readline()  # "Serving HTTP on 127.0.0.1 port NNNN ..."
    port = int(line.split(" port ")[1].split()[0])
    return proc, f"http://127.0.0.1:{port}"


def bench_hashes(mib=64, repeat=5):
    """GB/s of each hash (best of `repeat`), and the extra time each adds to gunzip, side by side."""
    import hashlib
    import zlib

    import xxhash
    from isal import igzip, isal_zlib

    from hubfn.fetch import digest

    data = os.urandom(mib << 20)
    pieces = [memoryview(data)[i:i + (1 << 20)] for i in range(0, len(data), 1 << 20)]

    def best(run):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        return min(times)

    def hasher(make):
        def run():
            h = make()
            for p in pieces:
                h.update(p)
        return run

    def crc(fn):
        def run():
            c = 0
            for p in pieces:
                c = fn(p, c)
        return run

    packed = igzip.compress(data, 1)

    def gunzip():
        d = isal_zlib.decompressobj(wbits=31)
        for i in range(0, len(packed), 1 << 20):
            d.decompress(packed[i:i + (1 << 20)])

    base = best(gunzip)
    print(f"content hash candidates, {mib} MiB in 1 MiB pieces (best of {repeat}); chosen: {digest.NAME}")
    print(f"  {'isal gunzip':12s} {len(data) / base / 1e9:6.2f} GB/s   (the decoder the hash runs beside)")
    cases = [("xxh3_128", hasher(xxhash.xxh3_128)), ("xxh3_64", hasher(xxhash.xxh3_64)),
             ("isal crc32", crc(isal_zlib.crc32)), ("zlib crc32", crc(zlib.crc32))]
    cases += [(n, hasher(lambda n=n: hashlib.new(n))) for n in ("sha1", "sha256", "blake2b", "md5")]
    for name, run in cases:
        secs = best(run)
        print(f"  {name:12s} {len(data) / secs / 1e9:6.2f} GB/s   adds {secs / base:5.0%} to gunzip")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--rss-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hashes", action="store_true", help="only compare content hashes")
    args = parser.parse_args()
    if args.hashes:
        return bench_hashes()
    work = tempfile.mkdtemp(prefix="bench-fetch-")
    site = os.path.join(work, "site")
    os.makedirs(site)
    try:
        for mb in sorted({args.mb, args.rss_mb}):
            module = make_module(os.path.join(work, f"big{mb}"), mb)
            pack(module, os.path.join(site, f"big{mb}.tar.gz"))
            if mb == args.mb:
                tar_czf(module, os.path.join(site, f"big{mb}-tar.tar.gz"))
            shutil.rmtree(module)
        server, base = serve(site)
        try:
            url = f"{base}/big{args.mb}.tar.gz"
            with urllib.request.urlopen(url) as r:  # warm the page cache on the server side
                size = sum(len(b) for b in iter(lambda: r.read(1 << 20), b""))
            print(f"module: {args.mb} MB of float32 weights, archive {size / 1e6:.1f} MB, loopback, "
                  f"median of {args.repeat} cold runs")
            tar_url = f"{base}/big{args.mb}-tar.tar.gz"
            tar_size = os.path.getsize(os.path.join(site, f"big{args.mb}-tar.tar.gz"))
            print(f"  archives: `hubfn pack` (gzip 1) {size / 1e6:.1f} MB, `tar -czf` (gzip 6) {tar_size / 1e6:.1f} MB")
            res = measure(("hubfn_resolve", "tfhub_resolve", "curl", "hubfn_load", "tfhub_load"), url, work,
                          args.repeat)
            tar_res = measure(("hubfn_resolve", "tfhub_resolve", "hubfn_load", "tfhub_load"), tar_url, work,
                              args.repeat)
            for title, got, n in (("hubfn pack archive", res, size), ("tar -czf archive", tar_res, tar_size)):
                print(f" {title}:")
                for k, (med, all_) in got.items():
                    print(f"  {k:14s} {med:7.2f} s  ({', '.join(f'{t:.2f}' for t in all_)}); "
                          f"{n / med / 1e6:7.1f} MB/s")
            med = {k: v[0] for k, v in res.items()}
            tmed = {k: v[0] for k, v in tar_res.items()}
            print(f"fetch ratio hubfn/tensorflow_hub.resolve, hubfn pack archive: "
                  f"{med['hubfn_resolve'] / med['tfhub_resolve']:.2f}   (target <= 0.45)")
            print(f"fetch ratio hubfn/tensorflow_hub.resolve, tar -czf archive:   "
                  f"{tmed['hubfn_resolve'] / tmed['tfhub_resolve']:.2f}   (target <= 0.45)")
            print(f"fetch ratio hubfn/curl|tar -xz, hubfn pack archive:           {med['hubfn_resolve'] / med['curl']:.2f}")
            print(f"load ratio  hubfn.hub_load/tensorflow_hub.load, hubfn pack:   "
                  f"{med['hubfn_load'] / med['tfhub_load']:.2f}   (target <= 0.6)")
            print(f"load ratio  hubfn.hub_load/tensorflow_hub.load, tar -czf:     "
                  f"{tmed['hubfn_load'] / tmed['tfhub_load']:.2f}   (target <= 0.6)")
            cache = tempfile.mkdtemp(prefix="cache-", dir=work)
            os.sync()
            r = run_child("hubfn_resolve", f"{base}/big{args.rss_mb}.tar.gz", cache)
            print(f"peak RSS fetching a {args.rss_mb} MB module: {(r['peak'] - r['base']) / 2**20:.1f} MiB above "
                  f"the {r['base'] / 2**20:.1f} MiB before the call (peak {r['peak'] / 2**20:.1f} MiB), "
                  f"{r['secs']:.2f} s")
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
