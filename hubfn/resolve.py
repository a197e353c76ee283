"""Resolve: handle -> local module directory, through one resolver per kind of handle.

A resolver is any object with `supports(handle) -> bool` and `resolve(handle) -> str` (a directory
holding saved_model.pb). `hub_resolve` asks each in turn and uses the first that supports the handle;
callers add their own kinds by passing `resolvers=(MyResolver(), *DEFAULT_RESOLVERS)`. There is no global
registry to mutate and nothing happens at import time.
"""

import os

import attrs

from . import errors, handles
from .moduledir import check_module_dir

__all__ = ["DEFAULT_RESOLVERS", "FileUrlResolver", "HttpResolver", "LocalResolver", "check_module_dir",
           "hub_resolve"]


class _OneKind:
    """A resolver for the handles of one kind (`handle_kind`, as hubfn.handles.handle_kind tells them)."""

    __slots__ = ()
    handle_kind = None

    def supports(self, handle: str) -> bool:
        return handles.handle_kind(handle) == self.handle_kind


@attrs.frozen
class LocalResolver(_OneKind):
    """A directory on this machine."""

    kind: str = "a local directory"
    handle_kind = handles.LOCAL

    def resolve(self, handle: str) -> str:
        return check_module_dir(os.path.abspath(os.path.expanduser(handle)), handle)


@attrs.frozen
class FileUrlResolver(_OneKind):
    """A file:// URL naming a directory on this machine."""

    kind: str = "a file:// URL"
    handle_kind = handles.FILE_URL

    def resolve(self, handle: str) -> str:
        return check_module_dir(os.path.abspath(handles.file_url_to_path(handle)), handle)


@attrs.frozen
class HttpResolver(_OneKind):
    """An http(s) URL: downloaded once into the shared cache (see hubfn.fetch.cache)."""

    kind: str = "an http(s):// URL"
    handle_kind = handles.HTTP

    def resolve(self, handle: str) -> str:
        from .fetch import cache  # the download stack is only imported when a URL is used

        return cache.fetch_to_cache(handle)


DEFAULT_RESOLVERS = (LocalResolver(), FileUrlResolver(), HttpResolver())


def hub_resolve(handle, resolvers=None) -> str:
    """The local directory of the module named by `handle` (downloading and caching URLs).

    resolvers: the resolvers to ask, in order (default: DEFAULT_RESOLVERS); the first whose
    `supports(handle)` is true resolves it.
    """
    handle = handles.as_handle(handle)
    resolvers = DEFAULT_RESOLVERS if resolvers is None else tuple(resolvers)
    for resolver in resolvers:
        if resolver.supports(handle):
            return resolver.resolve(handle)
    kinds = ", ".join(str(getattr(r, "kind", type(r).__name__)) for r in resolvers) or "(no resolvers given)"
    raise errors.UnsupportedHandleError(
        f"Unsupported handle {handle!r}: no resolver takes it. Supported kinds: {kinds}."
    )
