"""hubfn's errors carry structured fields beside their messages (hubfn.errors.HubError): which handle and
input an error is about, what the input expected and got, which check failed, and the keyword arguments the
message spells in Python. The R bindings word their messages from these; str(e) stays the message."""

import pickle

import numpy as np
import pytest

import hubfn
from hubfn import errors


def _raised(fn):
    with pytest.raises(errors.HubError) as info:
        fn()
    return info.value


def test_fields_default_to_none_and_the_message_is_unchanged():
    e = errors.InputError("Input 'x' expects float32.")
    assert str(e) == "Input 'x' expects float32." and e.fields == {}
    assert (e.handle, e.input, e.expected, e.got, e.reason, e.keywords) == (None,) * 6
    e = errors.SignatureError("no signature 'x'", handle="h")
    assert str(e) == "no signature 'x'" and e.fields == {"handle": "h"}  # KeyError's quotes stay off
    assert isinstance(errors.ModuleNotFound("gone", handle="h"), FileNotFoundError)
    assert str(pickle.loads(pickle.dumps(errors.OfflineError("m", handle="h")))) == "m"


def test_input_errors_say_which_input_what_it_expects_and_what_it_got(fruit_dir, tmp_path):
    m = hubfn.hub_load(fruit_dir)
    e = _raised(lambda: m(np.array([["a", "b"]])))
    assert str(e).startswith("Input 'x' of signature 'default'")
    assert e.fields == {"input": "x", "expected": "float32", "got": "str32", "reason": "dtype"}
    e = _raised(lambda: m(np.ones((2, 3), np.float32)))
    assert e.fields == {"input": "x", "expected": [None, 2], "got": [2, 3], "reason": "shape"}
    e = _raised(lambda: m({"apples": np.ones(2, np.float32)}, signature="fruit_to_pet"))
    assert e.fields == {"expected": ["apples", "oranges"], "got": ["apples"], "reason": "keys"}
    assert "missing 'oranges'" in str(e)
    e = _raised(lambda: m(np.ones(2, np.float32), signature="fruit_to_pet"))
    assert e.fields == {"expected": ["apples", "oranges"], "reason": "keys"}


def test_value_errors_give_the_first_value_that_does_not_fit(tmp_path):
    import tensorflow as tf

    class Ids(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int8, name="ids")])
        def __call__(self, ids):
            return ids

    path = hubfn.export_savedmodel(Ids(), tmp_path / "ids")
    m = hubfn.hub_load(path)
    e = _raised(lambda: m(np.array([1.0, 2.5, np.inf])))
    assert e.fields == {"input": "ids", "expected": "int8", "got": 2.5, "reason": "value"}
    e = _raised(lambda: m(np.array([3.0, np.nan])))
    assert e.input == "ids" and np.isnan(e.got)
    e = _raised(lambda: m(np.array([5, 300])))
    assert e.fields == {"input": "ids", "expected": "int8", "got": 300, "reason": "value"}
    assert "whose values lie in [-128, 127]; got 300" in str(e)


def test_keywords_name_the_arguments_a_message_spells(fruit_dir, tmp_path):
    e = _raised(lambda: hubfn.export_savedmodel(hubfn.hub_load(fruit_dir), fruit_dir))
    assert "Pass overwrite=True" in str(e) and e.keywords == (("overwrite", True),)
    url = "http://127.0.0.1:9/acme/fruit/1"
    e = _raised(lambda: hubfn.hub_load(url, cache_dir=str(tmp_path / "cache"), offline=True))
    assert isinstance(e, errors.OfflineError) and e.handle == url
    assert e.keywords == (("offline", True), ("offline", False))
    assert "(or offline=True)" in str(e) and "pass offline=False" in str(e)
