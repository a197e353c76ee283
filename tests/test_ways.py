"""One rule decides what runs (hubfn.ways.choose): every way into a module chooses the same function
with the same specs, for every module shape, and runs it.

The ways: module_apply, batched apply (batch_size=), hub_layer, module_udf's description on the driver
(hubfn.spark.udf._describe, no Spark session needed) and the R package's Python helper
(hubfn_r_helpers.runner, which runs hubfn.call_plan). `chosen(way, path, signature)` gives each way's choice as plain data
(`Way.as_data()`: name, kind, inputs, structure, takes_training, returns_dict, outputs), so the R tests
can compare R's own reading of it against the same data.
"""

import os
import sys

import numpy as np
import pytest
import tensorflow as tf

import hubfn
import shapes
from hubfn import errors, ways

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "r-bindings", "inst", "python"))
import hubfn_r_helpers  # noqa: E402

SHAPES = ["text_embedding", "text_embedding_serving", "image_feature_vector", "image_keras_hubfn",
          "image_keras_export", "bert_encoder", "bert_encoder_keras", "bert_preprocessor", "tf1_text", "tf1_image",
          "tf1_sparse", "ragged", "mixed", "bare_call", "fruit", "tf1", "hparams"]
WAYS = ["module_apply", "batched", "hub_layer", "module_udf", "r_helper"]
ROWS = 3


@pytest.fixture(scope="module")
def module_path(request, shape_dir):
    def get(name):
        if name in ("fruit", "tf1", "hparams"):
            return str(request.getfixturevalue(f"{name}_dir"))
        return str(shape_dir(name))

    return get


# --- example inputs, from a way's specs --------------------------------------------------------------
def _value(t, rng):
    if t.kind == "sparse":  # int64 word ids, [ROWS, 2]
        return tf.SparseTensor([[0, 0], [1, 0], [2, 1]], rng.randint(0, len(shapes.VOCAB), 3), [ROWS, 2])
    if t.kind == "ragged":
        rows = [[[4], [5]], [[6]], [[7], [8], [9]]] if len(t.shape or ()) == 3 else [[1.0, 2.0], [3.0], [4.0, 5.0, 6.0]]
        return tf.ragged.constant(rows, dtype=t.dtype)
    dims = [ROWS] + [2 if d is None else d for d in (t.shape or (None,))[1:]] if t.shape != () else []
    if t.dtype == "string":
        words = rng.choice(shapes.VOCAB[4:], size=(*dims, 2))
        return np.array([" ".join(w) for w in words.reshape(-1, 2)], object).reshape(dims)
    if t.dtype == "bool":
        return rng.rand(*dims) > 0.5
    if "int" in t.dtype:
        return rng.randint(0, 2, size=dims).astype(t.dtype)  # valid ids, masks and type ids alike
    return rng.rand(*dims).astype(t.dtype)


def example_inputs(way):
    """Inputs for `way` built from its specs, passed as module_apply takes them."""
    rng = np.random.RandomState(0)
    values = {t.name: _value(t, rng) for t in way.inputs}
    if way.structure == "list":
        return list(values.values())
    if way.kind == "function" and way.structure == "tensor" or len(values) == 1 and way.kind == "signature":
        return next(iter(values.values()))
    return values


# --- what each way chooses -----------------------------------------------------------------------------
def chosen(way, path, signature=None, training=False):
    """(the plain data of the function `way` runs for `signature`, its outputs on example inputs as a dict
    of NumPy arrays, or None where the way does not run functions or cannot join these outputs)."""
    reference = ways.choose(hubfn.hub_load(path), signature, training)
    x = example_inputs(reference) if reference.inputs is not None else None
    if way == "module_apply":
        m = hubfn.hub_load(path)  # a Module value of its own, with its own call plans
        out = hubfn.module_apply(m, x, signature=signature, as_dict=True, training=training)
        return _kept_plan(m, signature, training).way.as_data(), _numpy(out)
    if way == "batched":
        m = hubfn.hub_load(path)
        try:
            out = _numpy(hubfn.module_apply(m, x, signature=signature, as_dict=True, training=training,
                                            batch_size=ROWS, progress=False))
        except errors.OutputError:  # outputs that are not one row per input row (a batch total, say)
            out = None
        return _kept_plan(m, signature, training).way.as_data(), out
    if way == "hub_layer":
        layer = hubfn.hub_layer(path, signature=signature, as_dict=True)
        out = layer(x)
        ran = _kept_plan(layer.module, layer.way.name, False).way  # the plan the layer's call ran
        assert ran == layer.way
        return ran.as_data(), _numpy(out)
    if way == "module_udf":
        from hubfn.spark import udf

        return udf._describe(path, signature, None, hubfn.Hub.make()).as_data(), None
    if way == "r_helper":
        return hubfn_r_helpers.runner(hubfn.hub_load(path), signature, training)[0], None
    raise ValueError(way)


