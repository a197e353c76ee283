"""hub_layer: a module as a Keras 3 layer, frozen or fine-tuned, frozen and unfrozen at will.

Weights. Keras 3 only trains and saves its own `keras.Variable`s, and a module's weights are TensorFlow
variables captured by its functions. Each module variable is therefore adopted by a Keras variable that
holds that very tf.Variable (no copy): Keras computes gradients for it, the optimizer's updates land in
the module, and `.keras` files save and restore it. The Keras variables are made once, in the module's
own order, so a `.keras` file lines them up the same way whatever the layer's trainability was.

Shared and private copies. A frozen layer uses the module's shared inference copy (loaded once per
process). The first time the layer is unfrozen (`layer.trainable = True`), or when a `.keras` file
brings weights that differ from the module's, it loads a private copy and its Keras variables switch to
it: training never moves the weights other users of the module see.

Tracking. The loaded SavedModel object is an attribute of the layer, so TensorFlow's object graph
reaches its lookup tables and assets: a Keras model holding the layer exports with them
(`model.export`, `hubfn.export_savedmodel`).

Outputs follow tensorflow_hub.KerasLayer: without a signature the module's `__call__` runs and its
result comes back as it is (a dict stays a dict, as BERT encoders need); `output_key` picks one output;
`as_dict=True` (alias `signature_outputs_as_dict`) returns every output of a signature.

The file is longer than most: the layer's weights, trainability and outputs are one concern and read
best together; output shapes live in `layer_shapes`.
"""

import warnings

from .. import api, errors
from ..callplan import call_plan, pick_output
from ..module import Module
from ..ways import CALL, choose
from ..util.tfimport import import_keras, import_tensorflow
from . import layer_shapes

# Not `import keras`: Keras's TensorFlow backend would make the first TensorFlow import itself,
# with TensorFlow's CUDA probing lines (see hubfn/util/tfimport.py).
keras = import_keras()


class _AdoptedVariable(keras.Variable):
    """A Keras variable whose storage is an existing tf.Variable (TensorFlow backend)."""

    def __init__(self, tf_variable):
        self._adopted = tf_variable
        name = tf_variable.name.rsplit(":", 1)[0].replace("/", "_")
        # Made non-trainable so Keras files every module variable in one list, in module order;
        # the layer sets `trainable` on each afterwards.
        super().__init__(initializer=tf_variable, dtype=tf_variable.dtype.name, trainable=False, name=name)

    def _initialize(self, value):  # Keras would make a new tf.Variable from `value`; share instead
        self._value = self._adopted

    def adopt(self, tf_variable):
        """Hold another copy of the same weight from now on (the layer's private copy)."""
        self._adopted = self._value = tf_variable


