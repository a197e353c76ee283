"""Kaggle's API (v1), as kagglehub calls it: the endpoint's URLs, the credentials for its host, the latest
version of a variation, and Kaggle's words for a refusal (what to check, what to accept, what to set).
"""

import json
import os

from .... import errors
from ....settings import Settings, host_key
from ...transport import auth, http, retry, status

MAX_JSON = 1 << 20  # an API answer is a few hundred bytes; more is not an answer to read whole
CREDENTIALS_HINT = ("set your Kaggle credentials: KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json "
                    "(kaggle.com > Settings > API > Create New Token; KAGGLE_CONFIG_DIR moves it), or pass token=")


def credentials(settings: Settings):
    """The Authorization value for Kaggle's API host, or None (public models need none)."""
    if settings.handle_token:
        return f"Bearer {settings.handle_token}"
    user, key = settings.kaggle_username, settings.kaggle_key
    if user and key:
        return auth.basic(user, key)
    folder = settings.kaggle_config_dir or os.path.expanduser(os.path.join("~", ".kaggle"))
    path = os.path.join(folder, "kaggle.json")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # the message names the position, never the file's content
        raise errors.AccessError(f"The Kaggle credentials file {path} cannot be read ({e}). Fix it (it holds "
                                 '{"username": ..., "key": ...}) or remove it for public models.') from None
    fields = [data.get(k) if isinstance(data, dict) else None for k in ("username", "key")]
    if not all(isinstance(v, str) and v.strip() for v in fields):
        raise errors.AccessError(f"The Kaggle credentials file {path} must hold {{\"username\": ..., \"key\": ...}} "
                                 "as kaggle.com writes it (Settings > API > Create New Token); fix or remove it.")
    return auth.basic(fields[0].strip(), fields[1].strip())


def auth_pairs(settings: Settings, endpoint: str) -> tuple:
    """The (host, Authorization) pair of Kaggle's API host, when there are credentials (hubfn.fetch.transport.auth)."""
    header = credentials(settings)
    return ((host_key(endpoint), header),) if header else ()


def latest_version(handle, ref, settings, endpoint, extra, known=None) -> int:
    """The version Kaggle calls the latest of `ref`'s variation ("versionNumber" of GET .../get).

    Asked through the download's own GET (hubfn.fetch.transport.http: session, timeouts, retry policy and a
    time budget of its own); redirects are not followed (the API answers JSON itself, and credentials must
    not travel on to another host). `known`: the version
    recorded earlier, offered in the message when Kaggle cannot be reached.
    """
    url = ref.api_url(endpoint, "get")
    try:
        resp, _ = http.get(url, settings, retry.start(settings.retry), headers={"Accept": "application/json"},
                           extra_auth=extra, follow=False,
                           where=f"Kaggle model {handle!r}: cannot ask Kaggle's API at {url} for the latest version")
    except errors.FetchError as e:
        hint = (f" Or pass offline=True to use version {known}, the latest when it was last resolved online."
                if known else "")
        raise type(e)(f"{e} Check KAGGLE_API_ENDPOINT too.{hint}") from None
    with resp:
        if resp.status_code != 200:
            raise _refusal(resp, handle, ref, url, endpoint, settings, extra)
        body = b"".join(_capped(resp))
    try:
        version = json.loads(body)["versionNumber"]
    except (ValueError, KeyError, TypeError):
        version = None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise errors.FetchError(f"Kaggle model {handle!r}: the API's answer at {url} names no latest version "
                                f"(no positive \"versionNumber\"); it starts with {status.quote(body)}. Name a "
                                "version in the handle (…/N), or check KAGGLE_API_ENDPOINT.")
    return version


def _capped(resp):
    size = 0
    for chunk in resp.iter_content(64 << 10):
        size += len(chunk)
        if size > MAX_JSON:
            raise errors.FetchError(f"Kaggle API answer {resp.url} is over {MAX_JSON} bytes: not the small JSON "
                                    "it should be. Check KAGGLE_API_ENDPOINT.")
        yield chunk


def _refusal(resp, handle, ref, url, endpoint, settings, extra):
    """The typed error for a non-200 answer of the API to `url`."""
    code = resp.status_code
    said = status.body_start(resp)
    said = f" Kaggle said: {said}" if said and said != "''" else ""
    if code in (404, 410):
        return errors.RemoteNotFoundError(f"{not_found(repr(handle), ref, endpoint)} (HTTP {code} from {url}).{said}")
    if code in (401, 403):
        held = auth.would_send(url, settings, extra)
        return errors.AccessError(f"{refused(repr(handle), ref, endpoint, held)} (HTTP {code} from {url}).{said}")
    if code in http.REDIRECTS:
        return errors.FetchError(
            f"Kaggle model {handle!r}: the API at {url} answered with a redirect (HTTP {code}, to "
            f"{resp.headers.get('Location', '?')}); hubfn asks the API only where KAGGLE_API_ENDPOINT points: "
            "set it to the API's address.")
    err = status.status_error(resp, url)  # 5xx after the retries, 400, ...: as for any URL, with the model named
    return type(err)(f"Kaggle model {handle!r}: {err}")


def not_found(name, ref, endpoint):
    """`name`: the model as messages call it (the handle as given, quoted)."""
    version = f" and version {ref.version}" if ref.version is not None else ""
    return (f"Kaggle model {name} was not found: check owner/model/framework/variation ({ref.at(None).path})"
            f"{version} against the model's page, {ref.page_url(endpoint)}")


def refused(name, ref, endpoint, held_back):
    if held_back:
        creds = (f"Kaggle credentials are set but were not sent, because {endpoint} is plain http://; pass "
                 "token_over_http=True (HUBFN_TOKEN_OVER_HTTP=1) for a server you trust")
    else:
        creds = CREDENTIALS_HINT
    return (f"Kaggle refused access to model {name}: accept the model's license on its page "
            f"{ref.page_url(endpoint)} (logged in to kaggle.com), and {creds}")
