"""Environment variables that tune hubfn: one typed reader per kind, read where used (never at import).

    TFHUB_CACHE_DIR                cache directory (shared with tensorflow_hub; a file:// URL is a path)
    TFHUB_DISABLE_CERT_VALIDATION  exactly "true": skip TLS certificate checks (as tensorflow_hub reads it)
    TFHUB_DOWNLOAD_PROGRESS        set and not 0/false: a progress bar even when stderr is not a terminal
    HUBFN_OFFLINE                  1/true/yes/on: use the cache only, never the network
    HUBFN_CONNECT_TIMEOUT, HUBFN_READ_TIMEOUT, HUBFN_RETRIES, HUBFN_BACKOFF, HUBFN_MAX_RETRY_AFTER
                                   timeouts, retries and waits: hubfn.fetch.retry, which also states the
                                   worst case they allow (worst_case_seconds; 390 s by default)
    HUBFN_REFUSED_GIVE_UP          seconds to keep retrying a refused connection (default 3)
    HUBFN_MAX_MODULE_BYTES, HUBFN_MAX_MODULE_FILES, HUBFN_MAX_RATIO   archive safety caps
    HUBFN_INFLATE_THREADS          threads inflating a `hubfn pack` archive's blocks (default: the CPUs,
                                   at most 4; 1: serially, as any other gzip; hubfn.fetch.blocks)
    SOURCE_DATE_EPOCH              the mtime written into packed archives
    HUBFN_QUIET_TF                 0: show TensorFlow's CUDA probing lines on a machine without a GPU
                                   (hidden by default; hubfn.util.tfimport)
    HUBFN_TOKENS, HUBFN_TOKEN_OVER_HTTP   tokens per host (hubfn.settings)
    NETRC                          the netrc file for hosts without a token (default ~/.netrc)
    KAGGLE_USERNAME, KAGGLE_KEY    Kaggle credentials for kaggle: handles (else ~/.kaggle/kaggle.json)
    KAGGLE_CONFIG_DIR              where kaggle.json is (default ~/.kaggle)
    KAGGLE_API_ENDPOINT            another Kaggle API endpoint (as kagglehub reads it; hubfn.fetch.kaggle)
    TFHUB_MODEL_LOAD_FORMAT        COMPRESSED or AUTO (what hubfn does); UNCOMPRESSED is an error
"""

import os
import urllib.parse

from .. import errors

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable's value stripped of blanks, or `default` when unset or blank."""
    value = os.environ.get(name, "").strip()
    return value or default


def env_bool(name: str, default: bool = False) -> bool:
    """1/true/yes/on are True, 0/false/no/off False (any case); unset is `default`; anything else an error."""
    value = os.environ.get(name)
    if value is None:
        return default
    value = value.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False if value else default
    raise errors.HubError(
        f"Environment variable {name}={os.environ[name]!r} is not a yes/no value; use 1/true or 0/false.")


def env_number(name: str, default, kind=float):
    """The number in the variable, or `default` when unset; a typed error when garbled."""
    value = env_str(name)
    if value is None:
        return kind(default)
    try:
        return kind(float(value))
    except ValueError:
        raise errors.HubError(f"Environment variable {name}={value!r} is not a number.") from None


def env_path(name: str, default: str | None = None) -> str | None:
    """An absolute local path from the variable (`~` expanded; a file:// URL taken as its path), or
    `default` (made absolute too) when unset."""
    value = env_str(name, default)
    if value is None:
        return None
    if value.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise errors.HubError(f"Environment variable {name}={value!r} names another host; use a local path.")
        value = urllib.parse.unquote(parts.path)
    return os.path.abspath(os.path.expanduser(value))


def tfhub_flag(name: str) -> bool:
    """A tensorflow_hub switch, read exactly as tensorflow_hub reads it (the value "true", nothing else),
    so two libraries sharing one environment and one cache agree."""
    return os.environ.get(name) == "true"
