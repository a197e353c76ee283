"""Inputs: check and convert user values to what a signature or function declares.

One set of rules for every way into a module (SignatureDefs, `__call__`, sub-objects), applied against
the declared specs (hubfn.savedmodel.signatures):
- kinds: float inputs take floats and ints; int inputs take ints, and floats only when every value is
  whole (R sends numbers as doubles); bool takes bool; string takes str/bytes. Anything else is an
  InputError naming the input, what it expects and what it got.
- integers must fit the target type: 2**40 + 7 into int32 is refused, not wrapped.
- shapes must be compatible with the declared shape.
- ragged inputs take tf.RaggedTensor, nested lists or dense values; sparse inputs take tf.SparseTensor
  (or a dict with indices, values and dense_shape).

Policies (POLICIES, by name) say where the values come from, and do what that source needs before the
rules above, in one place for every caller: "python" (nothing), "r" (values from R through reticulate:
R's vectors, integer NA, unnamed lists, errors in R's words) and "arrow" (Spark's Arrow columns: nulls
refused, list columns as arrays). hubfn.callplan applies a call's policy around these Converters.

A `Converter` is made once per declared input when a Module first runs that function (hubfn.apply keeps
them), so a call pays for checks, not for re-reading specs: numpy arrays and tensors of the declared
dtype take a fast path of a dtype compare and a shape compare.
"""

import attrs
import numpy as np

from . import errors
from .savedmodel.signatures import format_shape

_NP_KIND = {"f": "float", "i": "int", "u": "int", "b": "bool", "U": "string", "S": "string", "O": "string"}
# Which kinds of value may go into which kinds of input ("int" takes whole floats, checked per value).
_ALLOWED = {"float": {"float", "int"}, "int": {"int", "float"}, "bool": {"bool"}, "string": {"string"}}


def kind_of(dtype) -> str:
    """'float', 'int', 'bool', 'string' or 'other' for a tf.DType."""
    if dtype.is_floating:
        return "float"
    if dtype.is_integer:
        return "int"
    if dtype.is_bool:
        return "bool"
    return "string" if dtype.name == "string" else "other"


