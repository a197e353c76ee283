"""Call plans: what a call of a module runs, worked out once per (module, signature, training, policy).

A `CallPlan` is the public answer to "what does this call run": the Way (hubfn.ways.choose, the rule
every caller shares: its name, kind, input and output specs), the label errors name it by, the input
policy (hubfn.input_policies.POLICIES: where the values come from) and a function applying it. module_apply,
batched apply, hub_layer, module_udf's workers and the R package all call modules through one.

Plans are kept per Module value, outside it (a Module holds no mutable state): `_kept` maps the
Module's identity to its plans and drops them when the Module goes. A plan refers to the loaded object,
never to the Module, so keeping it does not keep the Module alive.

Ways in, all with the same input rules:
- a SignatureDef by name, called with named inputs (a dict, or one value for a one-input signature);
- `__call__` of a TF2 module (signature="__call__", or by default), called as it was saved: one tensor,
  a dict, a list, or several arguments;
- a callable sub-object by name (signature="tokenize"), the same way. `arguments=` gives either of these
  the Python keyword arguments they were saved with (e.g. seq_length=16).
"""

import threading
import weakref

import attrs

from . import errors
from .loading import tf1graph
from .input_policies import policy_named
from .inputs import Converter, keyed, unspecified_converter
from .savedmodel.signatures import TF1_HUB
from .util.tfimport import import_tensorflow
from .ways import CALL, Way, choose


@attrs.frozen(eq=False)
class CallPlan:
    """What a call runs and how: `way` (the function, its input and output specs), `where` (its label in
    errors, e.g. "Signature 'default' of '/path'"), `policy` (the input policy's name). Calling it,
    `plan(inputs, as_dict=False, arguments=None)`, checks and converts the inputs, runs the function and
    picks the outputs, as module_apply does."""

    way: Way
    where: str
    policy: str
    _run: object = attrs.field(repr=False)
    _arrange: object = attrs.field(default=None, repr=False)  # the policy's, when it arranges inputs

    @property
    def inputs(self):
        return self.way.inputs

    @property
    def outputs(self):
        return self.way.outputs

    def arrange(self, inputs):
        """The call's inputs in the form the plan converts (the policy's: R lists by input name, Arrow
        columns as NumPy arrays); inputs already in that form are returned as they are."""
        return inputs if self._arrange is None else self._arrange(inputs, self.way, self.where)

    def __call__(self, inputs, as_dict=False, arguments=None):
        if self._arrange is not None:
            inputs = self._arrange(inputs, self.way, self.where)
        outputs = self._run(inputs, arguments)
        if not as_dict and type(outputs) is dict and "default" in outputs:  # the common case, cheaply
            return outputs["default"]
        return _pick_outputs(self.where, outputs, as_dict)


_kept = {}  # id(Module) -> {(signature, training, policy): CallPlan}; dropped when the Module goes
_lock = threading.Lock()


def call_plan(module, signature=None, training=False, policy="python") -> CallPlan:
    """The CallPlan of `module` for (signature, training), made on first use and kept with the Module.

    signature, training: as in module_apply (None picks by hubfn.ways.choose's rule).
    policy: where inputs come from, by name (hubfn.input_policies.POLICIES): "python" (the default), "r" (values
    from R through reticulate) or "arrow" (Spark's Arrow columns).
    """
    key = (signature, training is True or bool(training), policy)
    plans = _kept.get(id(module))
    if plans is not None:
        found = plans.get(key)
        if found is not None:
            return found
    made = _make_plan(module, *key)
    with _lock:
        plans = _kept.get(id(module))
        if plans is None:
            plans = _kept[id(module)] = {}
            weakref.finalize(module, _kept.pop, id(module), None)
        return plans.setdefault(key, made)


# --- plans -----------------------------------------------------------------------------------------
def _make_plan(module, signature, training, policy_name):
    way = choose(module, signature, training)
    name = way.name
    # `label` names it in input errors ("Input 'x' of signature 'default' ('h')", "... of tokenize ('h')").
    label = f"signature {name!r}" if way.kind == "signature" else name
    where = f"{'Signature' if way.kind == 'signature' else 'Function'} {name!r} of {module.handle!r}"
    policy = policy_named(policy_name)
    runner = _signature_runner if way.kind == "signature" else _function_runner
    run = runner(module, way, training, label, where, policy)
    return CallPlan(way=way, where=where, policy=policy_name, run=run, arrange=policy.arrange)


