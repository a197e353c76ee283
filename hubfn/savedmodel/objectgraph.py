"""The functions a TF2 module carries in its object graph, read from `saved_model.pb` without loading it.

A reusable SavedModel is called through `__call__`, not only through SignatureDefs, and some modules have
callable sub-objects (a BERT preprocessor's `tokenize` and `bert_pack_inputs`). Their saved concrete
functions record the input structure (one tensor, a dict, a list, several arguments), each input's
TensorSpec / RaggedTensorSpec / SparseTensorSpec, the Python arguments they were traced with (e.g.
`training`) and the structure of what they return: everything needed to list them and check inputs, as
for signatures. The protos are decoded here by hand so that listing (and the served page) needs no load.
"""

import re

from ..util.tfimport import import_tensorflow

# Root children that are Keras or SavedModel bookkeeping, never meant to be called by users.
_HIDDEN = re.compile(r"^(_.*|layer(_with_weights)?-\d+|keras_api|signatures|variables|trainable_variables|"
                     r"regularization_losses|call_and_return_(all_)?conditional_losses)$")


class Spec:
    """One tensor in a saved structure: kind ("dense", "ragged", "sparse", "other"), dtype name, shape."""

    __slots__ = ("kind", "dtype", "shape", "name")

    def __init__(self, kind, dtype, shape, name=None):
        self.kind, self.dtype, self.shape, self.name = kind, dtype, shape, name


# Shared with signatures.py, whose SignatureDef TensorInfos carry the same DataType enum and TensorShapeProto.
def dtype_name(enum_value) -> str:
    """The dtype name ("float32") of a DataType enum value."""
    import_tensorflow()  # the package first (every tensorflow.* import brings all of it), see util/tfimport
    from tensorflow.python.framework import dtypes

    return dtypes.as_dtype(enum_value).name


def shape(proto):
    """A TensorShapeProto as a tuple, None for an unknown dim; None for an unknown rank."""
    if proto.unknown_rank:
        return None
    return tuple(None if d.size < 0 else d.size for d in proto.dim)


def decode(sv):
    """A StructuredValue proto as Python: Spec for tensors, dict/list/tuple, plain values."""
    import_tensorflow()
    from tensorflow.core.protobuf import struct_pb2

    kind = sv.WhichOneof("kind")
    if kind in ("tensor_spec_value", "bounded_tensor_spec_value"):
        spec = getattr(sv, kind)
        return Spec("dense", dtype_name(spec.dtype), shape(spec.shape), spec.name or None)
    if kind == "type_spec_value":
        ts = sv.type_spec_value
        cls = struct_pb2.TypeSpecProto.TypeSpecClass.Name(ts.type_spec_class)
        state = decode(ts.type_state)
        if cls in ("RAGGED_TENSOR_SPEC", "SPARSE_TENSOR_SPEC") and isinstance(state, tuple) and len(state) >= 2:
            return Spec("ragged" if cls.startswith("RAGGED") else "sparse", state[1], state[0])
        return Spec("other", ts.type_spec_class_name or cls, None)
    if kind in ("list_value", "tuple_value"):
        values = [decode(v) for v in getattr(sv, kind).values]
        return values if kind == "list_value" else tuple(values)
    if kind == "dict_value":
        return {k: decode(v) for k, v in sv.dict_value.fields.items()}
    if kind == "named_tuple_value":
        return {p.key: decode(p.value) for p in sv.named_tuple_value.values}
    if kind == "tensor_shape_value":
        return shape(sv.tensor_shape_value)
    if kind == "tensor_dtype_value":
        return dtype_name(sv.tensor_dtype_value)
    if kind in (None, "none_value"):
        return None
    return getattr(sv, kind)


