"""hub_layer on the module shapes of tests/shapes.py: outputs, arguments, shapes, freezing and
unfreezing, `.keras` files after a plain `import hubfn`, and hub_layer + export for every shape."""

import subprocess
import sys
import textwrap
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn
import shapes
from hubfn import errors

SENTENCES = tf.constant(["the cat sat on a mat", "a dog runs fast", "hub module"])
LABELS = np.array([[1.0], [0.0], [1.0]], np.float32)


def _ids():
    words = np.array([[2, 5, 6, 3, 0, 0], [2, 11, 12, 13, 14, 3]], np.int32)
    return {"input_word_ids": words, "input_mask": (words > 0).astype(np.int32),
            "input_type_ids": np.zeros_like(words)}


def _fit(model, x, y, steps, lr=0.1):
    model.compile(keras.optimizers.SGD(lr), "mse")
    model.fit(tf.data.Dataset.from_tensors((x, y)), epochs=steps, shuffle=False, verbose=0)


# --- outputs -------------------------------------------------------------------------------------------
def test_call_dicts_come_back_whole_and_output_key_picks(bert_encoder_dir, fruit_dir):
    ids = _ids()
    expected = shapes.bert_encoder_numpy(ids["input_word_ids"], ids["input_mask"], ids["input_type_ids"])
    out = hubfn.hub_layer(bert_encoder_dir)(ids)
    assert set(out) == {"default", "pooled_output", "sequence_output", "encoder_outputs"}
    assert isinstance(out["encoder_outputs"], list) and len(out["encoder_outputs"]) == shapes.LAYERS
    np.testing.assert_allclose(out["pooled_output"].numpy(), expected["pooled_output"], rtol=1e-5, atol=1e-6)
    pooled = hubfn.hub_layer(bert_encoder_dir, output_key="sequence_output")(ids)
    np.testing.assert_allclose(pooled.numpy(), expected["sequence_output"], rtol=1e-5, atol=1e-6)
    both = hubfn.hub_layer(fruit_dir, signature="fruit_to_pet", as_dict=True)(
        {"apples": np.array([1.0]), "oranges": np.array([1.0])})
    assert {k: float(v[0]) for k, v in both.items()} == {"cats": 3.0, "dogs": -2.0}


def test_arguments_reach_a_sub_object_as_keywords(bert_preprocessor_dir):
    # bert_pack_inputs(segments, seq_length=...): the Python keyword comes from arguments=.
    tokens = hubfn.hub_layer(bert_preprocessor_dir, signature="tokenize")(tf.constant(["the cat", "hub"]))
    packed = hubfn.hub_layer(bert_preprocessor_dir, signature="bert_pack_inputs",
                             arguments={"seq_length": shapes.SEQ_LENGTH})  # as saved
    ids = packed([tokens])["input_word_ids"].numpy()
    assert ids.shape == (2, shapes.SEQ_LENGTH) and not ids[:, 6:].any()
    np.testing.assert_array_equal(ids[:, :6], [[2, 4, 5, 3, 0, 0], [2, 11, 3, 0, 0, 0]])


def test_arguments_join_the_inputs_of_the_signature_module_apply_picks(tmp_path):
    """No __call__, no "default", several signatures: module_apply runs "serving_default", and hub_layer's
    arguments= are named inputs of that same signature (one rule picks it for both)."""
    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x"),
                                  tf.TensorSpec([], tf.float32, name="b")])
    def shift(x, b):
        return {"default": x + b}

    @tf.function(input_signature=[tf.TensorSpec([None, 1], tf.float32, name="x")])
    def double(x):
        return {"default": 2.0 * x}

    tf.saved_model.save(tf.Module(), str(tmp_path / "served"),
                        signatures={"serving_default": shift.get_concrete_function(),
                                    "double": double.get_concrete_function()})
    m = hubfn.hub_load(tmp_path / "served")
    x = np.array([[1.0], [2.0]], np.float32)
    np.testing.assert_allclose(m({"x": x, "b": 3.0}).numpy(), [[4.0], [5.0]])
    out = hubfn.hub_layer(m, arguments={"b": 3.0})(x)
    np.testing.assert_allclose(out.numpy(), [[4.0], [5.0]])


def test_output_shape_that_does_not_fit_is_an_output_error(text_embedding_dir):
    layer = hubfn.hub_layer(text_embedding_dir, output_shape=[shapes.DIM + 1])
    with pytest.raises(errors.OutputError, match="output_shape"):
        layer(SENTENCES)


