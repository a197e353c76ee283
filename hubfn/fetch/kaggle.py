"""Kaggle Models: `kaggle:owner/model/framework/variation[/version]` and Kaggle's model page URLs,
fetched through Kaggle's public REST API (v1) into the cache shared with tensorflow_hub.

The two API calls, as kagglehub (Kaggle's own client) makes them:
    GET {endpoint}/api/v1/models/{owner}/{model}/{framework}/{variation}/get
        JSON about the variation; its "versionNumber" is the latest version
    GET {endpoint}/api/v1/models/{owner}/{model}/{framework}/{variation}/{version}/download
        a redirect to a signed storage URL (Google Cloud Storage) serving the .tar.gz with
        `x-goog-hash: crc32c=...,md5=...`; hubfn.fetch.cache follows it and checks the MD5
{endpoint} is $KAGGLE_API_ENDPOINT, else https://www.kaggle.com (Settings.kaggle_endpoint).

Handles; the page forms are the ones kaggle.com links to (tfhub.dev redirects to them):
    kaggle:google/bert/tensorFlow2/answer-equivalence-bem[/3]
    https://www.kaggle.com/models/google/bert/tensorFlow2/answer-equivalence-bem[/3]
    https://www.kaggle.com/models/google/bert/frameworks/tensorFlow2/variations/answer-equivalence-bem[/versions/3]
The framework goes to Kaggle as written: Kaggle takes any case (tensorFlow2, TensorFlow2), and kagglehub
passes it on unchanged too. Two spellings are two cache entries, as they are in kagglehub's cache.

Cache keys:
  - with a version: the handle as written. For a page URL that is the key tensorflow_hub uses for the
    same URL, so the two libraries share the entry.
  - without one: Kaggle is asked for the latest version N and the entry is the one of
    `kaggle:owner/model/framework/variation/N`, exactly as if that had been written. Which N "latest"
    meant is recorded in `<sha1(kaggle:owner/model/framework/variation)>.hubfn-latest.json` in the cache
    directory (a `.hubfn-` name: cache listings and tensorflow_hub ignore it), so that offline the same
    entry is used without any request. A page URL without a version shares that record.

Credentials go to the API host only (the storage URL carries its own signature, and hubfn.fetch.auth
sends a resolver's credentials to no other host of a redirect chain): token= of the call as a Bearer
token; else KAGGLE_USERNAME + KAGGLE_KEY, else kaggle.json in $KAGGLE_CONFIG_DIR (default ~/.kaggle), as
HTTP Basic auth (how kagglehub sends them). Public models need none. Nothing is sent over plain http://
unless token_over_http.

No TensorFlow import here (see hubfn.fetch).
"""

import datetime
import json
import logging
import os
import re
import urllib.parse

import attrs
import requests

from .. import errors, handles
from ..settings import Settings, host_key
from ..util import fs
from . import auth, cache, http
from .layout import Paths

log = logging.getLogger("hubfn")

EXAMPLE = "kaggle:google/bert/tensorFlow2/answer-equivalence-bem/3"
LATEST_SUFFIX = ".hubfn-latest.json"
MAX_JSON = 1 << 20  # an API answer is a few hundred bytes; more is not an answer to read whole
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # Kaggle's slugs; nothing that needs quoting in a path
CREDENTIALS_HINT = ("set your Kaggle credentials: KAGGLE_USERNAME and KAGGLE_KEY, or ~/.kaggle/kaggle.json "
                    "(kaggle.com > Settings > API > Create New Token; KAGGLE_CONFIG_DIR moves it), or pass token=")


@attrs.frozen
class ModelRef:
    """One Kaggle model variation, and one of its versions when `version` is set."""

    owner: str
    model: str
    framework: str
    variation: str
    version: int | None = None

    @property
    def path(self) -> str:
        """owner/model/framework/variation, then /version when there is one."""
        version = f"/{self.version}" if self.version is not None else ""
        return f"{self.owner}/{self.model}/{self.framework}/{self.variation}{version}"

    @property
    def handle(self) -> str:
        """The canonical handle, `kaggle:owner/model/framework/variation[/version]`."""
        return handles.KAGGLE_PREFIX + self.path

    def at(self, version) -> "ModelRef":
        return attrs.evolve(self, version=version)

    def api_url(self, endpoint, action) -> str:
        return f"{endpoint}/api/v1/models/{self.path}/{action}"

    def page_url(self, endpoint) -> str:
        return f"{endpoint}/models/{self.path}"


def parse(handle: str, endpoint: str) -> ModelRef:
    """The ModelRef of a `kaggle:` handle or a model page URL; a HandleError showing the forms if neither."""
    if handles.handle_kind(handle) == handles.KAGGLE:
        parts = handle[len(handles.KAGGLE_PREFIX):].split("/")
    else:
        parts = _page_parts(urllib.parse.urlsplit(handle).path)
    if len(parts) not in (4, 5) or not all(_SLUG.match(p) for p in parts[:4]):
        raise errors.HandleError(f"{handle!r} is not a Kaggle model handle. {_forms(endpoint)}")
    version = None
    if len(parts) == 5:
        if not parts[4].isdigit() or not parts[4].isascii() or int(parts[4]) < 1:
            raise errors.HandleError(f"{handle!r}: a Kaggle model version is a whole number from 1 up, not "
                                     f"{parts[4]!r}. {_forms(endpoint)}")
        version = int(parts[4])
    return ModelRef(*parts[:4], version=version)


