"""Batched apply (hubfn.batch): module_apply(..., batch_size=N) equals one call on every kind of input and
output, cuts pandas inputs too, checks batch_size, and shows a progress bar only when asked or on a terminal."""

import sys
from pathlib import Path

import numpy as np
import pytest

import hubfn
from hubfn import errors, examples

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
import hashed_text  # noqa: E402


@pytest.fixture(scope="session")
def text_dir(modules_dir):
    """A text-embedding module (string[?] -> float32[?, 16]) with a dict-in, dict-out "compare" signature."""
    return hashed_text.export_hashed_text_module(modules_dir / "hashed_text")


def same(batched, whole):
    """Batched results are NumPy; one call gives tensors. Same keys, shapes, dtypes and numbers."""
    if isinstance(whole, dict):
        assert isinstance(batched, dict) and sorted(batched) == sorted(whole)
        for k in whole:
            same(batched[k], whole[k])
        return
    if isinstance(whole, (list, tuple)):
        assert isinstance(batched, list) and len(batched) == len(whole)
        for b, w in zip(batched, whole):
            same(b, w)
        return
    whole = whole.numpy()
    assert isinstance(batched, np.ndarray)
    assert batched.shape == whole.shape and batched.dtype == whole.dtype
    if whole.dtype.kind in "OSU":
        np.testing.assert_array_equal(batched, whole)
    else:
        np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 5000])
def test_float_input_batched_equals_one_call(fruit_dir, batch_size):
    m = hubfn.hub_load(fruit_dir)
    x = np.random.default_rng(0).normal(size=(1000, 2))  # float64: converted per batch like in one call
    same(hubfn.module_apply(m, x, batch_size=batch_size), hubfn.module_apply(m, x))


def test_tf1_module_batched_equals_one_call(tf1_dir):
    m = hubfn.hub_load(tf1_dir)
    x = np.random.default_rng(1).normal(size=(333, 3)).astype(np.float32)
    out = m(x, batch_size=50)
    same(out, m(x))
    np.testing.assert_allclose(out, examples.tf1_forward(x), rtol=1e-5, atol=1e-5)


def test_arguments_reach_every_batch(hparams_dir):
    """arguments= (here a __call__'s tensor hyperparameters a and b) go to every batch's call, as to one call."""
    m = hubfn.hub_load(hparams_dir)
    x = np.arange(23, dtype=np.float32).reshape(23, 1)
    batched = hubfn.module_apply(m, x, batch_size=5, arguments={"a": 3.0, "b": 1.0})
    same(batched, m(x, arguments={"a": 3.0, "b": 1.0}))
    np.testing.assert_allclose(batched, 3.0 * x + 1.0)
    same(m(np.zeros((0, 1), np.float32), batch_size=5, arguments={"b": 2.0}),
         m(np.zeros((0, 1), np.float32), arguments={"b": 2.0}))
    with pytest.raises(errors.InputError, match="'a'.*float32.*str"):  # checked per batch, like one call
        m(x, batch_size=5, arguments={"a": "ten"})


def test_dict_in_dict_out_batched_equals_one_call(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    rng = np.random.default_rng(2)
    inputs = {"apples": rng.normal(size=501), "oranges": list(rng.normal(size=501))}  # array and list
    whole = m(inputs, signature="fruit_to_pet", as_dict=True)
    same(m(inputs, signature="fruit_to_pet", as_dict=True, batch_size=100), whole)
    np.testing.assert_allclose(whole["cats"].numpy(), 2 * inputs["apples"] + np.array(inputs["oranges"]),
                               rtol=1e-5)


@pytest.mark.parametrize("kind", ["list", "numpy", "pandas"])
def test_string_input_batched_equals_one_call(text_dir, kind):
    m = hubfn.hub_load(text_dir)
    text = hashed_text.sentences(777, seed=3)
    if kind == "numpy":
        text = np.array(text, dtype=object)
    elif kind == "pandas":
        pd = pytest.importorskip("pandas")
        text = pd.Series(text, index=np.arange(777) * 3 + 10)  # positional cutting, whatever the index
    whole = m(list(text))
    out = m(text, batch_size=100)
    assert out.shape == (777, 16)
    same(out, whole)


def test_string_dict_in_dict_out_batched_equals_one_call(text_dir):
    m = hubfn.hub_load(text_dir)
    inputs = {"left": hashed_text.sentences(300, seed=4), "right": hashed_text.sentences(300, seed=5)}
    same(m(inputs, signature="compare", as_dict=True, batch_size=32),
         m(inputs, signature="compare", as_dict=True))
    same(m(inputs, signature="compare", as_dict=True, batch_size=299)["similarity"],
         m(inputs, signature="compare", as_dict=True)["similarity"])


def test_pandas_dataframe_rows(fruit_dir):
    pd = pytest.importorskip("pandas")
    m = hubfn.hub_load(fruit_dir)
    df = pd.DataFrame(np.random.default_rng(6).normal(size=(90, 2)), columns=["a", "b"], index=range(500, 590))
    same(m(df, batch_size=16), m(df.to_numpy()))
    same(m({"apples": df["a"], "oranges": df["b"]}, signature="fruit_to_pet", as_dict=True, batch_size=16),
         m({"apples": df["a"].to_numpy(), "oranges": df["b"].to_numpy()}, signature="fruit_to_pet", as_dict=True))


def test_empty_input_gives_empty_arrays(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    out = m(np.zeros((0, 2), np.float32), batch_size=10)
    assert isinstance(out, np.ndarray) and out.shape == (0, 2)


@pytest.mark.parametrize("size", [3.0, np.int64(3), np.float64(3.0)])
def test_whole_numbers_of_any_type_are_batch_sizes(fruit_dir, size):
    m = hubfn.hub_load(fruit_dir)
    x = np.ones((10, 2), np.float32)
    same(m(x, batch_size=size), m(x))


@pytest.mark.parametrize("size", [0, -5, 2.5, "10", True, float("nan"), [4]])
def test_bad_batch_sizes_are_input_errors(fruit_dir, size):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.InputError, match="batch_size must be a positive whole number"):
        m(np.ones((10, 2), np.float32), batch_size=size)


def test_inputs_with_different_row_counts_are_named(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.InputError, match=r"different numbers of rows \('apples': 5, 'oranges': 4\)"):
        m({"apples": np.ones(5), "oranges": np.ones(4)}, signature="fruit_to_pet", as_dict=True, batch_size=2)


def test_a_single_value_cannot_be_batched(text_dir):
    m = hubfn.hub_load(text_dir)
    with pytest.raises(errors.InputError, match="single value"):
        m("one sentence", batch_size=2)
    with pytest.raises(errors.InputError, match="single value"):
        m(np.array("one sentence"), batch_size=2)


def test_batch_errors_are_the_unbatched_errors(fruit_dir):
    """Conversion happens per batch through module_apply, so a bad dtype is the same InputError."""
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.InputError, match="expects float32"):
        m(np.array([["a", "b"]] * 4), batch_size=2)


