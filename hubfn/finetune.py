"""Fine-tuning: the variables and regularization losses behind a trainable Module, and exporting them.

TF2 modules describe themselves (reusable SavedModel attributes). TF1 hub modules are loaded through
TensorFlow's v1-in-v2 loader; their graph collections (TRAINABLE_VARIABLES, REGULARIZATION_LOSSES)
say which variables train and which losses to add.
"""

from .signatures import TF1_HUB


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
        return _tf1_regularization_losses(module)
    return list(getattr(module.obj, "regularization_losses", ()) or ())


def _tf1_trainable(module):
    raise NotImplementedError("TF1 fine-tuning arrives with the fine-tuning issue")


def _tf1_regularization_losses(module):
    raise NotImplementedError("TF1 fine-tuning arrives with the fine-tuning issue")


def export_module(module, path):
    """Write `module` with its current variable values to `path` (a fresh directory)."""
    import tensorflow as tf

    if module.format == TF1_HUB:
        raise NotImplementedError("TF1 export arrives with the fine-tuning issue")
    obj = module.obj
    tf.saved_model.save(obj, path, signatures=dict(obj.signatures))
