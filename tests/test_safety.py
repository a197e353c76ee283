"""Modules are untrusted code: hubfn refuses a module whose ops reach outside it, before anything runs.

Each malicious module of tests/unsafe_modules.py (call time, load time, a secret read, nested calls, a
while loop in a cond, a sub-object, tf.print to a file, summaries, directory listing, TF1 graphs) is
refused by a default hub_load with no side effect, flagged by `hubfn scan`, and does what it was built to
do with safe_mode=False (so the refusal is not a false alarm). Real module shapes scan clean.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import unsafe_modules

import hubfn
from hubfn import errors
from hubfn.cli import main
from hubfn.safety import guard
from hubfn.savedmodel.signatures import parse_saved_model
from hubfn.safety.scan import scan

# How to run each module after loading it unsafely; None: loading alone does it.
CALLS = {
    "call_write": lambda m: m(np.array([1.0, 2.0], np.float32)),
    "load_write": None,
    "read_secret": lambda m: m(np.float32(1.0)),
    "nested_write": lambda m: m(np.array([1.0], np.float32)),
    "loop_write": lambda m: m(np.float32(1.0)),
    "sub_object_write": lambda m: m(["a b"], signature="tokenize"),
    "print_to_file": lambda m: m(np.array([1.0], np.float32)),
    "summary_write": lambda m: m(np.array([1.0], np.float32)),
    "list_files": lambda m: m(np.float32(1.0)),
    "tf1_write": lambda m: m(np.ones((1, 3), np.float32)),
    "tf1_load_write": None,
}
EXPECTED_OP = {"call_write": "WriteFile", "load_write": "WriteFile", "read_secret": "ReadFile",
               "nested_write": "WriteFile", "loop_write": "WriteFile", "sub_object_write": "WriteFile",
               "print_to_file": "PrintV2", "summary_write": "CreateSummaryFileWriter", "list_files": "MatchingFiles",
               "tf1_write": "WriteFile", "tf1_load_write": "WriteFile"}
SECRET = "the contents of a private file"


@pytest.fixture(scope="session")
def unsafe(tmp_path_factory):
    """{name: (module dir, target path)}; every target removed (or, for reads, holding SECRET) after building."""
    base = tmp_path_factory.mktemp("unsafe")
    built = {}
    for name, (build, _) in unsafe_modules.BUILDERS.items():
        target = str(base / "targets" / name / "target")
        os.makedirs(os.path.dirname(target))
        built[name] = (build(str(base / name), target), target)
    _reset_targets(built)
    return built


def _reset_targets(built):
    for name, (_, target) in built.items():
        shutil.rmtree(os.path.dirname(target))
        os.makedirs(os.path.dirname(target))
        if unsafe_modules.BUILDERS[name][1] == "read":
            with open(target, "w") as f:
                f.write(SECRET)


def _side_effect(name, target, outputs=None):
    """Whether the module did what it was built to do: wrote `target`, or returned what is in its folder."""
    if unsafe_modules.BUILDERS[name][1] == "write":
        return os.path.exists(target)
    text = json.dumps(np.asarray(outputs).astype(str).tolist()) if outputs is not None else ""
    return SECRET in text or os.path.basename(target) in text


@pytest.mark.parametrize("name", sorted(unsafe_modules.BUILDERS))
def test_refused_by_default_without_side_effect(unsafe, name):
    path, target = unsafe[name]
    with pytest.raises(errors.UnsafeModuleError) as raised:
        hubfn.hub_load(path)
    e = raised.value
    message = str(e)
    assert repr(path) in message and e.handle == path
    assert EXPECTED_OP[name] in message and EXPECTED_OP[name] in {f.op for f in e.findings}
    assert "safe_mode=False" in message and "allow_ops=" in message
    if name in ("load_write", "tf1_load_write"):
        assert "while the module loads" in message
    if name == "sub_object_write":
        assert "tokenize" in message
    assert not os.path.exists(target) or unsafe_modules.BUILDERS[name][1] == "read"
    assert isinstance(e, errors.HubError) and isinstance(e, PermissionError)


@pytest.mark.parametrize("name", sorted(unsafe_modules.BUILDERS))
def test_loaded_and_run_with_safe_mode_off(unsafe, name):
    path, target = unsafe[name]
    _reset_targets({name: unsafe[name]})
    m = hubfn.hub_load(path, safe_mode=False)
    outputs = CALLS[name](m) if CALLS[name] else None
    assert _side_effect(name, target, outputs), f"{name} did not do what it was built to do"
    _reset_targets({name: unsafe[name]})


def test_hubfn_scan_flags_each_module_and_says_where(unsafe, capsys):
    paths = [unsafe[name][0] for name in sorted(unsafe)]
    assert main(["scan", "--json", *paths]) == 1
    reports = json.loads(capsys.readouterr().out)
    assert [r["handle"] for r in reports] == paths
    for name, report in zip(sorted(unsafe), reports):
        ops = {f["op"] for f in report["findings"]}
        assert EXPECTED_OP[name] in ops, (name, ops)
        for f in report["findings"]:
            assert f["reached_from"] and f["why"] and f["category"]
    by_name = dict(zip(sorted(unsafe), reports))
    assert any(f["at_load"] for f in by_name["load_write"]["findings"])
    assert not any(f["at_load"] for f in by_name["call_write"]["findings"])
    assert by_name["loop_write"]["findings"][0]["function"].startswith("cond")  # the while body in the cond

    assert main(["scan", unsafe["call_write"][0]]) == 1
    text = capsys.readouterr().out
    assert "WriteFile [file write] in __call__" in text


def test_allow_ops_and_the_environment(unsafe, monkeypatch):
    path, target = unsafe["call_write"]
    with pytest.raises(errors.UnsafeModuleError):
        hubfn.hub_load(path, allow_ops=["ReadFile"])  # not the op it holds
    hubfn.hub_load(path, allow_ops=["WriteFile"])
    monkeypatch.setenv("HUBFN_ALLOW_OPS", "WriteFile, ReadFile")
    hubfn.hub_load(path)
    hubfn.hub_load(unsafe["read_secret"][0])
    monkeypatch.delenv("HUBFN_ALLOW_OPS")
    monkeypatch.setenv("HUBFN_SAFE_MODE", "0")
    hubfn.hub_load(path)
    hubfn.hub_load(path, safe_mode=True, allow_ops="WriteFile")  # a call's own value wins
    with pytest.raises(errors.UnsafeModuleError):
        hubfn.hub_load(path, safe_mode=True)
    with pytest.raises(errors.HandleError, match="op type names"):
        hubfn.hub_load(path, allow_ops=["Write File"])


def test_the_refusal_is_kept_and_not_parsed_again(unsafe, monkeypatch):
    path, _ = unsafe["nested_write"]
    with pytest.raises(errors.UnsafeModuleError):
        hubfn.hub_load(path)

    def no_parse(*a, **k):
        raise AssertionError("saved_model.pb parsed again")

    monkeypatch.setattr(guard, "parse_saved_model", no_parse)
    monkeypatch.setattr("hubfn.savedmodel.signatures.parse_saved_model", no_parse)
    with pytest.raises(errors.UnsafeModuleError, match="WriteFile"):
        hubfn.hub_load(path)


def test_a_cached_download_keeps_its_scan_beside_the_entry(unsafe, tmp_path, monkeypatch):
    from hubfn.publish.serve import serve_modules

    root = tmp_path / "hub"
    shutil.copytree(unsafe["call_write"][0], root / "evil" / "1")
    cache = tmp_path / "cache"
    with serve_modules(str(root), host="127.0.0.1") as server:
        url = server.url + "evil/1"
        with pytest.raises(errors.UnsafeModuleError):
            hubfn.hub_load(url, cache_dir=cache)
    records = list(cache.glob("*.hubfn-scan.json"))
    assert len(records) == 1 and "WriteFile" in records[0].read_text()
    assert not any(p.name.endswith("scan.json") for p in cache.rglob("*") if p.parent != cache)  # not in the module
    # A new process would start with nothing in memory: the record alone refuses, without a parse.
    monkeypatch.setattr(guard, "_memo", {})
    monkeypatch.setattr(guard, "parse_saved_model", lambda *a: pytest.fail("parsed again"))
    with pytest.raises(errors.UnsafeModuleError, match="WriteFile"):
        hubfn.hub_load(url, cache_dir=cache, offline=True)
    assert hubfn.cache_remove(url, cache_dir=cache) and not list(cache.glob("*.hubfn-scan.json"))


def test_a_stale_or_damaged_record_is_scanned_again(unsafe, tmp_path):
    path = shutil.copytree(unsafe["read_secret"][0], tmp_path / "0123456789abcdef0123456789abcdef01234567")
    (tmp_path / (path.name + ".descriptor.txt")).write_text("Module: x\n")
    record = tmp_path / (path.name + ".hubfn-scan.json")
    record.write_text("{not json")
    found, _ = guard.findings_of(str(path))
    assert {f.op for f in found} == {"ReadFile"} and json.loads(record.read_text())["findings"]
    record.write_text(json.dumps({"stamp": ["other"], "findings": []}))
    guard._memo.clear()
    assert {f.op for f in guard.findings_of(str(path))[0]} == {"ReadFile"}


# --- what is allowed: a module's own assets and the loader's checkpoint ----------------------------------
def _asset_module(path, vocab):
    """A TF2 module reading its own assets: a vocabulary table and tf.io.read_file of an Asset, plus a
    tf.print to stderr; none of it reaches outside the module."""
    import tensorflow as tf

    class M(tf.Module):
        def __init__(self):
            super().__init__()
            self.asset = tf.saved_model.Asset(vocab)
            init = tf.lookup.TextFileInitializer(self.asset, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                                 tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
            self.table = tf.lookup.StaticHashTable(init, -1)

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def __call__(self, x):
            tf.print("looking up", x)
            return {"ids": self.table.lookup(x), "vocab": tf.io.read_file(self.asset)}

    tf.saved_model.save(M(), str(path))
    return str(path)


def test_reads_of_the_modules_own_assets_are_allowed(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a\nb\nc\n")
    path = _asset_module(tmp_path / "m", str(vocab))
    vocab.unlink()  # the module reads its own copy
    out = hubfn.hub_load(path)(["b", "z"], as_dict=True)
    assert out["ids"].numpy().tolist() == [1, -1] and out["vocab"].numpy() == b"a\nb\nc\n"
    assert scan(parse_saved_model(path), path) == ()


def test_an_asset_that_leaves_the_module_is_a_finding(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a\nb\n")
    secret = tmp_path / "secret.txt"
    secret.write_text("a\nSECRET\n")
    # The asset file replaced by a link to a file outside the module.
    linked = _asset_module(tmp_path / "linked", str(vocab))
    os.remove(os.path.join(linked, "assets", "vocab.txt"))
    os.symlink(secret, os.path.join(linked, "assets", "vocab.txt"))
    with pytest.raises(errors.UnsafeModuleError, match="outside the module"):
        hubfn.hub_load(linked)
    # The asset's file name edited to climb out of assets/.
    climbing = shutil.copytree(linked, tmp_path / "climbing", symlinks=True)
    os.remove(climbing / "assets" / "vocab.txt")
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((climbing / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].asset_file_def[0].filename = "../../secret.txt"
    (climbing / "saved_model.pb").write_bytes(proto.SerializeToString())
    found = scan(proto, str(climbing))
    assert [f.op for f in found] == ["Asset"] and "../../secret.txt" in found[0].why


def test_a_restore_of_another_checkpoint_is_a_finding(tmp_path):
    import tensorflow as tf

    class M(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([], tf.float32)])
        def __call__(self, x):
            return tf.raw_ops.RestoreV2(prefix=str(tmp_path / "other" / "ckpt"), tensor_names=["w"],
                                        shape_and_slices=[""], dtypes=[tf.float32])[0] + x

    path = str(tmp_path / "m")
    tf.saved_model.save(M(), path)
    found = scan(parse_saved_model(path), path)
    assert [(f.op, f.category) for f in found] == [("RestoreV2", "checkpoint")]


# --- no false alarms on real module shapes ---------------------------------------------------------------
CLEAN_SHAPES = ("text_embedding", "text_embedding_serving", "image_feature_vector", "image_keras_hubfn",
                "image_keras_export", "bert_encoder", "bert_encoder_keras", "bert_preprocessor", "tf1_text",
                "tf1_image", "tf1_sparse", "ragged", "mixed", "bare_call")


def test_every_module_shape_of_the_suite_scans_clean(shape_dir, fruit_dir, tf1_dir, hparams_dir, capsys):
    paths = [shape_dir(name) for name in CLEAN_SHAPES] + [str(fruit_dir), str(tf1_dir), str(hparams_dir)]
    assert main(["scan", *paths]) == 0
    out = capsys.readouterr().out
    assert out.count("no op reaches outside the module") == len(paths)


def test_tf_keras_saved_models_scan_clean_and_load(tmp_path):
    # tf_keras's own SavedModel format (Keras metadata, traced call functions and a vocabulary in
    # TextVectorization), as older TF Hub and Kaggle models were saved.
    import tensorflow as tf
    import tf_keras

    vectorize = tf_keras.layers.TextVectorization(max_tokens=20, output_sequence_length=4)
    vectorize.adapt(tf.constant(["the cat sat", "the dog ran far"]))
    text = tf_keras.Input(shape=(), dtype=tf.string)
    ids = vectorize(text)
    out = tf_keras.layers.Dense(2)(tf_keras.layers.Embedding(20, 3)(ids))
    model = tf_keras.Model(text, out)
    path = str(tmp_path / "tf_keras")
    model.save(path, save_format="tf")
    assert scan(parse_saved_model(path), path) == ()
    m = hubfn.hub_load(path)
    assert m is not None


def test_scan_cost_is_a_small_share_of_a_cold_load(shape_dir):
    # The largest module of the suite; the scan reads the proto the load parses anyway.
    path = max((shape_dir(n) for n in CLEAN_SHAPES), key=lambda p: os.path.getsize(os.path.join(p, "saved_model.pb")))
    proto = parse_saved_model(path)
    times = []
    for _ in range(5):  # the best of five: the scan's own cost, not the machine's other work
        t0 = time.perf_counter()
        scan(proto, path)
        times.append(time.perf_counter() - t0)
    scan_s = min(times)
    code = ("import time, tensorflow as tf; t = time.perf_counter(); tf.saved_model.load(%r); "
            "print(time.perf_counter() - t)" % path)
    load_s = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                  timeout=300).stdout.split()[-1])
    print(f"\nscan of {os.path.basename(path)} ({os.path.getsize(os.path.join(path, 'saved_model.pb'))} bytes of "
          f"saved_model.pb): {scan_s * 1000:.1f} ms; cold tf.saved_model.load: {load_s * 1000:.0f} ms "
          f"({scan_s / load_s:.1%})")
    assert scan_s < 0.1 * load_s


# --- every front door -----------------------------------------------------------------------------------
def test_hub_layer_and_hub_module_refuse_and_allow(unsafe):
    path, target = unsafe["call_write"]
    with pytest.raises(errors.UnsafeModuleError):
        hubfn.hub_layer(path)
    with pytest.raises(errors.UnsafeModuleError):
        hubfn.hub_module(path, trainable=True)
    layer = hubfn.hub_layer(path, allow_ops=["WriteFile"])
    assert "safe_mode" not in layer.get_config() and "allow_ops" not in layer.get_config()
    assert not os.path.exists(target)


def test_hubfn_info_shows_the_findings_without_loading(unsafe, fruit_dir, capsys):
    path, target = unsafe["load_write"]
    assert main(["info", path]) == 1
    captured = capsys.readouterr()
    assert "__call__(" in captured.out and "safety:    1 op(s) reaching outside the module" in captured.out
    assert "WriteFile in load: table._initialize" in captured.out and "UnsafeModuleError" not in captured.err
    assert "was not loaded" in captured.err and not os.path.exists(target)
    assert main(["info", str(fruit_dir)]) == 0
    assert "safety:    no op reaches outside the module" in capsys.readouterr().out


def test_the_served_page_shows_findings_and_refuse_unsafe_keeps_them_unpublished(unsafe, fruit_dir, tmp_path):
    import requests

    from hubfn.publish.serve import serve_modules

    root = tmp_path / "hub"
    shutil.copytree(unsafe["read_secret"][0], root / "acme" / "evil" / "1")
    shutil.copytree(fruit_dir, root / "acme" / "fruit" / "1")
    with serve_modules(str(root)) as server:
        page = requests.get(server.url + "acme/evil/1", timeout=30)
        assert page.status_code == 200 and 'class="safety-unsafe"' in page.text and "ReadFile" in page.text
        facts = requests.get(server.url + "acme/evil/1", headers={"Accept": "application/json"}, timeout=30).json()
        assert [f["op"] for f in facts["safety"]] == ["ReadFile"]
        clean = requests.get(server.url + "acme/fruit/1", timeout=30)
        assert 'class="safety-ok"' in clean.text
    with serve_modules(str(root), refuse_unsafe=True) as server:
        for url in ("acme/evil/1", "acme/evil/1?tf-hub-format=compressed"):
            refused = requests.get(server.url + url, timeout=30)
            assert refused.status_code == 403 and "ReadFile" in refused.text
        assert requests.get(server.url + "acme/fruit/1?tf-hub-format=compressed", timeout=30).status_code == 200


def test_hubfn_serve_refuse_unsafe_on_the_command_line(unsafe, tmp_path):
    import requests

    root = tmp_path / "hub"
    shutil.copytree(unsafe["call_write"][0], root / "evil")
    proc = subprocess.Popen([sys.executable, "-m", "hubfn", "serve", str(root), "--port", "0", "--refuse-unsafe"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = proc.stdout.readline()
        assert "refusing unsafe modules" in line
        url = line.split(" at ")[1].split()[0]
        assert requests.get(url + "evil?tf-hub-format=compressed", timeout=60).status_code == 403
    finally:
        proc.terminate()
        proc.wait(10)
