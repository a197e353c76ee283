"""Status -> typed errors: what a refusing answer means, said with the URL, the hop that refused and the
first words of the body; and how messages show URLs and redirect chains (a signed URL's signature left out).
"""

import urllib.parse

import requests

from ... import errors


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
    where = f"Module URL {url}" + (f" (redirected to {short(hop)})" if hop and hop != url else "")
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


def short(url):
    """A URL for messages: a signed URL's long query (its signature) is left out."""
    parts = urllib.parse.urlsplit(url)
    if len(parts.query) > 80:
        return urllib.parse.urlunsplit(parts._replace(query="…"))
    return url


def chain_text(chain):
    return " -> ".join(short(u) for u in chain)
