"""HTTP for module downloads: one requests session, timeouts, retries, redirect chains, credentials,
and status -> typed errors.

Nothing here imports TensorFlow: fetching runs in many short-lived processes (and in the tests'
subprocesses), where a TF import would cost seconds each.

The settings of a fetch (timeouts, retries, tokens) are one hubfn.settings.Settings value, made per call
from the caller's arguments and the environment. TFHUB_DISABLE_CERT_VALIDATION=true skips TLS checks (as
in tensorflow_hub; warns). Retries run inside urllib3 (hubfn.fetch.retry.RequestRetry on the session's
adapters), within the time budget of the download (hubfn.fetch.retry.Budget), which also cuts each
attempt's timeouts to what is left of it. Proxies (HTTP(S)_PROXY, NO_PROXY) and CA bundles
(REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE) come from the usual variables.

Redirects are followed here, hop by hop, not by requests: tfhub.dev answers with a redirect to Kaggle
Models, which redirects to a signed storage URL on another host. Each hop is checked (https is never
downgraded to http, at most MAX_REDIRECTS hops, no loops), gets only its own host's credentials
(hubfn.fetch.auth), and the URL the chain ended at is kept so a broken download can resume there
(hubfn.fetch.download). The query of each Location is used exactly as sent: signed URLs depend on it.
"""

import base64
import binascii
import threading
import urllib.parse
import warnings

import attrs
import requests
import urllib3

from .. import errors, settings as settings_mod
from . import auth, retry

FORMAT_PARAM = "tf-hub-format"
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
CHUNK = 1 << 20
MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# tensorflow_hub downloads handles on the China mirror straight from its storage host (same layout).
CN_HUB = "https://hub.tensorflow.google.cn/"
CN_ARCHIVE = "https://gcs.tensorflow.google.cn/tfhub-modules/{}.tar.gz"

_local = threading.local()  # a requests.Session is not documented as thread-safe: one per thread

# Kept under its old name: the settings of one fetch are hubfn.settings.Settings.
Settings = settings_mod.Settings


def policy(settings):
    """The urllib3 Retry of one request outside a download (no time budget): hubfn.fetch.retry's."""
    return retry.request_retry(settings.retry)


def download_url(handle: str, settings: Settings) -> str:
    """The URL to GET for `handle`: archive URLs as they are, others with ?tf-hub-format=compressed.

    Other query parameters are kept, and an explicit tf-hub-format is left alone. A handle on
    hub.tensorflow.google.cn is fetched from that mirror's storage host, as tensorflow_hub does.
    """
    _check_load_format(handle, settings.load_format)
    if handle.startswith(CN_HUB):
        return CN_ARCHIVE.format(handle[len(CN_HUB):])
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


def _check_load_format(handle, value):
    """TFHUB_MODEL_LOAD_FORMAT as tensorflow_hub reads it: COMPRESSED and AUTO download the archive
    (what hubfn always does); UNCOMPRESSED, reading the SavedModel straight from its gs:// bucket with
    no cache, is not something hubfn does, so it says so instead of quietly doing something else."""
    if value == "UNCOMPRESSED":
        raise errors.UnsupportedHandleError(
            f"Module URL {handle}: TFHUB_MODEL_LOAD_FORMAT=UNCOMPRESSED asks to read the module from its "
            "gs:// storage bucket without caching it; hubfn does not read gs:// locations. It downloads the "
            "compressed archive into the cache instead: unset TFHUB_MODEL_LOAD_FORMAT (or set it to "
            "COMPRESSED) for hubfn.")


def session() -> requests.Session:
    s = getattr(_local, "session", None)
    if s is None:
        s = requests.Session()
        s.headers["User-Agent"] = "hubfn"
        # The archive's own bytes: no transparent decoding, so byte counts match Content-Length.
        s.headers["Accept-Encoding"] = "identity"
        _local.session = s
    return s


