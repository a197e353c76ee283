"""The standard text classifiers of the TF Hub tutorials, built with hub_layer: fit, export, reload.

1. text -> BERT preprocessor -> BERT encoder (fine-tuned) -> dropout -> dense, with the encoder written
   directly (tf.saved_model.save) and as a tf_keras model (as TF Hub's BERTs were saved);
2. text -> text embedding (fine-tuned; vocabulary asset + lookup table) -> dense.
Each exports through hubfn.export_savedmodel and Keras 3's model.export, and the exports give the
fitted model's outputs. Side by side with tensorflow_hub 0.16.1 + tf_keras, the same steps give the same
numbers.
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn

TEXT = tf.constant(["the cat sat on a mat", "the dog runs fast", "a hub module", "cat dog sat",
                    "module runs on the mat", "fast cat"])
LABELS = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 0.0], np.float32)


@pytest.fixture(scope="module")
def modules(shape_dir):  # tests/shapes.py, built once per session (conftest)
    return {name: shape_dir(name)
            for name in ("bert_preprocessor", "bert_encoder", "bert_encoder_keras", "text_embedding")}


def bert_classifier(preprocessor, encoder, dropout=0.1):
    """The tutorial's model: a string input, the two hub layers, the pooled output, a logit."""
    text = keras.Input(shape=(), dtype="string", name="text")
    encoder_inputs = hubfn.hub_layer(preprocessor, name="preprocessing")(text)
    outputs = hubfn.hub_layer(encoder, trainable=True, name="BERT_encoder")(encoder_inputs)
    net = keras.layers.Dropout(dropout)(outputs["pooled_output"])
    net = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.1), name="classifier")(net)
    return keras.Model(text, net)


def embedding_classifier(embedding):
    model = keras.Sequential([hubfn.hub_layer(embedding, input_shape=[], dtype="string", trainable=True),
                              keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(0.1))])
    return model


def _fit(model, lr=0.05, steps=3):
    model.compile(keras.optimizers.SGD(lr), keras.losses.BinaryCrossentropy(from_logits=True))
    data = tf.data.Dataset.from_tensors((TEXT, LABELS))  # one batch: one step per epoch
    return model.fit(data, epochs=steps, shuffle=False, verbose=0).history["loss"]


def _exports_reload_equal(model, tmp_path):
    expected = model.predict(TEXT, verbose=0)
    ours = hubfn.export_savedmodel(model, tmp_path / "hubfn")
    model.export(os.fspath(tmp_path / "keras"), verbose=False)
    for path in (ours, tmp_path / "keras"):
        assert os.listdir(os.path.join(path, "assets")), "the vocabulary travels with the export"
    np.testing.assert_allclose(hubfn.hub_load(ours)(TEXT).numpy(), expected, rtol=1e-5, atol=1e-6)
    plain = tf.saved_model.load(os.fspath(tmp_path / "keras"))
    np.testing.assert_allclose(plain.serve(TEXT).numpy(), expected, rtol=1e-5, atol=1e-6)
    # A Keras 3 export holds only "serving_default": hubfn runs it.
    np.testing.assert_allclose(hubfn.hub_load(tmp_path / "keras")(TEXT).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("encoder", ["bert_encoder", "bert_encoder_keras"])
def test_bert_classifier_fits_and_exports(modules, encoder, tmp_path):
    model = bert_classifier(modules["bert_preprocessor"], modules[encoder])
    layer = model.get_layer("BERT_encoder")
    before = [v.numpy().copy() for v in layer.module.variables]
    losses = _fit(model)
    assert np.all(np.isfinite(losses)) and len(layer.trainable_weights) == len(before)
    assert any(not np.allclose(b, v.numpy()) for b, v in zip(before, layer.module.variables))
    shared = hubfn.hub_load(modules[encoder])  # other users of the encoder see the original weights
    assert len(shared.variables) == len(before)
    for b, v in zip(before, shared.variables):
        np.testing.assert_array_equal(b, v.numpy())
    _exports_reload_equal(model, tmp_path)


def test_fine_tuned_text_embedding_classifier_exports(modules, tmp_path):
    model = embedding_classifier(modules["text_embedding"])
    assert model.inputs[0].dtype == "string"  # the tutorial's input_shape=[], dtype="string"
    losses = _fit(model, steps=5)
    assert losses[-1] < losses[0]
    layer = model.layers[0]
    original = hubfn.hub_load(modules["text_embedding"]).obj.embeddings.numpy()
    assert not np.allclose(layer.module.obj.embeddings.numpy(), original)
    _exports_reload_equal(model, tmp_path)


# --- side by side with tensorflow_hub + tf_keras ---------------------------------------------------
@pytest.fixture(scope="module")
def tfhub():
    hub = pytest.importorskip("tensorflow_hub")
    import tf_keras

    return hub, tf_keras


def _tf_keras_bert(hub, tf_keras, preprocessor, encoder):
    text = tf_keras.Input(shape=(), dtype=tf.string)
    outputs = hub.KerasLayer(encoder, trainable=True)(hub.KerasLayer(preprocessor)(text))
    net = tf_keras.layers.Dense(1, kernel_initializer=tf_keras.initializers.Constant(0.1))(outputs["pooled_output"])
    return tf_keras.Model(text, net)


@pytest.mark.parametrize("encoder", ["bert_encoder", "bert_encoder_keras"])
def test_bert_classifier_side_by_side(modules, tfhub, encoder):
    hub, tf_keras = tfhub
    ours = bert_classifier(modules["bert_preprocessor"], modules[encoder], dropout=0.0)
    theirs = _tf_keras_bert(hub, tf_keras, modules["bert_preprocessor"], modules[encoder])
    np.testing.assert_allclose(ours(TEXT).numpy(), theirs(TEXT).numpy(), rtol=1e-5)
    _fit(ours)
    theirs.compile(tf_keras.optimizers.SGD(0.05), tf_keras.losses.BinaryCrossentropy(from_logits=True))
    theirs.fit(tf.data.Dataset.from_tensors((TEXT, LABELS)), epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours(TEXT).numpy(), theirs(TEXT).numpy(), rtol=1e-4, atol=1e-6)


def test_text_embedding_classifier_side_by_side(modules, tfhub):
    hub, tf_keras = tfhub
    ours = embedding_classifier(modules["text_embedding"])
    theirs = tf_keras.Sequential([
        hub.KerasLayer(modules["text_embedding"], input_shape=[], dtype=tf.string, trainable=True),
        tf_keras.layers.Dense(1, kernel_initializer=tf_keras.initializers.Constant(0.1))])
    _fit(ours, steps=5)
    theirs.compile(tf_keras.optimizers.SGD(0.05), tf_keras.losses.BinaryCrossentropy(from_logits=True))
    theirs.fit(tf.data.Dataset.from_tensors((TEXT, LABELS)), epochs=5, shuffle=False, verbose=0)
    np.testing.assert_allclose(ours(TEXT).numpy(), theirs(TEXT).numpy(), rtol=1e-4, atol=1e-6)
