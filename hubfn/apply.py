"""Apply: run one of a module's functions on user inputs and pick the outputs asked for.

The steps: choose the function (hubfn.ways.choose, the rule every caller shares), check and convert
the inputs against its declared specs (hubfn.inputs), call it, and shape the result (`_pick_outputs`).
The choice and the converters depend only on (module, signature, training), so they are made once into
a plan kept on the Module; a call then costs the conversions it needs and TensorFlow's own call.
`batch_size=` hands the plan to hubfn.batch as the function that runs one batch.

Ways in, all with the same input rules:
- a SignatureDef by name, called with named inputs (a dict, or one value for a one-input signature);
- `__call__` of a TF2 module (signature="__call__", or by default), called as it was saved: one tensor,
  a dict, a list, or several arguments;
- a callable sub-object by name (signature="tokenize"), the same way. `arguments=` gives either of these
  the Python keyword arguments they were saved with (e.g. seq_length=16).
"""

from . import batch, errors, tf1graph
from .inputs import Converter, keyed
from .signatures import TF1_HUB
from .util.tfimport import import_tensorflow
from .ways import CALL, choose


def module_apply(module, inputs, signature=None, as_dict=False, training=False, batch_size=None, progress=None,
                 arguments=None):
    """Apply `module` to `inputs`.

    signature: a SignatureDef, `__call__` or a callable sub-object by name; None picks "default", else the
        module's `__call__` (TF2), else "serving_default", else its only signature (hubfn.ways.choose).
    inputs: one value for a one-input function, or a dict keyed by input names (a list for a function
        saved to take a list).
    as_dict: True returns every output as a dict; False returns the "default" (or only) output.
    training: passed to a TF2 module's `__call__` (fine-tuning); a trainable TF1 module runs its {"train"}
        graph only with training=True.
    batch_size: apply to at most this many rows at a time and join the outputs (see hubfn.batch);
    progress: show a progress bar while doing so (None: only on a terminal).
    arguments: keyword arguments for `__call__` or a sub-object: Python ones it was saved with (e.g.
        seq_length=16, return_dict=True) and optional tensor ones (hyperparameters), which are checked and
        converted like inputs.
    """
    run = plan(module, signature, training)
    if batch_size is not None:
        return batch.apply_in_batches(lambda rows: run(rows, as_dict, arguments), inputs, batch_size,
                                      module.handle, progress=progress)
    return run(inputs, as_dict, arguments)


def plan(module, signature=None, training=False):
    """The call plan for (signature, training): made on first use and kept on the Module. `plan.way` is
    the Way it runs."""
    key = (signature, bool(training))
    found = module.plans.get(key)
    if found is None:
        found = module.plans[key] = _make_plan(module, signature, bool(training))
    return found


# --- plans -----------------------------------------------------------------------------------------
def _make_plan(module, signature, training):
    way = choose(module, signature, training)
    name = way.name
    where = f"{'Signature' if way.kind == 'signature' else 'Function'} {name!r} of {module.handle!r}"
    if way.kind == "signature":
        run = _signature_runner(module, name, way.entry, training, where)
    else:
        run = _function_runner(module, way, training, where)

    def call_plan(inputs, as_dict, arguments):
        outputs = run(inputs, arguments)
        if not as_dict and type(outputs) is dict and "default" in outputs:  # the common case, cheaply
            return outputs["default"]
        return _pick_outputs(where, outputs, as_dict)

    call_plan.way = way
    return call_plan


def _signature_runner(module, name, sig, training, where):
    tf = import_tensorflow()

    converters = {t.name: Converter(t, f"Input {t.name!r} of signature {name!r} ({module.handle!r})")
                  for t in sig.inputs}
    expected = sig.input_names
    n_expected = len(expected)
    sparse = [t.name for t in sig.inputs if t.kind == "sparse"]
    fn = _signature_fn(module, name, training)
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
            outputs = tf1graph.training_call(module, sig, kwargs)  # runs UPDATE_OPS too, if any
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
    if module.format == TF1_HUB and module.trainable and not training:
        # The inference graph on the tuned variables.
        fn = tf1graph.inference_signature(module, name, module.variables)
        if fn is not None:
            return fn
    try:
        return module.obj.signatures[name]
    except KeyError:  # the tag set's graph lacks it although saved_model.pb listed it
        raise errors.SignatureError(f"Module {module.handle!r}: signature {name!r} cannot be called.") from None


def _function_runner(module, way, training, where):
    tf = import_tensorflow()

    name, sig = way.name, way.entry
    fn = module.obj.__call__ if name == CALL else getattr(module.obj, name, None)
    if not callable(fn):
        raise errors.SignatureError(f"Module {module.handle!r}: {name!r} cannot be called.")
    extra = {"training": True} if training and way.takes_training else {}
    # One form per input spec the function was saved for (hubfn.signatures.function_signature): its
    # inference trace's first, then the others. A call takes the first form whose rules accept its inputs
    # and arguments, as TensorFlow runs the concrete function that matches them.
    forms = [_Form(module, name, s, where) for s in ([sig] + list(sig.alternatives) if sig is not None else [None])]

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

    def __init__(self, module, name, sig, where):
        self.convert_inputs = _structure_converter(module, name, sig, where)
        self.keyword = {} if sig is None else {
            t.name: Converter(t, f"Argument {t.name!r} of {name!r} ({module.handle!r})") for t in sig.keyword_inputs}
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


def _structure_converter(module, name, sig, where):
    """A function turning user inputs into what the saved function takes, by its input structure."""
    if sig is None:  # no saved specs: default conversions, as TensorFlow would do
        return _default_converter()
    converters = [Converter(t, f"Input {t.name!r} of {name!r} ({module.handle!r})") for t in sig.inputs]
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


def _default_converter():
    import numpy as np
    tf = import_tensorflow()

    def convert(value):
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (tf.Tensor, tf.Variable, tf.RaggedTensor, tf.SparseTensor)):
            return value
        arr = np.asarray(value)
        return tf.convert_to_tensor(arr.astype(np.float32) if arr.dtype == np.float64 else arr)

    return convert


# --- outputs -----------------------------------------------------------------------------------
def _pick_outputs(where, outputs, as_dict):
    if not isinstance(outputs, dict):
        return {"default": outputs} if as_dict else outputs
    if as_dict:
        return dict(outputs)
    return pick_output(outputs, None, where, "Pass as_dict=True to get them all.")


def pick_output(outputs: dict, key, where: str, fix: str):
    """The output named `key`; with key None, the one named "default", else the only one.

    `where` names the caller in errors ("Signature 'x' of 'h'"); `fix` says what to do about several.
    """
    if key is None:
        if "default" in outputs:
            return outputs["default"]
        if len(outputs) == 1:
            return next(iter(outputs.values()))
        raise errors.OutputError(
            f"{where} has several outputs and none named \"default\": {', '.join(sorted(outputs))}. {fix}"
        )
    if key not in outputs:
        raise errors.OutputError(f"{where} has no output {key!r}; its outputs are: {', '.join(sorted(outputs))}.")
    return outputs[key]
