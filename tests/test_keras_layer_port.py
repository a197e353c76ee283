"""tensorflow_hub's KerasLayer test cases, ported to hub_layer (Keras 3).

Each test names the tensorflow_hub case it ports (tensorflow_hub/keras_layer_test.py). The modules are
built here, as those cases describe them: "raw" ones written with tf.saved_model.save and the reusable
SavedModel attributes, "keras" ones exported from a Keras 3 model through hubfn.export_savedmodel.
Where tensorflow_hub 0.16.1 + tf_keras run the same case, they run it side by side (`test_side_by_side_*`)
and the numbers must agree.

Deliberate differences (hubfn's documented behaviour, asserted instead of tensorflow_hub's errors):
a signature with one output needs no output_key; as_dict=True works without a signature ({"default": x});
a trainable layer may call a signature (TF1 modules are fine-tuned that way) and only warns when there is
nothing to train. Keras 3 computes a layer's losses when it is called, so losses are checked after a call.
KerasLayer's `load_options=` (its one constructor option not in a case above) is tested here too.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn
from hubfn import errors

KINDS = ["raw", "keras"]


def _json_cycle(config):
    return json.loads(json.dumps(config))


def _root():
    return tf.__internal__.tracking.AutoTrackable()


def _reusable(root, variables, trainable, losses=()):
    root.variables = list(variables)
    root.trainable_variables = list(trainable)
    root.regularization_losses = [tf.function(fn, input_signature=[]) for fn in losses]


# --- modules ---------------------------------------------------------------------------------------
def save_half_plus_one(path, kind):
    """y = w*x + 1 with w = 0.5 trainable (L2 0.01) and the "+ 1" layer frozen."""
    times_w = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(0.5),
                                 kernel_regularizer=keras.regularizers.L2(0.01))
    plus_one = keras.layers.Dense(1, kernel_initializer="ones", bias_initializer="ones", trainable=False)
    model = keras.Sequential([keras.Input((1,)), times_w, plus_one])
    if kind == "keras":
        return hubfn.export_savedmodel(model, path)
    root = _root()
    root.__call__ = tf.function(lambda x: model(x, training=False),
                                input_signature=[tf.TensorSpec((None, 1), tf.float32)])
    kernel = times_w.kernel.value
    _reusable(root, [v.value for v in model.weights], [kernel], [lambda: 0.01 * tf.reduce_sum(kernel ** 2)])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_text_length_embedding(path, kind):
    """y = length(text) * [0.1, 0.3] for text of shape [batch, 1]; the weight trains (L2 0.01)."""
    w = tf.Variable([[0.1, 0.3]], name="w")

    @tf.function(input_signature=[tf.TensorSpec((None, 1), tf.string)])
    def call(text):
        return tf.matmul(tf.cast(tf.strings.length(text), tf.float32), w)

    if kind == "keras":  # the same function with its variable, through hubfn's exporter
        class Embed(tf.Module):
            def __init__(self):
                super().__init__()
                self.w = w
                self.__call__ = call

        return hubfn.export_savedmodel(Embed(), path)
    root = _root()
    root.__call__ = call
    _reusable(root, [w], [w], [lambda: 0.01 * tf.reduce_sum(w ** 2)])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_batch_norm(path, kind):
    """One batch-norm layer (momentum 0.8) whose __call__ takes `training`."""
    bn = keras.layers.BatchNormalization(momentum=0.8)
    model = keras.Sequential([keras.Input((1,)), bn])
    if kind == "keras":
        return hubfn.export_savedmodel(model, path)
    fn = tf.function(lambda inputs, training=False: model(inputs, training=training))
    for training in (True, False):
        fn.get_concrete_function(tf.TensorSpec((None, 1), tf.float32), training=training)
    root = _root()
    root.__call__ = fn
    _reusable(root, [bn.beta.value, bn.gamma.value, bn.moving_mean.value, bn.moving_variance.value],
              [bn.beta.value, bn.gamma.value])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def bn_vars(module):
    """beta, gamma, moving mean, moving variance of a batch-norm module, by name."""
    found = {}
    for v in module.variables:
        for suffix in ("beta", "gamma", "moving_mean", "moving_variance"):
            if v.name.rsplit(":", 1)[0].endswith(suffix):
                found[suffix] = v
    return [found[s] for s in ("beta", "gamma", "moving_mean", "moving_variance")]


def save_with_hparams(path):
    """y = a*x + b, with hyperparameters a=1 and b=0 as optional __call__ inputs; no variables."""
    @tf.function(input_signature=[tf.TensorSpec((None, 1), tf.float32), tf.TensorSpec((), tf.float32),
                                  tf.TensorSpec((), tf.float32)])
    def call(x, a=1.0, b=0.0):
        return a * x + b

    root = _root()
    root.__call__ = call
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_custom_attributes(path, scratch, kind):
    """__call__ parses numbers; `sample_input` (an asset holding "12345") parses to `sample_output`."""
    os.makedirs(scratch, exist_ok=True)
    sample = os.path.join(scratch, "number.txt")
    with open(sample, "w") as f:
        f.write("12345\n")
    parse = tf.function(lambda text: tf.strings.to_number(tf.strings.strip(text), tf.int64),
                        input_signature=[tf.TensorSpec((None, 1), tf.string)])
    if kind == "keras":
        class Parser(tf.Module):
            def __init__(self):
                super().__init__()
                self.__call__ = parse

        obj = Parser()
    else:
        obj = _root()
        obj.__call__ = parse
    obj.sample_input = tf.saved_model.Asset(sample)
    obj.sample_output = tf.Variable([[12345]], dtype=tf.int64)
    if kind == "keras":
        hubfn.export_savedmodel(obj, path)
    else:
        tf.saved_model.save(obj, os.fspath(path))
    os.remove(sample)  # the module must use its own copy
    return os.fspath(path)


def save_dict_in_out(path):
    """__call__({x, y}, return_dict=False): sigma = [x+y, x+2y]; with return_dict also delta = x-y."""
    @tf.function
    def call(d, return_dict=False):
        sigma = tf.concat([d["x"] + d["y"], d["x"] + 2 * d["y"]], axis=-1)
        return {"sigma": sigma, "delta": d["x"] - d["y"]} if return_dict else sigma

    spec = {"x": tf.TensorSpec((None, 1), tf.float32), "y": tf.TensorSpec((None, 1), tf.float32)}
    for return_dict in (False, True):
        call.get_concrete_function(spec, return_dict=return_dict)
    root = _root()
    root.__call__ = call
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_obscure_list(path):
    """Three outputs per row x: x of shape [1], 2x of [2, 2], 3x of [3, 3, 3]; static shapes hidden."""
    def obscure_broadcast(value, shape):
        noise = 0.1 * tf.sin(tf.random.uniform((), -3.0, 3.0)) + 0.3  # rounds away, hides the shape
        return tf.broadcast_to(value, tf.cast(tf.cast(shape, tf.float32) + noise, tf.int32))

    @tf.function(input_signature=[tf.TensorSpec((None, 1), tf.float32)])
    def call(x):
        n = tf.shape(x)[0]
        return [obscure_broadcast(tf.reshape(i * x, [n] + [1] * i), tf.concat([[n], [i] * i], 0))
                for i in (1, 2, 3)]

    root = _root()
    root.__call__ = call
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_plus_one(path):
    """x + 1 for any float32 shape: __call__ and the "serving_default" signature (output "output_0")."""
    root = _root()
    root.__call__ = tf.function(lambda x: x + 1, input_signature=[tf.TensorSpec(None, tf.float32)])
    tf.saved_model.save(root, os.fspath(path))
    return os.fspath(path)


def save_plus_one_keras_default(path):
    """__call__(x, training) is x+1 in training, x otherwise; signature "plus_one" is always x+1."""
    root = _root()
    root.plus_one = tf.function(lambda x: x + 1, input_signature=[tf.TensorSpec(None, tf.float32)])

    @tf.function(input_signature=[tf.TensorSpec(None, tf.float32), tf.TensorSpec((), tf.bool)])
    def call(x, training=False):
        return x + 1 if training else x

    root.__call__ = call
    tf.saved_model.save(root, os.fspath(path), signatures={"plus_one": root.plus_one})
    return os.fspath(path)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("port")
    paths = {}
    for kind in KINDS:
        paths["half", kind] = save_half_plus_one(base / f"half-{kind}", kind)
        paths["text", kind] = save_text_length_embedding(base / f"text-{kind}", kind)
        paths["bn", kind] = save_batch_norm(base / f"bn-{kind}", kind)
        paths["custom", kind] = save_custom_attributes(base / f"custom-{kind}", base / f"scratch-{kind}", kind)
    paths["hparams"] = save_with_hparams(base / "hparams")
    paths["dicts"] = save_dict_in_out(base / "dicts")
    paths["obscure"] = save_obscure_list(base / "obscure")
    paths["plus_one"] = save_plus_one(base / "plus_one")
    paths["keras_default"] = save_plus_one_keras_default(base / "keras_default")
    return paths


def _steps(x, y, n):
    """The whole batch (x, y), n times: n training steps in one epoch."""
    return tf.data.Dataset.from_tensors((x, y)).repeat(n)


def _losses(model):
    return [float(v) for v in model.losses]


# --- KerasTest -------------------------------------------------------------------------------------
def fit_half_plus_one(layer_fn, Input, Model, SGD, path):
    """testHalfPlusOneRetraining's steps, for either Keras: returns (model, imported layer)."""
    inp = Input(shape=(1,), dtype="float32")
    imported = layer_fn(path)
    model = Model(inp, imported(inp))
    model.compile(SGD(0.002), "mean_squared_error")
    x = np.array([[9.0], [10.0], [11.0]] * 10, np.float32)
    model.fit(_steps(x, x / 2 + 6, 10), shuffle=False, verbose=0)
    return model, imported


