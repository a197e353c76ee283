"""Load: a resolved module directory -> the TensorFlow object behind a Module.

Each (path, tags) is loaded once per process for inference and reused, so holding several Module values
for one module never duplicates its weights. A module rewritten on disk since (re-exported, fetched
again) is noticed by the stamp of its files and loaded afresh. A trainable module gets a fresh object of its own every
time: two fine-tunings of one module, or a fine-tuning and an inference user, must not move each
other's weights. So does a load with TensorFlow load options, which may change what is loaded.
"""

import os
import threading

from .. import errors
from ..savedmodel import oplibs
from ..savedmodel.signatures import TF1_HUB
from ..util import fs
from ..util.tfimport import import_tensorflow

_loaded = {}
_lock = threading.Lock()


def _key(path, tags):
    return (os.path.realpath(path), None if tags is None else frozenset(tags))


def _stamp(path):
    """What changes when the module's files are replaced: inode, size and mtime of its two key files."""
    stamp = []
    for name in ("saved_model.pb", os.path.join("variables", "variables.index")):
        try:
            stamp.append(fs.file_stamp(os.path.join(path, name)))
        except FileNotFoundError:
            stamp.append(None)
    return tuple(stamp)


def load_object(path: str, tags, fmt: str, trainable: bool = False, ops=None, options=None):
    """The loaded SavedModel object for `path` with the given tag set (loaded once unless trainable or
    given options).

    ops: the op types the module runs, when the caller has read them (SavedModelInfo.ops); else read here.
    options: a tf.saved_model.LoadOptions. They can change what is loaded (experimental_skip_checkpoint,
    a variable policy), so such a load is never shared.
    """
    if trainable or options is not None:
        return _load(path, tags, fmt, ops, options)
    key, stamp = _key(path, tags), _stamp(path)
    with _lock:
        hit = _loaded.get(key)
        if hit is None or hit[0] != stamp:
            hit = (stamp, _load(path, tags, fmt, ops))
            _loaded[key] = hit
        return hit[1]


def _load(path, tags, fmt, ops=None, options=None):
    tf = import_tensorflow()

    # TF1 hub modules are loaded through TF's v1-in-v2 loader, which needs the exact tag list.
    tag_list = sorted(tags) if tags is not None else ([] if fmt == TF1_HUB else None)
    if options is not None and not isinstance(options, tf.saved_model.LoadOptions):
        raise errors.InputError(f"load_options must be a tf.saved_model.LoadOptions, got {options!r}.")
    # Ops from libraries such as tensorflow_text: imported here, or a clear error instead of TF's own.
    oplibs.ensure_ops(path, ops)
    # IndexError: TensorFlow's checkpoint reader says "Read less bytes than requested" that way when a
    # variables file is short (a damaged download or copy).
    try:
        return tf.saved_model.load(path, tags=tag_list, options=options)
    except (OSError, ValueError, RuntimeError, IndexError, tf.errors.OpError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise errors.CorruptModuleError(
            f"Module at {path!r} could not be loaded by TensorFlow ({first}). "
            "If it was downloaded, remove it from the cache (hubfn cache remove) and load it again."
        ) from e


def forget(path=None):
    """Drop loaded objects (all, or those of one path) so the next load reads the files again."""
    with _lock:
        if path is None:
            _loaded.clear()
            return
        real = os.path.realpath(path)
        for key in [k for k in _loaded if k[0] == real]:
            del _loaded[key]
