"""Types between a module's signature, Spark SQL and Arrow, and the output conversion that uses them.

Spark hands a vectorized UDF its columns as Arrow arrays and takes Arrow arrays back. Input columns are
converted by hubfn.input_policies' "arrow" policy (one home for input conversion); outputs here, whole buffers
at a time: a [rows, dim] output becomes a ListArray over the output's own memory. No Python object is
made per row, except for strings, which TensorFlow gives as bytes anyway.
"""

import numpy as np

from .. import errors

# TensorFlow dtype name -> Spark SQL type class name; half precision travels as float (Spark has no float16).
_SPARK_TYPE = {
    "float16": "FloatType", "bfloat16": "FloatType", "float32": "FloatType", "float64": "DoubleType",
    "int8": "ByteType", "int16": "ShortType", "int32": "IntegerType", "int64": "LongType",
    "uint8": "ShortType", "uint16": "IntegerType", "uint32": "LongType", "bool": "BooleanType",
    "string": "StringType",
}


def spark_type(info, where: str):
    """The Spark DataType of one row of output `info` (a hubfn TensorInfo): its batch axis is dropped."""
    from pyspark.sql import types as T

    name = _SPARK_TYPE.get(info.dtype)
    if name is None:
        raise errors.OutputError(f"{where}: output {info.name!r} has dtype {info.dtype}, which Spark cannot hold.")
    if info.shape is None or len(info.shape) == 0:
        raise errors.OutputError(
            f"{where}: output {info.name!r} has shape {_shape(info.shape)}, not one row per input row; "
            "a Spark UDF needs outputs whose first axis is the batch."
        )
    t = getattr(T, name)()
    for _ in info.shape[1:]:
        t = T.ArrayType(t, containsNull=False)
    return t


def return_type(names, spark_types, as_struct: bool):
    """One output's type, or a struct of all of them (in signature order), from their spark_type()s."""
    from pyspark.sql import types as T

    if not as_struct:
        return spark_types[0]
    return T.StructType([T.StructField(n, t, nullable=False) for n, t in zip(names, spark_types)])


def _shape(shape):
    from ..savedmodel.signatures import format_shape

    return format_shape(shape)


# --- NumPy -> Arrow (outputs) -------------------------------------------------------------------
def arrow_type(spark_t):
    """The Arrow type Spark expects back for `spark_t` (computed once per output, on the driver)."""
    from pyspark.sql.pandas.types import to_arrow_type

    return to_arrow_type(spark_t)


def numpy_to_arrow(values: np.ndarray, arrow_t):
    """A [rows, ...] NumPy output as an Arrow array of `arrow_t` (from arrow_type)."""
    import pyarrow as pa

    if pa.types.is_list(arrow_t):
        n = values.shape[0]
        width = values.shape[1] if values.ndim > 1 else 0
        inner = numpy_to_arrow(np.ascontiguousarray(values).reshape((n * width,) + values.shape[2:]),
                               arrow_t.value_type)
        offsets = pa.array(np.arange(n + 1, dtype=np.int32) * np.int32(width))
        return pa.ListArray.from_arrays(offsets, inner, type=arrow_t)
    if pa.types.is_string(arrow_t):
        if values.dtype.kind == "O":  # TensorFlow gives bytes; Spark strings are UTF-8
            return pa.array(values, type=pa.binary()).cast(pa.string())
        return pa.array(values, type=pa.string())
    return pa.array(values.astype(arrow_t.to_pandas_dtype(), copy=False), type=arrow_t)
