"""The Python side of hubfn's R bindings: what R cannot do cheaply or at all through reticulate alone.

R calls hubfn's own functions for everything else. The hot path is `runner`: R asks it once per
(module, signature, training) for a function that runs hubfn's call plan on the values R converted, so
an R call costs one reticulate call each way.
"""

import numpy as np


def chosen_way(module, signature=None, training=False, prefer=None):
    """The function module_apply runs for (signature, training), chosen by hubfn's one rule
    (hubfn.ways.choose), as plain data for R: {name, kind ("signature" or "function"), inputs (a list
    of {name, dtype, shape, kind}, shape a list with None for unknown dims, or None when the specs are
    not known), structure ("dict", "tensor", "list", "args" or "unknown"), takes_training, returns_dict,
    outputs (as inputs)}. R converts its values by these inputs instead of choosing a function itself."""
    from hubfn.ways import choose

    return choose(module, signature, bool(training), prefer).as_data()


def runner(module, signature=None, training=False):
    """(chosen_way's data, run) for R, made once per (module, signature, training): R's plan for a function.

    run(values, keys, as_dict, convert) applies hubfn's call plan (hubfn.apply.plan, kept on the Module,
    as module_apply uses it) to values R has converted: keys None for one value, a list of input names
    for a dict, True for a list (a function saved to take one). R's numbers arrive as float64 (int32 for
    R integers): each float input's converter here casts them to the input's dtype, so hubfn's converter
    takes its fast path (a dtype and a shape compare) instead of its general one, which checks and casts
    just the same. With convert, outputs come back as NumPy (see `_out`), a single one in a one-element
    list: reticulate converts a list of arrays in one C call, a bare array through much slower R code.
    An error comes back as the exception itself, so R needs no error handler around the call.
    """
    from hubfn.apply import plan

    call = plan(module, signature, bool(training))
    inputs = call.way.inputs or ()
    casts = {t.name: _float_cast(t) for t in inputs}
    if len(inputs) == 1:
        casts[None] = casts[inputs[0].name]  # one value, given without its name

    def run(values, keys, as_dict, convert):
        try:
            out = call(_pack(values, keys, casts), as_dict, None)
            return _for_r(out, as_dict) if convert else out
        except Exception as e:  # noqa: BLE001 (R makes its condition from it)
            return e

    return call.way.as_data(), run


def _same(v):
    return v


def _float_cast(t):
    """The cast of R's numbers to dense float input `t`'s dtype (other inputs: none; hubfn converts)."""
    if t.kind != "dense" or t.dtype not in ("float16", "float32", "float64"):
        return _same
    dtype = np.dtype(t.dtype)

    def cast(v):
        if type(v) is np.ndarray and v.dtype.kind in "fi" and v.dtype is not dtype:
            return v.astype(dtype)
        return v

    return cast


def _pack(values, keys, casts=None):
    """R's converted values as hubfn takes them (keys as runner's run takes them), each value through
    its input's cast in `casts` (by name; None: the one input), if any."""
    casts = casts or {}
    if keys is None:
        return casts.get(None, _same)(values)
    if keys is True:
        return list(values) if isinstance(values, (list, tuple)) else [values]
    if isinstance(keys, str):  # one name: reticulate passes a length-one vector as a scalar
        keys, values = [keys], values if isinstance(values, list) else [values]
    return {k: casts.get(k, _same)(v) for k, v in zip(keys, values)}


def apply(module, values, keys, convert=True, **kw):
    """hubfn.module_apply for R's values (as runner's run takes them), with R's output conversion, an
    error returned as the exception: the path for batch_size= and arguments= (a whole R double is a
    batch size there; a bad one is its InputError)."""
    from hubfn import module_apply

    try:
        out = module_apply(module, _pack(values, keys), **kw)
        return _for_r(out, kw.get("as_dict")) if convert else out
    except Exception as e:  # noqa: BLE001 (as runner's run)
        return e


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


def _for_r(out, as_dict):
    """A call's outputs as R takes them (see runner): one output in a one-element list; with as_dict,
    [names, values] (R names its list of values faster than reticulate converts a dict), or [None,
    value] for something other than a dict."""
    if not as_dict:
        return [_out(out)]
    if isinstance(out, dict):
        names = sorted(out)
        return [names, [_out(out[k]) for k in names]]
    return [None, _out(out)]


def _out(value):
    """Outputs for R: tensors and arrays as NumPy (strings decoded), lists and dicts of them too (a BERT
    encoder's `encoder_outputs` is a list of tensors: R gets a list of R arrays); a ragged tensor as a
    list of its rows, a sparse one dense."""
    import sys

    tf = sys.modules.get("tensorflow")
    if isinstance(value, np.ndarray) or tf is not None and isinstance(value, (tf.Tensor, tf.Variable)):
        return to_numpy(value)
    if isinstance(value, dict):
        return {k: _out(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_out(v) for v in value]
    if tf is not None and isinstance(value, tf.RaggedTensor):
        return [_out(row) for row in value]
    if tf is not None and isinstance(value, tf.SparseTensor):
        return to_numpy(tf.sparse.to_dense(value))
    return value


def error_data(e):
    """What R makes its condition of: {type, message (str(e)), classes: the names of the hubfn.errors
    classes in its class chain, most specific first, fields: hubfn's structured fields (HubError.fields),
    integers beyond R's 32 bits as floats (which R holds exactly to 2**53)}."""
    def r(v):
        if isinstance(v, int) and not isinstance(v, bool) and not -2**31 < v < 2**31:
            return float(v)
        return [r(x) for x in v] if isinstance(v, (list, tuple)) else v

    return {"type": type(e).__name__, "message": str(e),
            "classes": [c.__name__ for c in type(e).__mro__ if c.__module__ == "hubfn.errors"],
            "fields": {k: r(v) for k, v in getattr(e, "fields", {}).items()}}


def sorted_keys(d):
    return sorted(d)


def plain(x):
    """Python values as plain data: attrs/dataclass records -> dicts, paths -> str, sets -> sorted lists."""
    import dataclasses
    import datetime
    import os

    import attrs

    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, os.PathLike):
        return os.fspath(x)
    if isinstance(x, (datetime.datetime, datetime.date)):
        return x.isoformat()
    if attrs.has(type(x)):
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


def environment_names():
    """The environment variables hubfn's calls depend on (hubfn.settings' table), for R to copy."""
    from hubfn.settings import environment_names as names

    return list(names())


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


def time_calls(fn, n):
    """Seconds per call of fn() over n calls (for the benchmark)."""
    import time

    fn()
    t0 = time.perf_counter()
    for _ in range(int(n)):
        fn()
    return (time.perf_counter() - t0) / int(n)