def test_progress_bar_only_when_asked_or_on_a_terminal(fruit_dir, capsys):
    m = hubfn.hub_load(fruit_dir)
    x = np.ones((50, 2), np.float32)
    m(x, batch_size=10)  # pytest's stderr is no terminal: quiet by default
    m(x, batch_size=10, progress=False)
    assert capsys.readouterr().err == ""
    m(x, batch_size=10, progress=True)
    err = capsys.readouterr().err
    assert "50/50" in err and "rows" in err
    with pytest.raises(errors.InputError, match="progress must be"):
        m(x, batch_size=10, progress="yes")


# --- the module shapes people load from TF Hub (tests/shapes.py) -----------------------------------
def _shape_inputs(name, n):
    import shapes

    rng = np.random.default_rng(7)
    words = np.array(shapes.VOCAB[4:] + ["unknownword"])
    text = [" ".join(rng.choice(words, rng.integers(0, 6))) for _ in range(n)]
    if name in ("text_embedding", "text_embedding_serving", "tf1_text"):
        return text, {}
    if name == "bert_preprocessor":
        return text, {"as_dict": True}
    if name == "bert_encoder":
        seq = 5
        return {"input_word_ids": rng.integers(0, len(shapes.VOCAB), (n, seq)).astype(np.int32),
                "input_mask": np.ones((n, seq), np.int32), "input_type_ids": np.zeros((n, seq), np.int32)}, \
            {"as_dict": True}
    if name == "image_feature_vector":
        return rng.random((n, 8, 8, 3), dtype=np.float32), {}
    if name == "mixed":
        return {"x": rng.normal(size=(n, 3)).astype(np.float32), "text": text,
                "count": rng.integers(0, 9, n), "flag": rng.random(n) > 0.5}, {"as_dict": True}
    raise AssertionError(name)


@pytest.mark.parametrize("name", ["text_embedding", "text_embedding_serving", "bert_preprocessor", "tf1_text",
                                  "bert_encoder", "image_feature_vector"])
def test_module_shapes_batched_equal_one_call(shape_dir, name):
    """String, dict-of-int and image inputs; dict, list-in-dict and string outputs, as TF Hub modules give them."""
    m = hubfn.hub_load(shape_dir(name))
    inputs, kw = _shape_inputs(name, 45)
    same(m(inputs, batch_size=8, **kw), m(inputs, **kw))


def test_an_output_reduced_over_the_batch_cannot_be_batched(shape_dir):
    """The mixed shape's "total" sums over the whole batch: joining per-batch sums would be wrong."""
    m = hubfn.hub_load(shape_dir("mixed"))
    inputs, kw = _shape_inputs("mixed", 20)
    assert m(inputs, **kw)["total"].shape == ()
    with pytest.raises(errors.OutputError, match="single value for a batch"):
        m(inputs, batch_size=8, **kw)


def test_vocabulary_text_module_reads_its_asset_and_batches(modules_dir):
    """The example's NNLM-like variant (the benchmark's module, here small): the vocabulary file is an
    asset inside the module (the file it was written from is gone after export), read into a lookup
    table at load; every out-of-vocabulary token goes to the one extra bucket here."""
    path = hashed_text.export_hashed_text_module(modules_dir / "vocab_text", vocab=50, buckets=1, embedding=8)
    lines = (Path(path) / "assets" / "tokens.txt").read_text(encoding="utf-8").splitlines()
    assert lines == hashed_text.vocabulary(50) and len(set(lines)) == 50
    m = hubfn.hub_load(path)
    known_a, known_b, unknown_a, unknown_b = hubfn.module_apply(m, [lines[3], lines[4], "qqq", "zzz-unknown"])
    assert not np.allclose(known_a, known_b)  # two rows of the table
    np.testing.assert_array_equal(unknown_a, unknown_b)  # both in the out-of-vocabulary bucket
    assert not np.allclose(known_a, unknown_a)
    text = hashed_text.sentences(300, seed=6)
    same(hubfn.module_apply(m, text, batch_size=64), m(text))