def _page_parts(path):
    """[owner, model, framework, variation(, version)] from the path of either page form."""
    segs = [urllib.parse.unquote(s) for s in path.split("/")[2:]]  # after "" and "models"
    if segs and segs[-1] == "":
        segs.pop()  # one trailing slash, as a browser's address bar may leave
    words = [s.lower() for s in segs]
    if len(segs) in (6, 8) and words[2] == "frameworks" and words[4] == "variations":
        if len(segs) == 6:
            return [segs[0], segs[1], segs[3], segs[5]]
        if words[6] == "versions":
            return [segs[0], segs[1], segs[3], segs[5], segs[7]]
    return segs


def _forms(endpoint):
    return (f"Expected kaggle:owner/model/framework/variation[/version] (e.g. {EXAMPLE}), or a model page URL "
            f"{endpoint}/models/owner/model/framework/variation[/version] (or its older form "
            ".../models/owner/model/frameworks/framework/variations/variation[/versions/version]).")


# --- credentials ---------------------------------------------------------------------------------
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


def _extra_auth(settings, endpoint):
    header = credentials(settings)
    return ((host_key(endpoint), header),) if header else ()


# --- the latest version --------------------------------------------------------------------------
def latest_version(handle, ref, settings, endpoint, extra, known=None) -> int:
    """The version Kaggle calls the latest of `ref`'s variation ("versionNumber" of GET .../get).

    Asked with the download's session, timeouts and retry policy; redirects are not followed (the API
    answers JSON itself, and credentials must not travel on to another host). `known`: the version
    recorded earlier, offered in the message when Kaggle cannot be reached.
    """
    url = ref.api_url(endpoint, "get")
    s = http.session()
    retries = http.policy(settings)
    for adapter in s.adapters.values():
        adapter.max_retries = retries
    try:
        resp = s.get(url, headers={"Accept": "application/json"}, stream=True, verify=http.verify_setting(settings),
                     allow_redirects=False, auth=auth.HopAuth(auth.header_for(url, settings, extra)),
                     timeout=(settings.connect_timeout, settings.read_timeout))
    except requests.exceptions.RequestException as e:
        hint = (f" Or pass offline=True to use version {known}, the latest when it was last resolved online."
                if known else "")
        raise errors.FetchError(
            f"Kaggle model {handle!r}: cannot ask Kaggle's API at {endpoint} for the latest version "
            f"({_reason(e)}). Check your network (proxy settings: HTTPS_PROXY / NO_PROXY) and "
            f"KAGGLE_API_ENDPOINT, or try again later.{hint}") from None
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
                                f"(no positive \"versionNumber\"); it starts with {http.quote(body)}. Name a "
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


def _reason(e):
    if isinstance(e, requests.exceptions.SSLError):  # a certificate does not heal by waiting: say what helps
        return ("a TLS error: set REQUESTS_CA_BUNDLE to your CA bundle, or TFHUB_DISABLE_CERT_VALIDATION=true for "
                "a server you trust")
    return "connection refused" if "Connection refused" in str(e) else type(e).__name__


def _refusal(resp, handle, ref, url, endpoint, settings, extra):
    """The typed error for a non-200 answer of the API to `url`."""
    code = resp.status_code
    said = http.body_start(resp)
    said = f" Kaggle said: {said}" if said and said != "''" else ""
    if code in (404, 410):
        return errors.RemoteNotFoundError(f"{_not_found(repr(handle), ref, endpoint)} (HTTP {code} from {url}).{said}")
    if code in (401, 403):
        held = auth.would_send(url, settings, extra)
        return errors.AccessError(f"{_refused(repr(handle), ref, endpoint, held)} (HTTP {code} from {url}).{said}")
    if code in http.REDIRECTS:
        return errors.FetchError(
            f"Kaggle model {handle!r}: the API at {url} answered with a redirect (HTTP {code}, to "
            f"{resp.headers.get('Location', '?')}); hubfn asks the API only where KAGGLE_API_ENDPOINT points: "
            "set it to the API's address.")
    err = http.status_error(resp, url)  # 5xx after the retries, 400, ...: as for any URL, with the model named
    return type(err)(f"Kaggle model {handle!r}: {err}")


def _not_found(name, ref, endpoint):
    """`name`: the model as messages call it (the handle as given, quoted)."""
    version = f" and version {ref.version}" if ref.version is not None else ""
    return (f"Kaggle model {name} was not found: check owner/model/framework/variation ({ref.at(None).path})"
            f"{version} against the model's page, {ref.page_url(endpoint)}")


