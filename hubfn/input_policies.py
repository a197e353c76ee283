"""Input policies: where a call's values come from, and what that source needs before hubfn.inputs' rules.

One place for every caller (POLICIES, by name; hubfn.callplan applies a call's policy around the
Converters of hubfn.inputs):
- "python": nothing; values are taken by the rules as they are.
- "r": values from R through reticulate: R's vectors shaped for the declared input, integer NA refused,
  unnamed lists mapped to the inputs in order, errors in R's words.
- "arrow": Spark's Arrow columns: nulls refused, list columns as arrays, whole buffers at a time.
"""

import numpy as np

from . import errors


class Policy:
    """Values from Python: taken by the rules as they are. A policy may `arrange` a call's inputs as a
    whole (before the plan sorts them by input; None: it does not), `prepare` one input's value for its
    Converter and `reword` a Converter's InputError about that value."""

    name = "python"
    arrange = None

    def wrap(self, conv):
        """`conv` (a Converter) with this policy's steps around it."""
        return conv


class RPolicy(Policy):
    """Values from R, as reticulate passes them (hubfn's R package sends every vector as a 1-d array:
    else reticulate would pass a Python list). R doubles go to any number input by the rules; besides:
    - a length-k vector into a [?, k] input is one example, a length-1 vector into a rank-0 input its
      one value, and a one-column matrix (a data frame's) into a rank-1 input its column;
    - an R integer NA (reticulate's int32 -2**31) is refused (R's NA in logicals and strings does not
      survive reticulate: the R package refuses those);
    - an unnamed list maps to the inputs in order (`arrange`);
    - input errors about a value are worded in R's terms ("a numeric vector or array", "got a double
      matrix", "(element 2)", R's element order)."""

    name = "r"

    @staticmethod
    def arrange(inputs, way, where):
        if type(inputs) is not list or way.structure == "list":
            return inputs
        if len(inputs) == 1:
            return inputs[0]
        names = list(way.input_names)
        if way.inputs is None or len(inputs) != len(names):
            raise errors.InputError(
                "Inputs given as a list without names must have one element per input, in order"
                + (f": {', '.join(names)} (got {len(inputs)})" if way.inputs is not None
                   else " (the inputs of this function are not known: name the elements)") + ".",
                reason="keys", expected=names)
        return dict(zip(names, inputs))

    def wrap(self, conv):
        prepare = _r_preparer(conv)

        def convert(value):
            try:
                return conv(prepare(value))
            except errors.InputError as e:
                raise _r_worded(e, value, conv) from None

        return convert


def _r_preparer(conv):
    rank = getattr(conv, "rank", None)
    shape, tensor_kind = getattr(conv, "shape", None), conv.tensor_kind
    cast = conv.np_dtype if tensor_kind == "dense" and getattr(conv, "kind", None) == "float" else None
    reshapes = rank in (0, 1, 2)

    def prepare(v):
        if type(v) is not np.ndarray:
            return v
        if v.dtype is _INT32 and v.size and v.min() == -2 ** 31:
            conv.fail("has NA; TensorFlow has no missing values for integer data.", reason="value", got="NA")
        if not reshapes:
            pass
        elif v.ndim == 1:
            n = v.shape[0]
            if rank == 2 and n > 1 and shape[1] == n:
                v = v.reshape(1, n)
            elif rank == 0 and n == 1:
                v = v.reshape(())
        elif v.ndim == 2 and rank == 1 and v.shape[1] == 1:
            v = v[:, 0]
        if cast is not None and v.dtype is not cast and v.dtype.kind in "fi":  # the Converter's fast path
            v = v.astype(cast)
        return v

    return prepare


_INT32 = np.dtype(np.int32)
_R_KIND = {"f": "a double", "i": "an integer", "b": "a logical", "U": "a character", "O": "a character",
           "S": "a character", "c": "a complex"}


