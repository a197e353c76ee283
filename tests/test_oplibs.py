"""Op libraries: a BERT-style preprocessor built with tensorflow_text ops loads with a plain hub_load, gives a
MissingOpsError naming the ops and the pip command where tensorflow_text cannot be imported, and `hubfn info`
lists its op library either way.

The preprocessor is built, and every check that involves tensorflow_text is run, in fresh subprocesses: this
test process must never import tensorflow_text, or "no user import" would prove nothing. Each subprocess
imports TensorFlow (seconds), so the checks are grouped: one build, one run with tensorflow_text importable,
one with it blocked.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap

import pytest

from hubfn import errors
from hubfn.savedmodel import oplibs

# The preprocessor's vocabulary: word pieces ("##s") as BERT's WordPiece vocabularies have them.
VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "##s", "sat", "on", "a", "mat", "cafe", "hub", "##fn"]
SEQ_LENGTH = 12
TEXTS = ["The cats sat on a mat", "CAFÉ hubfn xyz"]
# [CLS] the cat ##s sat on a mat [SEP]; [CLS] cafe (case-folded, accent stripped) hub ##fn [UNK] [SEP].
WORD_IDS = [[2, 4, 5, 6, 7, 8, 9, 10, 3] + [0] * 3, [2, 11, 12, 13, 1, 3] + [0] * 6]

# Builds a TF Hub style BERT preprocessor: __call__(strings) -> input_word_ids, input_mask, input_type_ids
# (int32[?, SEQ_LENGTH]) and a `tokenize` sub-object, all with tensorflow_text ops (BertTokenizer:
# CaseFoldUTF8, NormalizeUTF8, RegexSplitWithOffsets, WordpieceTokenizeWithOffsets; RoundRobinTrimmer:
# TFText>RoundRobinTrim). The vocabulary is an asset, as in the real ones.
_BUILD = """
import sys
import tensorflow as tf
import tensorflow_text as text

path, vocab, seq_length = sys.argv[1], sys.argv[2].split(","), int(sys.argv[3])
vocab_file = path + ".vocab.txt"
with open(vocab_file, "w") as f:
    f.write("\\n".join(vocab) + "\\n")

root = tf.Module()
root.vocab = tf.saved_model.Asset(vocab_file)
init = tf.lookup.TextFileInitializer(root.vocab, tf.string, tf.lookup.TextFileIndex.WHOLE_LINE,
                                     tf.int64, tf.lookup.TextFileIndex.LINE_NUMBER)
root.table = tf.lookup.StaticHashTable(init, default_value=vocab.index("[UNK]"))
root.tokenizer = text.BertTokenizer(root.table, token_out_type=tf.int64, lower_case=True, unknown_token="[UNK]")
trimmer = text.RoundRobinTrimmer(max_seq_length=seq_length - 2)  # room for [CLS] and [SEP]

@tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="strings")])
def tokenize(strings):
    return root.tokenizer.tokenize(strings)  # [batch, (words), (pieces)]

@tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="strings")])
def call(strings):
    pieces = root.tokenizer.tokenize(strings).merge_dims(1, -1)
    ids, type_ids = text.combine_segments(trimmer.trim([pieces]), start_of_sequence_id=vocab.index("[CLS]"),
                                          end_of_segment_id=vocab.index("[SEP]"))
    word_ids, mask = text.pad_model_inputs(ids, max_seq_length=seq_length)
    type_ids, _ = text.pad_model_inputs(type_ids, max_seq_length=seq_length)
    return {"input_word_ids": tf.cast(word_ids, tf.int32), "input_mask": tf.cast(mask, tf.int32),
            "input_type_ids": tf.cast(type_ids, tf.int32)}

root.tokenize = tokenize
root.__call__ = call
tf.saved_model.save(root, path, signatures={})
"""

# What every check subprocess starts with: the module path, and `info()`, which runs the real `hubfn`
# command's main() in this process and returns its exit code, stdout and stderr.
_PRELUDE = """
import contextlib, io, json, sys
path = sys.argv[1]

