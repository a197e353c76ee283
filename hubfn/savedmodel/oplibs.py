"""Op libraries: the ops a module's graph uses that TensorFlow itself lacks, and who provides them.

Some modules run ops that live outside core TensorFlow; TF Hub's BERT preprocessors, for one, tokenize with
`tensorflow_text`'s CaseFoldUTF8 and WordpieceTokenizeWithOffsets. Such ops exist in a process only once
their Python package has been imported, which loads its shared libraries and so registers them. Without
that, `tf.saved_model.load` fails deep inside with "Op type not registered", and only users who know the
trick (`import tensorflow_text` first) get further.

So before a load, `ensure_ops` reads the op names from `saved_model.pb` (no load), looks up the ones this
TensorFlow has not registered in LIBRARIES, imports the libraries that provide them, and raises a
MissingOpsError naming the ops and the pip command when a library is not installed (or the ops are
nobody's). `describe` gives the same facts as one line for `hubfn info`.

To teach hubfn another op library, add an OpLibrary to LIBRARIES.
"""


import attrs

from .. import errors
from ..util.tfimport import import_tensorflow


@attrs.frozen
class OpLibrary:
    """A pip package whose import registers custom ops, and how to recognise its ops by name."""

    import_name: str                # what to import to register the ops ("tensorflow_text")
    package: str                    # what to pip install ("tensorflow-text")
    ops: frozenset = attrs.field(converter=frozenset, default=())  # op names, as registered
    prefixes: tuple = attrs.field(converter=tuple, default=())     # newer ops carry a namespace prefix
    # Whether its releases are built for one TensorFlow minor version each (X.Y of both must match).
    follows_tf_version: bool = False

    def provides(self, op: str) -> bool:
        return op in self.ops or op.startswith(self.prefixes)

    def pip_command(self, tf_version: str) -> str:
        """The install command for this TensorFlow ("2.21.0" -> "pip install tensorflow-text==2.21.*")."""
        if not self.follows_tf_version:
            return f"pip install {self.package}"
        return f"pip install {self.package}=={_major_minor(tf_version)}.*"

    def install_hint(self, tf_version: str) -> str:
        if not self.follows_tf_version:
            return f"Install it: {self.pip_command(tf_version)}"
        return f"Install the release built for TensorFlow {_major_minor(tf_version)}: {self.pip_command(tf_version)}"


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


TENSORFLOW_TEXT = OpLibrary(
    import_name="tensorflow_text",
    package="tensorflow-text",
    # The ops tensorflow-text 2.21 registers without its "TFText>" prefix (found by comparing TensorFlow's
    # op registry before and after `import tensorflow_text`; tests/test_oplibs.py checks that this still holds).
    ops={"CaseFoldUTF8", "ConstrainedSequence", "FastBertNormalize", "FastWordpieceTokenizeWithOffsets",
         "FindSourceOffsets", "MaxSpanningTree", "NormalizeUTF8", "NormalizeUTF8WithOffsetsMap", "PhraseTokenize",
         "RegexSplitWithOffsets", "RougeL", "SentenceFragments", "SentenceFragmentsV2", "SentencepieceDetokenizeOp",
         "SentencepieceIdToStringOp", "SentencepieceOp", "SentencepieceStringToIdOp", "SentencepieceTokenizeOp",
         "SentencepieceTokenizeWithOffsetsOp", "SentencepieceVocabSizeOp", "SplitMergeTokenizeWithOffsets",
         "TokenizerFromLogits", "UnicodeScriptTokenizeWithOffsets", "WhitespaceTokenizeWithOffsets",
         "WordpieceTokenizeWithOffsets"},
    prefixes=("TFText>",),
    follows_tf_version=True,  # its wheels link against one TensorFlow minor version
)

LIBRARIES = (TENSORFLOW_TEXT,)


# --- reading op names (no load) --------------------------------------------------------------------
def read_op_names(path: str) -> frozenset:
    """Every op type the module at `path` runs, read from saved_model.pb (hubfn.savedmodel.signatures.used_ops)."""
    from .signatures import parse_saved_model, used_ops

    return used_ops(parse_saved_model(path))