def _r_worded(e, value, conv):
    """InputError `e` about R value `value` in R's words where its fields say it is about the kind of value
    or a value; else `e`."""
    where, dtype = conv.where, e.expected
    if not isinstance(value, np.ndarray) or not isinstance(dtype, str):
        return e
    if e.reason == "dtype":
        if dtype.startswith(("float", "bfloat", "half", "double")):
            expects = "a numeric vector or array"
        elif dtype.startswith(("int", "uint")):
            expects = "a numeric vector or array of whole numbers"
        else:
            expects = {"bool": "a logical vector or array",
                       "string": "a character vector or array (or a factor)"}.get(dtype, f"values of type {dtype}")
        got = _R_KIND.get(value.dtype.kind, f"a {value.dtype.name}") + \
            (" vector" if value.ndim <= 1 else " matrix" if value.ndim == 2 else " array")
        return errors.InputError(f"{where} expects {dtype}: {expects}; got {got}.", **e.fields)
    bad = e.got
    if e.reason != "value" or isinstance(bad, (bool, str)) or not isinstance(bad, (int, float)):
        return e
    hits = np.flatnonzero(value.ravel(order="F") == bad)  # R's element order
    at = f" (element {hits[0] + 1})" if hits.size else ""
    if isinstance(bad, float) and (not np.isfinite(bad) or bad != int(bad)):
        shown = {np.inf: "Inf", -np.inf: "-Inf"}.get(bad, "NaN" if np.isnan(bad) else f"{bad:.7g}")
        msg = f"{where} expects {dtype}: whole numbers; got {shown}{at}. Round it first, e.g. round(x)."
    else:
        limits = np.iinfo(np.dtype(dtype))
        msg = f"{where} expects {dtype}, whose values run from {limits.min} to {limits.max}; got {int(bad)}{at}."
    return errors.InputError(msg, **e.fields)


class ArrowPolicy(Policy):
    """Spark's Arrow columns (one, or a dict of them by input name) as NumPy arrays with the rows first,
    whole buffers at a time: null rows are refused with a count; list columns of one length become
    [rows, length] arrays; strings become Python str (what TensorFlow's string tensors take)."""

    name = "arrow"

    @staticmethod
    def arrange(inputs, way, where):
        if isinstance(inputs, dict):
            return {k: arrow_to_numpy(v, k, where) for k, v in inputs.items()}
        return arrow_to_numpy(inputs, (way.input_names or ("input",))[0], where)


def arrow_to_numpy(arr, name, where):
    """An Arrow array (one input column) as a NumPy array with the rows on the first axis; anything that
    is not Arrow as it is."""
    if not type(arr).__module__.startswith("pyarrow"):
        return arr
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    if arr.null_count:
        raise errors.InputError(f"{where}: input {name!r} has {arr.null_count} null row(s) of {len(arr)}; "
                                "drop or fill them first (e.g. df.na.drop() or coalesce).", input=name, reason="value")
    t = arr.type
    if pa.types.is_struct(t):
        raise errors.InputError(f"{where}: input {name!r} is a struct column; pass its fields as the inputs.",
                                input=name, reason="structure")
    if not (pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t)):
        return arr.to_numpy(zero_copy_only=False)
    n = len(arr)
    if pa.types.is_fixed_size_list(t):
        width = t.list_size
    else:
        lengths = np.diff(arr.offsets.to_numpy())
        width = int(lengths[0]) if n else 0
        if n and not (lengths == width).all():
            raise errors.InputError(f"{where}: input {name!r} has arrays of different lengths ({int(lengths.min())} "
                                    f"to {int(lengths.max())}); every row must have the same length.",
                                    input=name, reason="shape")
    values = arr.flatten()  # honours the array's offset into its buffers
    if values.null_count:
        raise errors.InputError(f"{where}: input {name!r} has null elements inside its arrays; fill them first.",
                                input=name, reason="value")
    inner = arrow_to_numpy(values, name, where)
    return inner.reshape((n, width) + inner.shape[1:])


POLICIES = {p.name: p for p in (Policy(), RPolicy(), ArrowPolicy())}


def policy_named(name) -> Policy:
    """The policy called `name`; an InputError listing them for any other."""
    try:
        return POLICIES[name]
    except (KeyError, TypeError):
        raise errors.InputError(f"Unknown input policy {name!r}; the policies are: {', '.join(POLICIES)}.") from None
