"""Embed a text column with a hub module on Spark: locally, or on a cluster with spark-submit.

    python examples/spark_embed.py                      # demo: builds a module, 20,000 sentences, local[2]
    python examples/spark_embed.py HANDLE IN OUT [--column sentence] [--batch-size 1024]
    spark-submit --master spark://HOST:7077 examples/spark_embed.py HANDLE IN OUT

HANDLE is a module URL (e.g. of `hubfn serve`) or a directory every executor can read. IN is a Parquet
file or directory (or a .txt/.csv file; a text file's column is "value"); OUT is written as Parquet with
the input columns and "embedding". Each executor's Python workers need hubfn[spark] installed (or a
packed virtualenv shipped with --archives); every worker loads the module once, and a URL is downloaded
once per machine into that machine's cache.
"""

import argparse
import os
import sys
import tempfile
import time


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("handle", nargs="?")
    parser.add_argument("input", nargs="?")
    parser.add_argument("output", nargs="?")
    parser.add_argument("--column", default="sentence")
    parser.add_argument("--signature", default=None)
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parser.parse_args()

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # local runs: workers use this Python
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from pyspark.sql import SparkSession

    from hubfn.spark import module_udf

    builder = SparkSession.builder.appName("hubfn-embed")
    if args.handle is None:
        builder = builder.master("local[2]")  # the demo; spark-submit's --master wins otherwise
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")

    if args.handle is None:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import hashed_text

        work = tempfile.mkdtemp(prefix="hubfn-spark-demo-")
        args.handle = hashed_text.export_hashed_text_module(os.path.join(work, "text"), hidden=256, layers=2)
        df = spark.createDataFrame([(s,) for s in hashed_text.sentences(20_000)], "sentence string")
        args.output = os.path.join(work, "embeddings.parquet")
    else:
        if not (args.input and args.output):
            parser.error("give HANDLE, IN and OUT (or nothing, for the demo)")
        df = _read(spark, args.input)
        if args.input.endswith(".txt"):
            args.column = "value"

    embed = module_udf(args.handle, signature=args.signature, batch_size=args.batch_size)
    start = time.perf_counter()
    df.withColumn("embedding", embed(args.column)).write.mode("overwrite").parquet(args.output)
    secs = time.perf_counter() - start
    out = spark.read.parquet(args.output)
    rows = out.count()
    print(f"{rows:,} rows embedded in {secs:.1f} s ({rows / secs:,.0f} rows/s) -> {args.output}")
    first = out.first()
    print(f"first row: {first[args.column]!r} -> {len(first.embedding)} floats, "
          f"[{', '.join(f'{v:.3f}' for v in first.embedding[:4])}, ...]")
    if embed.hubfn_stats is not None:
        print(f"module loads per Python worker: {sorted(embed.hubfn_stats.loads.values())}")
    spark.stop()


def _read(spark, path):
    if path.endswith(".txt"):
        return spark.read.text(path)
    if path.endswith(".csv"):
        return spark.read.option("header", True).csv(path)
    return spark.read.parquet(path)


if __name__ == "__main__":
    main()