def _converter(t, label, handle, policy, kind="Input"):
    return policy.wrap(Converter(t, f"{kind} {t.name!r} of {label} ({handle!r})"))


def _signature_runner(module, way, training, label, where, policy):
    tf = import_tensorflow()

    name, sig, handle = way.name, way.entry, module.handle
    converters = {t.name: _converter(t, label, handle, policy) for t in sig.inputs}
    expected = sig.input_names
    n_expected = len(expected)
    sparse = [t.name for t in sig.inputs if t.kind == "sparse"]
    fn = _signature_fn(module, name, training)
    obj = module.obj
    train_updates = training and module.trainable and module.format == TF1_HUB

    def run(inputs, arguments):
        if arguments:
            raise errors.InputError(f"{where} is a signature and takes no arguments= ({', '.join(arguments)}); "
                                    "pass everything as named inputs.")
        if type(inputs) is dict and len(inputs) == n_expected and all(k in inputs for k in expected):
            kwargs = {k: converters[k](inputs[k]) for k in expected}
        else:
            values = keyed(inputs, expected, where)
            kwargs = {k: converters[k](values[k]) for k in expected}
        if train_updates:
            outputs = tf1graph.training_call(obj, handle, sig, kwargs)  # runs UPDATE_OPS too, if any
            if outputs is not None:
                return outputs
        for k in sparse:  # TensorFlow's v1 loader takes a sparse input as its three parts
            st = kwargs.pop(k)
            kwargs.update({f"{k}_indices": st.indices, f"{k}_values": st.values, f"{k}_dense_shape": st.dense_shape})
        try:
            return fn(**kwargs)
        except tf.errors.InvalidArgumentError as e:
            # Values that fit each input's spec but not each other (e.g. lengths that differ).
            first = (e.message or str(e)).strip().splitlines()[0]
            raise errors.InputError(
                f"{where} could not run on these inputs: {first}. "
                f"Check that the inputs ({', '.join(expected)}) fit together."
            ) from None

    return run


def _signature_fn(module, name, training):
    if module.inference is not None and not training:
        # A trainable TF1 module's inference graph, on the tuned variables (made at load: hubfn.loading.tf1graph).
        fn = module.inference.signatures.get(name)
        if fn is not None:
            return fn
    try:
        return module.obj.signatures[name]
    except KeyError:  # the tag set's graph lacks it although saved_model.pb listed it
        raise errors.SignatureError(f"Module {module.handle!r}: signature {name!r} cannot be called.") from None


def _function_runner(module, way, training, label, where, policy):
    tf = import_tensorflow()

    name, sig = way.name, way.entry
    fn = module.obj.__call__ if name == CALL else getattr(module.obj, name, None)
    if not callable(fn):
        raise errors.SignatureError(f"Module {module.handle!r}: {name!r} cannot be called.")
    extra = {"training": True} if training and way.takes_training else {}
    # One form per input spec the function was saved for (hubfn.savedmodel.signatures.function_signature): its
    # inference trace's first, then the others. A call takes the first form whose rules accept its inputs
    # and arguments, as TensorFlow runs the concrete function that matches them.
    forms = [_Form(module.handle, label, s, where, policy)
             for s in ([sig] + list(sig.alternatives) if sig is not None else [None])]

    def run(inputs, arguments):
        form, value, kwargs = _accepting(forms, inputs, arguments, where)
        if extra:
            kwargs = {**extra, **kwargs}
        try:
            return fn(*value, **kwargs) if form.spread else fn(value, **kwargs)
        except tf.errors.InvalidArgumentError as e:
            first = (e.message or str(e)).strip().splitlines()[0]
            raise errors.InputError(f"{where} could not run on these inputs: {first}.") from None
        except (ValueError, TypeError) as e:
            if sig is None or "concrete function" not in str(e) and "Binding inputs" not in str(e):
                raise
            raise errors.InputError(
                f"{where} was not saved for these inputs or arguments; it takes {sig.describe_all()}. "
                "Python arguments other than the saved ones go in arguments=."
            ) from None

    return run