@pytest.mark.parametrize("kind", KINDS)
def test_half_plus_one_retraining(built, kind):  # testHalfPlusOneRetraining
    inp = keras.Input((1,))
    imported = hubfn.hub_layer(built["half", kind], trainable=True)
    model = keras.Model(inp, imported(inp))
    np.testing.assert_array_equal(model(np.array([[0.0], [8.0], [10.0], [12.0]], np.float32)).numpy(),
                                  [[1.0], [5.0], [6.0], [7.0]])
    np.testing.assert_allclose(_losses(model), [0.0025], rtol=1e-6)
    assert len(model.trainable_weights) == 1 and len(model.trainable_weights[0].shape) == 2
    assert sorted(len(w.shape) for w in model.non_trainable_weights) == [1, 2]
    assert not {id(w) for w in model.trainable_weights} & {id(w) for w in model.non_trainable_weights}
    model, _ = fit_half_plus_one(lambda p: hubfn.hub_layer(p, trainable=True), keras.Input, keras.Model,
                                 keras.optimizers.SGD, built["half", kind])
    np.testing.assert_array_equal(model(np.array([[0.0]], np.float32)).numpy(), [[1.0]])  # the frozen bias
    np.testing.assert_allclose(model(np.array([[10.0]], np.float32)).numpy(), [[11.0]], rtol=0.03)
    np.testing.assert_allclose(_losses(model), [0.01], rtol=0.06)


