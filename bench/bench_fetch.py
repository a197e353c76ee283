"""Cold download of a large module over loopback: hubfn against tensorflow_hub, and the decoder's floor.

Run: .venv/bin/python bench/bench_fetch.py [--mb 200] [--rss-mb 500] [--repeat 5]   (about 5 minutes)
     .venv/bin/python bench/bench_fetch.py --profile     where one cold hub_resolve spends its time, per thread
     .venv/bin/python bench/bench_fetch.py --decoders    gzip decoders side by side, 1 and 2 cores (~10 min)
     .venv/bin/python bench/bench_fetch.py --hashes      only the content-hash comparison (a few seconds)
     .venv/bin/python bench/bench_fetch.py --storage [--storage-mb 300] [--link-rate 20] [--rtt 60] [--sweep]
                                                         a storage host across a long link: hubfn (ranged
                                                         and one connection), tensorflow_hub, kagglehub

A real SavedModel with --mb MB of random float32 weights (they compress about as badly as trained
weights) is exported with TensorFlow and packed twice: by plain `tar -czf` (gzip level 6, how nearly every
published module was made) and by `hubfn pack` (ISA-L level 1, in indexed blocks). `python -m
http.server`, in its own process, serves both. Every measurement runs in a fresh process with an empty cache, and the time is
taken inside it around the call only (interpreter and TensorFlow start-up excluded):
  fetch: hubfn.hub_resolve(url)  vs tensorflow_hub.resolve(url)
  load:  hubfn.hub_load(url)     vs tensorflow_hub.load(url)      (download + TF load)
  floor: isal decoding the same archive as --decoders times it: read from the file (in the page cache)
         in 1 MiB pieces into one buffer, pinned to one core, nothing else: no fetch that decodes one
         gzip stream on one core can be faster (a hubfn pack archive's blocks are inflated on several
         cores, hubfn.fetch.store.blocks, so its fetch may beat it). The targets are against this floor
  the same, from memory: the archive read into memory before the clock starts (stricter: 2-10 % less here)
  the same, the bytes received: the floor with the archive arriving from the same server as it is
         decoded (http.client reading 1 MiB pieces in a thread, isal in another, nothing written): what
         receiving alone costs the decoder on this machine, beside hubfn's partial file, tar writes,
         hashes, lock and install
Rounds interleave every kind and archive, so a busy moment (other jobs on the machine) hits all of
them; medians are printed with every round, and the load average before and after. Ratios are
hubfn / tensorflow_hub (lower is better; targets: fetch <= 0.45, load <= 0.6), and hubfn's fetch / the floor
(targets: <= 1.15 for tar -czf, below 1 for hubfn pack), and / the memory floor. Then the peak RSS of a
process fetching a --rss-mb MB module (each archive) with hubfn.hub_resolve, above its RSS before the call
(target <= 150 MB).

--profile: one cold hub_resolve of each archive with the stage functions wrapped from outside (socket
reads, partial-file writes, queue waits, isal, file writes, hashes), summed per thread.

--decoders: the gzip decoders hubfn could stream through, each in a fresh process pinned to one core
or to two, over tar -czf and hubfn pack archives of --sizes MB, reading the archive in 1 MiB pieces:
isal (hubfn's), zlib-ng and zlib, and rapidgzip (parallel) twice: reading the finished file by path,
which it needs to seek in (no download gives it that: an upper bound), and reading a pipe as a download
arrives, with its peak RSS. A decoder that is not installed is skipped with the command to install it.

--storage: the link users wait on. A storage host across a long link (tests/storagehost.py, its own
process): each connection gets --link-rate MB/s after a first-byte delay of --rtt ms (one more for a new
connection's handshake), with Range/If-Range/ETag/Accept-Ranges/x-goog-hash and signed URLs behind a
redirect, serving a `tar -czf` archive of a --storage-mb MB module. In one run, rounds interleaved, each
case in a fresh process with an empty cache (medians of --repeat, at least 3; peak RSS above the start):
  hubfn ranged      hubfn.fetch.cache.unpack_url: the download streamed through
                    hubfn.fetch.store.extract into a directory (what hub_resolve does, minus lock and install)
  hubfn.hub_resolve hubfn's whole fetch path (parallel where the host allows it)
  tensorflow_hub    tensorflow_hub.resolve
  kagglehub         kagglehub.model_download through a local server speaking Kaggle's API (kagglehub 1.x
                    reads KAGGLE_API_ENVIRONMENT, so its LOCALHOST endpoint is pointed at the server)
--sweep adds hubfn ranged for each connections x part size of --connections and --parts (how the defaults
of HUBFN_DOWNLOAD_CONNECTIONS and HUBFN_DOWNLOAD_PART_MB were chosen). kagglehub is pip-installed for the
bench only (`.venv/bin/pip install kagglehub`); without it that row is skipped.

--hashes: throughput of candidate content hashes for the manifest (hubfn.fetch.store.digest) over 64 MiB of
random bytes in 1 MiB pieces, beside isal's gunzip of the same bytes, which the hash runs next to.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MiB = 1 << 20

CHILD = r"""
import json, os, sys, time
kind, url = sys.argv[1], sys.argv[2]
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
if kind.startswith("tfhub"):
    import tensorflow_hub as lib
