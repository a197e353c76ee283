"""Apply hub modules to Spark DataFrames (`pip install hubfn[spark]`).

    from hubfn.spark import module_udf
    embed = module_udf("http://127.0.0.1:8000/acme/text/1")
    df.withColumn("embedding", embed("sentence"))

`udf.py` builds the UDF on the driver and types it from the module's signature; `worker.py` is what runs
in each Python worker (one load per process, thread pools sized to the task); `types.py` maps signatures
to Spark types and moves columns between Arrow and NumPy without per-row objects.
"""

from .udf import DEFAULT_BATCH_SIZE, WorkerStats, module_udf

__all__ = ["module_udf", "WorkerStats", "DEFAULT_BATCH_SIZE"]