def verify_setting(settings):
    """requests' `verify`: False when TFHUB_DISABLE_CERT_VALIDATION=true, else a CA bundle or True."""
    if settings.disable_cert_validation:
        if not getattr(_local, "warned_cert", False):
            _local.warned_cert = True
            warnings.warn("TFHUB_DISABLE_CERT_VALIDATION=true: TLS certificates are not checked; "
                          "only do this for servers you trust.", stacklevel=3)
        return False
    return settings.ca_bundle or True


@attrs.frozen
class Response:
    """An open, successful (200/206) streaming response and what we learned from its headers."""

    raw: requests.Response
    url: str  # the URL asked for (before redirects)
    final_url: str  # the URL that answered: the end of the redirect chain
    start: int  # offset of the first body byte in the archive (>0 only for a 206)
    length: int | None  # body bytes promised by Content-Length (None when unknown)
    total: int | None  # whole archive size, when known
    validator: str | None  # ETag or Last-Modified, for If-Range on a later resume
    accepts_ranges: bool
    md5: str | None = None  # the whole archive's MD5 the server states (base64), from x-goog-hash
    chain: tuple = ()  # every URL asked, the first to the final one
    head: bytes = b""  # body bytes already read (to tell an HTML page from an archive)

    def chunks(self):
        """The body as raw bytes (no content decoding), as soon as they arrive (at most 1 MiB each).

        read1, not read: read(n) waits to fill n bytes, and a connection that breaks meanwhile takes
        everything received since the last chunk with it, which a resume would then fetch again.
        """
        if self.head:
            yield self.head
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


def status_error(resp: requests.Response, url: str, hop=None, held_back=False) -> errors.FetchError:
    """The typed error for a refusing answer to `url` (given by `hop`, a later URL of its chain)."""
    code = resp.status_code
    start = body_start(resp)
    said = f" The server said: {start}" if start and start != "''" else ""
    where = f"Module URL {url}" + (f" (redirected to {_short(hop)})" if hop and hop != url else "")
    if code == 404 or code == 410:
        return errors.RemoteNotFoundError(f"{where} was not found (HTTP {code}). Check the handle for typos.{said}")
    if code in (401, 403):
        if held_back:
            hint = (" A token (or ~/.netrc entry) is set for this host but was not sent, because the URL is "
                    "plain http://: use https://, or pass token_over_http=True (HUBFN_TOKEN_OVER_HTTP=1) for a "
                    "server you trust on this network.")
        else:
            hint = (" If it is a private hub, pass its token: token= (R: token =), HUBFN_TOKENS=host=token, "
                    "or a ~/.netrc entry for the host.")
        return errors.AccessError(f"{where}: access refused (HTTP {code}). The server wants credentials or "
                                  f"does not publish this module to you.{hint}{said}", handle=url,
                                  keywords=[("token_over_http", True)] if held_back else None)
    return errors.FetchError(f"{where}: the server answered HTTP {code} {resp.reason}.{said}")


def _short(url):
    """A URL for messages: a signed URL's long query (its signature) is left out."""
    parts = urllib.parse.urlsplit(url)
    if len(parts.query) > 80:
        return urllib.parse.urlunsplit(parts._replace(query="…"))
    return url


def chain_text(chain):
    return " -> ".join(_short(u) for u in chain)


def open_archive(url: str, settings: Settings, start=0, validator=None, via=None, extra_auth=(),
                 budget=None) -> Response:
    """GET `url` (from byte `start`, guarded by `validator`), following its redirect chain, retrying
    connection errors, 429 and 5xx within `budget` (a hubfn.fetch.retry.Budget; default: a new one).

    via: a URL an earlier response came from (the end of the chain last time). It is asked first, so a
    resume goes straight to the storage host; when it refuses (an expired signed URL answers 400, 403 or
    410) the chain is followed again from `url`. extra_auth: (host, Authorization) pairs of a resolver.
    A 206 only comes back when the server honoured the range; a 200 means "from the beginning".
    """
    budget = budget or retry.start(settings.retry)
    headers = {}
    if start > 0:
        headers["Range"] = f"bytes={start}-"
        if validator:
            headers["If-Range"] = validator
    if via and via != url:
        resp, chain = _follow(via, settings, headers, extra_auth, url, budget)
        if resp.status_code in (200, 206):
            return _accepted(resp, url, start, chain, budget)
        resp.close()
        if 400 <= resp.status_code < 500:  # expired or revoked: ask the handle's own host again
            return open_archive(url, settings, start, validator, None, extra_auth, budget)
        _refused(resp, url, chain, settings, extra_auth, budget)
    resp, chain = _follow(url, settings, headers, extra_auth, url, budget)
    if resp.status_code in (200, 206):
        return _accepted(resp, url, start, chain, budget)
    if resp.status_code == 416 and start > 0:
        resp.close()  # our partial file is no longer a prefix of what is served: start over
        return open_archive(url, settings, 0, None, None, extra_auth, budget)
    _refused(resp, url, chain, settings, extra_auth, budget)


