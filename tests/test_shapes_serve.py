"""Every module shape served by `hubfn.serve_modules`: the page lists `__call__` and sub-objects (read from
saved_model.pb, no TensorFlow load), and loading by URL gives the same numbers as loading the directory."""

import shutil

import numpy as np
import pytest
import requests

import hubfn

INPUTS = {
    "text_embedding": (["the cat sat", "a dog"], {}),
    "image_feature_vector": (np.random.RandomState(0).rand(2, 8, 8, 3), {}),
    "image_keras_export": (np.random.RandomState(0).rand(2, 32, 32, 3), {}),
    "bert_encoder": ({"input_word_ids": [[2, 4, 3]], "input_mask": [[1, 1, 1]], "input_type_ids": [[0, 0, 0]]},
                     {"as_dict": True}),
    "bert_preprocessor": (["the cat sat"], {"signature": "tokenize"}),
    "tf1_text": ({"first": ["the cat"], "second": ["a dog"]}, {"signature": "similarity"}),
    "tf1_image": (np.random.RandomState(1).rand(2, 8, 8, 3), {}),
    "ragged": ([[1.0, 2.0], [3.0]], {}),
    "mixed": ({"x": [[1.0, 2.0, 3.0]], "text": ["ab"], "count": [1], "flag": [True]}, {"as_dict": True}),
}


@pytest.fixture(scope="module")
def served_shapes(shape_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes_root")
    for name in INPUTS:
        shutil.copytree(shape_dir(name), root / "shapes" / name / "1")
    with hubfn.serve_modules(str(root), port=0) as server:
        yield server.url.rstrip("/") + "/shapes/"


def _numpy(out):
    if isinstance(out, dict):
        return {k: _numpy(v) for k, v in out.items()}
    if isinstance(out, list):
        return [_numpy(v) for v in out]
    return out.to_list() if hasattr(out, "to_list") else out.numpy()


@pytest.mark.parametrize("name", sorted(INPUTS))
def test_served_shape_lists_its_functions_and_loads_by_url(served_shapes, shape_dir, name, cache_dir):
    url = served_shapes + name + "/1"
    facts = requests.get(url, headers={"Accept": "application/json"}, timeout=60).json()
    listed = [s["name"] for v in facts["variants"] for s in v["signatures"]]
    local = hubfn.hub_load(shape_dir(name))
    assert listed[: len(local.listing)] == [s.name for s in local.listing]
    if local.has_call:
        assert "__call__" in listed
    page = requests.get(url, timeout=60).text
    assert "No signatures" not in page
    remote = hubfn.hub_load(url)
    assert remote.listing == local.listing
    value, kwargs = INPUTS[name]
    np.testing.assert_equal(_numpy(remote(value, **kwargs)), _numpy(local(value, **kwargs)))
