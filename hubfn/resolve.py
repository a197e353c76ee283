"""Resolve: handle -> local module directory, through one resolver per kind of handle.

A resolver is any object with `supports(handle, settings) -> bool` and `resolve(handle, settings) -> str`
(a directory holding saved_model.pb; `settings` is the call's hubfn.settings.Settings, and a resolver whose
methods take only the handle are called without it). `hub_resolve` asks each in turn and uses the first
that supports the handle;
callers add their own kinds by passing `resolvers=(MyResolver(), *DEFAULT_RESOLVERS)`. There is no global
registry to mutate and nothing happens at import time.
"""

import inspect
import os

import attrs

from . import errors, handles
from .moduledir import check_module_dir
from .settings import Settings

__all__ = ["DEFAULT_RESOLVERS", "FileUrlResolver", "HttpResolver", "KaggleResolver", "LocalResolver",
           "check_module_dir", "hub_resolve"]


class _OneKind:
    """A resolver for the handles of one kind (`handle_kind`, as hubfn.handles.handle_kind tells them)."""

    __slots__ = ()
    handle_kind = None

    def supports(self, handle: str, settings: Settings) -> bool:
        return handles.handle_kind(handle) == self.handle_kind


@attrs.frozen
class LocalResolver(_OneKind):
    """A directory on this machine."""

    kind: str = "a local directory"
    handle_kind = handles.LOCAL

    def resolve(self, handle: str, settings: Settings) -> str:
        return check_module_dir(os.path.abspath(os.path.expanduser(handle)), handle)


@attrs.frozen
class FileUrlResolver(_OneKind):
    """A file:// URL naming a directory on this machine."""

    kind: str = "a file:// URL"
    handle_kind = handles.FILE_URL

    def resolve(self, handle: str, settings: Settings) -> str:
        return check_module_dir(os.path.abspath(handles.file_url_to_path(handle)), handle)


@attrs.frozen
class KaggleResolver(_OneKind):
    """A Kaggle model: `kaggle:owner/model/framework/variation[/version]`, or its page URL on Kaggle's site
    (https://www.kaggle.com/models/..., or the host of KAGGLE_API_ENDPOINT). Downloaded through Kaggle's
    API into the shared cache; without a version, the latest (see hubfn.fetch.sources.kaggle)."""

    kind: str = "a Kaggle model (kaggle:owner/model/framework/variation[/version], or its kaggle.com/models URL)"
    handle_kind = handles.KAGGLE

    def supports(self, handle: str, settings: Settings) -> bool:
        # Page URLs are http(s) URLs too: this resolver comes before HttpResolver to take them.
        if _OneKind.supports(self, handle, settings):
            return True
        from .fetch.sources.kaggle.handle import is_page  # cheap: nothing of the download stack

        return is_page(handle, settings.kaggle_endpoint)

    def resolve(self, handle: str, settings: Settings) -> str:
        # The download stack is only imported when a Kaggle model is used.
        from .fetch.cache import fetch_to_cache
        from .fetch.sources.kaggle.locate import locate

        return fetch_to_cache(locate(handle, settings), settings)


@attrs.frozen
class HttpResolver(_OneKind):
    """An http(s) URL: downloaded once into the shared cache, through TF Hub's protocol or, for a URL of a
    .tar.gz, as is (hubfn.fetch.sources, hubfn.fetch.cache)."""

    kind: str = "an http(s):// URL"
    handle_kind = handles.HTTP

    def resolve(self, handle: str, settings: Settings) -> str:
        # The download stack is only imported when a URL is used.
        from .fetch.cache import fetch_to_cache
        from .fetch.sources import locate_url

        return fetch_to_cache(locate_url(handle, settings), settings)


DEFAULT_RESOLVERS = (LocalResolver(), FileUrlResolver(), KaggleResolver(), HttpResolver())


def hub_resolve(handle, resolvers=None, *, settings=None, cache_dir=None, offline=None, timeout=None,
                token=None) -> str:
    """The local directory of the module named by `handle` (downloading and caching URLs).

    resolvers: the resolvers to ask, in order (default: DEFAULT_RESOLVERS); the first whose
    `supports(handle, settings)` is true resolves it.
    settings, cache_dir, offline, timeout, token: this call's settings (hubfn.settings.Settings.make);
    the environment gives the rest.
    """
    handle = handles.as_handle(handle)
    settings = Settings.make(settings, cache_dir=cache_dir, offline=offline, timeout=timeout, token=token)
    return resolve_with(handle, resolvers, settings)


def resolve_with(handle: str, resolvers, settings: Settings) -> str:
    """hub_resolve with the settings already made (the other public functions call this)."""
    resolvers = DEFAULT_RESOLVERS if resolvers is None else tuple(resolvers)
    for resolver in resolvers:
        if _call(resolver.supports, handle, settings):
            return _call(resolver.resolve, handle, settings)
    kinds = ", ".join(str(getattr(r, "kind", type(r).__name__)) for r in resolvers) or "(no resolvers given)"
    raise errors.UnsupportedHandleError(
        f"Unsupported handle {handle!r}: no resolver takes it. Supported kinds: {kinds}."
    )


def _call(method, handle, settings):
    """method(handle, settings=settings), or method(handle) for a resolver written before its methods took
    the settings."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        params = ()
    if any(p.name == "settings" or p.kind is p.VAR_KEYWORD for p in params):
        return method(handle, settings=settings)
    return method(handle)