@keras.saving.register_keras_serializable(package="hubfn")
class HubLayer(keras.layers.Layer):
    """Applies a module to its inputs; see `hub_layer` for the arguments."""

    def __init__(self, handle, trainable=False, signature=None, output_key=None, arguments=None, tags=None,
                 as_dict=None, output_shape=None, signature_outputs_as_dict=None, settings=None, cache_dir=None,
                 offline=None, timeout=None, token=None, safe_mode=None, allow_ops=None, load_options=None,
                 hub=None, resolvers=None, **kwargs):
        as_dict = _one_flag(as_dict, signature_outputs_as_dict)
        # The fetch settings stay with this layer object only: never in its config (a token must not be
        # saved in a .keras file); a reloaded model fetches with the settings of its own process.
        self._hub = api.Hub.make(hub, resolvers=resolvers, settings=settings, cache_dir=cache_dir, offline=offline,
                                 timeout=timeout, token=token, safe_mode=safe_mode, allow_ops=allow_ops)
        # Likewise TensorFlow's load options (as tensorflow_hub.KerasLayer keeps them out of its config):
        # they describe where this process reads files from, not the module.
        self._load_options = load_options
        if output_key is not None and as_dict:
            raise errors.OutputError(f"hub_layer({_name(handle)!r}): pass output_key= or as_dict=True, not both.")
        kwargs.setdefault("autocast", False)  # the module's dtypes were fixed when it was saved
        input_shape = _own_input_shape(kwargs)
        with warnings.catch_warnings():
            # `KerasLayer(handle, input_shape=...)` first in a Sequential model is how tensorflow_hub's
            # and R tfhub's docs build models; Keras 3 still makes the Input from it but warns each time.
            warnings.filterwarnings("ignore", message="Do not pass an `input_shape`", category=UserWarning)
            super().__init__(trainable=trainable, **kwargs)
        # hubfn converts inputs by the module's own specs (Keras would cast floats, refuse lists and numbers).
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        self._string_input_shape = input_shape
        self._source = handle  # a handle, or a Module whose graph variant is kept
        # The config holds the handle string; a Module's tags are kept so a reload picks the same variant.
        # A tuple: Keras and TensorFlow would track a list as state of the layer.
        if tags is None and isinstance(handle, Module) and handle.tags is not None:
            tags = sorted(handle.tags)
        self._tags_arg = tags if tags is None or isinstance(tags, str) else tuple(tags)
        self._options = _Options(signature, output_key, as_dict, dict(arguments or {}),
                                 layer_shapes.shape_nest(output_shape))
        module = api.hub_module(handle, trainable=trainable, tags=tags, hub=self._hub,
                                load_options=load_options)
        self._warned = False
        self._mask = ()
        self.module_variables = [_AdoptedVariable(v) for v in module.variables]
        self._use(module)
        self.built = True
        self._ready = True
        # Each variable's flag (and the warning if nothing can train); not `self.trainable = ...`, which
        # Keras skips when the value is unchanged.
        HubLayer.trainable.fset(self, trainable)

    # --- what the layer is -------------------------------------------------------------------------
    @property
    def module(self):
        """The Module the layer runs now (the shared inference copy, or its private copy)."""
        return self._module

    def __repr__(self):
        # Keras' "<HubLayer name=..., built=...>" plus what a reader of a model summary or of R's print
        # wants to know: which module, and whether it trains (never the fetch settings or a token).
        if getattr(self, "_ready", False) is False:  # (while Layer.__init__ runs)
            return super().__repr__()
        return f"<HubLayer name={self.name}, handle={self.handle!r}, trainable={self.trainable}, built={self.built}>"

    handle = property(lambda self: self._module.handle)
    signature = property(lambda self: self._options.signature)
    output_key = property(lambda self: self._options.output_key)
    arguments = property(lambda self: dict(self._options.arguments))
    tags = property(lambda self: self._tags_arg)

    @property
    def input_shape(self):
        # Only for a non-float `dtype` with `input_shape` (the TF Hub tutorials' text layers): a
        # Sequential model then builds its input from this shape and the layer's dtype, not float32.
        if self._string_input_shape is None:
            raise AttributeError("input_shape")
        return self._string_input_shape

    # --- trainability ------------------------------------------------------------------------------
    @property
    def trainable(self):
        return keras.layers.Layer.trainable.fget(self)

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        ready = getattr(self, "_ready", False)  # False while Layer.__init__ runs
        if ready and value and not self._private:
            self._go_private()
        keras.layers.Layer.trainable.fset(self, value)
        if ready:
            for variable, trains in zip(self.module_variables, self._mask):
                variable.trainable = value and trains
            if value and not any(self._mask) and not self._warned:
                self._warned = True
                warnings.warn(f"hub_layer({self.handle!r}) is trainable but its module has no trainable "
                              "variables: fitting will not change it.", UserWarning, stacklevel=3)

    @property
    def _private(self):
        """Whether the layer runs its own copy: hub_module(trainable=True) always loads a new one, and the
        layer runs the shared inference copy only while its module is not trainable."""
        return self._module.trainable

    def _use(self, module):
        self._module = module
        self._hub_object = module.obj  # tracked: exports reach the module's tables and assets
        self._target = _Target(module, self._options)
        trains = set()
        if module.trainable:
            try:
                trains = {id(v) for v in module.trainable_variables}
            except errors.TrainableError:  # nothing to train: the layer warns instead (as tensorflow_hub)
                pass
        self._mask = tuple(id(v._adopted) in trains for v in self.module_variables)

    def _go_private(self):
        """Switch to a private trainable copy holding the current weights (never the shared copy)."""
        private = api.hub_module(self._source, trainable=True, tags=self._tags_arg, hub=self._hub,
                                 load_options=self._load_options)
        new = _match_variables([v._adopted for v in self.module_variables], private.variables, self.handle)
        for variable, target in zip(self.module_variables, new):
            target.assign(variable._adopted)
            variable.adopt(target)
        self._use(private)

    def load_own_variables(self, store):
        # Weights that differ from the module's (a fine-tuned model saved frozen, say) must not be
        # written into the shared inference copy.
        if not self._private and any(
                not _same(store[str(i)], v._adopted) for i, v in enumerate(self.module_variables)):
            self._go_private()
        super().load_own_variables(store)

    @property
    def way(self):
        """The Way the layer calls (hubfn.ways): its function's name, kind, input and output specs."""
        return self._target.way

    # --- running -----------------------------------------------------------------------------------
    def call(self, inputs, training=None):
        train = bool(training) and self.trainable
        name = self._target.name
        options = self._options
        arguments = options.arguments or None
        if not self._target.keywords:
            if arguments:
                inputs, arguments = self._merge_arguments(name, inputs), None  # signatures: named inputs
        else:
            inputs, arguments = self._bind_hyperparameters(inputs, arguments)
        outputs = call_plan(self._module, name, train)(inputs, as_dict=True, arguments=arguments)
        if self.trainable:
            for loss in self._module.regularization_losses:
                self.add_loss(loss())
        result = self._shape_outputs(outputs)
        if options.output_shape is not None:
            layer_shapes.set_shapes(result, options.output_shape, layer_shapes.batch_dim(inputs), self.handle)
        return result

    def _bind_hyperparameters(self, inputs, arguments):
        """For a function saved with several positional tensor inputs (structure "args"): one input value,
        then arguments= (and saved defaults, for inputs that have one) fill the rest by name, as a direct
        call would (tensorflow_hub passes arguments= as keywords). Optional tensor arguments such as
        `__call__(x, a=1., b=0.)`'s are keyword inputs instead, which module_apply takes from arguments=."""
        way = self._target.way
        if way.structure != "args" or len(way.input_names) < 2 or isinstance(inputs, (dict, list, tuple)):
            return inputs, arguments
        names, saved = way.input_names, way.defaults
        rest, values = dict(arguments or {}), {names[0]: inputs}
        for key in names[1:]:
            if key not in rest and key not in saved:
                return inputs, arguments  # module_apply says what is missing
            values[key] = rest.pop(key) if key in rest else saved[key]
        return values, rest or None

    def _merge_arguments(self, name, inputs):
        extra = self._options.arguments
        if isinstance(inputs, dict):
            return {**extra, **inputs}
        names = [n for n in self._target.way.input_names if n not in extra]
        if len(names) != 1:
            raise errors.InputError(f"hub_layer({self.handle!r}): besides the arguments {sorted(extra)}, the "
                                    f"signature takes {', '.join(names) or 'nothing'}; pass a dict of inputs.")
        return {**extra, names[0]: inputs}

    def _shape_outputs(self, outputs):
        """The layer's result from module_apply's dict, following the output options."""
        options = self._options
        where = f"hub_layer({self.handle!r})"
        function = self._target.keywords  # __call__ or a sub-object: its result as it is
        raw_dict = not function or set(outputs) != {"default"} or self._target.returns_dict
        if options.output_key is not None:
            return pick_output(outputs, options.output_key, where, "")
        if options.as_dict:
            return outputs
        if not raw_dict:
            return outputs["default"]  # what __call__ returned: a tensor, list or tuple
        if function and options.as_dict is None:
            return outputs
        return pick_output(outputs, None, where, "Pass output_key= one of them, or as_dict=True for all.")

    # --- shapes -------------------------------------------------------------------------------------
    def compute_output_spec(self, *args, **kwargs):
        # Layer's version would make every output float32 from compute_output_shape; tracing the call
        # (Operation's version) gives each output its own dtype and structure.
        return super(keras.layers.Layer, self).compute_output_spec(*args, **kwargs)

    def compute_output_shape(self, input_shape):
        """From `output_shape=` when given, else by tracing the module on inputs of that shape."""
        if self._options.output_shape is not None:
            batch = layer_shapes.first_dim(input_shape)
            return layer_shapes.map_shapes(lambda s: (batch, *s), self._options.output_shape)
        spec = self.compute_output_spec(layer_shapes.placeholders(input_shape, self._input_dtypes()))
        return layer_shapes.map_leaves(lambda t: tuple(t.shape), spec)

    def _input_dtypes(self):
        """The dtype(s) the module declares for its inputs: one name, or {input name: dtype}."""
        if self._string_input_shape is not None:
            return self.dtype_policy.name
        way = self._target.way
        dtypes = {t.name: t.dtype for t in way.inputs or () if t.kind in ("dense", "ragged", "sparse")}
        if way.kind == "function" and way.structure == "dict":
            return dtypes  # keyed like the dict the function takes
        return next(iter(dtypes.values())) if len(dtypes) == 1 else dtypes or "float32"

    # --- config ------------------------------------------------------------------------------------
    def get_config(self):
        config = super().get_config()
        o = self._options
        config.update(handle=self.handle, signature=o.signature, output_key=o.output_key, arguments=dict(o.arguments),
                      tags=list(self._tags_arg) if isinstance(self._tags_arg, tuple) else self._tags_arg,
                      as_dict=o.as_dict,
                      output_shape=layer_shapes.shape_json(o.output_shape))
        return config


