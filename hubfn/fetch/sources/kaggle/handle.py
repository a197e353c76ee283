"""Kaggle model handles: `kaggle:owner/model/framework/variation[/version]` and the model page URLs of
Kaggle's site, parsed into a ModelRef; and the cheap test of whether an http(s) URL is such a page.

Importing this costs nothing of the download stack: the resolvers ask `is_page` of every http(s) handle.
"""

import re
import urllib.parse

import attrs

from .... import errors, handles
from ....settings import host_key

EXAMPLE = "kaggle:google/bert/tensorFlow2/answer-equivalence-bem/3"
_SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # Kaggle's slugs; nothing that needs quoting in a path


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


def site_hosts(endpoint: str) -> frozenset:
    """The hosts (host_key form) whose /models/ pages are Kaggle models: the endpoint's, with and
    without "www." (kaggle.com and www.kaggle.com serve the same pages)."""
    host = host_key(endpoint)
    bare = host[4:] if host.startswith("www.") else host
    return frozenset({host, bare, "www." + bare})


def is_page(handle: str, endpoint: str) -> bool:
    """Whether `handle` is a URL below /models/ on Kaggle's site, `endpoint` (Settings.kaggle_endpoint; see
    site_hosts). Malformed ones count too, so that `parse` says what form it expects instead of
    downloading a web page."""
    if handles.handle_kind(handle) != handles.HTTP:
        return False
    parts = urllib.parse.urlsplit(handle)
    if not parts.path.startswith("/models/"):
        return False
    hosts = site_hosts(endpoint)
    try:
        return host_key(handle) in hosts
    except errors.HandleError:  # a port that is not a number: the http resolver says so
        return False
