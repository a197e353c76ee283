"""A plain archive URL: `https://host/…/module.tar.gz` (`.tgz`, `.tar`), fetched as it is written.

Any static server (or a bucket) can serve modules this way; `hubfn pack` makes the archives.
"""

import urllib.parse

from ...settings import Settings
from .location import Location, check_load_format, handle_auth

SUFFIXES = (".tar.gz", ".tgz", ".tar")


def takes(handle: str) -> bool:
    """Whether the URL's path names an archive (its query and fragment aside)."""
    return urllib.parse.urlsplit(handle).path.lower().endswith(SUFFIXES)


def locate(handle: str, settings: Settings) -> Location:
    """The handle itself, keyed by itself; the call's token= goes to its host."""
    check_load_format(handle, settings)
    return Location(key=handle, url=handle, auth=handle_auth(handle, settings))
