"""The Kaggle locator: a Kaggle model handle -> the Location of the version to fetch (hubfn.fetch.cache).

Without a version, Kaggle is asked for the latest on every online call, unlike a URL, which is cached for
good: leaving the version out means "follow new versions", and asking costs one small JSON request (the
module itself is downloaded only when that version is not cached yet). Offline, the version recorded by
the last online call is used, without any request. Failures of the download are said in Kaggle's terms:
the model named, what to check, what to accept, what to set.
"""

import functools
import logging

import attrs

from .... import errors
from ....settings import Settings
from ...transport import auth
from ..location import Location
from . import api, latest
from .handle import parse

log = logging.getLogger("hubfn")


def locate(handle: str, settings: Settings) -> Location:
    """Where the Kaggle model `handle` (a `kaggle:` handle or a page URL) comes from: its download URL on
    the API, under the cache key of the handle (with a version) or of `kaggle:…/N` for the latest N."""
    endpoint = settings.kaggle_endpoint
    ref = parse(handle, endpoint)
    if ref.version is not None:
        return _pinned(handle, repr(handle), ref, settings, endpoint)
    if settings.offline:
        return _offline_latest(handle, ref, settings, endpoint)
    extra = api.auth_pairs(settings, endpoint)
    known = latest.read(settings.cache_dir, ref)
    version = api.latest_version(handle, ref, settings, endpoint, extra, known)
    if known is not None and known != version:
        log.info("Kaggle model %s: the latest version is now %d (was %d).", handle, version, known)
    pinned = ref.at(version)
    location = _pinned(pinned.handle, f"{handle!r} (version {version}, the latest)", pinned, settings, endpoint,
                       extra)
    # Recorded after the entry exists: a record never names a failure.
    return attrs.evolve(location, fetched=lambda _path: latest.write(settings.cache_dir, ref, version))


def _pinned(key, name, ref, settings, endpoint, extra=None) -> Location:
    """The Location of `ref` (which has a version) under cache key `key`, with errors that name the model.
    `name`: how messages name it (the handle as given, quoted)."""
    if extra is None:
        extra = () if settings.offline else api.auth_pairs(settings, endpoint)
    url = ref.api_url(endpoint, "download")
    return Location(key=key, url=url, auth=extra,
                    reword=functools.partial(_reword, name, ref, endpoint, url, settings, extra))


def _reword(name, ref, endpoint, url, settings, extra, e):
    if isinstance(e, errors.RemoteNotFoundError):
        return errors.RemoteNotFoundError(f"{api.not_found(name, ref, endpoint)}. {_download_said(e)}")
    if isinstance(e, errors.AccessError):
        held = auth.would_send(url, settings, extra)
        return errors.AccessError(f"{api.refused(name, ref, endpoint, held)}. {_download_said(e)}")
    if isinstance(e, errors.FetchError):  # damaged, not an archive, unreachable: said by the fetch, about the URL
        return type(e)(f"Kaggle model {name}: {e}")
    return e


def _download_said(e):
    """What a refused download's message says beyond its generic advice (which is about private hubs, not
    Kaggle): its first sentence (the URL, the hop that refused, the status) and what the server said."""
    text = str(e)
    said = text.partition(" The server said: ")[2]
    return text.split(". ", 1)[0] + "." + (f" The server said: {said}" if said else "")


def _offline_latest(handle, ref, settings, endpoint):
    version = latest.read(settings.cache_dir, ref)
    if version is None:
        raise errors.OfflineError(
            f"Kaggle model {handle!r} names no version, and no latest version is recorded in the cache "
            f"{settings.cache_dir} (one is recorded each time it is resolved online). HUBFN_OFFLINE (or "
            "offline=True) says to stay offline, so Kaggle cannot be asked. Resolve it once online, name a "
            "version (…/N), or unset HUBFN_OFFLINE.")
    pinned = ref.at(version)
    return Location(key=pinned.handle, url=pinned.api_url(endpoint, "download"),
                    reword=functools.partial(_offline_reword, handle, version))


def _offline_reword(handle, version, e):
    if isinstance(e, errors.OfflineError):
        return errors.OfflineError(f"Kaggle model {handle!r}: its latest version was {version} when last "
                                   f"resolved online, but {e}")
    return e
