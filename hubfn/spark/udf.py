"""module_udf: a module as a vectorized Spark UDF, typed from its signature.

On the driver, module_udf resolves the handle once (a URL is fetched into the driver's cache), reads
saved_model.pb and chooses the function to run by the rule module_apply uses (hubfn.ways.choose), then
fixes the UDF's Spark return type from that function's outputs. A bad handle, signature, output key or
batch_size is a hubfn error right there, before any Spark job. The UDF's body runs on the workers
(hubfn.spark.worker): each worker process loads the module once and applies it to every Arrow batch.

The UDF is an Arrow UDF (pyspark.sql.functions.arrow_udf, Spark >= 4.1), the Arrow-native form of a
scalar pandas UDF: same batching and scheduling, but columns arrive and leave as Arrow arrays. A pandas
UDF would turn every array<float> cell into a Python list on the way out; here vectors stay in buffers.
"""

import os

from .. import errors, handles
from ..callplan import pick_output
from ..batch import check_batch_size
from ..ways import choose
from . import types, worker

DEFAULT_BATCH_SIZE = 1024


class _EventsParam:
    """Accumulator of worker events, ("load", pid) and ("batch", pid, rows, seconds), as a list."""

    def zero(self, value):
        return []

    def addInPlace(self, a, b):
        a.extend(b)
        return a


class WorkerStats:
    """What the workers of one module_udf did: module loads and batches, per worker process id."""

    def __init__(self, accumulator):
        self._acc = accumulator

    def _count(self, kind, weight):
        counts = {}
        for event in self._acc.value:
            if event[0] == kind:
                counts[event[1]] = counts.get(event[1], 0) + weight(event)
        return counts

    @property
    def loads(self) -> dict:
        """{worker pid: modules loaded}; 1 per worker when each loads once."""
        return self._count("load", lambda e: 1)

    @property
    def batches(self) -> dict:
        """{worker pid: Arrow batches applied}."""
        return self._count("batch", lambda e: 1)

    @property
    def rows(self) -> int:
        return sum(self._count("batch", lambda e: e[2]).values())

    @property
    def seconds(self) -> float:
        """Time the workers spent converting and applying (summed over workers), from batch events."""
        return sum(self._count("batch", lambda e: e[3]).values())


