"""hub_layer on a tf_keras text classifier saved with save_format="tf" around a TextVectorization layer
(issue 28, item 3).

The model is the one TensorFlow's "basic text classification" tutorial exports: raw strings in,
TextVectorization, Embedding, pooling, Dense. Saved as a SavedModel by tf_keras, its `variables` list holds
an entry the SavedModel does not keep (it loads back as None); tensorflow_hub's KerasLayer and hubfn
before this fix stopped at it with a raw AttributeError. hub_layer must build the layer, apply it as
tf_keras did, fine-tune it, and the Keras 3 model holding it must export (hubfn.export_savedmodel) and save
(.keras) with the same predictions.
"""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn

TEXTS = ["the movie was great", "a terrible film", "great acting and a great story", "boring and bad",
         "i loved it", "not good at all"]
LABELS = np.array([[1], [0], [1], [0], [1], [0]], np.float32)
BATCH = tf.constant([[t] for t in TEXTS])  # [batch, 1] strings, the tutorial's Input(shape=(1,))


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    """(directory of the saved tf_keras model, its predictions on BATCH)."""
    import tf_keras

    tf_keras.utils.set_random_seed(7)
    vectorize = tf_keras.layers.TextVectorization(max_tokens=30, output_sequence_length=8)
    vectorize.adapt(TEXTS)
    text = tf_keras.Input(shape=(1,), dtype=tf.string)
    x = tf_keras.layers.Embedding(30, 4)(vectorize(text))
    x = tf_keras.layers.GlobalAveragePooling1D()(x)
    model = tf_keras.Model(text, tf_keras.layers.Dense(1)(x))
    path = str(tmp_path_factory.mktemp("tf_keras") / "classifier")
    model.save(path, save_format="tf")
    return path, model(BATCH).numpy()


def test_the_saved_model_lists_a_variable_it_did_not_keep(classifier):
    # What makes this module different: a None among its declared variables (else this test is moot).
    assert None in list(tf.saved_model.load(classifier[0]).variables)


def test_hub_layer_builds_and_applies_it_as_tf_keras_did(classifier):
    path, expected = classifier
    layer = hubfn.hub_layer(path)
    np.testing.assert_allclose(layer(BATCH).numpy(), expected, rtol=1e-6)
    module = hubfn.hub_module(path)
    assert len(layer.weights) == len(module.variables) == 3  # embeddings, kernel, bias: no None
    np.testing.assert_allclose(hubfn.module_apply(module, BATCH), expected, rtol=1e-6)


def test_fine_tuned_in_a_keras3_model_then_exported_and_saved_with_the_same_predictions(classifier, tmp_path):
    path, _ = classifier
    keras.utils.set_random_seed(1)
    layer = hubfn.hub_layer(path, trainable=True)
    assert len(layer.trainable_weights) == 3
    text = keras.Input(shape=(1,), dtype="string")
    model = keras.Model(text, keras.layers.Dense(1, activation="sigmoid")(layer(text)))
    model.compile(keras.optimizers.Adam(0.05), "binary_crossentropy")
    before = [w.numpy().copy() for w in layer.trainable_weights]
    loss = model.fit(BATCH, LABELS, epochs=10, verbose=0).history["loss"]
    assert loss[-1] < loss[0]
    assert not np.allclose(layer.trainable_weights[0].numpy(), before[0])  # the embeddings moved
    expected = model.predict(BATCH, verbose=0)

    exported = hubfn.export_savedmodel(model, tmp_path / "exported")
    np.testing.assert_allclose(hubfn.hub_load(exported)(BATCH).numpy(), expected, rtol=1e-5)
    model.save(tmp_path / "model.keras")
    np.save(tmp_path / "expected.npy", expected)
    # Both read back in a fresh process, as their users would.
    code = textwrap.dedent(f"""
        import hubfn, keras, numpy as np, tensorflow as tf
        batch = tf.constant({[[t] for t in TEXTS]!r})
        expected = np.load({str(tmp_path / "expected.npy")!r})
        np.testing.assert_allclose(hubfn.hub_load({str(exported)!r})(batch).numpy(), expected, rtol=1e-5)
        model = keras.models.load_model({str(tmp_path / "model.keras")!r})
        np.testing.assert_allclose(model.predict(batch, verbose=0), expected, rtol=1e-5)
        print("SAME")
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "SAME" in proc.stdout, proc.stderr[-3000:]