class _Options:
    """The layer's output options: a plain object, so neither Keras nor TensorFlow tracks its dicts."""

    def __init__(self, signature, output_key, as_dict, arguments, output_shape):
        self.signature, self.output_key, self.as_dict = signature, output_key, as_dict
        self.arguments, self.output_shape = arguments, output_shape


class _Target:
    """What the layer calls, worked out once per module it runs (the shared copy, then maybe its private
    one) rather than on every call; a plain object, as _Options, so Keras tracks nothing in it."""

    def __init__(self, module, options):
        # hubfn's one rule, preferring __call__ when no signature is named (as tensorflow_hub does).
        self.way = choose(module, options.signature, prefer=CALL)
        self.name = self.way.name
        # Whether `arguments` are Python keywords (__call__, sub-objects), not named inputs (SignatureDefs).
        self.keywords = self.way.kind == "function"
        self.returns_dict = self.keywords and self.way.returns_dict


def hub_layer(handle, trainable=False, signature=None, output_key=None, arguments=None, tags=None,
              as_dict=None, output_shape=None, *, settings=None, cache_dir=None, offline=None, timeout=None,
              token=None, safe_mode=None, allow_ops=None, load_options=None, hub=None, resolvers=None, **kwargs):
    """A Keras 3 layer applying the module at `handle` (a handle, or a Module whose handle is used).

    trainable: fine-tune the module's weights (its regularization losses are added to the model's).
        Settable later (`layer.trainable = True`): the layer then trains a private copy of the module.
    signature: the signature to run; None runs the module's `__call__` (TF2) or "default" (TF1).
    output_key: return this one output. as_dict: True returns every output as a dict (a signature's,
        or {"default": x}); None returns what `__call__` returns (a dict stays a dict) or a signature's
        "default"/only output. `signature_outputs_as_dict=` is accepted as tensorflow_hub's name for it.
    arguments: keyword arguments for every call: passed to `__call__` as such (e.g. return_dict=True),
        given to a signature as extra named inputs.
    output_shape: the output shape(s) without the batch dimension (a nest like the outputs), for
        modules whose outputs have no static shape; also used by `compute_output_shape`.
    tags: the graph variant of a TF1 hub module (trainable=True picks {"train"} when there is one).
    settings, cache_dir, offline, timeout, token: fetch settings, as in hub_load (kept out of get_config).
    safe_mode, allow_ops: as in hub_load: a module holding ops that reach outside it is refused unless
        allowed (kept out of get_config: a reloaded model is checked by its own process's settings).
    hub, resolvers: as in hub_load (kept out of get_config, like the settings).
    load_options: a tf.saved_model.LoadOptions for loading the module (e.g. experimental_io_device), as
        tensorflow_hub.KerasLayer takes; also used for the layer's trainable copy, kept out of get_config.
    **kwargs: Keras layer arguments (name, dtype, input_shape, ...).
    """
    return HubLayer(handle, trainable=trainable, signature=signature, output_key=output_key,
                    arguments=arguments, tags=tags, as_dict=as_dict, output_shape=output_shape,
                    settings=settings, cache_dir=cache_dir, offline=offline, timeout=timeout, token=token,
                    safe_mode=safe_mode, allow_ops=allow_ops, load_options=load_options, hub=hub, resolvers=resolvers,
                    **kwargs)


