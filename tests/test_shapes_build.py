"""The module shapes of tests/shapes.py build and load with tensorflow_hub as TF Hub's public APIs describe."""

import numpy as np
import pytest
import tensorflow as tf

import shapes


@pytest.fixture(scope="module")
def hub():
    return pytest.importorskip("tensorflow_hub")


def test_text_embedding_follows_the_reusable_savedmodel_api(text_embedding_dir, hub):
    obj = hub.load(text_embedding_dir)
    out = obj(tf.constant(["the cat sat", "a dog"]))
    assert out.shape == (2, shapes.DIM)
    (emb,) = obj.trainable_variables
    np.testing.assert_allclose(out.numpy(), shapes.text_embedding_numpy(["the cat sat", "a dog"], emb.numpy()),
                               rtol=1e-5)
    assert len(obj.regularization_losses) == 1 and float(obj.regularization_losses[0]()) > 0


def test_bert_preprocessor_and_encoder_chain(bert_preprocessor_dir, bert_encoder_dir, hub):
    pre, enc = hub.load(bert_preprocessor_dir), hub.load(bert_encoder_dir)
    packed = pre(tf.constant(["the cat sat", "hub module runs fast"]))
    assert sorted(packed) == ["input_mask", "input_type_ids", "input_word_ids"]
    assert packed["input_word_ids"].shape == (2, shapes.SEQ_LENGTH)
    assert packed["input_word_ids"][0, :5].numpy().tolist() == [2] + shapes.tokenize_numpy("the cat sat") + [3]
    tokens = pre.tokenize(tf.constant(["the cat sat"]))
    assert isinstance(tokens, tf.RaggedTensor) and tokens.shape.rank == 3
    two = pre.bert_pack_inputs([tokens, tokens], seq_length=shapes.SEQ_LENGTH)
    assert two["input_type_ids"][0, :9].numpy().tolist() == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    out = enc(packed)
    assert len(out["encoder_outputs"]) == shapes.LAYERS
    want = shapes.bert_encoder_numpy(*(packed[k].numpy() for k in ("input_word_ids", "input_mask", "input_type_ids")))
    np.testing.assert_allclose(out["pooled_output"].numpy(), want["pooled_output"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["default"].numpy(), want["pooled_output"], rtol=1e-5, atol=1e-6)
