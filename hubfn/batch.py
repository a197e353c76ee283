"""Batched apply: run a module over many rows a batch at a time, so memory follows the batch, not the input.

`module_apply(m, x, batch_size=N)` lands here with the function that runs one batch (its call plan),
so this module knows nothing of modules but their handle, for messages. The input is cut into row ranges
without converting it as a whole: NumPy arrays and tensors are sliced (views), lists and tuples are
sliced (a list of the batch's items), pandas Series and DataFrames are sliced with `.iloc`; a dict of any
of these is cut row-wise, all values alike. Each batch goes through that one function, so conversion
and checks are exactly the unbatched ones. Outputs are written into NumPy arrays allocated once, after the
first batch shows their dtype and row shape: the result is one array per output (a dict of them for
`as_dict=True` or a dict-valued output, a list for a list-valued one), never per-batch pieces joined at
the end.
"""

import numbers
import sys

import numpy as np

from . import errors


def check_batch_size(batch_size, what="batch_size") -> int:
    """A positive int from `batch_size`; whole floats (R numbers reach Python as floats) are accepted."""
    if isinstance(batch_size, (bool, np.bool_)):
        value = None
    elif isinstance(batch_size, numbers.Integral):
        value = int(batch_size)
    elif isinstance(batch_size, numbers.Real) and float(batch_size).is_integer():
        value = int(batch_size)
    else:
        value = None
    if value is None or value < 1:
        raise errors.InputError(
            f"{what} must be a positive whole number of rows (or None for one call), got {batch_size!r}."
        )
    return value


def apply_in_batches(call, inputs, batch_size, handle, progress=None):
    """`call(rows)` on `inputs` batch_size rows at a time; outputs as NumPy arrays (dicts joined per key).

    handle: the module's, named in errors.
    """
    size = check_batch_size(batch_size)
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise errors.InputError(f"progress must be True, False or None, got {progress!r}.")
    n = count_rows(handle, inputs)
    if n == 0:  # nothing to cut: one call gives the right (empty) shapes
        return _to_numpy(call(inputs))
    out = None
    with _progress_bar(n, progress) as bar:
        for start in range(0, n, size):
            stop = min(start + size, n)
            piece = _to_numpy(call(take_rows(inputs, start, stop)))
            if out is None:
                out = _allocate(handle, piece, n)
            _store(handle, out, piece, start, stop)
            bar.update(stop - start)
    return out


# --- cutting the input -------------------------------------------------------------------------
def count_rows(handle, inputs) -> int:
    """The number of rows of `inputs` (every value of a dict must have the same number)."""
    if isinstance(inputs, dict):
        if not inputs:
            raise errors.InputError(f"Inputs for {handle!r} are an empty dict; nothing to batch.")
        counts = {k: _rows(handle, v, k) for k, v in inputs.items()}
        if len(set(counts.values())) > 1:
            listed = ", ".join(f"{k!r}: {c}" for k, c in counts.items())
            raise errors.InputError(
                f"Inputs for {handle!r} have different numbers of rows ({listed}); "
                "batching needs the same number of rows in every input."
            )
        return next(iter(counts.values()))
    return _rows(handle, inputs, None)


def _rows(handle, value, name):
    where = f"Input {name!r}" if name is not None else "The input"
    shape = getattr(value, "shape", None)
    if shape is not None and not isinstance(value, (list, tuple)):
        if len(shape) == 0:
            raise errors.InputError(
                f"{where} for {handle!r} is a single value (no rows), so batch_size cannot cut it; "
                "pass an array whose first axis is the rows, or leave batch_size=None."
            )
        if shape[0] is None:
            raise errors.InputError(f"{where} for {handle!r} has an unknown number of rows.")
        return int(shape[0])
    if isinstance(value, (list, tuple)):
        return len(value)
    if isinstance(value, (str, bytes, numbers.Number)):
        raise errors.InputError(
            f"{where} for {handle!r} is a single value ({type(value).__name__}), so batch_size cannot "
            "cut it; pass a list or array of rows, or leave batch_size=None."
        )
    raise errors.InputError(
        f"{where} for {handle!r} is a {type(value).__name__}, which batch_size cannot cut into rows; "
        "pass a NumPy array, a list, a tensor or a pandas Series/DataFrame."
    )


def take_rows(inputs, start, stop):
    """Rows start:stop of `inputs` (a dict is cut value by value); views where the type allows."""
    if isinstance(inputs, dict):
        return {k: _slice(v, start, stop) for k, v in inputs.items()}
    return _slice(inputs, start, stop)


def _slice(value, start, stop):
    iloc = getattr(value, "iloc", None)  # pandas: positional, whatever the index
    if iloc is not None:
        return value.iloc[start:stop].to_numpy()
    tf = sys.modules.get("tensorflow")  # a tensor means TensorFlow is loaded already
    if tf is not None and isinstance(value, tf.SparseTensor):  # not subscriptable: cut its rows
        rest = value.dense_shape[1:]
        return tf.sparse.slice(value, tf.concat([[start], tf.zeros_like(rest)], 0),
                               tf.concat([[stop - start], rest], 0))
    return value[start:stop]


# --- joining the outputs -----------------------------------------------------------------------
# Outputs may nest: a dict of outputs, and inside it a list (e.g. a BERT encoder's per-layer outputs).
def _to_numpy(value):
    if isinstance(value, dict):
        return {k: _to_numpy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_numpy(v) for v in value]
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


# Each batch's outputs are converted to NumPy once (`_to_numpy`; a tensor's .numpy() copies), then
# both of these read the arrays.
def _allocate(handle, piece, n):
    if isinstance(piece, dict):
        return {k: _allocate(handle, v, n) for k, v in piece.items()}
    if isinstance(piece, list):
        return [_allocate(handle, v, n) for v in piece]
    if piece.ndim == 0:
        raise errors.OutputError(
            f"Module {handle!r} returned a single value for a batch, not one row per input row, "
            "so its outputs cannot be joined batch by batch; call it without batch_size."
        )
    return np.empty((n,) + piece.shape[1:], dtype=piece.dtype)


def _store(handle, out, piece, start, stop):
    if isinstance(out, dict):
        for k, v in piece.items():
            _store(handle, out[k], v, start, stop)
        return
    if isinstance(out, list):
        for o, v in zip(out, piece):
            _store(handle, o, v, start, stop)
        return
    if piece.ndim == 0 or piece.shape[0] != stop - start or piece.shape[1:] != out.shape[1:]:
        raise errors.OutputError(
            f"Module {handle!r} returned shape {list(piece.shape)} for rows {start}:{stop}, not one row "
            f"per input row of shape {list(out.shape[1:])}, so its outputs cannot be joined batch by batch; "
            "call it without batch_size."
        )
    out[start:stop] = piece


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n):
        pass


def _progress_bar(total, progress):
    """A tqdm bar on stderr; progress=None shows it only when stderr is a terminal."""
    if progress is False or (progress is None and not _is_terminal(sys.stderr)):
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="rows", desc="module_apply", dynamic_ncols=True,
                file=sys.stderr)


def _is_terminal(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
