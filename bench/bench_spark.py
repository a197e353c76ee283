"""Applying a module at scale: Spark UDF vs one process vs a naive UDF, and batched apply's peak memory.

Run: .venv/bin/python bench/bench_spark.py [--rows 100000] [--rss-rows 1000000] [--arrow-batches 2000,10000]

The module is the text-embedding example (examples/hashed_text.py) shaped like TF Hub's NNLM text
modules: a vocabulary asset of 1,000,000 tokens read into a lookup table at load, a 128-wide token
table (~0.5 GB), then 7 ReLU layers of 768 -> 64 floats, so that a row costs >= 0.1 ms on one core and
a load takes about a second, as such modules do. The bench prints both, measured on one core. Three
ways over the same rows, interleaved for --rounds rounds (best of each kept), after a warm-up run
(workers started, TensorFlow imported, module loaded):

- one process: module_apply(m, rows, batch_size=B) in this process, TensorFlow on every core;
- hubfn UDF:   hubfn.spark.module_udf(batch_size=B) on a local[2] SparkSession (two Python workers,
               one TensorFlow thread each);
- naive UDF:   a pandas UDF that loads the module (tf.saved_model.load) in every Arrow batch and
               applies it to the whole batch, the pattern hubfn's per-worker load replaces.

Both UDFs run once per Arrow batch of R rows (spark.sql.execution.arrow.maxRecordsPerBatch; Spark's
default is 10,000); the bench runs them for each R in --arrow-batches. With R = B both UDFs make the
same module calls and differ only in loading; with a larger R the naive UDF loads less often. Its loss
is about (L + R*c) / (R*c) for a load time L and c per row on one core: the bench prints that estimate
beside the measured ratio. The DataFrame (4 partitions) is cached and written to Spark's "noop" sink,
so the times are the UDFs' and not the data's. On a 2-core machine one TensorFlow process already uses
both cores: the hubfn UDF's ratio to one process is its overhead, not a speed-up.

Memory: two subprocesses report their peak RSS (VmHWM in /proc/self/status: getrusage's ru_maxrss
would carry over the bench process's own peak, as Linux keeps it across fork and exec): one applies
the module to a single batch of B rows, the other to --rss-rows rows with batch_size=B. Both hold
TensorFlow and the module; the second also holds its whole input and output, which are printed beside
it. This part uses the same network with hashed tokens and no vocabulary (MEMORY_MODULE), so that the
module is small and the peak shows what the rows cost.
"""

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))

import hashed_text  # noqa: E402

from hubfn.util.fs import tree_size  # noqa: E402

MODULE = dict(vocab=1_000_000, embedding=128, buckets=8192, hidden=768, layers=7, dim=64)
# Memory is measured on the same network without the vocabulary (tokens hashed, a 4 MiB table): with
# the 0.5 GB module loaded, the data's share of the peak would hardly show.
MEMORY_MODULE = dict(MODULE, vocab=0)


def rss_child(path, rows, batch):
    """In a subprocess: apply the module to `rows` rows with batch_size=batch; print numbers."""
    import numpy as np

    import hubfn

    m = hubfn.hub_load(path)
    text = hashed_text.sentences(rows, seed=1)
    m(text[:min(rows, 256)])  # trace and warm
    start = time.perf_counter()
    out = hubfn.module_apply(m, text, batch_size=batch)
    secs = time.perf_counter() - start
    text_bytes = sum(sys.getsizeof(s) for s in text) + sys.getsizeof(text)
    peak = _peak_rss()
    print(rows, peak, text_bytes, np.asarray(out).nbytes, secs)


def probe_child(path, rows, batch):
    """In a subprocess on one TensorFlow thread: seconds per row (batched apply), and L: seconds to
    load the module and make a first call on a few rows, what the naive UDF pays in every batch."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import hubfn

    text = hashed_text.sentences(rows, seed=1)
    loads = []
    for _ in range(2):
        start = time.perf_counter()
        tf.saved_model.load(path)(tf.constant(text[:10]))
        loads.append(time.perf_counter() - start)
    m = hubfn.hub_load(path)
    m(text[:batch])
    start = time.perf_counter()
    hubfn.module_apply(m, text, batch_size=batch)
    print((time.perf_counter() - start) / rows, min(loads))


def _peak_rss():
    """This process's peak resident set, in bytes, since it started (exec'd) this program."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # elsewhere; may include the parent's


def run_child(path, rows, batch):
    line = _child(["--child", path, str(rows), str(batch)])
    n, peak, text_bytes, out_bytes, secs = line.split()
    return int(peak), int(text_bytes), int(out_bytes), float(secs)


def _child(args):
    cmd = [sys.executable, os.path.abspath(__file__)] + args
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]


def spark_session(arrow_batch):
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (SparkSession.builder.master("local[2]").appName("hubfn-bench")
             .config("spark.ui.enabled", "false")
             .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(arrow_batch))
             .config("spark.executorEnv.TF_CPP_MIN_LOG_LEVEL", "2")
             .config("spark.driver.memory", "2g")
             .getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def naive_udf(path):
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    @pandas_udf("array<float>")
    def embed(s: pd.Series) -> pd.Series:
        import tensorflow as tf

        model = tf.saved_model.load(path)  # in every batch: what a per-worker load avoids
        return pd.Series(list(model(tf.constant(s.to_numpy(dtype=object))).numpy()))

    return embed


