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


def chosen_way(module, signature=None, training=False, prefer=None):
    """The function module_apply runs for (signature, training), chosen by hubfn's one rule
    (hubfn.ways.choose), as plain data for R: {name, kind ("signature" or "function"), inputs (a list
    of {name, dtype, shape, kind}, shape a list with None for unknown dims, or None when the specs are
    not known), structure ("dict", "tensor", "list", "args" or "unknown"), takes_training, returns_dict,
    outputs (as inputs)}. R converts its values by these inputs instead of choosing a function itself."""
    from hubfn.ways import choose

    return choose(module, signature, bool(training), prefer).as_data()


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
    """Outputs for R: tensors and arrays as NumPy (strings decoded), lists and dicts of them too.

    A BERT encoder's `encoder_outputs` is a list of tensors: it reaches R as a list of R arrays.
    """
    if is_tensor(value) or isinstance(value, np.ndarray):
        return to_numpy(value)
    if isinstance(value, dict):
        return {k: _out(value[k]) for k in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [_out(v) for v in value]
    ragged = _ragged_to_list(value)
    return value if ragged is None else ragged


def _ragged_to_list(value):
    import sys

    tf = sys.modules.get("tensorflow")
    if tf is not None and isinstance(value, tf.RaggedTensor):
        return [_out(row) for row in value]
    if tf is not None and isinstance(value, tf.SparseTensor):
        return to_numpy(tf.sparse.to_dense(value))
    return None


def call_input_specs(module):
    """The inputs a TF2 module's `__call__` was saved with, as [{name, dtype, shape}], or None.

    R needs them to convert R doubles (its only numbers) to a `__call__`'s integer inputs, e.g. a
    BERT encoder's int32 ids. One tensor argument is named after its spec (else "inputs"); a dict
    argument gives one input per key, in the saved order. None when unknown or not plain tensors.
    """
    if not getattr(module, "has_call", False):
        return None
    return _specs_of_function(getattr(module.obj, "__call__", None))


def _spec(name, spec):
    shape = None if spec.shape.rank is None else [d for d in spec.shape.as_list()]
    return {"name": str(name), "dtype": spec.dtype.name, "shape": shape}


def _run(module, x, convert=True, **kw):
    """hubfn.module_apply(module, x, **kw) for R (one Python call per R call), outputs as NumPy.

    batch_size and progress go to module_apply as they are: R's whole doubles are accepted there, and a
    bad value is its InputError. With convert, a single output comes back in a one-element list:
    reticulate converts a list of arrays in one C call, a bare array through slower R code. Without
    convert a dict goes back as it is (R reads its keys sorted).
    """
    from hubfn import module_apply

    out = module_apply(module, x, **kw)
    if not convert:
        return out
    return _out(out) if kw.get("as_dict") else [_out(out)]


def apply_r1(module, value, dtype, scalar, signature=None, as_dict=False, training=False, convert=True,
             batch_size=None, progress=None):
    """One input prepared by R (value, NumPy dtype, rank 0 or not): R converts no dicts (three R
    lists -> dicts cost ~1 ms per call)."""
    return _run(module, _prep(value, dtype, scalar), signature=signature, as_dict=as_dict, training=training,
                convert=convert, batch_size=batch_size, progress=progress)


def apply_rn(module, keys, values, dtypes, scalars, signature=None, as_dict=False, training=False,
             convert=True, batch_size=None, progress=None):
    """Several inputs given as parallel lists (R's unnamed lists and vectors convert faster than
    named lists to dicts), applied as a dict by input name. A length-one R vector arrives as a scalar."""
    keys = [keys] if isinstance(keys, str) else list(keys)
    values = list(values) if isinstance(values, (list, tuple)) else [values]
    dtypes = list(dtypes) if isinstance(dtypes, (list, tuple)) else [dtypes]
    scalars = list(scalars) if isinstance(scalars, (list, tuple)) else [scalars]
    x = {k: _prep(v, d, s) for k, v, d, s in zip(keys, values, dtypes, scalars)}
    return _run(module, x, signature=signature, as_dict=as_dict, training=training, convert=convert,
                batch_size=batch_size, progress=progress)


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


# --- callable sub-objects (a BERT preprocessor's tokenize, bert_pack_inputs) ---------------------
def sub_callable(module, name):
    """The callable sub-object `name` of a TF2 module's saved object, or None.

    Restored tf.functions and restored objects with a saved __call__ count; variables, assets and
    private names do not.
    """
    if not name or name.startswith("_") or getattr(module, "format", None) == "tf1_hub":
        return None
    obj = getattr(module.obj, name, None)
    if obj is None:
        return None
    if getattr(obj, "concrete_functions", None) is not None:
        return obj
    if "__call__" in type(obj).__dict__ or "__call__" in getattr(obj, "__dict__", {}):
        return obj
    return None


def sub_input_specs(module, name):
    """Input specs of sub-object `name` (as call_input_specs), or None when not plain tensors."""
    fn = sub_callable(module, name)
    if fn is None:
        return None
    fn = fn if getattr(fn, "concrete_functions", None) is not None else getattr(fn, "__call__", None)
    return _specs_of_function(fn)


def _specs_of_function(fn):
    import tensorflow as tf

    for cf in list(getattr(fn, "concrete_functions", None) or []):
        try:
            args, _ = cf.structured_input_signature
        except Exception:  # pragma: no cover
            continue
        if not args:
            continue
        first = args[0]
        if isinstance(first, tf.TensorSpec):
            return [_spec(first.name or "inputs", first)]
        if isinstance(first, dict) and all(isinstance(v, tf.TensorSpec) for v in first.values()):
            return [_spec(k, v) for k, v in first.items()]
        return None
    return None


def apply_sub_r(module, name, inputs, dtypes, scalars, mode, kwargs=None, convert=True):
    """Call sub-object `name` on inputs prepared by R: mode "single" (one value), "dict" (by
    name) or "list" (positional list, e.g. bert_pack_inputs' segments); kwargs as given."""
    from hubfn import errors

    fn = sub_callable(module, name)
    if fn is None:
        raise errors.SignatureError(f"Module {module.handle!r} has no callable sub-object {name!r}.")
    prepared = {k: _prep(v, dtypes.get(k), scalars.get(k, False)) for k, v in inputs.items()}
    if mode == "single":
        x = next(iter(prepared.values()))
    elif mode == "list":
        x = [prepared[k] for k in sorted(prepared, key=int)]
    else:
        x = prepared
    out = fn(x, **dict(kwargs or {}))
    return [_out(out)] if convert else out