def _kept_plan(module, signature, training):
    """The call plan a call of `module` made and kept (hubfn.callplan keeps one per (signature, training))."""
    from hubfn import callplan

    return callplan._kept[id(module)][(signature, training, "python")]


def _numpy(out):
    if not isinstance(out, dict):
        out = {"default": out}
    # Dense outputs only: ragged ones and lists (a BERT encoder's per-layer outputs) are compared
    # through the choice alone.
    dense = {k: np.asarray(v) for k, v in out.items() if isinstance(v, (tf.Tensor, np.ndarray))}
    return dense or None


def _names(path):
    return [None] + [s.name for s in hubfn.hub_load(path).listing]


@pytest.mark.parametrize("shape", SHAPES)
def test_every_way_chooses_the_same_function_with_the_same_specs(shape, module_path):
    path = module_path(shape)
    m = hubfn.hub_load(path)
    for signature in _names(path):
        results = {way: chosen(way, path, signature) for way in WAYS}
        expected = ways.choose(m, signature).as_data()
        # hub_layer prefers __call__ when no signature is named, as tensorflow_hub.KerasLayer does: the
        # same rule with an explicit preference (it differs only where a module has "default" and __call__).
        layer_expected = ways.choose(m, signature, prefer=ways.CALL).as_data()
        for way, (data, _) in results.items():
            assert data == (layer_expected if way == "hub_layer" else expected), (shape, signature, way)
        outputs = {way: out for way, (data, out) in results.items() if out is not None and data == expected}
        first = outputs.pop("module_apply", None)
        for way, out in outputs.items() if first is not None else ():  # the same function gives the same numbers
            assert set(out) == set(first), (shape, signature, way)
            for key in first:
                np.testing.assert_allclose(out[key], first[key], rtol=1e-5, atol=1e-6, err_msg=f"{shape} {way}")


def test_training_picks_call_for_every_way_that_trains(fruit_dir):
    # Signatures are traced for inference: with training=True and no signature named, __call__ runs.
    assert chosen("module_apply", fruit_dir, training=True)[0]["name"] == "__call__"
    assert chosen("r_helper", fruit_dir, training=True)[0]["name"] == "__call__"
    assert chosen("module_apply", fruit_dir)[0]["name"] == "default"


def test_r_helper_gives_plain_data(text_embedding_dir):
    data = hubfn_r_helpers.runner(hubfn.hub_load(text_embedding_dir))[0]
    assert data == {"name": "__call__", "kind": "function",
                    "inputs": [{"name": "sentences", "dtype": "string", "shape": [None], "kind": "dense"}],
                    "structure": "tensor", "takes_training": False, "returns_dict": False,
                    "outputs": [{"name": "default", "dtype": "float32", "shape": [None, shapes.DIM],
                                 "kind": "dense"}]}


# --- the rule's parts ------------------------------------------------------------------------------------
def test_choice_is_read_from_saved_model_pb_as_the_loaded_object_shows_it(module_path):
    for shape in ("text_embedding", "bert_preprocessor", "image_feature_vector", "mixed", "hparams"):
        m = hubfn.hub_load(module_path(shape))
        for f in m.functions:
            assert ways.loaded_entry(m.obj, f.name) == f, (shape, f.name)
        # has_call comes from the file too; the loaded object agrees.
        obj = m.obj
        assert m.has_call == ("__call__" in type(obj).__dict__ or "__call__" in obj.__dict__)


