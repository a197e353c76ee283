"""HTTP for module downloads: one requests session, timeouts, retries, and status -> typed errors.

Nothing here imports TensorFlow: fetching runs in many short-lived processes (and in the tests'
subprocesses), where a TF import would cost seconds each.

Settings come from the environment, read at call time so tests and long-lived programs can change them:
  HUBFN_CONNECT_TIMEOUT (s, default 15)   HUBFN_READ_TIMEOUT (s, default 60: no byte for that long)
  HUBFN_RETRIES (default 4)                HUBFN_BACKOFF (first wait in s, default 1, doubled each time)
  HUBFN_MAX_RETRY_AFTER (s, default 120: longest Retry-After honoured)
  HUBFN_REFUSED_GIVE_UP (s, default 3: how long to retry a refused connection)
  TFHUB_DISABLE_CERT_VALIDATION=true       (as in tensorflow_hub; warns)
Retries run inside urllib3 (hubfn.fetch.retry.Policy on the session's adapters), one layer per request.
Proxies (HTTP(S)_PROXY, NO_PROXY) and CA bundles (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE)
come from the usual variables.
"""

import os
import threading
import time
import urllib.parse
import warnings

import attrs
import requests

from .. import errors
from ..util.env import env_number, tfhub_flag
from . import retry

FORMAT_PARAM = "tf-hub-format"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
CHUNK = 1 << 20

_local = threading.local()  # a requests.Session is not documented as thread-safe: one per thread


@attrs.frozen
class Settings:
    connect_timeout: float
    read_timeout: float
    retries: int
    backoff: float
    max_retry_after: float
    refused_give_up: float = 3.0

    @classmethod
    def from_env(cls):
        return cls(connect_timeout=env_number("HUBFN_CONNECT_TIMEOUT", 15),
                   read_timeout=env_number("HUBFN_READ_TIMEOUT", 60),
                   retries=env_number("HUBFN_RETRIES", 4, int),
                   backoff=env_number("HUBFN_BACKOFF", 1.0),
                   max_retry_after=env_number("HUBFN_MAX_RETRY_AFTER", 120),
                   refused_give_up=env_number("HUBFN_REFUSED_GIVE_UP", 3.0))

    def policy(self):
        """The urllib3 Retry that carries these settings (hubfn.fetch.retry)."""
        return retry.Policy.make(self.retries, self.backoff, self.refused_give_up, self.max_retry_after)

    def wait(self, attempt):
        """Seconds to sleep before resuming a broken body for the `attempt`-th time (1-based): the same
        doubling backoff, with the same cap, as between the retries of one request (hubfn.fetch.retry)."""
        return min(self.backoff * 2 ** (attempt - 1), retry.MAX_WAIT)


def download_url(handle: str) -> str:
    """The URL to GET for `handle`: archive URLs as they are, others with ?tf-hub-format=compressed.

    Other query parameters are kept, and an explicit tf-hub-format is left alone.
    """
    parts = urllib.parse.urlsplit(handle)
    if parts.path.lower().endswith(ARCHIVE_SUFFIXES):
        return handle
    # The query is kept byte for byte: re-encoding it would turn "?flag" into "?flag=" and "%20" into
    # "+", which some servers (and signed URLs) do not take for the same thing.
    names = [field.split("=", 1)[0] for field in parts.query.split("&")] if parts.query else []
    if any(urllib.parse.unquote_plus(n) == FORMAT_PARAM for n in names):
        return handle
    base, hash_, fragment = handle.partition("#")
    sep = "" if base.endswith(("?", "&")) else ("&" if parts.query else "?")
    return f"{base}{sep}{FORMAT_PARAM}=compressed{hash_}{fragment}"


def session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.headers["User-Agent"] = "hubfn"
        # The archive's own bytes: no transparent decoding, so byte counts match Content-Length.
        s.headers["Accept-Encoding"] = "identity"
        _local.session = s
    return s


def verify_setting():
    """requests' `verify`: False when TFHUB_DISABLE_CERT_VALIDATION=true, else a CA bundle or True."""
    if tfhub_flag("TFHUB_DISABLE_CERT_VALIDATION"):
        if not getattr(_local, "warned_cert", False):
            _local.warned_cert = True
            warnings.warn("TFHUB_DISABLE_CERT_VALIDATION=true: TLS certificates are not checked; "
                          "only do this for servers you trust.", stacklevel=3)
        return False
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE"):
        if os.environ.get(name):
            return os.environ[name]
    return True


@attrs.frozen
class Response:
    """An open, successful (200/206) streaming response and what we learned from its headers."""

    raw: requests.Response
    url: str  # the URL asked for (before redirects)
    final_url: str
    start: int  # offset of the first body byte in the archive (>0 only for a 206)
    length: int | None  # body bytes promised by Content-Length (None when unknown)
    total: int | None  # whole archive size, when known
    validator: str | None  # ETag or Last-Modified, for If-Range on a later resume
    accepts_ranges: bool

    def chunks(self):
        """The body as raw bytes (no content decoding), as soon as they arrive (at most 1 MiB each).

        read1, not read: read(n) waits to fill n bytes, and a connection that breaks meanwhile takes
        everything received since the last chunk with it, which a resume would then fetch again.
        """
        raw = self.raw.raw
        while True:
            data = raw.read1(CHUNK, decode_content=False)
            if not data:
                return
            yield data

    def close(self):
        self.raw.close()


