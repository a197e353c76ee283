"""Apply: run one of a module's functions on user inputs and pick the outputs asked for.

The steps, in order: choose the function (`_select`), check and convert the inputs against its
signature (`_convert_inputs`), call it, and shape the result (`_pick_outputs`).
"""

import numpy as np

from . import errors
from .signatures import TF1_HUB, format_shape

CALL = "__call__"


def module_apply(module, inputs, signature=None, as_dict=False, training=False, batch_size=None, progress=None,
                 arguments=None):
    """Apply `module` to `inputs`.

    signature: None picks "default", else the module's `__call__` (TF2), else its only signature.
    inputs: one value for a one-input signature, or a dict keyed by the signature's input names.
    as_dict: True returns every output as a dict; False returns the "default" (or only) output.
    training: passed to a TF2 module's `__call__` (used for fine-tuning); signatures take no such flag.
    batch_size: apply to at most this many rows at a time and join the outputs (see hubfn.batch);
    progress: show a progress bar while doing so (None: only on a terminal).
    arguments: keyword arguments for a TF2 `__call__` (e.g. return_dict=True; used by hub_layer).
    """
    if batch_size is not None:
        from .batch import apply_in_batches

        return apply_in_batches(module, inputs, batch_size, signature=signature, as_dict=as_dict,
                                training=training, progress=progress)
    name, sig = _select(module, signature, training)
    if name == CALL:
        outputs = _call_method(module, inputs, sig, training, arguments or {})
    else:
        kwargs = _convert_inputs(module, sig, inputs)
        outputs = None
        if training and module.trainable and module.format == TF1_HUB:
            from .tune.finetune import tf1_training_call

            outputs = tf1_training_call(module, sig, kwargs)  # runs UPDATE_OPS too, if any
        if outputs is None:
            outputs = _run_signature(module, name, kwargs)
    return _pick_outputs(module, name, outputs, as_dict)


def _select(module, signature, training):
    """(name, Signature or None) of the function to run."""
    if signature is not None:
        if signature == CALL and module.has_call:
            return CALL, None
        return signature, module.signature(signature)
    if training and module.has_call:
        # Signatures are traced for inference; only __call__ can take training=True.
        return CALL, _call_signature(module)
    if "default" in module.signature_names:
        return "default", module.signature("default")
    if module.has_call:
        return CALL, None
    if len(module.signatures) == 1:
        return module.signatures[0].name, module.signatures[0]
    raise errors.SignatureError(
        f"Module {module.handle!r} has no \"default\" signature and no __call__; pick one with "
        f"signature=...: {', '.join(module.signature_names) or '(none)'}."
    )


def _call_signature(module):
    # When __call__ and the "default" signature exist together they take the same input.
    return module.signature("default") if "default" in module.signature_names else None


def _signature_fn(module, name):
    try:
        return module.obj.signatures[name]
    except KeyError:  # the tag set's graph lacks it although saved_model.pb listed it
        raise errors.SignatureError(f"Module {module.handle!r}: signature {name!r} cannot be called.") from None


def _run_signature(module, name, kwargs):
    import tensorflow as tf

    fn = _signature_fn(module, name)
    try:
        return fn(**kwargs)
    except tf.errors.InvalidArgumentError as e:
        # Values that fit each input's spec but not each other (e.g. lengths that differ).
        first = (e.message or str(e)).strip().splitlines()[0]
        raise errors.InputError(
            f"Signature {name!r} of {module.handle!r} could not run on these inputs: {first}. "
            f"Check that the inputs ({', '.join(module.signature(name).input_names)}) fit together."
        ) from None


def _call_method(module, inputs, sig, training, arguments):
    import tensorflow as tf

    if isinstance(inputs, dict):
        if sig is not None:
            inputs = _convert_inputs(module, sig, inputs)
        else:
            inputs = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
    elif sig is not None and len(sig.inputs) == 1:
        inputs = _convert_value(module, sig.inputs[0], inputs)
    else:
        inputs = _to_tensor_default(inputs)
    if training and _call_takes_training(module.obj.__call__):
        return module.obj(inputs, training=True, **arguments)
    return module.obj(inputs, **arguments)


