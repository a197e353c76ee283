"""Signatures as plain values: what a module's functions take and give, read without loading it.

Everything here comes from `saved_model.pb` (the MetaGraphDefs and their SignatureDefs), so listing a
module's signatures costs a file read, not a TensorFlow load.
"""

import os

import attrs

from .. import errors
from . import moduledir, objectgraph
from ..util.tfimport import import_tensorflow

TF2 = "tf2"
TF1_HUB = "tf1_hub"

# Signature keys TensorFlow writes for its own bookkeeping, never meant to be called.
_INTERNAL_SIGNATURES = {"__saved_model_init_op", "__saved_model_train_op"}


def _shape_tuple(shape):
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)


@attrs.frozen
class TensorInfo:
    """One input or output: its name, dtype name ("float32") and shape (None for unknown dims).

    kind: "dense" (a tf.Tensor), "ragged" (tf.RaggedTensor), "sparse" (tf.SparseTensor), "list" (a list of
    `length` tensors of this dtype and shape, e.g. a BERT encoder's encoder_outputs) or "other".
    """

    name: str
    dtype: str
    shape: tuple | None = attrs.field(converter=_shape_tuple)  # None: unknown rank
    # The graph tensor behind it ("x:0"), used to run TF1 graphs; not part of the value.
    tensor_name: str | None = attrs.field(default=None, eq=False, repr=False)
    kind: str = "dense"
    length: int | None = None

    def describe(self) -> str:
        prefix = {"dense": "", "list": f"list of {self.length} "}.get(self.kind, self.kind + " ")
        return f"{self.name}: {prefix}{self.dtype}{format_shape(self.shape)}"

    def as_dict(self) -> dict:
        out = {"name": self.name, "dtype": self.dtype, "shape": None if self.shape is None else list(self.shape)}
        if self.kind != "dense":  # dense stays the plain three keys every caller knows
            out["kind"] = self.kind
        if self.kind == "list":
            out["length"] = self.length
        return out


@attrs.frozen
class Signature:
    """A named function of a module with its inputs and outputs, in name order.

    A SignatureDef has kind "signature" (called with named inputs). A function from the object graph
    (`__call__`, or a callable sub-object such as `tokenize`) has kind "function" and says how its inputs
    are passed (`structure`: "tensor", "dict", "list" or "args"), the Python arguments it was saved with
    (`options`, e.g. training=False; pass others with arguments=) and what it returns ("tensor", "dict", "list").
    """

    name: str
    inputs: tuple = attrs.field(converter=tuple)
    outputs: tuple = attrs.field(converter=tuple)
    kind: str = "signature"
    structure: str = "dict"
    options: tuple = attrs.field(default=(), converter=tuple)  # (name, value) pairs
    returns: str = "dict"
    keyword_inputs: tuple = attrs.field(default=(), converter=tuple)  # optional tensor arguments (arguments=)
    defaults: tuple = attrs.field(default=(), converter=tuple)  # (name, saved Python default) of arguments
    # A function saved with concrete functions for other inputs too (a BERT preprocessor's bert_pack_inputs
    # for tokens of rank 2 and of rank 3): one Signature per other form it takes, which TensorFlow would
    # pick for inputs of that form. The fields above describe the inference trace (see function_signature).
    alternatives: tuple = attrs.field(default=(), converter=tuple)

    @property
    def input_names(self):
        return tuple(t.name for t in self.inputs)

    @property
    def output_names(self):
        return tuple(t.name for t in self.outputs)

    @property
    def takes_training(self) -> bool:
        return any(k == "training" for k, _ in self.options)

    def describe(self) -> str:
        ins = ", ".join(t.describe() for t in self.inputs)
        if self.kind == "function":
            ins = {"dict": "{%s}", "list": "[%s]"}.get(self.structure, "%s") % ins
            ins = ", ".join([ins] + [f"{t.describe()} = optional" for t in self.keyword_inputs]
                            + [f"{k}={v!r}" for k, v in self.options])
        outs = ", ".join(t.describe() for t in self.outputs)
        return f"{self.name}({ins}) -> {{{outs}}}"

    def describe_lines(self) -> list:
        """describe(), then one "  or ..." line per alternative form of its inputs."""
        return [self.describe()] + [f"  or {a.describe()}" for a in self.alternatives]

    def describe_all(self) -> str:
        """Every form the function takes, on one line (for error messages)."""
        return "; or ".join([self.describe()] + [a.describe() for a in self.alternatives])

    @property
    def form(self):
        """What a trace takes, for telling alternatives apart: the input structure, the inputs (a list's
        elements by spec, whatever their number: the list converter takes any number), the keyword
        inputs and the Python options other than `training` (a training trace is the same form)."""
        if self.structure == "list":
            inputs = frozenset((t.dtype, t.shape, t.kind) for t in self.inputs)
        else:
            inputs = self.inputs
        return (self.structure, inputs, self.keyword_inputs,
                tuple((k, v) for k, v in self.options if k != "training"))

    def as_dict(self) -> dict:
        out = {"name": self.name,
               "inputs": [t.as_dict() for t in self.inputs],
               "outputs": [t.as_dict() for t in self.outputs]}
        if self.kind == "function":
            out.update(kind="function", structure=self.structure, options=dict(self.options), returns=self.returns)
            if self.keyword_inputs:
                out["keyword_inputs"] = [t.as_dict() for t in self.keyword_inputs]
            if self.alternatives:
                out["alternatives"] = [a.as_dict() for a in self.alternatives]
        return out


