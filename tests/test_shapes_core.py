"""Every module shape of tests/shapes.py: load, listing, apply, sub-objects and input rules, side by side
with tensorflow_hub 0.16.1 where it supports the case (same numbers)."""

import numpy as np
import pytest
import tensorflow as tf

import hubfn
import shapes
from hubfn import errors

hub = pytest.importorskip("tensorflow_hub")

SENTENCES = ["the cat sat on a mat", "a dog runs fast", "hub module"]
IMAGES = np.random.RandomState(0).rand(3, 8, 8, 3)  # float64: converted to the declared float32


def _ids(batch=2, seq=5):
    rng = np.random.RandomState(1)
    return {"input_word_ids": rng.randint(0, len(shapes.VOCAB), (batch, seq)).astype(np.int32),
            "input_mask": np.ones((batch, seq), np.int32), "input_type_ids": np.zeros((batch, seq), np.int32)}


# --- 1. text embedding -----------------------------------------------------------------------------
def test_text_embedding_lists_call_and_matches_tensorflow_hub(text_embedding_dir):
    m = hubfn.hub_load(text_embedding_dir)
    assert m.signatures == () and m.function_names == ("__call__",)
    assert "__call__(sentences: string[?]) -> {default: float32[?, 8]}" in repr(m)
    out = m(SENTENCES)
    np.testing.assert_allclose(out.numpy(), hub.load(text_embedding_dir)(tf.constant(SENTENCES)).numpy(), rtol=1e-6)
    (emb,) = hubfn.hub_module(text_embedding_dir, trainable=True).trainable_variables
    np.testing.assert_allclose(out.numpy(), shapes.text_embedding_numpy(SENTENCES, emb.numpy()), rtol=1e-5)
    with pytest.raises(errors.InputError, match="'sentences'.*string.*float"):
        m([1.5, 2.5])
    with pytest.raises(errors.InputError, match="'sentences'.*string.*float64"):
        m(np.array([1.5, 2.5]))
    with pytest.raises(errors.InputError, match=r"'sentences'.*\[\?\].*\[1, 2\]"):
        m([["a", "b"]])


def test_text_embedding_with_serving_default(text_embedding_serving_dir):
    m = hubfn.hub_load(text_embedding_serving_dir)
    assert m.signature_names == ("serving_default",) and m.function_names == ("__call__",)
    by_call = m(SENTENCES)  # no "default": __call__ runs
    by_sig = m(SENTENCES, signature="serving_default")
    np.testing.assert_allclose(by_call.numpy(), by_sig.numpy(), rtol=1e-6)
    np.testing.assert_allclose(by_sig.numpy(), hub.load(text_embedding_serving_dir).signatures["serving_default"](
        sentences=tf.constant(SENTENCES))["output_0"].numpy(), rtol=1e-6)


# --- 2. image feature vectors ----------------------------------------------------------------------
def test_image_feature_vector_call_is_listed_and_takes_training(image_feature_vector_dir):
    m = hubfn.hub_load(image_feature_vector_dir)
    (call,) = m.functions
    assert call.describe() == "__call__(images: float32[?, ?, ?, 3], training=False) -> {default: float32[?, 6]}"
    assert call.takes_training
    out = m(IMAGES)
    ref = hub.load(image_feature_vector_dir)(tf.constant(IMAGES, tf.float32), training=False)
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5)
    np.testing.assert_allclose(m(IMAGES[:1]).numpy(), out.numpy()[:1], rtol=1e-5)  # inference: per example
    with pytest.raises(errors.InputError, match=r"'images'.*\[\?, \?, \?, 3\]"):
        m(np.zeros((1, 8, 8, 4)))


@pytest.mark.parametrize("fixture", ["image_keras_hubfn_dir", "image_keras_export_dir"])
def test_keras_applications_exports_run_by_default(fixture, request):
    path = request.getfixturevalue(fixture)
    m = hubfn.hub_load(path)
    x = np.random.RandomState(2).rand(2, 32, 32, 3).astype(np.float32)
    out = m(x)  # "default" (hubfn export) or "serving_default" (Keras 3 model.export: no default, no __call__)
    assert out.shape == (2, 256)
    obj = hub.load(path)
    name = "default" if "default" in m.signature_names else "serving_default"
    assert "default" in m.signature_names or (not m.has_call and "serving_default" in m.signature_names)
    (ref,) = obj.signatures[name](**{m.signature(name).input_names[0]: tf.constant(x)}).values()
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


