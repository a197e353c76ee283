"""Fine-tuning every module shape: variables, losses, training=True, TF1 train/inference graphs, identity."""

import numpy as np
import pytest
import tensorflow as tf

import hubfn
import shapes
from hubfn import errors

SENTENCES = ["the cat sat on a mat", "a dog runs fast", "hub module"]
TARGET = np.linspace(-1, 1, 3 * shapes.DIM).reshape(3, shapes.DIM).astype(np.float32)


def _sgd(call, variables, losses, steps=3, lr=0.5):
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((call() - TARGET) ** 2) + tf.add_n([fn() for fn in losses] or [0.0])
        for v, g in zip(variables, tape.gradient(loss, variables)):
            v.assign_sub(lr * tf.convert_to_tensor(g))
    return float(loss)


def test_text_embedding_fine_tunes_like_tensorflow_hub(text_embedding_dir):
    hub = pytest.importorskip("tensorflow_hub")
    m = hubfn.hub_module(text_embedding_dir, trainable=True)
    assert [v.name for v in m.trainable_variables] == ["embeddings:0"] and len(m.regularization_losses) == 1
    before = hubfn.hub_load(text_embedding_dir)(SENTENCES).numpy()
    _sgd(lambda: m(SENTENCES, training=True), m.trainable_variables, m.regularization_losses)
    obj = hub.load(text_embedding_dir)
    _sgd(lambda: obj(tf.constant(SENTENCES)), obj.trainable_variables, obj.regularization_losses)
    tuned = m(SENTENCES).numpy()
    np.testing.assert_allclose(tuned, obj(tf.constant(SENTENCES)).numpy(), rtol=1e-5, atol=1e-6)
    assert not np.allclose(tuned, before)
    np.testing.assert_allclose(hubfn.hub_load(text_embedding_dir)(SENTENCES).numpy(), before)  # others untouched


def test_image_module_training_flag_batch_norm_and_dropout(image_feature_vector_dir):
    m = hubfn.hub_module(image_feature_vector_dir, trainable=True)
    assert len(m.trainable_variables) == 3 and len(m.variables) == 5
    (moving,) = [v for v in m.variables if "moving_mean" in v.name]
    x = np.random.RandomState(3).rand(8, 8, 8, 3).astype(np.float32)
    start = moving.numpy().copy()
    a, b = m(x).numpy(), m(x).numpy()
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(moving.numpy(), start)  # inference leaves the statistics alone
    t = m(x, training=True).numpy()
    assert not np.array_equal(moving.numpy(), start)      # training updates them (batch norm)
    # and drops units out (rate 0.5): over ten calls (480 outputs), as one call's 48 fell below the mark
    # about once in 200 (0.50 on average, 0.29 at least in 200 calls)
    dropped = np.mean([np.mean(t == 0)] + [np.mean(m(x, training=True).numpy() == 0) for _ in range(9)])
    assert dropped > np.mean(a == 0) + 0.2


def test_bert_encoder_gradients_through_dict_inputs(bert_encoder_dir):
    m = hubfn.hub_module(bert_encoder_dir, trainable=True)
    ids = {"input_word_ids": np.array([[2, 4, 5, 3]]), "input_mask": np.ones((1, 4)), "input_type_ids": np.zeros((1, 4))}
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(m(ids, training=True, as_dict=True)["pooled_output"])
    grads = tape.gradient(loss, m.trainable_variables)
    assert len(grads) == len(m.trainable_variables) and all(g is not None for g in grads)


def test_ragged_module_fine_tunes(ragged_dir):
    m = hubfn.hub_module(ragged_dir, trainable=True)
    (scale,) = m.trainable_variables
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(m([[1.0, 3.0], [4.0]], training=True))
    assert float(tape.gradient(loss, scale)) == pytest.approx(6.0)


