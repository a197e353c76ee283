"""Every setting of hubfn in one table: what it is, its environment variable, default and doc line.

`TABLE` below is the one place a setting is declared. From it come:
- `Settings.from_env()`: the settings of one call, read from the environment once, at the public function
  the call came in by (hub_load, hub_module, hub_resolve, hub_layer, module_udf, the CLI, R). Below that
  door, every layer takes the Settings value as a required argument and reads nothing else;
- `Settings.make(...)`: what a call names (cache_dir=, offline=, timeout=, token=, token_over_http=,
  safe_mode=, allow_ops=) over the environment's values; nothing global changes, so two threads may load
  with different caches or tokens at once;
- `process_setting(name)`: the few settings that belong to the process, not to a call (read where used);
- `environment_names()`: the variables R's bindings copy into Python, and the documented list.
Values are checked by attrs validators, so a Settings built directly is checked as one read from the
environment is. The retry policy (`RetryPolicy`: counts, waits, timeouts, the worst case) and the archive
limits (`ArchiveLimits`) are parts of a Settings value, not copies of its fields.

This is the only module that reads os.environ (the CLI aside); nothing here imports TensorFlow or requests.
"""

import math
import os
import tempfile
import urllib.parse

import attrs

from . import errors

# --- reading one variable -------------------------------------------------------------------------------
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("", "0", "false", "no", "off")


def _text(name, default=None):
    """The variable's value stripped of blanks, or `default` when unset or blank."""
    return os.environ.get(name, "").strip() or default


def _read_bool(name, default):
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


def _read_number(kind):
    def read(name, default):
        value = _text(name)
        if value is None:
            return default
        try:
            return kind(float(value))
        except ValueError:
            raise errors.HubError(f"Environment variable {name}={value!r} is not a number.") from None
    return read


_read_float, _read_int = _read_number(float), _read_number(int)


def _read_path(name, default):
    """An absolute local path (`~` expanded; a file:// URL taken as its path), or `default` when unset."""
    value = _text(name, default)
    if value is None:
        return None
    if value.lower().startswith("file://"):
        parts = urllib.parse.urlsplit(value)
        if parts.netloc not in ("", "localhost"):
            raise errors.HubError(f"Environment variable {name}={value!r} names another host; use a local path.")
        value = urllib.parse.unquote(parts.path)
    return os.path.abspath(os.path.expanduser(value))


def _read_tfhub_flag(name, default):
    """A tensorflow_hub switch, read exactly as tensorflow_hub reads it (the value "true", nothing else), so
    two libraries sharing one environment and one cache agree."""
    return os.environ.get(name) == "true" if name in os.environ else default


def _read_progress(name, default):
    """Set to anything but 0/false: a progress bar even when stderr is not a terminal (as tensorflow_hub)."""
    value = _text(name)
    return default if value is None else value.lower() not in ("0", "false")


def _read_tokens(name, default):
    text = _text(name)
    return parse_tokens(text, name) if text else default


def _read_ops(name, default):
    text = _text(name)
    return parse_ops(text, name) if text else default


def _read_first_path(*names):
    """The first of several variables that is set (the CA bundle: requests' and curl's names, OpenSSL's)."""
    def read(name, default):
        for other in names:
            if _text(other):
                return _text(other)
        return default
    return read


# --- the table ----------------------------------------------------------------------------------------
KAGGLE_ENDPOINT = "https://www.kaggle.com"


@attrs.frozen
class Setting:
    """One row: `name` is a Settings field ("offline"), a field of one of its parts ("retry.retries"), or,
    for a process-wide setting (`per_call` is None), the name process_setting() takes."""

    name: str
    env: str
    read: object = attrs.field(repr=False)  # (variable, default) -> value
    default: object
    doc: str
    per_call: str | None = ""  # the keyword a call names it with ("timeout="); "": none; None: process-wide


def _default_cache_dir():
    return os.path.join(tempfile.gettempdir(), "tfhub_modules")


def default_cache_dir():
    """$TFHUB_CACHE_DIR, else <system temp>/tfhub_modules (as tensorflow_hub)."""
    s = _BY_NAME["cache_dir"]
    return s.read(s.env, None) or _default_cache_dir()


