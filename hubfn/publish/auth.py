"""Private hubs: the tokens `hubfn serve --token-file` requires of every request.

A client proves it may read the hub by sending one of the configured tokens, either as
`Authorization: Bearer TOKEN` or as the password of HTTP Basic auth (any user name), so that clients
which read credentials from ~/.netrc (requests, curl --netrc, R's download tools) work unchanged.
Anything else is answered 401 before the request is routed: the answer is the same for every path, so
it tells nothing about which modules exist, and costs no filesystem work an attacker could time.

A token is a secret: it is never logged, never part of an error message and never put on a page.
Errors about a token file name the file and the line, not what is on it.
"""

import base64
import binascii
import hmac
import logging

from .. import errors

log = logging.getLogger("hubfn")

REALM = "hubfn"
# Bearer first (what hubfn's own client sends); Basic too, so curl and browsers know to prompt.
CHALLENGES = (("WWW-Authenticate", f'Bearer realm="{REALM}"'), ("WWW-Authenticate", f'Basic realm="{REALM}"'))
_REFUSAL = (b"This hub is private: every request needs its token, sent as the header "
            b"'Authorization: Bearer TOKEN', or as the password of HTTP Basic auth (any user name; "
            b"e.g. a ~/.netrc line 'machine HOST login hubfn password TOKEN').\n")
_SHORT = 16  # fewer characters than this can be guessed; allowed, but the server warns


def _usable(token: str) -> bool:
    """Visible ASCII only: anything else cannot travel in an HTTP header the same way from every client."""
    return bool(token) and all("!" <= ch <= "~" for ch in token)


def read_token_file(path) -> tuple:
    """The tokens in `path`, one per line (several allow rotating them); surrounding whitespace and
    blank lines are ignored. Raises ServeError naming the file when it cannot be read or holds none."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise errors.ServeError(
            f"Cannot read the token file {path}: {e.strerror or e}. Give --token-file a readable file "
            f"holding the hub's token (one per line).") from None
    try:
        lines = data.decode("ascii").splitlines()
    except UnicodeDecodeError:
        raise errors.ServeError(
            f"The token file {path} is not plain ASCII text. A token must be visible ASCII characters "
            f"(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).") from None
    tokens = []
    for number, line in enumerate(lines, 1):
        token = line.strip()
        if not token:
            continue
        if not _usable(token):
            raise errors.ServeError(
                f"Line {number} of the token file {path} has a space or control character inside its "
                f"token; a token must be one word of visible ASCII characters.")
        tokens.append(token)
    if not tokens:
        raise errors.ServeError(
            f"The token file {path} is empty. Write the hub's token into it, e.g. "
            f"`python -c 'import secrets; print(secrets.token_urlsafe(32))' > {path}`.")
    return tuple(tokens)


class TokenCheck:
    """Decides whether a request carries one of the tokens, and answers those that do not."""

    def __init__(self, tokens):
        tokens = (tokens,) if isinstance(tokens, str) else tuple(tokens)
        if not tokens or not all(isinstance(t, str) and _usable(t) for t in tokens):
            raise errors.ServeError(
                "A hub token must be a non-empty string of visible ASCII characters (or a list of them); "
                "an empty token would let anyone in.")
        if any(len(t) < _SHORT for t in tokens):
            log.warning("hubfn serve: a token is shorter than %d characters and could be guessed; "
                        "`python -c 'import secrets; print(secrets.token_urlsafe(32))'` makes a good one.",
                        _SHORT)
        self._tokens = tuple(t.encode("ascii") for t in tokens)

    def allows(self, environ) -> bool:
        offered = _offered(environ.get("HTTP_AUTHORIZATION", ""))
        if offered is None:
            return False
        # Every token is compared, without stopping at the first match, so the time taken does not
        # say which one (if any) was close.
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(offered, token)
        if not matched:
            log.warning("hubfn serve: refused (bad token) from %s", environ.get("REMOTE_ADDR", "an unknown client"))
        return matched

    @staticmethod
    def refuse(environ, start_response):
        """The one 401 answer, whatever the path or method; never stored by any cache."""
        start_response("401 Unauthorized", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(_REFUSAL))),
            ("Cache-Control", "no-store"), *CHALLENGES])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [_REFUSAL]


def private_caching(start_response):
    """start_response for an authorized request: every answer is marked `private` (and never `public`),
    so a shared proxy does not keep a private module and hand it to someone without the token."""

    def start(status, headers, exc_info=None):
        headers = [_private(name, value) for name, value in headers]
        seen = any(name.lower() == "cache-control" for name, _ in headers)
        return start_response(status, headers if seen else [*headers, ("Cache-Control", "private")], exc_info)

    return start


def _private(name, value):
    if name.lower() != "cache-control":
        return name, value
    directives = [d.strip() for d in value.split(",") if d.strip() and d.strip().lower() != "public"]
    if not any(d.lower().startswith("private") for d in directives):
        directives.insert(0, "private")
    return name, ", ".join(directives)


def _offered(header: str):
    """The secret in an Authorization header as bytes: a Bearer token, or a Basic password; else None."""
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if not value:
        return None
    try:
        raw = value.encode("latin-1")  # how WSGI servers hand over header bytes
        if scheme.lower() == "bearer":
            return raw
        if scheme.lower() == "basic":
            _user, colon, password = base64.b64decode(raw, validate=True).partition(b":")
            return password if colon else None
    except (UnicodeError, binascii.Error, ValueError):
        pass  # not a credential we can read: the same as none
    return None
