"""Typed errors raised by hubfn.

Every error names the handle, file or name it is about and says what to do. Catch `HubError` to handle
any of them; the subclasses let callers (and the R bindings, which map them to R condition classes)
tell the cases apart, and the fields say what an error is about without parsing its message.
"""

# The structured fields of a HubError, in the order `HubError.fields` lists them.
_FIELDS = ("handle", "input", "expected", "got", "reason", "keywords")


class HubError(Exception):
    """Base class of every error hubfn raises on purpose.

    `str(e)` is the message. Where the raise site knows them, fields say the same for programs (the R
    bindings word their messages from them, in R terms); each is None when not set:
    - handle: the module handle or URL the error is about;
    - input: the input (or keyword argument) it is about, by name;
    - expected / got: what the input takes and what it was given: dtype names ("int32"); a value that does
      not fit the dtype (got; expected is then the dtype); shapes as lists, None for an unknown dimension;
      input names (lists);
    - reason: which check failed: "dtype", "value" (a value the dtype cannot hold: a fraction or a
      non-finite number for an integer input, or one out of its range), "shape", "structure" (dense,
      ragged or sparse), "keys" (which inputs were given);
    - keywords: the keyword arguments the message spells out as Python does (`as_dict=True`), as
      ((name, value), ...) in the order they appear, for a caller that spells arguments its own way.
    """

    def __init__(self, *args, handle=None, input=None, expected=None, got=None, reason=None, keywords=None):
        super().__init__(*args)
        self.handle, self.input, self.expected, self.got, self.reason = handle, input, expected, got, reason
        self.keywords = None if keywords is None else tuple((str(k), v) for k, v in keywords)

    @property
    def fields(self) -> dict:
        """The fields that are set, {name: value}."""
        return {k: getattr(self, k) for k in _FIELDS if getattr(self, k) is not None}


# --- handles and resolving -------------------------------------------------------------------------
class HandleError(HubError, ValueError):
    """A handle hubfn cannot interpret (wrong type, empty, unknown scheme)."""


class UnsupportedHandleError(HandleError):
    """A handle of a kind that no resolver handles (yet)."""


class ModuleNotFound(HubError, FileNotFoundError):
    """A local path that does not exist, or a URL the server says is not there."""


class NotAModuleError(HubError, ValueError):
    """A directory (or download) that is not a SavedModel: no saved_model.pb, or an HTML page."""


class CorruptModuleError(HubError, ValueError):
    """A module whose files exist but cannot be parsed (a damaged saved_model.pb, say)."""


# --- loading and applying --------------------------------------------------------------------------
class TagsError(HubError, ValueError):
    """A tag set (graph variant) the module does not have."""


class SignatureError(HubError, KeyError):
    """A signature the module does not have, or no way to choose one."""

    def __str__(self):  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else ""


class InputError(HubError, ValueError):
    """Inputs that do not fit the signature: missing or extra names, wrong dtype or shape."""


class OutputError(HubError, ValueError):
    """An output request that cannot be met, e.g. several outputs and as_dict=False."""


class TrainableError(HubError, ValueError):
    """Training a module that was loaded frozen (e.g. unfreezing a hub_layer made with trainable=False)."""


class MissingOpsError(HubError, ImportError):
    """Ops a module runs that this TensorFlow lacks, whose library (tensorflow-text, say) is not installed."""


class UnsafeModuleError(HubError, PermissionError):
    """A module holding ops that reach outside it (files, the network, other processes), refused before it
    was loaded. `findings` lists them (hubfn.safety.scan.Finding: op, category, why, where); load it
    anyway with safe_mode=False, or allow named op types with allow_ops=[...]."""

    def __init__(self, *args, findings=(), **fields):
        super().__init__(*args, **fields)
        self.findings = tuple(findings)


# --- creating modules ------------------------------------------------------------------------------
class ExportError(HubError, ValueError):
    """A module that cannot be written: a non-empty target, an object hubfn cannot export."""


# --- fetching and caching --------------------------------------------------------------------------
class FetchError(HubError, IOError):
    """A download that failed: network errors, timeouts, bad status codes."""


class AccessError(FetchError):
    """The server refused access (HTTP 401 or 403)."""


class RemoteNotFoundError(FetchError, ModuleNotFound):
    """The server answered 404 for a module URL."""


class ArchiveError(FetchError):
    """A download that is not a whole, safe module archive (truncated, not tar, unsafe members)."""


class NotAnArchiveError(ArchiveError, NotAModuleError):
    """A download that is an HTML page, JSON, text or other non-archive body instead of a tar(.gz)."""


class CacheError(HubError, IOError):
    """A cache entry that cannot be used or written, or an offline miss."""


class OfflineError(CacheError):
    """HUBFN_OFFLINE is set and the module is not in the cache."""


class DiskFullError(CacheError):
    """Not enough free space in the cache directory for a download (found before it, or as ENOSPC)."""


# --- serving ---------------------------------------------------------------------------------------
class ServeError(HubError, OSError):
    """The module server cannot start, e.g. its host:port is in use or cannot be listened on."""


__all__ = [name for name in dir() if not name.startswith("_") and name[0].isupper()]
