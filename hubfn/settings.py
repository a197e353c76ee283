"""Settings of one call: cache directory, offline switch, timeouts, retries, tokens.

Every public function that may fetch (hub_load, hub_module, hub_resolve, hub_layer, module_udf) takes
`cache_dir=`, `offline=`, `timeout=`, `token=` and/or `settings=` (a Settings value holding them all) and
turns them into one Settings with `Settings.make(...)`: what the call names wins, the environment fills
in the rest (read at call time, never at import). Nothing global is changed by a call, so two threads
may load with different caches or tokens at once.

The environment variables (see hubfn.util.env for how each is read):
    TFHUB_CACHE_DIR        cache directory (shared with tensorflow_hub)
    HUBFN_OFFLINE          use the cache only
    HUBFN_CONNECT_TIMEOUT  seconds to connect (default 15)
    HUBFN_READ_TIMEOUT     seconds without a byte before a read gives up (default 60)
    HUBFN_RETRIES, HUBFN_BACKOFF, HUBFN_MAX_RETRY_AFTER, HUBFN_REFUSED_GIVE_UP   see hubfn.fetch.retry
    HUBFN_TOKENS           "host=token" pairs, separated by commas or blanks: a bearer token per host
    HUBFN_TOKEN_OVER_HTTP  1: also send tokens over plain http:// (never by default)
    HUBFN_SAFE_MODE        0: load modules even when they hold ops that reach outside them (hubfn.safety)
    HUBFN_ALLOW_OPS        op types to allow in safe mode, separated by commas ("WriteFile,ReadFile")
and ~/.netrc (or $NETRC), read the way requests reads it, for hosts without a token.

Nothing here imports TensorFlow or requests.
"""

import math
import os
import tempfile
import urllib.parse

import attrs

from . import errors
from .util import env


def default_cache_dir():
    """$TFHUB_CACHE_DIR, else <system temp>/tfhub_modules (as tensorflow_hub)."""
    return env.env_path("TFHUB_CACHE_DIR", os.path.join(tempfile.gettempdir(), "tfhub_modules"))


