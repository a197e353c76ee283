"""TensorFlow's CUDA probing lines are dropped on a machine without a GPU, and nothing else is
(hubfn/util/tfimport.py). Real processes throughout: three import the real TensorFlow (about 4 s each);
the failure paths (an import that raises, one that crashes) use a stand-in `tensorflow` package, because
the real one cannot be made to fail on purpose, and they are about the forwarder, not about TensorFlow."""

import ast
import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from hubfn.util import tfimport

HUBFN = os.path.join(os.path.dirname(__file__), "..", "hubfn")

# Words of the probing lines; none of them may be left once they are dropped. (Not the absl banner: it
# stays when a line other than a probe follows it, as TensorFlow's oneDNN notice does.)
PROBE_WORDS = re.compile(r"cuda|cuInit|cuDNN|cuBLAS|cuFFT", re.IGNORECASE)

no_gpu = pytest.mark.skipif(tfimport._gpu_present(), reason="a GPU is present here: hubfn drops nothing")


def _run(args, env=None, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=180,
                          env={**os.environ, **(env or {})}, **kw)


def _python(code, env=None):
    return _run([sys.executable, "-c", textwrap.dedent(code)], env)


# What TensorFlow 2.21 printed on this CPU-only machine (the timestamps and thread ids are its own).
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
STUB = ("I0000 00:00:1796286640.126137    8959 cudart_stub.cc:31] Could not find cuda drivers on your "
        "machine, GPU will not be used.")
CUINIT = ("E0000 00:00:1796286643.574451    8959 cuda_platform.cc:52] failed call to cuInit: INTERNAL: CUDA "
          "error: Failed call to cuInit: UNKNOWN ERROR (303)")
ONEDNN = ("I0000 00:00:1796287038.215331   11116 port.cc:153] oneDNN custom operations are on. You may see "
          "slightly different numerical results due to floating-point round-off errors.")


def test_the_filter_drops_the_probe_lines_and_only_them():
    keep = [
        ONEDNN,
        # Same files, other messages: a GPU failing for a real reason must be seen.
        "E0000 00:00:1796286643.574451    8959 cuda_platform.cc:60] could not open file to read NUMA node",
        "E0000 00:00:1796286643.574451    8959 cuda_dnn.cc:535] Could not create cudnn handle: CUDNN_STATUS_INTERNAL_ERROR",
        # The probe's message from another file, or not in a log line at all.
        "E0000 00:00:1796286643.574451    8959 my_op.cc:12] failed call to cuInit: the user's own op says so",
        "RuntimeError: failed call to cuInit: something in Python",
        "Could not find cuda drivers on your machine, GPU will not be used.",
    ]
    drop = [
        STUB, CUINIT,
        # TensorFlow 2.16's format and files.
        "2024-03-10 14:23:11.123456: I external/local_tsl/tsl/cuda/cudart_stub.cc:32] Could not find cuda "
        "drivers on your machine, GPU will not be used.",
        "2024-03-10 14:23:12.5: E external/local_xla/xla/stream_executor/cuda/cuda_dnn.cc:9261] Unable to "
        "register cuDNN factory: Attempting to register factory for plugin cuDNN when one has already been "
        "registered",
    ]
    assert [line for line in keep + drop if tfimport.is_probe_line(line.encode())] == drop

    f = tfimport.ProbeFilter()
    text = [BANNER, STUB, BANNER, ONEDNN, STUB, CUINIT, "Traceback (most recent call last):", BANNER]
    out = b"".join(f.feed(line.encode() + b"\n") for line in text) + f.finish()
    # The first banner goes with its probe line; the second stays, since the oneDNN line follows it.
    assert out.decode().splitlines() == [BANNER, ONEDNN, "Traceback (most recent call last):", BANNER]
    assert [b.decode().rstrip("\n") for b in f.dropped] == [BANNER, STUB, STUB, CUINIT]


