"""Per-source locators: what to fetch for a handle, and with which credentials.

Each locator turns a handle into a `Location` (hubfn.fetch.sources.location): the cache key (the handle
whose sha1 names the entry, shared with tensorflow_hub), the URL to GET, the credentials for the hosts
the source speaks for, and the source's own words for a failure. hubfn.fetch.cache fetches every
Location the same way (lock, download, extract, manifest).
    tfhub        TF Hub's protocol: URL?tf-hub-format=compressed, the hub.tensorflow.google.cn mirror
    archive_url  a URL of a .tar.gz, .tgz or .tar, fetched as is
    kaggle/      Kaggle Models: handles and page URLs, the API (latest version, credentials), the record
                 of which version "latest" meant
`locate_url` picks between the first two for an http(s) handle.

Locators use the transport (Kaggle's API) and the store's layout (where a record lives); they never
import hubfn.fetch.cache, nor each other.
"""


def locate_url(handle, settings):
    """The Location of an http(s) handle that is not a Kaggle model: a plain archive URL as is, anything else
    through TF Hub's protocol."""
    from . import archive_url, tfhub  # imported when a URL is fetched, not with the package

    locator = archive_url if archive_url.takes(handle) and not tfhub.on_mirror(handle) else tfhub
    return locator.locate(handle, settings)


def download_url(handle, settings) -> str:
    """The URL fetched for an http(s) handle (see locate_url)."""
    return locate_url(handle, settings).url