def body_start(resp: requests.Response, limit=300) -> str:
    try:
        data = next(resp.raw.stream(limit, decode_content=True), b"")
    except Exception:  # the body of an error answer is a courtesy; never fail on it
        return ""
    return quote(data[:limit])


def quote(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    text = " ".join(text.split())
    return repr(text[:200] + ("…" if len(text) > 200 else ""))


def status_error(resp: requests.Response, url: str) -> errors.FetchError:
    code = resp.status_code
    start = body_start(resp)
    said = f" The server said: {start}" if start and start != "''" else ""
    if code == 404 or code == 410:
        return errors.RemoteNotFoundError(
            f"Module URL {url} was not found (HTTP {code}). Check the handle for typos.{said}")
    if code in (401, 403):
        return errors.AccessError(
            f"Module URL {url}: access refused (HTTP {code}). The server wants credentials or does not "
            f"publish this module to you.{said}")
    return errors.FetchError(f"Module URL {url}: the server answered HTTP {code} {resp.reason}.{said}")


def open_archive(url: str, settings: Settings, start=0, validator=None) -> Response:
    """GET `url` (from byte `start`, guarded by `validator`), retrying connection errors, 429 and 5xx.

    A 206 only comes back when the server honoured the range; a 200 means "from the beginning".
    """
    headers = {}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    s = session()
    for adapter in s.adapters.values():  # redirects may cross from http to https: set both
        adapter.max_retries = settings.policy()
    began = time.monotonic()
    try:
        resp = s.get(url, headers=headers, stream=True, verify=verify_setting(),
                     timeout=(settings.connect_timeout, settings.read_timeout))
    except requests.exceptions.SSLError as e:
        raise errors.FetchError(
            f"Module URL {url}: TLS error ({_reason(e)}). Set REQUESTS_CA_BUNDLE to your CA bundle, or "
            "TFHUB_DISABLE_CERT_VALIDATION=true for a server you trust.") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise errors.FetchError(
            f"Module URL {url}: could not connect ({_reason(e)}); gave up after "
            f"{time.monotonic() - began:.1f} s. Check the URL and your network (proxy settings: HTTPS_PROXY / "
            "NO_PROXY), or try again later.") from None
    except requests.exceptions.RequestException as e:
        raise errors.FetchError(f"Module URL {url}: {e}") from None
    except OSError as e:  # requests reports a CA bundle path that does not exist this way
        raise errors.FetchError(f"Module URL {url}: {e}. Check REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / "
                                "SSL_CERT_FILE.") from None
    if resp.status_code in (200, 206):
        return _accepted(resp, url, start)
    if resp.status_code == 416 and start > 0:
        resp.close()  # our partial file is no longer a prefix of what is served: start over
        return open_archive(url, settings, 0, None)
    if resp.status_code not in retry.RETRY_STATUS:
        err = status_error(resp, url)
        resp.close()
        raise err
    used = getattr(resp.raw, "retries", None)
    attempts = used.attempts() if isinstance(used, retry.Policy) else settings.retries + 1
    err = errors.FetchError(
        f"Module URL {url}: HTTP {resp.status_code} {resp.reason}, after {attempts} attempts. Check the URL "
        "and your network (proxy settings: HTTPS_PROXY / NO_PROXY), or try again later.")
    resp.close()
    raise err


def _reason(e):
    """The innermost cause of a requests/urllib3 error, said briefly (no 'Max retries exceeded' noise)."""
    reason = e.args[0] if e.args else e
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError holds the last error
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    return f"{type(reason).__name__}: {text}"[:300]


def _accepted(resp, url, start) -> Response:
    h = resp.headers
    length = int(h["Content-Length"]) if h.get("Content-Length", "").isdigit() else None
    validator = h.get("ETag") or h.get("Last-Modified")
    if validator and validator.startswith("W/"):
        validator = None  # weak ETags may not guard byte ranges (RFC 9110 13.1.5)
    first = 0
    total = length
    if resp.status_code == 206:
        first, total = _content_range(h.get("Content-Range", ""), url)
        if first != start:
            resp.close()
            raise errors.FetchError(f"Module URL {url}: asked for bytes from {start}, got a range from "
                                    f"{first}. The server's range support looks broken.")
    return Response(raw=resp, url=url, final_url=resp.url, start=first, length=length, total=total,
                    validator=validator, accepts_ranges="bytes" in h.get("Accept-Ranges", "").lower()
                    or resp.status_code == 206)


def _content_range(value, url):
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        first = int(span.split("-", 1)[0])
        return first, (int(total) if total.strip().isdigit() else None)
    except ValueError:
        raise errors.FetchError(f"Module URL {url}: bad Content-Range header {value!r}.") from None
