"""A function saved with several concrete functions takes what any of them takes (issue 28, item 2).

The module is a BERT preprocessor saved the way the TF Model Garden's exporter saves TF Hub's
(tests/shapes_garden.py): `bert_pack_inputs` traced for 1 and 2 segments of rank 2 and rank 3 tokens, with
`seq_length` a tensor argument. The recipes are the preprocessor's documented ones: the text-pair recipe
`p.bert_pack_inputs([p.tokenize(premises), p.tokenize(hypotheses)], seq_length=48)`, and the Keras one,
a `tokenize` layer per text input and a `bert_pack_inputs` layer with `arguments=dict(seq_length=...)`.
Every result is checked against raw TensorFlow (`tf.saved_model.load`) running the same module.
"""

import numpy as np
import pytest
import tensorflow as tf

import hubfn
import shapes_garden
from hubfn import errors

PREMISES = ["The cat sat on the mat", "a dog ran"]
HYPOTHESES = ["an animal sat", "the dog is outside"]
SEQ = 48


@pytest.fixture(scope="module")
def garden(bert_preprocessor_garden_dir):
    return hubfn.hub_load(bert_preprocessor_garden_dir), tf.saved_model.load(bert_preprocessor_garden_dir)


def same(ours, theirs):
    assert set(ours) == set(theirs)
    for key in theirs:
        np.testing.assert_array_equal(np.asarray(ours[key]), theirs[key].numpy(), err_msg=key)


def test_the_text_pair_recipe_runs_as_in_tensorflow(garden):
    m, obj = garden
    premises = m(PREMISES, signature="tokenize")
    hypotheses = m(HYPOTHESES, signature="tokenize")
    assert premises.shape.rank == 3  # [batch, words, word pieces]
    packed = m([premises, hypotheses], signature="bert_pack_inputs", arguments={"seq_length": SEQ}, as_dict=True)
    same(packed, obj.bert_pack_inputs([obj.tokenize(tf.constant(PREMISES)), obj.tokenize(tf.constant(HYPOTHESES))],
                                      seq_length=SEQ))
    ids = packed["input_word_ids"].numpy()
    assert ids.shape == (2, SEQ)
    first, second = shapes_garden.encode_numpy([PREMISES[1], HYPOTHESES[1]])
    assert ids[1, :len(first) + len(second) + 3].tolist() == \
        [shapes_garden.CLS, *first, shapes_garden.SEP, *second, shapes_garden.SEP]
    assert packed["input_type_ids"].numpy()[1].tolist() == [0] * (len(first) + 2) + [1] * (len(second) + 1) + \
        [0] * (SEQ - len(first) - len(second) - 3)
    # seq_length left out: the saved Python default, as in TensorFlow; one segment of rank 3 too.
    alone = m([premises], signature="bert_pack_inputs", as_dict=True)
    same(alone, obj.bert_pack_inputs([obj.tokenize(tf.constant(PREMISES))]))
    np.testing.assert_array_equal(alone["input_word_ids"].numpy(), m(PREMISES, as_dict=True)["input_word_ids"].numpy())


def test_every_saved_form_is_taken(garden):
    m, obj = garden
    tokens = m(PREMISES, signature="tokenize")
    flat = tokens.merge_dims(1, -1)  # rank 2, the form the inference trace declares
    same(m([flat, flat], signature="bert_pack_inputs", arguments={"seq_length": 12}, as_dict=True),
         obj.bert_pack_inputs([flat, flat], seq_length=12))
    # Nested lists become ragged tensors of their own rank, and whole doubles int32 (as R sends them).
    lists = [[[4.0], [5.0], [7.0]], [[9.0]]]
    packed = m([lists], signature="bert_pack_inputs", arguments={"seq_length": 8}, as_dict=True)
    assert packed["input_word_ids"].numpy().tolist() == [[2, 4, 5, 7, 3, 0, 0, 0], [2, 9, 3, 0, 0, 0, 0, 0]]
    # A call of that form from inside a tf.function, on symbolic ragged tensors.
    runs = tf.function(lambda a, b: m([a, b], signature="bert_pack_inputs", arguments={"seq_length": 12},
                                      as_dict=True))
    same(runs(tokens, tokens), obj.bert_pack_inputs([tokens, tokens], seq_length=12))


def test_what_no_form_takes_is_refused_naming_every_form(garden):
    m, _ = garden
    tokens = m(PREMISES, signature="tokenize")
    rank4 = tf.RaggedTensor.from_uniform_row_length(tokens, 1)
    mixed = [tokens, tokens.merge_dims(1, -1)]  # TensorFlow has no trace for one of each either
    for bad in ([rank4], mixed, [tf.ragged.constant([["a"]])]):
        with pytest.raises(errors.InputError) as e:
            m(bad, signature="bert_pack_inputs", as_dict=True)
        msg = str(e.value)
        assert "'bert_pack_inputs'" in msg and "2 forms of inputs" in msg, msg
        assert "[inputs[0]: ragged int32[?, ?]]" in msg and "[inputs[0]: ragged int32[?, ?, ?]]" in msg, msg
    with pytest.raises(errors.InputError, match="'seq_length'.*expects int32"):
        m([tokens], signature="bert_pack_inputs", arguments={"seq_length": 12.5}, as_dict=True)


def test_listings_show_every_form(garden, bert_preprocessor_dir, image_feature_vector_dir):
    m, _ = garden
    text = repr(m)
    assert "  bert_pack_inputs([inputs[0]: ragged int32[?, ?]], seq_length: int32[] = optional)" in text
    assert "    or bert_pack_inputs([inputs[0]: ragged int32[?, ?, ?]], seq_length: int32[] = optional)" in text
    (listed,) = [s for s in hubfn.module_signatures(m) if s["name"] == "bert_pack_inputs"]
    assert [a["inputs"][0]["shape"] for a in listed["alternatives"]] == [[None, None, None]]
    # Traces that differ only in the number of list elements (bert_pack_inputs for 1 and 2 segments), or
    # only in training (__call__(images, training)), are one form.
    for other in (bert_preprocessor_dir, image_feature_vector_dir):
        assert all(not f.alternatives for f in hubfn.hub_load(other).functions)


def test_the_keras_recipe_tokenize_layers_then_a_packer(garden, bert_preprocessor_garden_dir):
    _, obj = garden
    tokenize = hubfn.hub_layer(bert_preprocessor_garden_dir, signature="tokenize")
    packer = hubfn.hub_layer(bert_preprocessor_garden_dir, signature="bert_pack_inputs",
                             arguments={"seq_length": SEQ})
    segments = [tokenize(tf.constant(s)) for s in (PREMISES, HYPOTHESES)]
    same(packer(segments), obj.bert_pack_inputs([obj.tokenize(tf.constant(s)) for s in (PREMISES, HYPOTHESES)],
                                                seq_length=SEQ))