@pytest.mark.parametrize("kind", KINDS)
def test_regularization_loss(built, kind):  # testRegularizationLoss
    inp = keras.Input((1,))
    imported = hubfn.hub_layer(built["half", kind], trainable=False)
    model = keras.Model(inp, imported(inp))
    x = np.array([[1.0]], np.float32)
    model(x)
    assert _losses(model) == []  # frozen: no losses
    for trainable, expected in ((True, [0.0025]), (False, []), (True, [0.0025])):  # toggled at will
        imported.trainable = trainable
        model(x)
        np.testing.assert_allclose(_losses(model), expected, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_norm_retraining(built, kind):  # testBatchNormRetraining
    inp = keras.Input((1,))
    imported = hubfn.hub_layer(built["bn", kind], trainable=True)
    beta, gamma, mean, variance = bn_vars(imported.module)
    model = keras.Model(inp, imported(inp))
    model.compile(keras.optimizers.SGD(0.1), "mean_squared_error")
    x = np.array([[11.0], [12.0], [13.0]], np.float32)
    model.fit(_steps(x, 2 * x, 100), shuffle=False, verbose=0)  # 100 steps on one batch, as 100 epochs would
    np.testing.assert_allclose(mean.numpy(), [12.0], rtol=1e-5)
    np.testing.assert_allclose(beta.numpy(), [24.0], rtol=1e-5)
    np.testing.assert_allclose(model(x).numpy(), 2 * x, rtol=1e-4)
    # Inference uses the moving statistics and does not update them.
    for _ in range(10):
        np.testing.assert_allclose(model(np.array([[10.0], [20.0], [30.0]], np.float32)).numpy(),
                                   [[20.0], [40.0], [60.0]], rtol=1e-4)
    np.testing.assert_allclose(mean.numpy(), [12.0], rtol=1e-5)
    np.testing.assert_allclose(beta.numpy(), [24.0], rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_batch_norm_freezing(built, kind):  # testBatchNormFreezing
    inp = keras.Input((1,))
    imported = hubfn.hub_layer(built["bn", kind], trainable=False)
    variables = bn_vars(imported.module)
    dense = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(1.5))
    model = keras.Model(inp, dense(imported(inp)))
    initial = [[0.0], [1.0], [0.0], [1.0]]
    np.testing.assert_allclose([v.numpy() for v in variables], initial)
    model.compile(keras.optimizers.SGD(0.1), "mean_squared_error")
    x = np.array([[1.0], [2.0], [3.0]], np.float32)
    model.fit(_steps(x, 2 * x, 20), shuffle=False, verbose=0)
    np.testing.assert_allclose([v.numpy() for v in variables], initial)  # batch norm untouched
    np.testing.assert_allclose(model(x).numpy(), 2 * x, rtol=1e-3)


@pytest.mark.parametrize("kind", KINDS)
def test_custom_attributes(built, kind):  # testCustomAttributes
    imported = hubfn.hub_layer(built["custom", kind])
    obj = imported.module.obj  # tensorflow_hub: imported.resolved_object
    obj = getattr(obj, "wrapped", obj)  # hubfn's exporter keeps the exported object under `wrapped`
    with open(obj.sample_input.asset_path.numpy().decode()) as f:
        inputs = tf.constant([[f.read()]])
    np.testing.assert_array_equal(imported(inputs).numpy(), obj.sample_output.numpy())


@pytest.mark.parametrize("output_shapes", [False, True])
def test_input_output_dict(built, output_shapes):  # testInputOutputDict
    x_in, y_in = keras.Input((1,), name="x"), keras.Input((1,), name="y")
    kwargs = {"arguments": {"return_dict": True}}
    if output_shapes:
        kwargs["output_shape"] = {"sigma": (2,), "delta": (1,)}
    imported = hubfn.hub_layer(built["dicts"], **kwargs)
    out = imported({"x": x_in, "y": y_in})
    concat = keras.layers.concatenate([out["delta"], out["sigma"]])
    model = keras.Model({"x": x_in, "y": y_in}, [out["delta"], out["sigma"], concat])
    x = np.array([[11.0], [22.0], [33.0]], np.float32)
    y = np.array([[1.0], [2.0], [3.0]], np.float32)
    delta, sigma, both = (t.numpy() for t in model({"x": x, "y": y}))
    np.testing.assert_allclose(delta, [[10.0], [20.0], [30.0]])
    np.testing.assert_allclose(sigma, [[12.0, 13.0], [24.0, 26.0], [36.0, 39.0]])
    np.testing.assert_allclose(both, [[10.0, 12.0, 13.0], [20.0, 24.0, 26.0], [30.0, 36.0, 39.0]])
    clone = hubfn.HubLayer.from_config(_json_cycle(imported.get_config()))
    assert clone.get_config()["output_shape"] == ({"sigma": [2], "delta": [1]} if output_shapes else None)
    assert clone.get_config()["arguments"] == {"return_dict": True}


@pytest.mark.parametrize("output_shapes", [False, True])
def test_output_shape_list(built, output_shapes):  # testOutputShapeList
    kwargs = {"output_shape": [[1], [2, 2], [3, 3, 3]]} if output_shapes else {}
    inp = keras.Input((1,))
    imported = hubfn.hub_layer(built["obscure"], **kwargs)
    outputs = imported(inp)
    if output_shapes:  # the static shapes come from output_shape=
        assert [tuple(t.shape) for t in outputs] == [(None, 1), (None, 2, 2), (None, 3, 3, 3)]
    model = keras.Model(inp, outputs)
    single, double, triple = (t.numpy() for t in model(np.array([[1.0], [10.0]], np.float32)))
    np.testing.assert_allclose(single, [[1.0], [10.0]])
    np.testing.assert_allclose(double, np.broadcast_to(np.array([2.0, 20.0])[:, None, None], (2, 2, 2)))
    np.testing.assert_allclose(triple, np.broadcast_to(np.array([3.0, 30.0])[:, None, None, None], (2, 3, 3, 3)))
    clone = hubfn.HubLayer.from_config(_json_cycle(imported.get_config()))
    assert clone.get_config()["output_shape"] == ([[1], [2, 2], [3, 3, 3]] if output_shapes else None)


@pytest.mark.parametrize("kind", KINDS)
def test_compute_output_shape(built, kind):  # testComputeOutputShape
    layer = hubfn.hub_layer(built["half", kind])
    assert tuple(layer.compute_output_shape((10, 1))) == (10, 1)
    layer.get_config()


@pytest.mark.parametrize("kind", KINDS)
def test_compute_output_shape_different_dtypes(built, kind):  # testComputeOutputShapeDifferentDtypes
    layer = hubfn.hub_layer(built["text", kind], output_shape=(2,))
    assert tuple(layer.compute_output_shape((None, 1))) == (None, 2)
    assert tuple(layer.compute_output_shape((3, 1))) == (3, 2)
    # hubfn also finds it without output_shape=, tracing the module with its declared string input.
    assert tuple(hubfn.hub_layer(built["text", kind]).compute_output_shape((3, 1))) == (3, 2)


@pytest.mark.parametrize("kind", KINDS)
def test_resave_with_mixed_precision(built, kind, tmp_path):  # testResaveWithMixedPrecision
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        inp = keras.Input((1,), dtype="string")
        imported = hubfn.hub_layer(built["text", kind], trainable=True)
        model = keras.Model(inp, imported(inp))
        model.compile(keras.optimizers.SGD(0.002, momentum=0.001), "mean_squared_error")
        x = tf.constant([["a"], ["aa"], ["aaa"]])
        model.fit(x, np.array([[1.0, 1.0], [2.0, 2.0], [3.0, 3.0]], np.float32), verbose=0)
        expected = model.predict(x, verbose=0)
        out = hubfn.export_savedmodel(model, tmp_path / "resaved")
    finally:
        keras.mixed_precision.set_global_policy("float32")
    np.testing.assert_allclose(hubfn.hub_load(out)(x).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_get_config_from_config(built, kind):  # testGetConfigFromConfig
    layer = hubfn.hub_layer(built["half", kind])
    x = np.array([[10.0]], np.float32)
    clone = hubfn.HubLayer.from_config(_json_cycle(layer.get_config()))
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())


def test_get_config_from_config_with_hparams(built):  # testGetConfigFromConfigWithHParams
    layer = hubfn.hub_layer(built["hparams"], arguments={"a": 10.0})  # b stays 0
    x = np.array([[1.0], [2.0], [3.0]], np.float32)
    np.testing.assert_array_equal(layer(x).numpy(), [[10.0], [20.0], [30.0]])
    clone = hubfn.HubLayer.from_config(_json_cycle(layer.get_config()))
    np.testing.assert_array_equal(clone(x).numpy(), [[10.0], [20.0], [30.0]])


@pytest.mark.parametrize("kind", KINDS)
def test_save_model_config(built, kind):  # testSaveModelConfig
    model = keras.Sequential([hubfn.hub_layer(built["half", kind])])
    x = np.array([[10.0]], np.float32)
    expected = model(x).numpy()
    clone = keras.models.model_from_json(model.to_json())  # registered: no custom_objects needed
    np.testing.assert_array_equal(clone(x).numpy(), expected)


# --- KerasLayerTest --------------------------------------------------------------------------------
def test_load_with_defaults(built):  # test_load_with_defaults
    assert float(hubfn.hub_layer(built["plus_one"])(10.0)) == 11.0


@pytest.mark.parametrize("signature,output_key,as_dict", [
    (None, None, False), ("serving_default", None, True), ("serving_default", "output_0", False)])
def test_callable_with_signature(built, signature, output_key, as_dict):
    # test_load_callable_saved_model_v2_with_signature
    layer = hubfn.hub_layer(built["plus_one"], signature=signature, output_key=output_key,
                            signature_outputs_as_dict=as_dict)
    out = layer(10.0)
    if as_dict:
        assert isinstance(out, dict) and float(out["output_0"]) == 11.0
    else:
        assert float(out) == 11.0


def test_keras_default_callable_with_signature(built):
    # test_load_callable_keras_default_saved_model_v2_with_signature
    out = hubfn.hub_layer(built["keras_default"], signature="plus_one", signature_outputs_as_dict=True)(10.0)
    assert isinstance(out, dict) and float(out["output_0"]) == 11.0


@pytest.mark.parametrize("signature,output_key,as_dict", [
    (None, None, False), ("serving_default", None, True), ("serving_default", "output_0", False)])
def test_get_config(built, signature, output_key, as_dict):  # test_keras_layer_get_config
    layer = hubfn.hub_layer(built["plus_one"], signature=signature, output_key=output_key, as_dict=as_dict)
    clone = hubfn.HubLayer.from_config(_json_cycle(layer.get_config()))
    a, b = layer(10.0), clone(10.0)
    if as_dict:
        a, b = a["output_0"], b["output_0"]
    assert float(a) == float(b) == 11.0


def test_signature_with_one_output_needs_no_output_key(built):
    # test_keras_layer_fails_if_signature_output_not_specified: hubfn returns the only output.
    assert float(hubfn.hub_layer(built["plus_one"], signature="serving_default")(10.0)) == 11.0


def test_as_dict_without_signature(built):
    # test_keras_layer_fails_if_with_outputs_as_dict_but_no_signature: hubfn keys __call__'s one output.
    out = hubfn.hub_layer(built["plus_one"], as_dict=True)(10.0)
    assert list(out) == ["default"] and float(out["default"]) == 11.0


def test_tags_a_tf2_module_lacks(built):  # test_keras_layer_fails_if_saved_model_v2_with_tags
    with pytest.raises(errors.TagsError):
        hubfn.hub_layer(built["plus_one"], tags=["train"])


def test_output_key_and_as_dict_together(built):  # test_keras_layer_fails_if_setting_both_output_key_and_as_dict
    with pytest.raises(errors.OutputError, match="not both"):
        hubfn.hub_layer(built["plus_one"], signature="serving_default", signature_outputs_as_dict=True,
                        output_key="output_0")


def test_output_key_on_a_tensor_output(built):  # test_keras_layer_fails_if_output_is_not_dict
    with pytest.raises(errors.OutputError, match="'output_0'"):
        hubfn.hub_layer(built["plus_one"], output_key="output_0")(10.0)


def test_trainable_signature_runs_and_warns(built):  # test_keras_layer_fails_if_signature_trainable
    with pytest.warns(UserWarning, match="no trainable variables"):
        layer = hubfn.hub_layer(built["plus_one"], signature="serving_default", as_dict=True, trainable=True)
    assert float(layer(10.0)["output_0"]) == 11.0


def test_warns_once_if_training_zero_variables(built):  # test_keras_layer_logs_if_training_zero_variables
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        layer = hubfn.hub_layer(built["hparams"], trainable=True)
        layer(np.array([[10.0]], np.float32))
        layer(np.array([[10.0]], np.float32))
        layer.trainable = False
        layer.trainable = True
    messages = [str(w.message) for w in caught if "no trainable variables" in str(w.message)]
    assert len(messages) == 1, messages


def test_load_options(built):  # KerasLayer(handle, load_options=tf.saved_model.LoadOptions(...))
    path = built["half", "raw"]
    x = np.array([[10.0]], np.float32)
    io = tf.saved_model.LoadOptions(experimental_io_device="/job:localhost")
    layer = hubfn.hub_layer(path, load_options=io)
    np.testing.assert_array_equal(layer(x).numpy(), [[6.0]])
    assert "load_options" not in layer.get_config()  # where this process reads files, as tensorflow_hub keeps it
    assert layer.module.obj is not hubfn.hub_load(path).obj  # a load of its own, not the shared copy
    # The options reach TensorFlow's loader, for the frozen layer and for its trainable copy alike:
    # skipping the checkpoint leaves the saved weight (w = 0.5) unread.
    skip = tf.saved_model.LoadOptions(experimental_skip_checkpoint=True)
    skipped = hubfn.hub_layer(path, load_options=skip)
    def values(module):
        return {v.name: v.numpy().tolist() for v in module.variables}

    saved = values(hubfn.hub_load(path))
    assert values(skipped.module) != saved
    tuned = hubfn.hub_layer(path, load_options=io)
    tuned.trainable = True  # its private copy is loaded with the same options and holds the same weights
    assert tuned.module.trainable and values(tuned.module) == saved
    with pytest.raises(errors.InputError, match="tf.saved_model.LoadOptions"):
        hubfn.hub_layer(path, load_options={"experimental_io_device": "/job:localhost"})


# --- side by side with tensorflow_hub 0.16.1 + tf_keras --------------------------------------------
@pytest.fixture(scope="module")
def tfhub():
    hub = pytest.importorskip("tensorflow_hub")
    import tf_keras

    return hub, tf_keras


@pytest.mark.parametrize("kind", KINDS)
def test_side_by_side_half_plus_one_retraining(built, tfhub, kind):
    hub, tf_keras = tfhub
    ours, _ = fit_half_plus_one(lambda p: hubfn.hub_layer(p, trainable=True), keras.Input, keras.Model,
                                keras.optimizers.SGD, built["half", kind])
    theirs, _ = fit_half_plus_one(lambda p: hub.KerasLayer(p, trainable=True), tf_keras.Input, tf_keras.Model,
                                  tf_keras.optimizers.SGD, built["half", kind])
    x = np.array([[0.0], [10.0], [-3.0]], np.float32)
    np.testing.assert_allclose(ours(x).numpy(), theirs(x).numpy(), rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_side_by_side_batch_norm_retraining(built, tfhub, kind):
    hub, tf_keras = tfhub
    results = []
    for layer_fn, K in ((hubfn.hub_layer, keras), (hub.KerasLayer, tf_keras)):
        inp = K.Input(shape=(1,))
        imported = layer_fn(built["bn", kind], trainable=True)
        model = K.Model(inp, imported(inp))
        model.compile(K.optimizers.SGD(0.1), "mean_squared_error")
        x = np.array([[11.0], [12.0], [13.0]], np.float32)
        model.fit(_steps(x, 2 * x, 30), shuffle=False, verbose=0)
        results.append(model(np.array([[10.0], [15.0]], np.float32)).numpy())
    np.testing.assert_allclose(results[0], results[1], rtol=1e-4)


def test_side_by_side_dicts_and_hparams(built, tfhub):
    hub, _ = tfhub
    d = {"x": np.array([[11.0], [22.0]], np.float32), "y": np.array([[1.0], [2.0]], np.float32)}
    ours = hubfn.hub_layer(built["dicts"], arguments={"return_dict": True})(d)
    theirs = hub.KerasLayer(built["dicts"], arguments={"return_dict": True})(d)
    assert set(ours) == set(theirs) == {"sigma", "delta"}
    for key in ours:
        np.testing.assert_array_equal(ours[key].numpy(), theirs[key].numpy())
    x = np.array([[1.0], [2.0]], np.float32)
    np.testing.assert_array_equal(hubfn.hub_layer(built["hparams"], arguments={"a": 3.0, "b": 1.0})(x).numpy(),
                                  hub.KerasLayer(built["hparams"], arguments={"a": 3.0, "b": 1.0})(x).numpy())