class Converter:
    """Converts values for one declared input (a TensorInfo); `where` names it in errors."""

    def __init__(self, info, where):
        import tensorflow as tf

        self.tf, self.info, self.where = tf, info, where
        self.tensor_kind = info.kind
        try:
            self.target = tf.as_dtype(info.dtype)
        except TypeError:  # a nested or unknown spec: passed through for TensorFlow to judge
            self.target, self.tensor_kind = None, "other"
            return
        self.kind = kind_of(self.target)
        # Built-in NumPy dtypes are singletons, so the fast path's `is` never matches a string input.
        self.np_dtype = None if self.kind == "string" else np.dtype(self.target.as_numpy_dtype)
        self.shape = info.shape
        self.rank = None if info.shape is None else len(info.shape)
        # The dimensions the spec fixes, as (axis, size): all a shape check needs to compare.
        self.fixed_dims = () if info.shape is None else tuple(
            (i, d) for i, d in enumerate(info.shape) if d is not None)
        from tensorflow.python.framework.ops import EagerTensor

        self.eager_type = EagerTensor  # an eager tensor's dtype is an interned DType: `is` compares it

    # --- entry --------------------------------------------------------------------------------------
    def __call__(self, value):
        kind = self.tensor_kind
        if kind == "dense":
            return self.dense(value)
        if kind == "ragged":
            return self.ragged(value)
        if kind == "sparse":
            return self.sparse(value)
        return value

    def fail(self, msg, **fields):
        """Raise the InputError `where` + msg, with the input's name and the given fields (hubfn.errors)."""
        raise errors.InputError(f"{self.where} {msg}", input=self.info.name, **fields)

    # --- dense --------------------------------------------------------------------------------------
    def dense(self, value):
        tf = self.tf
        if type(value) is np.ndarray and value.dtype is self.np_dtype:  # the fast path: nothing to convert
            self.check_shape(value.shape)
            return tf.constant(value)
        if type(value) is self.eager_type and value.dtype is self.target:  # the other one: a ready tensor
            self.check_shape(value._shape_tuple())
            return value
        if isinstance(value, tf.Tensor):
            if value.dtype == self.target:
                self.check_tensor_shape(value)
                return value
            return self.cast_tensor(value)
        if isinstance(value, tf.Variable):
            return self.dense(tf.convert_to_tensor(value))
        if isinstance(value, (tf.RaggedTensor, tf.SparseTensor)):
            self.fail(f"expects a dense {self.info.dtype} tensor, got a {type(value).__name__}; "
                      "convert it first (e.g. .to_tensor(), tf.sparse.to_dense).",
                      reason="structure", expected="dense", got=type(value).__name__)
        return tf.constant(self.array(value))

    def array(self, value):
        """`value` as a NumPy array of the target dtype (or str/bytes objects), after every check."""
        try:
            arr = np.asarray(value)
        except ValueError as e:  # ragged nested lists
            self.fail(f"cannot make an array of the value given ({e}).", reason="structure", expected="dense")
        got = _NP_KIND.get(arr.dtype.kind, "other")
        if got == "string" and arr.dtype.kind == "O" and arr.size and not isinstance(arr.flat[0], (str, bytes)):
            got = "other"
        self.check_kind(got, arr.dtype.name)
        if self.kind == "int":
            self.check_ints(arr, got)
        self.check_shape(arr.shape)
        return arr if got == "string" else arr.astype(self.np_dtype, copy=False)

    def check_kind(self, got, got_name):
        if got not in _ALLOWED.get(self.kind, {self.kind}):
            self.fail(f"expects {self.info.dtype}, got {got_name}; pass {self.info.dtype} values.",
                      reason="dtype", expected=self.info.dtype, got=got_name)

    def check_ints(self, arr, got):
        if not arr.size:
            return
        if got == "float":
            if not np.all(np.isfinite(arr)) or not np.all(arr == np.trunc(arr)):
                first = arr[~(np.isfinite(arr) & (arr == np.trunc(arr)))].flat[0]  # in row-major order
                self.fail(f"expects {self.info.dtype}, got {arr.dtype.name} with fractional (or non-finite) "
                          "values; round and convert to an integer type first.",
                          reason="value", expected=self.info.dtype, got=float(first))
        elif arr.dtype == self.np_dtype:
            return
        limits = np.iinfo(self.np_dtype)
        lo, hi = arr.min(), arr.max()
        # Floats compare with the first number above the range, a power of two and so exact in a float
        # (2**63 - 1 is not a float64: it rounds to 2**63, which would pass and then wrap around).
        if lo < limits.min or (hi >= float(int(limits.max) + 1) if got == "float" else hi > limits.max):
            bad = lo if lo < limits.min else hi
            self.fail(f"expects {self.info.dtype}, whose values lie in [{limits.min}, {limits.max}]; "
                      f"got {int(bad)}, which does not fit.", reason="value", expected=self.info.dtype, got=int(bad))

    def check_shape(self, shape):
        if self.rank is None:
            return
        if len(shape) != self.rank:
            self.fail(f"expects shape {format_shape(self.shape)}, got {list(shape)}.",
                      reason="shape", expected=list(self.shape), got=list(shape))
        for axis, size in self.fixed_dims:
            if shape[axis] is not None and shape[axis] != size:
                self.fail(f"expects shape {format_shape(self.shape)}, got {list(shape)}.",
                          reason="shape", expected=list(self.shape), got=list(shape))

    def check_tensor_shape(self, tensor):
        if self.shape is not None and tensor.shape.rank is not None:
            self.check_shape(tuple(tensor.shape.as_list()))

    def cast_tensor(self, tensor):
        tf = self.tf
        got = kind_of(tensor.dtype)
        self.check_kind(got, tensor.dtype.name)
        if tf.executing_eagerly() and hasattr(tensor, "numpy"):
            arr = tensor.numpy()
            if self.kind == "int":
                self.check_ints(arr, got)
            self.check_tensor_shape(tensor)
            return tf.constant(arr.astype(self.np_dtype, copy=False))
        # A symbolic tensor (inside tf.function or Keras): values cannot be checked here.
        if self.kind == "int" and got == "float":
            self.fail(f"expects {self.info.dtype}, got a symbolic {tensor.dtype.name} tensor whose values cannot "
                      "be checked for fractions; round and cast it first.",
                      reason="dtype", expected=self.info.dtype, got=tensor.dtype.name)
        self.check_tensor_shape(tensor)
        return tf.cast(tensor, self.target)

    # --- ragged and sparse ---------------------------------------------------------------------------
    def ragged(self, value):
        tf = self.tf
        if isinstance(value, tf.RaggedTensor):
            rt = value
        elif isinstance(value, (tf.Tensor, np.ndarray)):
            dense = self.dense_values(value)
            return tf.RaggedTensor.from_tensor(dense, ragged_rank=max(1, (self.rank or dense.shape.rank) - 1))
        else:
            try:
                rt = tf.ragged.constant(value)
            except (ValueError, TypeError) as e:
                self.fail(f"expects a ragged {self.info.dtype} tensor; cannot make one of the value given ({e}).",
                          reason="structure", expected="ragged")
        if rt.dtype != self.target:
            rt = rt.with_flat_values(self.dense_values(rt.flat_values))
        if self.rank is not None and rt.shape.rank != self.rank:
            self.fail(f"expects a ragged tensor of rank {self.rank} ({format_shape(self.shape)}), "
                      f"got rank {rt.shape.rank}.", reason="shape", expected=list(self.shape), got=rt.shape.as_list())
        return rt

    def dense_values(self, value):
        """Flat values converted by the dense rules without the declared shape (which is the outer one)."""
        flat = self.__dict__.get("_flat")
        if flat is None:  # a twin converter for the same dtype with no declared shape, made once
            flat = self._flat = Converter(attrs.evolve(self.info, shape=None), self.where)
        return flat.dense(value)

    def sparse(self, value):
        tf = self.tf
        if isinstance(value, dict) and {"indices", "values", "dense_shape"} <= set(value):
            value = tf.SparseTensor(tf.constant(np.asarray(value["indices"], np.int64)),
                                    value["values"], tf.constant(np.asarray(value["dense_shape"], np.int64)))
        elif isinstance(value, tf.compat.v1.SparseTensorValue):
            value = tf.SparseTensor(value.indices, value.values, value.dense_shape)
        if not isinstance(value, tf.SparseTensor):
            self.fail(f"is sparse ({self.info.dtype}{format_shape(self.shape)}); pass a tf.SparseTensor "
                      "or a dict with indices, values and dense_shape.",
                      reason="structure", expected="sparse", got=type(value).__name__)
        values = self.dense_values(value.values)
        if self.rank is not None and value.shape.rank is not None and value.shape.rank != self.rank:
            self.fail(f"expects a sparse tensor of rank {self.rank}, got rank {value.shape.rank}.",
                      reason="shape", expected=list(self.shape), got=value.shape.as_list())
        return tf.SparseTensor(value.indices, values, value.dense_shape)