@attrs.frozen
class Variant:
    """One graph variant (MetaGraph): its tag set, signatures and (TF2) object-graph functions.

    call_without_specs: the root has a `__call__` whose input specs `saved_model.pb` does not hold in a
    form read here (a bare concrete function); hubfn.ways reads them from the loaded object.
    """

    tags: frozenset = attrs.field(converter=frozenset)
    signatures: tuple = attrs.field(converter=tuple)
    functions: tuple = attrs.field(default=(), converter=tuple)
    call_without_specs: bool = False

    @property
    def listing(self):
        return listing(self.signatures, self.functions)


def listing(signatures, functions) -> tuple:
    """Signatures, then `__call__`, then the other functions that are not the same function again.

    A function named like a signature, or a sub-object taking and giving exactly what an entry already
    listed takes and gives (an exporter's wrapper, a signature's source function), is left out of
    listings; it can still be called by name.
    """
    out = list(signatures)
    seen = {(s.name,) for s in out} | {(s.inputs, s.outputs) for s in out}
    for f in sorted(functions, key=lambda f: f.name != "__call__"):
        if (f.name,) in seen or (f.name != "__call__" and (f.inputs, f.outputs) in seen):
            continue
        out.append(f)
        seen |= {(f.name,), (f.inputs, f.outputs)}
    return tuple(out)


def find(signatures, functions, name, handle, also=()):
    """The entry called `name`, a signature winning over a function of the same name; otherwise a
    SignatureError listing what there is (the listing, then the names in `also`)."""
    for s in tuple(signatures) + tuple(functions):
        if s.name == name:
            return s
    listed = [s.name for s in listing(signatures, functions)] + list(also)
    raise errors.SignatureError(
        f"Module {handle!r} has no signature {name!r}; it has: {', '.join(listed) or '(none)'}."
    )


def has_call(functions, call_without_specs) -> bool:
    """Whether a variant has a `__call__`, with its specs read (one of `functions`) or not. Only TF2
    modules have object-graph functions, so a TF1 hub module never has one."""
    return call_without_specs or any(f.name == "__call__" for f in functions)


