"""Core: loading local modules, applying them, their signatures, and the errors of bad input."""

import os
import resource

import attrs
import numpy as np
import pytest
import tensorflow as tf

import hubfn
from hubfn import errors, examples


# --- loading -------------------------------------------------------------------------------------
def test_load_tf2_module_describes_its_signatures(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    assert m.format == "tf2" and m.trainable is False and m.tags is None
    assert m.signature_names == ("default", "fruit_to_pet")
    pet = m.signature("fruit_to_pet")
    assert pet.input_names == ("apples", "oranges") and pet.output_names == ("cats", "dogs")
    assert pet.inputs[0].dtype == "float32" and pet.inputs[0].shape == (None,)
    text = repr(m)
    assert str(fruit_dir) in text and "fruit_to_pet(apples: float32[?], oranges: float32[?])" in text
    assert "default(x: float32[?, 2])" in text


def test_module_signatures_as_data(fruit_dir):
    data = hubfn.module_signatures(fruit_dir)
    assert data[1] == {"name": "fruit_to_pet",
                       "inputs": [{"name": "apples", "dtype": "float32", "shape": [None]},
                                  {"name": "oranges", "dtype": "float32", "shape": [None]}],
                       "outputs": [{"name": "cats", "dtype": "float32", "shape": [None]},
                                   {"name": "dogs", "dtype": "float32", "shape": [None]}]}
    assert data == hubfn.module_signatures(hubfn.hub_load(fruit_dir))


def test_same_path_and_tags_reuse_the_loaded_object(fruit_dir):
    a, b = hubfn.hub_load(fruit_dir), hubfn.hub_load(os.path.join(str(fruit_dir), "."))
    assert a.obj is b.obj
    assert a == hubfn.hub_load(fruit_dir)  # a value: equal fields, equal modules


def test_file_url_and_pathlike_handles(fruit_dir):
    from pathlib import Path

    by_url = hubfn.hub_load("file://" + str(fruit_dir))
    by_path = hubfn.hub_load(Path(fruit_dir))
    assert by_url.path == by_path.path and by_url.handle.startswith("file://")


def test_module_is_frozen(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.trainable = True


# --- TF1 hub format ------------------------------------------------------------------------------
def test_tf1_hub_module_gives_the_right_numbers(tf1_dir):
    m = hubfn.hub_load(tf1_dir)
    assert m.format == "tf1_hub" and m.tags == frozenset()
    x = np.array([[1.0, 2.0, 3.0], [-1.0, 0.5, 2.0]])
    np.testing.assert_allclose(m(x).numpy(), examples.tf1_forward(x), rtol=1e-6)


def test_tf1_train_tags_pick_the_train_variant(tf1_dir):
    plain, train = hubfn.hub_load(tf1_dir), hubfn.hub_load(tf1_dir, tags=["train"])
    assert train.tags == frozenset({"train"})
    assert "hidden" in train.signature_names and "hidden" not in plain.signature_names
    x = [[1.0, 2.0, 3.0]]
    np.testing.assert_allclose(train(x, signature="hidden").numpy(),
                               np.maximum(np.array(x) @ examples.TF1_W1, 0), rtol=1e-6)


def test_tf1_unknown_tags_list_the_tag_sets(tf1_dir):
    with pytest.raises(errors.TagsError) as e:
        hubfn.hub_load(tf1_dir, tags=["nope"])
    msg = str(e.value)
    assert '{"nope"}' in msg and '{}' in msg and '{"train"}' in msg


# --- applying ------------------------------------------------------------------------------------
def test_default_signature_and_dtype_conversion(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    x = np.array([[1.0, 2.0], [0.0, -1.0]])  # float64: converted to the declared float32
    y = m(x)
    assert y.dtype == tf.float32
    np.testing.assert_allclose(y.numpy(), x @ examples.FRUIT_W + examples.FRUIT_B, rtol=1e-6)
    np.testing.assert_allclose(m([[1, 2]]).numpy(), m(np.array([[1.0, 2.0]], np.float32)).numpy())
    np.testing.assert_allclose(m(tf.constant([[1.0, 2.0]], tf.float64)).numpy(), [[7.5, 9.5]])


def test_named_signature_with_dict_inputs(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    out = m({"apples": [1.0, 2.0], "oranges": [3.0, 4.0]}, signature="fruit_to_pet", as_dict=True)
    assert set(out) == {"cats", "dogs"}
    np.testing.assert_allclose(out["cats"].numpy(), [5.0, 8.0])
    np.testing.assert_allclose(out["dogs"].numpy(), [-8.0, -10.0])
    same = hubfn.module_apply(m, {"apples": [1.0, 2.0], "oranges": [3.0, 4.0]},
                              signature="fruit_to_pet", as_dict=True)
    np.testing.assert_allclose(same["cats"].numpy(), out["cats"].numpy())


def test_missing_and_extra_inputs_are_named(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.InputError) as e:
        m({"apples": [1.0]}, signature="fruit_to_pet", as_dict=True)
    assert "'oranges'" in str(e.value) and "apples, oranges" in str(e.value)
    with pytest.raises(errors.InputError) as e:
        m({"apples": [1.0], "oranges": [1.0], "pears": [2.0]}, signature="fruit_to_pet")
    assert "'pears'" in str(e.value)


def test_several_outputs_without_as_dict_suggest_it(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.OutputError) as e:
        m({"apples": [1.0], "oranges": [1.0]}, signature="fruit_to_pet")
    assert "as_dict=True" in str(e.value) and "cats, dogs" in str(e.value)


def test_unknown_signature_lists_the_names(fruit_dir):
    with pytest.raises(errors.SignatureError) as e:
        hubfn.hub_load(fruit_dir)([[1.0, 2.0]], signature="pets")
    assert "'pets'" in str(e.value) and "default, fruit_to_pet" in str(e.value)


def test_float_for_int_input_and_bad_shape_are_refused(tmp_path):
    class Count(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.int32, name="ids")])
        def __call__(self, ids):
            return tf.reduce_sum(ids, axis=1)

    path = hubfn.export_savedmodel(Count(), tmp_path / "count")
    m = hubfn.hub_load(path)
    np.testing.assert_array_equal(m([[1, 2, 3]]).numpy(), [6])
    with pytest.raises(errors.InputError) as e:
        m([[1.5, 2.0, 3.0]])
    assert "'ids'" in str(e.value) and "int32" in str(e.value) and "float64" in str(e.value)
    with pytest.raises(errors.InputError) as e:
        m([[1, 2]])
    assert "'ids'" in str(e.value) and "[?, 3]" in str(e.value) and "[1, 2]" in str(e.value)


def test_a_thousand_calls_share_variables_and_do_not_grow_memory(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    x = np.ones((4, 2), np.float32)
    for _ in range(200):  # warm up caches and allocators
        m(x)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(1000):
        m(x)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 20_000, f"RSS grew by {grown_kb} kB over 1000 calls"
    assert len(m.obj.variables) == 3  # one set of weights, whatever the number of calls
    (b,) = [v for v in m.obj.variables if v.name.startswith("b:")]
    b.assign_add([1.0, 1.0])  # every later call sees the change
    try:
        np.testing.assert_allclose(m([[0.0, 0.0]]).numpy(), [examples.FRUIT_B + 1.0])
    finally:
        b.assign(examples.FRUIT_B)


# --- errors for bad handles ----------------------------------------------------------------------
def test_missing_path(tmp_path):
    with pytest.raises(errors.ModuleNotFound) as e:
        hubfn.hub_load(tmp_path / "nothing")
    assert "nothing" in str(e.value)


def test_directory_without_saved_model(tmp_path):
    with pytest.raises(errors.NotAModuleError) as e:
        hubfn.hub_load(tmp_path)
    assert "saved_model.pb" in str(e.value) and str(tmp_path) in str(e.value)


def test_corrupt_saved_model_pb(tmp_path):
    (tmp_path / "saved_model.pb").write_bytes(b"\xff\xfe this is not a protobuf \x00\x01")
    with pytest.raises(errors.CorruptModuleError) as e:
        hubfn.hub_load(tmp_path)
    assert "saved_model.pb" in str(e.value) and "damaged" in str(e.value)


def test_empty_variables_file_is_a_corrupt_module(fruit_dir, tmp_path):
    """TensorFlow's checkpoint reader raises a bare IndexError on a short variables file."""
    import glob
    import shutil

    copy = tmp_path / "fruit"
    shutil.copytree(fruit_dir, copy)
    for data in glob.glob(str(copy / "variables" / "variables.data-*")):
        open(data, "wb").close()
    with pytest.raises(errors.CorruptModuleError) as e:
        hubfn.hub_load(copy)
    assert str(copy) in str(e.value) and "hubfn cache remove" in str(e.value)


@pytest.mark.parametrize("handle,kind", [(42, errors.HandleError), ("", errors.HandleError),
                                         ("s3://bucket/module", errors.UnsupportedHandleError)])
def test_bad_handles(handle, kind):
    with pytest.raises(kind):
        hubfn.hub_load(handle)


# --- the command line ----------------------------------------------------------------------------
def test_cli_info(fruit_dir, tf1_dir, capsys):
    from hubfn.cli import main

    assert main(["info", str(fruit_dir)]) == 0
    out = capsys.readouterr().out
    assert "format:    tf2" in out and "fruit_to_pet(apples: float32[?], oranges: float32[?])" in out
    assert main(["info", str(tf1_dir), "--tags", "train"]) == 0
    out = capsys.readouterr().out
    assert 'tags:      {"train"}' in out and "hidden(" in out
    assert main(["info", "/no/such/module"]) == 1
    assert "no such file or directory" in capsys.readouterr().err


def test_a_single_tag_string_is_one_tag(tf1_dir):
    assert hubfn.hub_load(tf1_dir, tags="train").tags == frozenset({"train"})


def test_tf2_default_tags_named_or_not_share_one_load(fruit_dir):
    assert hubfn.hub_load(fruit_dir, tags=["serve"]).obj is hubfn.hub_load(fruit_dir).obj


def test_inputs_that_do_not_fit_together_are_an_input_error(fruit_dir):
    m = hubfn.hub_load(fruit_dir)
    with pytest.raises(errors.InputError) as e:
        m({"apples": [1.0, 2.0], "oranges": [1.0]}, signature="fruit_to_pet", as_dict=True)
    assert "fruit_to_pet" in str(e.value) and "apples, oranges" in str(e.value)


def test_tensor_arguments_with_defaults_are_keyword_inputs(hparams_dir):
    m = hubfn.hub_load(hparams_dir)
    assert "__call__(x: float32[?, 1], a: float32[] = optional, b: float32[] = optional)" in repr(m)
    np.testing.assert_allclose(m([[1.0], [2.0]], arguments={"a": 10}).numpy(), [[10.0], [20.0]])  # int -> float32
    with pytest.raises(errors.InputError, match="'a'.*float32.*str"):
        m([[1.0]], arguments={"a": "ten"})