def test_a_call_without_saved_specs_is_read_from_the_loaded_object_only(bare_call_dir):
    from hubfn.savedmodel.signatures import read_saved_model

    info = read_saved_model(bare_call_dir)
    assert info.variant(None).call_without_specs and info.variant(None).functions == ()
    unloaded = ways.choose(info)  # no object to read: the way is known, its specs are not
    assert unloaded.name == "__call__" and unloaded.inputs is None and unloaded.structure == "unknown"
    loads = []
    way = ways.choose(info, load=lambda: loads.append(1) or hubfn.hub_load(bare_call_dir).obj)
    assert loads == [1] and way.from_loaded
    assert [(t.name, t.dtype, t.shape) for t in way.inputs] == [("x", "float32", (None, 2))]
    m = hubfn.hub_load(bare_call_dir)
    x = np.array([[1.0, 2.0]], np.float32)
    np.testing.assert_allclose(m(x).numpy(), x @ m.obj.w.numpy(), rtol=1e-6)
    with pytest.raises(errors.InputError, match="expects float32"):  # its specs are checked, as any way's
        m(np.array([["a", "b"]]))


def test_prefer_is_only_a_preference(fruit_dir, tf1_dir):
    fruit, tf1 = hubfn.hub_load(fruit_dir), hubfn.hub_load(tf1_dir)
    assert ways.choose(fruit).name == "default" and ways.choose(fruit, prefer="__call__").name == "__call__"
    assert ways.choose(fruit, "fruit_to_pet", prefer="__call__").name == "fruit_to_pet"  # a named one wins
    assert ways.choose(tf1, prefer="__call__").name == "default"  # a TF1 module has no __call__


def test_unknown_names_and_no_default_are_signature_errors(fruit_dir, tmp_path):
    with pytest.raises(errors.SignatureError, match="no signature 'pets'; it has: default, fruit_to_pet"):
        ways.choose(hubfn.hub_load(fruit_dir), "pets")

    class Two(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.float32)])
        def a(self, x):
            return {"y": x}

    two = Two()
    tf.saved_model.save(two, str(tmp_path / "two"), signatures={"a": two.a, "b": two.a})
    with pytest.raises(errors.SignatureError, match='no "default" signature and no __call__'):
        ways.choose(hubfn.hub_load(tmp_path / "two"))


# --- R: the R package asks hubfn_r_helpers once per (signature, training) and keeps the answer ----------
# One Rscript run for every shape: the R package (installed from r-bindings/ into a temporary library)
# loads each module, takes its kept plan for each signature (what R's conversions follow) and, for dense
# inputs, runs the module on the example inputs as R arrays (read from .npz: R's own conversions from R
# values), writing R's outputs back. R's plan is written as plain data, in the form Way.as_data() has.
_R_SCRIPT = r"""
args <- commandArgs(TRUE)
library(hubfn, lib.loc = args[[1]])
cases <- jsonlite::fromJSON(args[[2]], simplifyVector = FALSE)
np <- reticulate::import("numpy", convert = FALSE)
plain <- function(shape) if (!is.null(shape)) lapply(shape, function(d) if (is.null(d)) NA else d)  # NA -> null, [] a list
tensor <- function(t) { t$shape <- plain(t$shape); t }
out <- lapply(cases, function(case) tryCatch({
  m <- hub_load(case$path)
  p <- hubfn:::.plan(attr(m, "py_module"), attr(m, "plans"), case$signature, FALSE)
  inputs <- if (!is.null(p$way$inputs)) lapply(p$way$inputs, tensor)
  if (!is.null(case$inputs)) {
    z <- np$load(case$inputs)
    files <- reticulate::py_to_r(z$files)
    values <- lapply(files, function(f) reticulate::py_to_r(reticulate::py_get_item(z, f)))
    x <- switch(case$mode, one = values[[1]], dict = stats::setNames(values, files), list = values)
    y <- Filter(is.atomic, m(x, signature = case$signature, as_dict = TRUE))
    do.call(np$savez, c(list(case$outputs), y))
  }
  list(name = p$way$name, kind = p$way$kind, inputs = inputs, structure = p$way$structure,
       takes_training = p$way$takes_training, returns_dict = p$way$returns_dict,
       outputs = lapply(p$way$outputs, tensor))
}, error = function(e) list(error = conditionMessage(e))))
writeLines(jsonlite::toJSON(out, auto_unbox = TRUE, null = "null", na = "null", digits = NA), args[[3]])
"""