TABLE = (
    Setting("cache_dir", "TFHUB_CACHE_DIR", _read_path, None,
            "cache directory, shared with tensorflow_hub (default: <system temp>/tfhub_modules; a file:// URL "
            "is a path)", "cache_dir="),
    Setting("offline", "HUBFN_OFFLINE", _read_bool, False, "1/true: use the cache only, never the network",
            "offline="),
    Setting("retry.connect_timeout", "HUBFN_CONNECT_TIMEOUT", _read_float, 15.0, "seconds to connect",
            "timeout="),
    Setting("retry.read_timeout", "HUBFN_READ_TIMEOUT", _read_float, 60.0,
            "seconds without a byte before a read gives up", "timeout="),
    Setting("retry.retries", "HUBFN_RETRIES", _read_int, 4,
            "retries per request, and more attempts per download (hubfn.fetch.transport.retry)"),
    Setting("retry.backoff", "HUBFN_BACKOFF", _read_float, 1.0,
            "seconds before the first retry, doubled before each next one (at most 30)"),
    Setting("retry.max_retry_after", "HUBFN_MAX_RETRY_AFTER", _read_float, 120.0,
            "the longest Retry-After wait a server may ask for"),
    Setting("retry.refused_give_up", "HUBFN_REFUSED_GIVE_UP", _read_float, 3.0,
            "seconds to keep retrying a refused connection"),
    Setting("tokens", "HUBFN_TOKENS", _read_tokens, (),
            "\"host=token\" pairs, separated by commas or blanks: a bearer token per host", "token="),
    Setting("token_over_http", "HUBFN_TOKEN_OVER_HTTP", _read_bool, False,
            "1: also send tokens over plain http:// (never by default)", "token_over_http="),
    Setting("safe_mode", "HUBFN_SAFE_MODE", _read_bool, True,
            "0: load modules even when they hold ops that reach outside them (hubfn.safety)", "safe_mode="),
    Setting("allow_ops", "HUBFN_ALLOW_OPS", _read_ops, frozenset(),
            "op types allowed in safe mode, separated by commas (\"WriteFile,ReadFile\")", "allow_ops="),
    Setting("limits.max_bytes", "HUBFN_MAX_MODULE_BYTES", _read_int, 64 << 30,
            "largest unpacked module, in bytes (default 64 GiB)"),
    Setting("limits.max_files", "HUBFN_MAX_MODULE_FILES", _read_int, 200_000, "most members in a module archive"),
    Setting("limits.max_ratio", "HUBFN_MAX_RATIO", _read_int, 100,
            "largest expansion of the gzip stream past its first 256 MiB (a decompression bomb's is far larger)"),
    Setting("inflate_threads", "HUBFN_INFLATE_THREADS", _read_int, 0,
            "threads inflating a `hubfn pack` archive's blocks (0: the CPUs, at most 4; 1: serially)"),
    Setting("download_connections", "HUBFN_DOWNLOAD_CONNECTIONS", _read_int, 16,
            "concurrent range requests for one archive when its storage host allows them (1: one connection; "
            "hubfn.fetch.ranged)"),
    Setting("download_part_mb", "HUBFN_DOWNLOAD_PART_MB", _read_int, 8,
            "MiB per range request of a parallel download; an archive no larger is fetched over one connection"),
    Setting("progress", "TFHUB_DOWNLOAD_PROGRESS", _read_progress, False,
            "set and not 0/false: a progress bar even when stderr is not a terminal"),
    Setting("disable_cert_validation", "TFHUB_DISABLE_CERT_VALIDATION", _read_tfhub_flag, False,
            "exactly \"true\": skip TLS certificate checks (as tensorflow_hub reads it)"),
    Setting("ca_bundle", "REQUESTS_CA_BUNDLE", _read_first_path("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"),
            None, "a CA bundle to check certificates against (else CURL_CA_BUNDLE, else SSL_CERT_FILE)"),
    Setting("load_format", "TFHUB_MODEL_LOAD_FORMAT", _text, "AUTO",
            "AUTO or COMPRESSED (what hubfn does); UNCOMPRESSED is refused (as tensorflow_hub reads it)"),
    Setting("kaggle_endpoint", "KAGGLE_API_ENDPOINT", _text, KAGGLE_ENDPOINT,
            "Kaggle's site and API (as kagglehub reads it)"),
    Setting("kaggle_username", "KAGGLE_USERNAME", _text, None, "Kaggle user name, with KAGGLE_KEY"),
    Setting("kaggle_key", "KAGGLE_KEY", _text, None, "Kaggle API key (never printed)"),
    Setting("kaggle_config_dir", "KAGGLE_CONFIG_DIR", _read_path, None,
            "where kaggle.json is (default ~/.kaggle)"),
    Setting("quiet_tf", "HUBFN_QUIET_TF", _read_bool, True,
            "0: show TensorFlow's CUDA probing lines on a machine without a GPU (hubfn.util.tfimport)", None),
    Setting("source_date_epoch", "SOURCE_DATE_EPOCH", _text, None,
            "the mtime written into packed archives (reproducible builds; default 2000-01-01)", None),
)
_BY_NAME = {s.name: s for s in TABLE}


