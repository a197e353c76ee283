"""Applying a module at scale: Spark UDF vs one process vs a naive UDF, and batched apply's peak memory.

Run: .venv/bin/python bench/bench_spark.py [--rows 100000] [--rss-rows 1000000]

The module is the hashed-text example (examples/hashed_text.py) sized to cost >= 0.1 ms per row on one
core (hashed tokens -> 5 ReLU layers of 640 -> 64 floats); the bench prints the measured cost. Three ways
over the same rows, interleaved for --rounds rounds (best of each kept), after a warm-up run (workers
started, TensorFlow imported, module loaded):

- one process: module_apply(m, rows, batch_size=B) in this process, TensorFlow on every core;
- hubfn UDF:   hubfn.spark.module_udf on a local[2] SparkSession (two Python workers, 1 TF thread each);
- naive UDF:   a pandas UDF that loads the module (tf.saved_model.load) in every Arrow batch, the
               pattern hubfn's per-worker load replaces.

Spark's Arrow batches hold --arrow-batch rows (spark.sql.execution.arrow.maxRecordsPerBatch, Spark's
default 10,000), module calls B rows; the DataFrame (4 partitions) is cached and written to Spark's "noop"
sink, so the times are the UDFs' and not the data's. The naive UDF's loss is about 1 + L / (R * c) for a
load time L, R rows per Arrow batch and c per row: the bench prints L so the ratio can be read for other R. On a 2-core
machine one TensorFlow process already uses both cores: the UDF's ratio to one process is its overhead.

Memory: two subprocesses report their peak RSS (resource.getrusage): one applies the module to a single
batch of B rows, the other to --rss-rows rows with batch_size=B. Both hold TensorFlow and the module;
the second also holds its whole input and output, which are printed beside it.
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

MODULE = dict(buckets=8192, hidden=640, layers=5, dim=64)


def rss_child(path, rows, batch, threads):
    """In a subprocess: apply the module to `rows` rows with batch_size=batch; print numbers."""
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    import hubfn

    m = hubfn.hub_load(path)
    text = hashed_text.sentences(rows, seed=1)
    m(text[:min(rows, 256)])  # trace and warm
    start = time.perf_counter()
    out = hubfn.module_apply(m, text, batch_size=batch)
    secs = time.perf_counter() - start
    text_bytes = sum(sys.getsizeof(s) for s in text) + sys.getsizeof(text)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(rows, peak, text_bytes, np.asarray(out).nbytes, secs)


def run_child(path, rows, batch, threads=0):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", path, str(rows), str(batch), str(threads)]
    line = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
    n, peak, text_bytes, out_bytes, secs = line.split()
    return int(peak), int(text_bytes), int(out_bytes), float(secs)


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
    parser.add_argument("--batch", type=int, default=2000, help="rows per module call and per Arrow batch")
    parser.add_argument("--rss-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--arrow-batch", type=int, default=10_000, help="rows per Arrow batch in Spark")
    parser.add_argument("--child", nargs=4)
    args = parser.parse_args()
    if args.child:
        path, rows, batch, threads = args.child
        return rss_child(path, int(rows), int(batch), int(threads))

    path = hashed_text.export_hashed_text_module(os.path.join(tempfile.mkdtemp(), "text"), **MODULE)
    b = args.batch
    _, _, _, secs = run_child(path, 20_000, b, threads=1)
    print(f"module: hashed text {MODULE}; {secs / 20_000 * 1e3:.3f} ms per row on one core\n")

    # --- the three ways, interleaved: the best of --rounds rounds (the machine may be shared) -------
    import hubfn
    from hubfn.spark import module_udf

    text = hashed_text.sentences(args.rows, seed=2)
    m = hubfn.hub_load(path)
    m(text[:b])
    import tensorflow as tf

    load_secs = []
    for _ in range(3):
        start = time.perf_counter()
        tf.saved_model.load(path)
        load_secs.append(time.perf_counter() - start)
    spark = spark_session(args.arrow_batch)
    df = spark.createDataFrame([(s,) for s in text], "sentence string").repartition(4).cache()
    df.count()
    warm = df.limit(2 * args.arrow_batch).repartition(2)
    udf, naive = module_udf(path, batch_size=b), naive_udf(path)
    timed_noop(warm.select(udf("sentence")))  # workers start, import TensorFlow, load the module
    timed_noop(warm.select(naive("sentence")))
    one_proc = hubfn_udf = naive_rate = 0.0
    for _ in range(args.rounds):
        start = time.perf_counter()
        hubfn.module_apply(m, text, batch_size=b)
        one_proc = max(one_proc, args.rows / (time.perf_counter() - start))
        hubfn_udf = max(hubfn_udf, args.rows / timed_noop(df.select(udf("sentence"))))
        naive_rate = max(naive_rate, args.rows / timed_noop(df.select(naive("sentence"))))
    loads = udf.hubfn_stats.loads
    spark.stop()

    print(f"rows/s over {args.rows:,} rows, {b} rows per module call, {args.arrow_batch} per Arrow batch "
          f"(steady state, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}):")
    print(f"  one process, module_apply(batch_size={b}) {one_proc:10,.0f}")
    print(f"  hubfn module_udf, local[2]               {hubfn_udf:10,.0f}   {hubfn_udf / one_proc:.2f}x one process"
          f" (target >= 0.8x)")
    print(f"  naive pandas UDF, load per batch         {naive_rate:10,.0f}   hubfn UDF is "
          f"{hubfn_udf / naive_rate:.1f}x faster (target >= 5x)")
    print(f"  module loads per hubfn worker: {sorted(loads.values())}; one tf.saved_model.load: "
          f"{min(load_secs):.2f} s\n")

    # --- memory -----------------------------------------------------------------------------------
    one_peak, _, _, _ = run_child(path, b, b)
    peak, text_bytes, out_bytes, _ = run_child(path, args.rss_rows, b)
    mib = 2 ** 20
    print(f"peak RSS, batch_size={b}:")
    print(f"  one batch of {b} rows                  {one_peak / mib:8.0f} MiB")
    print(f"  {args.rss_rows:,} rows                      {peak / mib:8.0f} MiB   {peak / one_peak:.2f}x one batch"
          f" (target <= 2x)")
    print(f"    of which the input list holds {text_bytes / mib:.0f} MiB and the output array {out_bytes / mib:.0f} MiB")


if __name__ == "__main__":
    main()