def host_key(host_or_url: str) -> str:
    """"host" or "host:port" in lower case, default ports dropped: how tokens are matched to URLs.

    Takes a URL ("https://hub.example.com:443/a") or a bare host ("hub.example.com", "127.0.0.2:8000").
    """
    text = host_or_url.strip()
    parts = urllib.parse.urlsplit(text if "://" in text else f"//{text}")
    host = (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        raise errors.HandleError(f"{host_or_url!r} has a port that is not a number.") from None
    default = {"https": 443, "http": 80}.get(parts.scheme.lower())
    if port is None or port == default:
        return host
    return f"{host}:{port}"


def _check_token(token, where):
    if not isinstance(token, str) or not token.strip():
        raise errors.HandleError(f"The token for {where} must be a non-empty string.")
    token = token.strip()
    # A line break would let a token add headers of its own; the value itself is never echoed.
    if any(c in token for c in "\r\n\0") or not token.isprintable():
        raise errors.HandleError(f"The token for {where} holds a line break or another control character; "
                                 "pass the token alone (no 'Bearer ' header line).")
    return token


def parse_tokens(text: str, source: str) -> tuple:
    """((host, token), ...) from "host=token" pairs separated by commas or white space."""
    pairs = []
    for item in text.replace(",", " ").split():
        host, sep, token = item.partition("=")
        if not sep or not host or not token:
            raise errors.HandleError(f"{source}: expected host=token pairs separated by commas; one item "
                                     "has no '=' (its value is not shown).")
        pairs.append((host_key(host), _check_token(token, host)))
    return tuple(pairs)


def parse_ops(value, source="allow_ops") -> frozenset:
    """A frozenset of op type names from a list of names or a comma- or blank-separated string."""
    if value is None:
        return frozenset()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if hasattr(value, "tolist"):  # a NumPy array (R's character vectors arrive as lists or arrays)
        value = value.tolist()
    try:
        names = [str(v).strip() for v in value]
    except TypeError:
        raise errors.HandleError(f"{source} takes op type names such as ['WriteFile'], not {value!r}.") from None
    bad = [n for n in names if not n or not n.replace(">", "").replace("_", "").isalnum()]
    if bad:
        raise errors.HandleError(f"{source} takes op type names such as ['WriteFile']; {bad[0]!r} is not one.")
    return frozenset(names)


def _tokens(value):
    if value is None:
        return ()
    if isinstance(value, tuple):
        return value
    raise TypeError("Settings.tokens is a tuple of (host, token) pairs; use Settings.make(token=...).")


@attrs.frozen
class Settings:
    """Everything a fetch needs to know from outside; immutable, so a call cannot change another's."""

    cache_dir: str
    offline: bool = False
    connect_timeout: float = 15.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff: float = 1.0
    max_retry_after: float = 120.0
    refused_give_up: float = 3.0
    # ((host, token), ...), matched by host_key; repr=False: a token is never printed.
    tokens: tuple = attrs.field(default=(), converter=_tokens, repr=False)
    # token= of one call: for the host its handle names (the resolver knows which: a Kaggle handle's is
    # Kaggle's API host), and no other.
    handle_token: str | None = attrs.field(default=None, repr=False)
    token_over_http: bool = False
    use_netrc: bool = True
    # Modules are untrusted code (hubfn.safety): refuse one holding ops that reach outside it, unless the op
    # type is allowed here.
    safe_mode: bool = True
    allow_ops: frozenset = attrs.field(default=frozenset(), converter=parse_ops)

    @classmethod
    def from_env(cls) -> "Settings":
        tokens = env.env_str("HUBFN_TOKENS")
        return cls(cache_dir=default_cache_dir(),
                   offline=env.env_bool("HUBFN_OFFLINE"),
                   connect_timeout=env.env_number("HUBFN_CONNECT_TIMEOUT", 15),
                   read_timeout=env.env_number("HUBFN_READ_TIMEOUT", 60),
                   retries=env.env_number("HUBFN_RETRIES", 4, int),
                   backoff=env.env_number("HUBFN_BACKOFF", 1.0),
                   max_retry_after=env.env_number("HUBFN_MAX_RETRY_AFTER", 120),
                   refused_give_up=env.env_number("HUBFN_REFUSED_GIVE_UP", 3.0),
                   tokens=parse_tokens(tokens, "HUBFN_TOKENS") if tokens else (),
                   token_over_http=env.env_bool("HUBFN_TOKEN_OVER_HTTP"),
                   safe_mode=env.env_bool("HUBFN_SAFE_MODE", True),
                   allow_ops=parse_ops(env.env_str("HUBFN_ALLOW_OPS"), "HUBFN_ALLOW_OPS"))

    @classmethod
    def make(cls, settings=None, *, cache_dir=None, offline=None, timeout=None, token=None,
             token_over_http=None, safe_mode=None, allow_ops=None) -> "Settings":
        """The settings of one call: `settings` (default: from the environment) with the named ones replaced.

        cache_dir: a directory (made absolute; `~` expanded).
        offline:   True to use the cache only.
        timeout:   seconds, for connecting and for each read; or a pair (connect, read).
        token:     a bearer token for the host the handle names (only that host: never for a host a
                   redirect leads to), or a dict {host: token} for several hosts.
        token_over_http: True to send tokens to http:// URLs too (by default only over https).
        safe_mode: False to load a module even when it holds ops that reach outside it (hubfn.safety).
        allow_ops: op types to allow in safe mode (["WriteFile"]), added to those of the environment.
        """
        if settings is None:
            settings = cls.from_env()
        elif not isinstance(settings, Settings):
            raise TypeError(f"settings= takes a hubfn Settings value, not {type(settings).__name__}.")
        changes = {}
        if cache_dir is not None:
            changes["cache_dir"] = _as_dir(cache_dir)
        if offline is not None:
            changes["offline"] = _as_bool(offline, "offline")
        if timeout is not None:
            changes["connect_timeout"], changes["read_timeout"] = _as_timeouts(timeout)
        if token_over_http is not None:
            changes["token_over_http"] = _as_bool(token_over_http, "token_over_http")
        if safe_mode is not None:
            changes["safe_mode"] = _as_bool(safe_mode, "safe_mode")
        if allow_ops is not None:
            changes["allow_ops"] = settings.allow_ops | parse_ops(allow_ops)
        if isinstance(token, dict):
            given = tuple((host_key(str(h)), _check_token(t, str(h))) for h, t in token.items())
            hosts = {h for h, _ in given}
            changes["tokens"] = given + tuple(p for p in settings.tokens if p[0] not in hosts)
        elif token is not None:
            changes["handle_token"] = _check_token(token, "this handle")
        return attrs.evolve(settings, **changes) if changes else settings

    def token_for(self, url: str):
        """The token configured for the host of `url`, or None."""
        key = host_key(url)
        for host, token in self.tokens:
            if host == key:
                return token
        return None


def _as_dir(value):
    value = os.fspath(value)
    if not isinstance(value, str) or not value.strip():
        raise errors.HandleError(f"cache_dir= must be a directory path, not {value!r}.")
    return os.path.abspath(os.path.expanduser(value))


def _as_bool(value, name):
    if isinstance(value, bool):
        return value
    if hasattr(value, "item") and not isinstance(value, str):  # a NumPy or R logical of length one
        value = value.item()
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raise errors.HandleError(f"{name}= must be True or False, not {value!r}.")


def _as_timeouts(value):
    pair = value if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2:
        raise errors.HandleError(f"timeout= takes seconds or a (connect, read) pair, not {value!r}.")
    out = []
    for v in pair:
        try:
            v = float(v)
        except (TypeError, ValueError):
            raise errors.HandleError(f"timeout= takes seconds or a (connect, read) pair, not {value!r}.") from None
        if not (v > 0 and math.isfinite(v)):
            raise errors.HandleError(f"timeout= must be a positive number of seconds, not {value!r}.")
        out.append(v)
    return tuple(out)