def _has_spec(value):
    if isinstance(value, Spec):
        return True
    if isinstance(value, dict):
        return any(_has_spec(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_spec(v) for v in value)
    return False


def _arg_names(function_proto):
    """(argument names, {name: saved Python default} of those with one)."""
    spec = decode(function_proto.function_spec.fullargspec) if function_proto.HasField("function_spec") else {}
    spec = spec or {}
    args = list(spec.get("args") or [])
    if function_proto.function_spec.is_method and args and args[0] == "self":
        args = args[1:]
    defaults = tuple(spec.get("defaults") or ())
    saved = dict(zip(args[len(args) - len(defaults):], defaults)) if defaults else {}
    kwonly = list(spec.get("kwonlyargs") or [])
    saved.update(spec.get("kwonlydefaults") or {})
    return args + kwonly, saved


def _concrete(og, function_proto):
    """[(args tuple, kwargs dict, outputs)] of a function node's saved concrete functions."""
    out = []
    for name in function_proto.concrete_functions:
        cf = og.concrete_functions.get(name)
        if cf is None:
            continue
        sig = decode(cf.canonicalized_input_signature)
        args, kwargs = (sig if isinstance(sig, tuple) and len(sig) == 2 else ((), {}))
        out.append((tuple(args or ()), dict(kwargs or {}), decode(cf.output_signature)))
    return out


def callables(meta_graph):
    """{name: (arg names and defaults, [(args, kwargs, outputs), ...])} for `__call__` and callable
    sub-objects of the root.

    A sub-object is callable when it is a saved function, or an object with a saved `__call__` (as restored
    Keras layers are).
    """
    og = meta_graph.object_graph_def
    if not og.nodes:
        return {}
    found = {}
    for child in og.nodes[0].children:
        name, node = child.local_name, og.nodes[child.node_id]
        if name != "__call__" and _HIDDEN.match(name):
            continue
        fn = None
        if node.WhichOneof("kind") == "function":
            fn = node.function
        elif node.WhichOneof("kind") == "user_object" and name != "__call__":
            for grandchild in node.children:
                sub = og.nodes[grandchild.node_id]
                if grandchild.local_name == "__call__" and sub.WhichOneof("kind") == "function":
                    fn = sub.function
        if fn is not None:
            concrete = _concrete(og, fn)
            if concrete:
                found[name] = (_arg_names(fn), concrete)
    return found


def has_root_call(meta_graph) -> bool:
    """Whether the root object has a `__call__` at all, with readable specs or not (a bare concrete
    function saved as `__call__` has none that `callables` reads: the loaded object tells them)."""
    og = meta_graph.object_graph_def
    return bool(og.nodes) and any(c.local_name == "__call__" for c in og.nodes[0].children)


def inference_trace(arg_names, concrete):
    """The saved concrete function that describes a function: the one traced with training=False when
    there are several (the one inference runs), else the first."""
    names = arg_names[0]
    at = names.index("training") if "training" in names else None
    for c in concrete:
        if at is not None and at < len(c[0]) and c[0][at] is False:
            return c
    return concrete[0]


def is_training_trace(arg_names, trace):
    """Whether a saved concrete function was traced with training=True (the same inputs as its
    inference twin, for fine-tuning)."""
    names = arg_names[0]
    args, kwargs = trace[0], trace[1]
    at = names.index("training") if "training" in names else None
    return (at is not None and at < len(args) and args[at] is True) or kwargs.get("training") is True


def describe_inputs(arg_names, chosen):
    """(structure, [(input name, Spec)], [(keyword input name, Spec)], {option: traced value}) of one
    concrete function (see `inference_trace`).

    The inputs are the tensor arguments without a default: structure "tensor" (one tensor), "dict" (one
    dict of tensors), "list" (one list of tensors) or "args" (several). Tensor arguments with a default
    (hyperparameters such as `a=1.0`) are keyword inputs, given with arguments= and checked by the same
    rules. Options are the Python arguments (training, seq_length, ...).
    """
    arg_names, saved = arg_names
    optional = set(saved)
    args, kwargs, _ = chosen
    names = arg_names + [f"arg{i}" for i in range(len(arg_names), len(args))]
    tensors, keyword, options = [], [], {}
    for name, value in list(zip(names, args)) + sorted(kwargs.items()):
        if not _has_spec(value):
            options[name] = value
        elif name in optional and tensors:
            keyword.append((name, value))
        else:
            tensors.append((name, value))
    if len(tensors) == 1:
        name, value = tensors[0]
        if isinstance(value, Spec):
            return "tensor", [(name, value)], keyword, options
        if isinstance(value, dict):
            return "dict", sorted(value.items()), keyword, options
        if isinstance(value, (list, tuple)):
            return "list", [(f"{name}[{i}]", v) for i, v in enumerate(value)], keyword, options
    return "args", tensors, keyword, options


def describe_outputs(outputs):
    """(returns, [(output name, Spec or list of Specs)]): returns is "tensor", "dict", "list" or "none"."""
    if isinstance(outputs, Spec):
        return "tensor", [("default", outputs)]
    if isinstance(outputs, dict):
        return "dict", sorted(outputs.items())
    if isinstance(outputs, (list, tuple)):
        return "list", [(f"output_{i}", v) for i, v in enumerate(outputs)]
    return "none", []