# --- shapes ----------------------------------------------------------------------------------------------
def test_time_distributed_image_features(image_feature_vector_dir, text_embedding_dir):
    # A sequence of images -> a sequence of feature vectors (Keras asks the layer for its output shape).
    layer = hubfn.hub_layer(image_feature_vector_dir)
    inp = keras.Input((2, 16, 16, 3))
    out = keras.layers.TimeDistributed(layer)(inp)
    assert tuple(out.shape) == (None, 2, shapes.IMAGE_FEATURES)
    frames = np.random.RandomState(2).rand(3, 2, 16, 16, 3).astype(np.float32)
    got = keras.Model(inp, out)(frames).numpy()
    m = hubfn.hub_load(image_feature_vector_dir)
    for t in range(2):
        np.testing.assert_allclose(got[:, t], m(frames[:, t]).numpy(), rtol=1e-5, atol=1e-6)
    # Traced with the module's declared string input, without output_shape=:
    assert tuple(hubfn.hub_layer(text_embedding_dir).compute_output_shape((None,))) == (None, shapes.DIM)


def test_sequential_string_input_from_the_tutorials(text_embedding_dir):
    for dtype in ("string", tf.string):
        model = keras.Sequential([hubfn.hub_layer(text_embedding_dir, input_shape=[], dtype=dtype),
                                  keras.layers.Dense(1)])
        assert model.inputs[0].dtype == "string"
    _fit(model, SENTENCES, LABELS, steps=2)


def test_sequential_input_shape_is_honoured_without_a_keras_warning(image_feature_vector_dir):
    # hub_layer(h, input_shape=...) first in a Sequential model: the tutorials' (and R tfhub's) way.
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning, e.g. Keras 3's "Do not pass an `input_shape`"
        model = keras.Sequential([hubfn.hub_layer(image_feature_vector_dir, input_shape=(16, 16, 3)),
                                  keras.layers.Dense(1)])
    assert tuple(model.inputs[0].shape) == (None, 16, 16, 3)
    assert model(np.zeros((2, 16, 16, 3), np.float32)).shape == (2, 1)


# --- freezing and unfreezing --------------------------------------------------------------------------
def test_freeze_then_unfreeze_trains_a_private_copy(text_embedding_dir):
    shared = hubfn.hub_load(text_embedding_dir)
    original = shared(SENTENCES).numpy()
    layer = hubfn.hub_layer(text_embedding_dir)  # frozen: the shared inference copy
    assert layer.module.obj is shared.obj
    model = keras.Sequential([keras.Input((), dtype="string"), layer, keras.layers.Dense(1)])
    _fit(model, SENTENCES, LABELS, steps=2)
    np.testing.assert_array_equal(layer(SENTENCES).numpy(), original)
    layer.trainable = True  # Keras' recipe: unfreeze, compile again, fit on
    assert layer.module.obj is not shared.obj and len(layer.trainable_weights) == 1
    _fit(model, SENTENCES, LABELS, steps=3)
    tuned = layer(SENTENCES).numpy()
    assert not np.allclose(tuned, original)
    np.testing.assert_array_equal(shared(SENTENCES).numpy(), original)  # nobody else's weights moved
    np.testing.assert_array_equal(hubfn.hub_load(text_embedding_dir)(SENTENCES).numpy(), original)
    layer.trainable = False  # frozen again, keeping the tuned weights
    assert layer.trainable_weights == []
    _fit(model, SENTENCES, LABELS, steps=2)
    np.testing.assert_array_equal(layer(SENTENCES).numpy(), tuned)


def test_unfreezing_a_tf1_module_trains_with_the_train_graph(tf1_image_dir):
    images = np.random.RandomState(0).rand(4, 8, 8, 3).astype(np.float32)
    layer = hubfn.hub_layer(tf1_image_dir)
    assert layer.module.tags == frozenset()
    layer.trainable = True
    assert layer.module.tags == frozenset({"train"}) and len(layer.trainable_weights) == 3
    (moving,) = [v for v in layer.module.variables if v.name.startswith("bn/moving_mean")]
    before = moving.numpy().copy()
    inference = layer(images).numpy()
    np.testing.assert_array_equal(layer(images[:1]).numpy(), inference[:1])  # no batch statistics
    np.testing.assert_array_equal(moving.numpy(), before)
    layer(images, training=True)  # the train graph: UPDATE_OPS move the statistics
    assert not np.allclose(moving.numpy(), before)
    frozen = hubfn.hub_load(tf1_image_dir)
    (shared_moving,) = [v for v in frozen.variables if v.name.startswith("bn/moving_mean")]
    np.testing.assert_array_equal(shared_moving.numpy(), before)


def test_warns_when_a_trainable_layer_has_nothing_to_train(bert_preprocessor_dir):
    with pytest.warns(UserWarning, match="no trainable variables"):
        hubfn.hub_layer(bert_preprocessor_dir, trainable=True)