@attrs.frozen
class SavedModelInfo:
    """What a module directory holds: its format and its graph variants."""

    path: str
    format: str = attrs.field(validator=attrs.validators.in_([TF2, TF1_HUB]))
    variants: tuple = attrs.field(converter=tuple)
    ops: frozenset = attrs.field(default=frozenset(), converter=frozenset)  # op types its graphs run

    @property
    def tag_sets(self):
        return tuple(v.tags for v in self.variants)

    def variant(self, tags) -> Variant:
        """The variant with exactly these tags; None means the empty set (TF1) or the only/serve one (TF2)."""
        if tags is None:
            if self.format == TF1_HUB or len(self.variants) == 1:
                wanted = frozenset() if self.format == TF1_HUB else self.variants[0].tags
            else:
                wanted = frozenset({"serve"})
        else:
            wanted = frozenset(tags)
        for v in self.variants:
            if v.tags == wanted:
                return v
        raise errors.TagsError(
            f"Module {self.path!r} has no graph variant with tags {format_tags(wanted)}; "
            f"its tag sets are: {', '.join(format_tags(t) for t in self.tag_sets)}."
        )


TRAIN_TAGS = frozenset({"train"})


def as_tags(tags):
    """A caller's tags as hubfn holds them: None, or a frozenset of tag strings (a single string is one
    tag, not a set of letters; bytes are decoded; R's character vectors arrive as lists)."""
    if tags is None:
        return None
    if isinstance(tags, (str, bytes)):
        tags = [tags]
    return frozenset(t.decode() if isinstance(t, bytes) else str(t) for t in tags)


def choose_tags(info: SavedModelInfo, tags, trainable: bool, keep=None):
    """The rule for which graph variant to load, in one place.

    `tags` named by the caller win. Otherwise fine-tuning a TF1 hub module that has a {"train"} variant
    picks it (that graph holds the dropout, batch-norm updates and regularization losses meant for
    training). Otherwise `keep` (the variant of a Module being made anew), else None: the default variant.
    """
    if tags is not None:
        return frozenset(tags)
    if trainable and info.format == TF1_HUB and TRAIN_TAGS in info.tag_sets:
        return TRAIN_TAGS
    return None if keep is None else frozenset(keep)


def format_shape(shape, unknown="<unknown rank>") -> str:
    """"[?, 2]" for (None, 2); `unknown` for a shape of unknown rank (None)."""
    if shape is None:
        return unknown
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def format_tags(tags) -> str:
    return "{" + ", ".join(f'"{t}"' for t in sorted(tags)) + "}"


def _tensor_info(name, proto) -> TensorInfo:
    encoding = proto.WhichOneof("encoding")
    kind = {"name": "dense", "coo_sparse": "sparse"}.get(encoding, "other")
    return TensorInfo(name=name, dtype=objectgraph.dtype_name(proto.dtype), shape=objectgraph.shape(proto.tensor_shape),
                      tensor_name=proto.name or None, kind=kind)


def _spec_info(name, spec) -> TensorInfo:
    if isinstance(spec, list) and spec and all(isinstance(s, objectgraph.Spec) for s in spec):
        return TensorInfo(name=name, dtype=spec[0].dtype, shape=spec[0].shape, kind="list", length=len(spec))
    if not isinstance(spec, objectgraph.Spec):
        return TensorInfo(name=name, dtype="nested", shape=None, kind="other")
    return TensorInfo(name=name, dtype=spec.dtype, shape=spec.shape, kind=spec.kind)


def function_signature(name, arg_names, concrete) -> Signature:
    """The Signature (kind "function") of a function from its argument names and defaults and its saved
    concrete functions as objectgraph values, [(args, kwargs, outputs)]; inputs and outputs are those of
    the inference trace, and `alternatives` the other forms of inputs its traces take (TensorFlow runs
    whichever trace matches a call). Also used for a function read from the loaded object (hubfn.ways)."""
    chosen = objectgraph.inference_trace(arg_names, concrete)
    main = _trace_signature(name, arg_names, chosen)
    forms, alternatives = {main.form}, []
    for trace in concrete:
        if trace is chosen or objectgraph.is_training_trace(arg_names, trace):
            continue
        other = _trace_signature(name, arg_names, trace)
        if other.form not in forms:
            forms.add(other.form)
            alternatives.append(other)
    return attrs.evolve(main, alternatives=alternatives)


