"""The one HTTP path of hubfn's fetches: a budgeted GET, redirects followed hop by hop, credentials per host.

Archive downloads (hubfn.fetch.transport.ranged) and Kaggle's API (hubfn.fetch.sources.kaggle) both GET
through `get`: one requests session per thread, one retry set-up (hubfn.fetch.transport.retry's
RequestRetry on the session's adapters, within the time budget of the fetch, which also cuts each
attempt's timeouts to what is left of it), the same credentials rule and the same errors for a request
that gets no answer. Proxies (HTTP(S)_PROXY, NO_PROXY) and CA bundles (REQUESTS_CA_BUNDLE,
CURL_CA_BUNDLE, SSL_CERT_FILE) come from the usual variables; TFHUB_DISABLE_CERT_VALIDATION=true skips
TLS checks (as in tensorflow_hub; warns).

Redirects are followed here, hop by hop, not by requests: tfhub.dev answers with a redirect to Kaggle
Models, which redirects to a signed storage URL on another host. Each hop is checked (https is never
downgraded to http, at most MAX_REDIRECTS hops, no loops) and gets only its own host's credentials
(hubfn.fetch.transport.auth); the chain is returned, so a broken download can resume at its end. The
query of each Location is used exactly as sent: signed URLs depend on it.

Nothing here imports TensorFlow: fetching runs in many short-lived processes (and in the tests'
subprocesses), where a TF import would cost seconds each.
"""

import threading
import urllib.parse
import warnings

import requests
import urllib3

from ... import errors
from . import auth, retry
from .status import chain_text, short

MAX_REDIRECTS = 10
REDIRECTS = frozenset({301, 302, 303, 307, 308})

_local = threading.local()  # a requests.Session is not documented as thread-safe: one per thread


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
        return False
    return settings.ca_bundle or True


def warn_if_unverified(settings):
    """Said at the start of every download made without certificate checks (Python's warning filters
    decide how often it shows), whichever thread or connections then carry it."""
    if settings.disable_cert_validation:
        warnings.warn("TFHUB_DISABLE_CERT_VALIDATION=true: TLS certificates are not checked; "
                      "only do this for servers you trust.", stacklevel=4)


def get(first, settings, budget, headers=None, extra_auth=(), follow=True, url=None, where=None):
    """GET `first` and, unless follow=False, the redirects it leads to, hop by hop: (the first response that
    is not a redirect, or with follow=False the first response; the chain of URLs asked).

    settings: the call's (hubfn.settings.Settings: certificates, tokens, netrc). budget: the
    hubfn.fetch.transport.retry.Budget the request spends from; its retries run inside urllib3. headers:
    sent to every hop. extra_auth: (host, Authorization) pairs for hosts a source speaks for
    (hubfn.fetch.transport.auth). url: the URL messages name (default `first`; a resume may start at the
    end of an earlier chain); where: how messages name it (default "Module URL <url>").
    A request that never gets an answer is a FetchError; any answer, a refusal included, is returned open
    (streaming): the caller reads or closes it (hubfn.fetch.transport.status says what a refusal means).
    """
    url = url or first
    where = where or f"Module URL {url}"
    headers = headers or {}
    s = session()
    retries = retry.request_retry(budget.policy, budget)
    for adapter in s.adapters.values():  # a chain may cross from http to https: set both
        adapter.max_retries = retries
    chain = [first]
    hop = first
    while True:
        resp = _get(s, hop, headers, settings, extra_auth, url, where, budget)
        if not follow or resp.status_code not in REDIRECTS or "Location" not in resp.headers:
            return resp, tuple(chain)
        location = resp.headers["Location"]
        resp.close()
        nxt = urllib.parse.urljoin(hop, location.strip())
        scheme = urllib.parse.urlsplit(nxt).scheme.lower()
        if scheme not in ("http", "https"):
            raise errors.FetchError(f"{where}: a redirect leads to {short(nxt)}, which is not an "
                                    f"http(s) URL; the chain was {chain_text(chain + [nxt])}.")
        if scheme == "http" and urllib.parse.urlsplit(hop).scheme.lower() == "https":
            raise errors.FetchError(
                f"{where}: refusing a redirect from https to plain http ({short(hop)} -> {short(nxt)}): "
                "the module would travel unprotected. Ask the hub's owner to redirect to https.")
        if nxt in chain:
            raise errors.FetchError(f"{where}: the redirects loop: {chain_text(chain + [nxt])}. "
                                    "The server is misconfigured; try again later or tell its owner.")
        chain.append(nxt)
        if len(chain) > MAX_REDIRECTS + 1:
            raise errors.FetchError(f"{where}: more than {MAX_REDIRECTS} redirects "
                                    f"({chain_text(chain)}); giving up.")
        hop = nxt


def _get(s, hop, headers, settings, extra_auth, url, where, budget):
    where = where + (f" (redirected to {short(hop)})" if hop != url else "")
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