# --- .keras files --------------------------------------------------------------------------------------
def test_keras_file_loads_after_import_hubfn(text_embedding_dir, tmp_path):
    layer = hubfn.hub_layer(text_embedding_dir, trainable=True)
    model = keras.Sequential([keras.Input((), dtype="string"), layer, keras.layers.Dense(1)])
    _fit(model, SENTENCES, LABELS, steps=3)
    layer.trainable = False  # saved frozen, with fine-tuned weights
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "expected.npy", model.predict(SENTENCES, verbose=0))
    code = textwrap.dedent(f"""
        import sys
        import hubfn
        assert "tensorflow" not in sys.modules  # import hubfn stays free of TensorFlow
        import keras, numpy as np, tensorflow as tf
        text = tf.constant({[s.decode() for s in SENTENCES.numpy()]!r})
        original = hubfn.hub_load({text_embedding_dir!r})(text).numpy()
        model = keras.models.load_model({str(tmp_path / "model.keras")!r})
        np.testing.assert_allclose(model.predict(text, verbose=0), np.load({str(tmp_path / "expected.npy")!r}),
                                   rtol=1e-5)
        # The tuned weights went into a private copy, not into the module every other user shares.
        np.testing.assert_array_equal(hubfn.hub_load({text_embedding_dir!r})(text).numpy(), original)
        assert not model.layers[0].trainable
        print("LOADED")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "LOADED" in proc.stdout, proc.stderr[-3000:]


# --- hub_layer and export, shape by shape ------------------------------------------------------------
def _inputs(name):
    """(make Keras inputs, data, hub_layer options) for one module shape."""
    images = np.random.RandomState(1).rand(2, 32, 32, 3).astype(np.float32)
    string = (lambda: keras.Input((), dtype="string"), SENTENCES, {})
    ids = _ids()
    id_inputs = (lambda: {k: keras.Input((None,), dtype="int32", name=k) for k in ids},
                 {k: tf.constant(v) for k, v in ids.items()}, {"output_key": "pooled_output"})
    return {
        "text_embedding": string, "text_embedding_serving": string, "tf1_text": string,
        "bert_preprocessor": (string[0], SENTENCES, {"output_key": "input_word_ids"}),
        "image_feature_vector": (lambda: keras.Input((32, 32, 3)), images, {}),
        "image_keras_hubfn": (lambda: keras.Input((32, 32, 3)), images, {}),
        "image_keras_export": (lambda: keras.Input((32, 32, 3)), images, {}),
        "tf1_image": (lambda: keras.Input((8, 8, 3)), images[:, :8, :8], {}),
        "bert_encoder": id_inputs, "bert_encoder_keras": id_inputs,
        "mixed": (lambda: {"x": keras.Input((3,), name="x"), "text": keras.Input((), dtype="string", name="text"),
                           "count": keras.Input((), dtype="int64", name="count"),
                           "flag": keras.Input((), dtype="bool", name="flag")},
                  {"x": tf.ones((2, 3)), "text": tf.constant(["ab", "c"]), "count": tf.constant([1, 2], tf.int64),
                   "flag": tf.constant([True, False])}, {"output_key": "length"}),
    }[name]


DENSE_SHAPES = ["text_embedding", "text_embedding_serving", "image_feature_vector", "image_keras_hubfn",
                "image_keras_export", "bert_encoder", "bert_encoder_keras", "bert_preprocessor", "tf1_text",
                "tf1_image", "mixed"]


@pytest.mark.parametrize("name", DENSE_SHAPES)
def test_hub_layer_and_export_per_shape(shape_dir, name, tmp_path):
    path = shape_dir(name)
    make_inputs, data, options = _inputs(name)
    inputs = make_inputs()
    model = keras.Model(inputs, hubfn.hub_layer(path, **options)(inputs))
    got = model(data)
    direct = hubfn.hub_load(path)(data, as_dict=True)
    want = direct[options["output_key"]] if "output_key" in options else hubfn.hub_load(path)(data)
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-6)
    out = hubfn.export_savedmodel(model, tmp_path / "exported")
    np.testing.assert_allclose(np.asarray(hubfn.hub_load(out)(data)), np.asarray(got), rtol=1e-5, atol=1e-6)


def test_sparse_and_ragged_inputs_through_keras(tf1_sparse_dir, ragged_dir, tmp_path):
    ids = tf.sparse.from_dense(tf.constant([[1, 2, 0], [3, 0, 0]], tf.int64))
    inp = keras.Input((None,), dtype="int64", sparse=True)
    model = keras.Model(inp, hubfn.hub_layer(tf1_sparse_dir)(inp))
    np.testing.assert_allclose(model(ids).numpy(), hubfn.hub_load(tf1_sparse_dir)(ids).numpy(), rtol=1e-6)
    with pytest.raises(errors.ExportError, match="sparse"):
        hubfn.export_savedmodel(model, tmp_path / "sparse")
    assert not (tmp_path / "sparse").exists()
    rows = tf.ragged.constant([[1.0, 2.0], [3.0]])
    inp = keras.Input((None,), ragged=True)
    model = keras.Model(inp, hubfn.hub_layer(ragged_dir)(inp))
    expected = hubfn.hub_load(ragged_dir)(rows).numpy()
    np.testing.assert_allclose(model(rows).numpy(), expected, rtol=1e-6)
    out = hubfn.export_savedmodel(model, tmp_path / "ragged")  # __call__ takes the ragged tensor as it is
    np.testing.assert_allclose(hubfn.hub_load(out)(rows, signature="__call__").numpy(), expected, rtol=1e-6)