def module_udf(handle, signature=None, output_key=None, as_dict=False, tags=None,
               batch_size=DEFAULT_BATCH_SIZE, threads=None, *, settings=None, cache_dir=None, offline=None,
               timeout=None, token=None, safe_mode=None, allow_ops=None, hub=None, resolvers=None):
    """A Spark UDF that applies the module at `handle` to DataFrame columns.

    udf = module_udf("http://host/acme/text/1"); df.select(udf("sentence").alias("embedding"))

    signature: as in module_apply (None: "default", else __call__, else "serving_default", else the only one).
    Inputs: one column for a one-input function; for several inputs (a signature's, or the keys of a dict
    that __call__ takes), one struct column with a field per input (F.struct("apples", "oranges")) or one
    column per input in the function's order.
    Output: the "default" (or only) output, or `output_key`, or with as_dict=True a struct of them all.
    Types: float32[?] -> float, float32[?, d] -> array<float>, string -> string, and so on.
    tags: the graph variant, as in hub_load. batch_size: rows per module call inside each Arrow batch
    (Spark's spark.sql.execution.arrow.maxRecordsPerBatch, 10,000 by default, bounds it from above);
    None: one module call per Arrow batch.
    threads: TensorFlow threads per worker (None: spark.task.cpus, i.e. 1 unless configured).
    settings, cache_dir, offline, timeout, token: fetch settings, as in hub_load, used on the driver and
    carried to the workers inside the UDF (a token travels with the task, as Spark ships any closure);
    what is not named here each worker reads from its own environment.
    safe_mode, allow_ops: as in hub_load; the module is checked on the driver before any worker loads it.
    hub, resolvers: as in hub_load; a Hub given here travels to the workers whole (its settings included).

    The returned UDF has `.hubfn_stats` (WorkerStats: loads and batches per worker) when a SparkContext
    is active in this process; None otherwise (e.g. under Spark Connect).
    """
    from pyspark.sql.functions import arrow_udf

    from ..resolve import Hub
    from ..savedmodel.signatures import as_tags

    size = None if batch_size is None else check_batch_size(batch_size)
    tags = as_tags(tags)  # None or a frozenset, from here on (driver and workers)
    handle = handles.as_handle(handle)
    if handles.handle_kind(handle) == handles.LOCAL:  # workers may run elsewhere: no relative paths
        handle = os.path.abspath(os.path.expanduser(handle))
    # What the call names travels to the workers; what it leaves out each worker takes from its own
    # environment (a worker's TFHUB_CACHE_DIR, say, is its machine's, not the driver's).
    named_settings = {"hub": hub, "resolvers": resolvers, "settings": settings, "cache_dir": cache_dir,
                      "offline": offline, "timeout": timeout, "token": token, "safe_mode": safe_mode,
                      "allow_ops": allow_ops}
    way = _describe(handle, signature, tags, Hub.make(**named_settings))
    call, inputs, outputs = way.name, _columns(way, handle), list(way.outputs)
    named = len(inputs) > 1  # by name in a dict; one input is passed as the value itself
    where = f"module_udf({handle!r}, signature={call!r})"
    if as_dict and output_key is not None:
        raise errors.OutputError(f"{where}: pass either output_key or as_dict=True, not both.")
    if not as_dict:
        by_name = {o.name: o for o in outputs}
        outputs = [pick_output(by_name, output_key, where, "Pass output_key=... or as_dict=True.")]
    spark_types = [types.spark_type(o, where) for o in outputs]
    config = {
        "handle": handle, "tags": tags, "call": call, "where": where,
        "inputs": [t.name for t in inputs], "named_input": named, "outputs": [o.name for o in outputs],
        "arrow_types": [types.arrow_type(t) for t in spark_types], "struct": bool(as_dict), "batch_size": size,
        "threads": threads, "stats": _accumulator(), "settings": named_settings,
    }
    return_type = types.return_type([o.name for o in outputs], spark_types, bool(as_dict))

    def apply_module(*cols: "pa.Array") -> "pa.Array":  # noqa: F821 (string hints: pyarrow stays lazy)
        return worker.apply_batch(config, cols)

    import pyarrow as pa

    apply_module.__annotations__ = {"cols": pa.Array, "return": pa.Array}
    udf = arrow_udf(apply_module, return_type)
    udf.hubfn_stats = None if config["stats"] is None else WorkerStats(config["stats"])
    return udf


def _describe(handle, signature, tags, hub):
    """The Way module_apply runs for `signature` (hubfn.ways.choose), read from saved_model.pb on the
    driver; the module is loaded here only if it has a __call__ whose specs the file does not hold."""
    from ..api import hub_load
    from ..safety import guard
    from ..savedmodel.signatures import read_saved_model

    path = hub.resolve(handle)
    info = read_saved_model(path, proto=guard.check(path, handle, hub.settings))  # refused here, not on the workers
    return choose(info, signature, tags=tags, load=lambda: hub_load(handle, tags=tags, hub=hub).obj)


def _columns(way, handle):
    """The inputs that the UDF's columns feed: each input one column (or one field of a struct column)."""
    if way.inputs is None or way.structure == "list":
        takes = "inputs whose specs were not saved" if way.inputs is None else "a list of tensors"
        raise errors.SignatureError(
            f"Module {handle!r}: {way.name} takes {takes}, which Spark columns cannot feed; name a signature."
        )
    return list(way.inputs)


def _accumulator():
    from pyspark import SparkContext

    sc = SparkContext._active_spark_context
    if sc is None:
        return None
    return sc.accumulator([], _EventsParam())
