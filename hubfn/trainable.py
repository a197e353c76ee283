"""What a Module trains: its variables, the trainable ones and its regularization losses.

TF2 modules describe themselves through the reusable-SavedModel attributes (`variables`,
`trainable_variables`, `regularization_losses`). A module that lists none (saved from a plain
`tf.Module`) trains the variables its object graph holds, each with its saved trainable flag. TF1 hub
modules answer from their graph's collections (hubfn.tf1graph).

The Module's properties call these; hub_layer and fine-tuning loops read them from there.
"""

from . import errors, tf1graph
from .signatures import TF1_HUB


def all_variables(module):
    listed = list(getattr(module.obj, "variables", ()) or ())
    if listed or module.format == TF1_HUB:
        return listed
    return _object_graph_variables(module.obj)


def trainable_variables(module):
    obj = module.obj
    if module.format == TF1_HUB:
        return tf1graph.trainable_variables(obj, all_variables(module))
    listed = list(getattr(obj, "trainable_variables", ()) or ())
    if listed:
        return listed
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
    return list(getattr(module.obj, "regularization_losses", ()) or ())


def _object_graph_variables(obj):
    """Every tf.Variable reachable from `obj` through tracked attributes, each once, in a stable order."""
    import tensorflow as tf

    seen, out = set(), []
    for node in tf.train.TrackableView(obj).descendants():
        if isinstance(node, tf.Variable) and id(node) not in seen:
            seen.add(id(node))
            out.append(node)
    return out
