"""Export: turn a TensorFlow object into a module directory with a "default" signature.

What can be exported:
- a `tf.Module` (or any trackable) whose `__call__` is a tf.function with an input signature;
- a Keras 3 model (its input specs come from the model);
- a plain Python callable, given `input_signature=[tf.TensorSpec(...), ...]`;
- a hubfn Module (e.g. after fine-tuning): its current variable values are written.

The module is written into a temporary sibling of `export_dir` and renamed into place at the end, so a
failed export leaves nothing behind and a reader never sees half a module.
"""

import os
import shutil

from . import errors
from .loading import load
from .savedmodel.signatures import TF1_HUB
from .util import fs
from .util.tfimport import import_keras, import_tensorflow


def export_savedmodel(obj, export_dir, signatures=None, overwrite=False, input_signature=None):
    """Write `obj` as a module at `export_dir`; returns the directory's absolute path.

    signatures: extra named signatures, {name: tf.function with input_signature, or concrete function}.
    input_signature: the input specs of a plain callable (or of a tf.Module whose __call__ lacks them).
    """
    export_dir = os.path.abspath(os.fspath(export_dir))
    if os.path.exists(export_dir) and not os.path.isdir(export_dir):
        raise errors.ExportError(f"Cannot export to {export_dir!r}: it is a file.")
    if os.path.isdir(export_dir) and os.listdir(export_dir) and not overwrite:
        raise errors.ExportError(
            f"Cannot export to {export_dir!r}: the directory is not empty. "
            "Pass overwrite=True to replace it, or choose another directory.",
            keywords=[("overwrite", True)],
        )
    from .module import Module

    if isinstance(obj, Module):
        return _write_atomically(export_dir, lambda tmp: _export_module(obj, tmp))
    root, sigs = _build_root(obj, signatures, input_signature)
    return _write_atomically(export_dir, lambda tmp: _save(root, sigs, tmp))


def _write_atomically(export_dir, write):
    replacing = os.path.isdir(export_dir)
    fs.atomic_dir(export_dir, write)
    if replacing:
        load.forget(export_dir)  # the replaced module's weights need not stay in memory
    return export_dir


def _save(root, sigs, path):
    tf = import_tensorflow()

    # Assets (vocabularies and the like) tracked by the object are copied by the SavedModel writer.
    tf.saved_model.save(root, path, signatures=sigs)


# --- a Module (e.g. fine-tuned) ----------------------------------------------------------------
def _export_module(module, path):
    """Write `module` with its current variable values to `path` (an empty temporary directory)."""
    tf = import_tensorflow()

    if module.format == TF1_HUB:
        return _export_tf1(module, path)
    # The loaded object itself, so its reusable-SavedModel attributes, functions and assets go along.
    tf.saved_model.save(module.obj, path, signatures=dict(module.obj.signatures))


def _export_tf1(module, path):
    """Copy the module's graphs and assets, and write the current weights under their graph names."""
    tf = import_tensorflow()

    for name in os.listdir(module.path):
        src = os.path.join(module.path, name)
        if name == "variables":
            continue
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(path, name))
        else:
            shutil.copy2(src, os.path.join(path, name))
    variables = module.variables
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    if variables:
        # TF1 checkpoints key each variable by its graph name ("w1" for "w1:0").
        tf.raw_ops.SaveV2(
            prefix=os.path.join(path, "variables", "variables"),
            tensor_names=[v.name.rsplit(":", 1)[0] for v in variables],
            shape_and_slices=[""] * len(variables),
            tensors=[v.read_value() for v in variables],
        )


# --- building the object to save ---------------------------------------------------------------
def _build_root(obj, signatures, input_signature):
    """(trackable root with the reusable-SavedModel attributes, {signature name: concrete fn})."""
    tf = import_tensorflow()

    parts = _describe(obj, input_signature)
    root = tf.__internal__.tracking.AutoTrackable()
    root.wrapped = obj if isinstance(obj, tf.__internal__.tracking.Trackable) else None
    root.variables = list(parts.variables)
    root.trainable_variables = list(parts.trainable_variables)
    root.regularization_losses = [tf.function(fn, input_signature=[]) for fn in parts.regularization_losses]
    root.__call__ = parts.call

    sigs = {"default": _as_signature(parts.default.get_concrete_function(), keyed_default=True)}
    for name, fn in (signatures or {}).items():
        if name == "default":
            raise errors.ExportError('The "default" signature is made from the object itself; '
                                     "name your extra signatures otherwise.")
        try:
            concrete = fn if hasattr(fn, "structured_outputs") else fn.get_concrete_function()
        except (TypeError, ValueError, AttributeError) as e:
            raise errors.ExportError(
                f"Cannot export signature {name!r}: its inputs are unknown ({e}). Pass a tf.function with "
                "input_signature=[tf.TensorSpec(...)], or a concrete function."
            ) from None
        sigs[name] = _as_signature(concrete, keyed_default=False)
        setattr(root, "signature_" + name, fn)  # keep the function (and what it captures) tracked
    return root, sigs


