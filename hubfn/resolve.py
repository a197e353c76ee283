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
from .savedmodel.moduledir import check_module_dir
from .settings import Settings

__all__ = ["DEFAULT_RESOLVERS", "FileUrlResolver", "HttpResolver", "Hub", "KaggleResolver", "LocalResolver",
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


@attrs.frozen
class Hub:
    """Where and how modules are found, as one value: a call's Settings and the resolvers that turn handles
    into module directories. Every front door takes one as `hub=` (hub_load, hub_module, hub_resolve,
    module_signatures, hub_layer, module_udf; the CLI and R make one from their options), so a program
    configures hubfn once and passes it around; nothing global changes.

        hub = hubfn.Hub.make(cache_dir="~/hub-cache", offline=True, resolvers=(MyResolver(), *DEFAULT_RESOLVERS))
        m = hubfn.hub_load(handle, hub=hub)
    """

    settings: Settings = attrs.field(validator=attrs.validators.instance_of(Settings))
    resolvers: tuple = attrs.field(default=DEFAULT_RESOLVERS, converter=tuple)

    @classmethod
    def make(cls, hub=None, *, resolvers=None, settings=None, **named) -> "Hub":
        """The Hub of one call: `hub` (default: the environment's settings and DEFAULT_RESOLVERS) with what the
        call names replaced: `resolvers`, `settings` (a whole Settings value), and Settings.make's keywords
        (cache_dir, offline, timeout, token, token_over_http, safe_mode, allow_ops) over those."""
        if hub is not None and not isinstance(hub, Hub):
            raise TypeError(f"hub= takes a hubfn Hub value, not {type(hub).__name__}.")
        base = settings if settings is not None else (hub.settings if hub is not None else None)
        return cls(settings=Settings.make(base, **named),
                   resolvers=resolvers if resolvers is not None else (hub.resolvers if hub else DEFAULT_RESOLVERS))

    def resolve(self, handle: str) -> str:
        """The local directory of the module named by `handle`: the first resolver that supports it resolves
        it (downloading and caching URLs)."""
        for resolver in self.resolvers:
            if _call(resolver.supports, handle, self.settings):
                return _call(resolver.resolve, handle, self.settings)
        kinds = ", ".join(str(getattr(r, "kind", type(r).__name__)) for r in self.resolvers) or "(no resolvers given)"
        raise errors.UnsupportedHandleError(
            f"Unsupported handle {handle!r}: no resolver takes it. Supported kinds: {kinds}."
        )


def hub_resolve(handle, resolvers=None, *, hub=None, settings=None, cache_dir=None, offline=None, timeout=None,
                token=None) -> str:
    """The local directory of the module named by `handle` (downloading and caching URLs).

    hub: a Hub (settings and resolvers) for the call; the other arguments replace what it holds.
    resolvers: the resolvers to ask, in order (default: DEFAULT_RESOLVERS); the first whose
    `supports(handle, settings)` is true resolves it.
    settings, cache_dir, offline, timeout, token: this call's settings (hubfn.settings.Settings.make);
    the environment gives the rest.
    """
    handle = handles.as_handle(handle)
    return Hub.make(hub, resolvers=resolvers, settings=settings, cache_dir=cache_dir, offline=offline,
                    timeout=timeout, token=token).resolve(handle)


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
