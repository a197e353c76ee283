"""What a module directory holds, checked without TensorFlow: used by resolve (loading) and pack
(publishing) alike, so neither has to import the other."""

import os

from .. import errors

SAVED_MODEL_PB = "saved_model.pb"
TF1_HUB_MARKER = "tfhub_module.pb"  # beside saved_model.pb in a TF1 hub-format module


def check_module_dir(path: str, handle: str) -> str:
    """`path` if it is a directory holding a SavedModel, else a typed error naming the handle."""
    if not os.path.exists(path):
        raise errors.ModuleNotFound(f"Module {handle!r}: no such file or directory {path!r}.")
    if not os.path.isdir(path):
        raise errors.NotAModuleError(
            f"Module {handle!r}: {path!r} is a file; a module is a directory holding {SAVED_MODEL_PB}."
        )
    if not os.path.isfile(os.path.join(path, SAVED_MODEL_PB)):
        raise errors.NotAModuleError(
            f"Module {handle!r}: directory {path!r} has no {SAVED_MODEL_PB}, so it is not a SavedModel. "
            f"Point the handle at the directory that holds {SAVED_MODEL_PB} and variables/."
        )
    return path


def is_tf1_hub(path: str) -> bool:
    """Whether the module at `path` is in the TF1 hub format."""
    return os.path.isfile(os.path.join(path, TF1_HUB_MARKER))
