"""Resolve: handle -> local module directory, through one resolver per kind of handle.

The resolvers are plain objects in a tuple that callers may replace (`hub_resolve(h, resolvers=...)`);
there is no global registry to mutate and nothing happens at import time.
"""

import os

import attrs

from . import errors, handles


def check_module_dir(path: str, handle: str) -> str:
    """`path` if it is a directory holding a SavedModel, else a typed error naming the handle."""
    if not os.path.exists(path):
        raise errors.ModuleNotFound(f"Module {handle!r}: no such file or directory {path!r}.")
    if not os.path.isdir(path):
        raise errors.NotAModuleError(
            f"Module {handle!r}: {path!r} is a file; a module is a directory holding saved_model.pb."
        )
    if not os.path.isfile(os.path.join(path, "saved_model.pb")):
        raise errors.NotAModuleError(
            f"Module {handle!r}: directory {path!r} has no saved_model.pb, so it is not a SavedModel. "
            "Point the handle at the directory that holds saved_model.pb and variables/."
        )
    return path


@attrs.frozen
class LocalResolver:
    """A directory on this machine."""

    kind: str = handles.LOCAL

    def resolve(self, handle: str) -> str:
        return check_module_dir(os.path.abspath(os.path.expanduser(handle)), handle)


@attrs.frozen
class FileUrlResolver:
    """A file:// URL naming a directory on this machine."""

    kind: str = handles.FILE_URL

    def resolve(self, handle: str) -> str:
        return check_module_dir(os.path.abspath(handles.file_url_to_path(handle)), handle)


@attrs.frozen
class HttpResolver:
    """An http(s) URL: downloaded once into the shared cache (see hubfn.cache)."""

    kind: str = handles.HTTP

    def resolve(self, handle: str) -> str:
        from . import cache  # the download stack is only imported when a URL is used

        return cache.fetch_to_cache(handle)


DEFAULT_RESOLVERS = (LocalResolver(), FileUrlResolver(), HttpResolver())


def hub_resolve(handle, resolvers=DEFAULT_RESOLVERS) -> str:
    """The local directory of the module named by `handle` (downloading and caching URLs)."""
    handle = handles.as_handle(handle)
    kind = handles.handle_kind(handle)
    for resolver in resolvers:
        if resolver.kind == kind:
            return resolver.resolve(handle)
    raise errors.UnsupportedHandleError(f"No resolver for handle {handle!r} (kind {kind!r}).")
