"""Fine-tuning: TF1 and TF2 modules, regularization, UPDATE_OPS, the Keras 3 layer, export of the result."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import hubfn
from hubfn import examples

RNG = np.random.RandomState(0)
X = RNG.randn(64, 3).astype(np.float32)
Y = (X @ np.array([[1.0], [2.0], [-1.0]], np.float32) + 0.5).astype(np.float32)


@pytest.fixture(scope="session")
def regularized_dir(modules_dir):
    """A TF2 module exported from a Keras model with an L2 kernel regularizer."""
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((3,)),
                              keras.layers.Dense(4, activation="tanh", kernel_regularizer=keras.regularizers.L2(0.1)),
                              keras.layers.Dense(1)])
    return hubfn.export_savedmodel(model, modules_dir / "regularized")


def _fit_with_tape(m, steps=150, lr=0.05):
    opt = keras.optimizers.Adam(lr)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            data_loss = tf.reduce_mean((m(X, training=True) - Y) ** 2)
            reg = tf.add_n([loss() for loss in m.regularization_losses])
            total = data_loss + reg
        grads = tape.gradient(total, m.trainable_variables)
        opt.apply_gradients(zip(grads, m.trainable_variables))
        losses.append((float(total), float(data_loss), float(reg)))
    return losses


# --- TF1 hub modules -----------------------------------------------------------------------------
def test_tf1_trainable_picks_train_variant_and_exposes_collections(tf1_dir):
    m = hubfn.hub_module(tf1_dir, trainable=True)
    assert m.tags == frozenset({"train"}) and "chosen for fine-tuning" in repr(m)
    assert [v.name for v in m.trainable_variables] == ["w1:0", "w2:0", "b2:0"]
    (reg,) = m.regularization_losses
    assert float(reg()) == pytest.approx(examples.L2_SCALE * np.sum(examples.TF1_W1 ** 2), rel=1e-6)
    frozen = hubfn.hub_module(tf1_dir, trainable=False)
    assert frozen.trainable_variables == [] and frozen.regularization_losses == []
    assert hubfn.hub_module(tf1_dir, trainable=True, tags=[]).tags == frozenset()  # explicit tags win


def test_tf1_fine_tuning_halves_the_loss_with_its_regularizer(tf1_dir, tmp_path):
    m = hubfn.hub_module(tf1_dir, trainable=True)
    losses = _fit_with_tape(m)
    assert losses[-1][0] <= 0.5 * losses[0][0], losses[::30]
    # The regularization term is part of the total and follows the current weights.
    (w1,) = [v for v in m.trainable_variables if v.name == "w1:0"]
    by_hand = examples.L2_SCALE * np.sum(w1.numpy() ** 2)
    assert float(m.regularization_losses[0]()) == pytest.approx(by_hand, rel=1e-5)
    assert not np.allclose(w1.numpy(), examples.TF1_W1)
    # A frozen load of the same module is untouched by the fine-tuning.
    np.testing.assert_allclose(hubfn.hub_load(tf1_dir)(X).numpy(), examples.tf1_forward(X), rtol=1e-5)
    # Fine-tune -> export -> hub_load gives the fine-tuned outputs.
    out = hubfn.export_savedmodel(m, tmp_path / "tuned")
    reloaded = hubfn.hub_load(out)
    assert reloaded.format == "tf1_hub" and set(reloaded.tag_sets) == {frozenset(), frozenset({"train"})}
    np.testing.assert_allclose(reloaded(X).numpy(), m(X).numpy(), rtol=1e-6)


def test_tf1_update_ops_run_in_training_only(tmp_path):
    path = examples.tf1_hub_module(tmp_path / "bn", batch_norm=True)
    m = hubfn.hub_module(path, trainable=True)
    (moving,) = [v for v in m.variables if v.name == "moving_mean:0"]
    assert "moving_mean:0" not in [v.name for v in m.trainable_variables]
    m(X)  # inference: no update
    np.testing.assert_array_equal(moving.numpy(), np.zeros(4))
    y = m(X, training=True)
    hidden = np.maximum(X @ examples.TF1_W1, 0)
    np.testing.assert_allclose(moving.numpy(), 0.1 * hidden.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(y.numpy(), examples.tf1_forward(X), rtol=1e-5)


# --- TF2 modules through the Keras 3 layer -------------------------------------------------------
def _model(handle, trainable):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3,)), hubfn.hub_layer(handle, trainable=trainable),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse")
    return model


def test_keras_fit_fine_tunes_a_trainable_module(regularized_dir):
    model = _model(regularized_dir, trainable=True)
    layer = model.layers[0]
    assert len(layer.trainable_weights) == 4
    before = [v.numpy().copy() for v in layer.module.variables]
    history = model.fit(X, Y, epochs=20, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert any(not np.array_equal(b, v.numpy()) for b, v in zip(before, layer.module.variables))
    # The module's regularization is among the model's losses, and equals 0.1 * sum(kernel ** 2).
    model(X[:2])
    kernel = [v for v in layer.module.variables if tuple(v.shape) == (3, 4)][0]
    assert len(model.losses) == 1
    assert float(model.losses[0]) == pytest.approx(0.1 * np.sum(kernel.numpy() ** 2), rel=1e-5)


def test_keras_fit_leaves_a_frozen_module_bit_identical(regularized_dir):
    model = _model(regularized_dir, trainable=False)
    layer = model.layers[0]
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 4
    before = [v.numpy().copy() for v in layer.module.variables]
    model.fit(X, Y, epochs=5, batch_size=16, verbose=0)
    for b, v in zip(before, layer.module.variables):
        np.testing.assert_array_equal(b, v.numpy())
    assert model.losses == []


def test_fine_tuned_tf2_module_exports_its_new_weights(regularized_dir, tmp_path):
    m = hubfn.hub_module(regularized_dir, trainable=True)
    original = hubfn.hub_load(regularized_dir)(X).numpy()
    _fit_with_tape(m, steps=30)
    tuned = m(X).numpy()
    assert not np.allclose(tuned, original)
    out = hubfn.export_savedmodel(m, tmp_path / "tuned")
    np.testing.assert_allclose(hubfn.hub_load(out)(X).numpy(), tuned, rtol=1e-6)


def test_layer_config_roundtrip_and_keras_file(regularized_dir, tmp_path):
    model = _model(regularized_dir, trainable=True)
    model.fit(X, Y, epochs=3, batch_size=16, verbose=0)
    config = model.layers[0].get_config()
    assert config["handle"] == str(regularized_dir)
    clone = hubfn.HubLayer.from_config(config)
    assert clone.handle == str(regularized_dir) and clone.trainable
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model.predict(X[:4], verbose=0)
    # A fresh process: nothing shared with this one but the file and the module directory.
    code = textwrap.dedent(f"""
        import keras, numpy as np, hubfn.tune.keras_layer
        m = keras.models.load_model({str(path)!r})
        np.save({str(tmp_path / 'out.npy')!r}, m.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0))
    """)
    np.save(tmp_path / "x.npy", X[:4])
    subprocess.run([sys.executable, "-c", code], check=True)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), expected, rtol=1e-5)
    assert not np.allclose(hubfn.hub_load(regularized_dir)(X[:4]).numpy(), model.layers[0](X[:4]).numpy())


# --- the digits transfer-learning example --------------------------------------------------------
def test_digits_transfer_learning_reaches_90_percent(tmp_path):
    import importlib.util

    # The example lives beside the vignette that tells it (it needs scikit-learn, a test-only dependency).
    path = os.path.join(os.path.dirname(__file__), "..", "vignettes", "digits_example.py")
    spec = importlib.util.spec_from_file_location("digits_example", path)
    digits_example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(digits_example)

    module_dir = digits_example.export_feature_extractor(tmp_path / "features")
    _, history, accuracy = digits_example.fine_tune_classifier(module_dir, trainable=True)
    print(f"digits test accuracy: {accuracy:.4f}")
    assert accuracy >= 0.90
    assert history["loss"][-1] < history["loss"][0]


def test_training_flag_reaches_a_reusable_call(tmp_path):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8), keras.layers.Dropout(0.5)])
    m = hubfn.hub_module(hubfn.export_savedmodel(model, tmp_path / "dropout"), trainable=True)
    inference = m(X).numpy()
    np.testing.assert_allclose(inference, model(X, training=False).numpy(), rtol=1e-5)
    trained = m(X, training=True).numpy()
    assert np.mean(trained == 0.0) > 0.3  # dropout zeroes about half the units only in training
    assert np.mean(inference == 0.0) < 0.05


def test_layer_from_a_loaded_module_keeps_its_handle(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    layer = hubfn.hub_layer(m)
    assert layer.get_config()["handle"] == str(fruit_dir)
    np.testing.assert_allclose(layer(np.ones((1, 2), np.float32)).numpy(), m(np.ones((1, 2))).numpy())


def test_dropped_fine_tuned_tf1_modules_are_freed(tf1_dir):
    import gc
    import weakref

    refs = []
    for _ in range(3):
        m = hubfn.hub_module(tf1_dir, trainable=True)
        float(m.regularization_losses[0]())  # builds and caches a pruned function of the graph
        refs.append(weakref.ref(m.obj))
        del m
    gc.collect()
    assert [r() for r in refs] == [None, None, None]


def test_layer_outputs_and_unfreezing_errors(fruit_dir):
    pets = hubfn.hub_layer(fruit_dir, signature="fruit_to_pet", output_key="dogs")
    np.testing.assert_allclose(pets({"apples": np.array([1.0]), "oranges": np.array([1.0])}).numpy(), [-2.0])
    wrong = hubfn.hub_layer(fruit_dir, signature="fruit_to_pet", output_key="cows")
    with pytest.raises(hubfn.errors.OutputError, match="'cows'.*cats, dogs"):
        wrong({"apples": np.array([1.0]), "oranges": np.array([1.0])})
    several = hubfn.hub_layer(fruit_dir, signature="fruit_to_pet")
    with pytest.raises(hubfn.errors.OutputError, match="output_key"):
        several({"apples": np.array([1.0]), "oranges": np.array([1.0])})
    frozen = hubfn.hub_layer(fruit_dir, trainable=False)
    frozen.trainable = True  # unfreezing trains a private copy (more in tests/test_keras_layer.py)
    assert frozen.trainable is True and len(frozen.trainable_weights) == 3
    assert frozen.module.obj is not hubfn.hub_load(fruit_dir).obj


def test_trainable_layer_can_be_frozen_and_unfrozen(regularized_dir):
    model = _model(regularized_dir, trainable=True)
    layer = model.layers[0]
    layer.trainable = False
    assert layer.trainable_weights == []
    layer.trainable = True
    assert len(layer.trainable_weights) == 4
