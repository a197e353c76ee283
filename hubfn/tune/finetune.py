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
    listed = list(getattr(module.obj, "variables", ()) or ())
    if listed or module.format == TF1_HUB:
        return listed
    return _object_graph_variables(module.obj)


def trainable_variables(module):
    if module.format == TF1_HUB:
        return _tf1_trainable(module)
    listed = list(getattr(module.obj, "trainable_variables", ()) or ())
    if listed:
        return listed
    # A module saved from a plain tf.Module lists nothing: its variables are still in the object graph,
    # each saved with its own trainable flag.
    found = [v for v in _object_graph_variables(module.obj) if v.trainable]
    if not found:
        raise errors.TrainableError(
            f"Module {module.handle!r} lists no trainable_variables and its object graph holds no trainable "
            "variable, so fine-tuning would change nothing. Load it with trainable=False."
        )
    return found


def _object_graph_variables(obj):
    """Every tf.Variable reachable from `obj` through tracked attributes, each once, in a stable order."""
    import tensorflow as tf

    seen, out = set(), []
    for node in tf.train.TrackableView(obj).descendants():
        if isinstance(node, tf.Variable) and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out


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


def inference_signature(module, name):
    """Signature `name` of the module's inference graph (tags {}), running on the trainable module's variables.

    A trainable TF1 module is loaded with its {"train"} graph (dropout, batch statistics), which must not
    serve predictions. Its inference graph is loaded once beside it and its function's captured variable
    handles are pointed at the train graph's variables (same names, one checkpoint), so inference sees
    every tuned weight without copying. None when there is no such graph or signature (the caller then
    runs the graph it has).
    """
    if module.tags is None or "train" not in module.tags:
        return None
    with _pruned_lock:
        functions = _pruned.setdefault(module.obj, {})
        if ("infer", name) in functions:
            return functions[("infer", name)][1]
    from ..load import load_object

    infer = load_object(module.path, frozenset(), TF1_HUB, trainable=True)  # a private copy to rebind
    fn = infer.signatures.get(name) if hasattr(infer, "signatures") else None
    if fn is not None:
        twins = {v.name: v for v in all_variables(module)}
        handles = {}
        for v in list(getattr(infer, "variables", ()) or ()):
            if v.name not in twins:
                fn = None  # a variable the train graph lacks: cannot share weights
                break
            handles[id(v.handle)] = twins[v.name].handle
        if fn is not None:
            fn.set_external_captures([handles.get(id(c), c) for c in fn.captured_inputs])
    with _pruned_lock:
        _pruned.setdefault(module.obj, {})[("infer", name)] = (infer, fn)  # keep the graph alive with it
    return fn


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
