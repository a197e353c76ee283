"""The Python side of hubfn's R bindings: what R cannot do cheaply or at all through reticulate alone.

R calls hubfn's own functions for everything else. The hot path is `runner`: R asks it once per
(module, signature, training) for a function that runs hubfn's public call plan (hubfn.call_plan, with
the "r" input policy) on R's values, so an R call costs one reticulate call each way.
"""

import numpy as np


def runner(module, signature=None, training=False):
    """(the Way's data, run) for R, made once per (module, signature, training): R's plan for a function.

    The plan is hubfn's call plan for R's values, hubfn.call_plan(..., policy="r"): hubfn.inputs' "r"
    policy converts them (R vectors, whole doubles, integer NA, unnamed lists, errors in R's words).
    run(values, keys, as_dict, convert) applies it: keys None for one value, a list of input names for a
    dict, True for an unnamed list. With convert, outputs come back as NumPy (see `_out`), a single one in
    a one-element list: reticulate converts a list of arrays in one C call, a bare array through much
    slower R code. An error comes back as the exception itself, so R needs no error handler around the call.
    """
    from hubfn import call_plan

    plan = call_plan(module, signature, bool(training), policy="r")

    def run(values, keys, as_dict, convert):
        try:
            out = plan(_pack(values, keys), as_dict)
            return _for_r(out, as_dict) if convert else out
        except Exception as e:  # noqa: BLE001 (R makes its condition from it)
            return e

    return plan.way.as_data(), run


def _pack(values, keys):
    """R's values as hubfn takes them (keys as runner's run takes them)."""
    if keys is None:
        return values
    if keys is True:
        return list(values) if isinstance(values, (list, tuple)) else [values]
    if isinstance(keys, str):  # one name: reticulate passes a length-one vector as a scalar
        keys, values = [keys], values if isinstance(values, list) else [values]
    return dict(zip(keys, values))


def apply(module, values, keys, convert=True, **kw):
    """hubfn.module_apply for R's values (as runner's run takes them, with the "r" policy), with R's output
    conversion, an error returned as the exception: the path for batch_size= and arguments= (a whole R
    double is a batch size there; a bad one is its InputError)."""
    from hubfn import module_apply

    try:
        out = module_apply(module, _pack(values, keys), policy="r", **kw)
        return _for_r(out, kw.get("as_dict")) if convert else out
    except Exception as e:  # noqa: BLE001 (as runner's run)
        return e


def take_input_dtype(layer):
    """Give a hub_layer the dtype of its function's one dense input when that is not a float (a text
    embedding's strings), so a Keras Sequential model built on its first batch makes its input of that dtype."""
    inputs = layer.way.inputs or ()
    dtype = inputs[0].dtype if len(inputs) == 1 and inputs[0].kind == "dense" else "float32"
    if not dtype.startswith(("float", "bfloat", "half")):
        layer.dtype_policy = dtype


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