@no_gpu
def test_hubfn_info_prints_no_probe_lines_and_all_of_tensorflows_others(fruit_dir):
    # TF_CPP_MIN_LOG_LEVEL=0 and oneDNN on: TensorFlow also prints lines of its own during the import
    # (its oneDNN and CPU-feature notices); they must come through.
    env = {"TF_CPP_MIN_LOG_LEVEL": "0", "TF_ENABLE_ONEDNN_OPTS": "1"}
    proc = _run([sys.executable, "-m", "hubfn", "info", str(fruit_dir)], env)
    assert proc.returncode == 0, proc.stderr
    assert "format:    tf2" in proc.stdout and "fruit_to_pet(apples: float32[?]" in proc.stdout
    assert not PROBE_WORDS.search(proc.stdout + proc.stderr), proc.stderr
    assert "port.cc:" in proc.stderr and "oneDNN custom operations are on" in proc.stderr
    assert "cpu_feature_guard.cc:" in proc.stderr


@no_gpu
def test_without_hubfn_the_same_tensorflow_prints_them():
    # The check above can fail: with the filter switched off, this machine's TensorFlow does print them.
    proc = _python("""
        from hubfn.util.tfimport import import_tensorflow
        import_tensorflow().config.list_physical_devices()  # the two steps hubfn takes when filtering
    """, {"HUBFN_QUIET_TF": "0"})
    assert proc.returncode == 0, proc.stderr
    assert "cudart_stub.cc" in proc.stderr and "failed call to cuInit" in proc.stderr