def _refused(name, ref, endpoint, held_back):
    if held_back:
        creds = (f"Kaggle credentials are set but were not sent, because {endpoint} is plain http://; pass "
                 "token_over_http=True (HUBFN_TOKEN_OVER_HTTP=1) for a server you trust")
    else:
        creds = CREDENTIALS_HINT
    return (f"Kaggle refused access to model {name}: accept the model's license on its page "
            f"{ref.page_url(endpoint)} (logged in to kaggle.com), and {creds}")


# --- which version "latest" meant -----------------------------------------------------------------
def latest_record(cache_dir, ref) -> str:
    """Where the latest version of `ref`'s variation is recorded (named from its unversioned handle)."""
    paths = Paths.for_handle(ref.at(None).handle, cache_dir)
    return os.path.join(paths.root, paths.key + LATEST_SUFFIX)


def read_latest(cache_dir, ref):
    """The version recorded as `ref`'s latest, or None (no record, or one that is not ours)."""
    try:
        with open(latest_record(cache_dir, ref), encoding="utf-8") as f:
            data = json.load(f)
        version = data["version"]
        if data["handle"] == ref.at(None).handle and isinstance(version, int) and version >= 1:
            return version
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def write_latest(cache_dir, ref, version):
    data = {"handle": ref.at(None).handle, "version": version, "entry_handle": ref.at(version).handle,
            "checked": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")}
    try:
        fs.write_text_atomically(latest_record(cache_dir, ref), json.dumps(data, indent=1))
    except OSError as e:  # a read-only shared cache: the entry is there, only offline use loses the record
        log.warning("Kaggle model %s: cannot record its latest version in %s (%s); offline, name the version "
                    "(%s).", data["handle"], cache_dir, e.strerror or e, data["entry_handle"])


# --- resolving ------------------------------------------------------------------------------------
def fetch(handle: str, settings: Settings) -> str:
    """The cache entry of the Kaggle model `handle` (a `kaggle:` handle or a page URL), downloaded once.

    Without a version, Kaggle is asked for the latest on every online call, unlike a URL, which is
    cached for good: leaving the version out means "follow new versions", and asking costs one small JSON
    request (the module itself is downloaded only when that version is not cached yet). Offline, the
    version recorded by the last online call is used, without any request.
    """
    endpoint = settings.kaggle_endpoint
    ref = parse(handle, endpoint)
    if ref.version is not None:
        return _fetch_version(handle, repr(handle), ref, settings, endpoint)
    if settings.offline:
        return _offline_latest(handle, ref, settings, endpoint)
    extra = _extra_auth(settings, endpoint)
    known = read_latest(settings.cache_dir, ref)
    version = latest_version(handle, ref, settings, endpoint, extra, known)
    if known is not None and known != version:
        log.info("Kaggle model %s: the latest version is now %d (was %d).", handle, version, known)
    pinned = ref.at(version)
    path = _fetch_version(pinned.handle, f"{handle!r} (version {version}, the latest)", pinned, settings,
                          endpoint, extra)
    write_latest(settings.cache_dir, ref, version)  # after the entry exists: a record never names a failure
    return path


def _fetch_version(key, name, ref, settings, endpoint, extra=None):
    """fetch_to_cache of `ref` (which has a version) under cache key `key`, with errors that name the model.
    `name`: how messages name it (the handle as given, quoted)."""
    if extra is None:
        extra = () if settings.offline else _extra_auth(settings, endpoint)
    url = ref.api_url(endpoint, "download")
    try:
        return cache.fetch_to_cache(key, settings, url=url, extra_auth=extra)
    except errors.RemoteNotFoundError as e:
        raise errors.RemoteNotFoundError(f"{_not_found(name, ref, endpoint)}. {_download_said(e)}") from None
    except errors.AccessError as e:
        held = auth.would_send(url, settings, extra)
        raise errors.AccessError(f"{_refused(name, ref, endpoint, held)}. {_download_said(e)}") from None
    except errors.FetchError as e:  # damaged, not an archive, unreachable: said by the fetch layer, about the URL
        raise type(e)(f"Kaggle model {name}: {e}") from None


def _download_said(e):
    """What a refused download's message says beyond its generic advice (which is about private hubs, not
    Kaggle): its first sentence (the URL, the hop that refused, the status) and what the server said."""
    text = str(e)
    said = text.partition(" The server said: ")[2]
    return text.split(". ", 1)[0] + "." + (f" The server said: {said}" if said else "")


def _offline_latest(handle, ref, settings, endpoint):
    version = read_latest(settings.cache_dir, ref)
    if version is None:
        raise errors.OfflineError(
            f"Kaggle model {handle!r} names no version, and no latest version is recorded in the cache "
            f"{settings.cache_dir} (one is recorded each time it is resolved online). HUBFN_OFFLINE (or "
            "offline=True) says to stay offline, so Kaggle cannot be asked. Resolve it once online, name a "
            "version (…/N), or unset HUBFN_OFFLINE.")
    pinned = ref.at(version)
    try:
        return cache.fetch_to_cache(pinned.handle, settings, url=pinned.api_url(endpoint, "download"))
    except errors.OfflineError as e:
        raise errors.OfflineError(f"Kaggle model {handle!r}: its latest version was {version} when last resolved "
                                  f"online, but {e}") from None