elif kind == "kagglehub":
    from kagglesdk import kaggle_env
    kaggle_env._env_to_endpoint[kaggle_env.KaggleEnv.LOCAL] = os.environ["BENCH_KAGGLE_ENDPOINT"]
    import kagglehub as lib
elif kind == "hubfn_ranged":
    from hubfn.fetch import cache as fetch_cache
    from hubfn.settings import Settings
    settings = Settings.from_env()
elif kind == "floor":
    from isal import isal_zlib
    with open(url, "rb") as f:
        data = memoryview(f.read())
elif kind == "net_floor":
    import http.client, queue, threading, urllib.parse
    from isal import isal_zlib
else:
    import hubfn as lib
    # The download stack and the resolvers, imported up front as tensorflow_hub's are on import.
    import hubfn.fetch.cache, hubfn.fetch.sources.archive_url, hubfn.fetch.sources.tfhub, hubfn.resolve
    import hubfn.fetch.sources.kaggle.handle  # (asked whether an https URL is a Kaggle page)
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
elif kind == "kagglehub":
    lib.model_download(url)
elif kind == "hubfn_ranged":
    fetch_cache.unpack_url(url, os.path.join(settings.cache_dir, "archive.partial"),
                           os.path.join(settings.cache_dir, "module"), settings)
elif kind == "floor":  # as hubfn.fetch.store.archive decodes: 1 MiB in, at most 1 MiB out per call
    d = isal_zlib.decompressobj(wbits=31)
    for i in range(0, len(data), 1 << 20):
        piece = data[i:i + (1 << 20)]
        while piece:
            d.decompress(piece, 1 << 20)
            piece = d.unconsumed_tail
    assert d.eof
elif kind == "net_floor":  # the archive received over loopback in one thread, decoded in another; nothing written
    where = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(where.hostname, where.port)
    conn.request("GET", where.path)
    resp = conn.getresponse()
    received = queue.Queue(8)
    def receive():
        while True:
            piece = resp.read1(1 << 20)
            received.put(piece)
            if not piece:
                return
    threading.Thread(target=receive, daemon=True).start()
    d = isal_zlib.decompressobj(wbits=31)
    while piece := received.get():
        while piece:
            d.decompress(piece, 1 << 20)
            piece = d.unconsumed_tail
    assert d.eof
secs = time.perf_counter() - t
print(json.dumps({"secs": secs, "base": base, "peak": rss("VmHWM:")}))
"""

# --profile: the child wraps the stages of a fetch from outside and sums wall time per (thread, stage).
PROFILE_CHILD = r"""
import collections, json, os, queue, sys, threading, time, types
url = sys.argv[1]
import urllib3.response
import hubfn, hubfn.fetch.cache
from hubfn.fetch.store import archive, digest, install, prefetch
from hubfn.fetch.transport import download
spent, calls, threads = collections.defaultdict(float), collections.Counter(), {}

