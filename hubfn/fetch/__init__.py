"""Fetch: an http(s) handle -> a checked module directory in the cache shared with tensorflow_hub.

The stages, in the order a download runs through them:
    http      requests session, timeouts, retries, status -> typed errors
    download  the archive's bytes, resumable (Range/If-Range) through a partial file
    prefetch  network reads in a thread, ahead of the decoder
    archive   streaming gunzip + a strict tar reader with size and ratio caps
    extract   members -> files, refusing anything that would leave the module directory
    manifest  what an entry holds, checked on every cache hit
    cache     the entry layout, the per-entry lock, list/verify/remove
    cli       `hubfn cache ...`

Rule: nothing in this package imports TensorFlow (tests/test_layout.py checks it), so tools that only
fetch, list or clean the cache start fast.
"""