def timed_noop(df):
    start = time.perf_counter()
    df.write.format("noop").mode("overwrite").save()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=2000, help="B: rows per module call")
    parser.add_argument("--rss-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--arrow-batches", default="2000,10000",
                        help="R: rows per Arrow batch in Spark, comma-separated (Spark's default: 10000)")
    parser.add_argument("--child", nargs=3)
    parser.add_argument("--probe", nargs=3)
    parser.add_argument("--parts", default="spark,memory", help="what to run: spark, memory or both")
    args = parser.parse_args()
    if args.child:
        path, rows, batch = args.child
        return rss_child(path, int(rows), int(batch))
    if args.probe:
        path, rows, batch = args.probe
        return probe_child(path, int(rows), int(batch))

    b = args.batch
    if "spark" in args.parts:
        spark_part(args, b)
    if "memory" in args.parts:
        memory_part(args, b)


def spark_part(args, b):
    arrow_batches = [int(r) for r in args.arrow_batches.split(",")]
    start = time.perf_counter()
    path = hashed_text.export_hashed_text_module(os.path.join(tempfile.mkdtemp(), "text"), **MODULE)
    print(f"module: {MODULE}, {tree_size(path) / 2 ** 20:.0f} MiB, exported in {time.perf_counter() - start:.0f} s")
    per_row, load = (float(v) for v in _child(["--probe", path, "20000", str(b)]).split())
    print(f"on one core: {per_row * 1e3:.3f} ms per row (c); load and first call {load:.2f} s (L)\n")

    # --- the three ways, interleaved: the best of --rounds rounds (the machine may be shared) -------
    import hubfn
    from hubfn.spark import module_udf

    text = hashed_text.sentences(args.rows, seed=2)
    m = hubfn.hub_load(path)
    m(text[:b])
    spark = spark_session(max(arrow_batches))
    df = spark.createDataFrame([(s,) for s in text], "sentence string").repartition(4).cache()
    df.count()
    udf, naive = module_udf(path, batch_size=b), naive_udf(path)
    warm = df.limit(4 * b).repartition(2)
    timed_noop(warm.select(udf("sentence")))  # workers start, import TensorFlow, load the module
    timed_noop(warm.select(naive("sentence")))
    one_proc = 0.0
    hubfn_udf, naive_rate = dict.fromkeys(arrow_batches, 0.0), dict.fromkeys(arrow_batches, 0.0)
    for _ in range(args.rounds):
        start = time.perf_counter()
        hubfn.module_apply(m, text, batch_size=b)
        one_proc = max(one_proc, args.rows / (time.perf_counter() - start))
        for r in arrow_batches:
            spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(r))
            hubfn_udf[r] = max(hubfn_udf[r], args.rows / timed_noop(df.select(udf("sentence"))))
            naive_rate[r] = max(naive_rate[r], args.rows / timed_noop(df.select(naive("sentence"))))
    loads = udf.hubfn_stats.loads
    spark.stop()

    print(f"rows/s over {args.rows:,} rows, B = {b} rows per module call (steady state, best of {args.rounds}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}):")
    print(f"  one process, module_apply(batch_size={b})  {one_proc:8,.0f}")
    for r in arrow_batches:
        estimate = (load + r * per_row) / (r * per_row)
        print(f"  R = {r:,} rows per Arrow batch{'  (Spark default)' if r == 10_000 else ''}:")
        print(f"    hubfn module_udf, local[2]              {hubfn_udf[r]:8,.0f}   "
              f"{hubfn_udf[r] / one_proc:.2f}x one process (target >= 0.8x)")
        print(f"    naive pandas UDF, load per batch        {naive_rate[r]:8,.0f}   hubfn UDF is "
              f"{hubfn_udf[r] / naive_rate[r]:.1f}x faster (target >= 5x; (L + R*c) / (R*c) = {estimate:.1f})")
    print(f"  module loads per hubfn worker, all runs: {sorted(loads.values())}\n")


def memory_part(args, b):
    path = hashed_text.export_hashed_text_module(os.path.join(tempfile.mkdtemp(), "text"), **MEMORY_MODULE)
    one_peak, _, _, _ = run_child(path, b, b)
    peak, text_bytes, out_bytes, _ = run_child(path, args.rss_rows, b)
    mib = 2 ** 20
    print(f"peak RSS, batch_size={b}, module {MEMORY_MODULE} ({tree_size(path) / mib:.0f} MiB):")
    print(f"  one batch of {b} rows                  {one_peak / mib:8.0f} MiB")
    print(f"  {args.rss_rows:,} rows                      {peak / mib:8.0f} MiB   {peak / one_peak:.2f}x one batch"
          f" (target <= 2x)")
    print(f"    of which the input list holds {text_bytes / mib:.0f} MiB and the output array "
          f"{out_bytes / mib:.0f} MiB")


if __name__ == "__main__":
    main()
