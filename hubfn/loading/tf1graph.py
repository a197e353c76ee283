"""The TF1 graph runtime: what running a TF1 hub module needs beyond its signatures.

TF1 hub modules are loaded through TensorFlow's v1-in-v2 loader, which keeps the graph. Its collections
say which variables train (TRAINABLE_VARIABLES), which losses to add (REGULARIZATION_LOSSES) and which ops
must run with each training step (UPDATE_OPS, e.g. batch-norm moving averages). Graph pieces are run
through `prune`, which turns a set of feeds and fetches into a function of the current weights.

A trainable TF1 module is loaded with its {"train"} graph (dropout, batch statistics); its predictions
come from the {} graph rebound to the same variables (`inference_graph`, made when the module is loaded). Inference on a trainable
module needs all this, so it lives in the core beside hubfn.loading.load, not with the Keras code in hubfn.tune.
"""

import threading
import types
import weakref

import attrs

from .. import errors
from .load import load_object
from ..savedmodel.signatures import TF1_HUB

_GRAPH_KEYS = {"trainable": "trainable_variables", "losses": "regularization_losses", "updates": "update_ops"}
# Pruned functions per loaded object, held weakly: a fine-tuned module that is dropped frees its weights.
_pruned = weakref.WeakKeyDictionary()  # obj -> {what: function}
_pruned_lock = threading.Lock()


def collection(obj, what):
    """The graph collection `what` ("trainable", "losses", "updates") of a loaded TF1 module object."""
    graph = getattr(obj, "graph", None)
    return list(graph.get_collection(_GRAPH_KEYS[what])) if graph is not None else []


def trainable_variables(obj, variables):
    """The eager variables among `variables` that the graph's TRAINABLE_VARIABLES collection lists (all of
    them when it lists none): the collection holds graph variables, the loader made eager twins of the
    same names."""
    listed = {v.name for v in collection(obj, "trainable")}
    if not listed:
        return list(variables)
    return [v for v in variables if v.name in listed]


def regularization_losses(obj):
    """Each REGULARIZATION_LOSSES tensor as a zero-argument callable of the current weights."""
    return [_Loss(_prune(obj, ("loss", t.name), [], t.name), t.name) for t in collection(obj, "losses")]


class _Loss:
    """A TF1 regularization loss as a zero-argument callable (the REGULARIZATION_LOSSES tensor)."""

    def __init__(self, fn, name):
        self._fn, self.name = fn, name

    def __call__(self):
        return self._fn()

    def __repr__(self):
        return f"<regularization loss {self.name}>"


def _prune(obj, key, feeds, fetches):
    with _pruned_lock:
        functions = _pruned.setdefault(obj, {})
        if key not in functions:
            functions[key] = obj.prune(feeds, fetches)
        return functions[key]


def training_call(obj, handle, signature, kwargs):
    """Run a TF1 signature of loaded module `obj` for training: its outputs, with the graph's UPDATE_OPS
    run alongside; None when the graph has no UPDATE_OPS (the plain signature then serves training too)."""
    updates = collection(obj, "updates")
    if not updates:
        return None
    missing = [t.name for t in signature.inputs + signature.outputs if not t.tensor_name]
    if missing:
        raise errors.SignatureError(
            f"Module {handle!r}: cannot run UPDATE_OPS for signature {signature.name!r}, whose "
            f"tensors {', '.join(missing)} have no graph names. Fine-tune it with training=False."
        )
    feeds = [t.tensor_name for t in signature.inputs]
    fetches = [t.tensor_name for t in signature.outputs] + [op.name for op in updates]
    fn = _prune(obj, ("train", signature.name), feeds, fetches)
    results = fn(*[kwargs[t.name] for t in signature.inputs])
    return {t.name: r for t, r in zip(signature.outputs, results)}


@attrs.frozen
class InferenceGraph:
    """The inference graph (tags {}) of a trainable TF1 module loaded with its {"train"} graph: `signatures`
    (name -> function) run on the train graph's variables; `obj` keeps the graph alive."""

    obj: object = attrs.field(repr=False)
    signatures: types.MappingProxyType = attrs.field(converter=types.MappingProxyType)


def inference_graph(path, tags, tag_sets, train_obj):
    """The InferenceGraph of a trainable TF1 module loaded as `train_obj` with `tags`; None when `tags` is
    not a {"train"} variant or the module has no {} graph (the train graph then serves inference).

    The {} graph is loaded once, at load, beside the train graph, and each signature's captured variable
    handles are pointed at the train graph's variables (same names, one checkpoint), so inference sees
    every tuned weight without copying. A variable the train graph lacks leaves no signatures to share.
    """
    if tags is None or "train" not in tags or frozenset() not in tag_sets:
        return None
    infer = load_object(path, frozenset(), TF1_HUB, trainable=True)  # a private copy to rebind
    twins = {v.name: v for v in list(getattr(train_obj, "variables", ()) or ())}
    handles = {}
    for v in list(getattr(infer, "variables", ()) or ()):
        if v.name not in twins:  # cannot share weights
            return InferenceGraph(infer, {})
        handles[id(v.handle)] = twins[v.name].handle
    functions = {}
    for name, fn in dict(getattr(infer, "signatures", {}) or {}).items():
        fn.set_external_captures([handles.get(id(c), c) for c in fn.captured_inputs])
        functions[name] = fn
    return InferenceGraph(infer, functions)
