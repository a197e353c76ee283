"""Ways in: which of a module's functions a call runs, decided by one rule for every caller.

A module is entered through a SignatureDef, its `__call__` (TF2) or a callable sub-object (a BERT
preprocessor's `tokenize`). A `Way` is the one chosen for a call, with what it takes and gives. Ways are
made from what `saved_model.pb` declares (hubfn.savedmodel.signatures, read once per module), so choosing needs no
TensorFlow load: module_udf chooses on the driver from the file alone. The loaded object is read only
for a `__call__` whose specs the file does not hold in a form hubfn reads (a bare concrete function).

`choose` is the rule. Its callers: module_apply and batched apply (hubfn.apply), hub_layer (which
passes prefer="__call__": tensorflow_hub's KerasLayer runs `__call__` whenever there is one),
module_udf on the driver, and the R package (hubfn_r_helpers.chosen_way, through `Way.as_data`).
"""

import attrs

from . import errors
from .savedmodel import objectgraph
from .savedmodel.signatures import SavedModelInfo, find, function_signature, has_call, listing
from .util.tfimport import import_tensorflow

CALL = "__call__"


@attrs.frozen
class Way:
    """The function a call runs: `name`, `kind` ("signature": named inputs; "function": `__call__` or a
    sub-object, called as saved) and `entry`, the Signature saying what it takes and gives (None when
    nothing is known: a `__call__` without saved specs whose loaded object shows none either).

    from_loaded: the entry was read from the loaded object, not from saved_model.pb.
    """

    name: str
    kind: str
    entry: object = None  # hubfn.savedmodel.signatures.Signature
    from_loaded: bool = False

    @property
    def inputs(self):
        """The inputs (TensorInfo), or None when not known (inputs then go to TensorFlow as they are)."""
        return None if self.entry is None else self.entry.inputs

    @property
    def input_names(self):
        return () if self.entry is None else self.entry.input_names

    @property
    def outputs(self):
        return () if self.entry is None else self.entry.outputs

    @property
    def structure(self) -> str:
        """How inputs are passed: "dict" (named, as every signature), "tensor", "list", "args"; "unknown"."""
        return "unknown" if self.entry is None else self.entry.structure

    @property
    def returns_dict(self) -> bool:
        return self.entry is not None and self.entry.returns == "dict"

    @property
    def takes_training(self) -> bool:
        return self.entry is not None and self.entry.takes_training

    @property
    def keyword_inputs(self):
        return () if self.entry is None else self.entry.keyword_inputs

    @property
    def defaults(self) -> dict:
        """Saved Python defaults of the optional tensor arguments (hyperparameters such as a=1.0)."""
        return {} if self.entry is None else dict(self.entry.defaults)

    def describe(self) -> str:
        return f"{self.name} (input specs not saved)" if self.entry is None else self.entry.describe()

    def as_data(self) -> dict:
        """Plain data (for R and for comparing callers): name, kind, inputs and outputs as
        [{name, dtype, shape, kind}] (inputs None when not known), structure, takes_training, returns_dict."""
        return {"name": self.name, "kind": self.kind,
                "inputs": None if self.inputs is None else [_tensor_data(t) for t in self.inputs],
                "structure": self.structure, "takes_training": self.takes_training,
                "returns_dict": self.returns_dict, "outputs": [_tensor_data(t) for t in self.outputs]}


def _tensor_data(t):
    return {"name": t.name, "dtype": t.dtype, "shape": None if t.shape is None else list(t.shape), "kind": t.kind}


def choose(source, signature=None, training=False, prefer=None, *, tags=None, load=None) -> Way:
    """The Way a call runs.

    source: a Module, or a SavedModelInfo read without loading (`tags` picks its graph variant, as
        hub_load's do; `load`, if given, returns the loaded object, called only for a `__call__` whose
        specs saved_model.pb does not hold).
    signature: a SignatureDef, `__call__` or sub-object by name. None picks, in order: `__call__` when
        training (signatures are traced for inference; only `__call__` can take training=True), then
        `prefer` when the module has it, then "default", then `__call__`, then "serving_default" (a Keras 3
        `model.export`), then the only signature.
    """
    module = _Source.of(source, tags, load)
    name = signature if signature is not None else _default_name(module, bool(training), prefer)
    return module.way(name)


def _default_name(module, training, prefer):
    names = module.signature_names
    if training and module.has_call:
        return CALL
    if prefer is not None and module.has(prefer):
        return prefer
    if "default" in names:
        return "default"
    if module.has_call:
        return CALL
    if "serving_default" in names:
        return "serving_default"
    if len(names) == 1:
        return names[0]
    raise errors.SignatureError(
        f"Module {module.handle!r} has no \"default\" signature and no __call__; pick one with "
        f"signature=...: {', '.join(s.name for s in module.listing) or '(none)'}."
    )


