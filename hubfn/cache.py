"""Placeholder until the download cache lands: http(s) handles are refused clearly."""

from . import errors


def fetch_to_cache(handle: str) -> str:
    raise errors.UnsupportedHandleError(
        f"Module {handle!r}: http(s) handles are not supported yet; download and unpack the module, "
        "then pass its directory."
    )
