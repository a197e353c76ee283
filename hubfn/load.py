"""Load: a resolved module directory -> the TensorFlow object behind a Module.

Each (path, tags, trainable) is loaded once per process and reused, so holding several Module values for
one module never duplicates its weights. Trainable and frozen handles get separate objects: fine-tuning
one must not move the weights of the other.
"""

import os
import threading

from . import errors
from .signatures import TF1_HUB

_loaded = {}
_lock = threading.Lock()


def _key(path, tags, trainable):
    return (os.path.realpath(path), None if tags is None else frozenset(tags), bool(trainable))


def load_object(path: str, tags, fmt: str, trainable: bool = False):
    """The loaded SavedModel object for `path` with the given tag set (loaded at most once)."""
    key = _key(path, tags, trainable)
    with _lock:
        obj = _loaded.get(key)
        if obj is None:
            obj = _load(path, tags, fmt)
            _loaded[key] = obj
        return obj


def _load(path, tags, fmt):
    import tensorflow as tf

    # TF1 hub modules are loaded through TF's v1-in-v2 loader, which needs the exact tag list.
    tag_list = sorted(tags) if tags is not None else ([] if fmt == TF1_HUB else None)
    try:
        return tf.saved_model.load(path, tags=tag_list)
    except (OSError, ValueError, RuntimeError, tf.errors.OpError) as e:
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
