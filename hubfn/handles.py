"""Handles: what a user passes to name a module, and how to tell their kinds apart.

A handle is kept exactly as given (a str; os.PathLike is turned into its str path) because the cache
key is `sha1(handle)` of that very string, shared with the tensorflow_hub package.

Kaggle Models are named `kaggle:owner/model/framework/variation[/version]` (the KAGGLE kind here), or by
their page URL on Kaggle's site, which is an http(s) URL here; everything else about them (which URLs are
model pages, the parts of a handle) is hubfn.fetch.sources.kaggle's.
"""

import os
import urllib.parse

from . import errors

LOCAL = "local"
FILE_URL = "file"
HTTP = "http"
KAGGLE = "kaggle"  # kaggle:owner/model/framework/variation[/version] (hubfn.fetch.sources.kaggle)
OTHER = "other"  # a URL of a scheme hubfn's own resolvers do not know; a custom resolver may

KAGGLE_PREFIX = "kaggle:"


def as_handle(handle) -> str:
    """The handle as the str the rest of hubfn works on; rejects what cannot be a handle."""
    if isinstance(handle, os.PathLike):
        handle = os.fspath(handle)
    if isinstance(handle, bytes):
        handle = handle.decode("utf-8")
    if not isinstance(handle, str):
        raise errors.HandleError(
            f"A module handle must be a path or a URL string, not {type(handle).__name__}: {handle!r}."
        )
    if not handle.strip():
        raise errors.HandleError("The module handle is empty: pass a module directory or a URL.")
    return handle


def handle_kind(handle: str) -> str:
    """LOCAL, FILE_URL, HTTP, KAGGLE (a `kaggle:` handle), or OTHER for a URL of any other scheme.

    A Kaggle model page URL is HTTP here: whether a URL is one depends on the configured Kaggle site
    (hubfn.fetch.sources.kaggle.handle.is_page), which resolvers ask separately.
    """
    if handle[:len(KAGGLE_PREFIX)].lower() == KAGGLE_PREFIX:
        return KAGGLE
    scheme = urllib.parse.urlsplit(handle).scheme.lower()
    if scheme in ("http", "https"):
        return HTTP
    if scheme == "file":
        return FILE_URL
    # A Windows drive letter ("C:\\x") parses as a one-letter scheme; anything else with "://" is a URL.
    if "://" in handle and len(scheme) > 1:
        return OTHER
    return LOCAL


def file_url_to_path(handle: str) -> str:
    """The local path of a file:// URL (percent-escapes decoded; host must be empty or localhost)."""
    parts = urllib.parse.urlsplit(handle)
    if parts.netloc not in ("", "localhost"):
        raise errors.UnsupportedHandleError(
            f"file:// URL {handle!r} names host {parts.netloc!r}; only local files can be read."
        )
    return urllib.parse.unquote(parts.path)
