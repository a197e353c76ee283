"""Fine-tuning: the variables and regularization losses behind a trainable Module, and exporting them.

TF2 modules describe themselves through the reusable-SavedModel attributes (`variables`,
`trainable_variables`, `regularization_losses`). TF1 hub modules are loaded through TensorFlow's
v1-in-v2 loader, which keeps the graph: its collections say which variables train
(TRAINABLE_VARIABLES), which losses to add (REGULARIZATION_LOSSES) and which ops must run with each
training step (UPDATE_OPS, e.g. batch-norm moving averages). Graph pieces are run through `prune`, which
turns a set of fetches into a function of the current weights.
"""

import os
import shutil
import threading
import weakref

from .. import errors
from ..signatures import TF1_HUB

_GRAPH_KEYS = {"trainable": "trainable_variables", "losses": "regularization_losses", "updates": "update_ops"}
# Pruned functions per loaded object, held weakly: a fine-tuned module that is dropped frees its weights.
_pruned = weakref.WeakKeyDictionary()  # obj -> {what: function}
_pruned_lock = threading.Lock()


def all_variables(module):
    return list(getattr(module.obj, "variables", ()) or ())


def trainable_variables(module):
    if module.format == TF1_HUB:
        return _tf1_trainable(module)
    listed = list(getattr(module.obj, "trainable_variables", ()) or ())
    return listed or all_variables(module)  # a module that lists none trains all


def regularization_losses(module):
    """Zero-argument callables, each computing one regularization loss from the current weights."""
    if module.format == TF1_HUB:
        return [_Loss(_prune(module.obj, ("loss", t.name), [], t.name), t.name)
                for t in _collection(module.obj, "losses")]
    return list(getattr(module.obj, "regularization_losses", ()) or ())


class _Loss:
    """A TF1 regularization loss as a zero-argument callable (the REGULARIZATION_LOSSES tensor)."""

    def __init__(self, fn, name):
        self._fn, self.name = fn, name

    def __call__(self):
        return self._fn()

    def __repr__(self):
        return f"<regularization loss {self.name}>"


# --- TF1 graphs ----------------------------------------------------------------------------------
def _collection(obj, what):
    graph = getattr(obj, "graph", None)
    return list(graph.get_collection(_GRAPH_KEYS[what])) if graph is not None else []


def _tf1_trainable(module):
    # The collection holds the graph's variables; the loader made eager twins with the same names.
    listed = {v.name for v in _collection(module.obj, "trainable")}
    variables = all_variables(module)
    if not listed:
        return variables
    return [v for v in variables if v.name in listed]


def _prune(obj, key, feeds, fetches):
    with _pruned_lock:
        functions = _pruned.setdefault(obj, {})
        if key not in functions:
            functions[key] = obj.prune(feeds, fetches)
        return functions[key]


def tf1_training_call(module, signature, kwargs):
    """Run a TF1 signature for training: its outputs, with the graph's UPDATE_OPS run alongside."""
    updates = _collection(module.obj, "updates")
    if not updates:
        return None  # nothing extra to run: the plain signature serves training too
    missing = [t.name for t in signature.inputs + signature.outputs if not t.tensor_name]
    if missing:
        raise errors.SignatureError(
            f"Module {module.handle!r}: cannot run UPDATE_OPS for signature {signature.name!r}, whose "
            f"tensors {', '.join(missing)} have no graph names. Fine-tune it with training=False."
        )
    feeds = [t.tensor_name for t in signature.inputs]
    fetches = [t.tensor_name for t in signature.outputs] + [op.name for op in updates]
    fn = _prune(module.obj, ("train", signature.name), feeds, fetches)
    results = fn(*[kwargs[t.name] for t in signature.inputs])
    return {t.name: r for t, r in zip(signature.outputs, results)}


# --- export --------------------------------------------------------------------------------------
def export_module(module, path):
    """Write `module` with its current variable values to `path` (an empty temporary directory)."""
    import tensorflow as tf

    if module.format == TF1_HUB:
        return _export_tf1(module, path)
    tf.saved_model.save(module.obj, path, signatures=dict(module.obj.signatures))


def _export_tf1(module, path):
    """Copy the module's graphs and assets, and write the current weights under their graph names."""
    import tensorflow as tf

    for name in os.listdir(module.path):
        src = os.path.join(module.path, name)
        if name == "variables":
            continue
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(path, name))
        else:
            shutil.copy2(src, os.path.join(path, name))
    variables = all_variables(module)
    os.makedirs(os.path.join(path, "variables"), exist_ok=True)
    if variables:
        # TF1 checkpoints key each variable by its graph name ("w1" for "w1:0").
        tf.raw_ops.SaveV2(
            prefix=os.path.join(path, "variables", "variables"),
            tensor_names=[v.name.rsplit(":", 1)[0] for v in variables],
            shape_and_slices=[""] * len(variables),
            tensors=[v.read_value() for v in variables],
        )
