"""The worker side of module_udf: what runs inside each Spark Python worker process.

Spark reuses a Python worker for many tasks (spark.python.worker.reuse, on by default) and calls the UDF
once per Arrow batch. This module is imported by reference on the worker, so its module-level `_modules`
lives as long as the worker process: a module is loaded on the worker's first batch and reused for every
later batch and task. Loading goes through hubfn.hub_load, so a URL is fetched into the machine's shared
cache under its lock: one download per machine, however many workers start at once.

Before TensorFlow starts in a worker, its thread pools are sized to the task's cores (spark.task.cpus,
default 1): Spark runs one task per core, and TensorFlow's default of one thread per machine core in
every worker would oversubscribe the machine.
"""

import os
import threading
import time

from .. import errors
from ..util.tfimport import import_tensorflow
from . import types

_modules = {}
_lock = threading.Lock()
_threads_set = False


def _limit_threads(threads):
    global _threads_set
    if _threads_set:
        return
    _threads_set = True
    if threads is None:
        try:
            from pyspark import TaskContext

            ctx = TaskContext.get()
            threads = ctx.cpus() if ctx is not None else None
        except Exception:  # not in a Spark task (e.g. called directly): leave TensorFlow's defaults
            threads = None
    if not threads:
        return
    tf = import_tensorflow()

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:  # TensorFlow already ran something in this process; its pools are fixed
        pass


def get_module(config):
    """The Module for config's (handle, tags), loaded once per process."""
    key = (config["handle"], config["tags"])
    hit = _modules.get(key)
    if hit is not None:
        return hit
    with _lock:
        hit = _modules.get(key)
        if hit is None:
            _limit_threads(config.get("threads"))
            from ..api import hub_load

            hit = hub_load(config["handle"], tags=config["tags"], **config.get("settings", {}))
            _modules[key] = hit
            stats = config.get("stats")
            if stats is not None:
                stats.add([("load", os.getpid())])
        return hit


def apply_batch(config, cols):
    """Apply the module to one Arrow batch of Spark columns; returns one Arrow array."""
    import pyarrow as pa

    from ..apply import module_apply

    where = config["where"]
    inputs = _inputs(config, cols, where)
    module = get_module(config)
    started = time.perf_counter()
    n = len(cols[0])
    if n == 0:
        outputs = {}
    else:
        size = n if config["batch_size"] is None else config["batch_size"]  # None: one call per Arrow batch
        outputs = module_apply(module, inputs, signature=config["call"], as_dict=True, batch_size=size,
                               progress=False, policy="arrow")  # hubfn.input_policies' Arrow policy converts columns
    stats = config.get("stats")
    if stats is not None:
        stats.add([("batch", os.getpid(), n, time.perf_counter() - started)])
    names, arrow_types = config["outputs"], config["arrow_types"]
    arrays = []
    for name, t in zip(names, arrow_types):
        if n == 0:
            arrays.append(pa.array([], type=t))
            continue
        if name not in outputs:
            raise errors.OutputError(f"{where}: the module gave no output {name!r}; it gave {', '.join(outputs)}.")
        arrays.append(types.numpy_to_arrow(outputs[name], t))
    if config["struct"]:
        return pa.StructArray.from_arrays(arrays, names=list(names))
    return arrays[0]


def _inputs(config, cols, where):
    """The module's inputs from the UDF's columns, as Arrow arrays: one column, one struct of the inputs,
    or one column each."""
    import pyarrow as pa

    names = config["inputs"]
    if len(cols) == 1 and len(names) > 1 and pa.types.is_struct(cols[0].type):
        struct = cols[0]
        fields = [struct.type.field(i).name for i in range(struct.type.num_fields)]
        missing = [k for k in names if k not in fields]
        if missing:
            raise errors.InputError(
                f"{where}: the struct column has fields {', '.join(fields)}; it lacks {', '.join(missing)}. "
                f"The signature takes {', '.join(names)}."
            )
        if struct.null_count:
            raise errors.InputError(f"{where}: the struct column has {struct.null_count} null row(s); drop them.")
        return {k: struct.field(k) for k in names}
    if len(cols) != len(names):
        raise errors.InputError(
            f"{where}: the signature takes {len(names)} input(s) ({', '.join(names)}); pass "
            + ("one column" if len(names) == 1 else
               f"one struct column with those fields, or {len(names)} columns in that order")
            + f", not {len(cols)}."
        )
    if len(names) == 1 and not config["named_input"]:
        return cols[0]
    return dict(zip(names, cols))