class _Source:
    """What choosing reads, alike for a Module and for a SavedModelInfo's variant."""

    def __init__(self, handle, fmt, signatures, functions, call_without_specs, load):
        self.handle, self.format, self._load = handle, fmt, load
        self.signatures, self.functions = tuple(signatures), tuple(functions)
        self.call_without_specs = call_without_specs
        self.signature_names = tuple(s.name for s in self.signatures)
        self.function_names = tuple(f.name for f in self.functions)
        self.has_call = has_call(self.functions, call_without_specs)

    @classmethod
    def of(cls, source, tags, load):
        if isinstance(source, SavedModelInfo):
            variant = source.variant(tags)
            return cls(source.path, source.format, variant.signatures, variant.functions,
                       variant.call_without_specs, load)
        # A Module (not imported here: hubfn.module calls into hubfn.apply, which calls here).
        return cls(source.handle, source.format, source.signatures, source.functions,
                   source.call_without_specs, lambda: source.obj)

    @property
    def listing(self):
        return listing(self.signatures, self.functions)

    def has(self, name) -> bool:
        return name in self.signature_names or name in self.function_names or name == CALL and self.has_call

    def way(self, name) -> Way:
        if name == CALL and self.call_without_specs:  # the one case that reads the loaded object
            entry = None if self._load is None else loaded_entry(self._load(), CALL)
            return Way(name=CALL, kind="function", entry=entry, from_loaded=entry is not None)
        entry = find(self.signatures, self.functions, name, self.handle,
                     also=[CALL] if self.call_without_specs else [])
        return Way(name=name, kind=entry.kind, entry=entry)


# --- the fallback: specs from the loaded object ------------------------------------------------------
def loaded_entry(obj, name):
    """The Signature of function `name` of a loaded SavedModel object, from its traced concrete
    functions, described by the same rules as saved_model.pb's (hubfn.savedmodel.signatures.function_signature);
    None when it shows no trace."""
    fn = getattr(obj, name, None)
    if _traces(fn) is None:  # a sub-object with a saved __call__
        fn = getattr(fn, "__call__", None)
    traces = _traces(fn)
    if not traces:
        return None
    concrete = []
    for c in traces:
        args, kwargs = c.structured_input_signature
        concrete.append((tuple(_spec(a) for a in args), {k: _spec(v) for k, v in kwargs.items()},
                         _spec(c.structured_outputs)))
    return function_signature(name, _argument_names(fn, traces[0]), concrete)


def _traces(fn):
    """The concrete functions of a restored tf.function, [fn] for a bare concrete function, else None."""
    if getattr(fn, "concrete_functions", None) is not None:
        return list(fn.concrete_functions)
    return [fn] if hasattr(fn, "structured_input_signature") else None


def _argument_names(fn, trace):
    """(argument names, {name: Python default}) of a restored function, as objectgraph reads them from
    saved_model.pb: from its saved argument spec, else (a bare concrete function) its trace's parameters."""
    argspec = getattr(getattr(fn, "function_spec", None), "fullargspec", None)
    if argspec is not None:
        args = [a for a in argspec.args if a != "self"]
        defaults = tuple(argspec.defaults or ())
        saved = dict(zip(args[len(args) - len(defaults):], defaults)) if defaults else {}
        saved.update(argspec.kwonlydefaults or {})
        return args + list(argspec.kwonlyargs), saved
    function_type = getattr(trace, "function_type", None)
    return ([] if function_type is None else [p for p in function_type.parameters if p != "self"]), {}


def _spec(value):
    """TensorFlow specs (and nests of them) as objectgraph.Spec values; plain values as they are."""
    tf = import_tensorflow()

    if isinstance(value, (tf.Tensor, tf.RaggedTensor, tf.SparseTensor)):  # outputs may be symbolic tensors
        value = tf.type_spec_from_value(value)
    if isinstance(value, tf.TensorSpec):
        return objectgraph.Spec("dense", value.dtype.name, _shape(value.shape), value.name)
    if isinstance(value, (tf.RaggedTensorSpec, tf.SparseTensorSpec)):
        kind = "ragged" if isinstance(value, tf.RaggedTensorSpec) else "sparse"
        return objectgraph.Spec(kind, value.dtype.name, _shape(value.shape))
    if isinstance(value, dict):
        return {k: _spec(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_spec(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_spec(v) for v in value)
    return value


def _shape(shape):
    return None if shape.rank is None else tuple(shape.as_list())
