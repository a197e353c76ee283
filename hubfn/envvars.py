"""Environment variables that tune hubfn, read where they are used (never at import time).

    TFHUB_CACHE_DIR                cache directory (shared with tensorflow_hub)
    TFHUB_DISABLE_CERT_VALIDATION  "true": skip TLS certificate checks (with a warning)
    TFHUB_DOWNLOAD_PROGRESS        set: show a progress bar even when stderr is not a terminal
    HUBFN_OFFLINE                  1/true: use the cache only, never the network
    HUBFN_CONNECT_TIMEOUT, HUBFN_READ_TIMEOUT, HUBFN_RETRIES, HUBFN_BACKOFF, HUBFN_MAX_RETRY_AFTER
    HUBFN_MAX_MODULE_BYTES, HUBFN_MAX_MODULE_FILES, HUBFN_MAX_RATIO   archive safety caps
"""

import os

from . import errors


def env_number(name, default, kind=float):
    """The number in environment variable `name`, or `default` when unset; a typed error when garbled."""
    value = os.environ.get(name, "").strip()
    if not value:
        return kind(default)
    try:
        return kind(float(value))
    except ValueError:
        raise errors.HubError(f"Environment variable {name}={value!r} is not a number.") from None
