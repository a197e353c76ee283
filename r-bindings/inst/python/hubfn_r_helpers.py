"""Small helpers for the R bindings of hubfn (value conversion and error classes)."""

import numpy as np


def to_numpy(t):
    """A tensor (or array-like) as a NumPy array; byte strings decoded to str."""
    a = np.asarray(t.numpy() if hasattr(t, "numpy") else t)
    if a.dtype.kind in "OS":
        if a.size:
            a = np.vectorize(lambda b: b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b),
                             otypes=[str])(a)
        else:
            a = a.astype(str)
    return a


def is_tensor(x):
    import sys

    tf = sys.modules.get("tensorflow")
    return tf is not None and isinstance(x, (tf.Tensor, tf.Variable))


def error_classes(e):
    """[[module, name], ...] of the exception's class and its bases, most specific first."""
    return [[c.__module__, c.__name__] for c in type(e).__mro__]


def describe_signatures(module):
    return [s.describe() for s in module.signatures]


def time_calls(fn, n):
    """Seconds per call of fn() over n calls (for the benchmark)."""
    import time

    fn()
    t0 = time.perf_counter()
    for _ in range(int(n)):
        fn()
    return (time.perf_counter() - t0) / int(n)


def plain(x):
    """Python values as plain data: attrs/dataclass records -> dicts, paths -> str, sets -> sorted lists."""
    import dataclasses
    import datetime
    import os

    try:
        import attrs
    except ImportError:  # pragma: no cover
        attrs = None
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if isinstance(x, (datetime.datetime, datetime.date)):
        return x.isoformat()
    if attrs is not None and attrs.has(type(x)):
        return {k: plain(v) for k, v in attrs.asdict(x, recurse=False).items()}
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        return {f.name: plain(getattr(x, f.name)) for f in dataclasses.fields(x)}
    if hasattr(x, "_asdict"):
        return {k: plain(v) for k, v in x._asdict().items()}
    if isinstance(x, dict):
        return {str(k): plain(v) for k, v in x.items()}
    if isinstance(x, (set, frozenset)):
        return sorted(plain(v) for v in x)
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    return str(x)