def _trace_signature(name, arg_names, chosen) -> Signature:
    structure, inputs, keyword, options = objectgraph.describe_inputs(arg_names, chosen)
    returns, outputs = objectgraph.describe_outputs(chosen[2])
    keyword_names = {n for n, _ in keyword}
    return Signature(name=name, kind="function", structure=structure, returns=returns,
                     inputs=[_spec_info(n, s) for n, s in inputs],
                     keyword_inputs=[_spec_info(n, s) for n, s in keyword],
                     outputs=[_spec_info(n, s) for n, s in outputs],
                     options=sorted(options.items()),
                     defaults=sorted((k, v) for k, v in arg_names[1].items() if k in keyword_names))


def _functions(meta_graph) -> list:
    """Signatures (kind "function") of the root's `__call__` and callable sub-objects."""
    return [function_signature(name, arg_names, concrete)
            for name, (arg_names, concrete) in sorted(objectgraph.callables(meta_graph).items())]


def read_saved_model(path: str, proto=None) -> SavedModelInfo:
    """Parse `path/saved_model.pb` into a SavedModelInfo (or read `proto`, that file already parsed); a
    damaged file gives CorruptModuleError."""
    proto = parse_saved_model(path) if proto is None else proto
    fmt = TF1_HUB if moduledir.is_tf1_hub(path) else TF2
    variants = []
    for mg in proto.meta_graphs:
        sigs = []
        for key in sorted(mg.signature_def):
            if key in _INTERNAL_SIGNATURES:
                continue
            sd = mg.signature_def[key]
            sigs.append(Signature(
                name=key,
                inputs=[_tensor_info(k, sd.inputs[k]) for k in sorted(sd.inputs)],
                outputs=[_tensor_info(k, sd.outputs[k]) for k in sorted(sd.outputs)],
            ))
        functions = _functions(mg) if fmt == TF2 else ()
        unread_call = fmt == TF2 and objectgraph.has_root_call(mg) and all(f.name != "__call__" for f in functions)
        variants.append(Variant(tags=mg.meta_info_def.tags, signatures=sigs, functions=functions,
                                call_without_specs=unread_call))
    return SavedModelInfo(path=path, format=fmt, variants=variants, ops=used_ops(proto))


def used_ops(proto) -> frozenset:
    """Every op type a SavedModel proto's graphs run: graph nodes and function bodies of every MetaGraphDef.

    TF2 modules keep nearly all their ops inside the function library, so the bodies are read too. A node
    whose "op" names one of the library's functions is a call, not an op, and is left out.
    """
    ops = set()
    for mg in proto.meta_graphs:
        library = mg.graph_def.library
        used = {node.op for node in mg.graph_def.node}
        for f in library.function:
            used.update(node.op for node in f.node_def)
        ops |= used - {f.signature.name for f in library.function}
    return frozenset(ops)


def parse_saved_model(path: str):
    """The SavedModel proto of `path/saved_model.pb`; NotAModuleError / CorruptModuleError when it is
    missing, damaged or holds no graph."""
    from google.protobuf.message import DecodeError
    import_tensorflow()  # often the process's first TensorFlow import: `hubfn info`, hub_load (util/tfimport)
    from tensorflow.core.protobuf import saved_model_pb2

    pb_path = os.path.join(path, "saved_model.pb")
    try:
        with open(pb_path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise errors.NotAModuleError(f"{path!r} has no saved_model.pb, so it is not a SavedModel.") from None
    proto = saved_model_pb2.SavedModel()
    try:
        proto.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as e:
        raise errors.CorruptModuleError(
            f"{pb_path!r} is damaged and cannot be parsed ({e}); fetch or export the module again."
        ) from None
    if not proto.meta_graphs:
        raise errors.CorruptModuleError(f"{pb_path!r} holds no graph; fetch or export the module again.")
    return proto
