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

Where the values come from (Python, R, Spark's Arrow columns) is hubfn.input_policies': a policy does
what its source needs around these Converters. hubfn.callplan applies a call's policy.

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