def timed(stage, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            key = (threading.current_thread().name, stage)
            spent[key] += time.perf_counter() - t
            calls[key] += 1
    return wrapper

def clocked(gen_fn):  # wall and CPU time of the thread that runs the generator
    def wrapper(*a, **k):
        t, c = time.perf_counter(), time.thread_time()
        yield from gen_fn(*a, **k)
        threads[threading.current_thread().name] = (time.perf_counter() - t, time.thread_time() - c)
    return wrapper

urllib3.response.HTTPResponse.read1 = timed("socket reads", urllib3.response.HTTPResponse.read1)
download.Source._append = timed("partial-file writes", download.Source._append)
download.Source.chunks = clocked(download.Source.chunks)
archive.inflate = clocked(archive.inflate)

class Queue(queue.Queue):
    put = timed("queue put: waiting for the next stage", queue.Queue.put)
    get = timed("queue get: waiting for the stage before", queue.Queue.get)
prefetch.queue = types.SimpleNamespace(Queue=Queue, Full=queue.Full, Empty=queue.Empty)

from isal import isal_zlib
class Decoder:
    def __init__(self, *a, **k):
        self.d = isal_zlib.decompressobj(*a, **k)
        self.decompress = timed("gunzip (isal)", self.d.decompress)
    def __getattr__(self, name):
        return getattr(self.d, name)
archive.isal_zlib = types.SimpleNamespace(decompressobj=Decoder, error=isal_zlib.error)
archive.os = types.SimpleNamespace(write=timed("file writes (os.write)", os.write))
class Hasher:
    def __init__(self):
        self.h = digest.xxhash.xxh3_128()
        self.update = timed("content hash (xxh3)", self.h.update)
    def hexdigest(self):
        return self.h.hexdigest()
digest.new = Hasher
install.install = timed("install (rename, manifest)", install.install)

t, c = time.perf_counter(), time.thread_time()
hubfn.hub_resolve(url)
threads["MainThread"] = (time.perf_counter() - t, time.thread_time() - c)
print(json.dumps({"threads": threads, "stages": [[th, st, v, calls[(th, st)]] for (th, st), v in spent.items()]}))
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


def tar_czf(src, out):
    """The archive as nearly every published module was made: plain `tar -czf` (gzip level 6)."""
    subprocess.run(["tar", "-czf", out, "-C", src, "."], check=True)
    return out


def hubfn_pack(src, out):
    sys.path.insert(0, ROOT)
    from hubfn.publish.pack import pack_module

    return pack_module(src, out)


ARCHIVES = (("tar -czf", "tar", tar_czf), ("hubfn pack", "pack", hubfn_pack))


def child_env(cache):
    env = dict(os.environ, TFHUB_CACHE_DIR=cache, KAGGLEHUB_CACHE=cache, TFHUB_MODEL_LOAD_FORMAT="COMPRESSED",
               NO_PROXY="127.0.0.1", PYTHONPATH=ROOT)
    env.pop("TFHUB_DOWNLOAD_PROGRESS", None)
    return env


def run_child(kind, url, cache, script=CHILD, env=None, cpus=None):
    """`script` with arguments `kind url` in a fresh process (pinned to `cpus` if given): its JSON line."""
    pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
    out = subprocess.run([sys.executable, "-c", script, kind, url], env={**child_env(cache), **(env or {})},
                         capture_output=True, text=True, check=False, timeout=900, preexec_fn=pin)
    if out.returncode:
        raise SystemExit(f"{kind} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_run(kind, url, work, script=CHILD, env=None, cpus=None):
    """run_child with an empty cache of its own under `work`, removed afterwards; os.sync() first, so no
    dirty pages of the run before are written back during this one."""
    cache = tempfile.mkdtemp(prefix="cache-", dir=work)
    try:
        os.sync()
        return run_child(kind, url, cache, script, env, cpus)
    finally:
        shutil.rmtree(cache, ignore_errors=True)


def measure(cases, work, repeat):
    """{(kind, archive): [seconds of each round]}; each round runs every case once, in a fresh process."""
    times = {case: [] for case in cases}
    for _ in range(repeat):
        for (kind, name), target in cases.items():
            if kind == "file_floor":  # the targets' floor: --decoders' own isal run, pinned to one core
                got = cold_run("isal", target, work, script=DECODER_CHILD, cpus={0})
            else:
                got = cold_run(kind, target, work)
            times[(kind, name)].append(got["secs"])
    return times


def load_average():
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" ({os.cpu_count()} cores)"


def build_site(work, sizes):
    """Export one module per size and write both archives of each into work/site; returns the site."""
    site = os.path.join(work, "site")
    os.makedirs(site, exist_ok=True)
    for mb in sorted(set(sizes)):
        module = make_module(os.path.join(work, f"big{mb}"), mb)
        for _, tag, write in ARCHIVES:
            write(module, os.path.join(site, f"big{mb}-{tag}.tar.gz"))
        shutil.rmtree(module)
    return site


def bench_fetch(args):
    work = tempfile.mkdtemp(prefix="bench-fetch-")
    try:
        site = build_site(work, (args.mb, args.rss_mb))
        server, base = serve(site)
        try:
            print(f"before: {load_average()}")
            cases = {}
            kinds = ("hubfn_resolve", "tfhub_resolve", "file_floor", "floor", "net_floor", "hubfn_load", "tfhub_load")
            for kind in kinds:
                for title, tag, _ in ARCHIVES:
                    name = f"big{args.mb}-{tag}.tar.gz"
                    local = kind in ("floor", "file_floor")
                    cases[(kind, title)] = os.path.join(site, name) if local else f"{base}/{name}"
            times = measure(cases, work, args.repeat)
            med = {case: statistics.median(v) for case, v in times.items()}
            sizes = {title: os.path.getsize(os.path.join(site, f"big{args.mb}-{tag}.tar.gz")) / 1e6
                     for title, tag, _ in ARCHIVES}
            print(f"module: {args.mb} MB of float32 weights over loopback; medians of {args.repeat} cold runs, "
                  "rounds interleaved")
            print(f"{'':34s}" + "".join(f"{f'{t} ({sizes[t]:.0f} MB)':>24s}" for t, _, _ in ARCHIVES))
            rows = (("hubfn.hub_resolve", "hubfn_resolve"), ("tensorflow_hub.resolve", "tfhub_resolve"),
                    ("floor: isal from the file, 1 core", "file_floor"), ("  the same, from memory", "floor"),
                    ("the same, the bytes received", "net_floor"), ("hubfn.hub_load", "hubfn_load"),
                    ("tensorflow_hub.load", "tfhub_load"))
            for label, kind in rows:
                print(f"  {label:32s}" + "".join(f"{med[(kind, t)]:22.2f} s" for t, _, _ in ARCHIVES))
            paired = {(t, floor): statistics.median(h / f for h, f in zip(times[("hubfn_resolve", t)],
                                                                          times[(floor, t)]))
                      for t, _, _ in ARCHIVES for floor in ("file_floor", "floor")}  # each round's own ratio
            for label, a, b, goal in (
                    ("fetch ratio hubfn/tensorflow_hub", "hubfn_resolve", "tfhub_resolve", "(target <= 0.45)"),
                    ("  floor/tensorflow_hub.resolve", "file_floor", "tfhub_resolve",
                     "(the best a one-core decode can do)"),
                    ("hubfn.hub_resolve / floor", "hubfn_resolve", "file_floor",
                     "(targets: tar -czf <= 1.15, hubfn pack < 1)"),
                    ("hubfn.hub_resolve / memory floor", "hubfn_resolve", "floor",
                     "(stricter: no file read in the floor)"),
                    ("  received / memory floor", "net_floor", "floor", "(what receiving alone costs)"),
                    ("load ratio hubfn/tensorflow_hub", "hubfn_load", "tfhub_load", "(target <= 0.6)")):
                print(f"{label:34s}" + "".join(f"{med[(a, t)] / med[(b, t)]:24.2f}" for t, _, _ in ARCHIVES)
                      + "   " + goal)
                if (a, b) in (("hubfn_resolve", "file_floor"), ("hubfn_resolve", "floor")):
                    print(f"{'  the same, median of the rounds':34s}"
                          + "".join(f"{paired[(t, b)]:24.2f}" for t, _, _ in ARCHIVES))
            print("every round (s):")
            for (kind, title), v in times.items():
                print(f"  {kind:14s} {title:11s} " + " ".join(f"{x:.2f}" for x in v))
            for title, tag, _ in ARCHIVES:  # a hubfn pack archive's blocks are inflated in parallel
                r = cold_run("hubfn_resolve", f"{base}/big{args.rss_mb}-{tag}.tar.gz", work)
                print(f"peak RSS fetching a {args.rss_mb} MB module ({title}): {(r['peak'] - r['base']) / MiB:.1f} "
                      f"MiB above the {r['base'] / MiB:.1f} MiB before the call (peak {r['peak'] / MiB:.1f} MiB), "
                      f"{r['secs']:.2f} s (target <= 150 MB)")
            print(f"after: {load_average()}")
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def storage_host(site, rate, delay):
    """tests/storagehost.py serving `site` in its own process: (process, base URL)."""
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "storagehost.py"), site, "--rate", str(rate),
                             "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def bench_storage(args):
    """hubfn (ranged, and one connection) against tensorflow_hub and kagglehub on a storage host far away."""
    import importlib.util

    args.repeat = max(3, args.repeat)
    work = tempfile.mkdtemp(prefix="bench-storage-")
    try:
        site = os.path.join(work, "site")
        os.makedirs(site)
        module = make_module(os.path.join(work, "module"), args.storage_mb)
        archive = tar_czf(module, os.path.join(site, "big.tar.gz"))
        shutil.rmtree(module)
        size = os.path.getsize(archive)
        server, base = storage_host(site, args.link_rate * 1e6, args.rtt / 1000)
        try:
            # The host hashes an object on its first request (~0.5 s for 300 MB; a real storage host keeps
            # the hash with the object): ask once before the clock, or the first round's first case pays.
            urllib.request.urlopen(urllib.request.Request(f"{base}/files/big.tar.gz", method="HEAD")).close()
            url = f"{base}/get/big.tar.gz"  # a redirect to a signed URL, as tfhub.dev and Kaggle lead to
            cases = {"hubfn ranged": ("hubfn_ranged", url, {}), "hubfn.hub_resolve": ("hubfn_resolve", url, {}),
                     "tensorflow_hub.resolve": ("tfhub_resolve", url, {})}
            if importlib.util.find_spec("kagglehub") is None:
                print("(skipping kagglehub: .venv/bin/pip install kagglehub)")
            else:
                cases["kagglehub.model_download"] = ("kagglehub", "bench/big/tensorFlow2/default/1", {
                    "KAGGLE_API_ENVIRONMENT": "LOCALHOST", "BENCH_KAGGLE_ENDPOINT": base,
                    "KAGGLE_USERNAME": "bench", "KAGGLE_KEY": "bench"})
            if args.sweep:
                for c in args.connections:
                    for p in args.parts:
                        cases[f"ranged {c} x {p} MiB"] = ("hubfn_ranged", url, {
                            "HUBFN_DOWNLOAD_CONNECTIONS": str(c), "HUBFN_DOWNLOAD_PART_MB": str(p)})
            print(f"before: {load_average()}")
            runs = {name: [] for name in cases}
            for _ in range(args.repeat):
                for name, (kind, target, env) in cases.items():
                    runs[name].append(cold_run(kind, target, work, env=env))
            one = size / (args.link_rate * 1e6)
            print(f"storage host: {args.link_rate:g} MB/s per connection, {args.rtt:g} ms before each first byte; "
                  f"a tar -czf archive of {size / 1e6:.0f} MB ({one:.1f} s over one connection); medians of "
                  f"{args.repeat} cold runs, rounds interleaved")
            med = {name: statistics.median(r["secs"] for r in v) for name, v in runs.items()}
            best = med["hubfn ranged"]
            for name, v in runs.items():
                rss = max(r["peak"] - r["base"] for r in v) / MiB
                rounds = " ".join(f"{r['secs']:.2f}" for r in v)
                print(f"  {name:26s} {med[name]:7.2f} s  {med[name] / best:5.1f}x hubfn ranged  {size / med[name] / 1e6:6.0f} "
                      f"MB/s  peak RSS +{rss:5.0f} MiB   ({rounds})")
            print(f"after: {load_average()}")
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def bench_profile(args):
    work = tempfile.mkdtemp(prefix="bench-fetch-")
    try:
        site = build_site(work, (args.mb,))
        server, base = serve(site)
        try:
            print(f"before: {load_average()}")
            for title, tag, _ in ARCHIVES:
                got = cold_run(f"{base}/big{args.mb}-{tag}.tar.gz", "", work, script=PROFILE_CHILD)
                total = got["threads"]["MainThread"][0]
                print(f"cold hub_resolve, {title} archive of a {args.mb} MB module: {total:.3f} s")
                for thread, (wall, cpu) in sorted(got["threads"].items()):
                    print(f"  thread {thread}: wall {wall:.3f} s, CPU {cpu:.3f} s")
                    stages = sorted((s for s in got["stages"] if s[0] == thread), key=lambda s: -s[2])
                    for _, stage, secs, n in stages:
                        print(f"    {stage:40s} {secs:6.3f} s {secs / total:5.0%}  ({n} calls)")
                    rest = wall - sum(s[2] for s in stages)
                    print(f"    {'the rest (Python between the calls)':40s} {rest:6.3f} s {rest / total:5.0%}")
            print(f"after: {load_average()}")
        finally:
            server.terminate()
            server.wait()
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --decoders: one decoder over one archive in a fresh process, pinned to the cores the parent chose.
DECODER_CHILD = r"""
import json, subprocess, sys, time
decoder, path = sys.argv[1], sys.argv[2]
def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
def stream(make):  # 1 MiB pieces in, at most 1 MiB out per call, as hubfn.fetch.store.archive does
    # Read into one buffer, as rapidgzip below does: a new 1 MiB bytes per read made glibc give the heap
    # back and fault it in again each time (~69,000 page faults and ~0.25 s on a 146 MB archive here).
    d, n = make(), 0
    buf = bytearray(1 << 20)
    with open(path, "rb", buffering=0) as f:
        while (got := f.readinto(buf)):
            piece = memoryview(buf)[:got]
            while piece:
                n += len(d.decompress(piece, 1 << 20))
                piece = d.unconsumed_tail
    assert d.eof, f"{path}: the gzip stream ended early"
    return n
base = rss("VmRSS:")
t = time.perf_counter()
if decoder == "isal":
    from isal import isal_zlib
    n = stream(lambda: isal_zlib.decompressobj(wbits=31))
elif decoder == "zlib-ng":
    from zlib_ng import zlib_ng
    n = stream(lambda: zlib_ng.decompressobj(wbits=31))
elif decoder == "zlib":
    import zlib
    n = stream(lambda: zlib.decompressobj(wbits=31))
else:  # rapidgzip-file-pN / rapidgzip-pipe-pN
    import rapidgzip
    _, how, p = decoder.split("-")
    cat = subprocess.Popen(["cat", path], stdout=subprocess.PIPE) if how == "pipe" else None
    n = 0
    with rapidgzip.RapidgzipFile(cat.stdout if cat else path, parallelization=int(p[1:])) as f:
        buf = bytearray(1 << 20)
        while (k := f.readinto(buf)):
            n += k
secs = time.perf_counter() - t
print(json.dumps({"secs": secs, "bytes": n, "rss": rss("VmHWM:") - base}))
"""
DECODERS = (("isal", "isal"), ("zlib-ng", "zlib_ng"), ("zlib", "zlib"), ("rapidgzip-file-p1", "rapidgzip"),
            ("rapidgzip-file-p2", "rapidgzip"), ("rapidgzip-pipe-p2", "rapidgzip"))


def bench_decoders(args):
    import importlib.util

    decoders = []
    for name, module in DECODERS:
        if importlib.util.find_spec(module) is None:
            print(f"(skipping {name}: pip install {module.replace('_', '-')})")
        else:
            decoders.append(name)
    work = tempfile.mkdtemp(prefix="bench-decoders-")
    try:
        site = build_site(work, args.sizes)
        print(f"before: {load_average()}")
        cores = (("1 core", {0}), ("2 cores", set(range(min(2, os.cpu_count())))))
        times = {}
        for _ in range(args.repeat):
            for mb in args.sizes:
                for title, tag, _ in ARCHIVES:
                    path = os.path.join(site, f"big{mb}-{tag}.tar.gz")
                    subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # in the page cache
                    for label, cpus in cores:
                        for decoder in decoders:
                            out = subprocess.run([sys.executable, "-c", DECODER_CHILD, decoder, path],
                                                 capture_output=True, text=True, check=False,
                                                 preexec_fn=lambda c=cpus: os.sched_setaffinity(0, c))
                            if out.returncode:
                                raise SystemExit(f"{decoder} on {path} failed:\n{out.stderr[-2000:]}")
                            got = json.loads(out.stdout.strip().splitlines()[-1])
                            times.setdefault((mb, title, label, decoder), []).append(got)
        print(f"gzip decoders, medians of {args.repeat} rounds (seconds, then isal's time / this decoder's: "
              "above 1 is faster than isal); peak RSS above the start")
        for (mb, title, label, decoder), runs in times.items():
            secs = statistics.median(r["secs"] for r in runs)
            isal = statistics.median(r["secs"] for r in times[(mb, title, label, "isal")])
            rss = max(r["rss"] for r in runs) / MiB
            rounds = " ".join(f"{r['secs']:.2f}" for r in runs)
            print(f"  {mb:5d} MB {title:11s} {label:8s} {decoder:18s} {secs:7.3f} s  {isal / secs:5.2f}x  "
                  f"{rss:6.0f} MiB  ({rounds})")
        print(f"after: {load_average()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


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

    from hubfn.fetch.store import digest

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
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], default=[20, 200, 500, 1000],
                        help="archive sizes in MB for --decoders (default 20,200,500,1000)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--profile", action="store_true", help="where one cold fetch spends its time")
    mode.add_argument("--decoders", action="store_true", help="compare gzip decoders, 1 and 2 cores")
    mode.add_argument("--hashes", action="store_true", help="only compare content hashes")
    mode.add_argument("--storage", action="store_true", help="a storage host across a long link, vs peers")
    parser.add_argument("--storage-mb", type=int, default=300, help="module size for --storage (MB)")
    parser.add_argument("--link-rate", type=float, default=20, help="MB/s per connection for --storage")
    parser.add_argument("--rtt", type=float, default=60, help="ms before each first byte for --storage")
    parser.add_argument("--sweep", action="store_true", help="--storage: also each connections x part size")
    ints = lambda s: [int(x) for x in s.split(",")]  # noqa: E731
    parser.add_argument("--connections", type=ints, default=[4, 8, 16], help="--sweep: connection counts")
    parser.add_argument("--parts", type=ints, default=[4, 16, 64], help="--sweep: part sizes in MiB")
    args = parser.parse_args()
    if args.hashes:
        return bench_hashes()
    if args.storage:
        if "--repeat" not in sys.argv:
            args.repeat = 3
        return bench_storage(args)
    if args.profile:
        return bench_profile(args)
    if args.decoders:
        if "--repeat" not in sys.argv:
            args.repeat = 3
        return bench_decoders(args)
    return bench_fetch(args)


if __name__ == "__main__":
    main()