# --- TF1: the train graph only for training ---------------------------------------------------------
def test_tf1_trainable_inference_uses_the_inference_graph_with_tuned_weights(tf1_image_dir):
    m = hubfn.hub_module(tf1_image_dir, trainable=True)
    assert m.tags == frozenset({"train"})
    assert [v.name for v in m.trainable_variables] == ["conv/kernel:0", "bn/gamma:0", "bn/beta:0"]
    x = np.random.RandomState(4).rand(6, 8, 8, 3).astype(np.float32)
    frozen = hubfn.hub_load(tf1_image_dir)
    # Inference: dropout off, moving statistics: the same as the {} graph, per example, call after call.
    np.testing.assert_allclose(m(x).numpy(), frozen(x).numpy(), rtol=1e-6)
    np.testing.assert_allclose(m(x[:1]).numpy(), m(x).numpy()[:1], rtol=1e-6)
    # Training: the train graph, with batch statistics, dropout and the UPDATE_OPS.
    (moving,) = [v for v in m.variables if v.name == "bn/moving_mean:0"]
    t1, t2 = m(x, training=True).numpy(), m(x, training=True).numpy()
    assert not np.allclose(t1, t2) and not np.allclose(moving.numpy(), 0.0)
    target = np.ones((len(x), 4), np.float32)
    before = float(np.mean((m(x).numpy() - target) ** 2))
    _fit(m, x, target)
    tuned = m(x).numpy()
    assert float(np.mean((tuned - target) ** 2)) < 0.8 * before
    np.testing.assert_allclose(m(x[:2]).numpy(), tuned[:2], rtol=1e-5)
    # The tuned weights, moved into a fresh load of the {} graph by hand, give the same predictions.
    check = hubfn.hub_module(tf1_image_dir, trainable=True, tags=[])
    by_name = {v.name: v for v in m.variables}
    for v in check.variables:
        v.assign(by_name[v.name])
    np.testing.assert_allclose(check(x).numpy(), tuned, rtol=1e-5)
    np.testing.assert_allclose(frozen(x).numpy(), hubfn.hub_load(tf1_image_dir)(x).numpy())  # untouched


def _fit(m, x, target, steps=30):
    opt = tf.keras.optimizers.SGD(0.3)
    losses = []
    for _ in range(steps):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((m(x, training=True) - target) ** 2) + tf.add_n([f() for f in m.regularization_losses])
        opt.apply_gradients(zip(tape.gradient(loss, m.trainable_variables), m.trainable_variables))
        losses.append(float(loss))
    return losses


# --- TF2 modules that list no variables ---------------------------------------------------------------
def test_plain_tf_module_trainable_variables_come_from_the_object_graph(tmp_path):
    class Plain(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0], [2.0]], name="w")
            self.steps = tf.Variable(0, trainable=False, name="steps")

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    tf.saved_model.save(Plain(), str(tmp_path / "plain"))
    m = hubfn.hub_module(tmp_path / "plain", trainable=True)
    assert [v.name for v in m.trainable_variables] == ["w:0"]
    assert sorted(v.name for v in m.variables) == ["steps:0", "w:0"]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(m([[1.0, 1.0]], training=True))
    np.testing.assert_allclose(tape.gradient(loss, m.trainable_variables)[0].numpy(), [[1.0], [1.0]])

    class Frozen(tf.Module):
        def __init__(self):
            super().__init__()
            self.w = tf.Variable([[1.0], [2.0]], trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([None, 2], tf.float32)])
        def __call__(self, x):
            return tf.matmul(x, self.w)

    tf.saved_model.save(Frozen(), str(tmp_path / "frozen"))
    with pytest.raises(errors.TrainableError, match="no trainable"):
        hubfn.hub_module(tmp_path / "frozen", trainable=True).trainable_variables


def test_an_exported_fine_tuned_module_keeps_the_reusable_savedmodel_attributes(
        bert_preprocessor_dir, text_embedding_dir, tmp_path):
    # The module's own lists are its declaration, even when empty: a BERT preprocessor trains nothing
    # (trainable_variables == []), before and after a fine-tuned export, instead of a TrainableError.
    for name, d in (("preprocessor", bert_preprocessor_dir), ("text", text_embedding_dir)):
        original = hubfn.hub_module(d, trainable=True)
        out = hubfn.export_savedmodel(original, tmp_path / name)
        again = hubfn.hub_module(out, trainable=True)
        for attribute in ("variables", "trainable_variables", "regularization_losses"):
            assert getattr(again.obj, attribute, None) is not None, (name, attribute)  # written along
            assert len(getattr(again, attribute)) == len(getattr(original, attribute)), (name, attribute)
        if name == "preprocessor":
            assert again.trainable_variables == again.variables == again.regularization_losses == []
            assert again(SENTENCES, as_dict=True)["input_word_ids"].shape == (3, shapes.SEQ_LENGTH)
        else:
            assert [v.name for v in again.trainable_variables] == ["embeddings:0"]


def test_trainable_loads_are_values_of_their_own(text_embedding_dir):
    a = hubfn.hub_module(text_embedding_dir, trainable=True)
    b = hubfn.hub_module(text_embedding_dir, trainable=True)
    assert a != b and hash(a) != hash(b) and a == a and len({a, b}) == 2
    assert a.obj is not b.obj
    assert hubfn.hub_load(text_embedding_dir) == hubfn.hub_load(text_embedding_dir)  # shared inference loads
