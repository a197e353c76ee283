"""Shapes for hub_layer: `output_shape=` nests, the static shapes they set, and tracing placeholders.

A shape is a tuple of ints and Nones without the batch dimension; nests of them (dicts, lists) follow
the structure of a module's outputs, as tensorflow_hub.KerasLayer's `output_shape=` does.
"""

import numbers

from .. import errors
from ..util.tfimport import import_keras, import_tensorflow

# Not `import keras`: Keras's TensorFlow backend would make the first TensorFlow import itself,
# with TensorFlow's CUDA probing lines (see hubfn/util/tfimport.py).
keras = import_keras()


# Shapes are nests of tuples (dicts and lists around them); a tuple of ints and Nones is one shape.
def is_shape(x):
    return isinstance(x, (list, tuple)) and all(d is None or isinstance(d, numbers.Integral) for d in x)


def shape_nest(x):
    if x is None:
        return None
    if hasattr(x, "as_list"):  # tf.TensorShape
        x = x.as_list()
    if isinstance(x, dict):
        return {k: shape_nest(v) for k, v in x.items()}
    if is_shape(x):
        return tuple(None if d is None else int(d) for d in x)
    if isinstance(x, (list, tuple)):
        return [shape_nest(v) for v in x]
    raise errors.OutputError(f"output_shape= must be a shape or a nest (dict, list) of shapes, not {x!r}.")


def shape_json(x):
    return None if x is None else map_shapes(list, x)


def map_shapes(fn, nest):
    if isinstance(nest, dict):
        return {k: map_shapes(fn, v) for k, v in nest.items()}
    if isinstance(nest, tuple):
        return fn(nest)
    return [map_shapes(fn, v) for v in nest]


def map_leaves(fn, nest):
    if isinstance(nest, dict):
        return {k: map_leaves(fn, v) for k, v in nest.items()}
    if isinstance(nest, (list, tuple)):
        return type(nest)(map_leaves(fn, v) for v in nest)
    return fn(nest)


def first_dim(input_shape):
    if isinstance(input_shape, dict):
        return first_dim(next(iter(input_shape.values())))
    if is_shape(input_shape):
        return input_shape[0] if input_shape else None
    return first_dim(input_shape[0])


def batch_dim(inputs):
    tf = import_tensorflow()

    first = tf.nest.flatten(inputs)[0]
    shape = getattr(first, "shape", None)
    return shape[0] if shape is not None and len(shape) else None


def placeholders(input_shape, dtypes):
    if isinstance(input_shape, dict):
        return {k: keras.KerasTensor(tuple(s), dtype=dtypes.get(k, "float32") if isinstance(dtypes, dict)
                                     else dtypes) for k, s in input_shape.items()}
    return keras.KerasTensor(tuple(input_shape), dtype=dtypes if isinstance(dtypes, str) else "float32")


def set_shapes(outputs, shapes, batch, handle):
    if isinstance(shapes, tuple):
        try:
            outputs.set_shape((batch, *shapes))
        except ValueError as e:
            raise errors.OutputError(f"hub_layer({handle!r}): output_shape={shapes} does not fit the output "
                                     f"({e}).") from None
    elif isinstance(shapes, dict):
        for key, shape in shapes.items():
            set_shapes(outputs[key], shape, batch, handle)
    else:
        for out, shape in zip(outputs, shapes):
            set_shapes(out, shape, batch, handle)
