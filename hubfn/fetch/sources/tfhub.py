"""TF Hub's protocol: a module URL is fetched as `URL?tf-hub-format=compressed`, a .tar.gz of the module.

tfhub.dev answers that with a redirect to Kaggle Models and on to a signed storage URL (followed by
hubfn.fetch.transport.http); a private hub (`hubfn serve`) answers it with the archive. The cache key is
the handle as written, as tensorflow_hub keys it, so either library uses the other's download.
"""

import urllib.parse

from ...settings import Settings
from .location import Location, check_load_format, handle_auth

FORMAT_PARAM = "tf-hub-format"
# tensorflow_hub downloads handles on the China mirror straight from its storage host (same layout).
CN_HUB = "https://hub.tensorflow.google.cn/"
CN_ARCHIVE = "https://gcs.tensorflow.google.cn/tfhub-modules/{}.tar.gz"


def on_mirror(handle: str) -> bool:
    """Whether the handle is on hub.tensorflow.google.cn (fetched from the mirror's storage host)."""
    return handle.startswith(CN_HUB)


def locate(handle: str, settings: Settings) -> Location:
    """The archive URL of `handle`, keyed by the handle; the call's token= goes to the handle's host."""
    check_load_format(handle, settings)
    return Location(key=handle, url=download_url(handle), auth=handle_auth(handle, settings))


def download_url(handle: str) -> str:
    """`handle` with ?tf-hub-format=compressed: other query parameters are kept, and an explicit
    tf-hub-format is left alone. A handle on hub.tensorflow.google.cn is fetched from that mirror's
    storage host, as tensorflow_hub does."""
    if on_mirror(handle):
        return CN_ARCHIVE.format(handle[len(CN_HUB):])
    parts = urllib.parse.urlsplit(handle)
    # The query is kept byte for byte: re-encoding it would turn "?flag" into "?flag=" and "%20" into
    # "+", which some servers (and signed URLs) do not take for the same thing.
    names = [field.split("=", 1)[0] for field in parts.query.split("&")] if parts.query else []
    if any(urllib.parse.unquote_plus(n) == FORMAT_PARAM for n in names):
        return handle
    base, hash_, fragment = handle.partition("#")
    sep = "" if base.endswith(("?", "&")) else ("&" if parts.query else "?")
    return f"{base}{sep}{FORMAT_PARAM}=compressed{hash_}{fragment}"
