"""hub_layer: a module as a Keras 3 layer, frozen or fine-tuned.

Keras 3 only trains and saves its own `keras.Variable`s, and a module's weights are TensorFlow
variables captured by its functions. Each module variable is therefore adopted by a Keras variable
that holds that very tf.Variable (no copy): Keras computes gradients for it, the optimizer's updates
land in the module, and `.keras` files save and restore it.
"""

import keras

from .. import api, errors, handles
from ..apply import pick_output
from ..module import Module


class _AdoptedVariable(keras.Variable):
    """A Keras variable whose storage is an existing tf.Variable (TensorFlow backend)."""

    def __init__(self, tf_variable, trainable):
        self._adopted = tf_variable
        name = tf_variable.name.rsplit(":", 1)[0].replace("/", "_")
        super().__init__(initializer=tf_variable, dtype=tf_variable.dtype.name, trainable=trainable, name=name)

    def _initialize(self, value):  # Keras would make a new tf.Variable from `value`; share instead
        self._value = self._adopted


@keras.saving.register_keras_serializable(package="hubfn")
class HubLayer(keras.layers.Layer):
    """Applies a module's signature to its inputs; see `hub_layer` for the arguments."""

    def __init__(self, handle, trainable=False, signature=None, output_key=None, arguments=None, tags=None,
                 **kwargs):
        super().__init__(trainable=trainable, **kwargs)
        if not isinstance(handle, Module):
            handle = handles.as_handle(handle)
        # A Module passed in keeps its variant (unless fine-tuning a TF1 module picks {"train"}).
        self._module = api.hub_module(handle, trainable=trainable, tags=tags)
        self.handle = self._module.handle  # the config holds the handle string, not the Module
        self.signature = signature
        self.output_key = output_key
        self.arguments = dict(arguments or {})
        self.tags = None if self._module.tags is None else sorted(self._module.tags)  # JSON: a list
        trainable_ids = {id(v) for v in self._module.trainable_variables}
        # Tracked by Keras as this layer's weights, in the module's own order.
        self.module_variables = [_AdoptedVariable(v, trainable=id(v) in trainable_ids)
                                 for v in self._module.variables]
        self.built = True

    @property
    def module(self):
        return self._module

    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        module = getattr(self, "_module", None)  # None while Layer.__init__ runs
        if value and module is not None and not module.trainable:
            # Its weights are the shared inference copy; training them would change every user's module.
            raise errors.TrainableError(
                f"hub_layer({self.handle!r}) was made with trainable=False, so it cannot be unfrozen. "
                "Make it with trainable=True (and freeze it with layer.trainable = False until needed)."
            )
        keras.layers.Layer.trainable.fset(self, value)

    def call(self, inputs, training=None):
        if self.arguments:
            inputs = {**(inputs if isinstance(inputs, dict) else {"default": inputs}), **self.arguments}
        train = bool(training) and self.trainable
        outputs = api.module_apply(self._module, inputs, signature=self.signature, as_dict=True, training=train)
        if self.trainable:
            for loss in self._module.regularization_losses:
                self.add_loss(loss())
        return self._pick(outputs)

    def _pick(self, outputs):
        return pick_output(outputs, self.output_key, f"hub_layer({self.handle!r})", "Pass output_key= one of them.")

    def get_config(self):
        config = super().get_config()
        config.update(handle=self.handle, signature=self.signature, output_key=self.output_key,
                      arguments=self.arguments, tags=self.tags)
        return config


def hub_layer(handle, trainable=False, signature=None, output_key=None, arguments=None, tags=None, **kwargs):
    """A Keras 3 layer applying the module at `handle` (a handle, or a Module whose handle is used).

    trainable: fine-tune the module's weights (its regularization losses are added to the model's).
    signature / output_key: which function to run and which of its outputs to return.
    arguments: extra inputs passed on every call (merged into a dict input).
    tags: the graph variant of a TF1 hub module (trainable=True picks {"train"} when there is one).
    """
    return HubLayer(handle, trainable=trainable, signature=signature, output_key=output_key,
                    arguments=arguments, tags=tags, **kwargs)
