"""Handles: what a user passes to name a module, and how to tell their kinds apart.

A handle is kept exactly as given (a str; os.PathLike is turned into its str path) because the cache
key is `sha1(handle)` of that very string, shared with the tensorflow_hub package.

Kaggle Models are named `kaggle:owner/model/framework/variation[/version]`, or by their page URL on
Kaggle's site; telling them apart is cheap and imports nothing of the download stack (resolvers ask
every handle), the rest is hubfn.fetch.kaggle's.
"""

import os
import urllib.parse

from . import errors
from .settings import host_key

LOCAL = "local"
FILE_URL = "file"
HTTP = "http"
KAGGLE = "kaggle"  # kaggle:owner/model/framework/variation[/version] (hubfn.fetch.kaggle)
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
    (is_kaggle_page), which resolvers ask separately.
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


def kaggle_site_hosts(endpoint: str) -> frozenset:
    """The hosts (host_key form) whose /models/ pages are Kaggle models: the endpoint's, with and
    without "www." (kaggle.com and www.kaggle.com serve the same pages)."""
    host = host_key(endpoint)
    bare = host[4:] if host.startswith("www.") else host
    return frozenset({host, bare, "www." + bare})


def is_kaggle_page(handle: str, endpoint: str) -> bool:
    """Whether `handle` is a URL below /models/ on Kaggle's site, `endpoint` (Settings.kaggle_endpoint; see
    kaggle_site_hosts). Malformed ones count too, so that hubfn.fetch.kaggle says what form it expects
    instead of downloading a web page."""
    if handle_kind(handle) != HTTP:
        return False
    parts = urllib.parse.urlsplit(handle)
    if not parts.path.startswith("/models/"):
        return False
    hosts = kaggle_site_hosts(endpoint)
    try:
        return host_key(handle) in hosts
    except errors.HandleError:  # a port that is not a number: the http resolver says so
        return False


def file_url_to_path(handle: str) -> str:
    """The local path of a file:// URL (percent-escapes decoded; host must be empty or localhost)."""
    parts = urllib.parse.urlsplit(handle)
    if parts.netloc not in ("", "localhost"):
        raise errors.UnsupportedHandleError(
            f"file:// URL {handle!r} names host {parts.netloc!r}; only local files can be read."
        )
    return urllib.parse.unquote(parts.path)