def _refused(resp, url, chain, settings, extra_auth, budget):
    if resp.status_code not in retry.RETRY_STATUS:
        err = status_error(resp, url, chain[-1], held_back=auth.would_send(chain[-1], settings, extra_auth))
        resp.close()
        raise err
    hop = f" (redirected to {_short(chain[-1])})" if chain[-1] != url else ""
    after = resp.headers.get("Retry-After")
    asked = f" (it asked to wait: Retry-After: {after})" if after and budget.ran_out else ""
    err = errors.FetchError(
        f"Module URL {url}{hop}: HTTP {resp.status_code} {resp.reason}, {budget.said(budget.tries)}{asked}. Check "
        "the URL and your network (proxy settings: HTTPS_PROXY / NO_PROXY), or try again later.")
    resp.close()
    raise err


def _follow(first, settings, headers, extra_auth, url, budget):
    """GET `first` and the redirects it leads to: (the first non-redirect response, the chain of URLs)."""
    s = session()
    retries = retry.request_retry(budget.policy, budget)
    for adapter in s.adapters.values():  # a chain may cross from http to https: set both
        adapter.max_retries = retries
    chain = [first]
    hop = first
    while True:
        resp = _get(s, hop, headers, settings, extra_auth, url, budget)
        if resp.status_code not in REDIRECTS or "Location" not in resp.headers:
            return resp, tuple(chain)
        location = resp.headers["Location"]
        resp.close()
        nxt = urllib.parse.urljoin(hop, location.strip())
        scheme = urllib.parse.urlsplit(nxt).scheme.lower()
        if scheme not in ("http", "https"):
            raise errors.FetchError(f"Module URL {url}: a redirect leads to {_short(nxt)}, which is not an "
                                    f"http(s) URL; the chain was {chain_text(chain + [nxt])}.")
        if scheme == "http" and urllib.parse.urlsplit(hop).scheme.lower() == "https":
            raise errors.FetchError(
                f"Module URL {url}: refusing a redirect from https to plain http ({_short(hop)} -> {_short(nxt)}): "
                "the module would travel unprotected. Ask the hub's owner to redirect to https.")
        if nxt in chain:
            raise errors.FetchError(f"Module URL {url}: the redirects loop: {chain_text(chain + [nxt])}. "
                                    "The server is misconfigured; try again later or tell its owner.")
        chain.append(nxt)
        if len(chain) > MAX_REDIRECTS + 1:
            raise errors.FetchError(f"Module URL {url}: more than {MAX_REDIRECTS} redirects "
                                    f"({chain_text(chain)}); giving up.")
        hop = nxt


def _get(s, hop, headers, settings, extra_auth, url, budget):
    where = f"Module URL {url}" + (f" (redirected to {_short(hop)})" if hop != url else "")
    budget.check(where)
    budget.tries = 1
    try:
        return s.get(hop, headers=headers, stream=True, verify=verify_setting(settings), allow_redirects=False,
                     auth=auth.HopAuth(auth.header_for(hop, settings, extra_auth)), timeout=budget.timeout())
    except requests.exceptions.SSLError as e:
        raise errors.FetchError(
            f"{where}: TLS error ({_reason(e)}). Set REQUESTS_CA_BUNDLE to your CA bundle, or "
            "TFHUB_DISABLE_CERT_VALIDATION=true for a server you trust.") from None
    except (requests.exceptions.ConnectionError, requests.exceptions.Timeout) as e:
        raise errors.FetchError(
            f"{where}: {_failure(e, settings)}; gave up {budget.said(budget.tries)}. Check the URL and your "
            "network (proxy settings: HTTPS_PROXY / NO_PROXY), or try again later.") from None
    except requests.exceptions.RequestException as e:
        raise errors.FetchError(f"{where}: {e}") from None
    except OSError as e:  # requests reports a CA bundle path that does not exist this way
        raise errors.FetchError(f"{where}: {e}. Check REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / "
                                "SSL_CERT_FILE.") from None


