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


def _prep(value, dtype, scalar):
    """One input from R: reticulate's conversion of an R value -> an array of the chosen dtype."""
    if dtype == "keep" or is_tensor(value):
        return value
    a = np.asarray(value) if dtype is None else np.asarray(value, dtype=dtype)
    if scalar:
        return a.reshape(())
    a = np.atleast_1d(a)
    return np.ascontiguousarray(a)


def _out(value):
    return to_numpy(value) if (is_tensor(value) or isinstance(value, np.ndarray)) else value


def apply_r(module, inputs, dtypes, scalars, single, signature=None, as_dict=False, training=False,
            convert=True):
    """hubfn.module_apply for R: inputs prepared (one Python call per R call), outputs as NumPy.

    inputs/dtypes/scalars: dicts keyed by input name; `single` means inputs holds one value (key "")
    for a one-input signature. With convert, a single output comes back in a one-element list:
    reticulate converts a list of arrays in one C call, a bare array through slower R code.
    """
    from hubfn import module_apply

    prepared = {k: _prep(v, dtypes.get(k), scalars.get(k, False)) for k, v in inputs.items()}
    x = next(iter(prepared.values())) if single else prepared
    out = module_apply(module, x, signature=signature, as_dict=as_dict, training=training)
    if as_dict:
        out = {k: out[k] for k in sorted(out)}
    if not convert:
        return out
    if as_dict:
        return {k: _out(v) for k, v in out.items()}
    return [_out(out)]


def sorted_keys(d):
    return sorted(d)


def sync_environ(values, unset, prefixes=("HUBFN_",)):
    """Make os.environ agree with R's environment for the variables hubfn reads.

    Python copies the process environment into os.environ once, when it starts; R's Sys.setenv()
    and Sys.unsetenv() after that are not seen. `values` ({name: value}) are set; names in `unset`
    are deleted, and so is any variable starting with one of `prefixes` that `values` lacks (R
    does not have it).
    """
    import os

    values = dict(values or {})
    for name, value in values.items():
        if os.environ.get(name) != value:
            os.environ[name] = value
    gone = set(unset or ())
    gone.update(k for k in os.environ if k.startswith(tuple(prefixes)) and k not in values)
    for name in gone:
        if name in os.environ:
            del os.environ[name]
