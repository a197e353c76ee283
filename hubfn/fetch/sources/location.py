"""What a locator returns: where a module comes from, for the one fetch into the cache (hubfn.fetch.cache);
and the rules every URL source shares (the call's token for the handle's host, TFHUB_MODEL_LOAD_FORMAT).
"""

import typing

import attrs

from ... import errors
from ...settings import Settings, host_key


@attrs.frozen
class Location:
    """One module to fetch: under which key, from which URL, with which credentials."""

    key: str  # the handle whose sha1 names the cache entry (hubfn.fetch.store.layout)
    url: str  # what to GET; its redirects are followed
    # (host, Authorization) pairs for the hosts this source speaks for; every other host of the redirect
    # chain gets only what the settings give it (hubfn.fetch.transport.auth). Never shown.
    auth: tuple = attrs.field(default=(), repr=False)
    # The source's words for a failure of the fetch: error -> the error to raise instead (or the same one).
    reword: typing.Callable | None = None
    # Called with the entry's path once it exists (Kaggle records which version "latest" was).
    fetched: typing.Callable | None = None


def handle_auth(handle: str, settings: Settings) -> tuple:
    """token= of the call, for the host the handle names (not for where it redirects): an auth pair."""
    return ((host_key(handle), f"Bearer {settings.handle_token}"),) if settings.handle_token else ()


def check_load_format(handle: str, settings: Settings):
    """TFHUB_MODEL_LOAD_FORMAT as tensorflow_hub reads it: COMPRESSED and AUTO download the archive
    (what hubfn always does); UNCOMPRESSED, reading the SavedModel straight from its gs:// bucket with
    no cache, is not something hubfn does, so it says so instead of quietly doing something else."""
    if settings.load_format == "UNCOMPRESSED":
        raise errors.UnsupportedHandleError(
            f"Module URL {handle}: TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED asks to read the module from its "
            "gs:// storage bucket without caching it; hubfn does not read gs:// locations. It downloads the "
            "compressed archive into the cache instead: unset TFHUB_MODEL_LOAD_FORMAT (or set it to "
            "COMPRESSED) for hubfn.")