def r_python():
    """The Python R runs with: RETICULATE_PYTHON (scripts/env.sh: .venv-r, on NumPy < 2 as reticulate 1.28
    needs), else the repository's .venv-r, else this Python."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    venv_r = os.path.join(root, ".venv-r", "bin", "python")
    return os.environ.get("RETICULATE_PYTHON") or (venv_r if os.path.exists(venv_r) else sys.executable)


def _r_ready():
    import shutil
    import subprocess

    if shutil.which("Rscript") is None or shutil.which("R") is None:
        return False
    probe = subprocess.run(["Rscript", "-e", "quit(status = !all(sapply(c('reticulate', 'jsonlite'), requireNamespace)))"],
                           capture_output=True)
    return probe.returncode == 0


@pytest.fixture(scope="module")
def r_choices(module_path, tmp_path_factory):
    """{(shape, signature): (R's plan as plain data, R's outputs on the example inputs or None)}."""
    import json
    import subprocess

    if not _r_ready():
        pytest.skip("R with reticulate and jsonlite is not installed (bash scripts/setup.sh --r)")
    work = tmp_path_factory.mktemp("r_ways")
    lib = work / "lib"
    lib.mkdir()
    here = os.path.dirname(__file__)
    subprocess.run(["R", "CMD", "INSTALL", "--no-test-load", "-l", str(lib), os.path.join(here, "..", "r-bindings")],
                   check=True, capture_output=True)
    cases, keys = [], []
    for shape in SHAPES:
        path = module_path(shape)
        for signature in _names(path):
            way = ways.choose(hubfn.hub_load(path), signature)
            case = {"path": path, "signature": signature, "inputs": None}
            if way.inputs is not None and all(t.kind == "dense" for t in way.inputs):
                x = example_inputs(way)
                n = len(cases)
                case.update(inputs=str(work / f"in{n}.npz"), outputs=str(work / f"out{n}.npz"),
                            mode="list" if isinstance(x, list) else "dict" if isinstance(x, dict) else "one")
                arrays = x if isinstance(x, dict) else dict(enumerate(x)) if isinstance(x, list) else {"x": x}
                # strings as NumPy str arrays (R character), in the order the inputs are listed
                np.savez(case["inputs"], **{f"{k}" if isinstance(x, dict) else f"arr_{k}":
                                            (np.asarray(v, str) if np.asarray(v).dtype == object else v)
                                            for k, v in arrays.items()})
            cases.append(case)
            keys.append((shape, signature))
    (work / "cases.json").write_text(json.dumps(cases))
    env = dict(os.environ, RETICULATE_PYTHON=r_python(), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TFHUB_CACHE_DIR", None)
    ran = subprocess.run(["Rscript", "-e", _R_SCRIPT, str(lib), str(work / "cases.json"), str(work / "r.json")],
                         env=env, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr[-3000:]
    got = json.loads((work / "r.json").read_text())
    out = {}
    for key, case, data in zip(keys, cases, got):
        outputs = None
        if case["inputs"] is not None and "error" not in data:
            with np.load(case["outputs"]) as z:
                outputs = {k: z[k] for k in z.files}
        out[key] = (data, outputs, case)
    return out


@pytest.mark.parametrize("shape", SHAPES)
def test_r_chooses_what_python_chooses_and_gets_the_same_outputs(shape, module_path, r_choices):
    path = module_path(shape)
    m = hubfn.hub_load(path)
    for signature in _names(path):
        data, r_out, case = r_choices[(shape, signature)]
        assert "error" not in data, (shape, signature, data)
        expected = ways.choose(m, signature)
        assert data == expected.as_data(), (shape, signature)
        if r_out is None:  # ragged or sparse inputs (R passes those as tensors), or specs not saved
            continue
        with np.load(case["inputs"]) as z:
            values = [z[k] for k in z.files]
        x = (values if case["mode"] == "list" else dict(zip(z.files, values)) if case["mode"] == "dict"
             else values[0])
        py_out = _numpy(hubfn.module_apply(m, x, signature=signature, as_dict=True)) or {}
        for key, want in py_out.items():  # the same function on the same values from R gives the same numbers
            assert key in r_out, (shape, signature, key)
            got = r_out[key]
            if want.dtype.kind in "OSU":
                np.testing.assert_array_equal(got.astype(str), want.astype(str), err_msg=f"{shape} {key}")
            else:
                np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-5, atol=1e-6,
                                           err_msg=f"{shape} {signature} {key}")