@no_gpu
def test_tensorflow_errors_after_the_import_and_hubfn_errors_are_shown(fruit_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(fruit_dir, broken)
    (broken / "variables" / "variables.index").write_bytes(b"not a checkpoint index")
    proc = _python(f"""
        import hubfn
        m = hubfn.hub_load({str(fruit_dir)!r})
        print("applied", m([[1.0, 2.0]]).numpy().tolist(), flush=True)
        import tensorflow as tf
        try:
            tf.raw_ops.BatchMatrixDiag(diagonal=[[1.0]])  # an op TensorFlow's C++ refuses, and logs
        except tf.errors.UnimplementedError:
            print("refused", flush=True)
        hubfn.hub_load({str(broken)!r})
    """, {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert "applied [[7.5, 9.5]]" in proc.stdout and "refused" in proc.stdout, proc.stderr
    # TensorFlow's own warning, from C++ to fd 2 ...
    assert re.search(r"^W\d{4} .*op_kernel\.cc:\d+\] .*Op BatchMatrixDiag is not available", proc.stderr, re.M)
    # ... and hubfn's error for the module that does not load.
    assert proc.returncode == 1
    assert "hubfn.errors.CorruptModuleError: Module at" in proc.stderr and "could not be loaded" in proc.stderr
    assert not PROBE_WORDS.search(proc.stdout + proc.stderr), proc.stderr


# --- failure paths, with a stand-in tensorflow ---------------------------------------------------------
def _stand_in(tmp_path, body):
    """A `tensorflow` package in tmp_path that prints TensorFlow's probe lines and a line of its own to
    fd 2 (as TensorFlow's C++ does, past Python's sys.stderr), then runs `body`."""
    pkg = tmp_path / "tensorflow"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(textwrap.dedent(f"""
        import os, types
        os.write(2, {(BANNER + chr(10) + STUB + chr(10)).encode()!r})
        os.write(2, b"E0000 00:00:1.0   1 loader.cc:7] a real error of the stand-in\\n")
        config = types.SimpleNamespace(list_physical_devices=lambda: os.write(2, {(CUINIT + chr(10)).encode()!r}))
    """) + textwrap.dedent(body))
    return {"PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}


IMPORT = """
    import sys
    from hubfn.util.tfimport import import_tensorflow
    import_tensorflow()
    print("imported", flush=True)
"""


@no_gpu
def test_an_import_that_raises_shows_everything(tmp_path):
    env = _stand_in(tmp_path, 'raise ImportError("the stand-in is broken")\n')
    proc = _python(IMPORT, env)
    assert proc.returncode == 1 and "imported" not in proc.stdout
    assert "a real error of the stand-in" in proc.stderr
    assert "ImportError: the stand-in is broken" in proc.stderr
    assert STUB in proc.stderr  # held back while the import ran, printed since it failed


@no_gpu
def test_an_import_that_crashes_shows_its_last_words(tmp_path):
    # The process dies in the middle of its import: the forwarder, a process of its own, still prints
    # what was written before the crash.
    env = _stand_in(tmp_path, 'os.write(2, b"F0000 00:00:1.0   1 loader.cc:9] the last words\\n")\nos.abort()\n')
    proc = _python(IMPORT, env)
    assert proc.returncode == -6, proc.stderr
    assert "a real error of the stand-in" in proc.stderr and "the last words" in proc.stderr


@no_gpu
def test_threads_share_one_import_and_keep_their_lines(tmp_path):
    # While one thread imports, others wait for the same import; a line another thread prints meanwhile
    # comes through; the probe lines do not.
    env = _stand_in(tmp_path, "import time\ntime.sleep(0.5)\n")
    proc = _python("""
        import sys, threading, time
        from hubfn.util.tfimport import import_tensorflow
        got = []
        threads = [threading.Thread(target=lambda: got.append(import_tensorflow())) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        print("another thread's line", file=sys.stderr, flush=True)
        for t in threads:
            t.join()
        print(len(got), len({id(m) for m in got}), flush=True)
    """, env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["4", "1"]
    assert proc.stderr.count("another thread's line") == 1 and "a real error of the stand-in" in proc.stderr
    assert not PROBE_WORDS.search(proc.stderr), proc.stderr


# --- the rule, in the source ---------------------------------------------------------------------------
# inputs.py's TensorFlow import runs only with a parsed signature in hand, after parse_saved_model has
# imported TensorFlow through tfimport.
EXEMPT = {"inputs.py"}


def _is_tf_import(node):
    names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
    return any(n.split(".")[0] in ("tensorflow", "keras") for n in names) and not getattr(node, "level", 0)


def _is_route_call(node):
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id in ("import_tensorflow", "import_keras"))


def _unrouted_imports(tree):
    """Line numbers of tensorflow/keras imports not preceded, in their function (or at the top level),
    by a call to import_tensorflow() or import_keras()."""
    bad = []

    def visit(scope):
        own, stack = [], list(ast.iter_child_nodes(scope))
        while stack:  # the nodes of this scope; a function nested in it is a scope of its own
            node = stack.pop()
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                visit(node)
                continue
            own.append(node)
            stack.extend(ast.iter_child_nodes(node))
        routed = [n.lineno for n in own if _is_route_call(n)]
        bad.extend(n.lineno for n in own if isinstance(n, (ast.Import, ast.ImportFrom)) and _is_tf_import(n)
                   and not any(line < n.lineno for line in routed))

    visit(tree)
    return sorted(bad)


def test_every_tensorflow_import_in_hubfn_goes_through_tfimport():
    found = {}
    for dirpath, _, files in os.walk(HUBFN):
        for name in files:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, HUBFN)
            if name.endswith(".py") and rel not in EXEMPT and rel != os.path.join("util", "tfimport.py"):
                bad = _unrouted_imports(ast.parse(open(path).read()))
                if bad:
                    found[rel] = bad
    assert not found, f"import TensorFlow/Keras through hubfn.util.tfimport (see there why): {found}"


def test_the_rule_check_can_fail():
    src = "import keras\ndef f():\n    import tensorflow as tf\ndef g():\n    import_tensorflow()\n    from tensorflow.core import x\n"
    assert _unrouted_imports(ast.parse(src)) == [1, 3]