# --- several inputs ----------------------------------------------------------------------------------
def keyed(values, expected, where):
    """`values` as a dict keyed by the expected input names; a lone value for a one-input function."""
    if not isinstance(values, dict):
        if len(expected) != 1:
            raise errors.InputError(f"{where} takes {len(expected)} inputs; pass a dict with keys "
                                    f"{', '.join(expected)}.", reason="keys", expected=list(expected))
        return {expected[0]: values}
    if len(values) != len(expected) or any(k not in values for k in expected):
        missing = [k for k in expected if k not in values]
        extra = [k for k in values if k not in expected]
        parts = ([f"missing {', '.join(map(repr, missing))}"] if missing else []) + \
                ([f"unexpected {', '.join(map(repr, extra))}"] if extra else [])
        raise errors.InputError(f"{where}: {'; '.join(parts)}. Expected keys: {', '.join(expected)}.",
                                reason="keys", expected=list(expected), got=list(values))
    return values


def unspecified_converter():
    """Conversion for a function whose input specs are not known: tensors as they are, anything else
    through NumPy (float64 as float32, TensorFlow's usual dtype), dicts value by value."""
    import tensorflow as tf

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (tf.Tensor, tf.Variable, tf.RaggedTensor, tf.SparseTensor)):
            return value
        arr = np.asarray(value)
        return tf.convert_to_tensor(arr.astype(np.float32) if arr.dtype == np.float64 else arr)

    return convert


# --- policies: where the values come from -------------------------------------------------------------
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