# --- 3. BERT ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fixture", ["bert_encoder_dir", "bert_encoder_keras_dir"])
def test_bert_encoder_lists_real_output_keys_and_matches(fixture, request):
    path = request.getfixturevalue(fixture)
    m = hubfn.hub_load(path)
    call = m.signature("__call__")
    assert call.structure == "dict" and call.input_names == ("input_mask", "input_type_ids", "input_word_ids")
    assert call.output_names == ("default", "encoder_outputs", "pooled_output", "sequence_output")
    (enc_outs,) = [t for t in call.outputs if t.name == "encoder_outputs"]
    assert enc_outs.kind == "list" and enc_outs.length == shapes.LAYERS
    assert "encoder_outputs: list of 2 float32[?, ?, 8]" in repr(m)
    ids = _ids()
    out = m(ids, signature="__call__", as_dict=True)
    assert isinstance(out["encoder_outputs"], list) and len(out["encoder_outputs"]) == shapes.LAYERS
    want = shapes.bert_encoder_numpy(ids["input_word_ids"], ids["input_mask"], ids["input_type_ids"])
    np.testing.assert_allclose(out["pooled_output"].numpy(), want["pooled_output"], rtol=1e-5, atol=1e-6)
    ref = hub.load(path)({k: tf.constant(v) for k, v in ids.items()})
    np.testing.assert_allclose(out["sequence_output"].numpy(), ref["sequence_output"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(m(ids).numpy(), ref["default"].numpy(), rtol=1e-6)  # as_dict=False: "default"


def test_bert_encoder_input_rules(bert_encoder_dir):
    m = hubfn.hub_load(bert_encoder_dir)
    ids = _ids()
    as_doubles = {k: v.astype(np.float64) for k, v in ids.items()}  # what R sends
    np.testing.assert_allclose(m(as_doubles).numpy(), m(ids).numpy())
    as_int64 = {k: tf.constant(v, tf.int64) for k, v in ids.items()}
    np.testing.assert_allclose(m(as_int64).numpy(), m(ids).numpy())
    with pytest.raises(errors.InputError, match="'input_word_ids'.*int32.*fractional"):
        m({**as_doubles, "input_word_ids": as_doubles["input_word_ids"] + 0.5})
    with pytest.raises(errors.InputError, match="'input_word_ids'.*int32.*1099511627783"):
        m({**ids, "input_word_ids": np.full((2, 5), 2 ** 40 + 7, np.int64)})
    with pytest.raises(errors.InputError, match="'input_word_ids'.*1099511627783"):
        m({**ids, "input_word_ids": tf.fill([2, 5], tf.constant(2 ** 40 + 7, tf.int64))})
    with pytest.raises(errors.InputError, match="missing 'input_mask'"):
        m({"input_word_ids": ids["input_word_ids"], "input_type_ids": ids["input_type_ids"]})
    with pytest.raises(errors.InputError, match="unexpected 'extra'"):
        m({**ids, "extra": ids["input_mask"]})


def test_bert_preprocessor_sub_objects(bert_preprocessor_dir):
    m = hubfn.hub_load(bert_preprocessor_dir)
    assert m.function_names == ("__call__", "bert_pack_inputs", "tokenize")
    text = repr(m)
    assert "tokenize(strings: string[?]) -> {default: ragged int32[?, ?, ?]}" in text
    assert "bert_pack_inputs([inputs[0]: ragged int32[?, ?, ?]], seq_length=16)" in text
    obj = hub.load(bert_preprocessor_dir)
    tokens = m(SENTENCES, signature="tokenize")
    assert isinstance(tokens, tf.RaggedTensor)
    assert tokens.to_list() == obj.tokenize(tf.constant(SENTENCES)).to_list()
    assert tokens.merge_dims(1, -1).to_list()[1] == shapes.tokenize_numpy(SENTENCES[1])
    packed = m([tokens, tokens], signature="bert_pack_inputs", as_dict=True)
    ref = obj.bert_pack_inputs([tokens, tokens], seq_length=shapes.SEQ_LENGTH)
    for k in ref:
        np.testing.assert_array_equal(packed[k].numpy(), ref[k].numpy())
    same = m([tokens], signature="bert_pack_inputs", as_dict=True, arguments={"seq_length": shapes.SEQ_LENGTH})
    whole = m(SENTENCES, as_dict=True)
    np.testing.assert_array_equal(same["input_word_ids"].numpy(), whole["input_word_ids"].numpy())
    # Nested lists are made ragged; the same rules as every input (int32 ids, whole doubles fine).
    lists = [[[4.0], [5.0]], [[6.0]]]
    from_lists = m([lists], signature="bert_pack_inputs", as_dict=True)
    assert from_lists["input_word_ids"].numpy()[0, :4].tolist() == [2, 4, 5, 3]
    with pytest.raises(errors.InputError, match="seq_length=16"):
        m([tokens], signature="bert_pack_inputs", arguments={"seq_length": 7}, as_dict=True)
    with pytest.raises(errors.SignatureError, match="tokenize"):
        m(SENTENCES, signature="detokenize")


def test_bert_text_to_encoder_chain(bert_preprocessor_dir, bert_encoder_dir):
    pre, enc = hubfn.hub_load(bert_preprocessor_dir), hubfn.hub_load(bert_encoder_dir)
    out = enc(pre(SENTENCES, as_dict=True), as_dict=True)
    ref = hub.load(bert_encoder_dir)(hub.load(bert_preprocessor_dir)(tf.constant(SENTENCES)))
    np.testing.assert_allclose(out["pooled_output"].numpy(), ref["pooled_output"].numpy(), rtol=1e-6)


# --- 4. TF1 hub format -----------------------------------------------------------------------------
def test_tf1_text_module_signatures(tf1_text_dir):
    m = hubfn.hub_load(tf1_text_dir)
    assert m.signature_names == ("default", "similarity", "tokens") and m.functions == ()
    emb = m(SENTENCES)
    assert emb.shape == (3, shapes.DIM)
    obj = hub.load(tf1_text_dir)
    np.testing.assert_allclose(emb.numpy(), obj.signatures["default"](default=tf.constant(SENTENCES))["default"].numpy(),
                               rtol=1e-6)
    sim = m({"first": SENTENCES, "second": SENTENCES}, signature="similarity")
    np.testing.assert_allclose(sim.numpy(), [1.0, 1.0, 1.0], rtol=1e-5)
    tokens = m(["the cat", "dog"], signature="tokens").numpy()
    assert tokens.tolist() == [[4, 5], [6, -1]]
    with pytest.raises(errors.InputError, match="missing 'second'"):
        m({"first": SENTENCES}, signature="similarity")


def test_tf1_sparse_input_is_listed_and_callable(tf1_sparse_dir):
    m = hubfn.hub_load(tf1_sparse_dir)
    (inp,) = m.signature("default").inputs
    assert inp.kind == "sparse" and "default: sparse int64[?, ?]" in repr(m)
    assert hubfn.module_signatures(m)[0]["inputs"][0]["kind"] == "sparse"
    ids = tf.SparseTensor([[0, 0], [0, 1], [1, 0]], tf.constant([4, 5, 6], tf.int64), [2, 2])
    out = m(ids).numpy()
    ref = hub.load(tf1_sparse_dir).signatures["default"](
        default_indices=ids.indices, default_values=ids.values, default_dense_shape=ids.dense_shape)["default"]
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-6)
    as_dict = m({"default": {"indices": [[0, 0], [0, 1], [1, 0]], "values": [4.0, 5.0, 6.0], "dense_shape": [2, 2]}})
    np.testing.assert_allclose(as_dict.numpy(), out, rtol=1e-6)  # whole doubles fine for int64 ids
    with pytest.raises(errors.InputError, match="sparse"):
        m([[4, 5]])


# --- 5. ragged and mixed inputs --------------------------------------------------------------------
def test_ragged_input_passes_through(ragged_dir):
    m = hubfn.hub_load(ragged_dir)
    assert "__call__(values: ragged float32[?, ?])" in repr(m)
    rt = tf.ragged.constant([[1.0, 2.0, 3.0], [4.0]])
    ref = hub.load(ragged_dir)(rt).numpy()
    np.testing.assert_allclose(m(rt).numpy(), ref, rtol=1e-6)
    np.testing.assert_allclose(m([[1, 2, 3], [4]]).numpy(), ref, rtol=1e-6)  # nested lists, ints -> float32
    with pytest.raises(errors.InputError, match="'values'.*float32.*string"):
        m([["a"], ["b", "c"]])


def test_mixed_dtypes_scalar_and_unknown_dims(mixed_dir):
    m = hubfn.hub_load(mixed_dir)
    call = m.signature("__call__")
    assert call.structure == "dict" and [t.dtype for t in call.inputs] == ["int64", "bool", "string", "float32"]
    assert "total: float32[]" in repr(m) and "tiled: float32[?, ?]" in repr(m)
    x = [[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]]
    inputs = {"x": x, "text": ["ab", "héllo"], "count": [2, 3], "flag": [True, False]}  # Python ints into int64
    out = m(inputs, as_dict=True)
    w = hubfn.hub_module(mixed_dir, trainable=True).trainable_variables[0].numpy()
    want = shapes.mixed_numpy(**inputs, w=w)
    assert out["total"].shape == () and out["tiled"].shape == (2, 9)
    for k in want:
        np.testing.assert_allclose(out[k].numpy(), want[k], rtol=1e-5)
    by_sig = m(inputs, signature="score", as_dict=True)
    np.testing.assert_allclose(by_sig["total"].numpy(), out["total"].numpy())
    ref = hub.load(mixed_dir)({"x": tf.constant(x), "text": tf.constant(inputs["text"]),
                               "count": tf.constant([2, 3], tf.int64), "flag": tf.constant([True, False])})
    np.testing.assert_allclose(out["tiled"].numpy(), ref["tiled"].numpy())
    with pytest.raises(errors.InputError, match="'flag'.*bool.*int64"):
        m({**inputs, "flag": [1, 0]}, as_dict=True)
    with pytest.raises(errors.InputError, match="missing 'count'"):
        m({k: v for k, v in inputs.items() if k != "count"}, as_dict=True)
    with pytest.raises(errors.OutputError, match="length, tiled, total"):
        m(inputs)


# --- listings: repr, hubfn info, module_signatures -------------------------------------------------
def test_call_is_listed_everywhere(image_feature_vector_dir, bert_preprocessor_dir, capsys):
    from hubfn.cli import main

    assert main(["info", str(image_feature_vector_dir)]) == 0
    out = capsys.readouterr().out
    assert "__call__(images: float32[?, ?, ?, 3], training=False) -> {default: float32[?, 6]}" in out
    data = hubfn.module_signatures(bert_preprocessor_dir)
    assert [d["name"] for d in data] == ["__call__", "bert_pack_inputs", "tokenize"]
    assert data[2] == {"name": "tokenize", "kind": "function", "structure": "tensor", "options": {},
                       "returns": "tensor",
                       "inputs": [{"name": "strings", "dtype": "string", "shape": [None]}],
                       "outputs": [{"name": "default", "dtype": "int32", "shape": [None, None, None],
                                    "kind": "ragged"}]}
    assert data == hubfn.module_signatures(hubfn.hub_load(bert_preprocessor_dir))


def test_tfhub_cache_dir_as_file_url(tmp_path, monkeypatch):
    from hubfn.fetch import manage

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFHUB_CACHE_DIR", (tmp_path / "hubcache").as_uri())
    assert str(manage.cache_dir()) == str(tmp_path / "hubcache")
    assert not (tmp_path / "file:").exists()