def _default(name):
    """The table's default for a field, so the value classes below state no default of their own."""
    return _BY_NAME[name].default


# Read on hubfn's behalf by requests (proxies, ~/.netrc's location), not by hubfn itself.
REQUESTS_VARIABLES = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                      "NO_PROXY", "ALL_PROXY", "NETRC")


def environment_names() -> tuple:
    """Every environment variable a hubfn call depends on: the table's, in its order (with the CA bundle's
    other two names), then those requests reads for it. R's bindings copy these into Python before a call."""
    return tuple(s.env for s in TABLE) + ("CURL_CA_BUNDLE", "SSL_CERT_FILE") + REQUESTS_VARIABLES


def process_setting(name: str):
    """A process-wide setting's value (quiet_tf, source_date_epoch), read from the environment now."""
    s = _BY_NAME[name]
    if s.per_call is not None:
        raise KeyError(f"{name} is a setting of each call: read it from a Settings value")
    return s.read(s.env, s.default)


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


def _positive(instance, attribute, value):
    if not (value > 0 and math.isfinite(value)):
        raise errors.HandleError(f"{attribute.name} must be a positive number, not {value!r}.")


def _not_negative(instance, attribute, value):
    if not (value >= 0 and math.isfinite(value)):
        raise errors.HandleError(f"{attribute.name} must be zero or more, not {value!r}.")


MAX_WAIT = 30.0  # the longest wait between two attempts


@attrs.frozen
class RetryPolicy:
    """How hard a fetch tries (hubfn.fetch.transport.retry applies it): counts, waits, timeouts and the worst case."""

    retries: int = attrs.field(default=_default("retry.retries"), validator=_not_negative)
    backoff: float = attrs.field(default=_default("retry.backoff"), validator=_not_negative)
    connect_timeout: float = attrs.field(default=_default("retry.connect_timeout"), validator=_positive)
    read_timeout: float = attrs.field(default=_default("retry.read_timeout"), validator=_positive)
    max_retry_after: float = attrs.field(default=_default("retry.max_retry_after"), validator=_not_negative)
    refused_give_up: float = attrs.field(default=_default("retry.refused_give_up"), validator=_not_negative)

    def wait(self, k):
        """w(k): seconds to wait before the k-th retry (1-based), doubling, at most MAX_WAIT."""
        return min(self.backoff * 2.0 ** min(k - 1, 64), MAX_WAIT)  # (the exponent capped: no overflow)

    def worst_case_seconds(self):
        """(R + 1) * (C + T) + w(1) + ... + w(R): the longest a download spends without receiving bytes."""
        attempts = max(self.retries, 0) + 1
        return attempts * (self.connect_timeout + self.read_timeout) + sum(map(self.wait, range(1, attempts)))


@attrs.frozen
class ArchiveLimits:
    """What an archive may unpack to (hubfn.fetch.store.archive and extract check them)."""

    max_bytes: int = attrs.field(default=_default("limits.max_bytes"), validator=_positive)
    max_files: int = attrs.field(default=_default("limits.max_files"), validator=_positive)
    max_ratio: int = attrs.field(default=_default("limits.max_ratio"), validator=_positive)