class _Parts:
    """What the saved root is made of: `call` becomes __call__, `default` the "default" signature."""

    def __init__(self, call, default, variables, trainable_variables, regularization_losses):
        self.call, self.default = call, default
        self.variables, self.trainable_variables = variables, trainable_variables
        self.regularization_losses = regularization_losses


def _describe(obj, input_signature):
    tf = import_tensorflow()

    if _is_keras_model(obj):
        return _describe_keras(obj, input_signature)
    fn = obj.__call__ if isinstance(obj, tf.Module) else obj
    specs = input_signature or getattr(fn, "input_signature", None)
    if not callable(fn) or not specs:
        raise errors.ExportError(
            f"Cannot export {type(obj).__name__}: its inputs are unknown. Decorate __call__ with "
            "@tf.function(input_signature=[...]) or pass input_signature=[tf.TensorSpec(...)]."
        )
    if input_signature is not None or not isinstance(fn, tf.types.experimental.PolymorphicFunction):
        fn = tf.function(getattr(fn, "python_function", fn), input_signature=list(specs), autograph=False)
    return _Parts(
        call=fn, default=fn,
        variables=list(getattr(obj, "variables", ()) or ()),
        trainable_variables=list(getattr(obj, "trainable_variables", ()) or ()),
        regularization_losses=list(getattr(obj, "regularization_losses", ()) or ()),
    )


def _is_keras_model(obj):
    keras = import_keras()

    return isinstance(obj, keras.Model)


def _describe_keras(model, input_signature):
    tf = import_tensorflow()

    if input_signature is None:
        input_signature = _keras_input_specs(model)
    specs = list(input_signature)

    def run(inputs, training):
        return model(inputs if len(specs) == 1 else list(inputs), training=training)

    if len(specs) == 1:
        call = tf.function(lambda inputs, training=False: run(inputs, training), autograph=False)
        default = tf.function(lambda inputs: run(inputs, False), input_signature=specs, autograph=False)
    else:
        call = tf.function(lambda *inputs, training=False: run(inputs, training), autograph=False)
        default = tf.function(lambda *inputs: run(inputs, False), input_signature=specs, autograph=False)
    # Trace __call__ for inference and for training, so the saved module serves both.
    for training in (False, True):
        call.get_concrete_function(*specs, training=training)
    return _Parts(
        call=call, default=default,
        # Keras 3 variables wrap a tf.Variable (`.value`); the SavedModel attributes list the TF ones.
        variables=[v.value for v in model.variables],
        trainable_variables=[v.value for v in model.trainable_variables],
        regularization_losses=[_regularizer_fn(v) for v in model.weights
                               if getattr(v, "regularizer", None) is not None],
    )


def _keras_input_specs(model):
    """The model's input specs, in the structure its call takes: one spec (a dict of specs for a model
    built on a dict of inputs, e.g. a BERT encoder's word ids, mask and type ids), or one per input."""
    tf = import_tensorflow()

    structure = None
    for attribute in ("input", "inputs"):  # a Sequential model has `inputs` only
        try:
            structure = getattr(model, attribute)
            break
        except (AttributeError, ValueError):  # a model that was never built has no inputs at all
            continue
    if structure is None or (isinstance(structure, (list, tuple, dict)) and not structure):
        raise errors.ExportError(
            "Cannot export this Keras model: it has not been built, so its inputs are unknown. "
            "Build it with keras.Input, or pass input_signature=[tf.TensorSpec(...)]."
        )
    def spec(t, name):  # ragged inputs stay ragged (the "default" signature takes their components)
        if getattr(t, "sparse", False):
            raise errors.ExportError(
                f"Cannot export this Keras model: its input {name!r} is sparse, which Keras 3 cannot trace for "
                "saving. Give the model dense inputs (e.g. padded ids), or export the module itself."
            )
        if getattr(t, "ragged", False):
            return tf.RaggedTensorSpec(t.shape, t.dtype)
        return tf.TensorSpec(t.shape, t.dtype, name=name)

    if isinstance(structure, dict):
        return [{key: spec(t, key) for key, t in structure.items()}]
    flat = structure if isinstance(structure, (list, tuple)) else [structure]
    return [spec(t, "inputs") for t in flat]


def _regularizer_fn(variable):
    return lambda: variable.regularizer(variable.value)


def _as_signature(concrete, keyed_default):
    """A concrete function returning a dict, its single tensor output keyed "default"."""
    tf = import_tensorflow()

    out = concrete.structured_outputs
    if isinstance(out, dict):
        return concrete
    if not keyed_default and not isinstance(out, (tf.Tensor, tf.TensorSpec)):
        return concrete
    specs = concrete.structured_input_signature[0]

    @tf.function(input_signature=list(specs), autograph=False)
    def keyed(*args):
        result = concrete(*args)
        if isinstance(result, (list, tuple)):
            return {f"output_{i}": r for i, r in enumerate(result)}
        return {"default": result}

    return keyed.get_concrete_function()
