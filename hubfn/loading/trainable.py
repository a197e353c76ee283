"""What a Module trains: its variables, the trainable ones and its regularization losses.

TF2 modules describe themselves through the reusable-SavedModel attributes (`variables`,
`trainable_variables`, `regularization_losses`). An attribute the module has is its declaration and is
taken as it is, even when empty: a BERT preprocessor that lists no trainable variables trains nothing
(an empty list, not an error). A module without the attributes (saved from a plain `tf.Module`) trains
the variables its object graph holds, each with its saved trainable flag. TF1 hub modules answer from
their graph's collections (hubfn.loading.tf1graph).

The Module's properties call these; hub_layer and fine-tuning loops read them from there.
"""

from .. import errors
from . import tf1graph
from ..savedmodel.signatures import TF1_HUB
from ..util.tfimport import import_tensorflow


def all_variables(module):
    obj = module.obj
    if module.format == TF1_HUB:
        return list(getattr(obj, "variables", ()) or ())
    declared = _declared(obj, "variables")
    return declared if declared is not None else _object_graph_variables(obj)


def trainable_variables(module):
    obj = module.obj
    if module.format == TF1_HUB:
        return tf1graph.trainable_variables(obj, all_variables(module))
    declared = _declared(obj, "trainable_variables")
    if declared is not None:
        return declared
    found = [v for v in _object_graph_variables(obj) if v.trainable]
    if not found:
        raise errors.TrainableError(
            f"Module {module.handle!r} lists no trainable_variables and its object graph holds no trainable "
            "variable, so fine-tuning would change nothing. Load it with trainable=False."
        )
    return found


def regularization_losses(module):
    """Zero-argument callables, each computing one regularization loss from the current weights."""
    if module.format == TF1_HUB:
        return tf1graph.regularization_losses(module.obj)
    return _declared(module.obj, "regularization_losses") or []


def _declared(obj, name):
    """The reusable-SavedModel attribute `name` as a list, or None when the module does not have it.

    Its None entries are left out: they are objects the SavedModel did not keep. A tf_keras model saved
    with save_format="tf" that holds a TextVectorization layer lists such a variable in `variables`
    (loaded back as None); TensorFlow restores everything else, and the model runs without it."""
    value = getattr(obj, name, None)
    return None if value is None else [v for v in value if v is not None]


def _object_graph_variables(obj):
    """Every tf.Variable reachable from `obj` through tracked attributes, each once, in a stable order."""
    tf = import_tensorflow()

    seen, out = set(), []
    for node in tf.train.TrackableView(obj).descendants():
        if isinstance(node, tf.Variable) and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out