# --- helpers ---------------------------------------------------------------------------------------
def _name(handle):
    return handle.handle if isinstance(handle, Module) else str(handle)


def _one_flag(as_dict, signature_outputs_as_dict):
    if signature_outputs_as_dict is None:
        return as_dict
    if as_dict is not None and bool(as_dict) != bool(signature_outputs_as_dict):
        raise errors.OutputError("as_dict= and signature_outputs_as_dict= are the same option; they disagree.")
    return bool(signature_outputs_as_dict)


def _own_input_shape(kwargs):
    """Take `input_shape` out of the Keras kwargs when `dtype` is not a float (see HubLayer.input_shape)."""
    tf = import_tensorflow()

    dtype = kwargs.get("dtype")
    if isinstance(dtype, tf.DType):
        dtype = kwargs["dtype"] = dtype.name  # tensorflow_hub's tutorials pass dtype=tf.string
    if kwargs.get("input_shape") is None or not isinstance(dtype, str):
        return None
    try:
        floating = tf.as_dtype(dtype).is_floating
    except TypeError:  # a mixed-precision policy name
        floating = True
    if floating:
        return None
    return (None, *layer_shapes.shape_nest(kwargs.pop("input_shape")))


def _match_variables(old, new, handle):
    """`new` (a fresh load's variables) in the order of `old`: by position, else by unique names."""
    if [v.name for v in old] == [v.name for v in new]:
        return list(new)
    by_name = {v.name: v for v in new}
    if len(by_name) == len(new) and all(v.name in by_name for v in old):
        return [by_name[v.name] for v in old]
    raise errors.TrainableError(
        f"hub_layer({handle!r}): the trainable copy of the module has other variables than the frozen one, "
        "so this layer cannot be unfrozen. Make it with trainable=True (and freeze it until needed)."
    )


def _same(stored, tf_variable):
    import numpy as np

    value = np.asarray(stored)
    return value.shape == tuple(tf_variable.shape) and np.array_equal(value, tf_variable.numpy())