def _load_format(instance, attribute, value):
    if value not in ("AUTO", "COMPRESSED", "UNCOMPRESSED"):
        raise errors.HandleError(f"TFHUB_MODEL_LOAD_FORMAT={value!r} is not one of AUTO, COMPRESSED, "
                                 "UNCOMPRESSED (as tensorflow_hub reads it).")


def _endpoint(instance, attribute, value):
    parts = urllib.parse.urlsplit(value)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise errors.HandleError(f"KAGGLE_API_ENDPOINT={value!r} is not an http(s) URL; set it to Kaggle's "
                                 f"address ({KAGGLE_ENDPOINT}) or unset it.")


MAX_CONNECTIONS = 64  # concurrent range requests for one archive: beyond this a storage host sees abuse


def _connections(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_CONNECTIONS:
        raise errors.HandleError(f"HUBFN_DOWNLOAD_CONNECTIONS (download_connections) must be a whole number from 1 "
                                 f"to {MAX_CONNECTIONS}, not {value!r}.")


def _part_mb(instance, attribute, value):
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096:
        raise errors.HandleError(f"HUBFN_DOWNLOAD_PART_MB (download_part_mb) must be a whole number of MiB from 1 "
                                 f"to 4096, not {value!r}.")


@attrs.frozen
class Settings:
    """Everything a call needs to know from outside; immutable, so a call cannot change another's.
    Each field is a row of TABLE (see there for its variable, default and meaning)."""

    cache_dir: str = attrs.field(factory=_default_cache_dir)
    offline: bool = False
    retry: RetryPolicy = attrs.field(factory=RetryPolicy)
    # ((host, token), ...), matched by host_key; repr=False: a token is never printed.
    tokens: tuple = attrs.field(default=(), converter=_tokens, repr=False)
    # token= of one call: for the host its handle names (the resolver knows which: a Kaggle handle's is
    # Kaggle's API host), and no other.
    handle_token: str | None = attrs.field(default=None, repr=False)
    token_over_http: bool = False
    use_netrc: bool = True  # ~/.netrc (or $NETRC, as requests reads it) for hosts without a token
    # Modules are untrusted code (hubfn.safety): refuse one holding ops that reach outside it, unless the op
    # type is allowed here.
    safe_mode: bool = True
    allow_ops: frozenset = attrs.field(default=frozenset(), converter=lambda v: parse_ops(v))
    limits: ArchiveLimits = attrs.field(factory=ArchiveLimits)
    inflate_threads: int = attrs.field(default=0, validator=_not_negative)
    download_connections: int = attrs.field(default=_default("download_connections"), validator=_connections)
    download_part_mb: int = attrs.field(default=_default("download_part_mb"), validator=_part_mb)
    progress: bool = False
    disable_cert_validation: bool = False
    ca_bundle: str | None = None
    load_format: str = attrs.field(default="AUTO", validator=_load_format)
    kaggle_endpoint: str = attrs.field(default=KAGGLE_ENDPOINT, converter=lambda v: v.rstrip("/"),
                                       validator=_endpoint)
    kaggle_username: str | None = attrs.field(default=None, repr=False)
    kaggle_key: str | None = attrs.field(default=None, repr=False)
    kaggle_config_dir: str | None = None

    @property
    def connect_timeout(self):
        return self.retry.connect_timeout

    @property
    def read_timeout(self):
        return self.retry.read_timeout

    @classmethod
    def from_env(cls) -> "Settings":
        """The environment's settings, every row of TABLE read now (at a public function's door)."""
        fields, parts = {}, {"retry": {}, "limits": {}}
        for s in TABLE:
            if s.per_call is None:
                continue
            value = s.read(s.env, s.default)
            part, _, field = s.name.rpartition(".")
            if value is not None:  # None: the field's own default
                (parts[part] if part else fields)[field] = value
        return cls(retry=RetryPolicy(**parts["retry"]), limits=ArchiveLimits(**parts["limits"]), **fields)

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
            connect, read = _as_timeouts(timeout)
            changes["retry"] = attrs.evolve(settings.retry, connect_timeout=connect, read_timeout=read)
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
