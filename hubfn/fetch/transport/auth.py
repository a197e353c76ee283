"""Which credentials a request carries: decided afresh for every URL of a redirect chain.

A token belongs to one host (hubfn.settings: token=, HUBFN_TOKENS), and a ~/.netrc entry to its machine.
Each hop of a redirect chain is asked separately, so a token for the hub is never sent to the storage
host the hub redirects to, and nothing is sent over plain http:// unless the settings say so.
Tokens go out as `Authorization: Bearer <token>`, netrc entries as HTTP Basic auth (as requests and
curl send them). Neither ever appears in a log line, an error, the cache or a descriptor.
"""

import base64
import urllib.parse

import requests
import requests.utils

from ...settings import host_key


class HopAuth(requests.auth.AuthBase):
    """requests' auth for one request: sets our header or none. Passing any auth object also stops
    requests from adding netrc credentials of its own (we decide, per hop, above)."""

    def __init__(self, header):
        self.header = header

    def __call__(self, r):
        if self.header:
            r.headers["Authorization"] = self.header
        return r

    def __repr__(self):  # never the header itself
        return f"HopAuth({'set' if self.header else 'none'})"


def header_for(url, settings, extra=()):
    """The Authorization value for a request to `url`, or None.

    extra: more (host_key, header value) pairs a source adds for the hosts it speaks for (e.g. Kaggle's
    Basic credentials), matched the same way.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme != "https" and not settings.token_over_http:
        return None
    key = host_key(url)
    for host, header in extra:
        if host == key:
            return header
    token = settings.token_for(url)
    if token is not None:
        return f"Bearer {token}"
    if settings.use_netrc:
        pair = requests.utils.get_netrc_auth(url)
        if pair:
            return basic(*pair)
    return None


def would_send(url, settings, extra=()):
    """Whether some credential exists for `url`'s host that the http:// rule holds back (for messages)."""
    if urllib.parse.urlsplit(url).scheme.lower() == "https" or settings.token_over_http:
        return False
    key = host_key(url)
    return (settings.token_for(url) is not None or any(h == key for h, _ in extra)
            or bool(settings.use_netrc and requests.utils.get_netrc_auth(url)))


def basic(user, password):
    raw = f"{user}:{password}".encode("utf-8")
    return "Basic " + base64.b64encode(raw).decode("ascii")
