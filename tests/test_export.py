"""export_savedmodel: tf.Module, Keras 3 model and plain function round trips, assets, safety."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn
from hubfn import errors


class Scale(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[2.0], [-1.0]], name="w")
        self.frozen = tf.Variable(3.0, trainable=False, name="frozen")

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
    def __call__(self, x):
        return tf.matmul(x, self.w) * self.frozen

    @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32, name="x")])
    def both(self, x):
        return {"sum": tf.reduce_sum(x, 1), "max": tf.reduce_max(x, 1)}


X = np.array([[1.0, 2.0], [3.0, -4.0]], np.float32)


def _roundtrip_equal(obj, path, x, expected):
    m = hubfn.hub_load(path)
    np.testing.assert_allclose(m(x).numpy(), expected, rtol=1e-5)
    plain = tf.saved_model.load(str(path))  # a plain SavedModel for TensorFlow itself
    np.testing.assert_allclose(plain.signatures["default"](tf.constant(x))["default"].numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(plain(tf.constant(x)).numpy(), expected, rtol=1e-5)
    return m, plain


def test_tf_module_roundtrip(tmp_path):
    obj = Scale()
    path = hubfn.export_savedmodel(obj, tmp_path / "scale", signatures={"both": obj.both})
    m, plain = _roundtrip_equal(obj, path, X, obj(X).numpy())
    assert m.signature("default").output_names == ("default",)
    out = m(X, signature="both", as_dict=True)
    np.testing.assert_allclose(out["sum"].numpy(), [3.0, -1.0])
    assert len(plain.variables) == 2 and len(plain.trainable_variables) == 1
    assert list(plain.regularization_losses) == []


def test_keras_model_roundtrip(tmp_path):
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.5))])
    path = hubfn.export_savedmodel(model, tmp_path / "keras")
    m, plain = _roundtrip_equal(model, path, X, model(X).numpy())
    assert len(plain.trainable_variables) == 4
    reg = [float(fn()) for fn in plain.regularization_losses]
    w = model.layers[1].kernel.numpy()
    np.testing.assert_allclose(reg, [0.5 * np.sum(w ** 2)], rtol=1e-5)


def test_plain_function_roundtrip(tmp_path):
    def double_plus_one(x):
        return 2.0 * x + 1.0

    path = hubfn.export_savedmodel(double_plus_one, tmp_path / "fn",
                                   input_signature=[tf.TensorSpec([None], tf.float32)])
    _roundtrip_equal(double_plus_one, path, np.array([1.0, 2.5], np.float32), [3.0, 6.0])


def test_assets_are_kept(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("apple\nbanana\ncherry\n")

    class Lookup(tf.Module):
        def __init__(self):
            super().__init__()
            self.vocab = tf.saved_model.Asset(str(vocab))
            init = tf.lookup.TextFileInitializer(self.vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                 tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, words):
            return self.table.lookup(words)

    path = hubfn.export_savedmodel(Lookup(), tmp_path / "lookup")
    assert (tmp_path / "lookup" / "assets" / "vocab.txt").read_text().startswith("apple")
    vocab.unlink()  # the module must use its own copy
    m = hubfn.hub_load(path)
    np.testing.assert_array_equal(m(["cherry", "apple", "kiwi"]).numpy(), [2, 0, -1])


def test_non_empty_dir_is_refused_unless_overwrite(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("precious")
    with pytest.raises(errors.ExportError) as e:
        hubfn.export_savedmodel(Scale(), target)
    assert "not empty" in str(e.value) and "overwrite=True" in str(e.value)
    assert (target / "keep.txt").read_text() == "precious"
    hubfn.export_savedmodel(Scale(), target, overwrite=True)
    assert (target / "saved_model.pb").exists() and not (target / "keep.txt").exists()


def test_failed_export_leaves_nothing(tmp_path):
    class Exploding(Scale):
        def _serialize_to_tensors(self):  # called while the checkpoint is being written
            raise RuntimeError("disk full (simulated)")

    with pytest.raises(RuntimeError, match="disk full"):
        hubfn.export_savedmodel(Exploding(), tmp_path / "broken")
    assert os.listdir(tmp_path) == []


def test_object_without_input_specs_is_refused(tmp_path):
    with pytest.raises(errors.ExportError) as e:
        hubfn.export_savedmodel(lambda x: x, tmp_path / "nope")
    assert "input_signature" in str(e.value)
    assert not (tmp_path / "nope").exists()


def test_reexport_over_a_loaded_module_is_seen_by_the_next_load(tmp_path):
    def fn_a(x):
        return x * 2.0

    def fn_b(x):
        return x * 10.0

    spec = [tf.TensorSpec([None], tf.float32)]
    path = hubfn.export_savedmodel(fn_a, tmp_path / "m", input_signature=spec)
    np.testing.assert_allclose(hubfn.hub_load(path)([1.0]).numpy(), [2.0])
    hubfn.export_savedmodel(fn_b, path, input_signature=spec, overwrite=True)
    np.testing.assert_allclose(hubfn.hub_load(path)([1.0]).numpy(), [10.0])


def test_unbuilt_keras_model_and_unspecified_signature_are_export_errors(tmp_path):
    with pytest.raises(errors.ExportError, match="not been built"):
        hubfn.export_savedmodel(keras.Sequential([keras.layers.Dense(2)]), tmp_path / "unbuilt")

    @tf.function
    def no_specs(x):
        return x

    with pytest.raises(errors.ExportError, match="'extra'.*input_signature"):
        hubfn.export_savedmodel(Scale(), tmp_path / "extra", signatures={"extra": no_specs})
    assert os.listdir(tmp_path) == []


def test_model_holding_a_hub_layer_exports_with_its_assets(text_embedding_dir, tmp_path):
    # A module with a vocabulary asset and a lookup table, used through hub_layer (frozen and fine-tuned):
    # both exports carry the vocabulary and work after the original module is gone.
    import shutil

    source = shutil.copytree(text_embedding_dir, tmp_path / "source")
    text = tf.constant(["the cat sat", "a dog runs fast", "hub"])
    exports = []
    for trainable in (False, True):
        inp = keras.Input((), dtype="string")
        model = keras.Model(inp, keras.layers.Dense(2)(hubfn.hub_layer(source, trainable=trainable)(inp)))
        if trainable:
            model.compile(keras.optimizers.SGD(0.5), "mse")
            model.fit(text, np.ones((3, 2), np.float32), epochs=2, verbose=0)
        expected = model.predict(text, verbose=0)
        ours = hubfn.export_savedmodel(model, tmp_path / f"hubfn-{trainable}")
        model.export(os.fspath(tmp_path / f"keras-{trainable}"), verbose=False)
        for out in (ours, tmp_path / f"keras-{trainable}"):
            assert os.listdir(os.path.join(out, "assets")) == os.listdir(os.path.join(source, "assets"))
        exports += [(ours, expected), (tmp_path / f"keras-{trainable}", expected)]
    shutil.rmtree(source)
    for path, expected in exports:
        np.testing.assert_allclose(hubfn.hub_load(path)(text).numpy(), expected, rtol=1e-5, atol=1e-6)