def info():
    from hubfn.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["info", path])
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}
"""


def _python(code, *args, prelude=False):
    """Run `code` (after _PRELUDE if asked) in a fresh Python; its last stdout line is JSON, returned decoded."""
    code = (_PRELUDE if prelude else "") + textwrap.dedent(code)
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "TF_ENABLE_ONEDNN_OPTS": "0"}
    proc = subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else None


@pytest.fixture(scope="session")
def text_preprocessor_dir(modules_dir):
    """A BERT-style preprocessor whose graph runs tensorflow_text ops (built in a subprocess)."""
    path = modules_dir / "text_preprocessor"
    _python(_BUILD, path, ",".join(VOCAB), SEQ_LENGTH)
    return str(path)


def test_loads_with_a_plain_hub_load_when_tensorflow_text_is_installed(text_preprocessor_dir):
    got = _python("""
        from tensorflow.python.client import pywrap_tf_session
        from tensorflow.core.framework import op_def_pb2

        def registered():
            ops = op_def_pb2.OpList()
            ops.ParseFromString(pywrap_tf_session.TF_GetBuffer(pywrap_tf_session.TF_GetAllOpList()))
            return {op.name for op in ops.op}

        import hubfn
        from hubfn.savedmodel import oplibs
        before, imported_first = registered(), "tensorflow_text" in sys.modules
        shown = info()  # the CLI first: it loads the module too, with nobody having imported tensorflow_text
        m = hubfn.hub_load(path)
        out = m(["The cats sat on a mat", "CAFÉ hubfn xyz"], as_dict=True)
        added = registered() - before  # every op importing tensorflow_text registered
        print(json.dumps({"imported_first": imported_first, "info": shown,
                          "out": {k: v.numpy().tolist() for k, v in out.items()},
                          "unrecognised": sorted(op for op in added if not oplibs.TENSORFLOW_TEXT.provides(op)),
                          "added": len(added)}))
    """, text_preprocessor_dir, prelude=True)
    assert got["imported_first"] is False
    assert got["out"]["input_word_ids"] == WORD_IDS
    assert got["out"]["input_mask"] == [[int(i > 0) for i in row] for row in WORD_IDS]
    assert got["out"]["input_type_ids"] == [[0] * SEQ_LENGTH] * 2
    assert got["info"]["code"] == 0, got["info"]["err"]
    assert "op libraries: tensorflow_text (installed)\n" in got["info"]["out"]
    # Its vocabulary table reads the module's own asset: nothing for safe mode to refuse.
    assert "safety:    no op reaches outside the module" in got["info"]["out"]
    assert "__call__(strings: string[?]) -> {input_mask: int32[?, 12]" in got["info"]["out"]
    # The table knows every op the installed tensorflow-text registers (a new release would show up here).
    assert got["added"] >= 30 and got["unrecognised"] == []


def test_clear_error_before_tensorflows_own_when_tensorflow_text_is_missing(text_preprocessor_dir):
    # "Not installed", honestly: a None in sys.modules makes every `import tensorflow_text` raise the
    # ModuleNotFoundError an absent package gives, and hubfn goes through the import system as always.
    got = _python("""
        sys.modules["tensorflow_text"] = None  # before anything imports hubfn or TensorFlow
        import hubfn
        from hubfn import errors
        try:
            hubfn.hub_load(path)
            raised = None
        except errors.MissingOpsError as e:
            raised = {"message": str(e), "context": repr(e.__context__ or e.__cause__)}
        shown = info()

        import tensorflow as tf
        try:  # the module really needs the ops: TensorFlow alone fails with its own error
            tf.saved_model.load(path)
            tf_error = None
        except Exception as e:
            tf_error = str(e)
        print(json.dumps({"raised": raised, "info": shown, "tf_error": tf_error}))
    """, text_preprocessor_dir, prelude=True)
    raised = got["raised"]
    assert raised is not None, "hub_load did not raise MissingOpsError"
    message = raised["message"]
    assert text_preprocessor_dir in message and "CaseFoldUTF8" in message and "WordpieceTokenizeWithOffsets" in message
    assert "tensorflow_text, which is not installed" in message
    major_minor = ".".join(_tf_version().split(".")[:2])
    assert f"pip install tensorflow-text=={major_minor}.*" in message
    # hubfn's error came first: nothing from TensorFlow's loader was raised before or under it.
    assert "Op type not registered" not in message and raised["context"] == "None"
    assert got["tf_error"] is not None and "Op type not registered" in got["tf_error"]

    shown = got["info"]
    assert shown["code"] == 1  # the module cannot be used here; the facts are printed all the same
    assert "format:    tf2" in shown["out"] and "tokenize(strings: string[?])" in shown["out"]
    assert f"op libraries: tensorflow_text (not installed: pip install tensorflow-text=={major_minor}.*)" \
        in shown["out"]
    assert shown["err"].startswith("hubfn: error: Module at") and "CaseFoldUTF8" in shown["err"]


def _tf_version():
    import tensorflow as tf

    return tf.__version__


# --- in this process: modules of core ops, and ops nobody provides ------------------------------
def test_core_op_modules_need_no_library(fruit_dir, tf1_dir):
    for path in (fruit_dir, tf1_dir):
        ops = oplibs.read_op_names(path)
        assert "Placeholder" in ops or "MatMul" in ops, sorted(ops)
        assert not any(op.startswith("__inference") for op in ops)  # function calls are not ops
        assert oplibs.unregistered(ops) == frozenset()
        assert oplibs.describe(path) == "none"
        oplibs.ensure_ops(path)  # nothing to import, nothing raised


def test_unknown_ops_are_named_before_tensorflow_sees_them(fruit_dir, tmp_path, capsys):
    # A real module whose graph gains one node of an op no one registers, as a module from a custom-op
    # build or a newer TensorFlow would have.
    from tensorflow.core.protobuf import saved_model_pb2

    import hubfn
    from hubfn.cli import main

    path = tmp_path / "custom_op"
    shutil.copytree(fruit_dir, path)
    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((path / "saved_model.pb").read_bytes())
    proto.meta_graphs[0].graph_def.library.function[0].node_def.add(name="mystery", op="HubfnNoSuchOp")
    (path / "saved_model.pb").write_bytes(proto.SerializeToString())

    with pytest.raises(errors.MissingOpsError) as caught:
        hubfn.hub_load(path)
    message = str(caught.value)
    assert str(path) in message and "HubfnNoSuchOp" in message and "custom op library" in message

    assert main(["info", str(path)]) == 1
    out = capsys.readouterr().out
    assert "op libraries: unknown ops HubfnNoSuchOp" in out and "fruit_to_pet(apples" in out


def test_pip_command_follows_tensorflows_minor_version():
    assert oplibs.TENSORFLOW_TEXT.pip_command("2.21.0") == "pip install tensorflow-text==2.21.*"
    assert oplibs.library_of("TFText>RoundRobinTrim") is oplibs.TENSORFLOW_TEXT
    assert oplibs.library_of("CaseFoldUTF8") is oplibs.TENSORFLOW_TEXT and oplibs.library_of("MatMul") is None