def _failure(e, settings):
    """What went wrong with a request that never got an answer."""
    reason = getattr(e.args[0] if e.args else e, "reason", None)
    if isinstance(reason, urllib3.exceptions.ReadTimeoutError) or isinstance(e, requests.exceptions.ReadTimeout):
        return f"the server took the request but sent no answer in time (read timeout {settings.read_timeout:g} s)"
    return f"could not connect ({_reason(e)})"


def _reason(e):
    """The innermost cause of a requests/urllib3 error, said briefly (no 'Max retries exceeded' noise)."""
    reason = e.args[0] if e.args else e
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError holds the last error
    text = str(reason)
    if "Connection refused" in text:
        return "connection refused"
    return f"{type(reason).__name__}: {text}"[:300]


def _accepted(resp, url, start, chain, budget) -> Response:
    h = resp.headers
    budget.cut_read_timeout(resp.raw)
    head = _refuse_html(resp, url, chain)
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
    return Response(raw=resp, url=url, final_url=chain[-1], start=first, length=length, total=total,
                    validator=validator, accepts_ranges="bytes" in h.get("Accept-Ranges", "").lower()
                    or resp.status_code == 206, md5=_md5(resp), chain=tuple(chain), head=head)


def _refuse_html(resp, url, chain):
    """Bytes read from a body the server labels as HTML: an error if they are a page, else kept.

    A tfhub.dev model that was not moved to Kaggle redirects to a web page, and a private hub may
    redirect to its login page; both answer 200. Said here, with the chain, before any byte is cached.
    """
    kind = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
    if kind not in ("text/html", "application/xhtml+xml"):
        return b""
    from .archive import looks_like, quote_start  # the same sniffing the archive reader does

    try:
        head = resp.raw.read1(4096, decode_content=False) if resp.status_code == 200 else b""
    except Exception:  # a broken body is the download's business (resumed or reported there)
        return b""
    if looks_like(head) != "an HTML page":
        return head
    resp.close()
    via = f", reached through {chain_text(chain)}" if len(chain) > 1 else ""
    raise errors.NotAnArchiveError(
        f"Module URL {url}: the server sent an HTML page (a web page), not a module archive, at "
        f"{_short(chain[-1])}{via}. It starts with: {quote_start(head)}. The module may not be downloadable at this address (a tfhub.dev model "
        "that was not moved to Kaggle Models leads to a page), or the page asks you to log in (for a private "
        f"hub, pass token=). Open {_short(chain[-1])} in a browser to see which.")


def _md5(resp):
    """The archive's MD5 (base64) from `x-goog-hash: crc32c=..., md5=...` (Google Cloud Storage, behind
    Kaggle and tfhub.dev), or from Content-MD5 on a whole (200) body; None when not given or garbled."""
    for part in resp.headers.get("x-goog-hash", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "md5" and _is_md5(value.strip()):
            return value.strip()
    value = resp.headers.get("Content-MD5", "").strip()
    if resp.status_code == 200 and _is_md5(value):  # of a 206 it would be the range's, not the archive's
        return value
    return None


def _is_md5(value):
    try:
        return len(base64.b64decode(value, validate=True)) == 16
    except (binascii.Error, ValueError):
        return False


def _content_range(value, url):
    try:
        unit, rest = value.split(" ", 1)
        span, total = rest.split("/", 1)
        first = int(span.split("-", 1)[0])
        return first, (int(total) if total.strip().isdigit() else None)
    except ValueError:
        raise errors.FetchError(f"Module URL {url}: bad Content-Range header {value!r}.") from None