# --- what the running TensorFlow has ---------------------------------------------------------------
def unregistered(ops) -> frozenset:
    """The ops of `ops` that no loaded library has registered in this process (one registry lookup each)."""
    import_tensorflow()
    from tensorflow.python.framework import op_def_registry

    return frozenset(op for op in ops if op_def_registry.get(op) is None)


def library_of(op: str):
    """The OpLibrary in LIBRARIES that provides `op`, or None."""
    return next((lib for lib in LIBRARIES if lib.provides(op)), None)


def _tf_version() -> str:
    tf = import_tensorflow()

    return tf.__version__


def _import(library):
    """Import the library (registering its ops). None on success, else why not: "not installed" or the error."""
    import importlib

    try:
        importlib.import_module(library.import_name)
    except ModuleNotFoundError as e:
        if e.name == library.import_name:  # the package itself is absent, not something it imports
            return "not installed"
        return f"installed but failed to import ({e})"
    except Exception as e:  # noqa: BLE001 - a wheel built for another TensorFlow fails in many ways
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return f"installed but failed to import ({first})"
    return None


# --- the check before a load, and the line for `hubfn info` ----------------------------------------
def ensure_ops(path: str, ops=None) -> None:
    """Make every op the module at `path` runs available, or raise MissingOpsError saying what to install.

    ops: the module's op names if the caller has read them already (else read from saved_model.pb).
    Libraries are imported only when some of their ops are missing, so a module of core ops costs one read.
    """
    missing = unregistered(read_op_names(path) if ops is None else ops)
    if not missing:
        return
    by_library, unknown = _group(missing)
    problems = []
    for library, lib_ops in by_library.items():
        why, still = _make_available(library, lib_ops)
        if still:
            problems.append(f"its ops {', '.join(still)} come from {library.import_name}, which is {why}. "
                            + library.install_hint(_tf_version()))
    if unknown:
        problems.append(f"its ops {', '.join(sorted(unknown))} are not in TensorFlow {_tf_version()} nor in any op "
                        "library hubfn knows (hubfn.savedmodel.oplibs.LIBRARIES): the module needs a custom op library "
                        "(import it before loading) or a newer TensorFlow.")
    if problems:
        raise errors.MissingOpsError(f"Module at {path!r} cannot be loaded: " + " Also, ".join(problems))


def _make_available(library, ops):
    """Import `library` and see which of `ops` are still unregistered: (why not, sorted ops still missing)."""
    why = _import(library)
    still = sorted(unregistered(ops))
    if still and why is None:  # imported, yet without these ops: a release older or newer than the module's
        why = f"installed, but its version does not register {', '.join(still)}"
    return why, still


def _group(ops):
    """({OpLibrary: set of its ops}, set of ops no library provides)."""
    by_library, unknown = {}, set()
    for op in ops:
        library = library_of(op)
        if library is None:
            unknown.add(op)
        else:
            by_library.setdefault(library, set()).add(op)
    return by_library, unknown


def describe(path: str, ops=None) -> str:
    """One line: the op libraries the module needs and whether each imports here, or "none".

    "tensorflow_text (installed)", "tensorflow_text (not installed: pip install tensorflow-text==2.21.*)";
    ops that neither TensorFlow nor a known library provides are listed as unknown. Imports the libraries
    the module uses (as loading it would) to tell whether they work.
    """
    ops = read_op_names(path) if ops is None else ops
    by_library, _ = _group(ops)  # a library's ops, registered or not: the module needs it either way
    parts = []
    for library in sorted(by_library, key=lambda lib: lib.import_name):
        why, still = _make_available(library, by_library[library])
        state = f"{why}: {library.pip_command(_tf_version())}" if still else "installed"
        parts.append(f"{library.import_name} ({state})")
    unknown = _group(unregistered(ops))[1]
    if unknown:
        parts.append(f"unknown ops {', '.join(sorted(unknown))} (a custom op library or a newer TensorFlow)")
    return "; ".join(parts) or "none"
