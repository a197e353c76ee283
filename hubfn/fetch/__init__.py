"""Fetch: a handle -> a checked module directory in the cache shared with tensorflow_hub.

Three layers, each importing only the ones below it (tests/test_layout.py checks it):
    cache.py, manage.py, cli.py   the top: fetch_to_cache (lock -> download -> extract -> manifest, the
                                  same for every source); list/verify/remove; `hubfn cache`
    sources/                      per-source locators: a handle -> a Location (cache key, URL, credentials)
                                  for TF Hub's protocol, a plain archive URL, Kaggle Models
    transport/   store/           at the bottom, independent of each other: the one budgeted GET and the
                                  resumable download; the cache on disk (layout, lock, archive, extract,
                                  manifest)
Locators may use the transport (Kaggle's API) and the store's layout (where a record lives); the top may
use everything. Nothing imports upward, and neither of transport and store imports the other.

Rule: nothing in this package imports TensorFlow (tests/test_layout.py checks it), so tools that only
fetch, list or clean the cache start fast.
"""