class _Form:
    """One form of a function's inputs (a Signature, or None when no specs are known), with its converters:
    `convert(inputs, arguments)` gives (value, keyword arguments) or raises InputError; `spread`: the
    value is the function's several positional arguments."""

    def __init__(self, handle, label, sig, where, policy):
        self.convert_inputs = _structure_converter(handle, label, sig, where, policy)
        self.keyword = {} if sig is None else {
            t.name: _converter(t, label, handle, policy, "Argument") for t in sig.keyword_inputs}
        self.spread = sig is not None and sig.structure == "args"
        self.sig = sig

    def convert(self, inputs, arguments):
        value = self.convert_inputs(inputs)
        if not arguments:
            return value, {}
        keyword = self.keyword
        return value, {k: keyword[k](v) if k in keyword else v for k, v in arguments.items()}


def _accepting(forms, inputs, arguments, where):
    """(form, value, kwargs) of the first form that accepts the inputs; an InputError naming every form
    and why each refused when none does (a function of one form: its own error)."""
    try:
        return (forms[0], *forms[0].convert(inputs, arguments))
    except errors.InputError as e:
        if len(forms) == 1:
            raise
        refused = [e]
    for form in forms[1:]:
        try:
            return (form, *form.convert(inputs, arguments))
        except errors.InputError as e:
            refused.append(e)
    whys = "; ".join(f"as {form.sig.describe()}: {e}" for form, e in zip(forms, refused))
    # The fields (which R words its messages from) only when every form refused for the same reason.
    same = all(e.fields == refused[0].fields for e in refused)
    raise errors.InputError(f"{where} was saved for {len(forms)} forms of inputs and these fit none of them ({whys}).",
                            **(refused[0].fields if same else {}))


def _structure_converter(handle, label, sig, where, policy):
    """A function turning user inputs into what the saved function takes, by its input structure."""
    if sig is None:  # no saved specs: default conversions, as TensorFlow would do
        return unspecified_converter()
    converters = [_converter(t, label, handle, policy) for t in sig.inputs]
    names = sig.input_names
    if sig.structure == "tensor":
        (only,) = converters

        def tensor(inputs):
            if isinstance(inputs, dict):
                inputs = keyed(inputs, names, where)[names[0]]
            return only(inputs)

        return tensor
    if sig.structure == "dict":
        by_name = dict(zip(names, converters))

        def as_dict(inputs):
            values = keyed(inputs, names, where)
            return {k: by_name[k](values[k]) for k in names}

        return as_dict
    if sig.structure == "list":
        def as_list(inputs):
            if not isinstance(inputs, (list, tuple)):
                inputs = [inputs]
            if not converters:
                return list(inputs)
            return [converters[min(i, len(converters) - 1)](v) for i, v in enumerate(inputs)]

        return as_list

    def as_args(inputs):
        if isinstance(inputs, (list, tuple)) and len(inputs) == len(names):
            inputs = dict(zip(names, inputs))
        values = keyed(inputs, names, where)
        return [c(values[k]) for k, c in zip(names, converters)]

    return as_args


# --- outputs -----------------------------------------------------------------------------------
def _pick_outputs(where, outputs, as_dict):
    if not isinstance(outputs, dict):
        return {"default": outputs} if as_dict else outputs
    if as_dict:
        return dict(outputs)
    return pick_output(outputs, None, where, "Pass as_dict=True to get them all.", keywords=(("as_dict", True),))


def pick_output(outputs: dict, key, where: str, fix: str, keywords=None):
    """The output named `key`; with key None, the one named "default", else the only one.

    `where` names the caller in errors ("Signature 'x' of 'h'"); `fix` says what to do about several
    (`keywords`: the arguments it spells, for the error's field of that name).
    """
    if key is None:
        if "default" in outputs:
            return outputs["default"]
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        raise errors.OutputError(
            f"{where} has several outputs and none named \"default\": {', '.join(sorted(outputs))}. {fix}",
            keywords=keywords)
    if key not in outputs:
        raise errors.OutputError(f"{where} has no output {key!r}; its outputs are: {', '.join(sorted(outputs))}.")
    return outputs[key]