def _call_takes_training(fn) -> bool:
    """Whether a restored __call__ was saved with a `training` argument (reusable SavedModel style)."""
    spec = getattr(fn, "function_spec", None)
    argspec = getattr(spec, "fullargspec", None)
    return argspec is not None and ("training" in argspec.args or "training" in argspec.kwonlyargs)


def _to_tensor_default(value):
    import tensorflow as tf

    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value
    arr = np.asarray(value)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)  # Python floats mean float32 to TensorFlow models
    return tf.convert_to_tensor(arr)


# --- inputs ------------------------------------------------------------------------------------
def _convert_inputs(module, sig, inputs) -> dict:
    expected = sig.input_names
    if not isinstance(inputs, dict):
        if len(expected) != 1:
            raise errors.InputError(
                f"Signature {sig.name!r} of {module.handle!r} takes {len(expected)} inputs; "
                f"pass a dict with keys {', '.join(expected)}."
            )
        inputs = {expected[0]: inputs}
    missing = [k for k in expected if k not in inputs]
    extra = [k for k in inputs if k not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(map(repr, missing))}")
        if extra:
            parts.append(f"unexpected {', '.join(map(repr, extra))}")
        raise errors.InputError(
            f"Signature {sig.name!r} of {module.handle!r}: {'; '.join(parts)}. "
            f"Expected keys: {', '.join(expected)}."
        )
    return {t.name: _convert_value(module, t, inputs[t.name], sig.name) for t in sig.inputs}


def _kind(dtype) -> str:
    """'float', 'int', 'bool', 'string' or 'other' for a tf.DType."""
    if dtype.is_floating:
        return "float"
    if dtype.is_integer:
        return "int"
    if dtype.is_bool:
        return "bool"
    if dtype.name == "string":
        return "string"
    return "other"


# Which kinds of value may be converted to which kinds of input (int -> float is fine; the reverse
# would silently drop fractions, so it is refused).
_ALLOWED = {"float": {"float", "int"}, "int": {"int"}, "bool": {"bool"}, "string": {"string"}}


def _value_kind(arr) -> str:
    k = arr.dtype.kind
    return {"f": "float", "i": "int", "u": "int", "b": "bool", "U": "string", "S": "string",
            "O": "string"}.get(k, "other")


def _convert_value(module, spec, value, sig_name="default"):
    import tensorflow as tf

    target = tf.as_dtype(spec.dtype)
    where = f"Input {spec.name!r} of signature {sig_name!r} ({module.handle!r})"
    if isinstance(value, (tf.Tensor, tf.Variable)):
        got_kind, got_dtype, tensor = _kind(value.dtype), value.dtype.name, value
    else:
        try:
            arr = np.asarray(value)
        except ValueError as e:  # ragged nested lists
            raise errors.InputError(f"{where}: cannot make an array of the value given ({e}).") from None
        got_kind, got_dtype, tensor = _value_kind(arr), arr.dtype.name, None
        if got_kind == "string" and arr.dtype.kind == "O" and arr.size and not isinstance(
                arr.flat[0], (str, bytes)):
            got_kind = "other"
    allowed = _ALLOWED.get(_kind(target), {_kind(target)})
    if got_kind not in allowed:
        raise errors.InputError(
            f"{where} expects {spec.dtype}, got {got_dtype}; "
            + ("round and convert to an integer type first." if got_kind == "float" and _kind(target) == "int"
               else f"pass {spec.dtype} values.")
        )
    if tensor is None:
        tensor = tf.constant(arr) if got_kind == "string" else tf.constant(arr.astype(target.as_numpy_dtype))
    elif tensor.dtype != target:
        tensor = tf.cast(tensor, target)
    if spec.shape is not None and not tf.TensorShape(spec.shape).is_compatible_with(tensor.shape):
        raise errors.InputError(f"{where} expects shape {format_shape(spec.shape)}, got {list(tensor.shape)}.")
    return tensor


# --- outputs -----------------------------------------------------------------------------------
def _pick_outputs(module, name, outputs, as_dict):
    if not isinstance(outputs, dict):
        return {"default": outputs} if as_dict else outputs
    outputs = dict(outputs)
    if as_dict:
        return outputs
    return pick_output(outputs, None, f"Signature {name!r} of {module.handle!r}",
                       "Pass as_dict=True to get them all.")


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

